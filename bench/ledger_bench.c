/*
 * ledger_bench.c: the core ledger's throughput and latency (issue 8 item 11), and its
 * invariants after the run. bench/ledger.sh runs the scenarios and collects the JSON lines
 * this prints into bench/results/ledger.json.
 *
 *   ledger_bench http BASE TOKEN uniform|hot THREADS SECONDS BATCH NAME
 *       POST /v1/core/postings (BATCH 1) or /v1/core/postings:batch (BATCH postings a
 *       request) on a running novad, one keep-alive connection per thread, closed loop.
 *   ledger_bench store URL uniform|hot THREADS SECONDS ours|classic NAME
 *       the repository call itself (no HTTP), one store connection per thread; "classic"
 *       locks each account with SELECT ... FOR UPDATE before its UPDATE, as most ledgers do.
 *
 * The workload: 1000 wallets (debits_must_not_exceed_credits), funded from a treasury; a
 * posting moves 1..100 cents from a random wallet to another, or, with "hot", half of all
 * postings go to one agent float instead. After the run every account is read back and the
 * invariants counted as breaks: each currency sums to zero, no wallet below zero, and the
 * debits posted equal the funding plus what the acknowledged postings moved.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nova/ledger.h"
#include "nova/ledger_store.h"
#include "nova/store.h"

#define WALLETS 1000
#define FUND 100000000000LL /* cents per wallet */
#define MAX_SAMPLES 4000000

static const char *mode_hot;
static int threads_n;
static double seconds;
static int batch_n;
static const char *base_url, *bearer, *store_url;
static bool classic;
static char tenant_id[64] = "ten_ledger_bench";
static char wallet_ids[WALLETS][40];
static const char *hot_id = "bench-float", *treasury_id = "bench-treasury";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct worker {
    int index;
    uint64_t rng;
    long ok, refused, errors;
    long long moved; /* cents the acknowledged postings debited */
    double *lat;     /* seconds per request */
    long nlat, caplat;
} worker_t;

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* One posting of the workload: from, to, amount. */
static void pick(worker_t *w, const char **from, const char **to, int64_t *amount)
{
    int a = (int)(next_rand(&w->rng) % WALLETS);
    *from = wallet_ids[a];
    *amount = 1 + (int64_t)(next_rand(&w->rng) % 100);
    if (mode_hot && next_rand(&w->rng) % 2 == 0) {
        *to = hot_id;
    } else {
        int b = (int)(next_rand(&w->rng) % (WALLETS - 1));
        *to = wallet_ids[b >= a ? b + 1 : b];
    }
}

static void record(worker_t *w, double t)
{
    if (w->nlat == w->caplat) {
        long cap = w->caplat ? w->caplat * 2 : 65536;
        double *n = realloc(w->lat, (size_t)cap * sizeof(double));
        if (n == NULL)
            return;
        w->lat = n;
        w->caplat = cap;
    }
    w->lat[w->nlat++] = t;
}

/* ---- HTTP: one keep-alive connection, blocking ---- */

static int http_connect(void)
{
    const char *hp = strstr(base_url, "://");
    hp = hp ? hp + 3 : base_url;
    char host[64];
    int port = 80;
    const char *colon = strchr(hp, ':');
    snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - hp) : (int)strlen(hp), hp);
    if (colon)
        port = atoi(colon + 1);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* Sends one request, reads the answer into body (NUL-terminated). Returns the status or -1. */
