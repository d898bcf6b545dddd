/*
 * key.c: nova_key_t, the Ed25519 and P-256 keys JWS signs with. Generation, PKCS#8 DER, and
 * JWK (RFC 7517, RFC 7518 §6.2, RFC 8037 §2) in both directions; RSA public keys (RFC 7518
 * §6.3.1) from a JWK only, to verify identity providers' RS256 ID tokens.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "crypto_internal.h"

#define KEY_DER_MAX 4096  /* a PKCS#8 Ed25519 or P-256 key is well under 200 bytes */
#define KEY_JWK_MAX 16384 /* a JWK may carry an x5c chain we ignore, hence the slack */
#define KEY_COORD_LEN 32  /* Ed25519 keys, P-256 coordinates and scalars */
#define KEY_P256_GROUP "prime256v1"
#define KEY_RSA_MIN_BITS 2048
#define KEY_RSA_MAX_BITS 4096
#define KEY_RSA_E_MAX 8 /* public exponents are 3 bytes (65537) in practice */

/* A kid fits nova_jws_t and is printable ASCII, so every header and JWK we write with it is
 * valid JSON and the kid survives a round trip unchanged. */
static nova_status check_kid(const char *kid, size_t len)
{
    if (len > NOVA_CRYPTO_KID_MAX)
        return NOVA_INVALID;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)kid[i] < 0x20 || (unsigned char)kid[i] > 0x7e)
            return NOVA_INVALID;
    return NOVA_OK;
}

/* True when pkey is the kind of key alg signs with. */
static bool pkey_fits_alg(EVP_PKEY *pkey, nova_jws_alg alg)
{
    switch (alg) {
    case NOVA_JWS_EDDSA:
        return EVP_PKEY_is_a(pkey, "ED25519");
    case NOVA_JWS_RS256:
    case NOVA_JWS_PS256:
        return EVP_PKEY_is_a(pkey, "RSA") && EVP_PKEY_get_bits(pkey) >= KEY_RSA_MIN_BITS &&
               EVP_PKEY_get_bits(pkey) <= KEY_RSA_MAX_BITS;
    case NOVA_JWS_ES256: {
        char group[64];
        size_t len = 0;
        if (!EVP_PKEY_is_a(pkey, "EC"))
            return false;
        if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &len) != 1)
            return false;
        return strcmp(group, KEY_P256_GROUP) == 0;
    }
    }
    return false;
}

nova_status nova_key_wrap(nova_jws_alg alg, const char *kid, EVP_PKEY *pkey, bool has_private,
                          nova_key_t **out)
{
    nova_status st = NOVA_INVALID;
    EVP_PKEY_CTX *cctx = NULL;
    nova_key_t *k = NULL;

    *out = NULL;
    if (kid == NULL)
        kid = "";
    if (pkey == NULL || check_kid(kid, strlen(kid)) != NOVA_OK || !pkey_fits_alg(pkey, alg))
        goto end;
    /* Full validation (point on curve, scalar range, private matches public) once here, so
     * that nothing downstream has to wonder about a key it was handed. */
    if ((cctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL) {
        st = NOVA_NOMEM;
        goto end;
    }
    if ((has_private ? EVP_PKEY_check(cctx) : EVP_PKEY_public_check(cctx)) != 1)
        goto end;
    if ((k = calloc(1, sizeof(*k))) == NULL) {
        st = NOVA_NOMEM;
        goto end;
    }
    k->alg = alg;
    k->has_private = has_private;
    k->pkey = pkey;
    pkey = NULL;
    memcpy(k->kid, kid, strlen(kid) + 1);
    *out = k;
    st = NOVA_OK;

end:
    EVP_PKEY_CTX_free(cctx);
    EVP_PKEY_free(pkey);
    if (st != NOVA_OK)
        ERR_clear_error();
    return st;
}

nova_status nova_key_generate(nova_jws_alg alg, const char *kid, nova_key_t **out)
{
    EVP_PKEY *pkey = NULL;

    *out = NULL;
    switch (alg) {
    case NOVA_JWS_EDDSA:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        break;
    case NOVA_JWS_ES256:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", KEY_P256_GROUP);
        break;
    default:
        return NOVA_INVALID;
    }
    if (pkey == NULL) {
        ERR_clear_error();
        return NOVA_INTERNAL;
    }
    return nova_key_wrap(alg, kid, pkey, true, out);
}

nova_status nova_key_export_private(const nova_key_t *k, nova_buf_t *out)
{
    nova_status st = NOVA_INTERNAL;
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    unsigned char *der = NULL;
    int len = 0;

    if (!k->has_private)
        return NOVA_INVALID;
    if ((p8 = EVP_PKEY2PKCS8(k->pkey)) == NULL)
        goto end;
    if ((len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der)) <= 0)
        goto end;
    st = nova_buf_append(out, der, (size_t)len);

end:
    if (der != NULL)
        OPENSSL_clear_free(der, (size_t)len);
    PKCS8_PRIV_KEY_INFO_free(p8);
    ERR_clear_error();
    return st;
}

