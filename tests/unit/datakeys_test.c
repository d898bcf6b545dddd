/*
 * datakeys_test: field-level encryption (nova/datakey.h), the envelope (nova/envelope.h) and
 * the shield that keeps decrypted values out of log lines (nova/shield.h). Runs on SQLite,
 * and on PostgreSQL (row-level security on) when NOVA_TEST_PG_URL is set:
 *   NOVA_TEST_PG_URL=$(scripts/pg.sh start) build/tests/unit/datakeys_test
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/store/internal.h"
#include "nova/audit_store.h"
#include "nova/datakey.h"
#include "nova/log.h"

static const nova_audit_actor_t actor = {.id = "test", .request_id = "req_test"};
static const char *g_pg_url;

typedef struct fx {
    char dir[64];
    char url[256];
    nova_store_t *s;
    nova_auth_t *a;
    nova_arena_t ar;
    nova_tenant_t t;
} fx;

static nova_auth_t *auth_with(uint8_t fill)
{
    nova_auth_config_t cfg = {.issuer = "https://nova.test",
                              .audience = "nova-api",
                              .token_ttl = 300,
                              .alg = NOVA_JWS_EDDSA};
    memset(cfg.master_key, fill, 32);
    nova_auth_t *a = NULL;
    assert_int_equal(nova_auth_new(&cfg, &a), NOVA_OK);
    return a;
}

static void new_tenant(fx *f, nova_tenant_t *t)
{
    char name[48];
    /* unique: a PostgreSQL store is reused */
    assert_int_equal(nova_id_new("datakey-test", name, sizeof(name)), NOVA_OK);
    assert_int_equal(nova_auth_tenant_create(f->a, f->s, &f->ar, &actor, name, t), NOVA_OK);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    char err[256];
    if (g_pg_url) {
        snprintf(f->url, sizeof(f->url), "%s", g_pg_url);
    } else {
        snprintf(f->dir, sizeof(f->dir), "/tmp/nova-datakey-test-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->url, sizeof(f->url), "sqlite:%s/nova.db", f->dir);
    }
    if (nova_store_open(f->url, &f->s, err, sizeof(err)) != NOVA_OK)
        fail_msg("open: %s", err);
    assert_int_equal(nova_store_migrate(f->s, NULL, NULL), NOVA_OK);
    f->a = auth_with(9);
    nova_arena_init(&f->ar, 4096);
    new_tenant(f, &f->t);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    nova_arena_free(&f->ar);
    nova_auth_free(f->a);
    nova_store_close(f->s);
    if (f->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
        assert_int_equal(system(cmd), 0);
    }
    free(f);
    return 0;
}

/* As the platform: tampering played by an attacker with database access. */
static void exec_sql(fx *f, const char *sql)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s%s", g_pg_url ? "SET nova.tenant_id = '*'; " : "", sql);
    assert_int_equal(f->s->drv->exec(f->s, buf), NOVA_OK);
}

static const char email[] = "ada.lovelace@example.org";

static nova_sealed_t seal(fx *f, nova_auth_t *a, const char *tenant, const char *region,
                          const char *context, const char *text)
{
    nova_sealed_t v;
    assert_int_equal(
        nova_field_seal(a, f->s, &f->ar, tenant, region, context, text, strlen(text), &v), NOVA_OK);
    return v;
}

/* NOVA_OK and the value equal to text, or the status open returned. */
static nova_status open_is(fx *f, nova_auth_t *a, const char *tenant, const char *region,
                           const char *context, const nova_sealed_t *v, const char *text)
{
    nova_plain_t *p = NULL;
    nova_status st = nova_field_open(a, f->s, tenant, region, context, v, &p);
    if (st == NOVA_OK) {
        assert_true(nova_plain_equal(p, text, strlen(text)));
        nova_plain_free(p);
    } else {
        assert_null(p);
    }
    return st;
}

static size_t audit_count(fx *f, const char *tenant, const char *action)
{
    nova_audit_query_t q = {.tenant_id = tenant, .action = action, .limit = 100};
    nova_audit_record_t *rs;
    size_t n = 0;
    assert_int_equal(nova_store_audit_list(f->s, &f->ar, &q, &rs, &n), NOVA_OK);
    return n;
}

