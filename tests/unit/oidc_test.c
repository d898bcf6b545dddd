/* oidc_test: the pure half of OIDC federation (src/people/oidc_token.c, oidc.c's role
 * mapping). The ID token's claim checks one claim at a time (iss, aud, azp, nonce, exp, iat,
 * sub), a token signed with a generated ES256 key verified through a parsed JWKS (and an
 * unknown kid not found), the discovery document, token responses, URLs, and group->role
 * mappings with their time boxes; acr/amr and the AAL they earn; the fetch guard's address
 * classifier. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "nova/crypto.h"
#include "nova/oidc.h"

#define NOW 1800000000
#define ISS "https://idp.example"
#define CID "nova-rp"

static const nova_oidc_expect_t E = {
    .issuer = ISS, .client_id = CID, .nonce = "n-0S6_WzA2Mj", .group_claim = "groups", .now = NOW};

/* A JSON object of base's n members with one replaced (or removed: value NULL), added when
 * base lacks it (caller frees). */
static char *object_with(const char *const (*base)[2], size_t n, const char *member,
                         const char *value)
{
    nova_buf_t b;
    nova_buf_init(&b);
    nova_buf_append_cstr(&b, "{");
    bool first = true, replaced = false;
    for (size_t i = 0; i < n; i++) {
        const char *v = base[i][1];
        if (member && strcmp(member, base[i][0]) == 0) {
            replaced = true;
            if (value == NULL)
                continue;
            v = value;
        }
        nova_buf_printf(&b, "%s\"%s\":%s", first ? "" : ",", base[i][0], v);
        first = false;
    }
    if (member && !replaced && value)
        nova_buf_printf(&b, ",\"%s\":%s", member, value);
    nova_buf_append_cstr(&b, "}");
    char *s = strndup((const char *)b.data, b.len);
    nova_buf_free(&b);
    return s;
}

/* Claims with one member replaced (or removed: value NULL). */
static char *claims_with(const char *member, const char *value)
{
    static const char *const base[][2] = {{"iss", "\"" ISS "\""},
                                          {"aud", "\"" CID "\""},
                                          {"sub", "\"248289761001\""},
                                          {"nonce", "\"n-0S6_WzA2Mj\""},
                                          {"exp", "1800000300"},
                                          {"iat", "1800000000"},
                                          {"email", "\"ada@idp.example\""},
                                          {"email_verified", "true"},
                                          {"groups", "[\"eng\",\"ops\"]"}};
    return object_with(base, sizeof(base) / sizeof(base[0]), member, value);
}

static nova_status check(const char *member, const char *value, const char **why)
{
    nova_arena_t ar;
    nova_arena_init(&ar, 1024);
    char *c = claims_with(member, value);
    nova_oidc_identity_t id;
    nova_status st = nova_oidc_claims_check(&ar, c, strlen(c), &E, &id, why);
    free(c);
    nova_arena_free(&ar);
    return st;
}

static void test_claims_valid(void **state)
{
    (void)state;
    nova_arena_t ar;
    nova_arena_init(&ar, 1024);
    char *c = claims_with(NULL, NULL);
    nova_oidc_identity_t id;
    const char *why = NULL;
    assert_int_equal(nova_oidc_claims_check(&ar, c, strlen(c), &E, &id, &why), NOVA_OK);
    assert_string_equal(id.sub, "248289761001");
    assert_string_equal(id.email, "ada@idp.example");
    assert_true(id.email_verified);
    assert_int_equal(id.ngroups, 2);
    assert_string_equal(id.groups[1], "ops");
    free(c);
    nova_arena_free(&ar);
}

