/*
 * store_test.c: the store against SQLite (in memory, or a temp file where several connections
 * must share one database) and, when NOVA_TEST_PG_URL is set, against PostgreSQL with the
 * same cases plus a proof that row-level security holds for the application role.
 *
 *   NOVA_TEST_PG_URL=$(scripts/pg.sh start) build/tests/unit/store_test
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/store/internal.h"
#include "nova/audit_store.h"
#include "nova/ledger_store.h"
#include "nova/oidc_store.h"
#include "nova/people_store.h"
#include "nova/saml_store.h"
#include "nova/store.h"
#include "nova/webhook_store.h"

static bool g_pg;            /* the group running: PostgreSQL or SQLite */
static const char *g_pg_url; /* NOVA_TEST_PG_URL */

typedef struct fixture {
    nova_store_t *s;
    nova_arena_t a;
    char url[600];
    char dir[64]; /* sqlite file tests: temp directory, else empty */
} fixture_t;

static const uint8_t PRIV[] = {0x00, 0x01, 0x02, 0xff, 0x00, 0x7f, 0x80};

/* The audit entry a test mutation passes (every mutating store call takes one). */
static const nova_audit_entry_t *AE(const char *tenant)
{
    static _Thread_local nova_audit_entry_t e;
    e = (nova_audit_entry_t){
        .tenant_id = tenant, .actor = "test", .action = "test.change", .target = "test:x"};
    return &e;
}

/* ---- fixtures ---- */

/* Every table of the schema, whatever the migrations made: a new migration needs no edit here. */
static void reset_pg(nova_store_t *s)
{
    assert_int_equal(s->drv->exec(s, "DO $$ DECLARE t record; BEGIN FOR t IN SELECT tablename "
                                     "FROM pg_tables WHERE schemaname = current_schema() LOOP "
                                     "EXECUTE 'DROP TABLE IF EXISTS ' || quote_ident(t.tablename) "
                                     "|| ' CASCADE'; END LOOP; END $$"),
                     NOVA_OK);
}

static int setup_common(void **state, bool file, bool migrate)
{
    fixture_t *f = calloc(1, sizeof(*f));
    char err[256];
    assert_non_null(f);
    nova_arena_init(&f->a, 4096);
    if (g_pg) {
        snprintf(f->url, sizeof(f->url), "%s", g_pg_url);
    } else if (file) {
        snprintf(f->dir, sizeof(f->dir), "/tmp/nova-store-test-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        /* A directory that does not exist yet: open creates it. */
        snprintf(f->url, sizeof(f->url), "sqlite:%s/sub/nova.db", f->dir);
    } else {
        snprintf(f->url, sizeof(f->url), "sqlite::memory:");
    }
    nova_status st = nova_store_open(f->url, &f->s, err, sizeof(err));
    if (st != NOVA_OK)
        fail_msg("open %s: %s", g_pg ? "postgres" : f->url, err);
    if (g_pg)
        reset_pg(f->s);
    if (migrate)
        assert_int_equal(nova_store_migrate(f->s, NULL, NULL), NOVA_OK);
    *state = f;
    return 0;
}

static int setup_empty(void **state)
{
    return setup_common(state, false, false);
}

static int setup(void **state)
{
    return setup_common(state, false, true);
}

static int setup_file_empty(void **state)
{
    return setup_common(state, true, false);
}

static int setup_file(void **state)
{
    return setup_common(state, true, true);
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    nova_store_close(f->s);
    nova_arena_free(&f->a);
    if (f->dir[0]) {
        static const char *const files[] = {"sub/nova.db", "sub/nova.db-wal", "sub/nova.db-shm",
                                            "sub"};
        char path[128];
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
            snprintf(path, sizeof(path), "%s/%s", f->dir, files[i]);
            (void)remove(path);
        }
        (void)rmdir(f->dir);
    }
    free(f);
    return 0;
}

/* ---- helpers ---- */

/* Whether the token is live, through nova_store_token_resolve. */
static nova_status token_live(nova_store_t *s, const char *tenant, const char *client,
                              const char *jti, bool *active)
{
    nova_arena_t a;
    nova_tenant_t t;
    nova_arena_init(&a, 256);
    char kid[64];
    snprintf(kid, sizeof(kid), "%s-k1", tenant); /* make_tenant's key */
    nova_status st = nova_store_token_resolve(s, &a, tenant, client, jti, kid, 1000, &t);
    *active = st == NOVA_OK;
    if (st == NOVA_NOT_FOUND)
        st = NOVA_OK;
    nova_arena_free(&a);
    return st;
}

static void make_tenant(nova_store_t *s, const char *id, int64_t at)
{
    char kid[64], name[80];
    snprintf(kid, sizeof(kid), "%s-k1", id);
    snprintf(name, sizeof(name), "Tenant %s", id); /* names are unique per deployment */
    nova_tenant_t t = {id, name, at};
    nova_signing_key_t k = {
        kid,  id, "EdDSA", "{\"kty\":\"OKP\",\"crv\":\"Ed25519\"}", PRIV, sizeof(PRIV), at, true,
        NULL, 0,  0};
    assert_int_equal(nova_store_tenant_create(s, &t, &k, AE(t.id)), NOVA_OK);
}

static void make_client(nova_store_t *s, const char *id, const char *tenant, int64_t at)
{
    nova_client_t c = {
        id,           tenant,
        "client",     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "read write", "https://api.example",
        at,           0,
        NULL,         NULL,
        NULL};
    assert_int_equal(nova_store_client_create(s, &c, AE(c.tenant_id)), NOVA_OK);
}

static int64_t count(nova_store_t *s, const char *sql, const char *tenant)
{
    nova_sql_t q = {-1, "test count", sql, NULL};
    int64_t n = -1;
    assert_int_equal(nova_store_query_int(s, &q, tenant, NULL, 0, &n), NOVA_OK);
    return n;
}

/* ---- migrations ---- */

static void t_migrate_from_empty(void **state)
{
    fixture_t *f = *state;
    int v = -1, from = -1, to = -1;
    nova_tenant_t *ts;
    size_t n = 99;

    assert_true(nova_store_code_version() >= 1);
    assert_int_equal(nova_store_schema_version(f->s, &v), NOVA_OK);
    assert_int_equal(v, 0);
    assert_int_equal(nova_store_migrate(f->s, &from, &to), NOVA_OK);
    assert_int_equal(from, 0);
    assert_int_equal(to, nova_store_code_version());
    assert_int_equal(nova_store_schema_version(f->s, &v), NOVA_OK);
    assert_int_equal(v, nova_store_code_version());
    assert_int_equal(count(f->s, "SELECT count(*) FROM schema_version", NULL),
                     nova_store_code_version());
    assert_int_equal(nova_store_tenant_list(f->s, &f->a, &ts, &n), NOVA_OK);
    assert_int_equal(n, 0);
    assert_non_null(ts);
}

static void t_migrate_idempotent(void **state)
{
    fixture_t *f = *state;
    int from = -1, to = -1;
    assert_int_equal(nova_store_migrate(f->s, &from, &to), NOVA_OK);
    assert_int_equal(from, 0);
    make_tenant(f->s, "ten_a", 100);
    assert_int_equal(nova_store_migrate(f->s, &from, &to), NOVA_OK);
    assert_int_equal(from, nova_store_code_version());
    assert_int_equal(to, nova_store_code_version());
    assert_int_equal(nova_store_migrate(f->s, NULL, NULL), NOVA_OK);
    /* Data survives re-runs. */
    nova_tenant_t t;
    assert_int_equal(nova_store_tenant_get(f->s, &f->a, "ten_a", &t), NOVA_OK);
}

static void t_migrate_refuses_newer(void **state)
{
    fixture_t *f = *state;
    char sql[128];
    int v = 0, from = -1, to = -1;
    int future = nova_store_code_version() + 1;
    snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES (%d, 'future', 0)", future);
    assert_int_equal(f->s->drv->exec(f->s, sql), NOVA_OK);
    assert_int_equal(nova_store_migrate(f->s, &from, &to), NOVA_CONFLICT);
    assert_int_equal(from, future);
    assert_int_equal(nova_store_schema_version(f->s, &v), NOVA_OK);
    assert_int_equal(v, future);
    assert_int_equal(count(f->s, "SELECT count(*) FROM schema_version", NULL),
                     nova_store_code_version() + 1);
}

struct migrate_arg {
    const char *url;
    nova_status st;
};

static void *migrate_thread(void *p)
{
    struct migrate_arg *m = p;
    nova_store_t *s = NULL;
    char err[256];
    m->st = nova_store_open(m->url, &s, err, sizeof(err));
    if (m->st == NOVA_OK)
        m->st = nova_store_migrate(s, NULL, NULL);
    nova_store_close(s);
    return NULL;
}