/* The envelope on its own: bound to region, tenant and version; another master key fails. */
static void t_envelope(void **state)
{
    (void)state;
    uint8_t m1[32], m2[32], dk[32], out[32];
    memset(m1, 1, 32);
    memset(m2, 2, 32);
    assert_int_equal(nova_random_bytes(dk, 32), NOVA_OK);
    nova_envelope_t *e1, *e1b, *e2;
    assert_int_equal(nova_envelope_derived_new(m1, &e1), NOVA_OK);
    assert_int_equal(nova_envelope_derived_new(m1, &e1b), NOVA_OK);
    assert_int_equal(nova_envelope_derived_new(m2, &e2), NOVA_OK);
    assert_string_equal(nova_envelope_name(e1), "derived-v1");
    nova_buf_t w;
    nova_buf_init(&w);
    assert_int_equal(nova_envelope_wrap(e1, "KE", "ten_a", 3, dk, &w), NOVA_OK);
    const uint8_t *wb = (const uint8_t *)w.data;
    assert_int_equal(nova_envelope_unwrap(e1b, "KE", "ten_a", 3, wb, w.len, out), NOVA_OK);
    assert_memory_equal(out, dk, 32);
    assert_int_equal(nova_envelope_unwrap(e1, "NG", "ten_a", 3, wb, w.len, out), NOVA_UNAUTHORIZED);
    assert_int_equal(nova_envelope_unwrap(e1, "KE", "ten_b", 3, wb, w.len, out), NOVA_UNAUTHORIZED);
    assert_int_equal(nova_envelope_unwrap(e1, "KE", "ten_a", 4, wb, w.len, out), NOVA_UNAUTHORIZED);
    assert_int_equal(nova_envelope_unwrap(e2, "KE", "ten_a", 3, wb, w.len, out), NOVA_UNAUTHORIZED);
    for (size_t i = 0; i < 32; i++)
        assert_int_equal(out[i], 0); /* a failed unwrap leaves nothing behind */
    w.data[w.len / 2] ^= 1;
    assert_int_equal(nova_envelope_unwrap(e1, "KE", "ten_a", 3, wb, w.len, out), NOVA_UNAUTHORIZED);
    /* '|' separates the associated data: no part may hold one. */
    assert_int_equal(nova_envelope_wrap(e1, "KE", "ten|a", 1, dk, &w), NOVA_INVALID);
    assert_int_equal(nova_envelope_wrap(e1, "K|E", "ten_a", 1, dk, &w), NOVA_INVALID);
    assert_int_equal(nova_envelope_wrap(e1, "KE", "ten_a", 0, dk, &w), NOVA_INVALID);
    assert_false(nova_envelope_region_valid("K"));
    assert_false(nova_envelope_region_valid("*"));
    assert_false(nova_envelope_region_valid("abcdefghijklmnopq"));
    assert_true(nova_envelope_region_valid("eu-west-1"));
    nova_buf_free(&w);
    nova_envelope_free(e1);
    nova_envelope_free(e1b);
    nova_envelope_free(e2);
    nova_envelope_free(NULL);
}