static void test_claims_each_refused(void **state)
{
    (void)state;
    static const struct {
        const char *member, *value, *why_has;
    } bad[] = {
        {"iss", "\"https://idp.example/\"", "iss"}, /* compared exactly: no slash games */
        {"iss", NULL, "iss"},
        {"aud", "\"other-rp\"", "aud"},
        {"aud", "[\"other-rp\"]", "aud"},
        {"aud", "[\"other-rp\",\"" CID "\"]", "azp"}, /* several audiences need azp */
        {"aud", "42", "aud"},
        {"azp", "\"other-rp\"", "azp"},
        {"nonce", "\"n-other\"", "nonce"},
        {"nonce", NULL, "nonce"},
        {"exp", "1799999939", "exp"}, /* beyond the 60 s skew */
        {"exp", NULL, "exp"},
        {"exp", "\"1800000300\"", "exp"},
        {"iat", "1800000061", "iat"}, /* in the future beyond the skew */
        {"iat", "1799999399", "iat"}, /* older than NOVA_OIDC_MAX_AGE */
        {"iat", NULL, "iat"},
        {"sub", NULL, "sub"},
        {"sub", "\"\"", "sub"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *why = NULL;
        nova_status st = check(bad[i].member, bad[i].value, &why);
        if (st != NOVA_UNAUTHORIZED || why == NULL || strstr(why, bad[i].why_has) == NULL)
            fail_msg("case %zu (%s=%s): st %d why %s", i, bad[i].member,
                     bad[i].value ? bad[i].value : "absent", st, why ? why : "(null)");
    }
    /* A long sub. */
    char longsub[300];
    memset(longsub, 'a', sizeof(longsub));
    longsub[0] = '"';
    longsub[257] = '"';
    longsub[258] = '\0';
    const char *why = NULL;
    assert_int_equal(check("sub", longsub, &why), NOVA_UNAUTHORIZED);
}

static void test_claims_accepted_shapes(void **state)
{
    (void)state;
    const char *why = NULL;
    /* An array audience with azp; exp within the skew; a string group claim. */
    char *c = claims_with("aud", "[\"" CID "\",\"api\"]");
    char *with_azp = NULL;
    nova_arena_t ar;
    nova_arena_init(&ar, 1024);
    size_t n = strlen(c);
    with_azp = malloc(n + 32);
    memcpy(with_azp, c, n - 1);
    strcpy(with_azp + n - 1, ",\"azp\":\"" CID "\"}");
    nova_oidc_identity_t id;
    assert_int_equal(nova_oidc_claims_check(&ar, with_azp, strlen(with_azp), &E, &id, &why),
                     NOVA_OK);
    free(c);
    free(with_azp);
    assert_int_equal(check("exp", "1799999941", &why), NOVA_OK);
    c = claims_with("groups", "\"eng\"");
    assert_int_equal(nova_oidc_claims_check(&ar, c, strlen(c), &E, &id, &why), NOVA_OK);
    assert_int_equal(id.ngroups, 1);
    free(c);
    /* email_verified false: the identity says so (the flow refuses to provision from it). */
    c = claims_with("email_verified", "false");
    assert_int_equal(nova_oidc_claims_check(&ar, c, strlen(c), &E, &id, &why), NOVA_OK);
    assert_false(id.email_verified);
    free(c);
    c = claims_with("email_verified", "\"true\"");
    assert_int_equal(nova_oidc_claims_check(&ar, c, strlen(c), &E, &id, &why), NOVA_OK);
    assert_true(id.email_verified);
    free(c);
    /* Not an object. */
    assert_int_equal(nova_oidc_claims_check(&ar, "[1]", 3, &E, &id, &why), NOVA_UNAUTHORIZED);
    nova_arena_free(&ar);
}

static void test_signed_token_through_jwks(void **state)
{
    (void)state;
    nova_key_t *k = NULL, *other = NULL;
    assert_int_equal(nova_key_generate(NOVA_JWS_ES256, "kid-1", &k), NOVA_OK);
    assert_int_equal(nova_key_generate(NOVA_JWS_EDDSA, "kid-2", &other), NOVA_OK);
    nova_buf_t jwks;
    nova_buf_init(&jwks);
    /* An RSA key (skipped: Nova verifies ES256 and EdDSA) and a published private key
     * (skipped) beside the two public ones. */
    nova_buf_append_cstr(&jwks, "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\","
                                "\"kid\":\"rsa\"},");
    nova_key_public_jwk(k, &jwks);
    nova_buf_append_cstr(&jwks, ",");
    nova_key_public_jwk(other, &jwks);
    nova_buf_append_cstr(&jwks, "]}");
    nova_oidc_keyset_t ks;
    const char *why = NULL;
    assert_int_equal(nova_oidc_jwks_parse((const char *)jwks.data, jwks.len, &ks, &why), NOVA_OK);
    assert_int_equal(ks.n, 2);
    assert_null(nova_oidc_keyset_find(&ks, "rsa"));
    assert_null(nova_oidc_keyset_find(&ks, "kid-unknown"));
    assert_non_null(nova_oidc_keyset_find(&ks, "kid-2"));

    char *c = claims_with(NULL, NULL);
    nova_buf_t tok;
    nova_buf_init(&tok);
    assert_int_equal(nova_jws_sign(k, "JWT", c, strlen(c), &tok), NOVA_OK);
    nova_buf_append(&tok, "", 1);
    nova_jws_t jws;
    assert_int_equal(nova_jws_parse((const char *)tok.data, tok.len - 1, &jws), NOVA_OK);
    const nova_key_t *vk = nova_oidc_keyset_find(&ks, jws.kid);
    assert_non_null(vk);
    assert_int_equal(nova_jws_verify(&jws, vk), NOVA_OK);
    /* The other key of the set does not verify it. */
    assert_int_not_equal(nova_jws_verify(&jws, nova_oidc_keyset_find(&ks, "kid-2")), NOVA_OK);
    nova_arena_t ar;
    nova_arena_init(&ar, 1024);
    nova_oidc_identity_t id;
    assert_int_equal(nova_oidc_claims_check(&ar, jws.payload, jws.payload_len, &E, &id, &why),
                     NOVA_OK);
    nova_jws_clear(&jws);
    nova_arena_free(&ar);
    nova_oidc_keyset_clear(&ks);
    nova_buf_free(&tok);
    nova_buf_free(&jwks);
    free(c);
    nova_key_free(k);
    nova_key_free(other);

    /* Not a JWK Set. */
    assert_int_equal(nova_oidc_jwks_parse("{\"keys\":{}}", 11, &ks, &why), NOVA_INVALID);
    assert_int_equal(nova_oidc_jwks_parse("[]", 2, &ks, &why), NOVA_INVALID);
}

static void test_discovery(void **state)
{
    (void)state;
    nova_arena_t ar;
    nova_arena_init(&ar, 1024);
    nova_oidc_discovery_t d;
    const char *why = NULL;
    const char *good = "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\"" ISS "/auth\","
                       "\"token_endpoint\":\"" ISS "/token\",\"jwks_uri\":\"" ISS "/jwks\","
                       "\"code_challenge_methods_supported\":[\"plain\",\"S256\"]}";
    assert_int_equal(nova_oidc_discovery_parse(&ar, good, strlen(good), ISS, &d, &why), NOVA_OK);
    assert_string_equal(d.token_endpoint, ISS "/token");
    assert_true(d.s256);
    /* Another issuer (OIDC Discovery §4.3: must be identical). */
    assert_int_equal(
        nova_oidc_discovery_parse(&ar, good, strlen(good), "https://evil.example", &d, &why),
        NOVA_INVALID);
    assert_non_null(strstr(why, "issuer"));
    const char *plain = "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\"" ISS "/auth\","
                        "\"token_endpoint\":\"" ISS "/token\",\"jwks_uri\":\"" ISS "/jwks\","
                        "\"code_challenge_methods_supported\":[\"plain\"]}";
    assert_int_equal(nova_oidc_discovery_parse(&ar, plain, strlen(plain), ISS, &d, &why),
                     NOVA_INVALID);
    assert_non_null(strstr(why, "S256"));
    const char *http =
        "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\"" ISS "/auth\","
        "\"token_endpoint\":\"http://idp.example/token\",\"jwks_uri\":\"" ISS "/jwks\"}";
    assert_int_equal(nova_oidc_discovery_parse(&ar, http, strlen(http), ISS, &d, &why),
                     NOVA_INVALID);
    assert_int_equal(nova_oidc_discovery_parse(&ar, "{", 1, ISS, &d, &why), NOVA_INVALID);
    nova_arena_free(&ar);
}

static void test_token_response(void **state)
{
    (void)state;
    nova_arena_t ar;
    nova_arena_init(&ar, 1024);
    const char *it = NULL, *why = NULL;
    const char *ok = "{\"access_token\":\"x\",\"token_type\":\"bearer\",\"id_token\":\"a.b.c\"}";
    assert_int_equal(nova_oidc_token_response_parse(&ar, ok, strlen(ok), &it, &why), NOVA_OK);
    assert_string_equal(it, "a.b.c");
    const char *err = "{\"error\":\"invalid_grant\",\"error_description\":\"<script>\"}";
    assert_int_equal(nova_oidc_token_response_parse(&ar, err, strlen(err), &it, &why),
                     NOVA_UNAUTHORIZED);
    assert_null(strstr(why, "script"));
    const char *mac = "{\"token_type\":\"mac\",\"id_token\":\"a.b.c\"}";
    assert_int_equal(nova_oidc_token_response_parse(&ar, mac, strlen(mac), &it, &why),
                     NOVA_INVALID);
    const char *none = "{\"token_type\":\"Bearer\"}";
    assert_int_equal(nova_oidc_token_response_parse(&ar, none, strlen(none), &it, &why),
                     NOVA_INVALID);
    nova_arena_free(&ar);
}

static void test_urls(void **state)
{
    (void)state;
    assert_true(nova_oidc_url_ok("https://idp.example/a?b=c"));
    assert_true(nova_oidc_url_ok("http://127.0.0.1:8080/x"));
    assert_true(nova_oidc_url_ok("http://localhost:3000"));
    assert_true(nova_oidc_url_ok("http://[::1]:3000/"));
    assert_false(nova_oidc_url_ok("http://idp.example/"));
    assert_false(nova_oidc_url_ok("http://localhost.evil.example/"));
    assert_false(nova_oidc_url_ok("https://user@idp.example/"));
    assert_false(nova_oidc_url_ok("https://idp.example/#frag"));
    assert_false(nova_oidc_url_ok("javascript:alert(1)"));
    assert_false(nova_oidc_url_ok("https:// idp.example"));
    assert_false(nova_oidc_url_ok("https://"));
}

static void test_roles_for(void **state)
{
    (void)state;
    nova_arena_t ar;
    nova_arena_init(&ar, 1024);
    nova_oidc_idp_t idp = {.nmappings = 4,
                           .mappings = {{"eng", "engineer", 0},
                                        {"contractors", "contractor", NOW - 1},
                                        {"contractors", "vendor", NOW + 100},
                                        {"ops", "engineer", 0}}};
    const char *const g1[] = {"eng", "contractors", "ops"};
    assert_string_equal(nova_oidc_roles_for(&ar, &idp, g1, 3, NOW), "engineer vendor");
    /* After the vendor box ends too. */
    assert_string_equal(nova_oidc_roles_for(&ar, &idp, g1, 3, NOW + 100), "engineer");
    const char *const g2[] = {"sales"};
    assert_string_equal(nova_oidc_roles_for(&ar, &idp, g2, 1, NOW), "");
    nova_arena_free(&ar);
}

/* acr and amr read from the claims, and the AAL they earn (RFC 8176 values, or an acr the
 * tenant configured as multi-factor). */
static void test_acr_amr_aal(void **state)
{
    (void)state;
    static const char *const mfa_acr[] = {"urn:nova:mfa", "phr"};
    static const struct {
        const char *member, *value;
        int aal;
    } cases[] = {
        {NULL, NULL, 1},
        {"amr", "[\"pwd\"]", 1},
        {"amr", "[\"pwd\",\"otp\"]", 2},
        {"amr", "[\"mfa\"]", 2},
        {"amr", "[\"hwk\"]", 2},
        {"amr", "[\"swk\",\"pin\"]", 2},
        {"amr", "[\"MFA\"]", 1},        /* case matters: RFC 8176 values are lowercase */
        {"amr", "\"mfa\"", 1},          /* not an array: ignored */
        {"amr", "[1,\"sms\"]", 1},      /* sms is not among the strong ones */
        {"acr", "\"urn:nova:mfa\"", 2}, /* a configured acr */
        {"acr", "\"phr\"", 2},
        {"acr", "\"urn:other:mfa\"", 1},
        {"acr", "[\"phr\"]", 1}, /* acr is a string */
        {"acr", "\"0\"", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        nova_arena_t ar;
        nova_arena_init(&ar, 1024);
        char *c = claims_with(cases[i].member, cases[i].value);
        nova_oidc_identity_t id;
        const char *why = NULL;
        assert_int_equal(nova_oidc_claims_check(&ar, c, strlen(c), &E, &id, &why), NOVA_OK);
        int aal = nova_oidc_aal(&id, mfa_acr, 2);
        if (aal != cases[i].aal)
            fail_msg("case %zu (%s): aal %d, want %d", i, cases[i].value ? cases[i].value : "", aal,
                     cases[i].aal);
        /* without configured acr values an acr alone never raises the AAL */
        if (cases[i].member && strcmp(cases[i].member, "acr") == 0)
            assert_int_equal(nova_oidc_aal(&id, NULL, 0), 1);
        free(c);
        nova_arena_free(&ar);
    }
    nova_arena_t ar;
    nova_arena_init(&ar, 1024);
    char *c = claims_with("amr", "[\"pwd\",\"otp\"]");
    nova_oidc_identity_t id;
    const char *why = NULL;
    assert_int_equal(nova_oidc_claims_check(&ar, c, strlen(c), &E, &id, &why), NOVA_OK);
    assert_int_equal(id.namr, 2);
    assert_string_equal(id.amr[0], "pwd");
    assert_null(id.acr);
    free(c);
    nova_arena_free(&ar);
}

/* UserInfo (OIDC Core §5.3): its sub must be the ID token's; it fills only what the ID token
 * lacked. */
/* A signed UserInfo response's claims: the IdP's iss, an aud naming this client. */
static void test_userinfo_jwt_claims(void **state)
{
    (void)state;
    const char *iss = "https://idp.example", *cid = "nova-rp", *why = NULL;
    static const char *const ok[] = {
        "{\"iss\":\"https://idp.example\",\"aud\":\"nova-rp\",\"sub\":\"a\"}",
        "{\"iss\":\"https://idp.example\",\"aud\":[\"x\",\"nova-rp\"],\"sub\":\"a\"}",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        assert_int_equal(nova_oidc_userinfo_jwt_claims_check(ok[i], strlen(ok[i]), iss, cid, &why),
                         NOVA_OK);
    static const char *const bad[] = {
        "{\"iss\":\"https://evil.example\",\"aud\":\"nova-rp\"}",
        "{\"iss\":\"https://idp.example\",\"aud\":\"other-rp\"}",
        "{\"iss\":\"https://idp.example\",\"aud\":[\"other-rp\"]}",
        "{\"iss\":\"https://idp.example\"}",
        "{\"aud\":\"nova-rp\"}",
        "{\"iss\":\"https://idp.example\",\"aud\":\"nova-rp\",\"aud\":\"x\"}",
        "[\"https://idp.example\",\"nova-rp\"]",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        assert_int_equal(
            nova_oidc_userinfo_jwt_claims_check(bad[i], strlen(bad[i]), iss, cid, &why),
            NOVA_INVALID);
        assert_non_null(why);
    }
}

static void test_userinfo_merge(void **state)
{
    (void)state;
    nova_arena_t ar;
    nova_arena_init(&ar, 1024);
    nova_oidc_identity_t id;
    const char *why = NULL;
    /* an ID token with neither email nor groups */
    char *c = claims_with("groups", NULL);
    static const char em[] = ",\"email\":\"ada@idp.example\",\"email_verified\":true";
    char *at = strstr(c, em);
    assert_non_null(at);
    memmove(at, at + strlen(em), strlen(at + strlen(em)) + 1);
    assert_int_equal(nova_oidc_claims_check(&ar, c, strlen(c), &E, &id, &why), NOVA_OK);
    assert_null(id.email);
    assert_int_equal(id.ngroups, 0);
    const char *ui =
        "{\"sub\":\"248289761001\",\"email\":\"ui@idp.example\",\"email_verified\":true,"
        "\"name\":\"Ui\",\"groups\":[\"eng\",\"\",\"ops\"]}";
    assert_int_equal(nova_oidc_userinfo_merge(&ar, ui, strlen(ui), "groups", &id, &why), NOVA_OK);
    assert_string_equal(id.email, "ui@idp.example");
    assert_true(id.email_verified);
    assert_string_equal(id.name, "Ui");
    assert_int_equal(id.ngroups, 2);
    assert_string_equal(id.groups[1], "ops");
    /* what the ID token has wins */
    const char *ui2 = "{\"sub\":\"248289761001\",\"email\":\"evil@idp.example\","
                      "\"email_verified\":false,\"groups\":[\"admins\"]}";
    assert_int_equal(nova_oidc_userinfo_merge(&ar, ui2, strlen(ui2), "groups", &id, &why), NOVA_OK);
    assert_string_equal(id.email, "ui@idp.example");
    assert_true(id.email_verified);
    assert_int_equal(id.ngroups, 2);
    /* another subject, no subject, not an object, a signed response */
    static const char *const bad_sub[] = {"{\"sub\":\"someone-else\",\"email\":\"x@y.z\"}",
                                          "{\"email\":\"x@y.z\"}", "{\"sub\":248289761001}"};
    for (size_t i = 0; i < sizeof(bad_sub) / sizeof(bad_sub[0]); i++) {
        why = NULL;
        assert_int_equal(
            nova_oidc_userinfo_merge(&ar, bad_sub[i], strlen(bad_sub[i]), "groups", &id, &why),
            NOVA_UNAUTHORIZED);
        assert_non_null(strstr(why, "sub"));
    }
    static const char *const bad_doc[] = {"[]", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "", "{\"sub\":"};
    for (size_t i = 0; i < sizeof(bad_doc) / sizeof(bad_doc[0]); i++) {
        why = NULL;
        assert_int_equal(
            nova_oidc_userinfo_merge(&ar, bad_doc[i], strlen(bad_doc[i]), "groups", &id, &why),
            NOVA_INVALID);
        assert_non_null(why);
    }
    /* the token response's access token, and discovery's optional endpoints */
    const char *tr = "{\"token_type\":\"Bearer\",\"id_token\":\"a.b.c\",\"access_token\":\"AT-1\"}";
    const char *it = NULL, *acc = NULL;
    assert_int_equal(nova_oidc_token_response_parse_at(&ar, tr, strlen(tr), &it, &acc, &why),
                     NOVA_OK);
    assert_string_equal(acc, "AT-1");
    const char *tr2 = "{\"token_type\":\"Bearer\",\"id_token\":\"a.b.c\",\"access_token\":7}";
    assert_int_equal(nova_oidc_token_response_parse_at(&ar, tr2, strlen(tr2), &it, &acc, &why),
                     NOVA_OK);
    assert_null(acc);
    const char *disc = "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\"" ISS "/a\","
                       "\"token_endpoint\":\"" ISS "/t\",\"jwks_uri\":\"" ISS "/k\","
                       "\"userinfo_endpoint\":\"" ISS "/me\","
                       "\"end_session_endpoint\":\"ftp://idp.example/x\"}";
    nova_oidc_discovery_t d;
    assert_int_equal(nova_oidc_discovery_parse(&ar, disc, strlen(disc), ISS, &d, &why), NOVA_OK);
    assert_string_equal(d.userinfo_endpoint, ISS "/me");
    assert_null(d.end_session_endpoint); /* not an https URL: ignored */
    free(c);
    nova_arena_free(&ar);
}

static bool pub(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
    }
    return nova_oidc_addr_public(&ss);
}

/* The classifier of the fetches' guard. */
/* A logout token's claims with one member replaced (or removed: value NULL). */
static char *logout_with(const char *member, const char *value)
{
    static const char *const base[][2] = {
        {"iss", "\"" ISS "\""},      {"aud", "\"" CID "\""},
        {"sub", "\"248289761001\""}, {"sid", "\"08a5019c-17e1-4977-8f42-65a12843ea02\""},
        {"iat", "1800000000"},       {"exp", "1800000120"},
        {"jti", "\"bWJq\""},         {"events", "{\"" NOVA_OIDC_BCL_EVENT "\":{}}"}};
    return object_with(base, sizeof(base) / sizeof(base[0]), member, value);
}

/* Back-Channel Logout 1.0 §2.4 and §2.6, claim by claim. */
static void test_logout_token_claims(void **state)
{
    (void)state;
    nova_arena_t ar;
    nova_arena_init(&ar, 1024);
    nova_oidc_logout_t lo;
    const char *why = NULL;
    char *c = logout_with(NULL, NULL);
    assert_int_equal(nova_oidc_logout_claims_check(&ar, c, strlen(c), &E, &lo, &why), NOVA_OK);
    assert_string_equal(lo.sub, "248289761001");
    assert_string_equal(lo.sid, "08a5019c-17e1-4977-8f42-65a12843ea02");
    assert_string_equal(lo.jti, "bWJq");
    assert_int_equal(lo.iat, NOW);
    assert_int_equal(lo.exp, NOW + 120);
    free(c);
    /* Accepted shapes: sid alone, sub alone, no exp, aud an array, azp the client. */
    static const char *const ok[][2] = {{"sub", NULL},
                                        {"sid", NULL},
                                        {"exp", NULL},
                                        {"aud", "[\"other\",\"" CID "\"]"},
                                        {"azp", "\"" CID "\""}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        c = logout_with(ok[i][0], ok[i][1]);
        if (nova_oidc_logout_claims_check(&ar, c, strlen(c), &E, &lo, &why) != NOVA_OK)
            fail_msg("ok case %zu (%s): %s", i, ok[i][0], why);
        free(c);
    }
    static const struct {
        const char *member, *value, *why_has;
    } bad[] = {
        {"iss", "\"https://idp.example/\"", "iss"},
        {"iss", NULL, "iss"},
        {"aud", "\"other-rp\"", "aud"},
        {"aud", NULL, "aud"},
        {"azp", "\"other-rp\"", "azp"},
        {"iat", NULL, "iat"},
        {"iat", "1800000061", "iat"},
        {"iat", "1799999399", "iat"},
        {"exp", "1799999940", "exp"},
        {"exp", "\"soon\"", "exp"},
        {"jti", NULL, "jti"},
        {"jti", "\"\"", "jti"},
        {"jti", "7", "jti"},
        {"events", NULL, "events"},
        {"events", "{}", "events"},
        {"events", "[\"" NOVA_OIDC_BCL_EVENT "\"]", "events"},
        {"events", "{\"" NOVA_OIDC_BCL_EVENT "\":true}", "events"},
        /* the event URI of the spec, not a look-alike */
        {"events", "{\"http://schemas.openid.net/event/backchannel_logout\":{}}", "events"},
        {"nonce", "\"n-0S6_WzA2Mj\"", "nonce"},
        {"sub", "42", "sub"},
        {"sid", "\"\"", "sid"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        c = logout_with(bad[i].member, bad[i].value);
        why = NULL;
        nova_status st = nova_oidc_logout_claims_check(&ar, c, strlen(c), &E, &lo, &why);
        if (st != NOVA_UNAUTHORIZED || why == NULL || strstr(why, bad[i].why_has) == NULL)
            fail_msg("bad case %zu (%s=%s): st %d why %s", i, bad[i].member,
                     bad[i].value ? bad[i].value : "absent", st, why ? why : "(null)");
        free(c);
    }
    /* Neither sub nor sid. */
    c = logout_with("sub", NULL);
    char *both = strstr(c, ",\"sid\"");
    assert_non_null(both);
    char *end = strchr(both + 1, ',');
    memmove(both, end, strlen(end) + 1);
    assert_int_equal(nova_oidc_logout_claims_check(&ar, c, strlen(c), &E, &lo, &why),
                     NOVA_UNAUTHORIZED);
    assert_non_null(strstr(why, "neither"));
    free(c);
    /* An ID token (nonce, no events) is no logout token. */
    c = claims_with(NULL, NULL);
    assert_int_equal(nova_oidc_logout_claims_check(&ar, c, strlen(c), &E, &lo, &why),
                     NOVA_UNAUTHORIZED);
    free(c);
    assert_int_equal(nova_oidc_logout_claims_check(&ar, "[1]", 3, &E, &lo, &why),
                     NOVA_UNAUTHORIZED);
    /* The ID token's sid is read for the session. */
    c = claims_with("sid", "\"s-1\"");
    nova_oidc_identity_t id;
    assert_int_equal(nova_oidc_claims_check(&ar, c, strlen(c), &E, &id, &why), NOVA_OK);
    assert_string_equal(id.sid, "s-1");
    free(c);
    nova_arena_free(&ar);
}

static void test_addr_classifier(void **state)
{
    (void)state;
    static const char *const blocked[] = {"127.0.0.1",
                                          "127.255.255.254",
                                          "0.0.0.0",
                                          "10.0.0.1",
                                          "10.255.255.255",
                                          "172.16.0.1",
                                          "172.31.255.255",
                                          "192.168.1.1",
                                          "100.64.0.1",
                                          "100.127.255.255", /* CGNAT */
                                          "100.100.100.200", /* Alibaba metadata */
                                          "169.254.169.254", /* AWS, GCP, Azure metadata */
                                          "169.254.0.1",
                                          "192.0.0.1",
                                          "192.0.2.1",
                                          "198.18.0.1",
                                          "198.51.100.7",
                                          "203.0.113.9",
                                          "224.0.0.1",
                                          "239.255.255.250",
                                          "240.0.0.1",
                                          "255.255.255.255",
                                          "::",
                                          "::1",
                                          "fe80::1",
                                          "febf::1",
                                          "fec0::1",
                                          "fc00::1",
                                          "fd00:ec2::254", /* AWS IPv6 metadata */
                                          "ff02::1",
                                          "::ffff:127.0.0.1",
                                          "::ffff:10.1.2.3",
                                          "::ffff:169.254.169.254",
                                          "64:ff9b::a9fe:a9fe", /* NAT64 of 169.254.169.254 */
                                          "64:ff9b::7f00:1",
                                          "2002:7f00:1::1", /* 6to4 of 127.0.0.1 */
                                          "2002:c0a8:101::1",
                                          "::127.0.0.1",
                                          "2001:db8::1",
                                          "100::1"};
    for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++)
        if (pub(blocked[i]))
            fail_msg("%s judged public", blocked[i]);
    static const char *const allowed[] = {"1.1.1.1",
                                          "8.8.8.8",
                                          "93.184.216.34",
                                          "172.15.255.255",
                                          "172.32.0.1",
                                          "100.63.255.255",
                                          "100.128.0.1",
                                          "169.253.255.255",
                                          "192.169.0.1",
                                          "11.0.0.1",
                                          "2606:4700::1111",
                                          "2a00:1450::",
                                          "::ffff:93.184.216.34",
                                          "64:ff9b::808:808",
                                          "2002:808:808::1",
                                          "fbff::1"};
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
        if (!pub(allowed[i]))
            fail_msg("%s judged not public", allowed[i]);
    struct sockaddr_storage other;
    memset(&other, 0, sizeof(other));
    other.ss_family = AF_UNIX;
    assert_false(nova_oidc_addr_public(&other));
    assert_false(nova_oidc_addr_public(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claims_valid),
        cmocka_unit_test(test_claims_each_refused),
        cmocka_unit_test(test_claims_accepted_shapes),
        cmocka_unit_test(test_signed_token_through_jwks),
        cmocka_unit_test(test_discovery),
        cmocka_unit_test(test_token_response),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_roles_for),
        cmocka_unit_test(test_acr_amr_aal),
        cmocka_unit_test(test_userinfo_merge),
        cmocka_unit_test(test_userinfo_jwt_claims),
        cmocka_unit_test(test_addr_classifier),
        cmocka_unit_test(test_logout_token_claims),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
