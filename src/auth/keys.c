/* keys.c: per-tenant signing keys and their rotation (seed 003 §10). A key is generated with
 * its tenant, its private half sealed (AES-256-GCM under a key derived from the master key,
 * bound to kid and tenant as associated data) before it reaches the store.
 *
 * Caches, and why a retired key stops verifying everywhere:
 *   - verification keys by kid are loaded on first use and kept for the life of the process:
 *     a public key never changes. Whether the key may still vouch for a token (active, or in
 *     grace before its end) is NOT taken from this cache: the store's liveness read that
 *     every authenticated request makes already (nova_store_token_resolve) checks the kid's
 *     state too, so a retirement takes effect on every instance from the next request.
 *   - the tenant's signing key (with its private half) is re-confirmed against the store once
 *     it is older than KEY_RECHECK_MS, so after a rotation on another instance this one signs
 *     with the new key within that bound (tokens it signed meanwhile with a grace key verify;
 *     with a just-retired one they fail closed). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "internal.h"
#include "nova/audit_store.h"
#include "nova/session_store.h"

/* How long a signing-key cache entry is trusted before the store confirms it is still the
 * tenant's active key. */
#define KEY_RECHECK_MS 1000

static int64_t mono_ms(void)
{
    return (int64_t)(nova_time_mono_ns() / 1000000u);
}

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

