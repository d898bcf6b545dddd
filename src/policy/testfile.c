/*
 * testfile.c: OpenFGA CLI test files and policy mutation testing (nova/policy_test.h).
 *
 * The tuples of each test (the file's, then the test's own) are loaded into one index per
 * test, once: an index does not depend on the model (Check skips what a model does not
 * admit), so the original model and every mutant run against the same indexes. A mutant is
 * killed when an assertion that passes on the original model fails on it.
 */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nova/policy_test.h"

#define TEST_FILE_MAX (8u * 1024u * 1024u)

/* ---- mutation operators ---- */

/* A walk over the places of a model where an operator applies: count them (k == SIZE_MAX) or
 * apply the k-th. */
typedef struct mwalk {
    size_t k, seen;
    bool done;
    char where[200];
} mwalk_t;

/* true when this place is the one to mutate (and records where it is). */
static bool mw_hit(mwalk_t *w, const pol_type_t *t, const pol_relation_t *r, int line, int col,
                   const char *detail)
{
    if (w->done || w->seen++ != w->k)
        return false;
    w->done = true;
    if (line)
        snprintf(w->where, sizeof(w->where), "%s#%s (line %d:%d)%s%s", t->name, r->name, line, col,
                 detail ? ": " : "", detail ? detail : "");
    else
        snprintf(w->where, sizeof(w->where), "%s#%s%s%s", t->name, r->name, detail ? ": " : "",
                 detail ? detail : "");
    return true;
}

typedef void (*node_fn)(mwalk_t *w, const pol_type_t *t, const pol_relation_t *r, rw_node_t *n);

static void walk_node(mwalk_t *w, const pol_type_t *t, const pol_relation_t *r, rw_node_t *n,
                      node_fn fn)
{
    if (!n || w->done)
        return;
    fn(w, t, r, n);
    for (size_t i = 0; i < n->nchild && !w->done; i++)
        walk_node(w, t, r, n->child[i], fn);
}

static void walk_rewrites(nova_policy_model_t *m, mwalk_t *w, node_fn fn)
{
    for (size_t i = 0; i < m->ntypes && !w->done; i++)
        for (size_t j = 0; j < m->types[i].nrels && !w->done; j++)
            walk_node(w, &m->types[i], &m->types[i].rels[j], m->types[i].rels[j].rw, fn);
}

static void op_drop_branch(mwalk_t *w, const pol_type_t *t, const pol_relation_t *r, rw_node_t *n)
{
    if (n->kind != RW_UNION)
        return;
    for (size_t i = 0; i < n->nchild; i++) {
        char d[64];
        snprintf(d, sizeof(d), "branch %zu of %zu", i + 1, n->nchild);
        if (!mw_hit(w, t, r, n->line, n->column, d))
            continue;
        if (n->nchild == 2) {
            *n = *n->child[1 - i];
        } else {
            memmove(&n->child[i], &n->child[i + 1], (n->nchild - i - 1) * sizeof(*n->child));
            n->nchild--;
        }
        return;
    }
}

static void op_union_to_and(mwalk_t *w, const pol_type_t *t, const pol_relation_t *r, rw_node_t *n)
{
    if (n->kind == RW_UNION && mw_hit(w, t, r, n->line, n->column, NULL))
        n->kind = RW_INTERSECTION;
}

static void op_and_to_union(mwalk_t *w, const pol_type_t *t, const pol_relation_t *r, rw_node_t *n)
{
    if (n->kind == RW_INTERSECTION && mw_hit(w, t, r, n->line, n->column, NULL))
        n->kind = RW_UNION;
}

static void op_drop_exclusion(mwalk_t *w, const pol_type_t *t, const pol_relation_t *r,
                              rw_node_t *n)
{
    if (n->kind == RW_DIFFERENCE && mw_hit(w, t, r, n->line, n->column, NULL))
        *n = *n->child[0];
}

