/*
 * openfga_test.c: runs OpenFGA's own conformance corpora (assets/tests of the OpenFGA
 * repository, kept in ../shared/conformance/openfga) against Nova's engine.
 *
 * Each corpus test is one cmocka test per mode, as upstream runs them:
 *   written:    every stage's tuples are written to one index (stages share it, in order);
 *               Check, ListObjects and ListUsers assertions run against it.
 *   contextual: the stage's tuples are passed as contextual tuples of each Check instead
 *               (only single-stage tests with at most 100 tuples, like upstream).
 * An assertion with errorCode must fail with exactly that OpenFGA code. A summary per file,
 * mode and kind is printed at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nova/policy.h"
#include "nova/policy_test.h"

/* ---- the corpus files (YAML, read with the engine's own reader) ---- */

static json_t *load_yaml(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *more = realloc(buf, cap * 2);
            if (!more) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = more;
            cap *= 2;
        }
    }
    fclose(f);
    char err[256];
    json_t *root = buf ? nova_policy_yaml_parse(buf, n, err, sizeof(err)) : NULL;
    if (buf && !root)
        fprintf(stderr, "%s: %s\n", path, err);
    free(buf);
    return root;
}

/* ---- counters ---- */

enum { K_CHECK, K_LIST_OBJECTS, K_LIST_USERS, K_COUNT };
enum { M_WRITTEN, M_CONTEXTUAL, M_COUNT };
static const char *const kind_names[] = {"check", "list_objects", "list_users"};
static const char *const mode_names[] = {"written", "contextual"};

typedef struct counts {
    int pass[M_COUNT][K_COUNT], total[M_COUNT][K_COUNT];
} counts_t;

typedef struct tcase {
    const char *file;
    const json_t *test;
    int mode;
    counts_t *counts;
    char name[200];
} tcase_t;

/* ---- running ---- */

typedef struct tuples {
    nova_policy_tuple_t *v;
    size_t n;
} tuples_t;

