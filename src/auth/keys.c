/* keys.c: per-tenant signing keys. A key is generated with its tenant, its private half
 * sealed (AES-256-GCM under a key derived from the master key, bound to kid and tenant as
 * associated data) before it reaches the store; verification keys are loaded by kid on first
 * use and kept for the life of the process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "internal.h"

static char *seal_aad(nova_arena_t *ar, const char *kid, const char *tenant_id)
{
    return nova_arena_printf(ar, "nova-signing-key|%s|%s", kid, tenant_id);
}

nova_status auth_key_new(nova_auth_t *a, nova_arena_t *ar, const char *tenant_id,
                         nova_signing_key_t *row)
{
    char kid[64];
    nova_key_t *k = NULL;
    nova_buf_t der, sealed, jwk;
    nova_buf_init(&der);
    nova_buf_init(&sealed);
    nova_buf_init(&jwk);
    nova_status st = nova_id_new("key", kid, sizeof(kid));
    if (st)
        goto end;
    st = nova_key_generate(a->alg, kid, &k);
    if (st)
        goto end;
    st = nova_key_export_private(k, &der);
    if (st)
        goto end;
    const char *aad = seal_aad(ar, kid, tenant_id);
    if (aad == NULL) {
        st = NOVA_NOMEM;
        goto end;
    }
    st = nova_aead_seal(a->seal_key, aad, strlen(aad), der.data, der.len, &sealed);
    if (st)
        goto end;
    st = nova_key_public_jwk(k, &jwk);
    if (st)
        goto end;
    memset(row, 0, sizeof(*row));
    row->kid = nova_arena_strdup(ar, kid);
    row->tenant_id = nova_arena_strdup(ar, tenant_id);
    row->alg = nova_jws_alg_name(a->alg);
    row->public_jwk = nova_arena_strndup(ar, jwk.data, jwk.len);
    uint8_t *enc = nova_arena_alloc(ar, sealed.len);
    if (!row->kid || !row->tenant_id || !row->public_jwk || !enc) {
        st = NOVA_NOMEM;
        goto end;
    }
    memcpy(enc, sealed.data, sealed.len);
    row->private_enc = enc;
    row->private_enc_len = sealed.len;
    row->created_at = nova_time_now();
    row->active = true;
end:
    if (der.data)
        OPENSSL_cleanse(der.data, der.len);
    nova_buf_free(&der);
    nova_buf_free(&sealed);
    nova_buf_free(&jwk);
    nova_key_free(k);
    return st;
}

static const key_entry *find(nova_auth_t *a, const char *id, bool by_tenant)
{
    size_t b = auth_hash(id) % KEY_BUCKETS;
    const key_entry *e;
    if (by_tenant) {
        for (e = a->by_tenant[b]; e; e = e->next_tenant)
            if (strcmp(e->tenant_id, id) == 0)
                return e;
    } else {
        for (e = a->by_kid[b]; e; e = e->next_kid)
            if (strcmp(e->kid, id) == 0)
                return e;
    }
    return NULL;
}

/* Publishes a new entry unless another thread got there first; takes ownership of key. */
static nova_status publish(nova_auth_t *a, const char *kid, const char *tenant_id, nova_key_t *key,
                           bool active, const key_entry **out)
{
    key_entry *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        nova_key_free(key);
        return NOVA_NOMEM;
    }
    e->kid = strdup(kid);
    e->tenant_id = strdup(tenant_id);
    e->key = key;
    e->active = active;
    if (e->kid == NULL || e->tenant_id == NULL) {
        free(e->kid);
        free(e->tenant_id);
        free(e);
        nova_key_free(key);
        return NOVA_NOMEM;
    }
    pthread_rwlock_wrlock(&a->keys_lock);
    const key_entry *have = find(a, active ? tenant_id : kid, active);
    if (have) {
        pthread_rwlock_unlock(&a->keys_lock);
        nova_key_free(e->key);
        free(e->kid);
        free(e->tenant_id);
        free(e);
        *out = have;
        return NOVA_OK;
    }
    size_t bk = auth_hash(kid) % KEY_BUCKETS;
    e->next_kid = a->by_kid[bk];
    a->by_kid[bk] = e;
    if (active) {
        size_t bt = auth_hash(tenant_id) % KEY_BUCKETS;
        e->next_tenant = a->by_tenant[bt];
        a->by_tenant[bt] = e;
    }
    e->next_all = a->all;
    a->all = e;
    pthread_rwlock_unlock(&a->keys_lock);
    *out = e;
    return NOVA_OK;
}

nova_status auth_key_for_kid(nova_auth_t *a, nova_store_t *s, const char *kid,
                             const key_entry **out)
{
    pthread_rwlock_rdlock(&a->keys_lock);
    const key_entry *e = find(a, kid, false);
    pthread_rwlock_unlock(&a->keys_lock);
    if (e) {
        *out = e;
        return NOVA_OK;
    }
    nova_arena_t ar;
    nova_arena_init(&ar, 2048);
    nova_signing_key_t row;
    nova_key_t *k = NULL;
    nova_status st = nova_store_key_get(s, &ar, kid, &row);
    if (st)
        goto end;
    st = nova_key_from_jwk(row.public_jwk, strlen(row.public_jwk), &k);
    if (st) {
        st = NOVA_INTERNAL;
        goto end;
    }
    st = publish(a, row.kid, row.tenant_id, k, false, out);
end:
    nova_arena_free(&ar);
    return st;
}