nova_status nova_key_import_private(nova_jws_alg alg, const char *kid, const uint8_t *der, size_t n,
                                    nova_key_t **out)
{
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    EVP_PKEY *pkey = NULL;
    const unsigned char *p = der;

    *out = NULL;
    if (der == NULL || n == 0 || n > KEY_DER_MAX || alg == NOVA_JWS_RS256 || alg == NOVA_JWS_PS256)
        return NOVA_INVALID; /* Nova never signs with RSA */
    p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)n);
    /* Trailing bytes after the DER structure mean the input is not what we think it is. */
    if (p8 != NULL && p == der + n)
        pkey = EVP_PKCS82PKEY(p8);
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (pkey == NULL) {
        ERR_clear_error();
        return NOVA_INVALID;
    }
    return nova_key_wrap(alg, kid, pkey, true, out);
}

/* Appends "name":"<base64url of bin>" (with a leading comma). */
static nova_status jwk_put_b64(nova_buf_t *out, const char *name, const uint8_t *bin, size_t n)
{
    char enc[64];
    nova_b64url_encode(bin, n, enc);
    return nova_buf_printf(out, ",\"%s\":\"%s\"", name, enc);
}

/* The RSA public JWK: {"kty","n","e",...}, or RFC 7638's canonical {"e","kty","n"}. */
static nova_status put_public_rsa(const nova_key_t *k, nova_buf_t *out, bool canonical)
{
    nova_status st = NOVA_INTERNAL;
    BIGNUM *bn = NULL, *be = NULL;
    uint8_t nb[KEY_RSA_MAX_BITS / 8], eb[KEY_RSA_E_MAX];
    char n64[(KEY_RSA_MAX_BITS / 8 + 2) / 3 * 4 + 1], e64[(KEY_RSA_E_MAX + 2) / 3 * 4 + 1];
    if (EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_N, &bn) != 1 ||
        EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_E, &be) != 1 ||
        BN_num_bytes(bn) > (int)sizeof(nb) || BN_num_bytes(be) > (int)sizeof(eb))
        goto end;
    n64[nova_b64url_encode(nb, (size_t)BN_bn2bin(bn, nb), n64)] = '\0';
    e64[nova_b64url_encode(eb, (size_t)BN_bn2bin(be, eb), e64)] = '\0';
    if (canonical) {
        st = nova_buf_printf(out, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", e64, n64);
        goto end;
    }
    if ((st = nova_buf_printf(out, "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"", n64, e64)) !=
        NOVA_OK)
        goto end;
    if (k->kid[0] != '\0' &&
        ((st = nova_buf_append_cstr(out, ",\"kid\":\"")) != NOVA_OK ||
         (st = nova_buf_append_json_escaped(out, k->kid, strlen(k->kid))) != NOVA_OK ||
         (st = nova_buf_append_cstr(out, "\"")) != NOVA_OK))
        goto end;
    st = nova_buf_printf(out, ",\"alg\":\"%s\",\"use\":\"sig\"}", nova_jws_alg_name(k->alg));
end:
    BN_free(bn);
    BN_free(be);
    return st;
}

/* The public members. canonical: only the required members in lexicographic order (RFC 7638
 * §3.2: crv, kty, x[, y]), else the JWK Nova publishes (kty, crv, x[, y], kid, alg, use). */
static nova_status put_public(const nova_key_t *k, nova_buf_t *out, bool canonical)
{
    nova_status st = NOVA_INTERNAL;
    size_t start = out->len;
    uint8_t x[KEY_COORD_LEN], y[KEY_COORD_LEN];
    BIGNUM *bx = NULL, *by = NULL;
    bool ec = k->alg != NOVA_JWS_EDDSA;

    if (k->alg == NOVA_JWS_RS256 || k->alg == NOVA_JWS_PS256) {
        st = put_public_rsa(k, out, canonical);
        goto end;
    }
    if (!ec) {
        size_t len = sizeof(x);
        if (EVP_PKEY_get_raw_public_key(k->pkey, x, &len) != 1 || len != sizeof(x))
            goto end;
    } else {
        /* RFC 7518 §6.2.1.2: coordinates are the full field size, left-padded with zeros. */
        if (EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bx) != 1 ||
            EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &by) != 1)
            goto end;
        if (BN_bn2binpad(bx, x, sizeof(x)) != sizeof(x) ||
            BN_bn2binpad(by, y, sizeof(y)) != sizeof(y))
            goto end;
    }
    if (canonical)
        st = nova_buf_append_cstr(out, ec ? "{\"crv\":\"P-256\",\"kty\":\"EC\""
                                          : "{\"crv\":\"Ed25519\",\"kty\":\"OKP\"");
    else
        st = nova_buf_append_cstr(out, ec ? "{\"kty\":\"EC\",\"crv\":\"P-256\""
                                          : "{\"kty\":\"OKP\",\"crv\":\"Ed25519\"");
    if (st != NOVA_OK || (st = jwk_put_b64(out, "x", x, sizeof(x))) != NOVA_OK)
        goto end;
    if (ec && (st = jwk_put_b64(out, "y", y, sizeof(y))) != NOVA_OK)
        goto end;
    if (canonical) {
        st = nova_buf_append_cstr(out, "}");
        goto end;
    }
    if (k->kid[0] != '\0') {
        if ((st = nova_buf_append_cstr(out, ",\"kid\":\"")) != NOVA_OK ||
            (st = nova_buf_append_json_escaped(out, k->kid, strlen(k->kid))) != NOVA_OK ||
            (st = nova_buf_append_cstr(out, "\"")) != NOVA_OK)
            goto end;
    }
    st = nova_buf_printf(out, ",\"alg\":\"%s\",\"use\":\"sig\"}", nova_jws_alg_name(k->alg));

end:
    BN_free(bx);
    BN_free(by);
    if (st != NOVA_OK) {
        ERR_clear_error();
        if (out->data != NULL) {
            out->len = start;
            out->data[start] = '\0';
        }
    }
    return st;
}