static void t_migrate_concurrent(void **state)
{
    fixture_t *f = *state;
    enum { N = 4 };
    pthread_t th[N];
    struct migrate_arg args[N];
    int v = 0;
    for (int i = 0; i < N; i++) {
        args[i] = (struct migrate_arg){f->url, NOVA_INTERNAL};
        assert_int_equal(pthread_create(&th[i], NULL, migrate_thread, &args[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].st, NOVA_OK);
    }
    assert_int_equal(nova_store_schema_version(f->s, &v), NOVA_OK);
    assert_int_equal(v, nova_store_code_version());
    assert_int_equal(count(f->s, "SELECT count(*) FROM schema_version", NULL),
                     nova_store_code_version());
}

/* ---- tenants and keys ---- */

static nova_status named_tenant(nova_store_t *s, const char *id, const char *name, int64_t at)
{
    char kid[64];
    snprintf(kid, sizeof(kid), "%s-k1", id);
    nova_tenant_t t = {id, name, at};
    nova_signing_key_t k = {kid, id, "EdDSA", "{}", PRIV, sizeof(PRIV), at, true, NULL, 0, 0};
    return nova_store_tenant_create(s, &t, &k, AE(t.id));
}

static const char *tenant_name(fixture_t *f, const char *id)
{
    nova_tenant_t t;
    assert_int_equal(nova_store_tenant_get(f->s, &f->a, id, &t), NOVA_OK);
    return t.name;
}

/* One name, one tenant: ASCII letters fold, every other byte compares exactly, and a refused
 * tenant leaves neither its row nor its key behind. */
static void t_tenant_names_unique(void **state)
{
    fixture_t *f = *state;
    nova_signing_key_t k;
    assert_int_equal(named_tenant(f->s, "ten_a", "Acme", 100), NOVA_OK);
    assert_int_equal(named_tenant(f->s, "ten_b", "Acme", 200), NOVA_CONFLICT);
    assert_int_equal(named_tenant(f->s, "ten_c", "aCME", 200), NOVA_CONFLICT);
    assert_int_equal(nova_store_key_get(f->s, &f->a, "ten_c-k1", &k), NOVA_NOT_FOUND);
    assert_int_equal(named_tenant(f->s, "ten_d", "Acme ", 200), NOVA_OK);
    /* Non-ASCII letters are not folded, on either store (PostgreSQL's lower() would). */
    assert_int_equal(named_tenant(f->s, "ten_e", "\xc3\x89mile", 200), NOVA_OK);
    assert_int_equal(named_tenant(f->s, "ten_f", "\xc3\xa9mile", 200), NOVA_OK);
    assert_int_equal(named_tenant(f->s, "ten_g", "\xc3\x89mile", 200), NOVA_CONFLICT);
    assert_string_equal(tenant_name(f, "ten_a"), "Acme");
}

/* Drops every table that schema 2 did not have (with its indexes and policies), so a test can
 * migrate from 2 again without naming each later migration's tables. */
static void drop_tables_after_schema2(fixture_t *f)
{
    static const char *const keep = "('tenants', 'signing_keys', 'clients', 'revoked_tokens', "
                                    "'settings', 'schema_version')";
    char sql[1024];
    if (g_pg) {
        snprintf(sql, sizeof(sql),
                 "DO $$ DECLARE t text; BEGIN FOR t IN SELECT tablename FROM pg_tables "
                 "WHERE schemaname = current_schema() AND tablename NOT IN %s LOOP "
                 "EXECUTE 'DROP TABLE ' || quote_ident(t) || ' CASCADE'; END LOOP; END $$",
                 keep);
        assert_int_equal(f->s->drv->exec(f->s, sql), NOVA_OK);
        return;
    }
    /* SQLite has no loops in SQL: drop one table a round, until none is left. */
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT IN %s "
             "AND name NOT LIKE 'sqlite_%%'",
             keep);
    assert_int_equal(f->s->drv->exec(f->s, "PRAGMA foreign_keys = OFF"), NOVA_OK);
    for (int64_t left = count(f->s, sql, NULL); left > 0; left--) {
        char pick[1024];
        snprintf(pick, sizeof(pick),
                 "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN %s "
                 "AND name NOT LIKE 'sqlite_%%' LIMIT 1",
                 keep);
        nova_sql_t q = {-1, "test pick table", pick, NULL};
        nova_rows_t r;
        assert_int_equal(f->s->drv->query(f->s, &q, NULL, NULL, 0, &r), NOVA_OK);
        assert_int_equal(f->s->drv->next(&r), NOVA_OK);
        size_t len = 0;
        const char *name = f->s->drv->col_bytes(&r, 0, &len);
        char drop[256];
        snprintf(drop, sizeof(drop), "DROP TABLE \"%.*s\"", (int)len, name);
        f->s->drv->done(&r);
        assert_int_equal(f->s->drv->exec(f->s, drop), NOVA_OK);
    }
    assert_int_equal(count(f->s, sql, NULL), 0);
    assert_int_equal(f->s->drv->exec(f->s, "PRAGMA foreign_keys = ON"), NOVA_OK);
}

/* Migration 0003 on a store that already holds tenants sharing a name: the oldest keeps it,
 * the others get their id appended, and the index then holds. */
static void t_migrate_tenant_names(void **state)
{
    fixture_t *f = *state;
    int from = 0, to = 0;
    /* Back to schema 2, which had no index on names. */
    assert_int_equal(f->s->drv->exec(f->s, "DROP INDEX tenants_name_key"), NOVA_OK);
    assert_int_equal(f->s->drv->exec(f->s, "DELETE FROM schema_version WHERE version >= 3"),
                     NOVA_OK);
    assert_int_equal(named_tenant(f->s, "ten_b", "acme", 200), NOVA_OK);
    assert_int_equal(named_tenant(f->s, "ten_a", "Acme", 100), NOVA_OK);
    assert_int_equal(named_tenant(f->s, "ten_c", "ACME", 200), NOVA_OK);
    assert_int_equal(named_tenant(f->s, "ten_d", "other", 50), NOVA_OK);
    /* Undo what migrations 3 and later added to the tables schema 2 had (0006, 0009)... */
    assert_int_equal(f->s->drv->exec(f->s, "DROP INDEX signing_keys_state_idx; "
                                           "ALTER TABLE signing_keys DROP COLUMN state; "
                                           "ALTER TABLE signing_keys DROP COLUMN grace_until; "
                                           "ALTER TABLE signing_keys DROP COLUMN retired_at"),
                     NOVA_OK);
    assert_int_equal(f->s->drv->exec(f->s, "ALTER TABLE clients DROP COLUMN tls_subject_dn; "
                                           "ALTER TABLE clients DROP COLUMN jwks; "
                                           "ALTER TABLE clients DROP COLUMN auth_method"),
                     NOVA_OK);
    /* ...and drop every table they made, whichever migration made it. */
    drop_tables_after_schema2(f);
    assert_int_equal(nova_store_migrate(f->s, &from, &to), NOVA_OK);
    assert_int_equal(from, 2);
    assert_int_equal(to, nova_store_code_version());
    assert_string_equal(tenant_name(f, "ten_a"), "Acme");
    assert_string_equal(tenant_name(f, "ten_b"), "acme (ten_b)");
    assert_string_equal(tenant_name(f, "ten_c"), "ACME (ten_c)");
    assert_string_equal(tenant_name(f, "ten_d"), "other");
    assert_int_equal(named_tenant(f->s, "ten_e", "acme", 300), NOVA_CONFLICT);
    assert_int_equal(named_tenant(f->s, "ten_f", "Acme (TEN_B)", 300), NOVA_CONFLICT);
}

/* Raw statements in one write transaction across every tenant (as a migration runs). */
static void exec_all_tenants(fixture_t *f, const char *sql)
{
    assert_int_equal(f->s->drv->begin(f->s, true, NOVA_STORE_ALL_TENANTS), NOVA_OK);
    f->s->in_tx = true;
    assert_int_equal(f->s->drv->exec(f->s, sql), NOVA_OK);
    assert_int_equal(f->s->drv->commit(f->s), NOVA_OK);
    f->s->in_tx = false;
}

/* Migration 0027 on a store written before it: the per-leg totals that reversals naming legs
 * kept in a bookkeeping row '<posting>#legs' move into the original's reversed_legs column,
 * per tenant, and those rows are gone; every other posting (a real reversal included) stays
 * as it was, with no legs; a product gets interest_period 'monthly', as it paid before. */
static void t_migrate_ledger_legs(void **state)
{
    fixture_t *f = *state;
    int from = 0, to = 0;
    const char *legs = NULL;
    make_tenant(f->s, "ten_a", 100);
    make_tenant(f->s, "ten_b", 200);
    /* Back to schema 26: 0027's columns (and what later migrations made) dropped. */
    exec_all_tenants(f, "ALTER TABLE ledger_postings DROP COLUMN reversed_legs; "
                        "ALTER TABLE ledger_products DROP COLUMN interest_period; "
                        "DROP TABLE sms_messages; "
                        "DELETE FROM schema_version WHERE version >= 27");
    /* What the code before 0027 wrote: the original, the reversal naming legs, and the legs
     * row (kind 'reversal', digest '', parent_id the original, the vector in request), in two
     * tenants with the same posting id; a posting no reversal named legs of. */
    exec_all_tenants(
        f, "INSERT INTO ledger_postings (tenant_id, id, kind, state, digest, request, "
           "amount_total, reversed, actor, created_at, parent_id) VALUES "
           "('ten_a', 'pay-1', 'posting', 'posted', 'd1', '{}', 1000, 600, 'test', 1, ''), "
           "('ten_a', 'rev-1', 'reversal', 'posted', 'd2', '{}', 600, 0, 'test', 2, 'pay-1'), "
           "('ten_a', 'pay-1#legs', 'reversal', 'posted', '', '[300,300]', 0, 0, 'system', 2, "
           "'pay-1'), "
           "('ten_a', 'pay-2', 'posting', 'posted', 'd3', '{}', 500, 100, 'test', 3, ''), "
           "('ten_b', 'pay-1', 'posting', 'posted', 'd4', '{}', 900, 6, 'test', 4, ''), "
           "('ten_b', 'pay-1#legs', 'reversal', 'posted', '', '[1,2,3]', 0, 0, 'system', 5, "
           "'pay-1'); "
           "INSERT INTO ledger_products (tenant_id, id, kind, currency, rate, day_count, "
           "interest_account, accrual_account, updated_at) VALUES "
           "('ten_a', 'save', 'savings', 'KES', '0.05', 'ACT/365', 'i', 'a', 1)");
    assert_int_equal(nova_store_migrate(f->s, &from, &to), NOVA_OK);
    assert_int_equal(from, 26);
    assert_int_equal(to, nova_store_code_version());
    assert_int_equal(nova_store_ledger_reversed_legs(f->s, &f->a, "ten_a", "pay-1", &legs),
                     NOVA_OK);
    assert_string_equal(legs, "[300,300]");
    assert_int_equal(nova_store_ledger_reversed_legs(f->s, &f->a, "ten_b", "pay-1", &legs),
                     NOVA_OK);
    assert_string_equal(legs, "[1,2,3]");
    assert_int_equal(nova_store_ledger_reversed_legs(f->s, &f->a, "ten_a", "pay-2", &legs),
                     NOVA_NOT_FOUND);
    assert_int_equal(nova_store_ledger_reversed_legs(f->s, &f->a, "ten_a", "rev-1", &legs),
                     NOVA_NOT_FOUND);
    assert_int_equal(count(f->s, "SELECT count(*) FROM ledger_postings", NOVA_STORE_ALL_TENANTS),
                     4);
    assert_int_equal(count(f->s,
                           "SELECT count(*) FROM ledger_postings WHERE id LIKE '%#legs' "
                           "OR reversed_legs = '' ",
                           NOVA_STORE_ALL_TENANTS),
                     0);
    nova_ledger_posting_row_t row;
    assert_int_equal(nova_store_ledger_posting_get(f->s, &f->a, "ten_a", "pay-1", &row), NOVA_OK);
    assert_int_equal(row.reversed, 600);
    assert_int_equal(nova_store_ledger_posting_get(f->s, &f->a, "ten_a", "rev-1", &row), NOVA_OK);
    assert_string_equal(row.parent_id, "pay-1");
    assert_int_equal(nova_store_ledger_posting_get(f->s, &f->a, "ten_a", "pay-1#legs", &row),
                     NOVA_NOT_FOUND);
    assert_int_equal(count(f->s, "SELECT count(*) FROM ledger_postings WHERE id = 'pay-1#legs'",
                           NOVA_STORE_ALL_TENANTS),
                     0);
    nova_ledger_product_t p;
    assert_int_equal(nova_store_ledger_product_get(f->s, &f->a, "ten_a", "save", &p), NOVA_OK);
    assert_string_equal(p.interest_period, "monthly");
}