/* Seal and open; altered bytes, another tenant, region, context or version are refused. */
static void t_round_trip_and_refusals(void **state)
{
    fx *f = *state;
    nova_sealed_t v = seal(f, f->a, f->t.id, "KE", "person.email", email);
    assert_int_equal(v.version, 1);
    assert_true(v.len == strlen(email) + 28);
    assert_null(memmem(v.ct, v.len, email, strlen(email)));
    assert_int_equal(open_is(f, f->a, f->t.id, "KE", "person.email", &v, email), NOVA_OK);
    /* The empty value seals too. */
    nova_sealed_t e = seal(f, f->a, f->t.id, "KE", "person.email", "");
    assert_int_equal(open_is(f, f->a, f->t.id, "KE", "person.email", &e, ""), NOVA_OK);

    /* Tampering: every byte of the nonce, ciphertext and tag is covered. */
    uint8_t *c = nova_arena_alloc(&f->ar, v.len);
    for (size_t i = 0; i < v.len; i += 7) {
        memcpy(c, v.ct, v.len);
        c[i] ^= 0x40;
        nova_sealed_t t = {v.version, c, v.len};
        assert_int_equal(open_is(f, f->a, f->t.id, "KE", "person.email", &t, email),
                         NOVA_UNAUTHORIZED);
    }
    nova_sealed_t shortv = {v.version, v.ct, 10};
    assert_int_equal(open_is(f, f->a, f->t.id, "KE", "person.email", &shortv, email),
                     NOVA_UNAUTHORIZED);

    /* Another context (column). */
    assert_int_equal(open_is(f, f->a, f->t.id, "KE", "person.phone", &v, email), NOVA_UNAUTHORIZED);
    /* Another tenant: with a key of its own (refused by the key and the associated data) and
     * without one. */
    nova_tenant_t other, third;
    new_tenant(f, &other);
    new_tenant(f, &third);
    (void)seal(f, f->a, other.id, "KE", "person.email", "someone else");
    assert_int_equal(open_is(f, f->a, other.id, "KE", "person.email", &v, email),
                     NOVA_UNAUTHORIZED);
    assert_int_equal(open_is(f, f->a, third.id, "KE", "person.email", &v, email), NOVA_NOT_FOUND);
    /* Another region: with and without a key there. */
    assert_int_equal(open_is(f, f->a, f->t.id, "NG", "person.email", &v, email), NOVA_NOT_FOUND);
    (void)seal(f, f->a, f->t.id, "NG", "person.email", "a value in NG");
    assert_int_equal(open_is(f, f->a, f->t.id, "NG", "person.email", &v, email), NOVA_UNAUTHORIZED);
    /* Another version of the same (tenant, region). */
    assert_int_equal(nova_datakey_rotate(f->a, f->s, &f->ar, &actor, f->t.id, "KE", NULL), NOVA_OK);
    nova_sealed_t v2 = {2, v.ct, v.len};
    assert_int_equal(open_is(f, f->a, f->t.id, "KE", "person.email", &v2, email),
                     NOVA_UNAUTHORIZED);
    nova_sealed_t v9 = {9, v.ct, v.len};
    assert_int_equal(open_is(f, f->a, f->t.id, "KE", "person.email", &v9, email), NOVA_NOT_FOUND);

    /* Bad arguments. */
    nova_sealed_t x;
    assert_int_equal(nova_field_seal(f->a, f->s, &f->ar, f->t.id, "*", "c", "x", 1, &x),
                     NOVA_INVALID);
    assert_int_equal(nova_field_seal(f->a, f->s, &f->ar, f->t.id, "KE", "", "x", 1, &x),
                     NOVA_INVALID);
    assert_int_equal(nova_field_seal(f->a, f->s, &f->ar, "ten_nobody", "KE", "c", "x", 1, &x),
                     NOVA_NOT_FOUND);

    /* One BLOB for a column. */
    nova_buf_t b;
    nova_buf_init(&b);
    assert_int_equal(nova_sealed_encode(&v, &b), NOVA_OK);
    nova_sealed_t d;
    assert_int_equal(nova_sealed_decode(b.data, b.len, &d), NOVA_OK);
    assert_int_equal(d.version, 1);
    assert_int_equal(open_is(f, f->a, f->t.id, "KE", "person.email", &d, email), NOVA_OK);
    assert_int_equal(nova_sealed_decode(b.data, 8, &d), NOVA_INVALID);
    memset(b.data, 0, 8);
    assert_int_equal(nova_sealed_decode(b.data, b.len, &d), NOVA_INVALID);
    nova_buf_free(&b);
}

/* Rotation: new writes use the newest version, everything sealed before still opens, on this
 * instance and on a fresh one; rows and audit entries say what happened. */
