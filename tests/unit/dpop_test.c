/*
 * dpop_test.c: DPoP proofs (src/auth/dpop.c) without a server: htu normalisation, server
 * nonces, every claim check with proofs signed here, the replay cache on the in-process
 * control plane, and the RFC 7638 thumbprint against the RFC's own example.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/auth/dpop.c"
#include "../../src/crypto/crypto_internal.h"

static void test_url_normalize(void **state)
{
    char out[256];
    (void)state;
    const char *ok[][2] = {
        {"HTTP://Example.COM:80/a?b#c", "http://example.com/a"},
        {"https://x:443", "https://x/"},
        {"https://x:8443/p/q", "https://x:8443/p/q"},
        {"http://[::1]:8080/p", "http://[::1]:8080/p"},
        {"http://127.0.0.1:5000/oauth/token?x=1", "http://127.0.0.1:5000/oauth/token"},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
        assert_true(url_normalize(ok[i][0], out, sizeof(out)));
        assert_string_equal(out, ok[i][1]);
    }
    const char *bad[] = {"ftp://x/", "http://a@b/", "http://x:123456/", "http:///p",
                         "x",        "http://x:/",  "http://[::1/",     "http://x y/"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        assert_false(url_normalize(bad[i], out, sizeof(out)));
    /* Case of the path matters; of the scheme and host it does not. */
    char a[64], b[64];
    assert_true(url_normalize("https://H/Path", a, sizeof(a)));
    assert_true(url_normalize("https://h/path", b, sizeof(b)));
    assert_string_not_equal(a, b);
}

/* RFC 7638 §3.1's example key hashes to NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs. */
static void test_thumbprint_rfc7638(void **state)
{
    (void)state;
    /* An RSA key is the RFC's example; Nova's keys are EC and OKP, so check the EC form
     * against the canonical JSON the RFC prescribes, recomputed here. */
    nova_key_t *k;
    const char *jwk = "{\"kty\":\"EC\",\"crv\":\"P-256\","
                      "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                      "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\",\"kid\":\"ignored\"}";
    assert_int_equal(nova_key_from_jwk(jwk, strlen(jwk), &k), NOVA_OK);
    char tp[44], want[44];
    assert_int_equal(nova_key_thumbprint(k, tp), NOVA_OK);
    const char *canon = "{\"crv\":\"P-256\",\"kty\":\"EC\","
                        "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                        "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}";
    uint8_t d[32];
    nova_sha256(canon, strlen(canon), d);
    nova_b64url_encode(d, sizeof(d), want);
    assert_string_equal(tp, want);
    nova_key_free(k);
}

typedef struct fx {
    nova_auth_t *a;
    nova_kv_t *kv;
    nova_key_t *key;
    char jwk[512];
    nova_arena_t ar;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    nova_auth_config_t cfg = {
        .issuer = "http://nova.test", .audience = "nova-api", .token_ttl = 300};
    char err[128];
    memset(cfg.master_key, 7, sizeof(cfg.master_key));
    assert_int_equal(nova_auth_new(&cfg, &f->a), NOVA_OK);
    assert_int_equal(nova_kv_open(NULL, NULL, &f->kv, err, sizeof(err)), NOVA_OK);
    assert_int_equal(nova_key_generate(NOVA_JWS_ES256, "", &f->key), NOVA_OK);
    nova_buf_t b;
    nova_buf_init(&b);
    assert_int_equal(nova_key_public_jwk(f->key, &b), NOVA_OK);
    snprintf(f->jwk, sizeof(f->jwk), "%s", b.data);
    nova_buf_free(&b);
    nova_arena_init(&f->ar, 4096);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    nova_arena_free(&f->ar);
    nova_key_free(f->key);
    nova_kv_close(f->kv);
    nova_auth_free(f->a);
    free(f);
    return 0;
}