static int http_call(int fd, const char *method, const char *path, const char *json, char **body,
                     size_t *cap)
{
    size_t blen = json ? strlen(json) : 0;
    char head[1024];
    int hn = snprintf(head, sizeof(head),
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      method, path, bearer, blen);
    if (write(fd, head, (size_t)hn) != hn)
        return -1;
    for (size_t off = 0; off < blen;) {
        ssize_t k = write(fd, json + off, blen - off);
        if (k <= 0)
            return -1;
        off += (size_t)k;
    }
    size_t have = 0;
    char *hdr_end = NULL;
    for (;;) {
        if (*cap - have < 4096) {
            *cap = *cap * 2 + 65536;
            *body = realloc(*body, *cap);
        }
        ssize_t k = read(fd, *body + have, *cap - have - 1);
        if (k <= 0)
            return -1;
        have += (size_t)k;
        (*body)[have] = '\0';
        if ((hdr_end = strstr(*body, "\r\n\r\n")) != NULL)
            break;
    }
    int status = atoi(*body + 9);
    const char *cl = strcasestr(*body, "\r\ncontent-length:");
    size_t clen = cl ? (size_t)strtoul(cl + 17, NULL, 10) : 0;
    size_t hlen = (size_t)(hdr_end + 4 - *body);
    while (have < hlen + clen) {
        if (*cap - have < 4096) {
            *cap = *cap * 2 + clen;
            *body = realloc(*body, *cap);
        }
        ssize_t k = read(fd, *body + have, *cap - have - 1);
        if (k <= 0)
            return -1;
        have += (size_t)k;
    }
    memmove(*body, *body + hlen, clen);
    (*body)[clen] = '\0';
    return status;
}

static void append_posting(nova_buf_t *b, const char *id, const char *from, const char *to,
                           int64_t amount)
{
    char v[32];
    nova_ledger_amount_format("KES", amount, v, sizeof(v));
    nova_buf_printf(
        b,
        "{\"id\":\"%s\",\"entries\":[{\"account\":\"%s\",\"direction\":\"debit\","
        "\"amount\":{\"currency\":\"KES\",\"value\":\"%s\"}},{\"account\":\"%s\","
        "\"direction\":\"credit\",\"amount\":{\"currency\":\"KES\",\"value\":\"%s\"}}]}",
        id, from, v, to, v);
}

static atomic_bool stop_flag;

static void *http_worker(void *arg)
{
    worker_t *w = arg;
    int fd = http_connect();
    char *resp = NULL;
    size_t cap = 0;
    nova_buf_t b;
    nova_buf_init(&b);
    for (long i = 0; fd >= 0 && !atomic_load(&stop_flag); i++) {
        nova_buf_reset(&b);
        long long moved = 0;
        if (batch_n > 1)
            nova_buf_append_cstr(&b, "{\"postings\":[");
        for (int k = 0; k < batch_n; k++) {
            const char *from, *to;
            int64_t amount;
            char id[64];
            pick(w, &from, &to, &amount);
            snprintf(id, sizeof(id), "b%d-%ld-%d-%lx", w->index, i, k, (long)getpid());
            if (k)
                nova_buf_append_cstr(&b, ",");
            append_posting(&b, id, from, to, amount);
            moved += amount;
        }
        if (batch_n > 1)
            nova_buf_append_cstr(&b, "]}");
        double t0 = now_s();
        int st =
            http_call(fd, "POST", batch_n > 1 ? "/v1/core/postings:batch" : "/v1/core/postings",
                      b.data, &resp, &cap);
        record(w, now_s() - t0);
        if (st == 201) {
            w->ok += batch_n;
            w->moved += moved;
        } else if (st == 422) {
            w->refused += batch_n;
        } else {
            w->errors += batch_n;
            if (st < 0) {
                close(fd);
                fd = http_connect();
            }
        }
    }
    if (fd >= 0)
        close(fd);
    free(resp);
    nova_buf_free(&b);
    return NULL;
}

/* ---- the store directly ---- */

static nova_ledger_refusal check(const nova_ledger_account_t *a, const nova_ledger_balance_t *delta,
                                 void *ud)
{
    (void)ud;
    int st = nova_ledger_status_parse(a->status);
    nova_ledger_rules_t rules = {a->flags, st < 0 ? NOVA_LEDGER_CLOSED : (nova_ledger_status)st,
                                 a->overdraft_limit, a->overdraft_expires_at};
    return nova_ledger_check(&rules, &a->balance, delta, 0);
}

static const char *render(void *ud, nova_arena_t *ar, const char *audit_id)
{
    (void)ud;
    return nova_arena_printf(ar, "{\"audit_entry_id\":\"%s\"}", audit_id);
}

