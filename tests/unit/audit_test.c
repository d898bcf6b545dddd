/* audit_test.c: the canonical encoding (against a hash computed without Nova), the chain
 * checker on every kind of damage, redaction, and the store's append on SQLite and (with
 * NOVA_TEST_PG_URL) PostgreSQL: same-transaction rollback, tampering done in SQL, and
 * concurrent writers on one tenant's chain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/store/internal.h"
#include "nova/audit_store.h"

static const char *g_pg_url;
static bool g_pg;

/* ---- encoding ---- */

static const nova_audit_record_t EXAMPLE = {
    .id = "aud_example",
    .tenant_id = "ten_example",
    .seq = 1,
    .ts = 1767225600000000,
    .actor = "cli_admin",
    .action = "client.create",
    .target = "client:cli_new",
    .decision = "allow",
    .attrs = "{\"name\":\"ops\"}",
    .prev_hash = NOVA_AUDIT_GENESIS,
};

static void t_canonical(void **state)
{
    (void)state;
    nova_buf_t b;
    char h[65];
    nova_buf_init(&b);
    assert_int_equal(nova_audit_canonical(&EXAMPLE, &b), NOVA_OK);
    static const char want[] = "13:nova-audit-v1\n11:aud_example\n1:1\n16:1767225600000000\n"
                               "11:ten_example\n9:cli_admin\n13:client.create\n14:client:cli_new\n"
                               "5:allow\n14:{\"name\":\"ops\"}\n"
                               "64:" NOVA_AUDIT_GENESIS "\n";
    assert_int_equal(b.len, sizeof(want) - 1);
    assert_memory_equal(b.data, want, b.len);
    nova_buf_free(&b);
    /* printf '...' | sha256sum, the docs/AUDIT.md example. */
    assert_int_equal(nova_audit_row_hash(&EXAMPLE, h), NOVA_OK);
    assert_string_equal(h, "d71b69a3c0d63f5c61d44fcd22e22edeaac7707dada4cd9cc26c8bf235a22a68");
    nova_audit_record_t bad = EXAMPLE;
    bad.prev_hash = "00";
    assert_int_equal(nova_audit_row_hash(&bad, h), NOVA_INVALID);
}

static void t_entry_check(void **state)
{
    (void)state;
    nova_audit_entry_t e = {"ten_a", "cli_a", "client.create", "client:cli_b", NULL, NULL};
    assert_int_equal(nova_audit_entry_check(&e), NOVA_OK);
    e.decision = "deny";
    assert_int_equal(nova_audit_entry_check(&e), NOVA_OK);
    e.decision = "maybe";
    assert_int_equal(nova_audit_entry_check(&e), NOVA_INVALID);
    e.decision = NULL;
    e.actor = "cli a";
    assert_int_equal(nova_audit_entry_check(&e), NOVA_INVALID);
    e.actor = "cli_a";
    e.attrs = "[1]";
    assert_int_equal(nova_audit_entry_check(&e), NOVA_INVALID);
    e.attrs = "{\"a\":\"\n\"}";
    assert_int_equal(nova_audit_entry_check(&e), NOVA_INVALID);
    e.attrs = NULL;
    e.target = "";
    assert_int_equal(nova_audit_entry_check(&e), NOVA_INVALID);
    assert_int_equal(nova_audit_entry_check(NULL), NOVA_INVALID);
}

/* ---- the checker over an in-memory chain ---- */

#define N 8
typedef struct chain {
    nova_audit_record_t r[N + 2];
    char ids[N + 2][16], hashes[N + 2][65], prevs[N + 2][65], targets[N + 2][32];
    int n;
} chain_t;

static void rehash(chain_t *c, int i)
{
    snprintf(c->prevs[i], 65, "%s", i == 0 ? NOVA_AUDIT_GENESIS : c->r[i - 1].row_hash);
    c->r[i].prev_hash = c->prevs[i];
    assert_int_equal(nova_audit_row_hash(&c->r[i], c->hashes[i]), NOVA_OK);
    c->r[i].row_hash = c->hashes[i];
}