nova_status nova_key_public_jwk(const nova_key_t *k, nova_buf_t *out)
{
    return put_public(k, out, false);
}

nova_status nova_key_thumbprint(const nova_key_t *k, char out[44])
{
    nova_buf_t b;
    uint8_t d[32];

    nova_buf_init(&b);
    nova_status st = put_public(k, &b, true);
    if (st == NOVA_OK) {
        nova_sha256(b.data, b.len, d);
        nova_b64url_encode(d, sizeof(d), out);
    }
    nova_buf_free(&b);
    return st;
}

/* Reads the base64url member name of a JWK, which must decode to exactly len bytes. Sets
 * *present; a missing member is not an error here, a malformed one is. */
static nova_status jwk_get_bytes(json_t *jwk, const char *name, uint8_t *out, size_t len,
                                 bool *present)
{
    uint8_t tmp[KEY_COORD_LEN + 3];
    size_t got = 0;
    json_t *v = json_object_get(jwk, name);

    *present = v != NULL;
    if (v == NULL)
        return NOVA_OK;
    if (!json_is_string(v) || json_string_length(v) != nova_b64url_encoded_len(len))
        return NOVA_INVALID;
    if (nova_b64url_decode(json_string_value(v), json_string_length(v), tmp, &got) != NOVA_OK ||
        got != len) {
        OPENSSL_cleanse(tmp, sizeof(tmp));
        return NOVA_INVALID;
    }
    memcpy(out, tmp, len);
    OPENSSL_cleanse(tmp, sizeof(tmp));
    return NOVA_OK;
}