/* Migration 0028 on a store of schema 27: sms_messages appears empty; a send's MessageSids
 * are recorded once (a second insert of the same SID keeps the first row), and a status
 * moves only forward, audited only when it moves, per tenant and per channel. */
static void t_migrate_sms_messages(void **state)
{
    fixture_t *f = *state;
    int from = 0, to = 0;
    make_tenant(f->s, "ten_a", 100);
    make_tenant(f->s, "ten_b", 200);
    exec_all_tenants(f, "DROP TABLE sms_messages; DELETE FROM schema_version WHERE version >= 28");
    assert_int_equal(nova_store_migrate(f->s, &from, &to), NOVA_OK);
    assert_int_equal(from, 27);
    assert_int_equal(to, nova_store_code_version());
    assert_int_equal(count(f->s, "SELECT count(*) FROM sms_messages", NOVA_STORE_ALL_TENANTS), 0);
    const char *sid = "SM0123456789abcdef0123456789abcdef";
    nova_sms_message_row_t rows[] = {
        {"ten_a", sid, "nch_1", "evt_1", "dlv_1", "tag1", "queued", 2, 0, 10, 10},
        {"ten_a", "SMffffffffffffffffffffffffffffffff", "nch_1", "evt_1", "dlv_1", "tag2",
         "accepted", 1, 0, 10, 10}};
    assert_int_equal(nova_store_sms_message_insert(f->s, rows, 2), NOVA_OK);
    /* The same SID in another tenant is another message. */
    nova_sms_message_row_t other = {"ten_b",  sid, "nch_9", "evt_9", "dlv_9", "tag9",
                                    "queued", 2,   0,       10,      10};
    assert_int_equal(nova_store_sms_message_insert(f->s, &other, 1), NOVA_OK);
    /* A row whose tenant differs from the first one's is refused, nothing written. */
    nova_sms_message_row_t mixed[] = {rows[0], other};
    assert_int_equal(nova_store_sms_message_insert(f->s, mixed, 2), NOVA_INVALID);
    int64_t audits = count(f->s, "SELECT count(*) FROM audit_log", NOVA_STORE_ALL_TENANTS);
    nova_sms_message_row_t m;
    bool changed = false;
    assert_int_equal(nova_store_sms_message_status(f->s, &f->a, "ten_a", "nch_1", sid, "delivered",
                                                   6, 0, 20, AE("ten_a"), &m, &changed),
                     NOVA_OK);
    assert_true(changed);
    assert_string_equal(m.status, "delivered");
    assert_string_equal(m.delivery_id, "dlv_1");
    assert_string_equal(m.recipient, "tag1");
    assert_int_equal(m.updated_at, 20);
    /* Late "sent" and a duplicate "delivered": no change, no audit entry. */
    assert_int_equal(nova_store_sms_message_status(f->s, &f->a, "ten_a", "nch_1", sid, "sent", 4, 0,
                                                   30, AE("ten_a"), &m, &changed),
                     NOVA_OK);
    assert_false(changed);
    assert_string_equal(m.status, "delivered");
    assert_int_equal(nova_store_sms_message_status(f->s, &f->a, "ten_a", "nch_1", sid, "delivered",
                                                   6, 0, 40, AE("ten_a"), &m, &changed),
                     NOVA_OK);
    assert_false(changed);
    assert_int_equal(m.updated_at, 20);
    assert_int_equal(count(f->s, "SELECT count(*) FROM audit_log", NOVA_STORE_ALL_TENANTS),
                     audits + 1);
    /* Another channel of the tenant, or another tenant, does not reach it. */
    assert_int_equal(nova_store_sms_message_status(f->s, &f->a, "ten_a", "nch_2", sid, "failed", 6,
                                                   30003, 50, AE("ten_a"), &m, &changed),
                     NOVA_NOT_FOUND);
    assert_int_equal(nova_store_sms_message_status(f->s, &f->a, "ten_b", "nch_9", sid, "failed", 6,
                                                   30003, 50, AE("ten_b"), &m, &changed),
                     NOVA_OK);
    assert_true(changed);
    assert_int_equal(m.error_code, 30003);
    nova_sms_message_row_t *list = NULL;
    size_t n = 0;
    assert_int_equal(nova_store_sms_message_list(f->s, &f->a, "ten_a", "evt_1", &list, &n),
                     NOVA_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].status, "delivered");
    assert_string_equal(list[1].status, "accepted");
    /* The recorded row is not replaced by a second insert of its SID. */
    assert_int_equal(nova_store_sms_message_insert(f->s, rows, 1), NOVA_OK);
    assert_int_equal(nova_store_sms_message_list(f->s, &f->a, "ten_a", "evt_1", &list, &n),
                     NOVA_OK);
    assert_string_equal(list[0].status, "delivered");
    /* Under tenant B's context only B's row is visible (PostgreSQL's policy; SQLite's
     * repositories filter by tenant). */
    if (g_pg)
        assert_int_equal(count(f->s, "SELECT count(*) FROM sms_messages", "ten_b"), 1);
}

static void t_tenants(void **state)
{
    fixture_t *f = *state;
    nova_tenant_t t, *ts;
    size_t n = 0;

    make_tenant(f->s, "ten_b", 200);
    make_tenant(f->s, "ten_a", 100);
    assert_int_equal(nova_store_tenant_get(f->s, &f->a, "ten_a", &t), NOVA_OK);
    assert_string_equal(t.id, "ten_a");
    assert_string_equal(t.name, "Tenant ten_a");
    assert_int_equal(t.created_at, 100);
    assert_int_equal(nova_store_tenant_get(f->s, &f->a, "ten_zz", &t), NOVA_NOT_FOUND);
    assert_int_equal(nova_store_tenant_list(f->s, &f->a, &ts, &n), NOVA_OK);
    assert_int_equal(n, 2);
    assert_string_equal(ts[0].id, "ten_a"); /* oldest first */
    assert_string_equal(ts[1].id, "ten_b");
    assert_int_equal(ts[1].created_at, 200);

    /* The policy wildcard and empty ids are not tenant ids. */
    nova_tenant_t star = {"*", "x", 1};
    assert_int_equal(nova_store_tenant_create(f->s, &star, NULL, AE(star.id)), NOVA_INVALID);
    assert_int_equal(nova_store_tenant_get(f->s, &f->a, "*", &t), NOVA_INVALID);
    assert_int_equal(nova_store_tenant_get(f->s, &f->a, "", &t), NOVA_INVALID);
}

static void t_tenant_duplicate(void **state)
{
    fixture_t *f = *state;
    nova_signing_key_t k;
    make_tenant(f->s, "ten_a", 100);

    nova_tenant_t t = {"ten_a", "Again", 300};
    nova_signing_key_t k2 = {"ten_a-k2", "ten_a", "ES256", "{}", PRIV, 3, 300, false, NULL, 0, 0};
    assert_int_equal(nova_store_tenant_create(f->s, &t, &k2, AE(t.id)), NOVA_CONFLICT);
    /* One transaction: the key of the refused tenant was not kept. */
    assert_int_equal(nova_store_key_get(f->s, &f->a, "ten_a-k2", &k), NOVA_NOT_FOUND);

    /* A new tenant whose key id is taken: neither row stays. */
    nova_tenant_t t3 = {"ten_c", "C", 300};
    nova_signing_key_t k3 = {"ten_a-k1", "ten_c", "EdDSA", "{}", PRIV, 3, 300, true, NULL, 0, 0};
    nova_tenant_t got;
    assert_int_equal(nova_store_tenant_create(f->s, &t3, &k3, AE(t3.id)), NOVA_CONFLICT);
    assert_int_equal(nova_store_tenant_get(f->s, &f->a, "ten_c", &got), NOVA_NOT_FOUND);

    /* The key must belong to the tenant being created. */
    nova_signing_key_t k4 = {"ten_d-k1", "ten_a", "EdDSA", "{}", PRIV, 3, 300, true, NULL, 0, 0};
    nova_tenant_t t4 = {"ten_d", "D", 300};
    assert_int_equal(nova_store_tenant_create(f->s, &t4, &k4, AE(t4.id)), NOVA_INVALID);

    /* The connection is still usable after the failed transactions. */
    make_tenant(f->s, "ten_e", 400);
}