static void build(chain_t *c)
{
    memset(c, 0, sizeof(*c));
    c->n = N;
    for (int i = 0; i < N; i++) {
        snprintf(c->ids[i], sizeof(c->ids[i]), "aud_%d", i + 1);
        snprintf(c->targets[i], sizeof(c->targets[i]), "client:cli_%d", i + 1);
        c->r[i] = (nova_audit_record_t){.id = c->ids[i],
                                        .tenant_id = "ten_a",
                                        .seq = i + 1,
                                        .ts = 1000 + i,
                                        .actor = "cli_admin",
                                        .action = "client.create",
                                        .target = c->targets[i],
                                        .decision = "allow",
                                        .attrs = "{}"};
        rehash(c, i);
    }
}

/* Runs the checker with the head as Nova left it (N entries, last hash) over c's rows. */
static nova_audit_fault check(const chain_t *c, const char *head, nova_audit_verifier_t *v)
{
    nova_audit_verify_init(v, N, head, c->n);
    for (int i = 0; i < c->n; i++)
        if (!nova_audit_verify_next(v, &c->r[i]))
            break;
    return nova_audit_verify_end(v);
}

static void t_verify_kinds(void **state)
{
    (void)state;
    chain_t c;
    nova_audit_verifier_t v;
    char head[65];

    build(&c);
    snprintf(head, sizeof(head), "%s", c.r[N - 1].row_hash);
    assert_int_equal(check(&c, head, &v), NOVA_AUDIT_INTACT);

    /* edited: a field changed in place */
    c.r[3].target = "client:cli_evil";
    assert_int_equal(check(&c, head, &v), NOVA_AUDIT_EDITED);
    assert_int_equal(v.bad_seq, 4);
    assert_string_equal(v.bad_id, "aud_4");

    /* edited: changed and rehashed; the next entry still names the old hash */
    build(&c);
    c.r[3].target = "client:cli_evil";
    rehash(&c, 3);
    assert_int_equal(check(&c, head, &v), NOVA_AUDIT_EDITED);
    assert_int_equal(v.bad_seq, 4);

    /* deleted: a row gone from the middle */
    build(&c);
    memmove(&c.r[2], &c.r[3], sizeof(c.r[0]) * (N - 3));
    c.n = N - 1;
    assert_int_equal(check(&c, head, &v), NOVA_AUDIT_DELETED);
    assert_int_equal(v.bad_seq, 3);

    /* deleted, and the later rows renumbered to close the gap */
    build(&c);
    memmove(&c.r[2], &c.r[3], sizeof(c.r[0]) * (N - 3));
    c.n = N - 1;
    for (int i = 2; i < c.n; i++)
        c.r[i].seq = i + 1;
    assert_int_equal(check(&c, head, &v), NOVA_AUDIT_DELETED);

    /* truncated: the tail gone, the head still counts it */
    build(&c);
    c.n = N - 2;
    assert_int_equal(check(&c, head, &v), NOVA_AUDIT_TRUNCATED);
    assert_int_equal(v.bad_seq, N - 1);

    /* inserted: a well-formed entry appended behind Nova's back */
    build(&c);
    c.r[N] = c.r[N - 1];
    c.r[N].id = "aud_forged";
    c.r[N].seq = N + 1;
    rehash(&c, N);
    c.n = N + 1;
    assert_int_equal(check(&c, head, &v), NOVA_AUDIT_INSERTED);
    assert_int_equal(v.bad_seq, N + 1);
    assert_string_equal(v.bad_id, "aud_forged");

    /* inserted in the middle with a valid hash, later rows renumbered */
    build(&c);
    memmove(&c.r[4], &c.r[3], sizeof(c.r[0]) * (N - 3));
    /* The forged row's hashes live in spare slots: rows 4.. still point at the old ones. */
    c.r[3].id = "aud_forged";
    c.r[3].seq = 4;
    c.r[3].prev_hash = c.r[2].row_hash;
    assert_int_equal(nova_audit_row_hash(&c.r[3], c.hashes[N + 1]), NOVA_OK);
    c.r[3].row_hash = c.hashes[N + 1];
    for (int i = 4; i <= N; i++)
        c.r[i].seq = i + 1;
    c.n = N + 1;
    assert_int_equal(check(&c, head, &v), NOVA_AUDIT_INSERTED);
    assert_int_equal(v.bad_seq, 4);

    /* reordered: two rows swapped positions */
    build(&c);
    nova_audit_record_t tmp = c.r[4];
    c.r[4] = c.r[5];
    c.r[5] = tmp;
    c.r[4].seq = 5;
    c.r[5].seq = 6;
    assert_int_equal(check(&c, head, &v), NOVA_AUDIT_REORDERED);
    assert_int_equal(v.bad_seq, 5);
    assert_string_equal(v.bad_id, "aud_6");

    /* the head itself gone */
    build(&c);
    assert_int_equal(check(&c, NULL, &v), NOVA_AUDIT_DELETED);
    assert_int_equal(v.bad_seq, 0);

    assert_string_equal(nova_audit_fault_name(NOVA_AUDIT_TRUNCATED), "truncated");
}

