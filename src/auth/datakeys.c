/* datakeys.c: per-tenant data keys and field-level encryption (nova/datakey.h).
 *
 * The cache: every data key version this process unwrapped stays in memory (a key never
 * changes, and a retired version must keep opening what it sealed), keyed by (tenant, region,
 * version). Which version seals new values is cached per (tenant, region) and re-read from the
 * store once it is older than DK_RECHECK_MS, so a rotation elsewhere takes over new writes on
 * this instance within that bound; meanwhile values sealed under the previous version still
 * open everywhere, so nothing is lost. One mutex guards both tables; it is held to look up
 * and copy a key, never across a store call or an unwrap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "internal.h"
#include "nova/crypto.h"
#include "nova/datakey.h"

#define DK_RECHECK_MS 1000
#define FIELD_AAD_TAG "nova-field-v1"

static int64_t mono_ms(void)
{
    return (int64_t)(nova_time_mono_ns() / 1000000u);
}

nova_status auth_datakeys_init(nova_auth_t *a)
{
    nova_status st = nova_envelope_derived_new(a->master_key, &a->envelope);
    if (st != NOVA_OK)
        return st;
    pthread_mutex_init(&a->dk_lock, NULL);
    return NOVA_OK;
}

void auth_datakeys_free(nova_auth_t *a)
{
    if (a->envelope == NULL)
        return;
    for (int b = 0; b < DK_BUCKETS; b++) {
        for (dk_entry *e = a->dk_keys[b], *next; e; e = next) {
            next = e->next;
            OPENSSL_cleanse(e->key, sizeof(e->key));
            free(e->tenant_id);
            free(e);
        }
        for (dk_newest *e = a->dk_newest[b], *next; e; e = next) {
            next = e->next;
            free(e->tenant_id);
            free(e);
        }
        a->dk_keys[b] = NULL;
        a->dk_newest[b] = NULL;
    }
    pthread_mutex_destroy(&a->dk_lock);
    nova_envelope_free(a->envelope);
    a->envelope = NULL;
}

void nova_auth_set_envelope(nova_auth_t *a, nova_envelope_t *e)
{
    if (e == NULL)
        return;
    nova_envelope_free(a->envelope);
    a->envelope = e;
}

static size_t bucket(const char *tenant_id, const char *region)
{
    return (auth_hash(tenant_id) * 31u + auth_hash(region)) % DK_BUCKETS;
}

static bool region_ok(const char *region)
{
    return nova_envelope_region_valid(region);
}

/* Under dk_lock. */
static dk_entry *cached_key(nova_auth_t *a, const char *tenant_id, const char *region,
                            int64_t version)
{
    for (dk_entry *e = a->dk_keys[bucket(tenant_id, region)]; e; e = e->next)
        if (e->version == version && strcmp(e->region, region) == 0 &&
            strcmp(e->tenant_id, tenant_id) == 0)
            return e;
    return NULL;
}

/* Under dk_lock. */
static dk_newest *cached_newest(nova_auth_t *a, const char *tenant_id, const char *region)
{
    for (dk_newest *e = a->dk_newest[bucket(tenant_id, region)]; e; e = e->next)
        if (strcmp(e->region, region) == 0 && strcmp(e->tenant_id, tenant_id) == 0)
            return e;
    return NULL;
}

/* Publishes an unwrapped key (a racing thread may have published it first: keep theirs). */
static nova_status publish_key(nova_auth_t *a, const char *tenant_id, const char *region,
                               int64_t version, const uint8_t key[32])
{
    dk_entry *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NOVA_NOMEM;
    e->tenant_id = strdup(tenant_id);
    if (e->tenant_id == NULL) {
        free(e);
        return NOVA_NOMEM;
    }
    snprintf(e->region, sizeof(e->region), "%s", region);
    e->version = version;
    memcpy(e->key, key, 32);
    pthread_mutex_lock(&a->dk_lock);
    if (cached_key(a, tenant_id, region, version) == NULL) {
        size_t b = bucket(tenant_id, region);
        e->next = a->dk_keys[b];
        a->dk_keys[b] = e;
        e = NULL;
    }
    pthread_mutex_unlock(&a->dk_lock);
    if (e) {
        OPENSSL_cleanse(e->key, sizeof(e->key));
        free(e->tenant_id);
        free(e);
    }
    return NOVA_OK;
}

