/*
 * policy_bench.c: the relationship engine in process (issue 7 item 11), on the tenant
 * bench/policy_gen.py writes.
 *
 *   policy_bench model-json MODEL.fga          prints the model's JSON form (for the HTTP API)
 *   policy_bench run URL TENANT STORE DIR OUT.json
 *
 * run: loads the store's tuples from URL (sqlite:PATH) into an index as novad does on first
 * use (the cold load), reports bytes per tuple, then times DIR/checks.tsv one by one on this
 * thread (p50, p99, throughput; the answers by construction are checked), and ListObjects of
 * unit#manager (10,000 candidate units) for 100 users. Writes OUT.json.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nova/policy.h"
#include "nova/policy_store.h"
#include "nova/store.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* CPU time of this process: the bench shares its core with other work, so wall time alone
 * overstates the cost when the machine is loaded. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    if (b && fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b)
        b[len] = '\0';
    *n = (size_t)len;
    return b;
}

static nova_policy_model_t *load_model(const char *path)
{
    size_t n;
    char *text = slurp(path, &n);
    nova_policy_model_t *m = NULL;
    nova_policy_error_t err;
    if (!text || nova_policy_model_parse(text, n, &m, &err) != NOVA_OK) {
        fprintf(stderr, "policy_bench: %s: %s\n", path, text ? err.message : "unreadable");
        exit(1);
    }
    free(text);
    return m;
}

static nova_status load_tuple(const nova_fga_tuple_t *t, void *ud)
{
    json_t *ctx = t->context[0] ? json_loads(t->context, 0, NULL) : NULL;
    nova_policy_tuple_t pt = {t->object, t->relation, t->user,
                              t->condition[0] ? t->condition : NULL, ctx};
    nova_status st = nova_policy_index_add(ud, &pt);
    json_decref(ctx);
    return st;
}

typedef struct check {
    char *object, *relation, *user;
    json_t *context;
    char expect; /* '1', '0' or '?' */
} check_t;