static void op_exclusion_to_and(mwalk_t *w, const pol_type_t *t, const pol_relation_t *r,
                                rw_node_t *n)
{
    if (n->kind == RW_DIFFERENCE && mw_hit(w, t, r, n->line, n->column, NULL))
        n->kind = RW_INTERSECTION;
}

static void op_ttu_to_direct(mwalk_t *w, const pol_type_t *t, const pol_relation_t *r, rw_node_t *n)
{
    if (n->kind == RW_TTU && mw_hit(w, t, r, n->line, n->column, n->relation))
        n->kind = RW_THIS;
}

static void op_computed_to_direct(mwalk_t *w, const pol_type_t *t, const pol_relation_t *r,
                                  rw_node_t *n)
{
    if (n->kind == RW_COMPUTED && mw_hit(w, t, r, n->line, n->column, n->relation))
        n->kind = RW_THIS;
}

#define REWRITE_OP(name, fn)                                                                       \
    static void name(nova_policy_model_t *m, mwalk_t *w)                                           \
    {                                                                                              \
        walk_rewrites(m, w, fn);                                                                   \
    }
REWRITE_OP(mut_drop_branch, op_drop_branch)
REWRITE_OP(mut_union_to_and, op_union_to_and)
REWRITE_OP(mut_and_to_union, op_and_to_union)
REWRITE_OP(mut_drop_exclusion, op_drop_exclusion)
REWRITE_OP(mut_exclusion_to_and, op_exclusion_to_and)
REWRITE_OP(mut_ttu_to_direct, op_ttu_to_direct)
REWRITE_OP(mut_computed_to_direct, op_computed_to_direct)

/* Removes one entry of a relation's directly related types ([user, group#member] -> [user]). */
static void mut_drop_type(nova_policy_model_t *m, mwalk_t *w)
{
    for (size_t i = 0; i < m->ntypes && !w->done; i++)
        for (size_t j = 0; j < m->types[i].nrels && !w->done; j++) {
            pol_relation_t *r = &m->types[i].rels[j];
            for (size_t k = 0; k < r->ndirect && !w->done; k++) {
                const rel_ref_t *d = &r->direct[k];
                char what[160];
                snprintf(what, sizeof(what), "[%s%s%s%s%s%s]", d->type, d->wildcard ? ":*" : "",
                         d->relation ? "#" : "", d->relation ? d->relation : "",
                         d->condition ? " with " : "", d->condition ? d->condition : "");
                if (!mw_hit(w, &m->types[i], r, d->line, d->column, what))
                    continue;
                memmove(&r->direct[k], &r->direct[k + 1], (r->ndirect - k - 1) * sizeof(*d));
                r->ndirect--;
            }
        }
}

/* A condition always holds (and needs no context): conditional tuples count unconditionally. */
static void mut_drop_condition(nova_policy_model_t *m, mwalk_t *w)
{
    static const pol_type_t any = {.name = "condition"};
    for (size_t i = 0; i < m->nconds && !w->done; i++) {
        pol_condition_t *c = &m->conds[i];
        const pol_relation_t named = {.name = c->name};
        if (!mw_hit(w, &any, &named, c->line, c->column, NULL))
            continue;
        nova_policy_error_t err;
        nova_cel_program_t *p = NULL;
        if (nova_cel_compile("true", 4, &p, &err) == NOVA_OK) {
            nova_cel_free(c->program);
            c->program = p;
            c->nparams = 0;
        }
    }
}

/* The operators (seed 003 §12.1's "flip/remove rules"), in the order mutants are reported. */
static const struct {
    const char *name;
    const char *what;
    void (*run)(nova_policy_model_t *m, mwalk_t *w);
} OPERATORS[] = {
    {"drop_union_branch", "remove one branch of an `or`", mut_drop_branch},
    {"union_to_intersection", "turn an `or` into an `and`", mut_union_to_and},
    {"intersection_to_union", "turn an `and` into an `or`", mut_and_to_union},
    {"drop_exclusion", "remove a `but not`", mut_drop_exclusion},
    {"exclusion_to_intersection", "turn `but not` into `and`", mut_exclusion_to_and},
    {"tupleset_to_direct", "replace `x from parent` by direct tuples", mut_ttu_to_direct},
    {"computed_to_direct", "replace a computed relation by direct tuples", mut_computed_to_direct},
    {"drop_direct_type", "remove one directly related type", mut_drop_type},
    {"drop_condition", "make a condition always hold", mut_drop_condition},
};
#define NOPERATORS (sizeof(OPERATORS) / sizeof(OPERATORS[0]))

