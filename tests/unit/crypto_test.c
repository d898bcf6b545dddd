/*
 * crypto_test.c: the crypto module against published vectors (RFC 8037 App. A, RFC 7515
 * App. A.3, RFC 4231, RFC 5869, FIPS 180-2) and against everything a hostile token may try.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <pthread.h>

#include "../../src/crypto/crypto_internal.h"
#include "nova/crypto.h"

/* RFC 8037 Appendix A.1 (private) and A.2 (public) Ed25519 key. */
static const char rfc8037_jwk[] = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                                  "\"d\":\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\","
                                  "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}";
static const char rfc8037_pub[] = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                                  "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}";
/* RFC 8037 Appendix A.4: the JWS of "Example of Ed25519 signing" with header {"alg":"EdDSA"}. */
static const char rfc8037_payload[] = "Example of Ed25519 signing";
static const char rfc8037_jws[] =
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

/* RFC 7515 Appendix A.3: ES256 key and example JWS. */
static const char rfc7515_jwk[] = "{\"kty\":\"EC\",\"crv\":\"P-256\","
                                  "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                                  "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\","
                                  "\"d\":\"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI\"}";
static const char rfc7515_pub[] = "{\"kty\":\"EC\",\"crv\":\"P-256\","
                                  "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                                  "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}";
static const char rfc7515_jws[] =
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0"
    "cnVlfQ."
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
static const char rfc7515_payload[] = "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n "
                                      "\"http://example.com/is_root\":true}";

/* A P-256 key whose x and y both start with a zero byte: JWK coordinates must stay 32 bytes. */
static const char padded_ec_jwk[] = "{\"kty\":\"EC\",\"crv\":\"P-256\","
                                    "\"d\":\"pkB1YkMUf9yK1Ao8O_UZOfXDkdsAfZDLVGfbGKyKwVc\","
                                    "\"x\":\"ANDTQiSwvryM6mfbsZtEIHNdEH5XksmvHQrGkn0CZq0\","
                                    "\"y\":\"AMZXHl2ZWcOCx2MEWJu58_rWnYCHzQMcoLzlwtWY32k\"}";

static void hex_to_bin(const char *hex, uint8_t *out, size_t *n)
{
    size_t len = strlen(hex) / 2;
    for (size_t i = 0; i < len; i++)
        sscanf(hex + 2 * i, "%2hhx", &out[i]);
    *n = len;
}

static void assert_hex_eq(const uint8_t *bin, size_t n, const char *hex)
{
    char buf[1024];
    assert_true(2 * n < sizeof(buf));
    nova_hex_encode(bin, n, buf);
    assert_string_equal(buf, hex);
}

static nova_key_t *jwk_key(const char *json)
{
    nova_key_t *k = NULL;
    assert_int_equal(nova_key_from_jwk(json, strlen(json), &k), NOVA_OK);
    assert_non_null(k);
    return k;
}

static nova_key_t *gen_key(nova_jws_alg alg, const char *kid)
{
    nova_key_t *k = NULL;
    assert_int_equal(nova_key_generate(alg, kid, &k), NOVA_OK);
    assert_non_null(k);
    return k;
}

static nova_status parse_verify(const char *token, const nova_key_t *k)
{
    nova_jws_t jws;
    nova_status st = nova_jws_parse(token, strlen(token), &jws);
    if (st != NOVA_OK)
        return st;
    st = nova_jws_verify(&jws, k);
    nova_jws_clear(&jws);
    return st;
}

/* A correctly signed token with an arbitrary header, so that a rejection can only come from
 * the header itself. */
static char *forge(const nova_key_t *k, const char *header, const char *payload)
{
    nova_buf_t b;
    char enc[4096];
    uint8_t sig[NOVA_CRYPTO_SIG_LEN];

    nova_buf_init(&b);
    nova_b64url_encode((const uint8_t *)header, strlen(header), enc);
    assert_int_equal(nova_buf_printf(&b, "%s.", enc), NOVA_OK);
    nova_b64url_encode((const uint8_t *)payload, strlen(payload), enc);
    assert_int_equal(nova_buf_append_cstr(&b, enc), NOVA_OK);
    assert_int_equal(nova_crypto_sign_raw(k, b.data, b.len, sig), NOVA_OK);
    nova_b64url_encode(sig, sizeof(sig), enc);
    assert_int_equal(nova_buf_printf(&b, ".%s", enc), NOVA_OK);
    return nova_buf_steal(&b);
}

static char *sign_str(const nova_key_t *k, const char *typ, const char *payload)
{
    nova_buf_t b;
    nova_buf_init(&b);
    assert_int_equal(nova_jws_sign(k, typ, payload, strlen(payload), &b), NOVA_OK);
    return nova_buf_steal(&b);
}

/* ---- algorithms ---------------------------------------------------------------------- */