/* Publishes a new entry; takes ownership of key. A verification entry (active false) is not
 * added when its kid is known already. A signing entry (active true) replaces the tenant's
 * previous one unless that has the same kid (another thread got there first). Entries taken
 * out of the tenant table stay in the kid table and the list of all: readers may still hold
 * them, and nova_auth_free frees them. */
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
    atomic_store(&e->checked_ms, mono_ms());
    if (e->kid == NULL || e->tenant_id == NULL) {
        free(e->kid);
        free(e->tenant_id);
        free(e);
        nova_key_free(key);
        return NOVA_NOMEM;
    }
    pthread_rwlock_wrlock(&a->keys_lock);
    const key_entry *have = find(a, active ? tenant_id : kid, active);
    if (have && strcmp(have->kid, kid) == 0) {
        atomic_store(&((key_entry *)have)->checked_ms, mono_ms());
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
        for (key_entry **pp = &a->by_tenant[bt]; *pp; pp = &(*pp)->next_tenant)
            if (*pp == have) {
                *pp = have->next_tenant; /* the tenant's previous signing key */
                break;
            }
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

/* The tenant's signing key; fresh: confirm it in the store whatever the cache's age. */
static nova_status key_for_tenant(nova_auth_t *a, nova_store_t *s, const char *tenant_id,
                                  bool fresh, const key_entry **out)
{
    pthread_rwlock_rdlock(&a->keys_lock);
    key_entry *e = (key_entry *)find(a, tenant_id, true);
    pthread_rwlock_unlock(&a->keys_lock);
    if (e && !fresh && mono_ms() - atomic_load(&e->checked_ms) < KEY_RECHECK_MS) {
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
    /* A store that cannot confirm the key is an error, not a reason to sign with a key that
     * may have been retired. */
    nova_status st = nova_store_key_get_active(s, &ar, tenant_id, &row);
    if (st)
        goto end;
    if (e && strcmp(e->kid, row.kid) == 0) {
        atomic_store(&e->checked_ms, mono_ms());
        *out = e;
        goto end;
    }
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

nova_status auth_key_for_tenant(nova_auth_t *a, nova_store_t *s, const char *tenant_id,
                                const key_entry **out)
{
    return key_for_tenant(a, s, tenant_id, false, out);
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
    nova_status st = nova_store_key_list(s, &ar, nova_time_now(), &keys, &n);
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
    nova_status st = nova_store_key_list_tenant(s, &ar, tenant_id, nova_time_now(), &keys, &n);
    /* Every tenant is created with its key in one transaction: no key, no tenant. An id the
     * store refuses outright ("*", "") is just as unknown. */
    if (st == NOVA_INVALID || (st == NOVA_OK && n == 0))
        st = NOVA_NOT_FOUND;
    if (st == NOVA_OK)
        st = jwks_doc(keys, n, out);
    nova_arena_free(&ar);
    return st;
}

/* ---- rotation ---- */

static const char *state_after(int64_t grace)
{
    return grace > 0 ? "grace" : "retired";
}

nova_status nova_auth_key_rotate(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                 const nova_audit_actor_t *by, const char *tenant_id, int64_t grace,
                                 const char *reason, nova_key_rotation_t *out)
{
    if (grace < 0 || grace > NOVA_KEY_GRACE_MAX || reason == NULL)
        return NOVA_INVALID;
    nova_signing_key_t old, key;
    nova_status st = nova_store_key_get_active(s, ar, tenant_id, &old);
    if (st == NOVA_INVALID)
        st = NOVA_NOT_FOUND;
    if (st)
        return st;
    st = auth_key_new(a, ar, tenant_id, &key);
    if (st)
        return st;
    int64_t now = key.created_at;
    int64_t grace_until = grace > 0 ? now + grace : 0;
    nova_audit_entry_t ae;
    st = nova_audit_entry_make(&ae, ar, by, tenant_id, "key.rotate", "key", key.kid,
                               json_pack("{s:s, s:s, s:s, s:I, s:s}", "previous_kid", old.kid,
                                         "previous_state", state_after(grace), "reason", reason,
                                         "grace_seconds", (json_int_t)grace, "alg", key.alg));
    if (st)
        return st;
    st = nova_store_key_rotate(s, tenant_id, old.kid, &key, grace_until, now, &ae);
    if (st)
        return st;
    /* This instance signs with the new key at once; others within KEY_RECHECK_MS. */
    const key_entry *e;
    (void)key_for_tenant(a, s, tenant_id, true, &e);
    memset(out, 0, sizeof(*out));
    out->tenant_id = tenant_id;
    out->new_kid = key.kid;
    out->old_kid = old.kid;
    out->old_state = state_after(grace);
    out->grace_until = grace_until;
    return NOVA_OK;
}

nova_status nova_auth_keys_maintain(nova_auth_t *a, nova_store_t *s, int64_t now,
                                    int64_t rotate_after, int64_t grace, unsigned *rotated,
                                    unsigned *retired)
{
    static const nova_audit_actor_t sys = {.id = "system"};
    nova_arena_t ar;
    nova_arena_init(&ar, 16384);
    nova_signing_key_t *keys = NULL;
    size_t n = 0;
    *rotated = *retired = 0;
    /* Grace keys past their end verify nothing already (the store checks grace_until at read
     * time); marking them retired keeps the table honest and the audit trail complete. */
    nova_status st = nova_store_key_list_grace_ended(s, &ar, now, &keys, &n);
    for (size_t i = 0; st == NOVA_OK && i < n; i++) {
        nova_audit_entry_t ae;
        st = nova_audit_entry_make(&ae, &ar, &sys, keys[i].tenant_id, "key.retire", "key",
                                   keys[i].kid, json_pack("{s:s}", "reason", "grace_ended"));
        if (st == NOVA_OK)
            st = nova_store_key_retire(s, keys[i].tenant_id, keys[i].kid, now, &ae);
        if (st == NOVA_NOT_FOUND)
            st = NOVA_OK; /* another instance retired it first */
        else if (st == NOVA_OK)
            (*retired)++;
    }
    if (st == NOVA_OK && rotate_after > 0) {
        st = nova_store_key_list_due(s, &ar, now - rotate_after, &keys, &n);
        for (size_t i = 0; st == NOVA_OK && i < n; i++) {
            nova_key_rotation_t rot;
            st = nova_auth_key_rotate(a, s, &ar, &sys, keys[i].tenant_id, grace, "scheduled", &rot);
            if (st == NOVA_CONFLICT)
                st = NOVA_OK; /* rotated meanwhile, by another instance or by hand */
            else if (st == NOVA_OK)
                (*rotated)++;
        }
    }
    nova_arena_free(&ar);
    return st;
}

nova_status nova_auth_tenant_contain(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                     const nova_audit_actor_t *by, const char *tenant_id,
                                     nova_contain_result_t *out)
{
    memset(out, 0, sizeof(*out));
    /* 1. The signing key: rotated with no grace, so every token the old key signed fails from
     *    the next request on every instance. */
    nova_status st =
        nova_auth_key_rotate(a, s, ar, by, tenant_id, 0, "containment", &out->rotation);
    if (st)
        return st;
    /* 2. Every session, and with each its refresh-token family. */
    int64_t now = nova_time_now(), n = 0;
    nova_audit_entry_t ae;
    st = nova_audit_entry_make(&ae, ar, by, tenant_id, "session.revoke_all", "tenant", tenant_id,
                               json_pack("{s:s}", "reason", "contained"));
    if (st == NOVA_OK)
        st = nova_store_session_revoke_all(s, tenant_id, "contained", now, &ae, &n);
    if (st)
        return st;
    out->sessions_revoked = n;
    /* 3. The runbook's own entry, naming what was done. */
    st = nova_audit_entry_make(&ae, ar, by, tenant_id, "tenant.contain", "tenant", tenant_id,
                               json_pack("{s:s, s:s, s:I}", "retired_kid", out->rotation.old_kid,
                                         "new_kid", out->rotation.new_kid, "sessions_revoked",
                                         (json_int_t)n));
    if (st == NOVA_OK)
        st = nova_store_audit_append(s, NULL, &ae, NULL);
    return st;
}
