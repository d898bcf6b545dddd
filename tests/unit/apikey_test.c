/*
 * apikey_test.c: API keys (src/auth/apikeys.c) without a server: the canonical string and
 * HMAC against a vector computed with openssl (docs/API.md's example), the IMF-fixdate
 * parser, header checks, CIDR matching for IPv4 and IPv6, the lifecycle on a SQLite store
 * (sealed secret, rotation overlap, revocation), the nonce cache and per-minute budget on the
 * in-process control plane, and the daily amount budget the ledger will spend from.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/auth/apikeys.c"
#include "nova/audit_store.h"

static const nova_audit_actor_t actor = {.id = "test", .request_id = "req_test"};

/* docs/API.md, "Signed requests": the same inputs, the same signature. */
static void test_canonical_and_mac(void **state)
{
    (void)state;
    nova_buf_t b;
    nova_buf_init(&b);
    const char *body = "{\"purpose\":\"payouts\",\"scopes\":[\"clients:read\"]}";
    assert_int_equal(nova_apikey_canonical("POST", "/v1/api-keys", body, strlen(body),
                                           "Sun, 06 Nov 1994 08:49:37 GMT", "n0nce-0123456789ab",
                                           &b),
                     NOVA_OK);
    char hex[65];
    uint8_t d[32];
    nova_sha256(body, strlen(body), d);
    nova_hex_encode(d, 32, hex);
    char want[256];
    snprintf(want, sizeof(want),
             "POST\n/v1/api-keys\n%s\nSun, 06 Nov 1994 08:49:37 GMT\nn0nce-0123456789ab", hex);
    assert_string_equal(b.data, want);
    uint8_t mac[32];
    char sig[44];
    const char *secret = "aks_0000000000000000000000000000000000000000000";
    nova_apikey_mac(secret, strlen(secret), b.data, b.len, mac);
    nova_b64url_encode(mac, 32, sig);
    assert_string_equal(sig, "NE_vwi9bN1L--IeCy9UUcJIVoPTwDRC-rG5LTWPNtFU");
    assert_string_equal(hex, "21f9a5a98acb314fee6421c3cdfd0316a4fd084109b2befc3c87811777efac69");
    /* A query is part of the target; an empty body hashes as the empty string. */
    nova_buf_reset(&b);
    assert_int_equal(nova_apikey_canonical("GET", "/v1/audit?limit=2", NULL, 0,
                                           "Sun, 06 Nov 1994 08:49:37 GMT", "n0nce-0123456789ab",
                                           &b),
                     NOVA_OK);
    nova_apikey_mac(secret, strlen(secret), b.data, b.len, mac);
    nova_b64url_encode(mac, 32, sig);
    assert_string_equal(sig, "goO7pnaZMHsEOoi1poqguKGZmpX6eG_sUWKnv7MTHgQ");
    /* An empty body hashes as the empty string. */
    nova_buf_reset(&b);
    assert_int_equal(nova_apikey_canonical("GET", "/v1/me", NULL, 0, "d", "n", &b), NOVA_OK);
    assert_string_equal(
        b.data,
        "GET\n/v1/me\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\nd\nn");
    nova_buf_free(&b);
}

static void test_dates(void **state)
{
    (void)state;
    int64_t t = 0;
    assert_int_equal(nova_apikey_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t), NOVA_OK);
    assert_int_equal(t, 784111777);
    char out[30];
    nova_apikey_date_format(784111777, out);
    assert_string_equal(out, "Sun, 06 Nov 1994 08:49:37 GMT");
    nova_apikey_date_format(1767225600, out);
    assert_int_equal(nova_apikey_date_parse(out, &t), NOVA_OK);
    assert_int_equal(t, 1767225600);
    const char *bad[] = {
        "Mon, 06 Nov 1994 08:49:37 GMT",  /* wrong weekday */
        "Sun, 6 Nov 1994 08:49:37 GMT",   /* not fixed width */
        "Sunday, 06-Nov-94 08:49:37 GMT", /* RFC 850 form */
        "Sun Nov  6 08:49:37 1994",       /* asctime form */
        "Sun, 06 Nov 1994 08:49:37 UTC",  /* zone */
        "Thu, 31 Feb 2026 08:49:37 GMT",  /* no such day */
        "Sun, 06 Nov 1994 24:49:37 GMT",  "Sun, 06 Nov 1994 08:49:60 GMT",
        "hu, 29 Feb 2024 23:59:59 GMT",   "Sun, 06 Xyz 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT ", "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        assert_int_equal(nova_apikey_date_parse(bad[i], &t), NOVA_INVALID);
    assert_int_equal(nova_apikey_date_parse(NULL, &t), NOVA_INVALID);
}

