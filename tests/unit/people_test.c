/* people_test: the people module. Factors: RFC 6238 Appendix B vectors for the three
 * algorithms, the ±1 step window and single use, base32 round trips and refusals, the otpauth
 * URI, recovery codes, the password policy and argon2id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/people/internal.h"
#include "nova/people.h"
#include <jansson.h>

static const uint8_t K20[] = "12345678901234567890";
static const uint8_t K32[] = "12345678901234567890123456789012";
static const uint8_t K64[] = "1234567890123456789012345678901234567890123456789012345678901234";

static void test_totp_rfc6238_vectors(void **state)
{
    (void)state;
    static const struct {
        int64_t t;
        uint32_t sha1, sha256, sha512;
    } v[] = {
        {59, 94287082, 46119246, 90693936},         {1111111109, 7081804, 68084774, 25091201},
        {1111111111, 14050471, 67062674, 99943326}, {1234567890, 89005924, 91819424, 93441116},
        {2000000000, 69279037, 90698825, 38618901}, {20000000000, 65353130, 77737706, 47863826},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint64_t c = (uint64_t)(v[i].t / 30);
        assert_int_equal(nova_totp_code(NOVA_TOTP_SHA1, K20, 20, c, 8), v[i].sha1);
        assert_int_equal(nova_totp_code(NOVA_TOTP_SHA256, K32, 32, c, 8), v[i].sha256);
        assert_int_equal(nova_totp_code(NOVA_TOTP_SHA512, K64, 64, c, 8), v[i].sha512);
    }
}

static void code_at(char out[12], int64_t t, unsigned digits)
{
    snprintf(out, 12, "%0*u", (int)digits,
             nova_totp_code(NOVA_TOTP_SHA1, K20, 20, (uint64_t)(t / 30), digits));
}

static void test_totp_window_and_reuse(void **state)
{
    (void)state;
    char c[12];
    int64_t now = 1700000000, step = 0;
    code_at(c, now, 6);
    assert_int_equal(nova_totp_verify(NOVA_TOTP_SHA1, K20, 20, 6, c, now, 0, &step), NOVA_OK);
    assert_int_equal(step, now / 30);
    /* The same code again, once its step is recorded as used: refused. */
    assert_int_equal(nova_totp_verify(NOVA_TOTP_SHA1, K20, 20, 6, c, now, step, &step),
                     NOVA_UNAUTHORIZED);
    /* One step early or late is accepted, two are not. */
    code_at(c, now - 30, 6);
    assert_int_equal(nova_totp_verify(NOVA_TOTP_SHA1, K20, 20, 6, c, now, 0, &step), NOVA_OK);
    assert_int_equal(step, now / 30 - 1);
    code_at(c, now + 30, 6);
    assert_int_equal(nova_totp_verify(NOVA_TOTP_SHA1, K20, 20, 6, c, now, 0, &step), NOVA_OK);
    code_at(c, now - 60, 6);
    assert_int_equal(nova_totp_verify(NOVA_TOTP_SHA1, K20, 20, 6, c, now, 0, &step),
                     NOVA_UNAUTHORIZED);
    code_at(c, now + 60, 6);
    assert_int_equal(nova_totp_verify(NOVA_TOTP_SHA1, K20, 20, 6, c, now, 0, &step),
                     NOVA_UNAUTHORIZED);
    /* A code from the previous step after the current one was used: refused (steps only move
     * forward). */
    code_at(c, now - 30, 6);
    assert_int_equal(nova_totp_verify(NOVA_TOTP_SHA1, K20, 20, 6, c, now, now / 30, &step),
                     NOVA_UNAUTHORIZED);
    /* Shapes. */
    assert_int_equal(nova_totp_verify(NOVA_TOTP_SHA1, K20, 20, 6, "12345", now, 0, &step),
                     NOVA_UNAUTHORIZED);
    assert_int_equal(nova_totp_verify(NOVA_TOTP_SHA1, K20, 20, 6, "12345a", now, 0, &step),
                     NOVA_UNAUTHORIZED);
    assert_int_equal(nova_totp_verify(NOVA_TOTP_SHA1, K20, 20, 6, "1234567", now, 0, &step),
                     NOVA_UNAUTHORIZED);
    assert_int_equal(nova_totp_verify(NOVA_TOTP_SHA1, K20, 20, 6, NULL, now, 0, &step),
                     NOVA_UNAUTHORIZED);
}