/* Records version as the one sealing in (tenant, region), confirmed now. Never moves back. */
static void publish_newest(nova_auth_t *a, const char *tenant_id, const char *region,
                           int64_t version)
{
    pthread_mutex_lock(&a->dk_lock);
    dk_newest *e = cached_newest(a, tenant_id, region);
    if (e == NULL && (e = calloc(1, sizeof(*e))) != NULL) {
        if ((e->tenant_id = strdup(tenant_id)) == NULL) {
            free(e);
            e = NULL;
        } else {
            snprintf(e->region, sizeof(e->region), "%s", region);
            size_t b = bucket(tenant_id, region);
            e->next = a->dk_newest[b];
            a->dk_newest[b] = e;
        }
    }
    if (e) { /* out of memory: nothing cached, the next call asks the store again */
        if (version > e->version)
            e->version = version;
        e->checked_ms = mono_ms();
    }
    pthread_mutex_unlock(&a->dk_lock);
}

/* Copies the cached key of version into key; false on a miss. */
static bool key_from_cache(nova_auth_t *a, const char *tenant_id, const char *region,
                           int64_t version, uint8_t key[32])
{
    pthread_mutex_lock(&a->dk_lock);
    dk_entry *e = cached_key(a, tenant_id, region, version);
    if (e)
        memcpy(key, e->key, 32);
    pthread_mutex_unlock(&a->dk_lock);
    return e != NULL;
}

/* Unwraps a stored row into key and publishes it. */
static nova_status unwrap_row(nova_auth_t *a, const nova_datakey_row_t *row, uint8_t key[32])
{
    if (strcmp(row->envelope, nova_envelope_name(a->envelope)) != 0)
        return NOVA_UNAUTHORIZED; /* wrapped by another driver: rewrap it first */
    nova_status st = nova_envelope_unwrap(a->envelope, row->region, row->tenant_id, row->version,
                                          row->wrapped, row->wrapped_len, key);
    if (st == NOVA_INVALID)
        st = NOVA_UNAUTHORIZED; /* a damaged wrapped key is as good as a wrong one */
    if (st == NOVA_OK)
        st = publish_key(a, row->tenant_id, row->region, row->version, key);
    return st;
}

/* The key of (tenant, region, version), from the cache or the store. */
static nova_status key_for(nova_auth_t *a, nova_store_t *s, const char *tenant_id,
                           const char *region, int64_t version, uint8_t key[32])
{
    if (key_from_cache(a, tenant_id, region, version, key))
        return NOVA_OK;
    nova_arena_t ar;
    nova_datakey_row_t row;
    nova_arena_init(&ar, 512);
    nova_status st = nova_store_datakey_get(s, &ar, tenant_id, region, version, &row);
    if (st == NOVA_OK)
        st = unwrap_row(a, &row, key);
    nova_arena_free(&ar);
    return st;
}

/* Makes and stores version (previous + 1) of (tenant, region), audited as action; publishes
 * it. key (may be NULL) gets the new key. */
static nova_status add_version(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                               const nova_audit_actor_t *by, const char *tenant_id,
                               const char *region, int64_t previous, const char *action,
                               nova_datakey_row_t *out, uint8_t key_out[32])
{
    uint8_t key[32];
    nova_buf_t wrapped;
    nova_buf_init(&wrapped);
    nova_datakey_row_t row = {.tenant_id = tenant_id,
                              .region = region,
                              .version = previous + 1,
                              .envelope = nova_envelope_name(a->envelope),
                              .created_at = nova_time_now()};
    nova_status st = nova_random_bytes(key, sizeof(key));
    if (st == NOVA_OK)
        st = nova_envelope_wrap(a->envelope, region, tenant_id, row.version, key, &wrapped);
    if (st != NOVA_OK)
        goto end;
    row.wrapped = (const uint8_t *)wrapped.data;
    row.wrapped_len = wrapped.len;
    char target[48];
    snprintf(target, sizeof(target), "%s/%lld", region, (long long)row.version);
    nova_audit_entry_t ae;
    st = nova_audit_entry_make(&ae, ar, by, tenant_id, action, "datakey", target,
                               json_pack("{s:s, s:I, s:I, s:s}", "region", region, "version",
                                         (json_int_t)row.version, "previous_version",
                                         (json_int_t)previous, "envelope", row.envelope));
    if (st == NOVA_OK)
        st = nova_store_datakey_add(s, &row, &ae);
    if (st == NOVA_OK)
        st = publish_key(a, tenant_id, region, row.version, key);
    if (st != NOVA_OK)
        goto end;
    publish_newest(a, tenant_id, region, row.version);
    if (key_out)
        memcpy(key_out, key, 32);
    if (out) {
        *out = row;
        out->tenant_id = nova_arena_strdup(ar, tenant_id);
        out->region = nova_arena_strdup(ar, region);
        out->wrapped = NULL;
        out->wrapped_len = 0;
        if (!out->tenant_id || !out->region)
            st = NOVA_NOMEM;
    }
end:
    OPENSSL_cleanse(key, sizeof(key));
    nova_buf_free(&wrapped);
    return st;
}