static void test_headers(void **state)
{
    (void)state;
    nova_apikey_parsed_t p;
    const char *why = NULL;
    nova_apikey_headers_t h = {.key_id = "ak_live_AAAAAAAAAAAAAAAAAAAAAA",
                               .signature = "JLcQs5ZjWrIarfVDi0NVqis_WJO0uhubKLhcc9zya-s",
                               .nonce = "n0nce-0123456789ab",
                               .date = "Sun, 06 Nov 1994 08:49:37 GMT"};
    assert_int_equal(nova_apikey_headers_parse(&h, &p, &why), NOVA_OK);
    assert_string_equal(p.key_id, h.key_id);
    assert_string_equal(p.nonce, h.nonce);
    assert_int_equal(p.date, 784111777);
    nova_apikey_headers_t b = h;
    b.key_id = "ak_prod_AAAAAAAAAAAAAAAAAAAAAA";
    assert_int_equal(nova_apikey_headers_parse(&b, &p, &why), NOVA_INVALID);
    b = h;
    b.signature = "JLcQs5ZjWrIarfVDi0NVqis_WJO0uhubKLhcc9zya-s=";
    assert_int_equal(nova_apikey_headers_parse(&b, &p, &why), NOVA_INVALID);
    b = h;
    b.signature = "JLcQs5ZjWrIarfVDi0NVqis/WJO0uhubKLhcc9zya+s";
    assert_int_equal(nova_apikey_headers_parse(&b, &p, &why), NOVA_INVALID);
    b = h;
    b.nonce = "short";
    assert_int_equal(nova_apikey_headers_parse(&b, &p, &why), NOVA_INVALID);
    b = h;
    b.nonce = "has space 0123456789";
    assert_int_equal(nova_apikey_headers_parse(&b, &p, &why), NOVA_INVALID);
    b = h;
    b.date = NULL;
    assert_int_equal(nova_apikey_headers_parse(&b, &p, &why), NOVA_INVALID);
    assert_non_null(why);
}

static bool in(const char *cidr, const char *ip)
{
    nova_cidr_t c;
    assert_int_equal(nova_cidr_parse(cidr, strlen(cidr), &c), NOVA_OK);
    return nova_cidr_contains(&c, ip);
}

static void test_cidr(void **state)
{
    (void)state;
    assert_true(in("127.0.0.1/32", "127.0.0.1"));
    assert_false(in("127.0.0.1/32", "127.0.0.2"));
    assert_true(in("10.0.0.0/8", "10.255.1.2"));
    assert_false(in("10.0.0.0/8", "11.0.0.1"));
    assert_true(in("192.168.4.0/22", "192.168.7.255"));
    assert_false(in("192.168.4.0/22", "192.168.8.0"));
    assert_true(in("0.0.0.0/0", "203.0.113.9"));
    assert_true(in("203.0.113.7", "203.0.113.7"));
    assert_true(in("2001:db8::/32", "2001:db8:ffff::1"));
    assert_false(in("2001:db8::/32", "2001:db9::1"));
    assert_true(in("2001:db8:abcd:12::/63", "2001:db8:abcd:13::5"));
    assert_false(in("2001:db8:abcd:12::/63", "2001:db8:abcd:14::5"));
    assert_true(in("::1/128", "::1"));
    assert_true(in("::/0", "fe80::1"));
    /* Families never mix: an IPv4 network holds no IPv6 address and the reverse. */
    assert_false(in("0.0.0.0/0", "::1"));
    assert_false(in("::/0", "127.0.0.1"));
    assert_false(in("127.0.0.0/8", NULL));
    assert_false(in("127.0.0.0/8", "not an address"));
    const char *bad[] = {"10.0.0.1/8",     "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/08", "::1/129",
                         "2001:db8::1/32", "300.0.0.0/8", "10.0.0/8",  "x",           "",
                         "10.0.0.0/8/8"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        nova_cidr_t c;
        assert_int_equal(nova_cidr_parse(bad[i], strlen(bad[i]), &c), NOVA_INVALID);
    }
    assert_true(nova_cidr_list_contains("10.0.0.0/8 2001:db8::/32", "2001:db8::7"));
    assert_true(nova_cidr_list_contains("10.0.0.0/8 2001:db8::/32", "10.1.1.1"));
    assert_false(nova_cidr_list_contains("10.0.0.0/8 2001:db8::/32", "192.0.2.1"));
    assert_false(nova_cidr_list_contains("", "192.0.2.1"));
}