static void t_rotation(void **state)
{
    fx *f = *state;
    nova_sealed_t v1 = seal(f, f->a, f->t.id, "KE", "person.name", "Grace Hopper");
    assert_int_equal(v1.version, 1);
    assert_int_equal(audit_count(f, f->t.id, "datakey.create"), 1);
    nova_datakey_row_t k;
    assert_int_equal(nova_datakey_rotate(f->a, f->s, &f->ar, &actor, f->t.id, "KE", &k), NOVA_OK);
    assert_int_equal(k.version, 2);
    assert_string_equal(k.region, "KE");
    assert_string_equal(k.envelope, "derived-v1");
    nova_sealed_t v2 = seal(f, f->a, f->t.id, "KE", "person.name", "Katherine Johnson");
    assert_int_equal(v2.version, 2);
    assert_int_equal(nova_datakey_rotate(f->a, f->s, &f->ar, &actor, f->t.id, "KE", &k), NOVA_OK);
    assert_int_equal(k.version, 3);
    nova_sealed_t v3 = seal(f, f->a, f->t.id, "KE", "person.name", "Dorothy Vaughan");
    assert_int_equal(v3.version, 3);
    assert_int_equal(audit_count(f, f->t.id, "datakey.rotate"), 2);

    /* A second instance with the same master key (nothing cached) opens all three. */
    nova_auth_t *b = auth_with(9);
    assert_int_equal(open_is(f, b, f->t.id, "KE", "person.name", &v1, "Grace Hopper"), NOVA_OK);
    assert_int_equal(open_is(f, b, f->t.id, "KE", "person.name", &v2, "Katherine Johnson"),
                     NOVA_OK);
    assert_int_equal(open_is(f, b, f->t.id, "KE", "person.name", &v3, "Dorothy Vaughan"), NOVA_OK);
    /* and seals with the newest. */
    nova_sealed_t vb = seal(f, b, f->t.id, "KE", "person.name", "Mary Jackson");
    assert_int_equal(vb.version, 3);
    assert_int_equal(open_is(f, f->a, f->t.id, "KE", "person.name", &vb, "Mary Jackson"), NOVA_OK);
    nova_auth_free(b);

    /* Another master key unwraps nothing, and does not seal under a key it cannot read. */
    nova_auth_t *c = auth_with(7);
    assert_int_equal(open_is(f, c, f->t.id, "KE", "person.name", &v1, "Grace Hopper"),
                     NOVA_UNAUTHORIZED);
    nova_sealed_t x;
    assert_int_equal(nova_field_seal(c, f->s, &f->ar, f->t.id, "KE", "person.name", "x", 1, &x),
                     NOVA_UNAUTHORIZED);
    nova_auth_free(c);

    nova_datakey_row_t *ks;
    size_t n = 0;
    assert_int_equal(nova_datakey_list(f->a, f->s, &f->ar, f->t.id, &ks, &n), NOVA_OK);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ks[i].version, (int64_t)i + 1);
        assert_null(ks[i].wrapped);
        if (i < 2)
            assert_true(ks[i].retired_at > 0);
        else
            assert_int_equal(ks[i].retired_at, 0);
    }
    assert_int_equal(nova_datakey_rotate(f->a, f->s, &f->ar, &actor, "ten_nobody", "KE", NULL),
                     NOVA_NOT_FOUND);
    assert_int_equal(nova_datakey_rotate(f->a, f->s, &f->ar, &actor, f->t.id, "K", NULL),
                     NOVA_INVALID);
}

/* An attacker with the database: a wrapped key moved to another region, or copied to another
 * tenant, does not unwrap there. */
static void t_store_tamper(void **state)
{
    fx *f = *state;
    nova_sealed_t v = seal(f, f->a, f->t.id, "KE", "person.email", email);
    nova_tenant_t other;
    new_tenant(f, &other);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "UPDATE tenant_data_keys SET region = 'EU' WHERE tenant_id = '%s' AND region = 'KE'",
             f->t.id);
    exec_sql(f, sql);
    snprintf(sql, sizeof(sql),
             "INSERT INTO tenant_data_keys (tenant_id, region, version, envelope, wrapped_key, "
             "created_at, retired_at) SELECT '%s', 'KE', version, envelope, wrapped_key, "
             "created_at, 0 FROM tenant_data_keys WHERE tenant_id = '%s'",
             other.id, f->t.id);
    exec_sql(f, sql);
    nova_auth_t *b = auth_with(9); /* nothing cached */
    assert_int_equal(open_is(f, b, f->t.id, "EU", "person.email", &v, email), NOVA_UNAUTHORIZED);
    assert_int_equal(open_is(f, b, other.id, "KE", "person.email", &v, email), NOVA_UNAUTHORIZED);
    nova_auth_free(b);
    /* The instance that had the key cached still opens its own value where it was sealed. */
    assert_int_equal(open_is(f, f->a, f->t.id, "KE", "person.email", &v, email), NOVA_OK);
}

/* PostgreSQL: row-level security hides a tenant's data keys from every other tenant, even
 * from SQL that asks for them by id. */
static void t_rls(void **state)
{
    fx *f = *state;
    if (!g_pg_url)
        skip();
    (void)seal(f, f->a, f->t.id, "KE", "person.email", email);
    nova_tenant_t other;
    new_tenant(f, &other);
    static const nova_sql_t q = {-1, "test count",
                                 "SELECT count(*) FROM tenant_data_keys WHERE tenant_id = ?", NULL};
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(f->t.id)};
    int64_t n = -1;
    assert_int_equal(nova_store_query_int(f->s, &q, f->t.id, p, 1, &n), NOVA_OK);
    assert_int_equal(n, 1);
    assert_int_equal(nova_store_query_int(f->s, &q, other.id, p, 1, &n), NOVA_OK);
    assert_int_equal(n, 0);
}

typedef struct racer {
    fx *f;
    nova_store_t *s;
    const char *tenant;
    nova_status st;
    int64_t version;
} racer_t;

static void *race(void *p)
{
    racer_t *r = p;
    nova_arena_t ar;
    nova_sealed_t v;
    nova_arena_init(&ar, 1024);
    r->st = nova_field_seal(r->f->a, r->s, &ar, r->tenant, "GH", "c", "value", 5, &v);
    r->version = v.version;
    nova_arena_free(&ar);
    return NULL;
}