/* ---- redaction ---- */

static void t_redact(void **state)
{
    (void)state;
    const char *secret_names[] = {
        "client_secret", "password", "refreshToken",        "Authorization",
        "api_key",       "apiKey",   "card_number",         "pin",
        "private_key",   "cookie",   "dpop_proof_signature"};
    for (size_t i = 0; i < sizeof(secret_names) / sizeof(secret_names[0]); i++)
        assert_true(nova_redact_name(secret_names[i]));
    const char *plain_names[] = {"name", "scopes", "key_id", "kid", "client_id", "shipping"};
    for (size_t i = 0; i < sizeof(plain_names) / sizeof(plain_names[0]); i++)
        assert_false(nova_redact_name(plain_names[i]));

    const char *jws = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl";
    assert_true(nova_redact_value(jws, strlen(jws)));
    assert_true(nova_redact_value("Bearer eyJa.eyJb.c", 18));
    assert_true(nova_redact_value("4111 1111 1111 1111", 19)); /* Luhn-valid test PAN */
    assert_true(nova_redact_value("card 4111-1111-1111-1111 ok", 27));
    assert_false(nova_redact_value("4111 1111 1111 1112", 19)); /* fails Luhn */
    const char *sec = "k3Jd9sLx0Qm2Vb7Tn4Wc8Ye1Rf6Gh5Zu0Ip3Oa9Sd2F";
    assert_true(nova_redact_value(sec, strlen(sec)));
    assert_true(nova_redact_value("-----BEGIN PRIVATE KEY-----", 27));
    assert_false(nova_redact_value("cli_fpQxBp931Kbc894gL4IJFg", 26));
    assert_false(nova_redact_value("clients:read clients:write", 26));

    nova_arena_t ar;
    const char *out;
    nova_arena_init(&ar, 1024);
    json_t *o = json_pack("{s:s, s:s, s:{s:s, s:[s, s]}, s:i}", "zeta", "z", "client_secret", sec,
                          "nested", "token", "x", "list", jws, "fine", "n", 3);
    assert_int_equal(nova_audit_attrs(&ar, o, &out), NOVA_OK);
    assert_string_equal(out, "{\"client_secret\":\"[redacted]\",\"n\":3,\"nested\":{\"list\":"
                             "[\"[redacted]\",\"fine\"],\"token\":\"[redacted]\"},\"zeta\":\"z\"}");
    assert_int_equal(nova_audit_attrs(&ar, NULL, &out), NOVA_OK);
    assert_string_equal(out, "{}");
    o = json_pack("{s:s}", "name", "Ad\xc3\xa9la"); /* canonical text is ASCII */
    assert_int_equal(nova_audit_attrs(&ar, o, &out), NOVA_OK);
    assert_string_equal(out, "{\"name\":\"Ad\\u00E9la\"}");
    assert_int_equal(nova_audit_attrs(&ar, json_array(), &out), NOVA_INVALID);
    nova_arena_free(&ar);
}