static void test_base32(void **state)
{
    (void)state;
    /* RFC 4648 §10 vectors, padding dropped. */
    static const struct {
        const char *in, *out;
    } v[] = {{"", ""},
             {"f", "MY"},
             {"fo", "MZXQ"},
             {"foo", "MZXW6"},
             {"foob", "MZXW6YQ"},
             {"fooba", "MZXW6YTB"},
             {"foobar", "MZXW6YTBOI"}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char out[32];
        uint8_t back[32];
        size_t n;
        nova_base32_encode((const uint8_t *)v[i].in, strlen(v[i].in), out);
        assert_string_equal(out, v[i].out);
        assert_int_equal(nova_base32_decode(out, strlen(out), back, sizeof(back), &n), NOVA_OK);
        assert_int_equal(n, strlen(v[i].in));
        assert_memory_equal(back, v[i].in, n);
    }
    uint8_t b[32];
    size_t n;
    assert_int_equal(nova_base32_decode("mzxw6ytboi", 10, b, sizeof(b), &n), NOVA_OK);
    assert_memory_equal(b, "foobar", 6);
    assert_int_equal(nova_base32_decode("MZXW6=", 6, b, sizeof(b), &n), NOVA_INVALID);
    assert_int_equal(nova_base32_decode("MZ1W", 4, b, sizeof(b), &n), NOVA_INVALID);
    assert_int_equal(nova_base32_decode("M", 1, b, sizeof(b), &n), NOVA_INVALID);
    assert_int_equal(nova_base32_decode("MZ", 2, b, sizeof(b), &n), NOVA_INVALID);  /* bits */
    assert_int_equal(nova_base32_decode("MZXW6YTBOI", 10, b, 3, &n), NOVA_INVALID); /* cap */
}

static void test_totp_uri(void **state)
{
    (void)state;
    nova_arena_t ar;
    nova_arena_init(&ar, 1024);
    char *u =
        nova_totp_uri(&ar, "Acme Pay", "ada@example.com", NOVA_TOTP_SHA256, 6, "JBSWY3DPEHPK3PXP");
    assert_string_equal(u, "otpauth://totp/Acme%20Pay:ada%40example.com?secret=JBSWY3DPEHPK3PXP"
                           "&issuer=Acme%20Pay&algorithm=SHA256&digits=6&period=30");
    nova_totp_alg a;
    assert_int_equal(nova_totp_alg_parse("SHA512", &a), NOVA_OK);
    assert_int_equal(a, NOVA_TOTP_SHA512);
    assert_int_equal(nova_totp_alg_parse("MD5", &a), NOVA_INVALID);
    nova_arena_free(&ar);
}

static void test_recovery_codes(void **state)
{
    (void)state;
    char codes[NOVA_RECOVERY_CODES][NOVA_RECOVERY_CODE_LEN], h1[65], h2[65], h3[65];
    assert_int_equal(nova_recovery_generate(codes), NOVA_OK);
    for (int i = 0; i < NOVA_RECOVERY_CODES; i++) {
        assert_int_equal(strlen(codes[i]), 19);
        assert_int_equal(codes[i][4], '-');
        for (int j = 0; j < i; j++)
            assert_string_not_equal(codes[i], codes[j]);
    }
    assert_int_equal(nova_recovery_hash("usr_1", codes[0], h1), NOVA_OK);
    /* Case, dashes and spaces do not matter; the user does. */
    char typed[40];
    snprintf(typed, sizeof(typed), "%.4s %.4s%.4s-%.4s", codes[0], codes[0] + 5, codes[0] + 10,
             codes[0] + 15);
    for (char *p = typed; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 32);
    assert_int_equal(nova_recovery_hash("usr_1", typed, h2), NOVA_OK);
    assert_string_equal(h1, h2);
    assert_int_equal(nova_recovery_hash("usr_2", codes[0], h3), NOVA_OK);
    assert_string_not_equal(h1, h3);
    assert_int_equal(nova_recovery_hash("usr_1", "abcd-efgh", h3), NOVA_INVALID);
    assert_int_equal(nova_recovery_hash("usr_1", "abcd-efgh-ijkl-mnop-q", h3), NOVA_INVALID);
    assert_int_equal(nova_recovery_hash("usr_1", "abcd-efgh-ijkl-mn0p", h3), NOVA_INVALID);
}

