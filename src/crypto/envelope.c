/* envelope.c: the data-key envelope (nova/envelope.h) and its derived driver, which stands in
 * for a regional KMS: one key per region, HKDF-SHA-256 of the master key with info
 * "nova region key v1|<region>", derived for each call and zeroed after it (unwraps are rare:
 * callers cache the data keys they unwrap). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "nova/crypto.h"
#include "nova/envelope.h"

struct nova_envelope {
    const nova_envelope_driver_t *drv;
    void *ctx;
};

nova_status nova_envelope_new(const nova_envelope_driver_t *drv, void *ctx, nova_envelope_t **out)
{
    *out = NULL;
    if (drv == NULL || drv->wrap == NULL || drv->unwrap == NULL || drv->name == NULL)
        return NOVA_INVALID;
    nova_envelope_t *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NOVA_NOMEM;
    e->drv = drv;
    e->ctx = ctx;
    *out = e;
    return NOVA_OK;
}

void nova_envelope_free(nova_envelope_t *e)
{
    if (e == NULL)
        return;
    if (e->drv->free)
        e->drv->free(e->ctx);
    free(e);
}

const char *nova_envelope_name(const nova_envelope_t *e)
{
    return e->drv->name;
}

bool nova_envelope_region_valid(const char *r)
{
    size_t n = r ? strlen(r) : 0;
    if (n < 2 || n > 16)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = r[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return false;
    }
    return true;
}

static bool args_valid(const char *region, const char *tenant_id, int64_t version)
{
    /* '|' separates the associated data's parts: a tenant id holding one could forge
     * another's (region ids cannot hold it). */
    return nova_envelope_region_valid(region) && tenant_id && tenant_id[0] &&
           strchr(tenant_id, '|') == NULL && strlen(tenant_id) < 128 && version >= 1;
}

nova_status nova_envelope_wrap(nova_envelope_t *e, const char *region, const char *tenant_id,
                               int64_t version, const uint8_t dk[NOVA_DATAKEY_LEN], nova_buf_t *out)
{
    if (e == NULL || !args_valid(region, tenant_id, version))
        return NOVA_INVALID;
    return e->drv->wrap(e->ctx, region, tenant_id, version, dk, out);
}

nova_status nova_envelope_unwrap(nova_envelope_t *e, const char *region, const char *tenant_id,
                                 int64_t version, const uint8_t *wrapped, size_t n,
                                 uint8_t dk[NOVA_DATAKEY_LEN])
{
    memset(dk, 0, NOVA_DATAKEY_LEN);
    if (e == NULL || !args_valid(region, tenant_id, version) || wrapped == NULL)
        return NOVA_INVALID;
    nova_status st = e->drv->unwrap(e->ctx, region, tenant_id, version, wrapped, n, dk);
    if (st != NOVA_OK)
        OPENSSL_cleanse(dk, NOVA_DATAKEY_LEN);
    return st;
}

/* The derived driver. */

typedef struct derived {
    uint8_t master[32];
} derived_t;

static nova_status region_key(const derived_t *d, const char *region, uint8_t kek[32])
{
    char info[64];
    snprintf(info, sizeof(info), "nova region key v1|%s", region);
    return nova_hkdf_sha256(d->master, sizeof(d->master), info, kek, 32);
}

static int aad_of(char *buf, size_t cap, const char *region, const char *tenant_id, int64_t version)
{
    int n = snprintf(buf, cap, "%s|%lld|%s", tenant_id, (long long)version, region);
    return n > 0 && (size_t)n < cap ? n : -1;
}

static nova_status derived_wrap(void *ctx, const char *region, const char *tenant_id,
                                int64_t version, const uint8_t dk[NOVA_DATAKEY_LEN],
                                nova_buf_t *out)
{
    uint8_t kek[32];
    char aad[192];
    int an = aad_of(aad, sizeof(aad), region, tenant_id, version);
    if (an < 0)
        return NOVA_INVALID;
    nova_status st = region_key(ctx, region, kek);
    if (st == NOVA_OK)
        st = nova_aead_seal(kek, aad, (size_t)an, dk, NOVA_DATAKEY_LEN, out);
    OPENSSL_cleanse(kek, sizeof(kek));
    return st;
}

static nova_status derived_unwrap(void *ctx, const char *region, const char *tenant_id,
                                  int64_t version, const uint8_t *wrapped, size_t n,
                                  uint8_t dk[NOVA_DATAKEY_LEN])
{
    uint8_t kek[32];
    char aad[192];
    nova_buf_t pt;
    nova_buf_init(&pt);
    int an = aad_of(aad, sizeof(aad), region, tenant_id, version);
    if (an < 0)
        return NOVA_INVALID;
    nova_status st = region_key(ctx, region, kek);
    if (st == NOVA_OK)
        st = nova_aead_open(kek, aad, (size_t)an, wrapped, n, &pt);
    OPENSSL_cleanse(kek, sizeof(kek));
    if (st == NOVA_OK && pt.len != NOVA_DATAKEY_LEN)
        st = NOVA_UNAUTHORIZED;
    if (st == NOVA_OK)
        memcpy(dk, pt.data, NOVA_DATAKEY_LEN);
    if (pt.data)
        OPENSSL_cleanse(pt.data, pt.len);
    nova_buf_free(&pt);
    return st;
}

static void derived_free(void *ctx)
{
    if (ctx == NULL)
        return;
    OPENSSL_cleanse(ctx, sizeof(derived_t));
    free(ctx);
}

static const nova_envelope_driver_t derived_driver = {
    .name = "derived-v1", .wrap = derived_wrap, .unwrap = derived_unwrap, .free = derived_free};

nova_status nova_envelope_derived_new(const uint8_t master[32], nova_envelope_t **out)
{
    derived_t *d = malloc(sizeof(*d));
    if (d == NULL)
        return NOVA_NOMEM;
    memcpy(d->master, master, sizeof(d->master));
    nova_status st = nova_envelope_new(&derived_driver, d, out);
    if (st != NOVA_OK)
        derived_free(d);
    return st;
}