static nova_status tenant_exists(nova_store_t *s, const char *tenant_id)
{
    nova_arena_t ar;
    nova_tenant_t t;
    nova_arena_init(&ar, 512);
    nova_status st = nova_store_tenant_get(s, &ar, tenant_id, &t);
    nova_arena_free(&ar);
    return st;
}

static bool tenant_ok(const char *tenant_id)
{
    return tenant_id && tenant_id[0] && strlen(tenant_id) < 128 && !strchr(tenant_id, '|');
}

/* The version sealing in (tenant, region) and its key; creates version 1 when there is none. */
static nova_status sealing_key(nova_auth_t *a, nova_store_t *s, const char *tenant_id,
                               const char *region, int64_t *version, uint8_t key[32])
{
    int64_t v = 0;
    pthread_mutex_lock(&a->dk_lock);
    dk_newest *n = cached_newest(a, tenant_id, region);
    if (n && mono_ms() - n->checked_ms < DK_RECHECK_MS)
        v = n->version;
    pthread_mutex_unlock(&a->dk_lock);
    if (v > 0) {
        *version = v;
        return key_for(a, s, tenant_id, region, v, key);
    }

    static const nova_audit_actor_t sys = {.id = "system"};
    nova_arena_t ar;
    nova_datakey_row_t row;
    nova_arena_init(&ar, 1024);
    nova_status st = nova_store_datakey_newest(s, &ar, tenant_id, region, &row);
    if (st == NOVA_NOT_FOUND) {
        st = tenant_exists(s, tenant_id);
        if (st == NOVA_OK)
            st = add_version(a, s, &ar, &sys, tenant_id, region, 0, "datakey.create", NULL, key);
        if (st == NOVA_OK) {
            *version = 1;
            goto end;
        }
        if (st != NOVA_CONFLICT)
            goto end;
        /* Another writer made version 1 first: use theirs. */
        st = nova_store_datakey_newest(s, &ar, tenant_id, region, &row);
    }
    if (st != NOVA_OK)
        goto end;
    *version = row.version;
    if (!key_from_cache(a, tenant_id, region, row.version, key))
        st = unwrap_row(a, &row, key);
    if (st == NOVA_OK)
        publish_newest(a, tenant_id, region, row.version);
end:
    nova_arena_free(&ar);
    return st;
}

/* "nova-field-v1|tenant|region|version|context" into b. */
static nova_status field_aad(nova_buf_t *b, const char *tenant_id, const char *region,
                             int64_t version, const char *context)
{
    return nova_buf_printf(b, FIELD_AAD_TAG "|%s|%s|%lld|%s", tenant_id, region, (long long)version,
                           context);
}

static bool args_ok(const char *tenant_id, const char *region, const char *context)
{
    return tenant_ok(tenant_id) && region_ok(region) && context && context[0] &&
           strlen(context) <= NOVA_FIELD_CONTEXT_MAX;
}