/* Optional string member that, when present, must equal want. */
static bool jwk_member_is(json_t *jwk, const char *name, const char *want)
{
    json_t *v = json_object_get(jwk, name);
    return v == NULL || (json_is_string(v) && strcmp(json_string_value(v), want) == 0);
}

static EVP_PKEY *okp_from_jwk(const uint8_t x[KEY_COORD_LEN], const uint8_t *d)
{
    EVP_PKEY *pkey;
    uint8_t pub[KEY_COORD_LEN];
    size_t len = sizeof(pub);

    if (d == NULL)
        return EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, x, KEY_COORD_LEN);
    /* The public key is derived from d; it has to be the x the JWK claims. */
    pkey = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, d, KEY_COORD_LEN);
    if (pkey != NULL && (EVP_PKEY_get_raw_public_key(pkey, pub, &len) != 1 || len != sizeof(pub) ||
                         memcmp(pub, x, sizeof(pub)) != 0)) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    return pkey;
}

static EVP_PKEY *ec_from_jwk(const uint8_t x[KEY_COORD_LEN], const uint8_t y[KEY_COORD_LEN],
                             const uint8_t *d)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    BIGNUM *priv = NULL;
    uint8_t pub[1 + 2 * KEY_COORD_LEN];

    pub[0] = 0x04; /* uncompressed point */
    memcpy(pub + 1, x, KEY_COORD_LEN);
    memcpy(pub + 1 + KEY_COORD_LEN, y, KEY_COORD_LEN);
    if ((bld = OSSL_PARAM_BLD_new()) == NULL)
        goto end;
    if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, KEY_P256_GROUP, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)))
        goto end;
    if (d != NULL) {
        if ((priv = BN_secure_new()) == NULL || BN_bin2bn(d, KEY_COORD_LEN, priv) == NULL ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv))
            goto end;
    }
    if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
        goto end;
    if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
        EVP_PKEY_fromdata_init(ctx) != 1)
        goto end;
    if (EVP_PKEY_fromdata(ctx, &pkey, d != NULL ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) !=
        1)
        pkey = NULL;

end:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(priv);
    return pkey;
}

/* An RSA public key from a JWK's n and e (base64url, unsigned big-endian); NULL when either
 * is missing, malformed or out of bounds, or the JWK carries any private member. */
