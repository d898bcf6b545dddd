/*
 * sign.c: Standard Webhooks signatures (nova/webhook.h). The signed content is
 * "<id>.<timestamp>.<body>"; the key is the secret's base64 after "whsec_".
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "nova/crypto.h"
#include "nova/webhook.h"

#define WHSEC "whsec_"

nova_status nova_webhook_secret_parse(const char *secret, uint8_t *key, size_t *keylen)
{
    if (secret == NULL)
        return NOVA_INVALID;
    if (strncmp(secret, WHSEC, strlen(WHSEC)) == 0)
        secret += strlen(WHSEC);
    size_t n = strlen(secret);
    if (n == 0 || n > 100)
        return NOVA_INVALID;
    uint8_t tmp[80];
    size_t len = 0;
    if (nova_b64url_decoded_max(n) > sizeof(tmp) ||
        nova_b64std_decode(secret, n, tmp, &len) != NOVA_OK || len < 24 ||
        len > NOVA_WEBHOOK_KEY_MAX) {
        OPENSSL_cleanse(tmp, sizeof(tmp));
        return NOVA_INVALID;
    }
    memcpy(key, tmp, len);
    *keylen = len;
    OPENSSL_cleanse(tmp, sizeof(tmp));
    return NOVA_OK;
}

nova_status nova_webhook_secret_new(char out[NOVA_WEBHOOK_SECRET_LEN])
{
    uint8_t key[32];
    nova_status st = nova_random_bytes(key, sizeof(key));
    if (st != NOVA_OK)
        return st;
    memcpy(out, WHSEC, strlen(WHSEC));
    EVP_EncodeBlock((unsigned char *)out + strlen(WHSEC), key, sizeof(key));
    OPENSSL_cleanse(key, sizeof(key));
    return NOVA_OK;
}

static bool id_ok(const char *id)
{
    if (id == NULL || *id == '\0' || strlen(id) > 200)
        return false;
    for (const char *p = id; *p; p++)
        if ((unsigned char)*p < 0x21 || *p == 0x7f || *p == '.')
            return false;
    return true;
}

/* base64(HMAC-SHA256(key, id.ts.body)) into b64 (45 bytes). */
static nova_status sign_one(const char *secret, const char *id, int64_t ts, const void *body,
                            size_t len, char b64[45])
{
    uint8_t key[NOVA_WEBHOOK_KEY_MAX];
    size_t klen = 0;
    nova_status st = nova_webhook_secret_parse(secret, key, &klen);
    if (st != NOVA_OK)
        return st;
    char head[256];
    int hn = snprintf(head, sizeof(head), "%s.%lld.", id, (long long)ts);
    nova_buf_t msg;
    nova_buf_init(&msg);
    st = nova_buf_append(&msg, head, (size_t)hn);
    if (st == NOVA_OK && len)
        st = nova_buf_append(&msg, body, len);
    if (st == NOVA_OK) {
        uint8_t mac[32];
        nova_hmac_sha256(key, klen, msg.data, msg.len, mac);
        EVP_EncodeBlock((unsigned char *)b64, mac, sizeof(mac));
    }
    nova_buf_free(&msg);
    OPENSSL_cleanse(key, sizeof(key));
    return st;
}

nova_status nova_webhook_sign(const char *const *secrets, size_t n, const char *id,
                              int64_t timestamp, const void *body, size_t len, nova_buf_t *out)
{
    if (n == 0 || !id_ok(id) || (len && body == NULL))
        return NOVA_INVALID;
    for (size_t i = 0; i < n; i++) {
        char b64[45];
        nova_status st = sign_one(secrets[i], id, timestamp, body, len, b64);
        if (st == NOVA_OK)
            st = nova_buf_printf(out, "%sv1,%s", i ? " " : "", b64);
        if (st != NOVA_OK)
            return st;
    }
    return NOVA_OK;
}

bool nova_webhook_verify(const char *secret, const char *id, int64_t timestamp, const void *body,
                         size_t len, const char *header)
{
    char want[45];
    if (header == NULL || !id_ok(id) || sign_one(secret, id, timestamp, body, len, want))
        return false;
    bool ok = false;
    const char *p = header;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *e = strchr(p, ' ');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 3 + 44 && strncmp(p, "v1,", 3) == 0 && CRYPTO_memcmp(p + 3, want, 44) == 0)
            ok = true;
        p += n;
    }
    return ok;
}
