/* seal.c: JSON sealed with the tenant's data key (nova/datakey.h), for the gateway's job,
 * applicant and step results. The clear text exists only in a nova_plain_t (which the logger
 * withholds) and the jansson value built from it. */
#include <string.h>

#include "internal.h"
#include "nova/datakey.h"

static const char *region_of(const nova_idv_t *g)
{
    return g->region && *g->region ? g->region : "default";
}

nova_status idv_seal_text(nova_idv_t *g, nova_store_t *s, nova_arena_t *a, const char *tenant,
                          const char *context, const char *text, nova_buf_t *out)
{
    nova_sealed_t v;
    nova_status st =
        nova_field_seal(g->cfg.auth, s, a, tenant, region_of(g), context, text, strlen(text), &v);
    if (st == NOVA_OK)
        st = nova_sealed_encode(&v, out);
    return st;
}

nova_status idv_seal_json(nova_idv_t *g, nova_store_t *s, nova_arena_t *a, const char *tenant,
                          const char *context, json_t *v, nova_buf_t *out)
{
    char *text = json_dumps(v, JSON_COMPACT);
    if (text == NULL)
        return NOVA_NOMEM;
    nova_status st = idv_seal_text(g, s, a, tenant, context, text, out);
    size_t n = strlen(text);
    memset(text, 0, n);
    free(text);
    return st;
}

nova_status idv_open_json(nova_idv_t *g, nova_store_t *s, const char *tenant, const char *context,
                          const uint8_t *blob, size_t len, json_t **out)
{
    nova_sealed_t sealed;
    nova_plain_t *plain = NULL;
    nova_status st = nova_sealed_decode(blob, len, &sealed);
    if (st == NOVA_OK)
        st = nova_field_open(g->cfg.auth, s, tenant, region_of(g), context, &sealed, &plain);
    if (st != NOVA_OK)
        return st;
    size_t n = 0;
    const uint8_t *p = nova_plain_bytes(plain, &n);
    *out = json_loadb((const char *)p, n, 0, NULL);
    nova_plain_free(plain);
    return *out ? NOVA_OK : NOVA_INVALID;
}
