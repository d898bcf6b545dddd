/*
 * security_test.c: tenant security settings: validation (each bad value named), the IP and
 * region rules, and the per-process cache on a real store (SQLite in a temp file) and the
 * in-process control plane: served from the cache while the version flag stands, re-read
 * from the store once the flag moves.
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

#include <jansson.h>

#include "nova/audit_store.h"
#include "nova/auth.h"
#include "nova/security.h"
#include "nova/security_store.h"

static nova_status parse(const char *text, nova_security_settings_t *out, const char **why)
{
    json_t *o = json_loads(text, 0, NULL);
    assert_non_null(o);
    nova_status st = nova_security_from_json(o, out, why);
    json_decref(o);
    return st;
}

static void test_validation(void **state)
{
    (void)state;
    nova_security_settings_t s;
    const char *why = NULL;
    assert_int_equal(parse("{}", &s, &why), NOVA_OK);
    assert_false(s.require_dpop);
    assert_int_equal(s.session_timeout_minutes, 1440);
    assert_int_equal(s.n_ranges, 0);
    assert_int_equal(parse("{\"mfa_required_for_all_users\": true, \"session_timeout_minutes\": "
                           "5, \"allowed_ip_ranges\": [\"196.201.0.0/16\", \"2001:db8::/32\"], "
                           "\"resident_regions\": [\"KE\", \"UG\"], \"require_dpop\": true, "
                           "\"require_mtls_for_m2m\": true}",
                           &s, &why),
                     NOVA_OK);
    assert_true(s.mfa_required_for_all_users && s.require_dpop && s.require_mtls_for_m2m);
    assert_int_equal(s.session_timeout_minutes, 5);
    assert_int_equal(s.n_ranges, 2);
    assert_string_equal(s.range_text[1], "2001:db8::/32");
    assert_int_equal(s.n_regions, 2);
    assert_string_equal(s.regions[1], "UG");

    static const struct {
        const char *body, *field;
    } bad[] = {
        {"{\"mfa_required_for_all_users\": 1}", "mfa_required_for_all_users:"},
        {"{\"session_timeout_minutes\": 4}", "session_timeout_minutes:"},
        {"{\"session_timeout_minutes\": 1441}", "session_timeout_minutes:"},
        {"{\"session_timeout_minutes\": 30.0}", "session_timeout_minutes:"},
        {"{\"allowed_ip_ranges\": \"10.0.0.0/8\"}", "allowed_ip_ranges:"},
        {"{\"allowed_ip_ranges\": [\"10.0.0.1/8\"]}", "allowed_ip_ranges:"},
        {"{\"allowed_ip_ranges\": [\"10.0.0.0/8\", \"10.0.0.0/8\"]}", "allowed_ip_ranges:"},
        {"{\"allowed_ip_ranges\": [\"::/129\"]}", "allowed_ip_ranges:"},
        {"{\"resident_regions\": [\"ke\"]}", "resident_regions:"},
        {"{\"resident_regions\": [\"*\"]}", "resident_regions:"},
        {"{\"resident_regions\": [\"ABCDEFGHI\"]}", "resident_regions:"},
        {"{\"require_dpop\": \"true\"}", "require_dpop:"},
        {"{\"require_mtls_for_m2m\": null}", "require_mtls_for_m2m:"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        assert_int_equal(parse(bad[i].body, &s, &why), NOVA_INVALID);
        assert_non_null(why);
        assert_int_equal(strncmp(why, bad[i].field, strlen(bad[i].field)), 0);
    }
    /* 33 ranges: one too many. */
    char big[2048] = "{\"allowed_ip_ranges\": [";
    for (int i = 0; i < 33; i++)
        snprintf(big + strlen(big), sizeof(big) - strlen(big), "%s\"10.%d.0.0/16\"", i ? "," : "",
                 i);
    strcat(big, "]}");
    assert_int_equal(parse(big, &s, &why), NOVA_INVALID);
}

static void test_rules(void **state)
{
    (void)state;
    nova_security_settings_t s;
    const char *why = NULL;
    nova_security_defaults(&s);
    assert_true(nova_security_ip_allowed(&s, "203.0.113.5"));
    assert_true(nova_security_region_allowed(&s, NULL));
    assert_int_equal(parse("{\"allowed_ip_ranges\": [\"196.201.0.0/16\", \"2001:db8::/32\"], "
                           "\"resident_regions\": [\"KE\"]}",
                           &s, &why),
                     NOVA_OK);
    assert_true(nova_security_ip_allowed(&s, "196.201.9.9"));
    assert_true(nova_security_ip_allowed(&s, "2001:db8::1"));
    assert_false(nova_security_ip_allowed(&s, "196.202.0.1"));
    assert_false(nova_security_ip_allowed(&s, "::1"));
    assert_false(nova_security_ip_allowed(&s, NULL));
    assert_true(nova_security_region_allowed(&s, "KE"));
    assert_false(nova_security_region_allowed(&s, "NG"));
    assert_false(nova_security_region_allowed(&s, ""));
    assert_false(nova_security_region_allowed(&s, NULL));
    /* The JSON the store keeps reads back to the same settings. */
    json_t *o = nova_security_to_json(&s);
    nova_security_settings_t back;
    assert_int_equal(nova_security_from_json(o, &back, &why), NOVA_OK);
    json_decref(o);
    assert_memory_equal(&s, &back, sizeof(s));
}