/* ---- the test file ---- */

typedef struct run {
    const char *dir;
    const char *model_text; /* DSL, or JSON when model_json */
    size_t model_len;
    bool model_json;
    json_t *file;
    json_t *tests;            /* the file's tests array */
    nova_policy_index_t **ix; /* one per test */
    size_t ntests;
    char *err;
    size_t errlen;
} run_t;

static char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(TEST_FILE_MAX + 1);
    size_t got = buf ? fread(buf, 1, TEST_FILE_MAX + 1, f) : 0;
    fclose(f);
    if (!buf || got > TEST_FILE_MAX) {
        free(buf);
        return NULL;
    }
    buf[got] = '\0';
    *n = got;
    return buf;
}

static char *rel_path(const run_t *r, const char *p)
{
    char *out = NULL;
    if (p[0] == '/')
        return strdup(p);
    return asprintf(&out, "%s/%s", r->dir, p) < 0 ? NULL : out;
}

/* Reads a tuple list: the file's (YAML or JSON) or inline. */
static json_t *tuple_list(run_t *r, const json_t *inline_list, const char *file)
{
    if (file) {
        char *p = rel_path(r, file);
        size_t n = 0;
        char *text = p ? read_file(p, &n) : NULL;
        free(p);
        json_t *j = text ? nova_policy_yaml_parse(text, n, r->err, r->errlen) : NULL;
        free(text);
        if (!json_is_array(j)) {
            json_decref(j);
            snprintf(r->err, r->errlen, "tuple_file %s: not a readable list of tuples", file);
            return NULL;
        }
        return j;
    }
    return inline_list ? json_incref((json_t *)inline_list) : json_array();
}

static nova_status add_tuples(run_t *r, nova_policy_index_t *ix, const json_t *list,
                              const char *where)
{
    size_t i;
    const json_t *t;
    json_array_foreach(list, i, t)
    {
        const json_t *c = json_object_get(t, "condition");
        nova_policy_tuple_t pt = {
            .object = json_string_value(json_object_get(t, "object")),
            .relation = json_string_value(json_object_get(t, "relation")),
            .user = json_string_value(json_object_get(t, "user")),
            .condition = json_string_value(json_object_get(c, "name")),
            .context = json_object_get(c, "context"),
        };
        nova_status st =
            pt.object && pt.relation && pt.user ? nova_policy_index_add(ix, &pt) : NOVA_INVALID;
        if (st == NOVA_CONFLICT)
            continue; /* the same tuple in the file and the test */
        if (st != NOVA_OK) {
            snprintf(r->err, r->errlen, "%s/%zu: a tuple needs user, relation and object strings",
                     where, i);
            return NOVA_INVALID;
        }
    }
    return NOVA_OK;
}

static nova_policy_model_t *parse_model(const run_t *r, nova_policy_error_t *err)
{
    nova_policy_model_t *m = NULL;
    if (r->model_json) {
        json_t *j = json_loadb(r->model_text, r->model_len, 0, NULL);
        if (j)
            nova_policy_model_from_json(j, &m, err);
        json_decref(j);
    } else {
        nova_policy_model_parse(r->model_text, r->model_len, &m, err);
    }
    return m;
}

/* One assertion's outcome. */
typedef struct outcome {
    bool *pass;
    size_t n, cap;
    json_t *failures; /* NULL: do not describe them */
} outcome_t;