static void test_password_policy(void **state)
{
    (void)state;
    const char *why;
    static const char *const bad[] = {"short",          "elevenchars",     "password1234",
                                      "PASSWORD1234",   "qwertyuiopas",    "aaaaaaaaaaaaaaaa",
                                      "abcdefghijklmn", "123456789012345", "zyxwvutsrqpo",
                                      "asdfghjklasd",   "987654321098",    NULL};
    for (size_t i = 0; bad[i]; i++) {
        assert_int_equal(nova_password_check(bad[i], strlen(bad[i]), NULL, &why), NOVA_INVALID);
        assert_non_null(why);
        assert_non_null(strstr(why, "password"));
    }
    const char *good = "correct horse battery";
    assert_int_equal(nova_password_check(good, strlen(good), "ada", &why), NOVA_OK);
    assert_int_equal(nova_password_check("my name is adalovelace", 22, "adalovelace", &why),
                     NOVA_INVALID);
    assert_int_equal(nova_password_check("tab\there and more", 17, NULL, &why), NOVA_INVALID);
    assert_int_equal(nova_password_check("\xff\xfe not utf-8 at all", 20, NULL, &why),
                     NOVA_INVALID);
    /* Twelve code points of two bytes each pass; 129 do not. */
    char u[300] = "";
    for (int i = 0; i < 12; i++)
        strcat(u, i % 2 ? "\xc3\xa9" : "\xc3\xb1");
    assert_int_equal(nova_password_check(u, strlen(u), NULL, &why), NOVA_OK);
    char longpw[200];
    for (int i = 0; i < 129; i++)
        longpw[i] = (char)('a' + (i * 7) % 26);
    assert_int_equal(nova_password_check(longpw, 129, NULL, &why), NOVA_INVALID);
    assert_int_equal(nova_password_check(longpw, 128, NULL, &why), NOVA_OK);
}

static void test_password_hash(void **state)
{
    (void)state;
    char h[NOVA_PASSWORD_HASH_MAX];
    const char *pw = "correct horse battery";
    assert_int_equal(nova_password_hash(pw, strlen(pw), h), NOVA_OK);
    assert_memory_equal(h, "$argon2id$", 10);
    assert_true(nova_password_verify(h, pw, strlen(pw)));
    assert_false(nova_password_verify(h, "correct horse batterz", strlen(pw)));
    assert_false(nova_password_verify(NULL, pw, strlen(pw)));
    assert_false(nova_password_verify("", pw, strlen(pw)));
    char h2[NOVA_PASSWORD_HASH_MAX];
    assert_int_equal(nova_password_hash(pw, strlen(pw), h2), NOVA_OK);
    assert_string_not_equal(h, h2); /* salted */
}

static void test_cae_settings_and_distance(void **state)
{
    (void)state;
    nova_people_settings_t set;
    const char *why;
    json_error_t e;
    json_t *o = json_loads("{\"ip_drift\":\"revoke\",\"impossible_travel\":\"step_up\","
                           "\"max_speed_kmh\":800,\"locations\":[{\"cidr\":\"41.90.0.0/16\","
                           "\"lat\":-1.2921,\"lon\":36.8219,\"name\":\"Nairobi\"},{\"cidr\":"
                           "\"2c0f:f248::/32\",\"lat\":6.5244,\"lon\":3.3792}]}",
                           0, &e);
    assert_int_equal(nova_people_settings_from_json(o, &set, &why), NOVA_OK);
    json_decref(o);
    assert_int_equal(set.ip_drift, NOVA_CAE_REVOKE);
    assert_int_equal(set.device_change, NOVA_CAE_NONE);
    assert_int_equal(set.impossible_travel, NOVA_CAE_STEP_UP);
    assert_int_equal(set.max_speed_kmh, 800);
    double lat, lon;
    assert_true(people_cae_locate(&set, "41.90.12.7", &lat, &lon));
    assert_true(lat < -1.2 && lon > 36.8);
    assert_true(people_cae_locate(&set, "2c0f:f248:1::5", &lat, &lon));
    assert_false(people_cae_locate(&set, "10.0.0.1", &lat, &lon));
    /* Nairobi to Lagos: about 3,800 km (great circle). */
    double km = people_cae_km(-1.2921, 36.8219, 6.5244, 3.3792);
    assert_true(km > 3750 && km < 3900);
    assert_true(people_cae_km(10, 20, 10, 20) < 1e-9);
    /* The round trip writes every member back. */
    json_t *back = nova_people_settings_to_json(&set);
    assert_string_equal(json_string_value(json_object_get(back, "ip_drift")), "revoke");
    assert_int_equal(json_array_size(json_object_get(back, "locations")), 2);
    json_decref(back);
    static const char *const bad[] = {
        "{\"ip_drift\":\"block\"}",
        "{\"max_speed_kmh\":10}",
        "{\"locations\":[{\"cidr\":\"x\",\"lat\":0,\"lon\":0}]}",
        "{\"locations\":[{\"cidr\":\"10.0.0.0/8\",\"lat\":0,\"lon\":181}]}",
        "{\"other\":1}",
        NULL};
    for (size_t i = 0; bad[i]; i++) {
        o = json_loads(bad[i], 0, &e);
        assert_int_equal(nova_people_settings_from_json(o, &set, &why), NOVA_INVALID);
        assert_non_null(why);
        json_decref(o);
    }
}