static void test_alg_allow_list(void **state)
{
    (void)state;
    nova_jws_alg alg = 0;
    assert_int_equal(nova_jws_alg_parse("EdDSA", &alg), NOVA_OK);
    assert_int_equal(alg, NOVA_JWS_EDDSA);
    assert_int_equal(nova_jws_alg_parse("ES256", &alg), NOVA_OK);
    assert_int_equal(alg, NOVA_JWS_ES256);
    assert_string_equal(nova_jws_alg_name(NOVA_JWS_EDDSA), "EdDSA");
    assert_string_equal(nova_jws_alg_name(NOVA_JWS_ES256), "ES256");
    const char *bad[] = {"none",   "None",  "HS256",   "HS512", "RS256",  "PS256",  "ES384",
                         "ES256K", "eddsa", "Ed25519", "",      "ES256 ", "EdDSA\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(nova_jws_alg_parse(bad[i], &alg), NOVA_INVALID);
    assert_int_equal(nova_jws_alg_parse(NULL, &alg), NOVA_INVALID);
}

/* ---- RFC vectors --------------------------------------------------------------------- */

static void test_rfc8037_sign_exact(void **state)
{
    (void)state;
    nova_key_t *k = jwk_key(rfc8037_jwk);
    assert_int_equal(nova_key_alg(k), NOVA_JWS_EDDSA);
    assert_true(nova_key_has_private(k));
    assert_string_equal(nova_key_kid(k), "");
    char *tok = sign_str(k, NULL, rfc8037_payload);
    assert_string_equal(tok, rfc8037_jws);
    free(tok);
    nova_key_free(k);
}

static void test_rfc8037_verify(void **state)
{
    (void)state;
    nova_key_t *pub = jwk_key(rfc8037_pub);
    assert_false(nova_key_has_private(pub));
    nova_jws_t jws;
    assert_int_equal(nova_jws_parse(rfc8037_jws, strlen(rfc8037_jws), &jws), NOVA_OK);
    assert_int_equal(jws.alg, NOVA_JWS_EDDSA);
    assert_string_equal(jws.kid, "");
    assert_string_equal(jws.typ, "");
    assert_int_equal(jws.payload_len, strlen(rfc8037_payload));
    assert_string_equal(jws.payload, rfc8037_payload);
    assert_int_equal(jws.sig_len, 64);
    assert_int_equal(jws.signing_input_len, strrchr(rfc8037_jws, '.') - rfc8037_jws);
    assert_ptr_equal(jws.token, rfc8037_jws);
    assert_int_equal(nova_jws_verify(&jws, pub), NOVA_OK);
    nova_jws_clear(&jws);
    assert_null(jws.payload);
    nova_jws_clear(NULL);

    /* A public-only key cannot sign. */
    nova_buf_t b;
    nova_buf_init(&b);
    assert_int_equal(nova_jws_sign(pub, NULL, "x", 1, &b), NOVA_INVALID);
    assert_int_equal(b.len, 0);
    nova_buf_free(&b);
    nova_key_free(pub);
}

static void test_rfc8037_public_jwk(void **state)
{
    (void)state;
    nova_key_t *k = jwk_key(rfc8037_jwk);
    nova_buf_t b;
    nova_buf_init(&b);
    assert_int_equal(nova_key_public_jwk(k, &b), NOVA_OK);
    assert_string_equal(b.data, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                                "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\","
                                "\"alg\":\"EdDSA\",\"use\":\"sig\"}");
    nova_buf_free(&b);
    nova_key_free(k);
}

static void test_rfc7515_es256_verify(void **state)
{
    (void)state;
    nova_key_t *pub = jwk_key(rfc7515_pub);
    assert_int_equal(nova_key_alg(pub), NOVA_JWS_ES256);
    nova_jws_t jws;
    assert_int_equal(nova_jws_parse(rfc7515_jws, strlen(rfc7515_jws), &jws), NOVA_OK);
    assert_int_equal(jws.alg, NOVA_JWS_ES256);
    assert_int_equal(jws.payload_len, strlen(rfc7515_payload));
    assert_memory_equal(jws.payload, rfc7515_payload, jws.payload_len);
    assert_int_equal(nova_jws_verify(&jws, pub), NOVA_OK);
    nova_jws_clear(&jws);

    nova_buf_t b;
    nova_buf_init(&b);
    assert_int_equal(nova_key_public_jwk(pub, &b), NOVA_OK);
    assert_string_equal(b.data, "{\"kty\":\"EC\",\"crv\":\"P-256\","
                                "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                                "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\","
                                "\"alg\":\"ES256\",\"use\":\"sig\"}");
    nova_buf_free(&b);
    nova_key_free(pub);
}

static void test_rfc7515_es256_sign_roundtrip(void **state)
{
    (void)state;
    nova_key_t *priv = jwk_key(rfc7515_jwk), *pub = jwk_key(rfc7515_pub);
    assert_true(nova_key_has_private(priv));
    char *t1 = sign_str(priv, "JWT", rfc7515_payload);
    char *t2 = sign_str(priv, "JWT", rfc7515_payload);
    assert_string_not_equal(t1, t2); /* ECDSA is randomized */
    assert_int_equal(parse_verify(t1, pub), NOVA_OK);
    assert_int_equal(parse_verify(t2, pub), NOVA_OK);
    assert_int_equal(parse_verify(t1, priv), NOVA_OK);
    /* The header is exactly what the contract says. */
    assert_int_equal(strncmp(t1, "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.", 37), 0);
    free(t1);
    free(t2);
    nova_key_free(priv);
    nova_key_free(pub);
}

static void test_sha256(void **state)
{
    (void)state;
    uint8_t md[32];
    nova_sha256("abc", 3, md);
    assert_hex_eq(md, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    nova_sha256(NULL, 0, md);
    assert_hex_eq(md, 32, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    nova_sha256(two, strlen(two), md);
    assert_hex_eq(md, 32, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_hmac_rfc4231(void **state)
{
    (void)state;
    uint8_t key[131], md[32];
    /* Test case 1 */
    memset(key, 0x0b, 20);
    nova_hmac_sha256(key, 20, "Hi There", 8, md);
    assert_hex_eq(md, 32, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    /* Test case 2 */
    const char *data = "what do ya want for nothing?";
    nova_hmac_sha256((const uint8_t *)"Jefe", 4, data, strlen(data), md);
    assert_hex_eq(md, 32, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* Test case 3 */
    uint8_t dd[50];
    memset(key, 0xaa, 20);
    memset(dd, 0xdd, sizeof(dd));
    nova_hmac_sha256(key, 20, dd, sizeof(dd), md);
    assert_hex_eq(md, 32, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    /* Test case 6: key longer than the block size */
    memset(key, 0xaa, 131);
    data = "Test Using Larger Than Block-Size Key - Hash Key First";
    nova_hmac_sha256(key, 131, data, strlen(data), md);
    assert_hex_eq(md, 32, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void test_hkdf_rfc5869(void **state)
{
    (void)state;
    /* Test case 3: zero-length salt and info. */
    uint8_t ikm[22], okm[42];
    memset(ikm, 0x0b, sizeof(ikm));
    assert_int_equal(nova_hkdf_sha256(ikm, sizeof(ikm), "", okm, sizeof(okm)), NOVA_OK);
    assert_hex_eq(
        okm, 42,
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
    uint8_t a[32], b[32], c[16];
    assert_int_equal(nova_hkdf_sha256(ikm, sizeof(ikm), NULL, a, sizeof(a)), NOVA_OK);
    assert_memory_equal(a, okm, sizeof(a)); /* NULL info is empty info */
    /* Different purposes, different keys; a shorter output is a prefix. */
    assert_int_equal(nova_hkdf_sha256(ikm, sizeof(ikm), "nova session", b, sizeof(b)), NOVA_OK);
    assert_memory_not_equal(a, b, sizeof(a));
    assert_int_equal(nova_hkdf_sha256(ikm, sizeof(ikm), "nova session", c, sizeof(c)), NOVA_OK);
    assert_memory_equal(b, c, sizeof(c));
    /* Limits */
    static uint8_t big[255 * 32 + 1];
    assert_int_equal(nova_hkdf_sha256(ikm, sizeof(ikm), "x", big, 255 * 32), NOVA_OK);
    assert_int_equal(nova_hkdf_sha256(ikm, sizeof(ikm), "x", big, sizeof(big)), NOVA_INVALID);
    assert_int_equal(nova_hkdf_sha256(ikm, sizeof(ikm), "x", big, 0), NOVA_INVALID);
    assert_int_equal(nova_hkdf_sha256(ikm, 0, "x", a, sizeof(a)), NOVA_INVALID);
}

/* ---- keys ---------------------------------------------------------------------------- */

static void test_key_generate_and_sign(void **state)
{
    (void)state;
    nova_jws_alg algs[] = {NOVA_JWS_EDDSA, NOVA_JWS_ES256};
    for (size_t i = 0; i < 2; i++) {
        nova_key_t *k = gen_key(algs[i], "key-1");
        assert_int_equal(nova_key_alg(k), algs[i]);
        assert_string_equal(nova_key_kid(k), "key-1");
        assert_true(nova_key_has_private(k));
        char *tok = sign_str(k, "at+jwt", "{\"sub\":\"u1\"}");
        nova_jws_t jws;
        assert_int_equal(nova_jws_parse(tok, strlen(tok), &jws), NOVA_OK);
        assert_int_equal(jws.alg, algs[i]);
        assert_string_equal(jws.kid, "key-1");
        assert_string_equal(jws.typ, "at+jwt");
        assert_string_equal(jws.payload, "{\"sub\":\"u1\"}");
        assert_int_equal(nova_jws_verify(&jws, k), NOVA_OK);
        nova_jws_clear(&jws);
        free(tok);
        nova_key_free(k);
    }
    nova_key_t *k = NULL;
    assert_int_equal(nova_key_generate((nova_jws_alg)0, "x", &k), NOVA_INVALID);
    assert_int_equal(nova_key_generate((nova_jws_alg)99, "x", &k), NOVA_INVALID);
    assert_null(k);
    char longkid[200];
    memset(longkid, 'k', sizeof(longkid) - 1);
    longkid[sizeof(longkid) - 1] = '\0';
    assert_int_equal(nova_key_generate(NOVA_JWS_EDDSA, longkid, &k), NOVA_INVALID);
    longkid[127] = '\0';
    assert_int_equal(nova_key_generate(NOVA_JWS_EDDSA, longkid, &k), NOVA_OK);
    nova_key_free(k);
    /* kids are printable ASCII: they go into JSON unchanged. */
    assert_int_equal(nova_key_generate(NOVA_JWS_EDDSA, "a\nb", &k), NOVA_INVALID);
    assert_int_equal(nova_key_generate(NOVA_JWS_EDDSA, "caf\xc3\xa9", &k), NOVA_INVALID);
    assert_int_equal(nova_key_generate(NOVA_JWS_EDDSA, "\xff", &k), NOVA_INVALID);
    assert_null(k);
    assert_int_equal(nova_key_generate(NOVA_JWS_EDDSA, NULL, &k), NOVA_OK);
    assert_string_equal(nova_key_kid(k), "");
    nova_key_free(k);
    nova_key_free(NULL);
}

static void test_key_pkcs8_roundtrip(void **state)
{
    (void)state;
    nova_jws_alg algs[] = {NOVA_JWS_EDDSA, NOVA_JWS_ES256};
    for (size_t i = 0; i < 2; i++) {
        nova_key_t *k = gen_key(algs[i], "orig"), *k2 = NULL, *bad = NULL;
        nova_buf_t der;
        nova_buf_init(&der);
        assert_int_equal(nova_key_export_private(k, &der), NOVA_OK);
        assert_true(der.len > 16);
        assert_int_equal(der.data[0], 0x30); /* SEQUENCE */
        assert_int_equal(
            nova_key_import_private(algs[i], "copy", (uint8_t *)der.data, der.len, &k2), NOVA_OK);
        assert_string_equal(nova_key_kid(k2), "copy");
        assert_true(nova_key_has_private(k2));
        /* Same key: a token from the copy verifies with the original, same public JWK. */
        char *tok = sign_str(k2, NULL, "hello");
        assert_int_equal(parse_verify(tok, k), NOVA_OK);
        free(tok);
        nova_buf_t j1, j2;
        nova_buf_init(&j1);
        nova_buf_init(&j2);
        assert_int_equal(nova_key_public_jwk(k, &j1), NOVA_OK);
        assert_int_equal(nova_key_public_jwk(k2, &j2), NOVA_OK);
        assert_non_null(strstr(j1.data, "\"kid\":\"orig\""));
        assert_non_null(strstr(j2.data, "\"kid\":\"copy\""));
        /* Identical up to the kid: same kty, crv and coordinates. */
        assert_memory_equal(j1.data, j2.data, (size_t)(strstr(j1.data, "kid") - j1.data));
        nova_buf_free(&j1);
        nova_buf_free(&j2);

        /* Wrong alg for the key type. */
        nova_jws_alg other = algs[i] == NOVA_JWS_EDDSA ? NOVA_JWS_ES256 : NOVA_JWS_EDDSA;
        assert_int_equal(nova_key_import_private(other, "x", (uint8_t *)der.data, der.len, &bad),
                         NOVA_INVALID);
        assert_null(bad);
        /* Truncated, trailing garbage, corrupted, empty. */
        assert_int_equal(
            nova_key_import_private(algs[i], "x", (uint8_t *)der.data, der.len - 1, &bad),
            NOVA_INVALID);
        nova_buf_append(&der, "\0", 1);
        assert_int_equal(nova_key_import_private(algs[i], "x", (uint8_t *)der.data, der.len, &bad),
                         NOVA_INVALID);
        der.data[0] = 0x31;
        assert_int_equal(
            nova_key_import_private(algs[i], "x", (uint8_t *)der.data, der.len - 1, &bad),
            NOVA_INVALID);
        assert_int_equal(nova_key_import_private(algs[i], "x", (uint8_t *)der.data, 0, &bad),
                         NOVA_INVALID);
        assert_null(bad);
        nova_buf_free(&der);
        nova_key_free(k);
        nova_key_free(k2);
    }
    /* Public keys have nothing to export. */
    nova_key_t *pub = jwk_key(rfc8037_pub);
    nova_buf_t der;
    nova_buf_init(&der);
    assert_int_equal(nova_key_export_private(pub, &der), NOVA_INVALID);
    nova_buf_free(&der);
    nova_key_free(pub);
}

static void test_key_pkcs8_p384_rejected(void **state)
{
    (void)state;
    /* A P-384 key is EC but not ES256. */
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp384r1");
    assert_non_null(pkey);
    unsigned char *der = NULL;
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pkey);
    int len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
    assert_true(len > 0);
    nova_key_t *k = NULL;
    assert_int_equal(nova_key_import_private(NOVA_JWS_ES256, "x", der, (size_t)len, &k),
                     NOVA_INVALID);
    assert_null(k);
    OPENSSL_free(der);
    PKCS8_PRIV_KEY_INFO_free(p8);
    EVP_PKEY_free(pkey);
}

static void test_jwk_roundtrip_generated(void **state)
{
    (void)state;
    nova_jws_alg algs[] = {NOVA_JWS_EDDSA, NOVA_JWS_ES256};
    for (size_t i = 0; i < 2; i++) {
        nova_key_t *k = gen_key(algs[i], "k\"1\\"), *pub;
        nova_buf_t j;
        nova_buf_init(&j);
        assert_int_equal(nova_buf_append_cstr(&j, "prefix:"), NOVA_OK);
        assert_int_equal(nova_key_public_jwk(k, &j), NOVA_OK);
        assert_int_equal(strncmp(j.data, "prefix:{", 8), 0); /* appended */
        assert_non_null(strstr(j.data, "\"kid\":\"k\\\"1\\\\\""));
        assert_non_null(strstr(j.data, "\"use\":\"sig\""));
        pub = jwk_key(j.data + 7);
        assert_false(nova_key_has_private(pub));
        assert_string_equal(nova_key_kid(pub), "k\"1\\");
        assert_int_equal(nova_key_alg(pub), algs[i]);
        char *tok = sign_str(k, NULL, "{}");
        assert_int_equal(parse_verify(tok, pub), NOVA_OK);
        free(tok);
        nova_buf_free(&j);
        nova_key_free(pub);
        nova_key_free(k);
    }
}

static void test_jwk_padded_coordinates(void **state)
{
    (void)state;
    nova_key_t *k = jwk_key(padded_ec_jwk);
    nova_buf_t j;
    nova_buf_init(&j);
    assert_int_equal(nova_key_public_jwk(k, &j), NOVA_OK);
    assert_string_equal(j.data, "{\"kty\":\"EC\",\"crv\":\"P-256\","
                                "\"x\":\"ANDTQiSwvryM6mfbsZtEIHNdEH5XksmvHQrGkn0CZq0\","
                                "\"y\":\"AMZXHl2ZWcOCx2MEWJu58_rWnYCHzQMcoLzlwtWY32k\","
                                "\"alg\":\"ES256\",\"use\":\"sig\"}");
    nova_buf_free(&j);
    nova_key_free(k);
}

static void test_jwk_rejects(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "[]",
        "\"OKP\"",
        "{}",
        "{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}",
        "{\"kty\":\"oct\",\"k\":\"AAAA\"}",
        /* wrong curve / kty-crv mix */
        "{\"kty\":\"OKP\",\"crv\":\"Ed448\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
        "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"11qYAYKxCrfVS_"
        "7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
        "{\"kty\":\"EC\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_"
        "7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
        "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}",
        /* missing x, missing y, extra y on OKP */
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\"}",
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_"
        "7TyWQHOg7hcvPapiMlrwIaaPcHURo\","
        "\"y\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
        /* x too short (31 bytes), padded, non-string */
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHU\"}",
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo="
        "\"}",
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":42}",
        /* alg / use that do not fit */
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"ES256\","
        "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"use\":\"enc\","
        "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"none\","
        "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
        "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}",
        /* kid not a string */
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":7,"
        "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
        /* kid not printable ASCII */
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"caf\\u00e9\","
        "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\\nb\","
        "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
        /* duplicate member */
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_"
        "7TyWQHOg7hcvPapiMlrwIaaPcHURo\","
        "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
        /* d that does not belong to x (d from RFC 8037, x changed in one place) */
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\"nWGxne_"
        "9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\","
        "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURA\"}",
        /* point not on the curve (y changed) */
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
        "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a1\"}",
        /* EC d that does not belong to x,y (d from the padded key) */
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
        "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\","
        "\"d\":\"pkB1YkMUf9yK1Ao8O_UZOfXDkdsAfZDLVGfbGKyKwVc\"}",
        /* EC d of zero, and the point at infinity's stand-in */
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
        "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\","
        "\"d\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
        "\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_"
        "7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        nova_key_t *k = (nova_key_t *)1;
        nova_status st = nova_key_from_jwk(bad[i], strlen(bad[i]), &k);
        if (st == NOVA_OK)
            fail_msg("accepted bad JWK #%zu: %s", i, bad[i]);
        assert_null(k);
    }
    /* The accepted variants: matching alg/use, kid, unknown members. */
    const char *ok = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"EdDSA\",\"use\":\"sig\","
                     "\"kid\":\"abc\",\"key_ops\":[\"verify\"],"
                     "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}";
    nova_key_t *k = jwk_key(ok);
    assert_string_equal(nova_key_kid(k), "abc");
    assert_int_equal(parse_verify(rfc8037_jws, k), NOVA_OK);
    nova_key_free(k);
    /* Sizes */
    nova_key_t *none = NULL;
    assert_int_equal(nova_key_from_jwk(NULL, 0, &none), NOVA_INVALID);
    char *huge = calloc(1, 20000);
    memset(huge, ' ', 19999);
    assert_int_equal(nova_key_from_jwk(huge, 19999, &none), NOVA_TOO_LARGE);
    free(huge);
}

/* ---- JWS negatives ------------------------------------------------------------------- */

static void test_jws_alg_confusion(void **state)
{
    (void)state;
    nova_key_t *ed = jwk_key(rfc8037_jwk), *es = jwk_key(rfc7515_jwk);
    /* EdDSA token against an ES256 key and the other way round. */
    assert_int_equal(parse_verify(rfc8037_jws, es), NOVA_UNAUTHORIZED);
    assert_int_equal(parse_verify(rfc7515_jws, ed), NOVA_UNAUTHORIZED);
    /* A header claiming ES256 over an Ed25519 signature, verified with the ES256 key. */
    char *t = forge(ed, "{\"alg\":\"ES256\"}", "{}");
    assert_int_equal(parse_verify(t, es), NOVA_UNAUTHORIZED);
    assert_int_equal(parse_verify(t, ed), NOVA_UNAUTHORIZED);
    free(t);
    /* Another key of the right alg. */
    nova_key_t *ed2 = gen_key(NOVA_JWS_EDDSA, "other");
    assert_int_equal(parse_verify(rfc8037_jws, ed2), NOVA_UNAUTHORIZED);
    nova_key_free(ed2);
    nova_key_free(ed);
    nova_key_free(es);
}

static void test_jws_rejected_algs(void **state)
{
    (void)state;
    nova_key_t *ed = jwk_key(rfc8037_jwk);
    nova_jws_t jws;
    /* Classic alg "none" token with an empty signature, and with a real-looking one. */
    const char *none = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.";
    assert_int_equal(nova_jws_parse(none, strlen(none), &jws), NOVA_INVALID);
    const char *hdrs[] = {"{\"alg\":\"none\"}",  "{\"alg\":\"HS256\"}",   "{\"alg\":\"RS256\"}",
                          "{\"alg\":\"NONE\"}",  "{\"alg\":\"eddsa\"}",   "{\"alg\":\"\"}",
                          "{\"alg\":null}",      "{\"alg\":[\"EdDSA\"]}", "{\"typ\":\"JWT\"}",
                          "{\"alg\":\"ES512\"}", "{\"alg\":\"PS256\"}"};
    for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
        char *t = forge(ed, hdrs[i], "{\"sub\":\"admin\"}");
        if (nova_jws_parse(t, strlen(t), &jws) != NOVA_INVALID)
            fail_msg("accepted header %s", hdrs[i]);
        free(t);
    }
    /* HS256 token keyed with the public key bytes (the classic confusion attack): the
     * signature length is wrong too, and the alg is refused first anyway. */
    const char *hs = "eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo";
    assert_int_equal(nova_jws_parse(hs, strlen(hs), &jws), NOVA_INVALID);
    nova_key_free(ed);
}

/* RS256, verification only and only where a caller opts in (NOVA_JWS_ALLOW_RS256): an IdP's
 * ID token. The key comes from a JWK (n, e); RFC 7638 §3.1's example gives the thumbprint. */
static const char rfc7638_rsa[] =
    "{\"kty\":\"RSA\",\"n\":"
    "\"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxu"
    "hDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65Y"
    "GjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhA"
    "I4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw\","
    "\"e\":\"AQAB\",\"alg\":\"RS256\",\"kid\":\"2011-04-29\"}";

static char *rsa_token_pad(EVP_PKEY *pk, bool pss, const char *hdr, const char *payload);

static char *rsa_token(EVP_PKEY *pk, const char *hdr, const char *payload)
{
    return rsa_token_pad(pk, false, hdr, payload);
}

/* The public JWK of an OpenSSL RSA key, as an IdP publishes it (no alg member). */
static char *rsa_jwk(EVP_PKEY *pk, const char *kid)
{
    BIGNUM *bn = NULL, *be = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(pk, "n", &bn), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(pk, "e", &be), 1);
    uint8_t nb[512], eb[8];
    int nl = BN_bn2bin(bn, nb), el = BN_bn2bin(be, eb);
    char n64[700], e64[16];
    n64[nova_b64url_encode(nb, (size_t)nl, n64)] = '\0';
    e64[nova_b64url_encode(eb, (size_t)el, e64)] = '\0';
    char *j = malloc(900);
    snprintf(j, 900, "{\"kty\":\"RSA\",\"use\":\"sig\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"}",
             kid, n64, e64);
    BN_free(bn);
    BN_free(be);
    return j;
}

/* A JWS of pk: PKCS#1 v1.5 (pss false) or PSS with a digest-long salt (pss true). */
static char *rsa_token_pad(EVP_PKEY *pk, bool pss, const char *hdr, const char *payload)
{
    size_t hl = strlen(hdr), pl = strlen(payload);
    char *t = malloc(nova_b64url_encoded_len(hl) + nova_b64url_encoded_len(pl) + 700 + 3);
    size_t n = nova_b64url_encode((const uint8_t *)hdr, hl, t);
    t[n++] = '.';
    n += nova_b64url_encode((const uint8_t *)payload, pl, t + n);
    uint8_t sig[512];
    size_t sl = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    assert_int_equal(EVP_DigestSignInit_ex(md, &pc, "SHA256", NULL, NULL, pk, NULL), 1);
    if (pss) {
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST), 1);
    }
    assert_int_equal(EVP_DigestSign(md, sig, &sl, (const uint8_t *)t, n), 1);
    EVP_MD_CTX_free(md);
    t[n++] = '.';
    n += nova_b64url_encode(sig, sl, t + n);
    t[n] = '\0';
    return t;
}

/* PS256 (RFC 7518 §3.5), verification only, only with NOVA_JWS_ALLOW_PS256, only by an RSA
 * key published for PS256. */
static void test_ps256_opt_in(void **state)
{
    (void)state;
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    assert_non_null(pk);
    char *plain = rsa_jwk(pk, "pss-1");
    char jwk[1024];
    /* the same key published for PS256 */
    snprintf(jwk, sizeof(jwk), "{\"alg\":\"PS256\",%s", plain + 1);
    nova_key_t *k = NULL, *rs = NULL;
    assert_int_equal(nova_key_from_jwk(jwk, strlen(jwk), &k), NOVA_OK);
    assert_int_equal(nova_key_alg(k), NOVA_JWS_PS256);
    assert_string_equal(nova_jws_alg_name(NOVA_JWS_PS256), "PS256");
    assert_int_equal(nova_key_from_jwk(plain, strlen(plain), &rs), NOVA_OK);
    assert_int_equal(nova_key_alg(rs), NOVA_JWS_RS256); /* no alg: RS256 only */
    nova_jws_alg alg;
    assert_int_equal(nova_jws_alg_parse("PS256", &alg), NOVA_INVALID);
    nova_buf_t b;
    nova_buf_init(&b);
    assert_int_equal(nova_jws_sign(k, NULL, "{}", 2, &b), NOVA_INVALID);
    nova_buf_free(&b);

    char *t = rsa_token_pad(pk, true, "{\"alg\":\"PS256\",\"kid\":\"pss-1\"}", "{\"sub\":\"ada\"}");
    nova_jws_t jws;
    /* not opted in: refused at parse, RS256's flag is not PS256's */
    assert_int_equal(nova_jws_parse(t, strlen(t), &jws), NOVA_INVALID);
    assert_int_equal(nova_jws_parse_opts(t, strlen(t), NOVA_JWS_ALLOW_RS256, &jws), NOVA_INVALID);
    assert_int_equal(nova_jws_parse_opts(t, strlen(t), NOVA_JWS_ALLOW_PS256, &jws), NOVA_OK);
    assert_int_equal(jws.alg, NOVA_JWS_PS256);
    assert_int_equal(nova_jws_verify(&jws, k), NOVA_OK);
    /* the RS256 key of the same modulus does not verify a PS256 header (the key decides) */
    assert_int_equal(nova_jws_verify(&jws, rs), NOVA_UNAUTHORIZED);
    nova_jws_clear(&jws);
    /* a flipped signature byte */
    t[strlen(t) - 5] = t[strlen(t) - 5] == 'A' ? 'B' : 'A';
    assert_int_equal(nova_jws_parse_opts(t, strlen(t), NOVA_JWS_ALLOW_PS256, &jws), NOVA_OK);
    assert_int_equal(nova_jws_verify(&jws, k), NOVA_UNAUTHORIZED);
    nova_jws_clear(&jws);
    free(t);
    /* a PKCS#1 v1.5 signature under a PS256 header, and a PSS one under RS256 */
    t = rsa_token_pad(pk, false, "{\"alg\":\"PS256\",\"kid\":\"pss-1\"}", "{\"sub\":\"ada\"}");
    assert_int_equal(nova_jws_parse_opts(t, strlen(t), NOVA_JWS_ALLOW_PS256, &jws), NOVA_OK);
    assert_int_equal(nova_jws_verify(&jws, k), NOVA_UNAUTHORIZED);
    nova_jws_clear(&jws);
    free(t);
    t = rsa_token_pad(pk, true, "{\"alg\":\"RS256\",\"kid\":\"pss-1\"}", "{\"sub\":\"ada\"}");
    assert_int_equal(nova_jws_parse_opts(t, strlen(t), NOVA_JWS_ALLOW_RS256, &jws), NOVA_OK);
    assert_int_equal(nova_jws_verify(&jws, rs), NOVA_UNAUTHORIZED);
    nova_jws_clear(&jws);
    free(t);
    /* the exported JWK names PS256 */
    nova_buf_init(&b);
    assert_int_equal(nova_key_public_jwk(k, &b), NOVA_OK);
    assert_non_null(strstr((const char *)b.data, "\"alg\":\"PS256\""));
    nova_buf_free(&b);
    nova_key_free(k);
    nova_key_free(rs);
    free(plain);
    EVP_PKEY_free(pk);
}

static void test_rs256_opt_in(void **state)
{
    (void)state;
    /* RFC 7638's RSA key: parsed, public only, with the published thumbprint */
    nova_key_t *k = NULL;
    assert_int_equal(nova_key_from_jwk(rfc7638_rsa, strlen(rfc7638_rsa), &k), NOVA_OK);
    assert_int_equal(nova_key_alg(k), NOVA_JWS_RS256);
    assert_false(nova_key_has_private(k));
    assert_string_equal(nova_key_kid(k), "2011-04-29");
    char tp[44];
    assert_int_equal(nova_key_thumbprint(k, tp), NOVA_OK);
    assert_string_equal(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    /* Nova never signs with it */
    nova_buf_t b;
    nova_buf_init(&b);
    assert_int_equal(nova_jws_sign(k, NULL, "{}", 2, &b), NOVA_INVALID);
    assert_int_equal(b.len, 0);
    nova_buf_free(&b);
    nova_key_free(k);
    assert_int_equal(nova_key_generate(NOVA_JWS_RS256, "x", &k), NOVA_INVALID);
    nova_jws_alg alg;
    assert_int_equal(nova_jws_alg_parse("RS256", &alg), NOVA_INVALID);

    /* A token of a fresh 2048-bit key: verified only with the opt-in flag, by its key */
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    assert_non_null(pk);
    char *jwk = rsa_jwk(pk, "idp-1");
    assert_int_equal(nova_key_from_jwk(jwk, strlen(jwk), &k), NOVA_OK);
    char *t = rsa_token(pk, "{\"alg\":\"RS256\",\"kid\":\"idp-1\"}", "{\"sub\":\"ada\"}");
    nova_jws_t jws;
    assert_int_equal(nova_jws_parse(t, strlen(t), &jws), NOVA_INVALID);
    assert_int_equal(nova_jws_parse_opts(t, strlen(t), NOVA_JWS_ALLOW_RS256, &jws), NOVA_OK);
    assert_int_equal(jws.alg, NOVA_JWS_RS256);
    assert_int_equal(jws.sig_len, 256);
    assert_string_equal(jws.kid, "idp-1");
    assert_int_equal(nova_jws_verify(&jws, k), NOVA_OK);
    assert_string_equal(jws.payload, "{\"sub\":\"ada\"}");
    /* an RSA key never verifies an ES256/EdDSA header, and an EC key never an RS256 one */
    nova_key_t *ed = jwk_key(rfc8037_jwk);
    assert_int_equal(nova_jws_verify(&jws, ed), NOVA_UNAUTHORIZED);
    nova_jws_clear(&jws);
    /* a flipped signature byte, and a payload changed under it */
    t[strlen(t) - 5] = t[strlen(t) - 5] == 'A' ? 'B' : 'A';
    assert_int_equal(nova_jws_parse_opts(t, strlen(t), NOVA_JWS_ALLOW_RS256, &jws), NOVA_OK);
    assert_int_equal(nova_jws_verify(&jws, k), NOVA_UNAUTHORIZED);
    nova_jws_clear(&jws);
    free(t);
    /* another key's signature */
    EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    t = rsa_token(other, "{\"alg\":\"RS256\",\"kid\":\"idp-1\"}", "{\"sub\":\"ada\"}");
    assert_int_equal(nova_jws_parse_opts(t, strlen(t), NOVA_JWS_ALLOW_RS256, &jws), NOVA_OK);
    assert_int_equal(nova_jws_verify(&jws, k), NOVA_UNAUTHORIZED);
    nova_jws_clear(&jws);
    free(t);
    /* a short signature is refused at parse (it cannot be the modulus size) */
    t = forge(ed, "{\"alg\":\"RS256\"}", "{}");
    assert_int_equal(nova_jws_parse_opts(t, strlen(t), NOVA_JWS_ALLOW_RS256, &jws), NOVA_INVALID);
    free(t);
    nova_key_free(k);
    nova_key_free(ed);
    free(jwk);
    EVP_PKEY_free(other);
    EVP_PKEY_free(pk);

    /* JWKs refused: a 1024-bit modulus, a private member, another alg, a curve, no e */
    EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    jwk = rsa_jwk(small, "small");
    assert_int_equal(nova_key_from_jwk(jwk, strlen(jwk), &k), NOVA_INVALID);
    free(jwk);
    EVP_PKEY_free(small);
    static const char *const bad[] = {
        "{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}",
        "{\"kty\":\"RSA\",\"e\":\"AQAB\"}",
        "{\"kty\":\"RSA\",\"n\":\"\",\"e\":\"AQAB\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(nova_key_from_jwk(bad[i], strlen(bad[i]), &k), NOVA_INVALID);
    static const char *const swaps[][2] = {
        {"\"alg\":\"RS256\"", "\"alg\":\"ES256\""},
        {"\"alg\":\"RS256\"", "\"alg\":\"RS256\",\"d\":\"AQAB\""},
        {"\"alg\":\"RS256\"", "\"alg\":\"RS256\",\"crv\":\"P-256\""},
        {"\"alg\":\"RS256\"", "\"alg\":\"RS256\",\"use\":\"enc\""},
        {"\"e\":\"AQAB\"", "\"e\":\"AAAAAAAAAAAAAQAB\""},
    };
    for (size_t i = 0; i < sizeof(swaps) / sizeof(swaps[0]); i++) {
        char buf[1024];
        const char *at = strstr(rfc7638_rsa, swaps[i][0]);
        assert_non_null(at);
        snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - rfc7638_rsa), rfc7638_rsa, swaps[i][1],
                 at + strlen(swaps[i][0]));
        if (nova_key_from_jwk(buf, strlen(buf), &k) != NOVA_INVALID)
            fail_msg("accepted %s", buf);
    }
}

static void test_jws_bad_headers(void **state)
{
    (void)state;
    nova_key_t *ed = jwk_key(rfc8037_jwk);
    nova_jws_t jws;
    const char *hdrs[] = {
        "{\"alg\":\"EdDSA\",\"alg\":\"EdDSA\"}",
        "{\"alg\":\"HS256\",\"alg\":\"EdDSA\"}",
        "{\"alg\":\"EdDSA\",\"kid\":\"a\",\"kid\":\"b\"}",
        "{\"alg\":\"EdDSA\",\"crit\":[\"exp\"],\"exp\":1}",
        "{\"alg\":\"EdDSA\",\"crit\":[]}",
        "{\"alg\":\"EdDSA\",\"jwk\":{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AA\"}}",
        "{\"alg\":\"EdDSA\",\"jku\":\"https://evil.example/jwks\"}",
        "{\"alg\":\"EdDSA\",\"x5u\":\"https://evil.example/cert\"}",
        "{\"alg\":\"EdDSA\",\"x5c\":[\"MIIB\"]}",
        "{\"alg\":\"EdDSA\",\"kid\":5}",
        "{\"alg\":\"EdDSA\",\"typ\":true}",
        "{\"alg\":\"EdDSA\",\"typ\":\"0123456789abcdef0123456789abcdef\"}", /* 32 > 31 */
        "[\"EdDSA\"]",
        "\"EdDSA\"",
        "{\"alg\":\"EdDSA\"} ",
        "{\"alg\":\"EdDSA\"}{}",
        "{\"alg\":\"EdDSA\",}",
        "{\"alg\":\"EdDSA\\u0000\"}",
        "{\"alg\":\"EdDSA\",\"kid\":\"a\\u0000b\"}",
        "{'alg':'EdDSA'}",
        "",
        "{\"alg\":\"Ed\xff\xfeSA\"}",
    };
    for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
        char *t = forge(ed, hdrs[i], "{}");
        nova_status st = nova_jws_parse(t, strlen(t), &jws);
        /* A trailing space is valid JSON to jansson; the only header we accept of these. */
        if (i == 14) {
            assert_int_equal(st, NOVA_OK);
            assert_int_equal(nova_jws_verify(&jws, ed), NOVA_OK);
            nova_jws_clear(&jws);
        } else if (st != NOVA_INVALID) {
            fail_msg("header #%zu accepted: %s", i, hdrs[i]);
        }
        free(t);
    }
    /* Unknown members are ignored; kid of 127 bytes fits, 128 does not. */
    char hdr[300], kid[129];
    memset(kid, 'k', 128);
    kid[128] = '\0';
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"zzz\":[1,{}],\"kid\":\"%s\"}", kid);
    char *t = forge(ed, hdr, "{}");
    assert_int_equal(nova_jws_parse(t, strlen(t), &jws), NOVA_INVALID);
    free(t);
    kid[127] = '\0';
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"zzz\":[1,{}],\"kid\":\"%s\"}", kid);
    t = forge(ed, hdr, "{}");
    assert_int_equal(nova_jws_parse(t, strlen(t), &jws), NOVA_OK);
    assert_string_equal(jws.kid, kid);
    assert_int_equal(nova_jws_verify(&jws, ed), NOVA_OK);
    nova_jws_clear(&jws);
    free(t);
    nova_key_free(ed);
}

static void test_jws_structure(void **state)
{
    (void)state;
    nova_key_t *ed = jwk_key(rfc8037_pub);
    nova_jws_t jws;
    char tok[512];
    const char *h = "eyJhbGciOiJFZERTQSJ9", *p = "RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc",
               *s = strrchr(rfc8037_jws, '.') + 1;

    const char *bad[] = {
        "",
        ".",
        "..",
        "...",
        "eyJhbGciOiJFZERTQSJ9",
        "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc", /* 2 parts */
        "eyJhbGciOiJFZERTQSJ9..",
        "eyJhbGciOiJub25lIn0..",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(nova_jws_parse(bad[i], strlen(bad[i]), &jws), NOVA_INVALID);
    assert_int_equal(nova_jws_parse(NULL, 0, &jws), NOVA_INVALID);

    /* 4 and 5 parts (JWE has 5). */
    snprintf(tok, sizeof(tok), "%s.%s.%s.", h, p, s);
    assert_int_equal(nova_jws_parse(tok, strlen(tok), &jws), NOVA_INVALID);
    snprintf(tok, sizeof(tok), "%s.%s.%s.%s", h, p, s, s);
    assert_int_equal(nova_jws_parse(tok, strlen(tok), &jws), NOVA_INVALID);
    snprintf(tok, sizeof(tok), "%s.%s.%s.%s.%s", h, p, p, p, s);
    assert_int_equal(nova_jws_parse(tok, strlen(tok), &jws), NOVA_INVALID);
    /* Bad base64url: padding, standard alphabet, whitespace, non-canonical bits. */
    snprintf(tok, sizeof(tok), "%s=.%s.%s", h, p, s);
    assert_int_equal(nova_jws_parse(tok, strlen(tok), &jws), NOVA_INVALID);
    snprintf(tok, sizeof(tok), "%s.%s=.%s", h, p, s);
    assert_int_equal(nova_jws_parse(tok, strlen(tok), &jws), NOVA_INVALID);
    snprintf(tok, sizeof(tok), "%s.%s.%s==", h, p, s);
    assert_int_equal(nova_jws_parse(tok, strlen(tok), &jws), NOVA_INVALID);
    snprintf(tok, sizeof(tok), "%s.%s.%s", h, p, s);
    tok[strlen(tok) - 6] = '+'; /* '-' -> '+' style substitution */
    assert_int_equal(nova_jws_parse(tok, strlen(tok), &jws), NOVA_INVALID);
    snprintf(tok, sizeof(tok), "%s.%s .%s", h, p, s);
    assert_int_equal(nova_jws_parse(tok, strlen(tok), &jws), NOVA_INVALID);
    snprintf(tok, sizeof(tok), "%s.%s.%s\n", h, p, s);
    assert_int_equal(nova_jws_parse(tok, strlen(tok), &jws), NOVA_INVALID);
    snprintf(tok, sizeof(tok), "%s.%.34sd.%s", h, p, s); /* "...bmc" -> "...bmd": low bits set */
    assert_int_equal(nova_jws_parse(tok, strlen(tok), &jws), NOVA_INVALID);
    snprintf(tok, sizeof(tok), "%s.%s.%s", h, p, s);
    tok[strlen(tok) - 1] = 'h'; /* last sig char "g" -> "h": non-canonical */
    assert_int_equal(nova_jws_parse(tok, strlen(tok), &jws), NOVA_INVALID);
    /* A NUL inside the given length. */
    snprintf(tok, sizeof(tok), "%s.%s.%s", h, p, s);
    size_t n = strlen(tok);
    tok[5] = '\0';
    assert_int_equal(nova_jws_parse(tok, n, &jws), NOVA_INVALID);

    /* Signature of the wrong size: truncated, extended, DER-encoded. */
    snprintf(tok, sizeof(tok), "%s.%s.%.84s", h, p, s);
    assert_int_equal(nova_jws_parse(tok, strlen(tok), &jws), NOVA_INVALID);
    snprintf(tok, sizeof(tok), "%s.%s.%sAAAA", h, p, s);
    assert_int_equal(nova_jws_parse(tok, strlen(tok), &jws), NOVA_INVALID);

    /* The length given is what counts, not the NUL. */
    snprintf(tok, sizeof(tok), "%s.%s.%sgarbage", h, p, s);
    assert_int_equal(nova_jws_parse(tok, strlen(rfc8037_jws), &jws), NOVA_OK);
    assert_int_equal(nova_jws_verify(&jws, ed), NOVA_OK);
    nova_jws_clear(&jws);

    /* Empty payload is a legal JWS. */
    nova_key_t *priv = jwk_key(rfc8037_jwk);
    nova_buf_t b;
    nova_buf_init(&b);
    assert_int_equal(nova_jws_sign(priv, NULL, NULL, 0, &b), NOVA_OK);
    assert_int_equal(nova_jws_parse(b.data, b.len, &jws), NOVA_OK);
    assert_int_equal(jws.payload_len, 0);
    assert_string_equal(jws.payload, "");
    assert_int_equal(nova_jws_verify(&jws, ed), NOVA_OK);
    nova_jws_clear(&jws);
    nova_buf_free(&b);
    nova_key_free(priv);
    nova_key_free(ed);
}

static void test_jws_tamper(void **state)
{
    (void)state;
    nova_key_t *keys[] = {jwk_key(rfc8037_jwk), jwk_key(rfc7515_jwk)};
    for (size_t i = 0; i < 2; i++) {
        char *tok = sign_str(keys[i], "JWT", "{\"sub\":\"alice\",\"admin\":false}");
        assert_int_equal(parse_verify(tok, keys[i]), NOVA_OK);
        size_t n = strlen(tok), dot1 = (size_t)(strchr(tok, '.') - tok),
               dot2 = (size_t)(strrchr(tok, '.') - tok);
        /* Every single-character change in header, payload or signature must fail, at parse
         * (bad encoding or header) or at verify (bad signature). */
        for (size_t pos = 0; pos < n; pos++) {
            if (pos == dot1 || pos == dot2)
                continue;
            char save = tok[pos];
            tok[pos] = save == 'A' ? 'B' : 'A';
            nova_status st = parse_verify(tok, keys[i]);
            if (st == NOVA_OK)
                fail_msg("alg %zu: change at %zu of %zu verified", i, pos, n);
            tok[pos] = save;
        }
        /* A swapped payload with the original signature. */
        char *other = sign_str(keys[i], "JWT", "{\"sub\":\"alice\",\"admin\":true}");
        char mix[1024];
        snprintf(mix, sizeof(mix), "%.*s%s", (int)(strrchr(other, '.') - other), other, tok + dot2);
        assert_int_equal(parse_verify(mix, keys[i]), NOVA_UNAUTHORIZED);
        free(other);
        free(tok);
    }
    /* ES256 signatures with r or s out of range: zero, all ones (> n). */
    nova_key_t *es = keys[1];
    const char *hp = "eyJhbGciOiJFUzI1NiJ9.e30";
    uint8_t sig[64];
    char enc[100], tok[256];
    const uint8_t fills[][2] = {{0x00, 0x00}, {0xff, 0xff}, {0x00, 0x01}, {0x01, 0x00}};
    for (size_t i = 0; i < 4; i++) {
        memset(sig, fills[i][0], 32);
        memset(sig + 32, fills[i][1], 32);
        nova_b64url_encode(sig, sizeof(sig), enc);
        snprintf(tok, sizeof(tok), "%s.%s", hp, enc);
        assert_int_equal(parse_verify(tok, es), NOVA_UNAUTHORIZED);
    }
    /* Ed25519 all-zero signature. */
    memset(sig, 0, sizeof(sig));
    nova_b64url_encode(sig, sizeof(sig), enc);
    snprintf(tok, sizeof(tok), "eyJhbGciOiJFZERTQSJ9.e30.%s", enc);
    assert_int_equal(parse_verify(tok, keys[0]), NOVA_UNAUTHORIZED);
    nova_key_free(keys[0]);
    nova_key_free(keys[1]);
}

static void test_jws_sizes(void **state)
{
    (void)state;
    nova_key_t *k = jwk_key(rfc8037_jwk);
    nova_jws_t jws;
    /* A payload that makes the token just fit, then one byte more. */
    size_t plen = 16384 - 20 - 2 - 86; /* header "eyJhbGciOiJFZERTQSJ9" is 20 chars */
    plen = plen / 4 * 3;
    char *payload = malloc(plen + 4);
    memset(payload, 'a', plen + 3);
    payload[plen] = '\0';
    nova_buf_t b;
    nova_buf_init(&b);
    assert_int_equal(nova_jws_sign(k, NULL, payload, plen, &b), NOVA_OK);
    assert_true(b.len <= 16384);
    assert_int_equal(parse_verify(b.data, k), NOVA_OK);
    nova_buf_reset(&b);
    assert_int_equal(nova_jws_sign(k, NULL, payload, plen + 3, &b), NOVA_OK);
    assert_true(b.len > 16384);
    assert_int_equal(nova_jws_parse(b.data, b.len, &jws), NOVA_TOO_LARGE);
    nova_buf_free(&b);
    free(payload);

    /* An oversized header (over 1 KiB encoded) in an otherwise small token. */
    char hdr[1200];
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"pad\":\"%0800d\"}", 0);
    char *t = forge(k, hdr, "{}");
    assert_int_equal(nova_jws_parse(t, strlen(t), &jws), NOVA_INVALID);
    free(t);

    /* typ and kid that the parser could not hold are refused at signing. */
    nova_buf_init(&b);
    assert_int_equal(nova_jws_sign(k, "0123456789abcdef0123456789abcdef", "{}", 2, &b),
                     NOVA_INVALID);
    assert_int_equal(nova_jws_sign(k, "0123456789abcdef0123456789abcde", "{}", 2, &b), NOVA_OK);
    nova_buf_free(&b);
    nova_key_free(k);
}

static void test_jws_sign_appends(void **state)
{
    (void)state;
    nova_key_t *k = jwk_key(rfc8037_jwk);
    nova_buf_t b;
    nova_buf_init(&b);
    assert_int_equal(nova_buf_append_cstr(&b, "Bearer "), NOVA_OK);
    assert_int_equal(nova_jws_sign(k, NULL, rfc8037_payload, strlen(rfc8037_payload), &b), NOVA_OK);
    assert_int_equal(strncmp(b.data, "Bearer ", 7), 0);
    assert_string_equal(b.data + 7, rfc8037_jws);
    nova_buf_free(&b);
    nova_key_free(k);
}

/* Random mutations of valid tokens: nothing crashes, nothing forged verifies. */
static void test_jws_mutation_smoke(void **state)
{
    (void)state;
    nova_key_t *keys[] = {jwk_key(rfc8037_jwk), jwk_key(rfc7515_pub)};
    const char *toks[] = {rfc8037_jws, rfc7515_jws};
    const char alphabet[] = "AZaz09-_.=+/ \"{}";
    uint32_t seed = 12345;
    char buf[1024];
    for (int iter = 0; iter < 20000; iter++) {
        size_t which = (size_t)iter & 1, n = strlen(toks[which]);
        memcpy(buf, toks[which], n + 1);
        int edits = 1 + (int)((seed = seed * 1103515245 + 12345) >> 16) % 4;
        for (int e = 0; e < edits && n > 1; e++) {
            seed = seed * 1103515245 + 12345;
            size_t pos = (seed >> 8) % n;
            switch ((seed >> 4) % 3) {
            case 0:
                buf[pos] = alphabet[(seed >> 20) % (sizeof(alphabet) - 1)];
                break;
            case 1: /* delete */
                memmove(buf + pos, buf + pos + 1, n - pos);
                n--;
                break;
            default: /* truncate */
                n = pos + 1;
                buf[n] = '\0';
            }
        }
        nova_jws_t jws;
        if (nova_jws_parse(buf, n, &jws) == NOVA_OK) {
            nova_status st = nova_jws_verify(&jws, keys[which]);
            if (st == NOVA_OK && (n != strlen(toks[which]) || memcmp(buf, toks[which], n) != 0))
                fail_msg("mutated token verified: %.*s", (int)n, buf);
            nova_jws_clear(&jws);
        }
    }
    nova_key_free(keys[0]);
    nova_key_free(keys[1]);
}

/* One key, many threads signing and verifying at once. */
struct thread_arg {
    const nova_key_t *k;
    int failures;
};

static void *thread_main(void *p)
{
    struct thread_arg *a = p;
    for (int i = 0; i < 200; i++) {
        nova_buf_t b;
        nova_jws_t jws;
        char payload[32];
        nova_buf_init(&b);
        snprintf(payload, sizeof(payload), "{\"n\":%d}", i);
        if (nova_jws_sign(a->k, NULL, payload, strlen(payload), &b) != NOVA_OK ||
            nova_jws_parse(b.data, b.len, &jws) != NOVA_OK) {
            a->failures++;
        } else {
            if (nova_jws_verify(&jws, a->k) != NOVA_OK || strcmp(jws.payload, payload) != 0)
                a->failures++;
            nova_jws_clear(&jws);
        }
        nova_buf_free(&b);
    }
    return NULL;
}

static void test_key_shared_between_threads(void **state)
{
    (void)state;
    nova_jws_alg algs[] = {NOVA_JWS_EDDSA, NOVA_JWS_ES256};
    for (size_t i = 0; i < 2; i++) {
        nova_key_t *k = gen_key(algs[i], "shared");
        pthread_t th[8];
        struct thread_arg args[8];
        for (int t = 0; t < 8; t++) {
            args[t] = (struct thread_arg){k, 0};
            assert_int_equal(pthread_create(&th[t], NULL, thread_main, &args[t]), 0);
        }
        for (int t = 0; t < 8; t++) {
            pthread_join(th[t], NULL);
            assert_int_equal(args[t].failures, 0);
        }
        nova_key_free(k);
    }
}

/* ---- AEAD and secrets ---------------------------------------------------------------- */

static void test_aead(void **state)
{
    (void)state;
    uint8_t key[32], key2[32];
    for (int i = 0; i < 32; i++) {
        key[i] = (uint8_t)i;
        key2[i] = (uint8_t)(i + 1);
    }
    const char *pt = "refresh-token-family:42", *aad = "tenant=t1";
    nova_buf_t ct, out;
    nova_buf_init(&ct);
    nova_buf_init(&out);
    assert_int_equal(nova_aead_seal(key, aad, strlen(aad), pt, strlen(pt), &ct), NOVA_OK);
    assert_int_equal(ct.len, 12 + strlen(pt) + 16);
    assert_int_equal(nova_aead_open(key, aad, strlen(aad), ct.data, ct.len, &out), NOVA_OK);
    assert_int_equal(out.len, strlen(pt));
    assert_string_equal(out.data, pt);

    /* Fresh nonce each time. */
    nova_buf_t ct2;
    nova_buf_init(&ct2);
    assert_int_equal(nova_aead_seal(key, aad, strlen(aad), pt, strlen(pt), &ct2), NOVA_OK);
    assert_memory_not_equal(ct.data, ct2.data, 12);
    nova_buf_free(&ct2);

    /* Wrong aad, missing aad, wrong key. Output untouched on failure. */
    nova_buf_reset(&out);
    assert_int_equal(nova_buf_append_cstr(&out, "keep"), NOVA_OK);
    assert_int_equal(nova_aead_open(key, "tenant=t2", 9, ct.data, ct.len, &out), NOVA_UNAUTHORIZED);
    assert_int_equal(nova_aead_open(key, NULL, 0, ct.data, ct.len, &out), NOVA_UNAUTHORIZED);
    assert_int_equal(nova_aead_open(key2, aad, strlen(aad), ct.data, ct.len, &out),
                     NOVA_UNAUTHORIZED);
    assert_int_equal(out.len, 4);
    assert_string_equal(out.data, "keep");
    /* Every flipped bit (nonce, ciphertext, tag) is caught. */
    for (size_t i = 0; i < ct.len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            ct.data[i] ^= (char)(1 << bit);
            assert_int_equal(nova_aead_open(key, aad, strlen(aad), ct.data, ct.len, &out),
                             NOVA_UNAUTHORIZED);
            ct.data[i] ^= (char)(1 << bit);
        }
    }
    assert_string_equal(out.data, "keep");
    /* Truncated below nonce+tag, or by one byte. */
    assert_int_equal(nova_aead_open(key, aad, strlen(aad), ct.data, 27, &out), NOVA_INVALID);
    assert_int_equal(nova_aead_open(key, aad, strlen(aad), ct.data, ct.len - 1, &out),
                     NOVA_UNAUTHORIZED);

    /* Empty plaintext, no aad: still authenticated. */
    nova_buf_reset(&ct);
    nova_buf_reset(&out);
    assert_int_equal(nova_aead_seal(key, NULL, 0, NULL, 0, &ct), NOVA_OK);
    assert_int_equal(ct.len, 28);
    assert_int_equal(nova_aead_open(key, NULL, 0, ct.data, ct.len, &out), NOVA_OK);
    assert_int_equal(out.len, 0);
    assert_int_equal(nova_aead_open(key, "x", 1, ct.data, ct.len, &out), NOVA_UNAUTHORIZED);
    nova_buf_free(&ct);
    nova_buf_free(&out);
}

