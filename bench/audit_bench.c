/*
 * audit_bench.c: the cost of one audit append (seed 003 §8.1: every mutation writes one) on a
 * store: `audit_bench URL N OUT.json` appends N entries to one tenant's chain, each in its own
 * transaction (the chain head locked, the entry hashed, the row and head written), and writes
 * the mean and percentiles of the append time. URL is sqlite:PATH or postgres://...
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nova/audit_store.h"
#include "nova/store.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    char err[256];
    nova_store_t *s = NULL;
    int from = 0, to = 0;
    if (argc != 4) {
        fprintf(stderr, "usage: audit_bench URL N OUT.json\n");
        return 2;
    }
    long n = atol(argv[2]);
    if (n < 10 || nova_store_open(argv[1], &s, err, sizeof(err)) != NOVA_OK ||
        nova_store_migrate(s, &from, &to) != NOVA_OK) {
        fprintf(stderr, "audit_bench: cannot open %s: %s\n", argv[1], err);
        return 1;
    }
    double *t = calloc((size_t)n, sizeof(*t));
    char tenant[64];
    snprintf(tenant, sizeof(tenant), "ten_bench%ld", (long)time(NULL));
    for (long i = 0; i < n; i++) {
        char target[64];
        snprintf(target, sizeof(target), "client:cli_%ld", i);
        nova_audit_entry_t e = {.tenant_id = tenant,
                                .actor = "bench",
                                .action = "client.create",
                                .target = target,
                                .attrs = "{\"name\":\"bench\",\"scopes\":\"clients:read\"}"};
        double t0 = now_us();
        if (nova_store_audit_append(s, NULL, &e, NULL) != NOVA_OK) {
            fprintf(stderr, "audit_bench: append %ld failed\n", i);
            return 1;
        }
        t[i] = now_us() - t0;
    }
    double sum = 0;
    for (long i = 0; i < n; i++)
        sum += t[i];
    qsort(t, (size_t)n, sizeof(*t), cmp);
    json_t *o =
        json_pack("{s:s, s:I, s:f, s:f, s:f, s:f, s:f}", "store", nova_store_driver(s), "appends",
                  (json_int_t)n, "mean_us", sum / (double)n, "p50_us", t[n / 2], "p90_us",
                  t[n * 9 / 10], "p99_us", t[n * 99 / 100], "appends_per_s", 1e6 * (double)n / sum);
    json_dump_file(o, argv[3], JSON_INDENT(2));
    json_decref(o);
    free(t);
    nova_store_close(s);
    return 0;
}