nova_status auth_key_for_tenant(nova_auth_t *a, nova_store_t *s, const char *tenant_id,
                                const key_entry **out)
{
    pthread_rwlock_rdlock(&a->keys_lock);
    const key_entry *e = find(a, tenant_id, true);
    pthread_rwlock_unlock(&a->keys_lock);
    if (e) {
        *out = e;
        return NOVA_OK;
    }
    nova_arena_t ar;
    nova_arena_init(&ar, 4096);
    nova_signing_key_t row;
    nova_key_t *k = NULL;
    nova_buf_t der;
    nova_buf_init(&der);
    nova_jws_alg alg;
    nova_status st = nova_store_key_get_active(s, &ar, tenant_id, &row);
    if (st)
        goto end;
    if (nova_jws_alg_parse(row.alg, &alg) != NOVA_OK) {
        st = NOVA_INTERNAL;
        goto end;
    }
    const char *aad = seal_aad(&ar, row.kid, row.tenant_id);
    st = nova_aead_open(a->seal_key, aad, strlen(aad), row.private_enc, row.private_enc_len, &der);
    if (st) {
        /* Wrong master key, or the row was tampered with: never sign with it. */
        st = NOVA_INTERNAL;
        goto end;
    }
    st = nova_key_import_private(alg, row.kid, (const uint8_t *)der.data, der.len, &k);
    if (st) {
        st = NOVA_INTERNAL;
        goto end;
    }
    st = publish(a, row.kid, row.tenant_id, k, true, out);
end:
    if (der.data)
        OPENSSL_cleanse(der.data, der.len);
    nova_buf_free(&der);
    nova_arena_free(&ar);
    return st;
}

nova_status nova_auth_tenant_create(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                    const nova_audit_actor_t *by, const char *name,
                                    nova_tenant_t *out)
{
    size_t nl = name ? strlen(name) : 0;
    if (nl == 0 || nl > 128)
        return NOVA_INVALID;
    for (size_t i = 0; i < nl; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return NOVA_INVALID;
    char id[64];
    nova_status st = nova_id_new("ten", id, sizeof(id));
    if (st)
        return st;
    nova_signing_key_t key;
    st = auth_key_new(a, ar, id, &key);
    if (st)
        return st;
    out->id = nova_arena_strdup(ar, id);
    out->name = nova_arena_strdup(ar, name);
    out->created_at = key.created_at;
    if (out->id == NULL || out->name == NULL)
        return NOVA_NOMEM;
    nova_audit_entry_t ae;
    st = nova_audit_entry_make(&ae, ar, by, out->id, "tenant.create", "tenant", out->id,
                               json_pack("{s:s, s:s}", "name", name, "kid", key.kid));
    if (st)
        return st;
    return nova_store_tenant_create(s, out, &key, &ae);
}

/* Appends {"keys":[...]} of the n keys. */
static nova_status jwks_doc(const nova_signing_key_t *keys, size_t n, nova_buf_t *out)
{
    nova_status st = nova_buf_append_cstr(out, "{\"keys\":[");
    for (size_t i = 0; i < n && st == NOVA_OK; i++) {
        if (i)
            st = nova_buf_append(out, ",", 1);
        if (st == NOVA_OK)
            st = nova_buf_append_cstr(out, keys[i].public_jwk);
    }
    if (st == NOVA_OK)
        st = nova_buf_append_cstr(out, "]}");
    return st;
}

nova_status nova_auth_jwks(nova_auth_t *a, nova_store_t *s, nova_buf_t *out)
{
    (void)a;
    nova_arena_t ar;
    nova_arena_init(&ar, 16384);
    nova_signing_key_t *keys = NULL;
    size_t n = 0;
    nova_status st = nova_store_key_list(s, &ar, &keys, &n);
    if (st == NOVA_OK)
        st = jwks_doc(keys, n, out);
    nova_arena_free(&ar);
    return st;
}

nova_status nova_auth_tenant_jwks(nova_auth_t *a, nova_store_t *s, const char *tenant_id,
                                  nova_buf_t *out)
{
    (void)a;
    nova_arena_t ar;
    nova_arena_init(&ar, 4096);
    nova_signing_key_t *keys = NULL;
    size_t n = 0;
    nova_status st = nova_store_key_list_tenant(s, &ar, tenant_id, &keys, &n);
    /* Every tenant is created with its key in one transaction: no key, no tenant. An id the
     * store refuses outright ("*", "") is just as unknown. */
    if (st == NOVA_INVALID || (st == NOVA_OK && n == 0))
        st = NOVA_NOT_FOUND;
    if (st == NOVA_OK)
        st = jwks_doc(keys, n, out);
    nova_arena_free(&ar);
    return st;
}
