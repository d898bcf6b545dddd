/* sealed.c: the events domain's secrets at rest (internal.h): endpoint secrets and keys,
 * channel passwords and API keys are sealed with the tenant's data key before they reach the
 * store and opened only for the one call that needs them. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "internal.h"
#include "nova/datakey.h"

const char *events_region(const nova_events_cfg_t *cfg)
{
    return cfg->region && *cfg->region ? cfg->region : "default";
}

nova_status events_seal(const nova_events_cfg_t *cfg, nova_store_t *s, nova_arena_t *a,
                        const char *tenant, const char *ctx, const char *text, nova_buf_t *out)
{
    nova_sealed_t v;
    nova_status st =
        nova_field_seal(cfg->auth, s, a, tenant, events_region(cfg), ctx, text, strlen(text), &v);
    if (st == NOVA_OK)
        st = nova_sealed_encode(&v, out);
    return st;
}

nova_status events_open(const nova_events_cfg_t *cfg, nova_store_t *s, const char *tenant,
                        const char *ctx, const uint8_t *blob, size_t len, char **out)
{
    nova_sealed_t v;
    nova_plain_t *plain = NULL;
    *out = NULL;
    nova_status st = nova_sealed_decode(blob, len, &v);
    if (st == NOVA_OK)
        st = nova_field_open(cfg->auth, s, tenant, events_region(cfg), ctx, &v, &plain);
    if (st != NOVA_OK)
        return st;
    size_t n = 0;
    const uint8_t *p = nova_plain_bytes(plain, &n);
    *out = malloc(n + 1);
    if (*out) {
        memcpy(*out, p, n);
        (*out)[n] = '\0';
    }
    nova_plain_free(plain);
    return *out ? NOVA_OK : NOVA_NOMEM;
}

void events_wipe(char *p)
{
    if (p) {
        OPENSSL_cleanse(p, strlen(p));
        free(p);
    }
}
