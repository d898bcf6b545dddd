/*
 * crypto_internal.h: what the files of src/crypto share and nobody else sees. The layout of
 * nova_key_t and the JWS signing primitives that work on it.
 */
#ifndef NOVA_CRYPTO_INTERNAL_H
#define NOVA_CRYPTO_INTERNAL_H

#include <openssl/evp.h>

#include "nova/crypto.h"

#define NOVA_CRYPTO_KID_MAX 127 /* fits nova_jws_t.kid with its NUL */
#define NOVA_CRYPTO_SIG_LEN 64  /* Ed25519 and ES256 (R||S) signatures are both 64 bytes */
#define NOVA_CRYPTO_RSA_MIN 256 /* RS256 signatures: the modulus size, 2048 to 4096 bits */
#define NOVA_CRYPTO_RSA_MAX 512

/* Never modified after nova_key_* returns it; EVP_PKEY is safe to use from many threads as
 * long as each operation has its own context, which is how sign.c uses it. */
struct nova_key {
    nova_jws_alg alg;
    bool has_private;
    EVP_PKEY *pkey;
    char kid[NOVA_CRYPTO_KID_MAX + 1];
};

/* Wraps pkey (ownership passes to the key, also on failure) after checking it fits alg. */
nova_status nova_key_wrap(nova_jws_alg alg, const char *kid, EVP_PKEY *pkey, bool has_private,
                          nova_key_t **out);

/* Raw JWS signature over data: 64 bytes for both algorithms. */
nova_status nova_crypto_sign_raw(const nova_key_t *k, const void *data, size_t n,
                                 uint8_t sig[NOVA_CRYPTO_SIG_LEN]);
/* NOVA_OK when sig is a valid signature of data under k, NOVA_UNAUTHORIZED when not. */
nova_status nova_crypto_verify_raw(const nova_key_t *k, const void *data, size_t n,
                                   const uint8_t *sig, size_t sig_len);

#endif