/* SCIM filters (RFC 7644 §3.4.2.2): precedence, case rules, value paths, presence, and a
 * refusal with its reason for each malformed shape. */
static bool scim_match(const char *filter, bool want_ok)
{
    nova_arena_t ar;
    nova_arena_init(&ar, 1024);
    const nova_scim_filter_t *f;
    const char *why = NULL;
    nova_status st = nova_scim_filter_parse(&ar, filter, strlen(filter), &f, &why);
    assert_int_equal(st, want_ok ? NOVA_OK : NOVA_INVALID);
    bool m = false;
    if (st == NOVA_OK) {
        const nova_scim_attr_t attrs[] = {
            {.path = "id", .str = "usr_1", .case_exact = true},
            {.path = "username", .str = "Ada@Example.com"},
            {.path = "emails.value", .str = "Ada@Example.com"},
            {.path = "emails.type", .str = "work"},
            {.path = "externalid", .str = "E-7", .case_exact = true},
            {.path = "displayname", .str = NULL},
            {.path = "active", .is_bool = true, .b = true},
        };
        m = nova_scim_filter_match(f, attrs, sizeof(attrs) / sizeof(attrs[0]));
    } else {
        assert_non_null(why);
        assert_memory_equal(why, "filter: ", 8);
    }
    nova_arena_free(&ar);
    return m;
}

static void test_scim_filter(void **state)
{
    (void)state;
    static const struct {
        const char *f;
        bool match;
    } ok[] = {
        {"userName eq \"ada@example.com\"", true}, /* userName: case-insensitive */
        {"externalId eq \"e-7\"", false},          /* externalId: case-exact */
        {"externalId EQ \"E-7\"", true},           /* operators: any case */
        {"userName sw \"ada\" and userName ew \".COM\"", true},
        {"userName co \"xyz\" or active eq true", true},
        {"userName co \"xyz\" or active eq true and id eq \"nope\"", false}, /* and binds first */
        {"(userName co \"xyz\" or active eq true) and id eq \"usr_1\"", true},
        {"not (active eq true)", false},
        {"displayName pr", false},
        {"externalId pr", true},
        {"displayName eq null", true},
        {"externalId ne \"E-7\"", false},
        {"emails[type eq \"work\" and value co \"@example\"]", true},
        {"emails[type eq \"home\"]", false},
        {"urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"ADA@example.com\"", true},
        {"userName gt \"a\" and userName lt \"b\"", true},
        {"userName eq \"Ada\\u0040Example.com\"", true},
        {"title eq \"x\"", false}, /* an attribute the user lacks */
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        print_message("%s\n", ok[i].f);
        assert_int_equal(scim_match(ok[i].f, true), ok[i].match);
    }
    static const char *const bad[] = {"",
                                      "userName",
                                      "userName eq",
                                      "userName zz \"a\"",
                                      "userName eq \"a",
                                      "(userName eq \"a\"",
                                      "userName eq \"a\" junk",
                                      "userName eq \"a\" and",
                                      "emails[value eq \"a\"",
                                      "emails[type[value eq \"a\"]]",
                                      "active gt true",
                                      "userName eq \"\\q\"",
                                      "userName eq \"\\u00e9\"",
                                      "not userName eq \"a\"",
                                      "1abc eq \"a\"",
                                      "userName eq 12x",
                                      NULL};
    for (size_t i = 0; bad[i]; i++) {
        print_message("%s\n", bad[i]);
        (void)scim_match(bad[i], false);
    }
    /* The indexable shape, and shapes that are not it. */
    nova_arena_t ar;
    nova_arena_init(&ar, 1024);
    const nova_scim_filter_t *f;
    const char *why, *v = NULL;
    assert_int_equal(nova_scim_filter_parse(&ar, "USERNAME eq \"a@b.c\"", 19, &f, &why), NOVA_OK);
    assert_true(nova_scim_filter_is_eq(f, "username", &v));
    assert_string_equal(v, "a@b.c");
    assert_false(nova_scim_filter_is_eq(f, "externalid", &v));
    static const char *const not_eq [] = {"userName ne \"a\"", "userName eq \"a\" or id pr",
                                          "not (userName eq \"a\")", "userName eq null", NULL};
    for (size_t i = 0; not_eq [i]; i++) {
        assert_int_equal(nova_scim_filter_parse(&ar, not_eq [i], strlen(not_eq [i]), &f, &why),
                         NOVA_OK);
        assert_false(nova_scim_filter_is_eq(f, "username", &v));
    }
    assert_false(nova_scim_filter_is_eq(NULL, "username", &v));
    nova_arena_free(&ar);
    /* Depth and size limits. */
    char deep[64];
    memset(deep, '(', 20);
    strcpy(deep + 20, "id pr");
    memset(deep + 25, ')', 20);
    deep[45] = '\0';
    (void)scim_match(deep, false);
    nova_buf_t many;
    nova_buf_init(&many);
    for (int i = 0; i < 300; i++)
        (void)nova_buf_printf(&many, "%sid pr", i ? " or " : "");
    (void)scim_match(many.data, false);
    nova_buf_free(&many);
}