/* A proof signed with f->key: header typ and jwk as given, claims as given (JSON body). */
static char *make_proof(fx *f, const char *typ, const char *jwk, const char *claims)
{
    /* nova_jws_sign writes {"alg","kid"[,"typ"]}: DPoP needs "jwk" too, so build by hand. */
    char hdr[1024];
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"typ\":\"%s\",\"jwk\":%s}", typ, jwk);
    char *h64 = malloc(nova_b64url_encoded_len(strlen(hdr)) + 1),
         *p64 = malloc(nova_b64url_encoded_len(strlen(claims)) + 1);
    nova_b64url_encode((const uint8_t *)hdr, strlen(hdr), h64);
    nova_b64url_encode((const uint8_t *)claims, strlen(claims), p64);
    char *input = nova_arena_printf(&f->ar, "%s.%s", h64, p64);
    uint8_t sig[NOVA_CRYPTO_SIG_LEN];
    assert_int_equal(nova_crypto_sign_raw(f->key, input, strlen(input), sig), NOVA_OK);
    char s64[100];
    nova_b64url_encode(sig, sizeof(sig), s64);
    free(h64);
    free(p64);
    return nova_arena_printf(&f->ar, "%s.%s", input, s64);
}

static nova_status check(fx *f, const char *proof, const char *token, bool nonce,
                         nova_dpop_result_t *res)
{
    nova_dpop_check_t c = {.proof = proof,
                           .method = "GET",
                           .url = "http://nova.test/v1/me",
                           .access_token = token,
                           .nonce_required = nonce,
                           .arena = &f->ar};
    return nova_auth_dpop_verify(f->a, f->kv, &c, res);
}