typedef struct fx {
    char dir[64];
    nova_store_t *s;
    nova_auth_t *a;
    nova_kv_t *kv;
    nova_arena_t ar;
    nova_tenant_t t;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    char err[256], url[128];
    snprintf(f->dir, sizeof(f->dir), "/tmp/nova-apikey-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(url, sizeof(url), "sqlite:%s/nova.db", f->dir);
    /* NOVA_TEST_PG_URL: the same cases on PostgreSQL (row-level security on), as store_test. */
    const char *pg = getenv("NOVA_TEST_PG_URL");
    if (pg && *pg)
        snprintf(url, sizeof(url), "%s", pg);
    assert_int_equal(nova_store_open(url, &f->s, err, sizeof(err)), NOVA_OK);
    assert_int_equal(nova_store_migrate(f->s, NULL, NULL), NOVA_OK);
    nova_auth_config_t cfg = {.issuer = "https://nova.test",
                              .audience = "nova-api",
                              .token_ttl = 300,
                              .alg = NOVA_JWS_EDDSA};
    memset(cfg.master_key, 9, 32);
    assert_int_equal(nova_auth_new(&cfg, &f->a), NOVA_OK);
    assert_int_equal(nova_kv_open(NULL, NULL, &f->kv, err, sizeof(err)), NOVA_OK);
    nova_arena_init(&f->ar, 4096);
    char name[48];
    /* unique: a PostgreSQL store is reused */
    assert_int_equal(nova_id_new("apikey-test", name, sizeof(name)), NOVA_OK);
    assert_int_equal(nova_auth_tenant_create(f->a, f->s, &f->ar, &actor, name, &f->t), NOVA_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char cmd[128];
    nova_arena_free(&f->ar);
    nova_kv_close(f->kv);
    nova_auth_free(f->a);
    nova_store_close(f->s);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static nova_apikey_t make(fx *f, const nova_apikey_spec_t *spec, const char **secret)
{
    nova_apikey_t k;
    const char *why = NULL;
    assert_int_equal(
        nova_auth_apikey_create(f->a, f->s, &f->ar, &actor, f->t.id, spec, &k, secret, &why),
        NOVA_OK);
    return k;
}

/* Signs a GET of target at now with secret, as a client would, into h. */
static void sign(const char *id, const char *secret, const char *target, int64_t now,
                 const char *nonce, nova_apikey_parsed_t *h, char date[30])
{
    nova_buf_t b;
    nova_buf_init(&b);
    memset(h, 0, sizeof(*h));
    snprintf(h->key_id, sizeof(h->key_id), "%s", id);
    snprintf(h->nonce, sizeof(h->nonce), "%s", nonce);
    nova_apikey_date_format(now, date);
    h->date_text = date;
    h->date = now;
    assert_int_equal(nova_apikey_canonical("GET", target, "", 0, date, nonce, &b), NOVA_OK);
    nova_apikey_mac(secret, strlen(secret), b.data, b.len, h->mac);
    nova_buf_free(&b);
}

static nova_status verify(fx *f, const char *id, const char *secret, int64_t now,
                          nova_apikey_fail *why)
{
    nova_apikey_parsed_t h;
    nova_apikey_t k;
    char date[30];
    sign(id, secret, "/v1/me", now, "nonce-0123456789abcdef", &h, date);
    nova_status st =
        nova_auth_apikey_precheck(f->a, f->s, &f->ar, &h, "127.0.0.1", now, 300, &k, why);
    if (st != NOVA_OK)
        return st;
    return nova_auth_apikey_verify(f->a, &k, &h, "GET", "/v1/me", "", 0, now, why);
}

static void test_lifecycle(void **state)
{
    fx *f = *state;
    const char *sec1, *sec2, *sec3, *why = NULL;
    nova_apikey_fail fail;
    int64_t now = nova_time_now();
    nova_apikey_spec_t spec = {.purpose = "payouts", .scopes = "clients:read"};
    nova_apikey_t k = make(f, &spec, &sec1);
    assert_int_equal(strlen(sec1), NOVA_APIKEY_SECRET_LEN);
    assert_int_equal(strncmp(k.id, "ak_live_", 8), 0);
    /* Stored sealed and hashed, never in clear. */
    nova_apikey_t row;
    assert_int_equal(nova_store_apikey_get(f->s, &f->ar, f->t.id, k.id, &row), NOVA_OK);
    assert_null(memmem(row.secret_enc, row.secret_enc_len, sec1 + 4, 20));
    assert_int_equal(strncmp(row.secret_hash, "$argon2id$", 10), 0);
    assert_int_equal(crypto_pwhash_str_verify(row.secret_hash, sec1, strlen(sec1)), 0);

    assert_int_equal(verify(f, k.id, sec1, now, &fail), NOVA_OK);
    assert_int_equal(verify(f, k.id, "aks_wrong", now, &fail), NOVA_UNAUTHORIZED);
    assert_int_equal(fail, NOVA_APIKEY_SIGNATURE);
    /* Skew both ways, against the clock the caller passes. */
    nova_apikey_parsed_t h;
    char date[30];
    sign(k.id, sec1, "/v1/me", now - 301, "nonce-0123456789abcdef", &h, date);
    assert_int_equal(
        nova_auth_apikey_precheck(f->a, f->s, &f->ar, &h, "127.0.0.1", now, 300, &row, &fail),
        NOVA_UNAUTHORIZED);
    assert_int_equal(fail, NOVA_APIKEY_SKEW);

    /* Rotation with an overlap: both secrets verify until it ends, then only the new one. */
    assert_int_equal(
        nova_auth_apikey_rotate(f->a, f->s, &f->ar, &actor, f->t.id, k.id, 600, &row, &sec2),
        NOVA_OK);
    assert_int_equal(row.version, 2);
    assert_string_not_equal(sec1, sec2);
    assert_int_equal(verify(f, k.id, sec1, now, &fail), NOVA_OK);
    assert_int_equal(verify(f, k.id, sec2, now, &fail), NOVA_OK);
    assert_int_equal(verify(f, k.id, sec1, now + 601, &fail), NOVA_UNAUTHORIZED);
    assert_int_equal(verify(f, k.id, sec2, now + 601, &fail), NOVA_OK);
    /* A second rotation drops the first secret at once. */
    assert_int_equal(
        nova_auth_apikey_rotate(f->a, f->s, &f->ar, &actor, f->t.id, k.id, 600, &row, &sec3),
        NOVA_OK);
    assert_int_equal(verify(f, k.id, sec1, now, &fail), NOVA_UNAUTHORIZED);
    assert_int_equal(verify(f, k.id, sec2, now, &fail), NOVA_OK);
    assert_int_equal(verify(f, k.id, sec3, now, &fail), NOVA_OK);

    /* Revoked: refused before any HMAC. */
    assert_int_equal(nova_auth_apikey_revoke(f->a, f->s, &f->ar, &actor, f->t.id, k.id), NOVA_OK);
    assert_int_equal(verify(f, k.id, sec3, now, &fail), NOVA_UNAUTHORIZED);
    assert_int_equal(fail, NOVA_APIKEY_REVOKED);
    assert_int_equal(nova_auth_apikey_revoke(f->a, f->s, &f->ar, &actor, f->t.id, k.id),
                     NOVA_NOT_FOUND);
    assert_int_equal(
        nova_auth_apikey_rotate(f->a, f->s, &f->ar, &actor, f->t.id, k.id, 600, &row, &sec3),
        NOVA_NOT_FOUND);

    /* Expiry and the allow-list. */
    const char *allow[] = {"127.0.0.1/32", "2001:db8::/32", NULL};
    nova_apikey_spec_t s2 = {.purpose = "pinned",
                             .scopes = "clients:read",
                             .ip_allowlist = allow,
                             .expires_at = now + 100,
                             .mode = "test"};
    nova_apikey_t k2 = make(f, &s2, &sec1);
    assert_string_equal(k2.ip_allowlist, "127.0.0.1/32 2001:db8::/32");
    assert_int_equal(strncmp(k2.id, "ak_test_", 8), 0);
    sign(k2.id, sec1, "/v1/me", now, "nonce-0123456789abcdef", &h, date);
    assert_int_equal(
        nova_auth_apikey_precheck(f->a, f->s, &f->ar, &h, "127.0.0.2", now, 300, &row, &fail),
        NOVA_FORBIDDEN);
    assert_int_equal(fail, NOVA_APIKEY_IP);
    assert_int_equal(
        nova_auth_apikey_precheck(f->a, f->s, &f->ar, &h, "2001:db8::9", now, 300, &row, &fail),
        NOVA_OK);
    assert_int_equal(
        nova_auth_apikey_precheck(f->a, f->s, &f->ar, &h, "127.0.0.1", now + 100, 300, &row, &fail),
        NOVA_UNAUTHORIZED);
    assert_int_equal(fail, NOVA_APIKEY_EXPIRED);

    /* Bad specs name their field. */
    const char *bad_allow[] = {"10.0.0.1/8", NULL};
    nova_apikey_spec_t bad[] = {
        {.purpose = "", .scopes = "clients:read"},
        {.purpose = "p", .scopes = "no:such"},
        {.purpose = "p", .scopes = "clients:read", .mode = "prod"},
        {.purpose = "p", .scopes = "clients:read", .ip_allowlist = bad_allow},
        {.purpose = "p", .scopes = "clients:read", .expires_at = now - 1},
        {.purpose = "p", .scopes = "clients:read", .budget_currency = "Kes"},
        {.purpose = "p", .scopes = "clients:read", .budget_currency = "KES", .budget_daily = -1},
        {.purpose = "p", .scopes = "clients:read", .rate_per_minute = -1},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        nova_apikey_t x;
        const char *sx;
        why = NULL;
        assert_int_equal(
            nova_auth_apikey_create(f->a, f->s, &f->ar, &actor, f->t.id, &bad[i], &x, &sx, &why),
            NOVA_INVALID);
        assert_non_null(why);
    }
}

/* A row sealed under another master key does not open: an internal error, never an allow. */
static void test_foreign_master_key(void **state)
{
    fx *f = *state;
    const char *sec;
    nova_apikey_fail fail;
    nova_apikey_spec_t spec = {.purpose = "p", .scopes = "clients:read"};
    nova_apikey_t k = make(f, &spec, &sec);
    nova_auth_config_t cfg = {.issuer = "https://nova.test",
                              .audience = "nova-api",
                              .token_ttl = 300,
                              .alg = NOVA_JWS_EDDSA};
    memset(cfg.master_key, 10, 32);
    nova_auth_t *other;
    assert_int_equal(nova_auth_new(&cfg, &other), NOVA_OK);
    nova_apikey_parsed_t h;
    nova_apikey_t row;
    char date[30];
    int64_t now = nova_time_now();
    sign(k.id, sec, "/v1/me", now, "nonce-0123456789abcdef", &h, date);
    assert_int_equal(
        nova_auth_apikey_precheck(other, f->s, &f->ar, &h, "127.0.0.1", now, 300, &row, &fail),
        NOVA_OK);
    assert_int_equal(nova_auth_apikey_verify(other, &row, &h, "GET", "/v1/me", "", 0, now, &fail),
                     NOVA_INTERNAL);
    nova_auth_free(other);
}

static void test_nonce_and_rate(void **state)
{
    fx *f = *state;
    const char *sec;
    nova_apikey_fail fail;
    int64_t retry;
    nova_apikey_spec_t spec = {.purpose = "p", .scopes = "clients:read", .rate_per_minute = 2};
    nova_apikey_t k = make(f, &spec, &sec);
    nova_apikey_parsed_t h;
    char date[30];
    sign(k.id, sec, "/v1/me", nova_time_now(), "nonce-aaaaaaaaaaaaaaaa", &h, date);
    assert_int_equal(nova_auth_apikey_admit(f->kv, &k, &h, 300, &fail, &retry), NOVA_OK);
    assert_int_equal(nova_auth_apikey_admit(f->kv, &k, &h, 300, &fail, &retry), NOVA_UNAUTHORIZED);
    assert_int_equal(fail, NOVA_APIKEY_REPLAY);
    snprintf(h.nonce, sizeof(h.nonce), "nonce-bbbbbbbbbbbbbbbb");
    assert_int_equal(nova_auth_apikey_admit(f->kv, &k, &h, 300, &fail, &retry), NOVA_OK);
    snprintf(h.nonce, sizeof(h.nonce), "nonce-cccccccccccccccc");
    assert_int_equal(nova_auth_apikey_admit(f->kv, &k, &h, 300, &fail, &retry), NOVA_FORBIDDEN);
    assert_int_equal(fail, NOVA_APIKEY_BUDGET);
    assert_true(retry >= 1 && retry <= 60);
}

static void test_budget(void **state)
{
    fx *f = *state;
    const char *sec;
    int64_t left = 0;
    int64_t now = 1767225600 + 3600; /* 2026-01-01T01:00:00Z */
    nova_apikey_spec_t spec = {.purpose = "disbursements",
                               .scopes = "clients:read",
                               .budget_daily = 1000,
                               .budget_currency = "KES"};
    nova_apikey_t k = make(f, &spec, &sec);
#define SPEND(cur, amt, when)                                                                      \
    nova_auth_apikey_budget_consume(f->a, f->s, &f->ar, &actor, f->t.id, k.id, cur, amt, when,     \
                                    &left)
    assert_int_equal(SPEND("KES", 600, now), NOVA_OK);
    assert_int_equal(left, 400);
    assert_int_equal(SPEND("KES", 401, now), NOVA_FORBIDDEN);
    assert_int_equal(left, 400); /* nothing was spent */
    assert_int_equal(SPEND("KES", 400, now), NOVA_OK);
    assert_int_equal(left, 0);
    assert_int_equal(SPEND("KES", 1, now), NOVA_FORBIDDEN);
    /* The next UTC day starts afresh. */
    assert_int_equal(SPEND("KES", 1000, now + 86400), NOVA_OK);
    assert_int_equal(left, 0);
    assert_int_equal(SPEND("UGX", 1, now + 2 * 86400), NOVA_INVALID);
    assert_int_equal(SPEND("KES", 0, now), NOVA_INVALID);
    assert_int_equal(SPEND("KES", -5, now), NOVA_INVALID);
    /* Each spend is in the tenant's audit chain. */
    nova_audit_query_t q = {.tenant_id = f->t.id, .action = "api_key.spend", .limit = 100};
    nova_audit_record_t *rows;
    size_t n;
    assert_int_equal(nova_store_audit_list(f->s, &f->ar, &q, &rows, &n), NOVA_OK);
    assert_int_equal(n, 3);
    /* A key without an amount budget spends freely; a revoked key not at all. */
    nova_apikey_spec_t free_spec = {.purpose = "p", .scopes = "clients:read"};
    nova_apikey_t k2 = make(f, &free_spec, &sec);
    assert_int_equal(nova_auth_apikey_budget_consume(f->a, f->s, &f->ar, &actor, f->t.id, k2.id,
                                                     "KES", 5, now, &left),
                     NOVA_OK);
    assert_int_equal(left, INT64_MAX);
    assert_int_equal(nova_auth_apikey_revoke(f->a, f->s, &f->ar, &actor, f->t.id, k.id), NOVA_OK);
    assert_int_equal(SPEND("KES", 1, now + 3 * 86400), NOVA_UNAUTHORIZED);
    assert_int_equal(nova_auth_apikey_budget_consume(f->a, f->s, &f->ar, &actor, f->t.id,
                                                     "ak_live_AAAAAAAAAAAAAAAAAAAAAA", "KES", 5,
                                                     now, &left),
                     NOVA_NOT_FOUND);
#undef SPEND
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_and_mac),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_cidr),
        cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_master_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nonce_and_rate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budget, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
