/*
 * digest.c: SHA-256, HMAC-SHA-256, HKDF-SHA-256 and the keyed digest stored for client
 * secrets. The void functions cannot fail on valid arguments, short of OpenSSL itself being
 * broken, so they assert rather than hand back a wrong digest.
 */
#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>

#include "nova/crypto.h"

#define SHA256_LEN 32

/* OpenSSL wants non-NULL pointers even for empty inputs. */
static const uint8_t empty[1];

void nova_sha256(const void *data, size_t n, uint8_t out[32])
{
    unsigned int len = 0;
    int ok = EVP_Digest(n ? data : empty, n, out, &len, EVP_sha256(), NULL);
    nova_assert(ok == 1 && len == SHA256_LEN);
}

void nova_hmac_sha256(const uint8_t *key, size_t klen, const void *data, size_t n, uint8_t out[32])
{
    unsigned int len = 0;
    nova_assert(klen <= INT_MAX);
    uint8_t *md = HMAC(EVP_sha256(), klen ? key : empty, (int)klen, n ? data : empty, n, out, &len);
    nova_assert(md != NULL && len == SHA256_LEN);
}

nova_status nova_hkdf_sha256(const uint8_t *ikm, size_t ikmlen, const char *info, uint8_t *out,
                             size_t outlen)
{
    nova_status st = NOVA_INTERNAL;
    EVP_KDF *kdf = NULL;
    EVP_KDF_CTX *ctx = NULL;
    OSSL_PARAM params[4], *p = params;

    /* RFC 5869 §2.3: at most 255 blocks of output. */
    if (ikm == NULL || ikmlen == 0 || out == NULL || outlen == 0 || outlen > 255 * SHA256_LEN)
        return NOVA_INVALID;
    if (info == NULL)
        info = "";
    if ((kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL)) == NULL ||
        (ctx = EVP_KDF_CTX_new(kdf)) == NULL)
        goto end;
    /* No salt parameter: HKDF then uses HashLen zero bytes, which is what "empty salt" means. */
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikmlen);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info));
    *p = OSSL_PARAM_construct_end();
    if (EVP_KDF_derive(ctx, out, outlen, params) != 1)
        goto end;
    st = NOVA_OK;

end:
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    if (st != NOVA_OK)
        ERR_clear_error();
    return st;
}

void nova_secret_digest(const uint8_t pepper[32], const char *secret, size_t n, char out[65])
{
    uint8_t mac[SHA256_LEN];
    nova_hmac_sha256(pepper, 32, secret, n, mac);
    nova_hex_encode(mac, sizeof(mac), out);
    OPENSSL_cleanse(mac, sizeof(mac));
}

bool nova_secret_verify(const uint8_t pepper[32], const char *secret, size_t n,
                        const char *stored_hex)
{
    char want[65];
    bool ok;

    if (stored_hex == NULL || strnlen(stored_hex, sizeof(want)) != sizeof(want) - 1)
        return false;
    nova_secret_digest(pepper, secret, n, want);
    ok = CRYPTO_memcmp(want, stored_hex, sizeof(want) - 1) == 0;
    OPENSSL_cleanse(want, sizeof(want));
    return ok;
}