/* Threads sealing a tenant's first value at once agree on one version 1. */
static void t_first_seal_race(void **state)
{
    fx *f = *state;
    enum { N = 4 };
    pthread_t th[N];
    racer_t r[N];
    char err[256];
    for (int i = 0; i < N; i++) {
        r[i] = (racer_t){.f = f, .tenant = f->t.id};
        assert_int_equal(nova_store_open(f->url, &r[i].s, err, sizeof(err)), NOVA_OK);
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].st, NOVA_OK);
        assert_int_equal(r[i].version, 1);
        nova_store_close(r[i].s);
    }
    nova_datakey_row_t *ks;
    size_t n = 0;
    assert_int_equal(nova_datakey_list(f->a, f->s, &f->ar, f->t.id, &ks, &n), NOVA_OK);
    assert_int_equal(n, 1);
    assert_int_equal(audit_count(f, f->t.id, "datakey.create"), 1);
}

/* The plaintext type: no char* view, zeroed and unregistered on free, and while it lives the
 * logger withholds every line that holds it (raw or JSON-escaped). */
_Static_assert(_Generic(nova_plain_bytes(NULL, &(size_t){0}), const uint8_t * : 1, default : 0),
               "a decrypted value has no char* view");
_Static_assert(_Generic(((nova_sealed_t){0}).ct, const uint8_t * : 1, default : 0),
               "a sealed value has no char* view");

static char *log_of(int fd)
{
    static char buf[8192];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    assert_true(n >= 0);
    buf[n] = '\0';
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    return buf;
}

static void t_shield_logger(void **state)
{
    fx *f = *state;
    char path[] = "/tmp/nova-datakey-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    nova_log_set_fd(fd);

    const char *quoted = "O\"Brien <x@y>";
    nova_sealed_t v = seal(f, f->a, f->t.id, "KE", "person.email", email);
    nova_sealed_t q = seal(f, f->a, f->t.id, "KE", "person.name", quoted);
    nova_plain_t *p, *pq;
    assert_int_equal(nova_field_open(f->a, f->s, f->t.id, "KE", "person.email", &v, &p), NOVA_OK);
    assert_int_equal(nova_field_open(f->a, f->s, f->t.id, "KE", "person.name", &q, &pq), NOVA_OK);
    size_t n;
    const uint8_t *bytes = nova_plain_bytes(p, &n);
    assert_int_equal(n, strlen(email));
    assert_memory_equal(bytes, email, n);
    uint64_t withheld = nova_shield_withheld();
    size_t live = nova_shield_live();
    assert_true(live >= 2);

    /* A careless line: the value copied into a message or a field. */
    nova_log_info("sending mail to %.*s", (int)n, (const char *)bytes);
    char *line = log_of(fd);
    assert_null(strstr(line, email));
    assert_non_null(strstr(line, "log line withheld"));
    assert_non_null(strstr(line, "\"level\":\"info\""));
    nova_log_json(NOVA_LOG_WARN, "lookup", "\"email\":\"ada.lovelace@example.org\"");
    line = log_of(fd);
    assert_null(strstr(line, email));
    assert_non_null(strstr(line, "log line withheld"));
    /* The escaped form is caught too. */
    nova_log_info("name %s", quoted);
    line = log_of(fd);
    assert_null(strstr(line, "Brien"));
    assert_non_null(strstr(line, "log line withheld"));
    assert_int_equal(nova_shield_withheld(), withheld + 3);
    /* Lines without it pass. */
    nova_log_info("sent one mail");
    line = log_of(fd);
    assert_non_null(strstr(line, "sent one mail"));

    nova_plain_free(p);
    nova_plain_free(pq);
    nova_plain_free(NULL);
    assert_int_equal(nova_shield_live(), live - 2);
    /* Once freed the value is no longer shielded (nor held): the same text is just text. */
    nova_log_info("sending mail to %s", email);
    line = log_of(fd);
    assert_non_null(strstr(line, email));
    nova_log_set_fd(2);
    close(fd);
}

int main(void)
{
    const char *pg = getenv("NOVA_TEST_PG_URL");
    g_pg_url = pg && *pg ? pg : NULL;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_envelope),
        cmocka_unit_test_setup_teardown(t_round_trip_and_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(t_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(t_store_tamper, setup, teardown),
        cmocka_unit_test_setup_teardown(t_rls, setup, teardown),
        cmocka_unit_test_setup_teardown(t_first_seal_race, setup, teardown),
        cmocka_unit_test_setup_teardown(t_shield_logger, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