static void record(outcome_t *o, bool ok, const char *test, const char *kind, json_t *assertion,
                   json_t *expected, json_t *got)
{
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 64;
        bool *p = realloc(o->pass, cap * sizeof(*p));
        if (p) {
            o->pass = p;
            o->cap = cap;
        }
    }
    if (o->n < o->cap)
        o->pass[o->n++] = ok;
    if (!ok && o->failures)
        json_array_append_new(o->failures,
                              json_pack("{s:s, s:s, s:O, s:O, s:O}", "test", test, "kind", kind,
                                        "assertion", assertion, "expected", expected, "got", got));
    json_decref(assertion);
    json_decref(expected);
    json_decref(got);
}

static int cmp_json_str(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

/* The array's strings sorted and deduplicated, as a new array (non-strings are dropped). */
static json_t *sorted(const json_t *a)
{
    size_t n = json_array_size(a), k = 0;
    json_t **v = calloc(n ? n : 1, sizeof(*v));
    json_t *out = json_array();
    for (size_t i = 0; v && i < n; i++)
        if (json_is_string(json_array_get(a, i)))
            v[k++] = json_array_get(a, i);
    if (v)
        qsort(v, k, sizeof(*v), cmp_json_str);
    for (size_t i = 0; v && i < k; i++)
        if (i == 0 || strcmp(json_string_value(v[i]), json_string_value(v[i - 1])) != 0)
            json_array_append(out, v[i]);
    free(v);
    return out;
}

/* "user" or each of "users" (the same for object/objects). */
static json_t *one_or_many(const json_t *o, const char *one, const char *many)
{
    const json_t *m = json_object_get(o, many);
    if (json_is_array(m))
        return json_incref((json_t *)m);
    json_t *a = json_array();
    if (json_object_get(o, one))
        json_array_append(a, json_object_get(o, one));
    return a;
}

static void run_checks(const nova_policy_model_t *m, const nova_policy_index_t *ix,
                       const char *tname, const json_t *checks, outcome_t *o)
{
    size_t i;
    const json_t *c;
    json_array_foreach(checks, i, c)
    {
        json_t *users = one_or_many(c, "user", "users");
        json_t *objects = one_or_many(c, "object", "objects");
        nova_policy_query_t q = {.model = m, .index = ix, .context = json_object_get(c, "context")};
        const char *rel;
        const json_t *want;
        size_t ui, oi;
        const json_t *u, *ob;
        json_object_foreach((json_t *)json_object_get(c, "assertions"), rel, want)
        {
            json_array_foreach(users, ui, u) json_array_foreach(objects, oi, ob)
            {
                bool allowed = false;
                nova_policy_error_t err;
                nova_status st = nova_policy_check(&q, json_string_value(ob), rel,
                                                   json_string_value(u), &allowed, &err);
                json_t *got =
                    st == NOVA_OK ? json_boolean(allowed) : json_sprintf("error: %s", err.message);
                bool ok = st == NOVA_OK && json_is_boolean(want) && allowed == json_is_true(want);
                record(o, ok, tname, "check",
                       json_pack("{s:O, s:s, s:O}", "user", u, "relation", rel, "object", ob),
                       json_incref((json_t *)want), got);
            }
        }
        json_decref(users);
        json_decref(objects);
    }
}

static void run_list_objects(const nova_policy_model_t *m, const nova_policy_index_t *ix,
                             const char *tname, const json_t *lists, outcome_t *o)
{
    size_t i;
    const json_t *l;
    json_array_foreach(lists, i, l)
    {
        nova_policy_query_t q = {.model = m, .index = ix, .context = json_object_get(l, "context")};
        const char *type = json_string_value(json_object_get(l, "type"));
        json_t *users = one_or_many(l, "user", "users");
        const char *rel;
        const json_t *want;
        size_t ui;
        const json_t *u;
        json_object_foreach((json_t *)json_object_get(l, "assertions"), rel, want)
        {
            json_array_foreach(users, ui, u)
            {
                json_t *got = NULL;
                nova_policy_error_t err;
                nova_status st =
                    type ? nova_policy_list_objects(&q, type, rel, json_string_value(u), &got, &err)
                         : NOVA_INVALID;
                json_t *gs = st == NOVA_OK ? sorted(got)
                                           : json_sprintf("error: %s",
                                                          type ? err.message : "type is required");
                json_t *ws = sorted(want);
                bool ok = st == NOVA_OK && json_equal(gs, ws);
                json_decref(got);
                record(o, ok, tname, "list_objects",
                       json_pack("{s:O, s:s, s:s}", "user", u, "relation", rel, "type",
                                 type ? type : ""),
                       ws, gs);
            }
        }
        json_decref(users);
    }
}

static void run_list_users(const nova_policy_model_t *m, const nova_policy_index_t *ix,
                           const char *tname, const json_t *lists, outcome_t *o)
{
    size_t i;
    const json_t *l;
    json_array_foreach(lists, i, l)
    {
        nova_policy_query_t q = {.model = m, .index = ix, .context = json_object_get(l, "context")};
        const json_t *uf = json_object_get(l, "user_filter");
        const char *filters[16];
        char buf[16][300];
        size_t nf = 0, k;
        const json_t *f;
        json_array_foreach(uf, k, f)
        {
            if (nf == 16)
                break;
            const char *t = json_string_value(json_object_get(f, "type"));
            const char *r = json_string_value(json_object_get(f, "relation"));
            snprintf(buf[nf], sizeof(buf[nf]), "%s%s%s", t ? t : "", r ? "#" : "", r ? r : "");
            filters[nf] = buf[nf];
            nf++;
        }
        json_t *objects = one_or_many(l, "object", "objects");
        const char *rel;
        const json_t *want;
        size_t oi;
        const json_t *ob;
        json_object_foreach((json_t *)json_object_get(l, "assertions"), rel, want)
        {
            json_array_foreach(objects, oi, ob)
            {
                json_t *got = NULL;
                nova_policy_error_t err;
                nova_status st =
                    nova_policy_list_users(&q, json_string_value(ob), rel, filters, nf, &got, &err);
                json_t *gs = st == NOVA_OK ? sorted(got) : json_sprintf("error: %s", err.message);
                json_t *ws = sorted(json_object_get(want, "users"));
                bool ok = st == NOVA_OK && json_equal(gs, ws);
                json_decref(got);
                record(o, ok, tname, "list_users",
                       json_pack("{s:O, s:s}", "object", ob, "relation", rel), ws, gs);
            }
        }
        json_decref(objects);
    }
}

static void run_all_tests(const run_t *r, const nova_policy_model_t *m, outcome_t *o)
{
    for (size_t i = 0; i < r->ntests; i++) {
        const json_t *t = json_array_get(r->tests, i);
        const char *name = json_string_value(json_object_get(t, "name"));
        char fallback[32];
        if (!name) {
            snprintf(fallback, sizeof(fallback), "test %zu", i + 1);
            name = fallback;
        }
        run_checks(m, r->ix[i], name, json_object_get(t, "check"), o);
        run_list_objects(m, r->ix[i], name, json_object_get(t, "list_objects"), o);
        run_list_users(m, r->ix[i], name, json_object_get(t, "list_users"), o);
    }
}

static nova_status load(run_t *r, const char *path)
{
    size_t n = 0;
    char *text = read_file(path, &n);
    if (!text) {
        snprintf(r->err, r->errlen, "%s: cannot be read (or is over 8 MiB)", path);
        return NOVA_INVALID;
    }
    r->file = nova_policy_yaml_parse(text, n, r->err, r->errlen);
    free(text);
    if (!json_is_object(r->file)) {
        if (r->file)
            snprintf(r->err, r->errlen, "%s: not a test file (a YAML map)", path);
        return NOVA_INVALID;
    }
    const char *model = json_string_value(json_object_get(r->file, "model"));
    const char *model_file = json_string_value(json_object_get(r->file, "model_file"));
    if (model) {
        r->model_text = strdup(model);
        r->model_len = strlen(model);
    } else if (model_file) {
        char *p = rel_path(r, model_file);
        r->model_text = p ? read_file(p, &r->model_len) : NULL;
        r->model_json =
            strlen(model_file) > 5 && strcmp(model_file + strlen(model_file) - 5, ".json") == 0;
        free(p);
    }
    if (!r->model_text) {
        snprintf(r->err, r->errlen,
                 "%s: model (the modeling language) or a readable model_file "
                 "is required",
                 path);
        return NOVA_INVALID;
    }
    r->tests = json_object_get(r->file, "tests");
    if (!json_is_array(r->tests) || json_array_size(r->tests) == 0) {
        snprintf(r->err, r->errlen, "%s: tests: a non-empty list is required", path);
        return NOVA_INVALID;
    }
    r->ntests = json_array_size(r->tests);
    r->ix = calloc(r->ntests, sizeof(*r->ix));
    json_t *common = tuple_list(r, json_object_get(r->file, "tuples"),
                                json_string_value(json_object_get(r->file, "tuple_file")));
    if (!r->ix || !common) {
        json_decref(common);
        return NOVA_INVALID;
    }
    nova_status st = NOVA_OK;
    for (size_t i = 0; i < r->ntests && st == NOVA_OK; i++) {
        const json_t *t = json_array_get(r->tests, i);
        char where[48];
        snprintf(where, sizeof(where), "/tests/%zu/tuples", i);
        json_t *own = tuple_list(r, json_object_get(t, "tuples"),
                                 json_string_value(json_object_get(t, "tuple_file")));
        r->ix[i] = nova_policy_index_new();
        if (!own || !r->ix[i])
            st = NOVA_INVALID;
        if (st == NOVA_OK)
            st = add_tuples(r, r->ix[i], common, "/tuples");
        if (st == NOVA_OK)
            st = add_tuples(r, r->ix[i], own, where);
        json_decref(own);
    }
    json_decref(common);
    return st;
}

static void run_free(run_t *r)
{
    for (size_t i = 0; r->ix && i < r->ntests; i++)
        nova_policy_index_free(r->ix[i]);
    free(r->ix);
    free((char *)r->model_text);
    json_decref(r->file);
}

/* Runs every mutant; adds the "mutation" member to report. */
static nova_status mutate(const run_t *r, const outcome_t *orig, json_t *report)
{
    json_t *ops = json_array(), *survivors = json_array();
    size_t mutants = 0, killed = 0;
    for (size_t op = 0; op < NOPERATORS; op++) {
        nova_policy_error_t err;
        nova_policy_model_t *m = parse_model(r, &err);
        if (!m)
            return NOVA_INTERNAL;
        mwalk_t count = {.k = SIZE_MAX};
        OPERATORS[op].run(m, &count);
        nova_policy_model_free(m);
        size_t op_killed = 0;
        for (size_t k = 0; k < count.seen; k++) {
            mwalk_t w = {.k = k};
            m = parse_model(r, &err);
            if (!m)
                return NOVA_INTERNAL;
            OPERATORS[op].run(m, &w);
            outcome_t o = {0};
            run_all_tests(r, m, &o);
            nova_policy_model_free(m);
            bool dead = false;
            for (size_t i = 0; i < o.n && i < orig->n && !dead; i++)
                dead = orig->pass[i] && !o.pass[i];
            free(o.pass);
            mutants++;
            if (dead) {
                killed++;
                op_killed++;
            } else {
                json_array_append_new(survivors, json_pack("{s:s, s:s}", "operator",
                                                           OPERATORS[op].name, "where", w.where));
            }
        }
        json_array_append_new(ops,
                              json_pack("{s:s, s:s, s:I, s:I}", "operator", OPERATORS[op].name,
                                        "what", OPERATORS[op].what, "mutants",
                                        (json_int_t)count.seen, "killed", (json_int_t)op_killed));
    }
    json_object_set_new(report, "mutation",
                        json_pack("{s:o, s:I, s:I, s:f, s:o}", "operators", ops, "mutants",
                                  (json_int_t)mutants, "killed", (json_int_t)killed, "score",
                                  mutants ? (double)killed / (double)mutants : 1.0, "survivors",
                                  survivors));
    return NOVA_OK;
}

nova_status nova_policy_test_run(const char *path, bool do_mutate, json_t **report, char *err,
                                 size_t errlen)
{
    *report = NULL;
    char *copy = strdup(path);
    run_t r = {.dir = copy ? dirname(copy) : ".", .err = err, .errlen = errlen};
    nova_status st = copy ? load(&r, path) : NOVA_NOMEM;
    nova_policy_model_t *m = NULL;
    if (st == NOVA_OK) {
        nova_policy_error_t perr;
        if ((m = parse_model(&r, &perr)) == NULL) {
            snprintf(err, errlen, "the model does not parse: %d:%d: %s", perr.line, perr.column,
                     perr.message);
            st = NOVA_INVALID;
        }
    }
    if (st == NOVA_OK) {
        outcome_t o = {.failures = json_array()};
        run_all_tests(&r, m, &o);
        size_t passed = 0;
        for (size_t i = 0; i < o.n; i++)
            passed += o.pass[i];
        const char *name = json_string_value(json_object_get(r.file, "name"));
        *report = json_pack("{s:s, s:I, s:I, s:I, s:I, s:o}", "name", name ? name : "", "tests",
                            (json_int_t)r.ntests, "assertions", (json_int_t)o.n, "passed",
                            (json_int_t)passed, "failed", (json_int_t)(o.n - passed), "failures",
                            o.failures);
        if (do_mutate && *report)
            st = mutate(&r, &o, *report);
        free(o.pass);
        if (st != NOVA_OK) {
            json_decref(*report);
            *report = NULL;
            snprintf(err, errlen, "mutation testing failed: %s", nova_status_name(st));
        }
    }
    nova_policy_model_free(m);
    run_free(&r);
    free(copy);
    return st;
}

void nova_policy_test_print(const json_t *report, FILE *out)
{
    fprintf(out, "%s: %lld tests, %lld of %lld assertions pass\n",
            json_string_value(json_object_get(report, "name")),
            (long long)json_integer_value(json_object_get(report, "tests")),
            (long long)json_integer_value(json_object_get(report, "passed")),
            (long long)json_integer_value(json_object_get(report, "assertions")));
    size_t i;
    const json_t *f;
    json_array_foreach(json_object_get(report, "failures"), i, f)
    {
        char *a = json_dumps(json_object_get(f, "assertion"), JSON_COMPACT);
        char *e = json_dumps(json_object_get(f, "expected"), JSON_COMPACT | JSON_ENCODE_ANY);
        char *g = json_dumps(json_object_get(f, "got"), JSON_COMPACT | JSON_ENCODE_ANY);
        fprintf(out, "FAIL %s: %s %s: expected %s, got %s\n",
                json_string_value(json_object_get(f, "test")),
                json_string_value(json_object_get(f, "kind")), a ? a : "", e ? e : "", g ? g : "");
        free(a);
        free(e);
        free(g);
    }
    const json_t *mu = json_object_get(report, "mutation");
    if (!mu)
        return;
    fprintf(out, "mutation score: %.1f%% (%lld of %lld mutants killed)\n",
            100.0 * json_real_value(json_object_get(mu, "score")),
            (long long)json_integer_value(json_object_get(mu, "killed")),
            (long long)json_integer_value(json_object_get(mu, "mutants")));
    json_array_foreach(json_object_get(mu, "operators"), i, f)
        fprintf(out, "  %-26s %3lld/%-3lld %s\n", json_string_value(json_object_get(f, "operator")),
                (long long)json_integer_value(json_object_get(f, "killed")),
                (long long)json_integer_value(json_object_get(f, "mutants")),
                json_string_value(json_object_get(f, "what")));
    json_array_foreach(json_object_get(mu, "survivors"), i, f)
        fprintf(out, "SURVIVED %s at %s\n", json_string_value(json_object_get(f, "operator")),
                json_string_value(json_object_get(f, "where")));
}