static void t_keys(void **state)
{
    fixture_t *f = *state;
    nova_signing_key_t k, *ks;
    size_t n = 0;

    make_tenant(f->s, "ten_b", 200);
    make_tenant(f->s, "ten_a", 100);
    assert_int_equal(nova_store_key_get(f->s, &f->a, "ten_a-k1", &k), NOVA_OK);
    assert_string_equal(k.kid, "ten_a-k1");
    assert_string_equal(k.tenant_id, "ten_a");
    assert_string_equal(k.alg, "EdDSA");
    assert_string_equal(k.public_jwk, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\"}");
    assert_int_equal(k.private_enc_len, sizeof(PRIV));
    assert_memory_equal(k.private_enc, PRIV, sizeof(PRIV));
    assert_int_equal(k.created_at, 100);
    assert_true(k.active);
    assert_int_equal(nova_store_key_get(f->s, &f->a, "nope", &k), NOVA_NOT_FOUND);

    assert_int_equal(nova_store_key_get_active(f->s, &f->a, "ten_b", &k), NOVA_OK);
    assert_string_equal(k.kid, "ten_b-k1");
    assert_string_equal(k.tenant_id, "ten_b");
    assert_int_equal(nova_store_key_get_active(f->s, &f->a, "ten_zz", &k), NOVA_NOT_FOUND);

    assert_int_equal(nova_store_key_list(f->s, &f->a, 1000, &ks, &n), NOVA_OK);
    assert_int_equal(n, 2);
    assert_string_equal(ks[0].kid, "ten_a-k1");
    assert_string_equal(ks[1].kid, "ten_b-k1");
    assert_memory_equal(ks[1].private_enc, PRIV, sizeof(PRIV));

    /* A tenant without a key. */
    nova_tenant_t t = {"ten_c", "C", 300};
    assert_int_equal(nova_store_tenant_create(f->s, &t, NULL, AE(t.id)), NOVA_OK);
    assert_int_equal(nova_store_key_get_active(f->s, &f->a, "ten_c", &k), NOVA_NOT_FOUND);
}

/* Rotation: active -> grace (until its end) or retired; one grace key at most; the live
 * lists and the liveness read follow the state; a lost race changes nothing. */
static void t_key_rotation(void **state)
{
    fixture_t *f = *state;
    nova_signing_key_t k, *ks;
    nova_tenant_t t;
    size_t n = 0;
    make_tenant(f->s, "ten_a", 100);
    make_tenant(f->s, "ten_b", 100);
    make_client(f->s, "cli_a", "ten_a", 10);
    nova_signing_key_t k2 = {"ten_a-k2", "ten_a", "EdDSA", "{\"k\":2}", PRIV, sizeof(PRIV),
                             200,        true,    NULL,    0,           0};
    /* Grace until 1200: both verify and are listed before, only k2 after. */
    assert_int_equal(nova_store_key_rotate(f->s, "ten_a", "ten_a-k1", &k2, 1200, 200, AE("ten_a")),
                     NOVA_OK);
    assert_int_equal(nova_store_key_get_active(f->s, &f->a, "ten_a", &k), NOVA_OK);
    assert_string_equal(k.kid, "ten_a-k2");
    assert_string_equal(k.state, "active");
    assert_int_equal(nova_store_key_get(f->s, &f->a, "ten_a-k1", &k), NOVA_OK);
    assert_string_equal(k.state, "grace");
    assert_false(k.active);
    assert_int_equal(k.grace_until, 1200);
    assert_int_equal(nova_store_key_list_tenant(f->s, &f->a, "ten_a", 1000, &ks, &n), NOVA_OK);
    assert_int_equal(n, 2);
    assert_int_equal(nova_store_key_list_tenant(f->s, &f->a, "ten_a", 1200, &ks, &n), NOVA_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ks[0].kid, "ten_a-k2");
    assert_int_equal(nova_store_key_list(f->s, &f->a, 1000, &ks, &n), NOVA_OK);
    assert_int_equal(n, 3); /* ten_a's two and ten_b's one */
    assert_int_equal(
        nova_store_token_resolve(f->s, &f->a, "ten_a", "cli_a", "j", "ten_a-k1", 1199, &t),
        NOVA_OK);
    assert_int_equal(
        nova_store_token_resolve(f->s, &f->a, "ten_a", "cli_a", "j", "ten_a-k1", 1200, &t),
        NOVA_NOT_FOUND);
    assert_int_equal(
        nova_store_token_resolve(f->s, &f->a, "ten_a", "cli_a", "j", "ten_a-k2", 5000, &t),
        NOVA_OK);
    /* Another tenant's kid never vouches. */
    assert_int_equal(
        nova_store_token_resolve(f->s, &f->a, "ten_a", "cli_a", "j", "ten_b-k1", 1000, &t),
        NOVA_NOT_FOUND);
    /* The scheduler's views. */
    assert_int_equal(nova_store_key_list_grace_ended(f->s, &f->a, 1199, &ks, &n), NOVA_OK);
    assert_int_equal(n, 0);
    assert_int_equal(nova_store_key_list_grace_ended(f->s, &f->a, 1200, &ks, &n), NOVA_OK);
    assert_int_equal(n, 1);
    assert_int_equal(nova_store_key_list_due(f->s, &f->a, 150, &ks, &n), NOVA_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ks[0].kid, "ten_b-k1");
    /* A rotation that lost the race (k1 is no longer active) changes nothing. */
    nova_signing_key_t k3 = {"ten_a-k3", "ten_a", "EdDSA", "{\"k\":3}", PRIV, sizeof(PRIV),
                             300,        true,    NULL,    0,           0};
    assert_int_equal(nova_store_key_rotate(f->s, "ten_a", "ten_a-k1", &k3, 0, 300, AE("ten_a")),
                     NOVA_CONFLICT);
    assert_int_equal(nova_store_key_get(f->s, &f->a, "ten_a-k3", &k), NOVA_NOT_FOUND);
    /* Rotating again with no grace: k2 retired at once, and k1 (still in grace) retired too. */
    assert_int_equal(nova_store_key_rotate(f->s, "ten_a", "ten_a-k2", &k3, 0, 300, AE("ten_a")),
                     NOVA_OK);
    assert_int_equal(nova_store_key_get(f->s, &f->a, "ten_a-k2", &k), NOVA_OK);
    assert_string_equal(k.state, "retired");
    assert_int_equal(k.retired_at, 300);
    assert_int_equal(nova_store_key_get(f->s, &f->a, "ten_a-k1", &k), NOVA_OK);
    assert_string_equal(k.state, "retired");
    assert_int_equal(nova_store_key_list_tenant(f->s, &f->a, "ten_a", 301, &ks, &n), NOVA_OK);
    assert_int_equal(n, 1);
    assert_int_equal(
        nova_store_token_resolve(f->s, &f->a, "ten_a", "cli_a", "j", "ten_a-k2", 301, &t),
        NOVA_NOT_FOUND);
    assert_int_equal(nova_store_key_history(f->s, &f->a, "ten_a", &ks, &n), NOVA_OK);
    assert_int_equal(n, 3);
    /* retire only moves grace keys. */
    assert_int_equal(nova_store_key_retire(f->s, "ten_a", "ten_a-k3", 400, AE("ten_a")),
                     NOVA_NOT_FOUND);
    /* Each rotation wrote its entry in ten_a's chain. */
    int64_t rows = 0;
    assert_int_equal(nova_store_audit_rows(f->s, "ten_a", &rows), NOVA_OK);
    assert_int_equal(rows, 4); /* tenant, client, two rotations (the lost race wrote none) */
}

/* ---- clients ---- */

static void t_clients(void **state)
{
    fixture_t *f = *state;
    nova_client_t c, *cs;
    size_t n = 0;

    make_tenant(f->s, "ten_a", 100);
    make_client(f->s, "cli_2", "ten_a", 20);
    make_client(f->s, "cli_1", "ten_a", 10);

    assert_int_equal(nova_store_client_get(f->s, &f->a, "cli_1", &c), NOVA_OK);
    assert_string_equal(c.id, "cli_1");
    assert_string_equal(c.tenant_id, "ten_a");
    assert_string_equal(c.name, "client");
    assert_int_equal(strlen(c.secret_digest), 64);
    assert_string_equal(c.scopes, "read write");
    assert_string_equal(c.audiences, "https://api.example");
    assert_int_equal(c.created_at, 10);
    assert_int_equal(c.revoked_at, 0);
    assert_int_equal(nova_store_client_get(f->s, &f->a, "cli_zz", &c), NOVA_NOT_FOUND);
    assert_int_equal(nova_store_client_get_scoped(f->s, &f->a, "ten_a", "cli_2", &c), NOVA_OK);
    assert_string_equal(c.id, "cli_2");

    assert_int_equal(nova_store_client_list(f->s, &f->a, "ten_a", &cs, &n), NOVA_OK);
    assert_int_equal(n, 2);
    assert_string_equal(cs[0].id, "cli_1");
    assert_string_equal(cs[1].id, "cli_2");

    /* Duplicate id, unknown tenant. */
    nova_client_t dup = {"cli_1", "ten_a", "x", "d", "", "", 1, 0, NULL, NULL, NULL};
    assert_int_equal(nova_store_client_create(f->s, &dup, AE(dup.tenant_id)), NOVA_CONFLICT);
    nova_client_t orphan = {"cli_3", "ten_zz", "x", "d", NULL, NULL, 1, 0, NULL, NULL, NULL};
    assert_int_equal(nova_store_client_create(f->s, &orphan, AE(orphan.tenant_id)), NOVA_NOT_FOUND);

    /* Revoke once; the second time there is nothing active to revoke. */
    assert_int_equal(nova_store_client_revoke(f->s, "ten_a", "cli_1", 500, AE("ten_a")), NOVA_OK);
    assert_int_equal(nova_store_client_revoke(f->s, "ten_a", "cli_1", 600, AE("ten_a")),
                     NOVA_NOT_FOUND);
    assert_int_equal(nova_store_client_revoke(f->s, "ten_a", "cli_zz", 600, AE("ten_a")),
                     NOVA_NOT_FOUND);
    assert_int_equal(nova_store_client_get(f->s, &f->a, "cli_1", &c), NOVA_OK);
    assert_int_equal(c.revoked_at, 500);
    assert_int_equal(nova_store_client_list(f->s, &f->a, "ten_a", &cs, &n), NOVA_OK);
    assert_int_equal(n, 2); /* revoked ones are listed */
}