/* ---- the store, on SQLite and PostgreSQL ---- */

typedef struct fixture {
    nova_store_t *s;
    nova_arena_t a;
    char url[600];
    char dir[64];
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    char err[256];
    nova_arena_init(&f->a, 4096);
    if (g_pg) {
        snprintf(f->url, sizeof(f->url), "%s", g_pg_url);
    } else {
        snprintf(f->dir, sizeof(f->dir), "/tmp/nova-audit-test-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->url, sizeof(f->url), "sqlite:%s/nova.db", f->dir);
    }
    if (nova_store_open(f->url, &f->s, err, sizeof(err)) != NOVA_OK)
        fail_msg("open: %s", err);
    if (g_pg)
        assert_int_equal(f->s->drv->exec(f->s, "DROP OWNED BY CURRENT_USER"), NOVA_OK);
    assert_int_equal(nova_store_migrate(f->s, NULL, NULL), NOVA_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    nova_store_close(f->s);
    nova_arena_free(&f->a);
    if (f->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
        assert_int_equal(system(cmd), 0);
    }
    free(f);
    return 0;
}

static void exec_sql(fixture_t *f, const char *sql)
{
    /* As the platform: the tampering tests play an attacker with database access. */
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s%s", g_pg ? "SET nova.tenant_id = '*'; " : "", sql);
    assert_int_equal(f->s->drv->exec(f->s, buf), NOVA_OK);
}

static nova_audit_fault verify(fixture_t *f, const char *tenant, nova_audit_verifier_t *v)
{
    assert_int_equal(nova_audit_verify_tenant(f->s, tenant, v), NOVA_OK);
    return v->fault;
}

static void append_n(nova_store_t *s, const char *tenant, int n)
{
    for (int i = 0; i < n; i++) {
        char target[32];
        snprintf(target, sizeof(target), "client:cli_%d", i);
        nova_audit_entry_t e = {tenant, "cli_admin", "client.create", target, NULL, "{\"i\":1}"};
        assert_int_equal(nova_store_audit_append(s, NULL, &e, NULL), NOVA_OK);
    }
}

static void t_store_append(void **state)
{
    fixture_t *f = *state;
    nova_audit_record_t r, *rows;
    size_t n = 0;
    int64_t count = 0, nrows = 0;
    const char *last;
    uint64_t before = nova_audit_written_total();
    nova_audit_entry_t e = {"ten_a", "cli_admin", "client.create", "client:cli_1", NULL, NULL};

    assert_int_equal(nova_store_audit_append(f->s, &f->a, &e, &r), NOVA_OK);
    assert_int_equal(r.seq, 1);
    assert_string_equal(r.prev_hash, NOVA_AUDIT_GENESIS);
    assert_string_equal(r.attrs, "{}");
    assert_string_equal(r.decision, "allow");
    append_n(f->s, "ten_a", 4);
    append_n(f->s, "ten_b", 2);
    assert_int_equal(nova_audit_written_total() - before, 7);
    assert_int_equal(nova_store_audit_head(f->s, &f->a, "ten_a", &count, &last), NOVA_OK);
    assert_int_equal(count, 5);
    assert_int_equal(nova_store_audit_rows(f->s, "ten_a", &nrows), NOVA_OK);
    assert_int_equal(nrows, 5);
    assert_int_equal(nova_store_audit_head(f->s, &f->a, "ten_zz", &count, &last), NOVA_NOT_FOUND);

    /* pages and filters */
    nova_audit_query_t q = {.tenant_id = "ten_a", .limit = 2};
    assert_int_equal(nova_store_audit_list(f->s, &f->a, &q, &rows, &n), NOVA_OK);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].row_hash, r.row_hash);
    assert_string_equal(rows[1].prev_hash, r.row_hash);
    q.after_seq = rows[1].seq;
    q.limit = 10;
    assert_int_equal(nova_store_audit_list(f->s, &f->a, &q, &rows, &n), NOVA_OK);
    assert_int_equal(n, 3);
    assert_string_equal(rows[2].row_hash, last);
    q = (nova_audit_query_t){.tenant_id = "ten_a", .target = "client:cli_1", .limit = 10};
    assert_int_equal(nova_store_audit_list(f->s, &f->a, &q, &rows, &n), NOVA_OK);
    assert_int_equal(n, 2); /* the first entry and append_n's second */
    q = (nova_audit_query_t){.tenant_id = "ten_a", .actor = "nobody", .limit = 10};
    assert_int_equal(nova_store_audit_list(f->s, &f->a, &q, &rows, &n), NOVA_OK);
    assert_int_equal(n, 0);
    q = (nova_audit_query_t){.tenant_id = "ten_a", .from_ts = r.ts + 1, .limit = 10};
    assert_int_equal(nova_store_audit_list(f->s, &f->a, &q, &rows, &n), NOVA_OK);
    assert_true(n <= 4);

    const char **ids;
    assert_int_equal(nova_store_audit_tenants(f->s, &f->a, &ids, &n), NOVA_OK);
    assert_int_equal(n, 2);
    assert_string_equal(ids[0], "ten_a");

    nova_audit_verifier_t v;
    assert_int_equal(verify(f, "ten_a", &v), NOVA_AUDIT_INTACT);
    assert_int_equal(verify(f, "ten_b", &v), NOVA_AUDIT_INTACT);
    assert_int_equal(verify(f, "ten_none", &v), NOVA_AUDIT_INTACT);

    /* refused entries write nothing */
    e.action = "";
    assert_int_equal(nova_store_audit_append(f->s, NULL, &e, NULL), NOVA_INVALID);
    e.action = "x.y";
    e.tenant_id = "*";
    assert_int_equal(nova_store_audit_append(f->s, NULL, &e, NULL), NOVA_INVALID);
}