static EVP_PKEY *rsa_from_jwk(json_t *jwk)
{
    static const char *const priv[] = {"d", "p", "q", "dp", "dq", "qi", "oth"};
    uint8_t nb[KEY_RSA_MAX_BITS / 8 + 3], eb[KEY_RSA_E_MAX + 3];
    size_t nl = 0, el = 0;
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    BIGNUM *bn = NULL, *be = NULL;
    for (size_t i = 0; i < sizeof(priv) / sizeof(priv[0]); i++)
        if (json_object_get(jwk, priv[i]))
            return NULL;
    json_t *n = json_object_get(jwk, "n"), *e = json_object_get(jwk, "e");
    if (!json_is_string(n) || !json_is_string(e) ||
        json_string_length(n) > nova_b64url_encoded_len(KEY_RSA_MAX_BITS / 8) ||
        json_string_length(e) > nova_b64url_encoded_len(KEY_RSA_E_MAX) ||
        nova_b64url_decode(json_string_value(n), json_string_length(n), nb, &nl) != NOVA_OK ||
        nova_b64url_decode(json_string_value(e), json_string_length(e), eb, &el) != NOVA_OK ||
        nl == 0 || el == 0 || nb[0] == 0 || eb[0] == 0 || nl > KEY_RSA_MAX_BITS / 8)
        return NULL;
    if ((bn = BN_bin2bn(nb, (int)nl, NULL)) == NULL ||
        (be = BN_bin2bn(eb, (int)el, NULL)) == NULL || (bld = OSSL_PARAM_BLD_new()) == NULL ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
        EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    return pkey;
}

nova_status nova_key_from_jwk(const char *json, size_t n, nova_key_t **out)
{
    nova_status st = NOVA_INVALID;
    json_t *jwk = NULL, *v;
    json_error_t err;
    nova_jws_alg alg;
    uint8_t x[KEY_COORD_LEN], y[KEY_COORD_LEN], d[KEY_COORD_LEN];
    bool has_x = false, has_y = false, has_d = false;
    const char *kty, *crv, *kid = "";
    EVP_PKEY *pkey = NULL;

    *out = NULL;
    if (json == NULL || n == 0)
        return NOVA_INVALID;
    if (n > KEY_JWK_MAX)
        return NOVA_TOO_LARGE;
    if ((jwk = json_loadb(json, n, JSON_REJECT_DUPLICATES, &err)) == NULL || !json_is_object(jwk))
        goto end;
    kty = json_string_value(json_object_get(jwk, "kty"));
    crv = json_string_value(json_object_get(jwk, "crv"));
    if (kty != NULL && strcmp(kty, "RSA") == 0) {
        /* An RSA key verifies RS256 when published for it or for no algorithm in particular
         * (many IdPs omit alg), PS256 only when published for PS256; for signatures. */
        nova_jws_alg ralg = jwk_member_is(jwk, "alg", "PS256") && json_object_get(jwk, "alg")
                                ? NOVA_JWS_PS256
                                : NOVA_JWS_RS256;
        if (crv || !jwk_member_is(jwk, "alg", nova_jws_alg_name(ralg)) ||
            !jwk_member_is(jwk, "use", "sig"))
            goto end;
        if ((v = json_object_get(jwk, "kid")) != NULL) {
            if (!json_is_string(v) ||
                check_kid(json_string_value(v), json_string_length(v)) != NOVA_OK)
                goto end;
            kid = json_string_value(v);
        }
        if ((pkey = rsa_from_jwk(jwk)) != NULL)
            st = nova_key_wrap(ralg, kid, pkey, false, out);
        goto end;
    }
    if (kty == NULL || crv == NULL)
        goto end;
    if (strcmp(kty, "OKP") == 0 && strcmp(crv, "Ed25519") == 0)
        alg = NOVA_JWS_EDDSA;
    else if (strcmp(kty, "EC") == 0 && strcmp(crv, "P-256") == 0)
        alg = NOVA_JWS_ES256;
    else
        goto end;
    /* A key published for another algorithm or for encryption is not ours to verify with. */
    if (!jwk_member_is(jwk, "alg", nova_jws_alg_name(alg)) || !jwk_member_is(jwk, "use", "sig"))
        goto end;
    if ((v = json_object_get(jwk, "kid")) != NULL) {
        if (!json_is_string(v) || check_kid(json_string_value(v), json_string_length(v)) != NOVA_OK)
            goto end;
        kid = json_string_value(v);
    }
    if (jwk_get_bytes(jwk, "x", x, sizeof(x), &has_x) != NOVA_OK ||
        jwk_get_bytes(jwk, "y", y, sizeof(y), &has_y) != NOVA_OK ||
        jwk_get_bytes(jwk, "d", d, sizeof(d), &has_d) != NOVA_OK)
        goto end;
    if (!has_x || has_y != (alg == NOVA_JWS_ES256))
        goto end;
    if (alg == NOVA_JWS_EDDSA)
        pkey = okp_from_jwk(x, has_d ? d : NULL);
    else
        pkey = ec_from_jwk(x, y, has_d ? d : NULL);
    if (pkey == NULL)
        goto end;
    st = nova_key_wrap(alg, kid, pkey, has_d, out);

end:
    OPENSSL_cleanse(d, sizeof(d));
    json_decref(jwk);
    if (st != NOVA_OK)
        ERR_clear_error();
    return st;
}

void nova_key_free(nova_key_t *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

const char *nova_key_kid(const nova_key_t *k)
{
    return k->kid;
}

nova_jws_alg nova_key_alg(const nova_key_t *k)
{
    return k->alg;
}

bool nova_key_has_private(const nova_key_t *k)
{
    return k->has_private;
}