static nova_status store_post(nova_store_t *s, nova_arena_t *a, const char *id, const char *from,
                              const char *to, int64_t amount)
{
    nova_ledger_posting_t *p = nova_arena_alloc(a, sizeof(*p));
    if (p == NULL)
        return NOVA_NOMEM;
    memset(p, 0, sizeof(*p));
    p->id = id;
    p->n = 2;
    p->entries[0] = (nova_ledger_entry_t){from, false, "KES", amount};
    p->entries[1] = (nova_ledger_entry_t){to, true, "KES", amount};
    p->canonical =
        nova_arena_printf(a, "{\"bench\":\"%s\",\"amount\":%lld}", id, (long long)amount);
    snprintf(p->digest, sizeof(p->digest), "%064zx", strlen(id) * 7919 + (size_t)amount);
    nova_ledger_account_delta_t d[NOVA_LEDGER_MAX_ENTRIES];
    size_t nd;
    nova_ledger_posting_deltas(p, d, &nd);
    nova_ledger_write_t w = {p,     d,    nd,     "posting", NULL,    0,    amount, "bench", 1,
                             check, NULL, render, NULL,      classic, NULL, NULL,   0,       NULL};
    char target[96];
    snprintf(target, sizeof(target), "posting:%s", id);
    nova_audit_entry_t e = {tenant_id, "bench", "ledger.posting.create", target, NULL, NULL};
    nova_ledger_outcome_t out;
    return nova_store_ledger_post(s, a, tenant_id, &w, &e, &out);
}

static void *store_worker(void *arg)
{
    worker_t *w = arg;
    nova_store_t *s = NULL;
    char err[256];
    if (nova_store_open(store_url, &s, err, sizeof(err)) != NOVA_OK) {
        fprintf(stderr, "open: %s\n", err);
        w->errors = 1;
        return NULL;
    }
    nova_arena_t a;
    nova_arena_init(&a, 16384);
    for (long i = 0; !atomic_load(&stop_flag); i++) {
        const char *from, *to;
        int64_t amount;
        char id[64];
        pick(w, &from, &to, &amount);
        snprintf(id, sizeof(id), "s%d-%ld-%lx", w->index, i, (long)getpid());
        double t0 = now_s();
        nova_status st = store_post(s, &a, id, from, to, amount);
        record(w, now_s() - t0);
        nova_arena_reset(&a);
        if (st == NOVA_OK) {
            w->ok++;
            w->moved += amount;
        } else if (st == NOVA_FORBIDDEN) {
            w->refused++;
        } else {
            w->errors++;
        }
    }
    nova_arena_free(&a);
    nova_store_close(s);
    return NULL;
}

/* ---- set-up and the invariant check ---- */

static int setup_store(void)
{
    nova_store_t *s = NULL;
    char err[256];
    int from, to;
    if (nova_store_open(store_url, &s, err, sizeof(err)) != NOVA_OK ||
        nova_store_migrate(s, &from, &to) != NOVA_OK) {
        fprintf(stderr, "store: %s\n", err);
        return -1;
    }
    snprintf(tenant_id, sizeof(tenant_id), "ten_bench_%lx_%ld", (long)getpid(), (long)time(NULL));
    nova_tenant_t t = {tenant_id, tenant_id, 1};
    nova_audit_entry_t e = {tenant_id, "bench", "tenant.create", "tenant:bench", NULL, NULL};
    if (nova_store_tenant_create(s, &t, NULL, &e) != NOVA_OK)
        return -1;
    nova_arena_t a;
    nova_arena_init(&a, 16384);
    const char *special[2] = {treasury_id, hot_id};
    for (int i = 0; i < WALLETS + 2; i++) {
        nova_ledger_account_t acc = {0};
        acc.tenant_id = tenant_id;
        acc.id = i < 2 ? special[i] : wallet_ids[i - 2];
        acc.currency = "KES";
        acc.type = i == 0 ? "treasury" : i == 1 ? "agent_float" : "customer_wallet";
        acc.status = "open";
        acc.flags = i == 0 ? 0 : NOVA_LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS;
        acc.created_at = 1;
        char target[64];
        snprintf(target, sizeof(target), "account:%.40s", acc.id);
        nova_audit_entry_t ae = {tenant_id, "bench", "ledger.account.create", target, NULL, NULL};
        if (nova_store_ledger_account_create(s, &acc, &ae) != NOVA_OK)
            return -1;
    }
    bool was = classic;
    classic = false;
    for (int i = 0; i < WALLETS; i++) {
        char id[48];
        snprintf(id, sizeof(id), "fund-%d", i);
        if (store_post(s, &a, id, treasury_id, wallet_ids[i], FUND) != NOVA_OK)
            return -1;
        nova_arena_reset(&a);
    }
    classic = was;
    nova_arena_free(&a);
    nova_store_close(s);
    return 0;
}