static void t_cross_tenant(void **state)
{
    fixture_t *f = *state;
    nova_client_t c, *cs;
    nova_signing_key_t k;
    size_t n = 99;
    bool active = true;

    make_tenant(f->s, "ten_a", 100);
    make_tenant(f->s, "ten_b", 200);
    make_client(f->s, "cli_a", "ten_a", 10);

    assert_int_equal(nova_store_client_list(f->s, &f->a, "ten_b", &cs, &n), NOVA_OK);
    assert_int_equal(n, 0);
    assert_int_equal(nova_store_client_get_scoped(f->s, &f->a, "ten_b", "cli_a", &c),
                     NOVA_NOT_FOUND);
    assert_int_equal(nova_store_client_revoke(f->s, "ten_b", "cli_a", 500, AE("ten_b")),
                     NOVA_NOT_FOUND);
    assert_int_equal(nova_store_client_get(f->s, &f->a, "cli_a", &c), NOVA_OK);
    assert_int_equal(c.revoked_at, 0); /* untouched */
    assert_int_equal(nova_store_key_get_active(f->s, &f->a, "ten_b", &k), NOVA_OK);
    assert_string_equal(k.tenant_id, "ten_b");

    /* A's client is not active in B; a jti revoked by B does not touch A. */
    assert_int_equal(token_live(f->s, "ten_b", "cli_a", "jti_1", &active), NOVA_OK);
    assert_false(active);
    assert_int_equal(nova_store_token_revoke(f->s, "ten_b", "jti_b", 9999, AE("ten_b")), NOVA_OK);
    assert_int_equal(token_live(f->s, "ten_a", "cli_a", "jti_b", &active), NOVA_OK);
    assert_true(active);
}

/* Liveness and the tenant in one read; another tenant's view of the token is empty. */
static void t_token_resolve(void **state)
{
    fixture_t *f = *state;
    nova_tenant_t t;
    make_tenant(f->s, "ten_a", 100);
    make_tenant(f->s, "ten_b", 100);
    make_client(f->s, "cli_a", "ten_a", 10);
    assert_int_equal(
        nova_store_token_resolve(f->s, &f->a, "ten_a", "cli_a", "j1", "ten_a-k1", 1000, &t),
        NOVA_OK);
    assert_string_equal(t.id, "ten_a");
    assert_int_equal(t.created_at, 100);
    assert_int_equal(
        nova_store_token_resolve(f->s, &f->a, "ten_b", "cli_a", "j1", "ten_b-k1", 1000, &t),
        NOVA_NOT_FOUND);
    assert_int_equal(nova_store_token_revoke(f->s, "ten_a", "j1", 9999, AE("ten_a")), NOVA_OK);
    assert_int_equal(
        nova_store_token_resolve(f->s, &f->a, "ten_a", "cli_a", "j1", "ten_a-k1", 1000, &t),
        NOVA_NOT_FOUND);
    assert_int_equal(
        nova_store_token_resolve(f->s, &f->a, "ten_a", "cli_a", "j2", "ten_a-k1", 1000, &t),
        NOVA_OK);
    assert_int_equal(nova_store_client_revoke(f->s, "ten_a", "cli_a", 50, AE("ten_a")), NOVA_OK);
    assert_int_equal(
        nova_store_token_resolve(f->s, &f->a, "ten_a", "cli_a", "j2", "ten_a-k1", 1000, &t),
        NOVA_NOT_FOUND);
}

/* ---- settings ---- */

static void t_settings(void **state)
{
    fixture_t *f = *state;
    const char *v = NULL;
    assert_int_equal(nova_store_setting_ensure(f->s, &f->a, "k", "first", &v), NOVA_OK);
    assert_string_equal(v, "first");
    /* The first writer wins: a second, different value is not stored. */
    assert_int_equal(nova_store_setting_ensure(f->s, &f->a, "k", "second", &v), NOVA_OK);
    assert_string_equal(v, "first");
    assert_int_equal(nova_store_setting_ensure(f->s, &f->a, "other", "x", &v), NOVA_OK);
    assert_string_equal(v, "x");
    assert_int_equal(nova_store_setting_ensure(f->s, &f->a, NULL, "x", &v), NOVA_INVALID);
}

/* ---- tokens ---- */

static void t_tokens(void **state)
{
    fixture_t *f = *state;
    bool active = false;

    make_tenant(f->s, "ten_a", 100);
    make_client(f->s, "cli_a", "ten_a", 10);

    assert_int_equal(token_live(f->s, "ten_a", "cli_a", "jti_1", &active), NOVA_OK);
    assert_true(active);
    assert_int_equal(nova_store_token_revoke(f->s, "ten_a", "jti_1", 1000, AE("ten_a")), NOVA_OK);
    assert_int_equal(nova_store_token_revoke(f->s, "ten_a", "jti_1", 1000, AE("ten_a")), NOVA_OK);
    assert_int_equal(nova_store_token_revoke(f->s, "ten_a", "jti_2", 3000, AE("ten_a")), NOVA_OK);
    assert_int_equal(token_live(f->s, "ten_a", "cli_a", "jti_1", &active), NOVA_OK);
    assert_false(active);
    assert_int_equal(token_live(f->s, "ten_a", "cli_a", "jti_9", &active), NOVA_OK);
    assert_true(active);
    assert_int_equal(nova_store_token_revoke(f->s, "ten_zz", "jti_3", 1000, AE("ten_zz")),
                     NOVA_NOT_FOUND);

    /* Prune drops records whose exp is before now, keeps the rest. */
    assert_int_equal(nova_store_token_prune(f->s, 2000), NOVA_OK);
    assert_int_equal(token_live(f->s, "ten_a", "cli_a", "jti_1", &active), NOVA_OK);
    assert_true(active);
    assert_int_equal(token_live(f->s, "ten_a", "cli_a", "jti_2", &active), NOVA_OK);
    assert_false(active);
    assert_int_equal(nova_store_token_prune(f->s, 3000), NOVA_OK); /* exp == now stays */
    assert_int_equal(token_live(f->s, "ten_a", "cli_a", "jti_2", &active), NOVA_OK);
    assert_false(active);
}

static void t_token_check_revoked_client(void **state)
{
    fixture_t *f = *state;
    bool active = true;

    make_tenant(f->s, "ten_a", 100);
    make_client(f->s, "cli_a", "ten_a", 10);
    assert_int_equal(nova_store_client_revoke(f->s, "ten_a", "cli_a", 50, AE("ten_a")), NOVA_OK);
    assert_int_equal(token_live(f->s, "ten_a", "cli_a", "jti_1", &active), NOVA_OK);
    assert_false(active);
    active = true;
    assert_int_equal(token_live(f->s, "ten_a", "cli_nope", "jti_1", &active), NOVA_OK);
    assert_false(active);
}

/* ---- connections ---- */

struct thread_arg {
    const char *url;
    pthread_barrier_t *barrier;
    nova_store_t *s;
    nova_status st;
};

static void *store_thread(void *p)
{
    struct thread_arg *t = p;
    nova_store_t *again = NULL;
    nova_arena_t a;
    nova_tenant_t ten;
    bool active = false;

    nova_arena_init(&a, 1024);
    t->st = nova_store_thread(t->url, &t->s);
    if (t->st == NOVA_OK)
        t->st = nova_store_thread(t->url, &again);
    if (t->st == NOVA_OK && again != t->s)
        t->st = NOVA_INTERNAL;
    if (t->st == NOVA_OK)
        t->st = nova_store_tenant_get(t->s, &a, "ten_a", &ten);
    for (int i = 0; i < 200 && t->st == NOVA_OK; i++)
        t->st = token_live(t->s, "ten_a", "cli_a", "jti_x", &active);
    if (t->st == NOVA_OK && !active)
        t->st = NOVA_INTERNAL;
    /* Both threads hold their connections at once, so the pointers must differ. */
    pthread_barrier_wait(t->barrier);
    nova_arena_free(&a);
    return NULL;
}