static void test_aead_known_answer(void **state)
{
    (void)state;
    /* McGrew & Viega, "The Galois/Counter Mode of Operation", AES-256 test cases 13 and 14
     * (zero key, zero 96-bit IV), laid out as nonce || ciphertext || tag. */
    static const uint8_t zero_key[32];
    uint8_t msg[64];
    size_t n;
    nova_buf_t out;
    nova_buf_init(&out);

    hex_to_bin("000000000000000000000000"
               "530f8afbc74536b9a963b4f1c4cb738b",
               msg, &n);
    assert_int_equal(nova_aead_open(zero_key, NULL, 0, msg, n, &out), NOVA_OK);
    assert_int_equal(out.len, 0);

    hex_to_bin("000000000000000000000000"
               "cea7403d4d606b6e074ec5d3baf39d18"
               "d0d1c8a799996bf0265b98b5d48ab919",
               msg, &n);
    assert_int_equal(nova_aead_open(zero_key, NULL, 0, msg, n, &out), NOVA_OK);
    assert_int_equal(out.len, 16);
    for (size_t i = 0; i < 16; i++)
        assert_int_equal(out.data[i], 0);
    msg[n - 1] ^= 1;
    nova_buf_reset(&out);
    assert_int_equal(nova_aead_open(zero_key, NULL, 0, msg, n, &out), NOVA_UNAUTHORIZED);
    assert_int_equal(out.len, 0);
    nova_buf_free(&out);
}