static int setup_http(void)
{
    int fd = http_connect();
    char *resp = NULL;
    size_t cap = 0;
    if (fd < 0)
        return -1;
    const char *special[2] = {treasury_id, hot_id};
    char body[512];
    for (int i = 0; i < WALLETS + 2; i++) {
        snprintf(body, sizeof(body), "{\"id\":\"%.40s\",\"currency\":\"KES\",\"type\":\"%s\"%s}",
                 i < 2 ? special[i] : wallet_ids[i - 2],
                 i == 0   ? "treasury"
                 : i == 1 ? "agent_float"
                          : "customer_wallet",
                 i == 0 ? "" : ",\"flags\":{\"debits_must_not_exceed_credits\":true}");
        if (http_call(fd, "POST", "/v1/core/accounts", body, &resp, &cap) != 201) {
            fprintf(stderr, "account: %s\n", resp);
            return -1;
        }
    }
    nova_buf_t b;
    nova_buf_init(&b);
    nova_buf_append_cstr(&b, "{\"postings\":[");
    for (int i = 0; i < WALLETS; i++) {
        char id[48];
        snprintf(id, sizeof(id), "fund-%d-%lx", i, (long)getpid());
        if (i)
            nova_buf_append_cstr(&b, ",");
        append_posting(&b, id, treasury_id, wallet_ids[i], FUND);
    }
    nova_buf_append_cstr(&b, "]}");
    int st = http_call(fd, "POST", "/v1/core/postings:batch", b.data, &resp, &cap);
    if (st != 201)
        fprintf(stderr, "funding: %d %s\n", st, resp);
    nova_buf_free(&b);
    free(resp);
    close(fd);
    return st == 201 ? 0 : -1;
}

/* Reads every account back; returns the number of broken invariants. */
static long check_invariants(long long moved)
{
    long breaks = 0;
    long long sum = 0, debits = 0;
    const char *special[2] = {treasury_id, hot_id};
    int fd = store_url ? -1 : http_connect();
    nova_store_t *s = NULL;
    char err[256];
    if (store_url && nova_store_open(store_url, &s, err, sizeof(err)) != NOVA_OK)
        return 1;
    nova_arena_t a;
    nova_arena_init(&a, 16384);
    char *resp = NULL;
    size_t cap = 0;
    for (int i = 0; i < WALLETS + 2; i++) {
        const char *id = i < 2 ? special[i] : wallet_ids[i - 2];
        long long dp = 0, cp = 0;
        if (s) {
            nova_ledger_account_t acc;
            if (nova_store_ledger_account_get(s, &a, tenant_id, id, &acc) != NOVA_OK) {
                breaks++;
                continue;
            }
            dp = acc.balance.debits_posted;
            cp = acc.balance.credits_posted;
        } else {
            char path[128];
            snprintf(path, sizeof(path), "/v1/core/accounts/%s/balances", id);
            if (http_call(fd, "GET", path, NULL, &resp, &cap) != 200) {
                breaks++;
                continue;
            }
            json_t *j = json_loads(resp, 0, NULL);
            bool bad;
            const char *why;
            int64_t v;
            if (nova_ledger_amount_parse("KES",
                                         json_string_value(json_object_get(
                                             json_object_get(j, "debits_posted"), "value")),
                                         true, &v, &bad, &why) == NOVA_OK)
                dp = v;
            if (nova_ledger_amount_parse("KES",
                                         json_string_value(json_object_get(
                                             json_object_get(j, "credits_posted"), "value")),
                                         true, &v, &bad, &why) == NOVA_OK)
                cp = v;
            json_decref(j);
        }
        sum += cp - dp;
        debits += dp;
        if (i > 0 && dp > cp)
            breaks++; /* a wallet or the float below zero */
        nova_arena_reset(&a);
    }
    if (sum != 0)
        breaks++;
    if (debits != (long long)WALLETS * FUND + moved)
        breaks++;
    nova_arena_free(&a);
    free(resp);
    if (fd >= 0)
        close(fd);
    nova_store_close(s);
    return breaks;
}