/* The entry commits with its change or not at all. */
static void t_same_transaction(void **state)
{
    fixture_t *f = *state;
    static const uint8_t priv[] = {1, 2, 3};
    nova_tenant_t t = {"ten_t", "T", 100};
    nova_signing_key_t k = {"k1", "ten_t", "EdDSA", "{}", priv, sizeof(priv),
                            100,  true,    NULL,    0,    0};
    nova_audit_entry_t e = {"ten_t", "novactl", "tenant.create", "tenant:ten_t", NULL, NULL};
    int64_t rows = -1;

    assert_int_equal(nova_store_tenant_create(f->s, &t, &k, NULL), NOVA_INVALID);
    nova_audit_entry_t other = e;
    other.tenant_id = "ten_other";
    assert_int_equal(nova_store_tenant_create(f->s, &t, &k, &other), NOVA_INVALID);
    nova_audit_entry_t broken = e;
    broken.actor = "";
    assert_int_equal(nova_store_tenant_create(f->s, &t, &k, &broken), NOVA_INVALID);
    nova_tenant_t got;
    assert_int_equal(nova_store_tenant_get(f->s, &f->a, "ten_t", &got), NOVA_NOT_FOUND);

    assert_int_equal(nova_store_tenant_create(f->s, &t, &k, &e), NOVA_OK);
    assert_int_equal(nova_store_audit_rows(f->s, "ten_t", &rows), NOVA_OK);
    assert_int_equal(rows, 1);
    /* A failed change (the name is taken) leaves no entry behind. */
    nova_tenant_t t2 = {"ten_t2", "t", 100};
    nova_signing_key_t k2 = {"k2", "ten_t2", "EdDSA", "{}", priv, sizeof(priv),
                             100,  true,     NULL,    0,    0};
    nova_audit_entry_t e2 = {"ten_t2", "novactl", "tenant.create", "tenant:ten_t2", NULL, NULL};
    assert_int_equal(nova_store_tenant_create(f->s, &t2, &k2, &e2), NOVA_CONFLICT);
    assert_int_equal(nova_store_audit_rows(f->s, "ten_t2", &rows), NOVA_OK);
    assert_int_equal(rows, 0);
    nova_audit_entry_t re = {"ten_t", "cli_x", "client.revoke", "client:cli_none", NULL, NULL};
    assert_int_equal(nova_store_client_revoke(f->s, "ten_t", "cli_none", 5, &re), NOVA_NOT_FOUND);
    assert_int_equal(nova_store_audit_rows(f->s, "ten_t", &rows), NOVA_OK);
    assert_int_equal(rows, 1);
}