static void tuples_from(const json_t *arr, tuples_t *out, bool append)
{
    if (!append) {
        out->v = NULL;
        out->n = 0;
    }
    size_t add = json_is_array(arr) ? json_array_size(arr) : 0;
    if (!add)
        return;
    out->v = realloc(out->v, (out->n + add) * sizeof(*out->v));
    assert_non_null(out->v);
    for (size_t i = 0; i < add; i++) {
        const json_t *t = json_array_get(arr, i);
        const json_t *cond = json_object_get(t, "condition");
        out->v[out->n++] = (nova_policy_tuple_t){
            .object = json_string_value(json_object_get(t, "object")),
            .relation = json_string_value(json_object_get(t, "relation")),
            .user = json_string_value(json_object_get(t, "user")),
            .condition = json_string_value(json_object_get(cond, "name")),
            .context = json_object_get(cond, "context"),
        };
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Same set of strings (order and duplicates ignored). */
static bool same_set(const json_t *got, const json_t *want)
{
    size_t gn = json_array_size(got), wn = json_is_array(want) ? json_array_size(want) : 0;
    const char **g = calloc(gn + 1, sizeof(char *)), **w = calloc(wn + 1, sizeof(char *));
    for (size_t i = 0; i < gn; i++)
        g[i] = json_string_value(json_array_get(got, i));
    for (size_t i = 0; i < wn; i++)
        w[i] = json_string_value(json_array_get(want, i));
    qsort(g, gn, sizeof(char *), cmp_str);
    qsort(w, wn, sizeof(char *), cmp_str);
    size_t a = 0, b = 0;
    bool ok = true;
    while (ok && (a < gn || b < wn)) {
        if (a < gn && a > 0 && strcmp(g[a], g[a - 1]) == 0) {
            a++;
            continue;
        }
        if (b < wn && b > 0 && strcmp(w[b], w[b - 1]) == 0) {
            b++;
            continue;
        }
        if (a < gn && b < wn && strcmp(g[a], w[b]) == 0) {
            a++;
            b++;
        } else {
            ok = false;
        }
    }
    free(g);
    free(w);
    return ok;
}

static char *dumps(const json_t *j)
{
    return j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("null");
}

/* One assertion's outcome against its expectation; prints a line on failure. */
static bool judge(const tcase_t *tc, int kind, int si, size_t ai, nova_status st,
                  const nova_policy_error_t *err, const json_t *a, const json_t *got_list,
                  bool got_bool)
{
    json_int_t want_code = json_integer_value(json_object_get(a, "errorCode"));
    bool ok;
    char got[512];
    if (st != NOVA_OK) {
        snprintf(got, sizeof(got), "error %d (%s)", err->code, err->message);
        ok = want_code != 0 && want_code == err->code;
    } else if (want_code) {
        ok = false;
        if (kind == K_CHECK) {
            snprintf(got, sizeof(got), "%s", got_bool ? "true" : "false");
        } else {
            char *s = dumps(got_list);
            snprintf(got, sizeof(got), "%s", s);
            free(s);
        }
    } else if (kind == K_CHECK) {
        ok = got_bool == json_is_true(json_object_get(a, "expectation"));
        snprintf(got, sizeof(got), "%s", got_bool ? "true" : "false");
    } else {
        ok = same_set(got_list, json_object_get(a, "expectation"));
        char *s = dumps(got_list);
        snprintf(got, sizeof(got), "%s", s);
        free(s);
    }
    tc->counts->total[tc->mode][kind]++;
    if (ok) {
        tc->counts->pass[tc->mode][kind]++;
        return true;
    }
    char *as = dumps(a);
    print_error("%s [%s] %s stage %d %s #%zu: got %s; assertion %s\n", tc->file,
                mode_names[tc->mode], json_string_value(json_object_get(tc->test, "name")), si,
                kind_names[kind], ai, got, as);
    free(as);
    return false;
}

static void run_case(void **state)
{
    const tcase_t *tc = *state;
    const json_t *stages = json_object_get(tc->test, "stages");
    nova_policy_index_t *ix = nova_policy_index_new();
    assert_non_null(ix);
    int failures = 0;
    for (size_t si = 0; si < json_array_size(stages); si++) {
        const json_t *stage = json_array_get(stages, si);
        const char *text = json_string_value(json_object_get(stage, "model"));
        nova_policy_model_t *m = NULL;
        nova_policy_error_t err;
        if (!text || nova_policy_model_parse(text, strlen(text), &m, &err) != NOVA_OK) {
            print_error("%s %s stage %zu: model rejected at %d:%d: %s\n", tc->file,
                        json_string_value(json_object_get(tc->test, "name")), si, err.line,
                        err.column, err.message);
            failures++;
            continue;
        }
        tuples_t written;
        tuples_from(json_object_get(stage, "tuples"), &written, false);
        if (tc->mode == M_WRITTEN) {
            for (size_t i = 0; i < written.n; i++) {
                if (nova_policy_tuple_validate(m, &written.v[i], &err) != NOVA_OK) {
                    print_error("%s: write refused: %s\n", tc->name, err.message);
                    failures++;
                    continue;
                }
                nova_status st = nova_policy_index_add(ix, &written.v[i]);
                if (st != NOVA_OK && st != NOVA_CONFLICT) {
                    print_error("%s: index add failed\n", tc->name);
                    failures++;
                }
            }
        }
        const json_t *checks = json_object_get(stage, "checkAssertions");
        for (size_t ai = 0; ai < json_array_size(checks); ai++) {
            const json_t *a = json_array_get(checks, ai);
            const json_t *tk = json_object_get(a, "tuple");
            tuples_t ctx;
            tuples_from(json_object_get(a, "contextualTuples"), &ctx, false);
            if (tc->mode == M_CONTEXTUAL)
                tuples_from(json_object_get(stage, "tuples"), &ctx, true);
            nova_policy_query_t q = {.model = m,
                                     .index = tc->mode == M_WRITTEN ? ix : NULL,
                                     .contextual = ctx.v,
                                     .ncontextual = ctx.n,
                                     .context = json_object_get(a, "context")};
            bool allowed = false;
            nova_status st =
                nova_policy_check(&q, json_string_value(json_object_get(tk, "object")),
                                  json_string_value(json_object_get(tk, "relation")),
                                  json_string_value(json_object_get(tk, "user")), &allowed, &err);
            if (!judge(tc, K_CHECK, (int)si, ai, st, &err, a, NULL, allowed))
                failures++;
            free(ctx.v);
        }
        if (tc->mode == M_WRITTEN) {
            const json_t *lo = json_object_get(stage, "listObjectsAssertions");
            for (size_t ai = 0; ai < json_array_size(lo); ai++) {
                const json_t *a = json_array_get(lo, ai);
                const json_t *rq = json_object_get(a, "request");
                tuples_t ctx;
                tuples_from(json_object_get(a, "contextualTuples"), &ctx, false);
                nova_policy_query_t q = {.model = m,
                                         .index = ix,
                                         .contextual = ctx.v,
                                         .ncontextual = ctx.n,
                                         .context = json_object_get(a, "context")};
                json_t *out = NULL;
                nova_status st = nova_policy_list_objects(
                    &q, json_string_value(json_object_get(rq, "type")),
                    json_string_value(json_object_get(rq, "relation")),
                    json_string_value(json_object_get(rq, "user")), &out, &err);
                if (!judge(tc, K_LIST_OBJECTS, (int)si, ai, st, &err, a, out, false))
                    failures++;
                json_decref(out);
                free(ctx.v);
            }
            const json_t *lu = json_object_get(stage, "listUsersAssertions");
            for (size_t ai = 0; ai < json_array_size(lu); ai++) {
                const json_t *a = json_array_get(lu, ai);
                const json_t *rq = json_object_get(a, "request");
                tuples_t ctx;
                tuples_from(json_object_get(a, "contextualTuples"), &ctx, false);
                nova_policy_query_t q = {.model = m,
                                         .index = ix,
                                         .contextual = ctx.v,
                                         .ncontextual = ctx.n,
                                         .context = json_object_get(a, "context")};
                const json_t *fl = json_object_get(rq, "filters");
                const char *filters[32];
                size_t nf = 0;
                for (size_t i = 0; i < json_array_size(fl) && nf < 32; i++)
                    filters[nf++] = json_string_value(json_array_get(fl, i));
                json_t *out = NULL;
                nova_status st = nova_policy_list_users(
                    &q, json_string_value(json_object_get(rq, "object")),
                    json_string_value(json_object_get(rq, "relation")), filters, nf, &out, &err);
                if (!judge(tc, K_LIST_USERS, (int)si, ai, st, &err, a, out, false))
                    failures++;
                json_decref(out);
                free(ctx.v);
            }
        }
        free(written.v);
        nova_policy_model_free(m);
    }
    nova_policy_index_free(ix);
    if (failures)
        fail_msg("%s: %d assertion(s) failed", tc->name, failures);
}

/* Upstream's rule for the contextual mode: one stage, at most 100 tuples. */
static bool contextual_eligible(const json_t *test)
{
    const json_t *stages = json_object_get(test, "stages");
    if (json_array_size(stages) != 1)
        return false;
    return json_array_size(json_object_get(json_array_get(stages, 0), "tuples")) <= 100;
}

int main(void)
{
    const char *dir = getenv("NOVA_CONFORMANCE_DIR");
    char buf[4096];
    if (!dir) {
        snprintf(buf, sizeof(buf), "%s/../shared/conformance/openfga", NOVA_SRC_DIR);
        dir = buf;
    }
    static const char *const files[] = {"consolidated_1_1_tests.yaml", "abac_tests.yaml"};
    enum { NFILES = 2 };
    json_t *docs[NFILES];
    counts_t counts[NFILES];
    memset(counts, 0, sizeof(counts));
    size_t ncases = 0, cap = 0;
    tcase_t *cases = NULL;
    for (int f = 0; f < NFILES; f++) {
        char path[4200];
        snprintf(path, sizeof(path), "%s/%s", dir, files[f]);
        docs[f] = load_yaml(path);
        if (!docs[f]) {
            fprintf(stderr, "conformance: cannot read %s\n", path);
            return 1;
        }
        const json_t *tests = json_object_get(docs[f], "tests");
        for (size_t i = 0; i < json_array_size(tests); i++) {
            const json_t *t = json_array_get(tests, i);
            for (int mode = 0; mode < M_COUNT; mode++) {
                if (mode == M_CONTEXTUAL && !contextual_eligible(t))
                    continue;
                if (ncases == cap) {
                    cap = cap ? cap * 2 : 256;
                    cases = realloc(cases, cap * sizeof(*cases));
                    if (!cases)
                        return 1;
                }
                tcase_t *c = &cases[ncases++];
                c->file = files[f];
                c->test = t;
                c->mode = mode;
                c->counts = &counts[f];
                snprintf(c->name, sizeof(c->name), "%s/%s/%s", files[f],
                         json_string_value(json_object_get(t, "name")), mode_names[mode]);
            }
        }
    }
    struct CMUnitTest *tests = calloc(ncases, sizeof(*tests));
    if (!tests)
        return 1;
    for (size_t i = 0; i < ncases; i++) {
        tests[i].name = cases[i].name;
        tests[i].test_func = run_case;
        tests[i].initial_state = &cases[i];
    }
    int rc = _cmocka_run_group_tests("openfga_conformance", tests, ncases, NULL, NULL);
    printf("conformance summary (assertions passed/total):\n");
    for (int f = 0; f < NFILES; f++)
        for (int mode = 0; mode < M_COUNT; mode++)
            for (int k = 0; k < K_COUNT; k++)
                if (counts[f].total[mode][k])
                    printf("  %-28s %-10s %-12s %4d/%d\n", files[f], mode_names[mode],
                           kind_names[k], counts[f].pass[mode][k], counts[f].total[mode][k]);
    free(tests);
    free(cases);
    for (int f = 0; f < NFILES; f++)
        json_decref(docs[f]);
    return rc;
}