nova_status nova_field_seal(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                            const char *tenant_id, const char *region, const char *context,
                            const void *pt, size_t n, nova_sealed_t *out)
{
    uint8_t key[32];
    int64_t version = 0;
    nova_buf_t aad, ct;
    memset(out, 0, sizeof(*out));
    if (!args_ok(tenant_id, region, context) || (pt == NULL && n > 0))
        return NOVA_INVALID;
    nova_buf_init(&aad);
    nova_buf_init(&ct);
    nova_status st = sealing_key(a, s, tenant_id, region, &version, key);
    if (st == NOVA_OK)
        st = field_aad(&aad, tenant_id, region, version, context);
    if (st == NOVA_OK)
        st = nova_aead_seal(key, aad.data, aad.len, pt, n, &ct);
    OPENSSL_cleanse(key, sizeof(key));
    if (st == NOVA_OK) {
        uint8_t *c = nova_arena_alloc(ar, ct.len);
        if (c == NULL) {
            st = NOVA_NOMEM;
        } else {
            memcpy(c, ct.data, ct.len);
            out->version = version;
            out->ct = c;
            out->len = ct.len;
        }
    }
    nova_buf_free(&aad);
    nova_buf_free(&ct);
    return st;
}

nova_status nova_field_open(nova_auth_t *a, nova_store_t *s, const char *tenant_id,
                            const char *region, const char *context, const nova_sealed_t *v,
                            nova_plain_t **out)
{
    uint8_t key[32];
    nova_buf_t aad, pt;
    *out = NULL;
    if (!args_ok(tenant_id, region, context) || v == NULL || v->version < 1 || v->ct == NULL)
        return NOVA_INVALID;
    nova_buf_init(&aad);
    nova_buf_init(&pt);
    nova_status st = key_for(a, s, tenant_id, region, v->version, key);
    if (st == NOVA_OK)
        st = field_aad(&aad, tenant_id, region, v->version, context);
    if (st == NOVA_OK)
        st = nova_aead_open(key, aad.data, aad.len, v->ct, v->len, &pt);
    OPENSSL_cleanse(key, sizeof(key));
    if (st == NOVA_INVALID)
        st = NOVA_UNAUTHORIZED; /* too short to be a sealed value: altered */
    if (st == NOVA_OK)
        st = nova_plain_new(pt.data, pt.len, out);
    if (pt.data)
        OPENSSL_cleanse(pt.data, pt.cap);
    nova_buf_free(&aad);
    nova_buf_free(&pt);
    return st;
}

nova_status nova_sealed_encode(const nova_sealed_t *v, nova_buf_t *out)
{
    uint8_t hdr[8];
    if (v == NULL || v->version < 1 || v->ct == NULL || v->len == 0)
        return NOVA_INVALID;
    for (int i = 0; i < 8; i++)
        hdr[i] = (uint8_t)((uint64_t)v->version >> (56 - 8 * i));
    nova_status st = nova_buf_append(out, hdr, sizeof(hdr));
    return st ? st : nova_buf_append(out, v->ct, v->len);
}

nova_status nova_sealed_decode(const void *p, size_t n, nova_sealed_t *out)
{
    const uint8_t *b = p;
    uint64_t version = 0;
    memset(out, 0, sizeof(*out));
    if (p == NULL || n <= 8)
        return NOVA_INVALID;
    for (int i = 0; i < 8; i++)
        version = version << 8 | b[i];
    if (version < 1 || version > INT64_MAX)
        return NOVA_INVALID;
    out->version = (int64_t)version;
    out->ct = b + 8;
    out->len = n - 8;
    return NOVA_OK;
}

nova_status nova_datakey_rotate(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                const nova_audit_actor_t *by, const char *tenant_id,
                                const char *region, nova_datakey_row_t *out)
{
    nova_datakey_row_t row;
    int64_t previous = 0;
    if (!tenant_ok(tenant_id) || !region_ok(region) || by == NULL)
        return NOVA_INVALID;
    nova_status st = tenant_exists(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    st = nova_store_datakey_newest(s, ar, tenant_id, region, &row);
    if (st == NOVA_OK)
        previous = row.version;
    else if (st != NOVA_NOT_FOUND)
        return st;
    return add_version(a, s, ar, by, tenant_id, region, previous, "datakey.rotate", out, NULL);
}

nova_status nova_datakey_list(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                              const char *tenant_id, nova_datakey_row_t **out, size_t *n)
{
    (void)a;
    if (!tenant_ok(tenant_id))
        return NOVA_INVALID;
    return nova_store_datakey_list(s, ar, tenant_id, out, n);
}