static void test_proof_checks(void **state)
{
    fx *f = *state;
    nova_dpop_result_t res;
    char claims[1024], ath[44];
    uint8_t d[32];
    long now = (long)nova_time_now();
    nova_sha256("tok", 3, d);
    nova_b64url_encode(d, sizeof(d), ath);

#define CLAIMS(...) (snprintf(claims, sizeof(claims), __VA_ARGS__), claims)
    const char *good =
        make_proof(f, "dpop+jwt", f->jwk,
                   CLAIMS("{\"jti\":\"j1\",\"htm\":\"GET\",\"htu\":\"http://NOVA.test:80/v1/me?x\","
                          "\"iat\":%ld,\"ath\":\"%s\"}",
                          now, ath));
    assert_int_equal(check(f, good, "tok", false, &res), NOVA_OK);
    char want[44];
    assert_int_equal(nova_key_thumbprint(f->key, want), NOVA_OK);
    assert_string_equal(res.jkt, want);
    /* The same proof again: a replay. */
    assert_int_equal(check(f, good, "tok", false, &res), NOVA_UNAUTHORIZED);
    assert_string_equal(res.why, "DPoP proof replayed");

    struct {
        const char *typ, *claims, *why;
    } bad[] = {
        {"JWT", "{\"jti\":\"b1\",\"htm\":\"GET\",\"htu\":\"http://nova.test/v1/me\",\"iat\":%ld}",
         "not a DPoP proof"},
        {"dpop+jwt",
         "{\"jti\":\"b2\",\"htm\":\"POST\",\"htu\":\"http://nova.test/v1/me\",\"iat\":%ld}",
         "the proof is for another method"},
        {"dpop+jwt",
         "{\"jti\":\"b3\",\"htm\":\"GET\",\"htu\":\"http://nova.test/v1/mE\",\"iat\":%ld}",
         "the proof is for another URL"},
        {"dpop+jwt",
         "{\"jti\":\"b4\",\"htm\":\"GET\",\"htu\":\"http://nova.test/v1/me\",\"iat\":%ld}",
         "the proof needs ath"},
        {"dpop+jwt", "{\"htm\":\"GET\",\"htu\":\"http://nova.test/v1/me\",\"iat\":%ld}",
         "the proof needs jti, htm, htu and iat"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        const char *p = make_proof(f, bad[i].typ, f->jwk, CLAIMS(bad[i].claims, now));
        assert_int_equal(check(f, p, "tok", false, &res), NOVA_UNAUTHORIZED);
        assert_string_equal(res.why, bad[i].why);
    }
    /* iat outside [-120, +60] s, and out of range before any arithmetic. */
    long iats[] = {now - 121, now + 61, -9223372036854775807L};
    for (size_t i = 0; i < 3; i++) {
        const char *p = make_proof(
            f, "dpop+jwt", f->jwk,
            CLAIMS("{\"jti\":\"i%zu\",\"htm\":\"GET\",\"htu\":\"http://nova.test/v1/me\","
                   "\"iat\":%ld,\"ath\":\"%s\"}",
                   i, iats[i], ath));
        assert_int_equal(check(f, p, "tok", false, &res), NOVA_UNAUTHORIZED);
        assert_string_equal(res.why, "the proof's iat is outside the accepted window");
    }
    /* Nonces: required and absent, stale, then current. */
    const char *nn = make_proof(f, "dpop+jwt", f->jwk,
                                CLAIMS("{\"jti\":\"n1\",\"htm\":\"GET\",\"htu\":"
                                       "\"http://nova.test/v1/me\",\"iat\":%ld,\"ath\":\"%s\"}",
                                       now, ath));
    assert_int_equal(check(f, nn, "tok", true, &res), NOVA_UNAUTHORIZED);
    assert_string_equal(res.error, "use_dpop_nonce");
    char nonce[NOVA_DPOP_NONCE_LEN], old[NOVA_DPOP_NONCE_LEN];
    nova_auth_dpop_nonce(f->a, nonce);
    nonce_for(f->a, nova_time_now() / NONCE_SLOT - 2, old);
    const char *stale = make_proof(
        f, "dpop+jwt", f->jwk,
        CLAIMS("{\"jti\":\"n2\",\"htm\":\"GET\",\"htu\":\"http://nova.test/v1/me\",\"iat\":%ld,"
               "\"ath\":\"%s\",\"nonce\":\"%s\"}",
               now, ath, old));
    assert_int_equal(check(f, stale, "tok", true, &res), NOVA_UNAUTHORIZED);
    assert_string_equal(res.error, "use_dpop_nonce");
    const char *fresh = make_proof(
        f, "dpop+jwt", f->jwk,
        CLAIMS("{\"jti\":\"n3\",\"htm\":\"GET\",\"htu\":\"http://nova.test/v1/me\",\"iat\":%ld,"
               "\"ath\":\"%s\",\"nonce\":\"%s\"}",
               now, ath, nonce));
    assert_int_equal(check(f, fresh, "tok", true, &res), NOVA_OK);
    /* A jwk holding the private key is refused, and so is no jwk at all. */
    nova_buf_t priv;
    nova_buf_init(&priv);
    assert_int_equal(nova_key_public_jwk(f->key, &priv), NOVA_OK);
    priv.data[priv.len - 1] = '\0';
    char *pjwk = nova_arena_printf(&f->ar, "%s,\"d\":\"AAAA\"}", priv.data);
    nova_buf_free(&priv);
    const char *withd = make_proof(f, "dpop+jwt", pjwk,
                                   CLAIMS("{\"jti\":\"p1\",\"htm\":\"GET\",\"htu\":"
                                          "\"http://nova.test/v1/me\",\"iat\":%ld,\"ath\":\"%s\"}",
                                          now, ath));
    assert_int_equal(check(f, withd, "tok", false, &res), NOVA_UNAUTHORIZED);
    assert_int_equal(check(f, NULL, "tok", false, &res), NOVA_UNAUTHORIZED);
    assert_int_equal(check(f, "a.b.c", "tok", false, &res), NOVA_UNAUTHORIZED);
#undef CLAIMS
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_normalize),
        cmocka_unit_test(test_thumbprint_rfc7638),
        cmocka_unit_test_setup_teardown(test_proof_checks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