static void t_threads(void **state)
{
    fixture_t *f = *state;
    pthread_barrier_t barrier;
    pthread_t th[2];
    struct thread_arg args[2];

    make_tenant(f->s, "ten_a", 100);
    make_client(f->s, "cli_a", "ten_a", 10);
    int live = nova_store_live_connections();
    assert_int_equal(pthread_barrier_init(&barrier, NULL, 2), 0);
    for (int i = 0; i < 2; i++) {
        args[i] = (struct thread_arg){f->url, &barrier, NULL, NOVA_INTERNAL};
        assert_int_equal(pthread_create(&th[i], NULL, store_thread, &args[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&barrier);
    assert_int_equal(args[0].st, NOVA_OK);
    assert_int_equal(args[1].st, NOVA_OK);
    assert_non_null(args[0].s);
    assert_ptr_not_equal(args[0].s, args[1].s);
    /* The thread-exit destructor closed both. */
    assert_int_equal(nova_store_live_connections(), live);
}

static void t_ping(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(nova_store_ping(f->s), NOVA_OK);
    assert_string_equal(nova_store_driver(f->s), g_pg ? "postgres" : "sqlite");
}

static void t_open_errors(void **state)
{
    nova_store_t *s = (nova_store_t *)1;
    char err[256];
    (void)state;
    assert_int_equal(nova_store_open("mysql://x", &s, err, sizeof(err)), NOVA_INVALID);
    assert_null(s);
    assert_int_equal(nova_store_open("sqlite:", &s, err, sizeof(err)), NOVA_INVALID);
    assert_int_equal(nova_store_open("postgres://u:p@h:notaport/x?bad=1", &s, err, sizeof(err)),
                     NOVA_INVALID);
    /* Nothing listens on port 1; the message must not carry the password. */
    assert_int_equal(
        nova_store_open("postgres://nova:Sup3rSecretPw@127.0.0.1:1/nova", &s, err, sizeof(err)),
        NOVA_UNAVAILABLE);
    assert_true(strlen(err) > 0);
    assert_null(strstr(err, "Sup3rSecretPw"));
    assert_int_equal(nova_store_open("sqlite:/proc/nova-no/such.db", &s, err, sizeof(err)),
                     NOVA_UNAVAILABLE);
}

/* PostgreSQL only: the policies hold for the application role even when a query forgets
 * its WHERE tenant_id. */
static void t_rls(void **state)
{
    fixture_t *f = *state;
    nova_store_t *s = f->s;
    if (!g_pg)
        skip();

    /* RLS does not bind superusers: the test is only meaningful for the app role. */
    assert_int_equal(count(s,
                           "SELECT count(*) FROM pg_roles WHERE rolname = current_user "
                           "AND (rolsuper OR rolbypassrls)",
                           NULL),
                     0);
    assert_int_equal(count(s,
                           "SELECT count(*) FROM pg_tables WHERE tablename = 'clients' "
                           "AND tableowner = current_user",
                           NULL),
                     1); /* the owner: only FORCE makes the policy apply */

    make_tenant(s, "ten_a", 100);
    make_tenant(s, "ten_b", 200);
    make_client(s, "cli_a", "ten_a", 10);
    make_client(s, "cli_b", "ten_b", 20);
    assert_int_equal(nova_store_token_revoke(s, "ten_a", "jti_a", 9999, AE("ten_a")), NOVA_OK);

    /* Raw queries in a transaction set to tenant B. */
    assert_int_equal(s->drv->begin(s, false, "ten_b"), NOVA_OK);
    s->in_tx = true;
    assert_int_equal(count(s, "SELECT count(*) FROM clients WHERE tenant_id = 'ten_a'", NULL), 0);
    assert_int_equal(count(s, "SELECT count(*) FROM clients WHERE id = 'cli_a'", NULL), 0);
    assert_int_equal(count(s, "SELECT count(*) FROM clients", NULL), 1);
    assert_int_equal(count(s, "SELECT count(*) FROM signing_keys", NULL), 1);
    assert_int_equal(count(s, "SELECT count(*) FROM revoked_tokens", NULL), 0);
    assert_int_equal(count(s, "SELECT count(*) FROM tenants", NULL), 1);
    /* Writes into A's rows are refused or see nothing. */
    nova_sql_t upd = {-1, "test update", "UPDATE clients SET name = 'x' WHERE id = 'cli_a'", NULL};
    int64_t changed = -1;
    assert_int_equal(nova_store_exec_q(s, &upd, NULL, NULL, 0, &changed), NOVA_OK);
    assert_int_equal(changed, 0);
    nova_sql_t ins = {-1, "test insert",
                      "INSERT INTO clients (id, tenant_id, name, secret_digest, created_at) "
                      "VALUES ('cli_x', 'ten_a', 'x', 'd', 1)",
                      NULL};
    assert_int_not_equal(nova_store_exec_q(s, &ins, NULL, NULL, 0, NULL), NOVA_OK);
    s->drv->rollback(s);
    s->in_tx = false;

    /* Per-statement context (the pipelined set_config) outside a transaction. */
    assert_int_equal(count(s, "SELECT count(*) FROM clients", "ten_a"), 1);
    assert_int_equal(count(s, "SELECT count(*) FROM clients WHERE tenant_id = 'ten_b'", "ten_a"),
                     0);
    assert_int_equal(count(s, "SELECT count(*) FROM clients", "*"), 2);
    /* ... and it does not outlive its statement: no setting, no rows. */
    assert_int_equal(count(s, "SELECT count(*) FROM clients", NULL), 0);
    assert_int_equal(count(s, "SELECT count(*) FROM tenants", NULL), 0);
    assert_int_equal(count(s, "SELECT count(*) FROM revoked_tokens", NULL), 0);
}

/* PostgreSQL only: a connection whose server session died comes back on the next call. */
static void t_pg_reconnect(void **state)
{
    fixture_t *f = *state;
    nova_store_t *other = NULL;
    char err[256], sql[96];
    bool active = false;
    if (!g_pg)
        skip();

    make_tenant(f->s, "ten_a", 100);
    make_client(f->s, "cli_a", "ten_a", 10);
    assert_int_equal(token_live(f->s, "ten_a", "cli_a", "j", &active), NOVA_OK);
    int64_t pid = count(f->s, "SELECT pg_backend_pid()", NULL);
    assert_int_equal(nova_store_open(f->url, &other, err, sizeof(err)), NOVA_OK);
    for (int round = 0; round < 2; round++) {
        snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%lld)::int", (long long)pid);
        assert_int_equal(count(other, sql, NULL), 1);
        usleep(100 * 1000);
        /* The first call may find the dead session; the next one reconnects. */
        nova_status st =
            round == 0 ? nova_store_ping(f->s) : token_live(f->s, "ten_a", "cli_a", "j", &active);
        assert_true(st == NOVA_OK || st == NOVA_UNAVAILABLE);
        active = false;
        assert_int_equal(token_live(f->s, "ten_a", "cli_a", "j", &active), NOVA_OK);
        assert_true(active);
        pid = count(f->s, "SELECT pg_backend_pid()", NULL);
    }
    nova_store_close(other);
}

static int group_sqlite(void **state)
{
    (void)state;
    g_pg = false;
    return 0;
}

static int group_pg(void **state)
{
    nova_store_t *s = NULL;
    char err[256];
    (void)state;
    g_pg = true;
    if (nova_store_open(g_pg_url, &s, err, sizeof(err)) != NOVA_OK) {
        fprintf(stderr, "store_test: cannot reach NOVA_TEST_PG_URL: %s\n", err);
        return -1;
    }
    nova_store_close(s);
    return 0;
}

/* ---- SCIM groups (migration 0023) ---- */

static void make_user(nova_store_t *s, const char *id, const char *tenant, const char *roles)
{
    static const uint8_t sealed[] = {1, 2, 3};
    nova_user_t u = {.id = id,
                     .tenant_id = tenant,
                     .status = "active",
                     .roles = roles,
                     .email_index = id, /* unique per tenant, like a blind index */
                     .email_sealed = sealed,
                     .email_sealed_len = sizeof(sealed),
                     .pii_region = "default",
                     .password_hash = "",
                     .created_by = "test",
                     .created_at = 1,
                     .updated_at = 1};
    assert_int_equal(nova_store_user_create(s, &u, AE(tenant)), NOVA_OK);
}

static size_t members_of(fixture_t *f, const char *tenant, const char *group, const char *user)
{
    nova_scim_member_t *m;
    size_t n = 99;
    assert_int_equal(nova_store_scim_members(f->s, &f->a, tenant, group, user, &m, &n), NOVA_OK);
    return n;
}

/* Groups, members of the same tenant only, uniqueness, versions, grants, cascades. */
/* A group's policy tuples go in the group's own transaction: written with it, and gone with
 * it when any part of the change is refused (no member keeps a relationship the group lost). */
static void t_scim_group_tuples(void **state)
{
    fixture_t *f = *state;
    nova_store_t *s = f->s;
    make_tenant(s, "ten_a", 100);
    make_user(s, "usr_a1", "ten_a", "");
    make_user(s, "usr_a2", "ten_a", "");
    nova_fga_store_t fs = {"01JF0000000000000000000001", "ten_a", "bank", 1, 1};
    assert_int_equal(nova_store_fga_store_create(s, &fs, AE("ten_a")), NOVA_OK);
    const char *tuples_sql = "SELECT count(*) FROM fga_tuples WHERE object = 'group:grp_t'";
    const char *feed_sql = "SELECT count(*) FROM fga_changes";
    nova_fga_tuple_t t1 = {.object = "group:grp_t",
                           .relation = "member",
                           .user = "user:usr_a1",
                           .change = "{}",
                           .ulid = "01JF0000000000000000000011"};
    nova_fga_tuple_t t2 = {.object = "group:grp_t",
                           .relation = "member",
                           .user = "user:usr_a2",
                           .change = "{}",
                           .ulid = "01JF0000000000000000000012"};
    nova_fga_tuple_t both[] = {t1, t2};
    nova_fga_batch_t b = {
        .store_id = fs.id,
        .w = {.writes = both, .nwrites = 2, .ignore_duplicate = true, .ignore_missing = true},
        .audit = *AE("ten_a"),
        .now = 1000000};
    nova_scim_group_t g = {.id = "grp_t",
                           .tenant_id = "ten_a",
                           .display_name = "Tellers",
                           .version = 1,
                           .created_at = 1,
                           .updated_at = 1};
    const char *add[] = {"usr_a1", "usr_a2"};
    const char *what = NULL;
    nova_scim_group_write_t w = {.group = &g,
                                 .name_key = "tellers",
                                 .create = true,
                                 .add = add,
                                 .nadd = 2,
                                 .fga = &b,
                                 .nfga = 1};
    int64_t feed0 = count(s, feed_sql, "ten_a");
    assert_int_equal(nova_store_scim_group_write(s, &w, AE("ten_a"), &what), NOVA_OK);
    assert_int_equal(count(s, tuples_sql, "ten_a"), 2);
    assert_int_equal(count(s, feed_sql, "ten_a"), feed0 + 2);
    assert_true(b.seq > 0);

    /* A refused change (stale version) writes none of its tuples. */
    nova_fga_tuple_t gone = t2;
    nova_fga_batch_t del = {.store_id = fs.id,
                            .w = {.writes = &t1,
                                  .nwrites = 1,
                                  .deletes = &gone,
                                  .ndeletes = 1,
                                  .ignore_duplicate = true,
                                  .ignore_missing = true},
                            .audit = *AE("ten_a"),
                            .now = 2000000};
    const char *rm[] = {"usr_a2"};
    nova_scim_group_t g2 = g;
    g2.version = 2;
    nova_scim_group_write_t w2 = {.group = &g2,
                                  .name_key = "tellers",
                                  .expect = 9,
                                  .remove = rm,
                                  .nremove = 1,
                                  .fga = &del,
                                  .nfga = 1};
    assert_int_equal(nova_store_scim_group_write(s, &w2, AE("ten_a"), &what), NOVA_CONFLICT);
    assert_int_equal(count(s, tuples_sql, "ten_a"), 2);
    assert_int_equal(members_of(f, "ten_a", "grp_t", NULL), 2);

    /* A tuple held with a condition refuses the whole change, the group's rows included. */
    nova_fga_tuple_t cond = {.object = "group:grp_t",
                             .relation = "member",
                             .user = "user:usr_a1",
                             .condition = "in_hours",
                             .context = "{}",
                             .change = "{}",
                             .ulid = "01JF0000000000000000000013"};
    nova_fga_tuple_t old1 = t1;
    nova_fga_write_t fw = {.deletes = &old1, .ndeletes = 1};
    nova_fga_write_result_t res;
    assert_int_equal(nova_store_fga_write(s, "ten_a", fs.id, &fw, 3000000, AE("ten_a"), &res),
                     NOVA_OK);
    fw = (nova_fga_write_t){.writes = &cond, .nwrites = 1};
    assert_int_equal(nova_store_fga_write(s, "ten_a", fs.id, &fw, 3000001, AE("ten_a"), &res),
                     NOVA_OK);
    w2.expect = 1;
    what = NULL;
    assert_int_equal(nova_store_scim_group_write(s, &w2, AE("ten_a"), &what), NOVA_CONFLICT);
    assert_non_null(what);
    assert_string_equal(what, "policy_tuple");
    assert_int_equal(members_of(f, "ten_a", "grp_t", NULL), 2);
    assert_int_equal(count(s, tuples_sql, "ten_a"), 2);

    /* Without the conflicting tuple the change and its deletion commit together. */
    fw = (nova_fga_write_t){.deletes = &cond, .ndeletes = 1};
    assert_int_equal(nova_store_fga_write(s, "ten_a", fs.id, &fw, 3000002, AE("ten_a"), &res),
                     NOVA_OK);
    assert_int_equal(nova_store_scim_group_write(s, &w2, AE("ten_a"), &what), NOVA_OK);
    assert_int_equal(members_of(f, "ten_a", "grp_t", NULL), 1);
    assert_int_equal(count(s, tuples_sql, "ten_a"), 1);
    assert_int_equal(
        count(s, "SELECT count(*) FROM fga_tuples WHERE \"user\" = 'user:usr_a2'", "ten_a"), 0);

    /* A store deleted meanwhile is skipped; the group's delete takes its last tuple. */
    nova_fga_batch_t last = {.store_id = fs.id,
                             .w = {.deletes = &t1, .ndeletes = 1, .ignore_missing = true},
                             .audit = *AE("ten_a"),
                             .now = 4000000};
    nova_fga_batch_t ghost = {.store_id = "01JF00000000000000000000FF",
                              .w = {.deletes = &t1, .ndeletes = 1, .ignore_missing = true},
                              .audit = *AE("ten_a"),
                              .now = 4000000};
    nova_fga_batch_t two[] = {ghost, last};
    assert_int_equal(
        nova_store_scim_group_delete(s, "ten_a", "grp_t", NULL, 0, two, 2, AE("ten_a")), NOVA_OK);
    assert_int_equal(two[0].seq, 0);
    assert_true(two[1].seq > b.seq);
    assert_int_equal(count(s, tuples_sql, "ten_a"), 0);
    /* Outside a transaction the batch writer refuses. */
    assert_int_equal(nova_store_fga_batches_in_tx(s, "ten_a", &last, 1), NOVA_INVALID);
}

static void t_scim_groups(void **state)
{
    fixture_t *f = *state;
    nova_store_t *s = f->s;
    make_tenant(s, "ten_a", 100);
    make_tenant(s, "ten_b", 200);
    make_user(s, "usr_a1", "ten_a", "staff");
    make_user(s, "usr_a2", "ten_a", "");
    make_user(s, "usr_b1", "ten_b", "");
    const char *what = NULL;
    nova_scim_group_t g = {.id = "grp_1",
                           .tenant_id = "ten_a",
                           .display_name = "Finance",
                           .external_id = "ext-1",
                           .version = 1,
                           .created_at = 10,
                           .updated_at = 10};
    const char *add[] = {"usr_a1", "usr_a2"};
    nova_scim_grant_t grants[] = {{"usr_a1", "finance"}};
    nova_scim_group_write_t w = {.group = &g,
                                 .name_key = "finance",
                                 .create = true,
                                 .add = add,
                                 .nadd = 2,
                                 .grants = grants,
                                 .ngrants = 1};
    assert_int_equal(nova_store_scim_group_write(s, &w, AE("ten_a"), &what), NOVA_OK);
    assert_int_equal(members_of(f, "ten_a", "grp_1", NULL), 2);
    assert_int_equal(members_of(f, "ten_a", NULL, "usr_a1"), 1);
    nova_scim_grant_t *gr;
    size_t n = 0;
    assert_int_equal(nova_store_scim_grants(s, &f->a, "ten_a", &gr, &n), NOVA_OK);
    assert_int_equal(n, 1);
    assert_string_equal(gr[0].roles, "finance");
    nova_scim_group_t got;
    assert_int_equal(nova_store_scim_group_get(s, &f->a, "ten_a", "grp_1", &got), NOVA_OK);
    assert_string_equal(got.display_name, "Finance");
    assert_string_equal(got.external_id, "ext-1");
    assert_int_equal(got.version, 1);
    /* Another tenant sees nothing of it. */
    assert_int_equal(nova_store_scim_group_get(s, &f->a, "ten_b", "grp_1", &got), NOVA_NOT_FOUND);
    assert_int_equal(members_of(f, "ten_b", "grp_1", NULL), 0);
    assert_int_equal(members_of(f, "ten_b", NULL, NULL), 0);

    /* The same name (any case) or externalId in the tenant: a conflict that names it. */
    nova_scim_group_t g2 = g;
    g2.id = "grp_2";
    g2.external_id = NULL;
    nova_scim_group_write_t w2 = {.group = &g2, .name_key = "finance", .create = true};
    assert_int_equal(nova_store_scim_group_write(s, &w2, AE("ten_a"), &what), NOVA_CONFLICT);
    assert_string_equal(what, "displayName");
    g2.display_name = "Ops";
    g2.external_id = "ext-1";
    w2.name_key = "ops";
    assert_int_equal(nova_store_scim_group_write(s, &w2, AE("ten_a"), &what), NOVA_CONFLICT);
    assert_string_equal(what, "externalId");
    /* A user of another tenant (or nobody) is not added, and nothing of the write is. */
    g2.external_id = NULL;
    const char *foreign[] = {"usr_a1", "usr_b1"};
    w2.add = foreign;
    w2.nadd = 2;
    assert_int_equal(nova_store_scim_group_write(s, &w2, AE("ten_a"), &what), NOVA_INVALID);
    assert_string_equal(what, "members");
    assert_int_equal(nova_store_scim_group_get(s, &f->a, "ten_a", "grp_2", &got), NOVA_NOT_FOUND);
    assert_int_equal(members_of(f, "ten_a", NULL, "usr_a1"), 1);
    /* The same name is free in tenant B. */
    nova_scim_group_t gb = {.id = "grp_b",
                            .tenant_id = "ten_b",
                            .display_name = "Finance",
                            .version = 1,
                            .created_at = 20,
                            .updated_at = 20};
    nova_scim_group_write_t wb = {.group = &gb, .name_key = "finance", .create = true};
    assert_int_equal(nova_store_scim_group_write(s, &wb, AE("ten_b"), &what), NOVA_OK);
    if (g_pg) {
        /* Row-level security: tenant B's transaction sees none of A's rows. */
        assert_int_equal(s->drv->begin(s, false, "ten_b"), NOVA_OK);
        s->in_tx = true;
        assert_int_equal(count(s, "SELECT count(*) FROM scim_groups", NULL), 1);
        assert_int_equal(count(s, "SELECT count(*) FROM scim_group_members", NULL), 0);
        assert_int_equal(count(s, "SELECT count(*) FROM scim_role_grants", NULL), 0);
        assert_int_equal(count(s, "SELECT count(*) FROM scim_groups WHERE id = 'grp_1'", NULL), 0);
        s->drv->rollback(s);
        s->in_tx = false;
    }

    /* An update at a stale version is refused; at the right one it moves members. */
    nova_scim_group_t g3 = g;
    g3.version = 2;
    g3.display_name = "Finance EU";
    const char *rm[] = {"usr_a2"};
    nova_scim_group_write_t w3 = {
        .group = &g3, .name_key = "finance eu", .expect = 7, .remove = rm, .nremove = 1};
    assert_int_equal(nova_store_scim_group_write(s, &w3, AE("ten_a"), &what), NOVA_CONFLICT);
    assert_string_equal(what, "version");
    w3.expect = 1;
    assert_int_equal(nova_store_scim_group_write(s, &w3, AE("ten_a"), &what), NOVA_OK);
    assert_int_equal(members_of(f, "ten_a", "grp_1", NULL), 1);
    nova_scim_group_t gm = g3;
    gm.id = "grp_missing";
    gm.display_name = "Nope";
    gm.external_id = NULL;
    nova_scim_group_write_t wm = {.group = &gm, .name_key = "nope", .expect = 1};
    assert_int_equal(nova_store_scim_group_write(s, &wm, AE("ten_a"), &what), NOVA_NOT_FOUND);
    /* Adding a member twice is no change. */
    g3.id = "grp_1";
    g3.version = 3;
    w3 = (nova_scim_group_write_t){
        .group = &g3, .name_key = "finance eu", .expect = 2, .add = add, .nadd = 1};
    assert_int_equal(nova_store_scim_group_write(s, &w3, AE("ten_a"), &what), NOVA_OK);
    assert_int_equal(members_of(f, "ten_a", "grp_1", NULL), 1);

    /* The mapping, replaced whole; grants "" remove the row. */
    nova_scim_group_role_t rows[] = {{"Finance EU", "finance eu", "finance"},
                                     {"Finance EU", "finance eu", "approver"}};
    nova_scim_grant_t clear[] = {{"usr_a1", ""}};
    assert_int_equal(nova_store_scim_group_roles_put(s, "ten_a", rows, 2, clear, 1, AE("ten_a")),
                     NOVA_OK);
    nova_scim_group_role_t *out;
    assert_int_equal(nova_store_scim_group_roles(s, &f->a, "ten_a", &out, &n), NOVA_OK);
    assert_int_equal(n, 2);
    assert_string_equal(out[0].role, "approver"); /* by key, then role */
    assert_int_equal(nova_store_scim_group_roles(s, &f->a, "ten_b", &out, &n), NOVA_OK);
    assert_int_equal(n, 0);
    assert_int_equal(nova_store_scim_grants(s, &f->a, "ten_a", &gr, &n), NOVA_OK);
    assert_int_equal(n, 0);

    /* A deleted user leaves its groups; a deleted group takes its members with it. */
    const char **sessions;
    assert_int_equal(nova_store_user_delete(s, &f->a, "ten_a", "usr_a1", 50, NULL, 0, AE("ten_a"),
                                            &sessions, &n),
                     NOVA_OK);
    assert_int_equal(members_of(f, "ten_a", "grp_1", NULL), 0);
    g3.version = 4;
    w3 = (nova_scim_group_write_t){
        .group = &g3, .name_key = "finance eu", .expect = 3, .add = add + 1, .nadd = 1};
    assert_int_equal(nova_store_scim_group_write(s, &w3, AE("ten_a"), &what), NOVA_OK);
    assert_int_equal(
        nova_store_scim_group_delete(s, "ten_b", "grp_1", NULL, 0, NULL, 0, AE("ten_b")),
        NOVA_NOT_FOUND);
    assert_int_equal(
        nova_store_scim_group_delete(s, "ten_a", "grp_1", NULL, 0, NULL, 0, AE("ten_a")), NOVA_OK);
    assert_int_equal(members_of(f, "ten_a", NULL, NULL), 0);
    nova_scim_group_t *list;
    assert_int_equal(nova_store_scim_group_list(s, &f->a, "ten_a", &list, &n), NOVA_OK);
    assert_int_equal(n, 0);
    assert_int_equal(nova_store_scim_group_list(s, &f->a, "ten_b", &list, &n), NOVA_OK);
    assert_int_equal(n, 1);
}

/* ---- federated sessions (migration 0026) ---- */

static void fed_session(nova_store_t *s, const char *id, const char *tenant, const char *user,
                        const char *idp, const char *sid, int64_t now)
{
    char rt[65];
    snprintf(rt, sizeof(rt), "%064zu", strlen(id) * 1000003u + (size_t)id[strlen(id) - 1]);
    nova_user_session_t ses = {.id = id,
                               .tenant_id = tenant,
                               .user_id = user,
                               .aal = 1,
                               .amr = "fed",
                               .device = "",
                               .ip = "",
                               .created_at = now,
                               .expires_at = now + 3600,
                               .revoked_reason = "",
                               .idp_id = idp,
                               .idp_sid = sid};
    assert_int_equal(nova_store_user_session_create(s, &ses, rt, NULL, AE(tenant)), NOVA_OK);
}

static void fed_idp(nova_store_t *s, bool saml, const char *id, const char *tenant)
{
    nova_oidc_idp_row_t row = {.id = id,
                               .tenant_id = tenant,
                               .issuer = id,
                               .config = "{}",
                               .created_at = 1,
                               .updated_at = 1};
    assert_int_equal(saml ? nova_store_saml_idp_create(s, &row, AE(tenant))
                          : nova_store_oidc_idp_create(s, &row, AE(tenant)),
                     NOVA_OK);
}

/* Sessions record their IdP and its session id; an IdP's delete revokes exactly its own
 * sessions in its transaction; a back-channel logout's narrowing by sid and user. */
static void t_fed_sessions(void **state)
{
    fixture_t *f = *state;
    nova_store_t *s = f->s;
    int64_t now = 1000000;
    make_tenant(s, "ten_a", 100);
    make_tenant(s, "ten_b", 200);
    make_user(s, "usr_a1", "ten_a", "");
    make_user(s, "usr_a2", "ten_a", "");
    make_user(s, "usr_b1", "ten_b", "");
    fed_idp(s, false, "oidp_1", "ten_a");
    fed_idp(s, true, "sidp_1", "ten_a");
    fed_session(s, "pss_1", "ten_a", "usr_a1", "oidp_1", "sid-1", now);
    fed_session(s, "pss_2", "ten_a", "usr_a2", "oidp_1", "sid-2", now);
    fed_session(s, "pss_3", "ten_a", "usr_a1", "oidp_1", "", now);
    fed_session(s, "pss_4", "ten_a", "usr_a1", "sidp_1", "", now);
    fed_session(s, "pss_5", "ten_a", "usr_a1", NULL, NULL, now);        /* a password sign-in */
    fed_session(s, "pss_6", "ten_b", "usr_b1", "oidp_1", "sid-1", now); /* same id, other tenant */
    nova_user_session_t got;
    assert_int_equal(nova_store_user_session_get(s, &f->a, "ten_a", "pss_1", &got), NOVA_OK);
    assert_string_equal(got.idp_id, "oidp_1");
    assert_string_equal(got.idp_sid, "sid-1");
    assert_int_equal(nova_store_user_session_get(s, &f->a, "ten_a", "pss_5", &got), NOVA_OK);
    assert_string_equal(got.idp_id, "");
    const char **ids;
    size_t n;
    assert_int_equal(
        nova_store_user_session_idp_live(s, &f->a, "ten_a", "oidp_1", NULL, NULL, now, &ids, &n),
        NOVA_OK);
    assert_int_equal(n, 3);
    assert_int_equal(
        nova_store_user_session_idp_live(s, &f->a, "ten_a", "oidp_1", "sid-1", NULL, now, &ids, &n),
        NOVA_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], "pss_1");
    assert_int_equal(nova_store_user_session_idp_live(s, &f->a, "ten_a", "oidp_1", NULL, "usr_a1",
                                                      now, &ids, &n),
                     NOVA_OK);
    assert_int_equal(n, 2);
    /* Past their end: not live. */
    assert_int_equal(nova_store_user_session_idp_live(s, &f->a, "ten_a", "oidp_1", NULL, NULL,
                                                      now + 7200, &ids, &n),
                     NOVA_OK);
    assert_int_equal(n, 0);
    /* A back-channel logout naming sid-2 of usr_a1 matches nothing; of usr_a2, one. */
    assert_int_equal(nova_store_user_session_revoke_idp(s, &f->a, "ten_a", "oidp_1", "sid-2",
                                                        "usr_a1", "idp_logout", now, AE("ten_a"),
                                                        &ids, &n),
                     NOVA_OK);
    assert_int_equal(n, 0);
    assert_int_equal(nova_store_user_session_revoke_idp(s, &f->a, "ten_a", "oidp_1", "sid-2",
                                                        "usr_a2", "idp_logout", now, AE("ten_a"),
                                                        &ids, &n),
                     NOVA_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], "pss_2");
    /* The OIDC IdP's delete: its two live sessions of this tenant, nothing else. */
    assert_int_equal(
        nova_store_oidc_idp_delete(s, &f->a, "ten_b", "oidp_1", now, AE("ten_b"), &ids, &n),
        NOVA_NOT_FOUND);
    assert_int_equal(
        nova_store_oidc_idp_delete(s, &f->a, "ten_a", "oidp_1", now, AE("ten_a"), &ids, &n),
        NOVA_OK);
    assert_int_equal(n, 2);
    assert_int_equal(nova_store_user_session_get(s, &f->a, "ten_a", "pss_3", &got), NOVA_OK);
    assert_string_equal(got.revoked_reason, "idp_deleted");
    assert_int_equal(nova_store_user_session_get(s, &f->a, "ten_a", "pss_2", &got), NOVA_OK);
    assert_string_equal(got.revoked_reason, "idp_logout");
    assert_int_equal(nova_store_user_session_get(s, &f->a, "ten_a", "pss_4", &got), NOVA_OK);
    assert_int_equal(got.revoked_at, 0);
    assert_int_equal(nova_store_user_session_get(s, &f->a, "ten_b", "pss_6", &got), NOVA_OK);
    assert_int_equal(got.revoked_at, 0);
    assert_int_equal(
        nova_store_oidc_idp_delete(s, &f->a, "ten_a", "oidp_1", now, AE("ten_a"), &ids, &n),
        NOVA_NOT_FOUND);
    assert_int_equal(
        nova_store_saml_idp_delete(s, &f->a, "ten_a", "sidp_1", now, AE("ten_a"), &ids, &n),
        NOVA_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], "pss_4");
    assert_int_equal(nova_store_user_session_get(s, &f->a, "ten_a", "pss_5", &got), NOVA_OK);
    assert_int_equal(got.revoked_at, 0);
    nova_oidc_idp_row_t row;
    assert_int_equal(nova_store_saml_idp_get(s, &f->a, "ten_a", "sidp_1", &row), NOVA_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_migrate_from_empty, setup_empty, teardown),
        cmocka_unit_test_setup_teardown(t_migrate_idempotent, setup_empty, teardown),
        cmocka_unit_test_setup_teardown(t_migrate_refuses_newer, setup, teardown),
        cmocka_unit_test_setup_teardown(t_migrate_concurrent, setup_file_empty, teardown),
        cmocka_unit_test_setup_teardown(t_tenants, setup, teardown),
        cmocka_unit_test_setup_teardown(t_tenant_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(t_tenant_names_unique, setup, teardown),
        cmocka_unit_test_setup_teardown(t_migrate_tenant_names, setup, teardown),
        cmocka_unit_test_setup_teardown(t_migrate_ledger_legs, setup, teardown),
        cmocka_unit_test_setup_teardown(t_migrate_sms_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(t_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(t_key_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(t_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(t_cross_tenant, setup, teardown),
        cmocka_unit_test_setup_teardown(t_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(t_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(t_token_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown(t_token_check_revoked_client, setup, teardown),
        cmocka_unit_test_setup_teardown(t_threads, setup_file, teardown),
        cmocka_unit_test_setup_teardown(t_ping, setup, teardown),
        cmocka_unit_test(t_open_errors),
        cmocka_unit_test_setup_teardown(t_scim_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(t_scim_group_tuples, setup, teardown),
        cmocka_unit_test_setup_teardown(t_fed_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(t_rls, setup, teardown),
        cmocka_unit_test_setup_teardown(t_pg_reconnect, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("store_sqlite", tests, group_sqlite, NULL);
    g_pg_url = getenv("NOVA_TEST_PG_URL");
    if (g_pg_url != NULL && g_pg_url[0] != '\0') {
        failed += cmocka_run_group_tests_name("store_postgres", tests, group_pg, NULL);
    } else {
        printf("store_test: NOVA_TEST_PG_URL is not set; the PostgreSQL group is skipped "
               "(NOVA_TEST_PG_URL=$(scripts/pg.sh start))\n");
    }
    return failed;
}