static void test_secret_digest(void **state)
{
    (void)state;
    uint8_t pepper[32], pepper2[32];
    for (int i = 0; i < 32; i++) {
        pepper[i] = (uint8_t)i;
        pepper2[i] = (uint8_t)(31 - i);
    }
    const char *secret = "cs_secret_value";
    char hex[65];
    nova_secret_digest(pepper, secret, strlen(secret), hex);
    /* hex(HMAC-SHA-256(00 01 .. 1f, "cs_secret_value")), computed independently. */
    assert_string_equal(hex, "0c570b262bcd0d9f3b9beed9f8a785a30bad595cedc85c62c40a4a9985dbb7f0");
    assert_true(nova_secret_verify(pepper, secret, strlen(secret), hex));
    assert_false(nova_secret_verify(pepper, "cs_secret_valuf", 15, hex));
    assert_false(nova_secret_verify(pepper, secret, strlen(secret) - 1, hex));
    assert_false(nova_secret_verify(pepper2, secret, strlen(secret), hex));
    assert_false(nova_secret_verify(pepper, secret, strlen(secret), NULL));
    assert_false(nova_secret_verify(pepper, secret, strlen(secret), ""));
    char bad[80];
    snprintf(bad, sizeof(bad), "%.63s", hex); /* too short */
    assert_false(nova_secret_verify(pepper, secret, strlen(secret), bad));
    snprintf(bad, sizeof(bad), "%s0", hex); /* too long */
    assert_false(nova_secret_verify(pepper, secret, strlen(secret), bad));
    snprintf(bad, sizeof(bad), "%s", hex);
    bad[0] = '1'; /* '0' -> '1' */
    assert_false(nova_secret_verify(pepper, secret, strlen(secret), bad));
    /* Empty secret is still a well-defined digest. */
    nova_secret_digest(pepper, "", 0, hex);
    assert_int_equal(strlen(hex), 64);
    assert_true(nova_secret_verify(pepper, "", 0, hex));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alg_allow_list),
        cmocka_unit_test(test_rs256_opt_in),
        cmocka_unit_test(test_ps256_opt_in),
        cmocka_unit_test(test_rfc8037_sign_exact),
        cmocka_unit_test(test_rfc8037_verify),
        cmocka_unit_test(test_rfc8037_public_jwk),
        cmocka_unit_test(test_rfc7515_es256_verify),
        cmocka_unit_test(test_rfc7515_es256_sign_roundtrip),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_hmac_rfc4231),
        cmocka_unit_test(test_hkdf_rfc5869),
        cmocka_unit_test(test_key_generate_and_sign),
        cmocka_unit_test(test_key_pkcs8_roundtrip),
        cmocka_unit_test(test_key_pkcs8_p384_rejected),
        cmocka_unit_test(test_jwk_roundtrip_generated),
        cmocka_unit_test(test_jwk_padded_coordinates),
        cmocka_unit_test(test_jwk_rejects),
        cmocka_unit_test(test_jws_alg_confusion),
        cmocka_unit_test(test_jws_rejected_algs),
        cmocka_unit_test(test_jws_bad_headers),
        cmocka_unit_test(test_jws_structure),
        cmocka_unit_test(test_jws_tamper),
        cmocka_unit_test(test_jws_sizes),
        cmocka_unit_test(test_jws_sign_appends),
        cmocka_unit_test(test_jws_mutation_smoke),
        cmocka_unit_test(test_key_shared_between_threads),
        cmocka_unit_test(test_aead),
        cmocka_unit_test(test_aead_known_answer),
        cmocka_unit_test(test_secret_digest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
