/*
 * aead.c: AES-256-GCM with a random 96-bit nonce per message. Wire format:
 * nonce(12) || ciphertext || tag(16). Random nonces are safe for well under 2^32 messages per
 * key, far more than anything Nova seals under one key.
 */
#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "nova/crypto.h"

#define AEAD_NONCE 12
#define AEAD_TAG 16
#define AEAD_OVERHEAD (AEAD_NONCE + AEAD_TAG)

/* EVP lengths are ints. */
static bool aead_sizes_ok(size_t aadlen, size_t n)
{
    return aadlen <= INT_MAX && n <= (size_t)INT_MAX - AEAD_OVERHEAD;
}

nova_status nova_aead_seal(const uint8_t key[32], const void *aad, size_t aadlen, const void *pt,
                           size_t n, nova_buf_t *out)
{
    nova_status st = NOVA_INTERNAL;
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t *nonce, *ct;
    int len = 0;

    if (key == NULL || (aad == NULL && aadlen) || (pt == NULL && n))
        return NOVA_INVALID;
    if (!aead_sizes_ok(aadlen, n))
        return NOVA_TOO_LARGE;
    if ((st = nova_buf_reserve(out, AEAD_OVERHEAD + n)) != NOVA_OK)
        return st;
    st = NOVA_INTERNAL;
    nonce = (uint8_t *)out->data + out->len;
    ct = nonce + AEAD_NONCE;
    if (RAND_bytes(nonce, AEAD_NONCE) != 1)
        goto end;
    if ((ctx = EVP_CIPHER_CTX_new()) == NULL) {
        st = NOVA_NOMEM;
        goto end;
    }
    if (EVP_EncryptInit_ex2(ctx, EVP_aes_256_gcm(), key, nonce, NULL) != 1)
        goto end;
    if (aadlen && EVP_EncryptUpdate(ctx, NULL, &len, aad, (int)aadlen) != 1)
        goto end;
    if (n && (EVP_EncryptUpdate(ctx, ct, &len, pt, (int)n) != 1 || (size_t)len != n))
        goto end;
    if (EVP_EncryptFinal_ex(ctx, ct + n, &len) != 1 || len != 0)
        goto end;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, AEAD_TAG, ct + n) != 1)
        goto end;
    out->len += AEAD_OVERHEAD + n;
    st = NOVA_OK;

end:
    EVP_CIPHER_CTX_free(ctx);
    if (st != NOVA_OK)
        ERR_clear_error();
    out->data[out->len] = '\0';
    return st;
}

nova_status nova_aead_open(const uint8_t key[32], const void *aad, size_t aadlen, const void *ct,
                           size_t n, nova_buf_t *out)
{
    nova_status st = NOVA_INTERNAL;
    EVP_CIPHER_CTX *ctx = NULL;
    const uint8_t *nonce, *body;
    uint8_t tag[AEAD_TAG], *pt;
    size_t ptlen;
    int len = 0;

    if (key == NULL || ct == NULL || (aad == NULL && aadlen))
        return NOVA_INVALID;
    if (n < AEAD_OVERHEAD)
        return NOVA_INVALID;
    if (!aead_sizes_ok(aadlen, n))
        return NOVA_TOO_LARGE;
    nonce = ct;
    body = nonce + AEAD_NONCE;
    ptlen = n - AEAD_OVERHEAD;
    if ((st = nova_buf_reserve(out, ptlen)) != NOVA_OK)
        return st;
    st = NOVA_INTERNAL;
    pt = (uint8_t *)out->data + out->len;
    memcpy(tag, body + ptlen, AEAD_TAG);
    if ((ctx = EVP_CIPHER_CTX_new()) == NULL) {
        st = NOVA_NOMEM;
        goto end;
    }
    if (EVP_DecryptInit_ex2(ctx, EVP_aes_256_gcm(), key, nonce, NULL) != 1)
        goto end;
    if (aadlen && EVP_DecryptUpdate(ctx, NULL, &len, aad, (int)aadlen) != 1)
        goto end;
    if (ptlen && (EVP_DecryptUpdate(ctx, pt, &len, body, (int)ptlen) != 1 || (size_t)len != ptlen))
        goto end;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, AEAD_TAG, tag) != 1)
        goto end;
    /* Only now is the plaintext authentic; until then it must not reach the caller. */
    if (EVP_DecryptFinal_ex(ctx, pt + ptlen, &len) != 1) {
        st = NOVA_UNAUTHORIZED;
        goto end;
    }
    out->len += ptlen;
    st = NOVA_OK;

end:
    EVP_CIPHER_CTX_free(ctx);
    if (st != NOVA_OK) {
        OPENSSL_cleanse(pt, ptlen);
        ERR_clear_error();
    }
    out->data[out->len] = '\0';
    return st;
}
