/*
 * sign.c: raw JWS signatures. Ed25519 signs the message itself (RFC 8032, no pre-hash);
 * ES256 signs SHA-256 of it and travels as R||S, 32 bytes each (RFC 7518 §3.4), which we
 * convert from and to the DER that OpenSSL speaks. RS256 (PKCS#1 v1.5) and PS256 (PSS) verify
 * identity providers' RSA signatures only.
 */
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "crypto_internal.h"

#define ES256_COORD 32
#define ES256_DER_MAX 80 /* SEQUENCE of two INTEGERs of up to 33 bytes: 72 at most */

/* The digest EVP_DigestSign/Verify should apply: none for Ed25519, which hashes itself. */
static const char *alg_digest(nova_jws_alg alg)
{
    return alg == NOVA_JWS_EDDSA ? NULL : "SHA256";
}

nova_status nova_crypto_sign_raw(const nova_key_t *k, const void *data, size_t n,
                                 uint8_t sig[NOVA_CRYPTO_SIG_LEN])
{
    nova_status st = NOVA_INTERNAL;
    EVP_MD_CTX *md = NULL;
    ECDSA_SIG *es = NULL;
    uint8_t der[ES256_DER_MAX];
    const unsigned char *p = der;
    size_t len;

    if (!k->has_private || k->alg == NOVA_JWS_RS256 || k->alg == NOVA_JWS_PS256)
        return NOVA_INVALID;
    if ((md = EVP_MD_CTX_new()) == NULL) {
        st = NOVA_NOMEM;
        goto end;
    }
    if (EVP_DigestSignInit_ex(md, NULL, alg_digest(k->alg), NULL, NULL, k->pkey, NULL) != 1)
        goto end;
    if (k->alg == NOVA_JWS_EDDSA) {
        len = NOVA_CRYPTO_SIG_LEN;
        if (EVP_DigestSign(md, sig, &len, data, n) != 1 || len != NOVA_CRYPTO_SIG_LEN)
            goto end;
    } else {
        len = sizeof(der);
        if (EVP_DigestSign(md, der, &len, data, n) != 1)
            goto end;
        if ((es = d2i_ECDSA_SIG(NULL, &p, (long)len)) == NULL)
            goto end;
        if (BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, ES256_COORD) != ES256_COORD ||
            BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + ES256_COORD, ES256_COORD) != ES256_COORD)
            goto end;
    }
    st = NOVA_OK;

end:
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(md);
    if (st != NOVA_OK)
        ERR_clear_error();
    return st;
}

/* R||S -> DER ECDSA-Sig-Value. Returns the DER length, 0 on failure. */
static size_t es256_to_der(const uint8_t *sig, uint8_t der[ES256_DER_MAX])
{
    ECDSA_SIG *es = NULL;
    BIGNUM *r = NULL, *s = NULL;
    unsigned char *p = der;
    int len = 0;

    if ((es = ECDSA_SIG_new()) == NULL)
        goto end;
    r = BN_bin2bn(sig, ES256_COORD, NULL);
    s = BN_bin2bn(sig + ES256_COORD, ES256_COORD, NULL);
    if (r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1)
        goto end;
    r = s = NULL; /* owned by es now */
    len = i2d_ECDSA_SIG(es, NULL);
    if (len <= 0 || len > ES256_DER_MAX || i2d_ECDSA_SIG(es, &p) != len)
        len = 0;

end:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return (size_t)len;
}

nova_status nova_crypto_verify_raw(const nova_key_t *k, const void *data, size_t n,
                                   const uint8_t *sig, size_t sig_len)
{
    nova_status st = NOVA_UNAUTHORIZED;
    EVP_MD_CTX *md = NULL;
    uint8_t der[ES256_DER_MAX];
    const uint8_t *s = sig;
    size_t slen = sig_len;

    /* EdDSA and ES256 have fixed-size signatures, RS256 the modulus size; anything else is
     * forged or truncated. */
    bool rsa = k->alg == NOVA_JWS_RS256 || k->alg == NOVA_JWS_PS256;
    if (rsa ? (size_t)EVP_PKEY_get_size(k->pkey) != sig_len : sig_len != NOVA_CRYPTO_SIG_LEN)
        return NOVA_UNAUTHORIZED;
    if (k->alg == NOVA_JWS_ES256) {
        if ((slen = es256_to_der(sig, der)) == 0) {
            st = NOVA_INTERNAL;
            goto end;
        }
        s = der;
    }
    if ((md = EVP_MD_CTX_new()) == NULL) {
        st = NOVA_NOMEM;
        goto end;
    }
    EVP_PKEY_CTX *pctx = NULL;
    if (EVP_DigestVerifyInit_ex(md, &pctx, alg_digest(k->alg), NULL, NULL, k->pkey, NULL) != 1) {
        st = NOVA_INTERNAL;
        goto end;
    }
    /* RFC 7518 §3.5: PSS with MGF1 over the same SHA-256 and a salt as long as the digest. */
    if (k->alg == NOVA_JWS_PS256 &&
        (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
         EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA256", NULL) != 1 ||
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)) {
        st = NOVA_INTERNAL;
        goto end;
    }
    /* 0 is a bad signature, <0 a malformed one (e.g. r or s out of range): both just fail. */
    if (EVP_DigestVerify(md, s, slen, data, n) == 1)
        st = NOVA_OK;

end:
    EVP_MD_CTX_free(md);
    if (st != NOVA_OK)
        ERR_clear_error();
    return st;
}