static void t_store_tamper(void **state)
{
    fixture_t *f = *state;
    nova_audit_verifier_t v;
    char sql[512];
    struct {
        const char *sql;
        nova_audit_fault want;
        int64_t seq;
    } cases[] = {
        {"UPDATE audit_log SET target = 'client:cli_evil' WHERE tenant_id = 'ten_a' AND seq = 3",
         NOVA_AUDIT_EDITED, 3},
        {"DELETE FROM audit_log WHERE tenant_id = 'ten_a' AND seq = 3", NOVA_AUDIT_DELETED, 3},
        {"DELETE FROM audit_log WHERE tenant_id = 'ten_a' AND seq >= 5", NOVA_AUDIT_TRUNCATED, 5},
        {"UPDATE audit_log SET seq = 100 WHERE tenant_id = 'ten_a' AND seq = 3; "
         "UPDATE audit_log SET seq = 3 WHERE tenant_id = 'ten_a' AND seq = 4; "
         "UPDATE audit_log SET seq = 4 WHERE tenant_id = 'ten_a' AND seq = 100",
         NOVA_AUDIT_REORDERED, 3},
        {"INSERT INTO audit_log SELECT 'aud_forged', tenant_id, 7, ts, actor, action, target, "
         "decision, attrs, row_hash, row_hash FROM audit_log WHERE tenant_id = 'ten_a' AND seq = 6",
         NOVA_AUDIT_INSERTED, 7},
        {"DELETE FROM audit_heads WHERE tenant_id = 'ten_a'", NOVA_AUDIT_DELETED, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        exec_sql(f, "DELETE FROM audit_log; DELETE FROM audit_heads");
        append_n(f->s, "ten_a", 6);
        append_n(f->s, "ten_b", 2);
        assert_int_equal(verify(f, "ten_a", &v), NOVA_AUDIT_INTACT);
        snprintf(sql, sizeof(sql), "%s", cases[i].sql);
        exec_sql(f, sql);
        if (verify(f, "ten_a", &v) != cases[i].want)
            fail_msg("case %zu: %s, want %s (%s)", i, nova_audit_fault_name(v.fault),
                     nova_audit_fault_name(cases[i].want), v.detail);
        assert_int_equal(v.bad_seq, cases[i].seq);
        assert_int_equal(verify(f, "ten_b", &v), NOVA_AUDIT_INTACT);
    }
}

/* Writers on one tenant's chain from several threads (own connections) never fork it. */
#define THREADS 4
#define PER_THREAD 25

static void *writer(void *arg)
{
    const char *url = arg;
    nova_store_t *s = NULL;
    char err[256];
    if (nova_store_open(url, &s, err, sizeof(err)) != NOVA_OK)
        return (void *)1;
    intptr_t bad = 0;
    for (int i = 0; i < PER_THREAD; i++) {
        nova_audit_entry_t e = {"ten_c", "cli_w", "token.revoke", "token:j", NULL, NULL};
        nova_status st;
        /* SQLite's busy timeout may run out under contention: the caller retries. */
        while ((st = nova_store_audit_append(s, NULL, &e, NULL)) == NOVA_UNAVAILABLE)
            ;
        if (st != NOVA_OK)
            bad++;
    }
    nova_store_close(s);
    return (void *)bad;
}

static void t_concurrent(void **state)
{
    fixture_t *f = *state;
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, writer, f->url), 0);
    for (int i = 0; i < THREADS; i++) {
        void *bad;
        pthread_join(th[i], &bad);
        assert_null(bad);
    }
    nova_audit_verifier_t v;
    assert_int_equal(verify(f, "ten_c", &v), NOVA_AUDIT_INTACT);
    assert_int_equal(v.head_count, THREADS * PER_THREAD);
    assert_int_equal(v.rows, THREADS * PER_THREAD);
}