/* PATCH paths (RFC 7644 §3.5.2): attribute, value filter, sub-attribute; the filter selects
 * members as nova_scim_filter_match does. */
static void test_scim_path(void **state)
{
    (void)state;
    nova_arena_t ar;
    nova_arena_init(&ar, 1024);
    nova_scim_path_t p;
    const char *why;
    static const struct {
        const char *text, *attr, *sub;
        bool filter;
    } good[] = {
        {"members", "members", NULL, false},
        {"displayName", "displayname", NULL, false},
        {"urn:ietf:params:scim:schemas:core:2.0:Group:members", "members", NULL, false},
        {"name.givenName", "name", "givenname", false},
        {"members[value eq \"usr_1\"]", "members", NULL, true},
        {"members[ value eq \"usr_1\" or type eq \"User\" ]", "members", NULL, true},
        {"members[value eq \"usr_1\"].display", "members", "display", true},
        {"emails[type eq \"work\" and value co \"@\"].value", "emails", "value", true},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        print_message("%s\n", good[i].text);
        assert_int_equal(nova_scim_path_parse(&ar, good[i].text, strlen(good[i].text), &p, &why),
                         NOVA_OK);
        assert_string_equal(p.attr, good[i].attr);
        if (good[i].sub)
            assert_string_equal(p.sub, good[i].sub);
        else
            assert_null(p.sub);
        assert_int_equal(p.filter != NULL, good[i].filter);
    }
    const char *sel = "members[value eq \"usr_1\"]";
    assert_int_equal(nova_scim_path_parse(&ar, sel, strlen(sel), &p, &why), NOVA_OK);
    nova_scim_attr_t one[] = {{.path = "members.value", .str = "usr_1", .case_exact = true}};
    nova_scim_attr_t two[] = {{.path = "members.value", .str = "USR_1", .case_exact = true}};
    assert_true(nova_scim_filter_match(p.filter, one, 1));
    assert_false(nova_scim_filter_match(p.filter, two, 1));
    static const char *const bad[] = {"",
                                      " members",
                                      "members[",
                                      "members[value eq]",
                                      "members[value eq \"x\"",
                                      "members[value eq \"x\"]x",
                                      "members[value eq \"x\"].",
                                      "members[value eq \"x\"].1a",
                                      "members[a[b eq \"x\"]]",
                                      "members.value[value eq \"x\"]",
                                      "a.b.c",
                                      "members.",
                                      "1members",
                                      "members value",
                                      "urn:x:",
                                      NULL};
    for (size_t i = 0; bad[i]; i++) {
        print_message("bad %s\n", bad[i]);
        assert_int_equal(nova_scim_path_parse(&ar, bad[i], strlen(bad[i]), &p, &why), NOVA_INVALID);
        assert_non_null(why);
    }
    assert_int_equal(nova_scim_path_parse(&ar, "members\0x", 9, &p, &why), NOVA_INVALID);
    nova_arena_free(&ar);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_totp_rfc6238_vectors),
        cmocka_unit_test(test_totp_window_and_reuse),
        cmocka_unit_test(test_base32),
        cmocka_unit_test(test_totp_uri),
        cmocka_unit_test(test_recovery_codes),
        cmocka_unit_test(test_password_policy),
        cmocka_unit_test(test_password_hash),
        cmocka_unit_test(test_cae_settings_and_distance),
        cmocka_unit_test(test_scim_filter),
        cmocka_unit_test(test_scim_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