static void test_cache(void **state)
{
    (void)state;
    char dir[] = "/tmp/nova-security-test-XXXXXX", url[128], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(url, sizeof(url), "sqlite:%s/nova.db", dir);
    nova_store_t *s = NULL;
    assert_int_equal(nova_store_open(url, &s, err, sizeof(err)), NOVA_OK);
    assert_int_equal(nova_store_migrate(s, NULL, NULL), NOVA_OK);
    nova_auth_config_t cfg = {.issuer = "https://nova.test",
                              .audience = "nova-api",
                              .token_ttl = 300,
                              .alg = NOVA_JWS_EDDSA};
    memset(cfg.master_key, 3, 32);
    nova_auth_t *a = NULL;
    assert_int_equal(nova_auth_new(&cfg, &a), NOVA_OK);
    nova_kv_t *kv = NULL;
    assert_int_equal(nova_kv_open(NULL, NULL, &kv, err, sizeof(err)), NOVA_OK);
    nova_security_cache_t *c = NULL;
    assert_int_equal(nova_security_cache_new(&c), NOVA_OK);
    nova_arena_t ar;
    nova_arena_init(&ar, 4096);
    nova_audit_actor_t by = {.id = "test", .request_id = "req_test"};
    nova_tenant_t t;
    assert_int_equal(nova_auth_tenant_create(a, s, &ar, &by, "sec", &t), NOVA_OK);

    nova_security_settings_t got, want;
    int64_t v = -1;
    const char *why = NULL;
    assert_int_equal(nova_security_get(c, kv, s, t.id, &got, &v), NOVA_OK);
    assert_int_equal(v, 0);
    assert_false(got.require_dpop);
    assert_int_equal(parse("{\"require_dpop\": true}", &want, &why), NOVA_OK);
    assert_int_equal(nova_security_put(c, kv, s, &ar, &by, t.id, &want, &v), NOVA_OK);
    assert_int_equal(v, 1);
    assert_int_equal(nova_security_get(c, kv, s, t.id, &got, &v), NOVA_OK);
    assert_int_equal(v, 1);
    assert_true(got.require_dpop);
    char *flag = NULL;
    char name[128];
    snprintf(name, sizeof(name), "security:%s", t.id);
    assert_int_equal(nova_kv_flag_get(kv, name, &ar, &flag), NOVA_OK);
    assert_string_equal(flag, "1");

    /* Another novad's change: the row moves to version 2 behind this cache's back. While the
     * flag says 1 the cache answers (no store read); once the flag says 2 the store is read. */
    nova_audit_entry_t ae;
    assert_int_equal(
        nova_audit_entry_make(&ae, &ar, &by, t.id, "tenant_security.update", "tenant", t.id, NULL),
        NOVA_OK);
    assert_int_equal(nova_store_security_put(s, t.id, "{\"require_dpop\":false}", 1000, &ae, &v),
                     NOVA_OK);
    assert_int_equal(v, 2);
    assert_int_equal(nova_security_get(c, kv, s, t.id, &got, &v), NOVA_OK);
    assert_int_equal(v, 1);
    assert_true(got.require_dpop);
    assert_int_equal(nova_kv_flag_set(kv, name, "2"), NOVA_OK);
    assert_int_equal(nova_security_get(c, kv, s, t.id, &got, &v), NOVA_OK);
    assert_int_equal(v, 2);
    assert_false(got.require_dpop);

    /* The row and its audit entry are one transaction: an unknown tenant changes nothing. */
    assert_int_equal(nova_audit_entry_make(&ae, &ar, &by, "ten_nosuch", "tenant_security.update",
                                           "tenant", "ten_nosuch", NULL),
                     NOVA_OK);
    assert_int_equal(nova_store_security_put(s, "ten_nosuch", "{}", 1000, &ae, &v), NOVA_INVALID);
    int64_t rows = -1;
    assert_int_equal(nova_store_audit_rows(s, "ten_nosuch", &rows), NOVA_OK);
    assert_int_equal(rows, 0);
    assert_int_equal(nova_security_get(c, kv, s, "bad tenant", &got, &v), NOVA_INVALID);

    nova_arena_free(&ar);
    nova_security_cache_free(c);
    nova_kv_close(kv);
    nova_auth_free(a);
    nova_store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