static void t_export(void **state)
{
    fixture_t *f = *state;
    uint8_t key[32] = {7}, sig[64];
    nova_buf_t m, pem;
    char *data = NULL;
    size_t len = 0;
    append_n(f->s, "ten_e", 3);
    nova_buf_init(&m);
    nova_buf_init(&pem);
    FILE *out = open_memstream(&data, &len);
    assert_int_equal(nova_audit_export(f->s, key, "ten_e", 0, 0, "x.jsonl", out, &m, sig), NOVA_OK);
    fclose(out);
    json_t *man = json_loads(m.data, 0, NULL);
    assert_non_null(man);
    assert_int_equal(json_integer_value(json_object_get(man, "count")), 3);
    assert_int_equal(json_integer_value(json_object_get(man, "head_count")), 3);
    assert_string_equal(json_string_value(json_object_get(man, "last_hash")),
                        json_string_value(json_object_get(man, "head_hash")));
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += data[i] == '\n';
    assert_int_equal(lines, 3);
    assert_int_equal(nova_audit_export_public_pem(key, &pem), NOVA_OK);
    assert_non_null(strstr(pem.data, "BEGIN PUBLIC KEY"));
    json_decref(man);
    free(data);
    nova_buf_free(&m);
    nova_buf_free(&pem);

    int64_t us;
    assert_int_equal(nova_audit_parse_time("2026-01-01", &us), NOVA_OK);
    assert_int_equal(us, 1767225600000000);
    assert_int_equal(nova_audit_parse_time("2026-01-01T00:00:01Z", &us), NOVA_OK);
    assert_int_equal(us, 1767225601000000);
    assert_int_equal(nova_audit_parse_time("1767225600", &us), NOVA_OK);
    assert_int_equal(nova_audit_parse_time("2026-13-01", &us), NOVA_INVALID);
    assert_int_equal(nova_audit_parse_time("yesterday", &us), NOVA_INVALID);
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(t_canonical),
        cmocka_unit_test(t_entry_check),
        cmocka_unit_test(t_verify_kinds),
        cmocka_unit_test(t_redact),
    };
    const struct CMUnitTest store[] = {
        cmocka_unit_test_setup_teardown(t_store_append, setup, teardown),
        cmocka_unit_test_setup_teardown(t_same_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(t_store_tamper, setup, teardown),
        cmocka_unit_test_setup_teardown(t_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(t_export, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("audit", pure, NULL, NULL);
    failed += cmocka_run_group_tests_name("audit_store_sqlite", store, NULL, NULL);
    g_pg_url = getenv("NOVA_TEST_PG_URL");
    if (g_pg_url && *g_pg_url) {
        g_pg = true;
        failed += cmocka_run_group_tests_name("audit_store_postgres", store, NULL, NULL);
    }
    return failed;
}