static check_t *load_checks(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 16384;
    check_t *c = calloc(cap, sizeof(*c));
    char line[1024];
    *n = 0;
    while (c && *n < cap && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        char *f1 = line, *f2 = strchr(f1, '\t'), *f3 = f2 ? strchr(f2 + 1, '\t') : NULL,
             *f4 = f3 ? strchr(f3 + 1, '\t') : NULL, *f5 = f4 ? strchr(f4 + 1, '\t') : NULL;
        if (!f5)
            continue;
        *f2++ = *f3++ = *f4++ = *f5++ = '\0';
        c[*n] = (check_t){strdup(f1), strdup(f2), strdup(f3), *f4 ? json_loads(f4, 0, NULL) : NULL,
                          *f5};
        (*n)++;
    }
    fclose(f);
    return c;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "model-json") == 0) {
        nova_policy_model_t *m = load_model(argv[2]);
        json_t *j = nova_policy_model_to_json(m);
        char *s = json_dumps(j, JSON_COMPACT);
        puts(s);
        free(s);
        json_decref(j);
        nova_policy_model_free(m);
        return 0;
    }
    if (argc != 7 || strcmp(argv[1], "run") != 0) {
        fprintf(stderr, "usage: policy_bench model-json MODEL.fga\n"
                        "       policy_bench run URL TENANT STORE DIR OUT.json\n");
        return 2;
    }
    const char *url = argv[2], *tenant = argv[3], *store = argv[4], *dir = argv[5];
    char path[4096], err[256];
    snprintf(path, sizeof(path), "%s/model.fga", dir);
    nova_policy_model_t *m = load_model(path);
    nova_store_t *s = NULL;
    if (nova_store_open(url, &s, err, sizeof(err)) != NOVA_OK) {
        fprintf(stderr, "policy_bench: %s\n", err);
        return 1;
    }
    /* the cold load, as novad's first query on a store does it */
    double t0 = now_ns(), c0 = cpu_s();
    nova_policy_index_t *ix = nova_policy_index_new();
    nova_status st = nova_store_fga_tuple_scan(s, tenant, store, load_tuple, ix);
    nova_policy_index_shrink(ix);
    double load_s = (now_ns() - t0) / 1e9, load_cpu_s = cpu_s() - c0;
    size_t ntuples = nova_policy_index_count(ix);
    if (st != NOVA_OK || ntuples == 0) {
        fprintf(stderr, "policy_bench: loading the store's tuples failed (%s, %zu)\n",
                nova_status_name(st), ntuples);
        return 1;
    }
    size_t bytes = nova_policy_index_memory(ix);
    size_t nchecks = 0;
    snprintf(path, sizeof(path), "%s/checks.tsv", dir);
    check_t *c = load_checks(path, &nchecks);
    if (!c || nchecks == 0) {
        fprintf(stderr, "policy_bench: no checks in %s\n", path);
        return 1;
    }
    snprintf(path, sizeof(path), "%s/shape.json", dir);
    json_t *shape = json_load_file(path, 0, NULL);
    int chains = (int)json_integer_value(json_object_get(shape, "unit_chains"));
    json_int_t units = json_integer_value(json_object_get(shape, "units"));
    json_decref(shape);
    if (chains < 2) {
        fprintf(stderr, "policy_bench: no shape.json in %s\n", dir);
        return 1;
    }
    double *lat = calloc(nchecks, sizeof(*lat));
    size_t allowed = 0, wrong = 0, errors = 0;
    /* one warm-up pass (caches), then the timed pass */
    for (int pass = 0; pass < 2; pass++) {
        double all0 = now_ns(), allc0 = cpu_s();
        for (size_t i = 0; i < nchecks; i++) {
            nova_policy_query_t q = {.model = m, .index = ix, .context = c[i].context};
            bool ok = false;
            nova_policy_error_t perr;
            double a = now_ns();
            nova_status cs =
                nova_policy_check(&q, c[i].object, c[i].relation, c[i].user, &ok, &perr);
            lat[i] = now_ns() - a;
            if (pass == 1) {
                errors += cs != NOVA_OK;
                allowed += ok;
                wrong += (c[i].expect == '1' && !ok) || (c[i].expect == '0' && ok);
            }
        }
        if (pass == 1) {
            double total_s = (now_ns() - all0) / 1e9, total_cpu_s = cpu_s() - allc0;
            qsort(lat, nchecks, sizeof(*lat), cmp);
            double lo_ns[100], lo_cpu_ns[100], lo_cpu0 = cpu_s();
            size_t nlo = 0;
            /* ListObjects: every unit (10,000 candidates at 1e6 tuples) for up to 100 of the
             * users managing a chain's root (each manages its chain's 10 units) */
            json_t *objs = NULL;
            for (int u = 0; u < 100 && 2 * u < chains; u++) {
                char user[32];
                snprintf(user, sizeof(user), "user:m%d", 2 * u);
                nova_policy_query_t q = {.model = m, .index = ix};
                nova_policy_error_t perr;
                double a = now_ns(), ac = cpu_s();
                nova_status ls =
                    nova_policy_list_objects(&q, "unit", "manager", user, &objs, &perr);
                lo_cpu_ns[nlo] = (cpu_s() - ac) * 1e9;
                lo_ns[nlo++] = now_ns() - a;
                if (ls != NOVA_OK || json_array_size(objs) != 10) {
                    fprintf(stderr, "policy_bench: list-objects for %s: %s, %zu objects\n", user,
                            nova_status_name(ls), json_array_size(objs));
                    return 1;
                }
                json_decref(objs);
            }
            double lo_cpu_ms = nlo ? (cpu_s() - lo_cpu0) * 1e3 / (double)nlo : 0;
            qsort(lo_ns, nlo, sizeof(*lo_ns), cmp);
            qsort(lo_cpu_ns, nlo, sizeof(*lo_cpu_ns), cmp);
            double loadavg[3] = {0};
            if (getloadavg(loadavg, 3) != 3)
                loadavg[0] = -1;
            json_t *o = json_pack(
                "{s:s, s:I, s:f, s:f, s:f, s:f, s:I, s:{s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, "
                "s:f, s:f},"
                " s:{s:I, s:I, s:f, s:f, s:f, s:f, s:f}}",
                "scenario", "policy_inprocess", "tuples", (json_int_t)ntuples, "load_average_1m",
                loadavg[0], "cold_load_s", load_s, "cold_load_cpu_s", load_cpu_s, "bytes_per_tuple",
                (double)bytes / (double)ntuples, "index_bytes", (json_int_t)bytes, "check", "count",
                (json_int_t)nchecks, "allowed", (json_int_t)allowed, "wrong_by_construction",
                (json_int_t)wrong, "errors", (json_int_t)errors, "p50_us",
                pct(lat, nchecks, 0.5) / 1e3, "p90_us", pct(lat, nchecks, 0.9) / 1e3, "p99_us",
                pct(lat, nchecks, 0.99) / 1e3, "max_us", lat[nchecks - 1] / 1e3, "per_cpu_second",
                (double)nchecks / total_cpu_s, "per_second", (double)nchecks / total_s,
                "list_objects", "candidates", units, "queries", (json_int_t)nlo, "p50_ms",
                pct(lo_ns, nlo, 0.5) / 1e6, "p99_ms", pct(lo_ns, nlo, 0.99) / 1e6, "mean_cpu_ms",
                lo_cpu_ms, "cpu_p50_ms", pct(lo_cpu_ns, nlo, 0.5) / 1e6, "cpu_p99_ms",
                pct(lo_cpu_ns, nlo, 0.99) / 1e6);
            FILE *out = fopen(argv[6], "w");
            char *txt = json_dumps(o, JSON_INDENT(2));
            if (!out || !txt)
                return 1;
            fprintf(out, "%s\n", txt);
            fclose(out);
            free(txt);
            json_decref(o);
        }
    }
    return wrong || errors ? 3 : 0;
}