static int cmp_d(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "http") && strcmp(argv[1], "store")) ||
        argc != (strcmp(argv[1], "http") == 0 ? 9 : 8)) {
        fprintf(stderr, "usage: ledger_bench http BASE TOKEN uniform|hot THREADS SECONDS BATCH "
                        "NAME\n       ledger_bench store URL uniform|hot THREADS SECONDS "
                        "ours|classic NAME\n");
        return 2;
    }
    bool http = strcmp(argv[1], "http") == 0;
    int arg = 2;
    if (http) {
        base_url = argv[arg++];
        bearer = argv[arg++];
    } else {
        store_url = argv[arg++];
    }
    mode_hot = strcmp(argv[arg++], "hot") == 0 ? "hot" : NULL;
    threads_n = atoi(argv[arg++]);
    seconds = atof(argv[arg++]);
    if (http)
        batch_n = atoi(argv[arg++]);
    else
        classic = strcmp(argv[arg++], "classic") == 0, batch_n = 1;
    const char *name = argv[arg];
    if (threads_n < 1 || threads_n > 256 || seconds <= 0 || batch_n < 1 || batch_n > 1000)
        return 2;
    for (int i = 0; i < WALLETS; i++)
        snprintf(wallet_ids[i], sizeof(wallet_ids[i]), "bench-w%04d", i);
    if ((http ? setup_http() : setup_store()) != 0) {
        fprintf(stderr, "ledger_bench: set-up failed\n");
        return 1;
    }
    worker_t *w = calloc((size_t)threads_n, sizeof(*w));
    pthread_t *th = calloc((size_t)threads_n, sizeof(*th));
    for (int i = 0; i < threads_n; i++) {
        w[i].index = i;
        w[i].rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
    }
    double t0 = now_s();
    for (int i = 0; i < threads_n; i++)
        pthread_create(&th[i], NULL, http ? http_worker : store_worker, &w[i]);
    struct timespec d = {(time_t)seconds, (long)((seconds - (long)seconds) * 1e9)};
    nanosleep(&d, NULL);
    atomic_store(&stop_flag, true);
    for (int i = 0; i < threads_n; i++)
        pthread_join(th[i], NULL);
    double elapsed = now_s() - t0;
    long ok = 0, refused = 0, errors = 0, n = 0;
    long long moved = 0;
    for (int i = 0; i < threads_n; i++) {
        ok += w[i].ok;
        refused += w[i].refused;
        errors += w[i].errors;
        moved += w[i].moved;
        n += w[i].nlat;
    }
    double *all = malloc((size_t)(n ? n : 1) * sizeof(double));
    long k = 0;
    for (int i = 0; i < threads_n; i++)
        for (long j = 0; j < w[i].nlat; j++)
            all[k++] = w[i].lat[j];
    qsort(all, (size_t)n, sizeof(double), cmp_d);
    double p50 = n ? all[n / 2] * 1e3 : 0, p99 = n ? all[(long)(n * 0.99)] * 1e3 : 0;
    long breaks = check_invariants(moved);
    const char *driver =
        http ? (getenv("LEDGER_BENCH_STORE") ? getenv("LEDGER_BENCH_STORE") : "sqlite")
        : strncmp(store_url, "sqlite", 6) == 0 ? "sqlite"
                                               : "postgres";
    printf("{\"name\":\"%s\",\"via\":\"%s\",\"store\":\"%s\",\"accounts\":\"%s\",\"method\":\"%s\","
           "\"threads\":%d,\"batch\":%d,\"seconds\":%.2f,\"postings\":%ld,\"postings_per_s\":%.0f,"
           "\"requests\":%ld,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"refused\":%ld,\"errors\":%ld,"
           "\"invariant_breaks\":%ld}\n",
           name, http ? "http" : "store", driver, mode_hot ? "hot" : "uniform",
           classic ? "select_for_update" : "update_returning", threads_n, batch_n, elapsed, ok,
           ok / elapsed, n, p50, p99, refused, errors, breaks);
    return breaks == 0 && errors == 0 ? 0 : 1;
}
