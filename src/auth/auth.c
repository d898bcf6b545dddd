/* auth.c: the auth context, master key handling, scopes and the verified-token cache. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "internal.h"

const char *const nova_auth_scopes[] = {
    "platform:admin",      /* the platform operator: manage tenants */
    "clients:read",        /* list the tenant's API clients */
    "clients:write",       /* create and revoke the tenant's API clients */
    "audit:read",          /* read the tenant's audit log (GET /v1/audit) */
    "sdk:sessions",        /* mint SDK sessions for applicants (POST /v1/sdk/sessions) */
    "api-keys:read",       /* list and read the tenant's API keys */
    "api-keys:write",      /* create, rotate and revoke the tenant's API keys */
    "verifications:read",  /* read verifications (the gateway; SDK sessions may hold it) */
    "verifications:write", /* submit verifications (the gateway; SDK sessions may hold it) */
    "keys:read",           /* list the tenant's signing keys and their states (GET /v1/keys) */
    "keys:write",          /* rotate the tenant's signing key (POST /v1/keys/rotate) */
    "killswitches:read",   /* list the tenant's kill switches (GET /v1/kill-switches) */
    "killswitches:write",  /* flip them (PUT /v1/kill-switches/{action}) */
    "fga:read",            /* OpenFGA API: read stores, models, tuples; check and list (/stores) */
    "fga:write",           /* OpenFGA API: stores, models, tuple writes and assertions */
    "authz:decide",        /* ask the decision point (/v1/authz/decision, AuthZEN /access/v1) */
    "policy:read",         /* read policy versions, the lifecycle state, drift; simulate */
    "policy:write",        /* publish, promote, roll back and shadow policy versions */
    "security:read",       /* read the tenant's security settings (GET /v1/tenants/{id}/security) */
    "security:write",      /* change them (PUT /v1/tenants/{id}/security) */
    "workflows:read",  /* read verification workflows and usage (GET /v1/workflows, /v1/usage) */
    "workflows:write", /* create and version them (POST /v1/workflows, PUT /v1/workflows/{id}) */
    "reviews:read",    /* verifications waiting for manual review, with their images */
    "reviews:write",   /* decide them (POST /v1/reviews/{id}/decision) */
    "webhooks:read",   /* read webhook endpoints and events with their delivery log */
    "webhooks:write",  /* create endpoints, rotate their secrets, replay events */
    "users:read",      /* read the tenant's users and their sessions (/v1/users, /v1/sessions) */
    "users:write",     /* create, change, suspend, delete users; end their sessions */
    "ledger:read",     /* read accounts, balances and postings (/v1/core) */
    "ledger:write",    /* open and freeze accounts, post, hold, reverse (/v1/core) */
    NULL,
};

nova_status nova_auth_platform_sign(const nova_auth_t *a, const void *msg, size_t n,
                                    uint8_t sig[64])
{
    return nova_audit_platform_sign(a->master_key, msg, n, sig);
}

nova_status nova_auth_platform_verify(const nova_auth_t *a, const void *msg, size_t n,
                                      const uint8_t sig[64])
{
    return nova_audit_platform_verify(a->master_key, msg, n, sig);
}

uint64_t auth_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

nova_status nova_auth_new(const nova_auth_config_t *cfg, nova_auth_t **out)
{
    nova_auth_t *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NOVA_NOMEM;
    memcpy(a->master_key, cfg->master_key, 32);
    /* Separate keys per purpose, so a leak of one use reveals nothing about another. */
    if (nova_hkdf_sha256(a->master_key, 32, "nova client-secret pepper v1", a->pepper, 32) ||
        nova_hkdf_sha256(a->master_key, 32, "nova signing-key seal v1", a->seal_key, 32))
        goto error;
    if (auth_dpop_init(a) != NOVA_OK)
        goto error;
    if (nova_hkdf_sha256(a->master_key, 32, "nova refresh-token pepper v1", a->refresh_pepper, 32))
        goto error;
    a->session_ttl = cfg->session_ttl ? cfg->session_ttl : 1800;
    a->issuer = strdup(cfg->issuer);
    a->audience = strdup(cfg->audience);
    if (a->issuer == NULL || a->audience == NULL)
        goto error;
    /* Tenant issuers append "/tenants/ID": one slash, however NOVA_ISSUER was written. */
    for (size_t n = strlen(a->issuer); n > 0 && a->issuer[n - 1] == '/'; n--)
        a->issuer[n - 1] = '\0';
    a->jwks_combined = cfg->jwks_combined;
    if (cfg->metrics_token && *cfg->metrics_token) {
        nova_sha256(cfg->metrics_token, strlen(cfg->metrics_token), a->metrics_token_digest);
        a->metrics_token_set = true;
    }
    a->token_ttl = cfg->token_ttl;
    a->alg = cfg->alg;
    pthread_rwlock_init(&a->keys_lock, NULL);
    if (auth_datakeys_init(a) != NOVA_OK)
        goto error;
    if (cfg->token_cache) {
        /* calloc: pages of the cache stay untouched (and out of RSS) until used. */
        a->tokens = calloc(cfg->token_cache, sizeof(token_entry));
        if (a->tokens == NULL)
            goto error;
        a->ntokens = cfg->token_cache;
    }
    for (int i = 0; i < TOKEN_LOCKS; i++)
        pthread_mutex_init(&a->token_locks[i], NULL);
    *out = a;
    return NOVA_OK;
error:
    auth_datakeys_free(a);
    free(a->issuer);
    free(a->audience);
    OPENSSL_cleanse(a, sizeof(*a));
    free(a);
    return NOVA_INTERNAL;
}

void nova_auth_free(nova_auth_t *a)
{
    if (a == NULL)
        return;
    key_entry *e = a->all;
    while (e) {
        key_entry *next = e->next_all;
        nova_key_free(e->key);
        free(e->kid);
        free(e->tenant_id);
        free(e);
        e = next;
    }
    auth_dpop_free(a);
    pthread_rwlock_destroy(&a->keys_lock);
    auth_datakeys_free(a);
    for (int i = 0; i < TOKEN_LOCKS; i++)
        pthread_mutex_destroy(&a->token_locks[i]);
    free(a->tokens);
    free(a->issuer);
    free(a->audience);
    /* Key material must not linger in freed memory. */
    OPENSSL_cleanse(a, sizeof(*a));
    free(a);
}

const char *nova_auth_issuer(const nova_auth_t *a)
{
    return a->issuer;
}

const char *nova_auth_audience(const nova_auth_t *a)
{
    return a->audience;
}

static const char tenant_infix[] = "/tenants/";

const char *nova_auth_tenant_issuer(const nova_auth_t *a, nova_arena_t *ar, const char *tenant_id)
{
    return nova_arena_printf(ar, "%s%s%s", a->issuer, tenant_infix, tenant_id);
}

bool auth_issuer_is(const nova_auth_t *a, const char *tenant_id, const char *iss)
{
    size_t il = strlen(a->issuer), xl = sizeof(tenant_infix) - 1;
    return strncmp(iss, a->issuer, il) == 0 && strncmp(iss + il, tenant_infix, xl) == 0 &&
           strcmp(iss + il + xl, tenant_id) == 0;
}

bool nova_auth_jwks_combined(const nova_auth_t *a)
{
    return a->jwks_combined;
}

bool nova_auth_metrics_token_ok(const nova_auth_t *a, const char *presented, size_t len)
{
    uint8_t d[32];
    nova_sha256(presented ? presented : "", presented ? len : 0, d);
    /* Digests of equal length: the comparison takes the same time whatever was sent. */
    bool same = CRYPTO_memcmp(d, a->metrics_token_digest, sizeof(d)) == 0;
    return a->metrics_token_set && same;
}

nova_status nova_auth_master_key_load(const char *b64, const char *path, bool create,
                                      uint8_t out[32], char *err, size_t errlen)
{
    uint8_t raw[64];
    size_t n = 0;
    if (b64 && *b64) {
        size_t len = strlen(b64);
        if (len > 60 || nova_b64url_decode(b64, len, raw, &n) != NOVA_OK || n != 32) {
            snprintf(err, errlen, "NOVA_MASTER_KEY must be 32 bytes in base64url (43 chars)");
            return NOVA_INVALID;
        }
        memcpy(out, raw, 32);
        return NOVA_OK;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL && errno == ENOENT && create) {
        /* Create the directory and the key file, refusing to follow an existing file. */
        char dir[1024];
        snprintf(dir, sizeof(dir), "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = '\0';
            if (*dir)
                mkdir(dir, 0700);
        }
        uint8_t key[32];
        char text[64];
        if (nova_random_bytes(key, 32) != NOVA_OK) {
            snprintf(err, errlen, "no randomness for the master key");
            return NOVA_INTERNAL;
        }
        nova_b64url_encode(key, 32, text);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0) {
            if (errno != EEXIST) {
                snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
                return NOVA_UNAVAILABLE;
            }
            /* Another process won the race: read its key below. */
        } else {
            size_t tl = strlen(text);
            text[tl] = '\n';
            ssize_t w = write(fd, text, tl + 1);
            close(fd);
            if (w != (ssize_t)(tl + 1)) {
                snprintf(err, errlen, "cannot write %s", path);
                return NOVA_UNAVAILABLE;
            }
            memcpy(out, key, 32);
            return NOVA_OK;
        }
        f = fopen(path, "r");
    }
    if (f == NULL) {
        snprintf(err, errlen, "cannot read master key %s: %s", path, strerror(errno));
        return NOVA_UNAVAILABLE;
    }
    char line[128] = {0};
    char *got = fgets(line, sizeof(line), f);
    fclose(f);
    size_t len = got ? strcspn(line, "\r\n") : 0;
    if (len == 0 || len > 60 || nova_b64url_decode(line, len, raw, &n) != NOVA_OK || n != 32) {
        snprintf(err, errlen, "master key file %s must hold 32 bytes in base64url", path);
        return NOVA_INVALID;
    }
    memcpy(out, raw, 32);
    return NOVA_OK;
}

nova_status nova_auth_master_key_bind(nova_store_t *s, const uint8_t key[32])
{
    static const char label[] = "nova master key check v1";
    uint8_t mac[32];
    char hex[65];
    nova_hmac_sha256(key, 32, label, sizeof(label) - 1, mac);
    nova_hex_encode(mac, sizeof(mac), hex);
    nova_arena_t ar;
    nova_arena_init(&ar, 512);
    const char *stored = NULL;
    nova_status st = nova_store_setting_ensure(s, &ar, "master_key_check", hex, &stored);
    if (st == NOVA_OK && strcmp(stored, hex) != 0)
        st = NOVA_CONFLICT;
    nova_arena_free(&ar);
    return st;
}

static bool word_in(const char *w, size_t wl, const char *list)
{
    const char *p = list;
    while (p && *p) {
        while (*p == ' ')
            p++;
        size_t l = strcspn(p, " ");
        if (l == wl && l && memcmp(p, w, l) == 0)
            return true;
        p += l;
    }
    return false;
}

bool nova_auth_scope_subset(const char *want, const char *have)
{
    const char *p = want;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t l = strcspn(p, " ");
        if (l && !word_in(p, l, have))
            return false;
        p += l;
    }
    return true;
}

bool nova_auth_scope_has(const char *scopes, const char *one)
{
    return word_in(one, strlen(one), scopes);
}

/* ---- verified-token cache ---- */

static size_t slot_of(const nova_auth_t *a, const uint8_t d[32])
{
    uint64_t v;
    memcpy(&v, d, sizeof(v));
    return (size_t)(v % a->ntokens);
}

bool auth_token_cache_get(nova_auth_t *a, const uint8_t digest[32], int64_t now, token_entry *out)
{
    if (a->ntokens == 0)
        return false;
    size_t i = slot_of(a, digest);
    pthread_mutex_t *l = &a->token_locks[i % TOKEN_LOCKS];
    pthread_mutex_lock(l);
    token_entry *e = &a->tokens[i];
    bool hit = e->exp > now && memcmp(e->digest, digest, 32) == 0;
    if (hit)
        *out = *e;
    pthread_mutex_unlock(l);
    return hit;
}

void auth_token_cache_put(nova_auth_t *a, const token_entry *e)
{
    if (a->ntokens == 0)
        return;
    size_t i = slot_of(a, e->digest);
    pthread_mutex_t *l = &a->token_locks[i % TOKEN_LOCKS];
    pthread_mutex_lock(l);
    a->tokens[i] = *e;
    pthread_mutex_unlock(l);
}

void auth_token_cache_drop(nova_auth_t *a, const uint8_t digest[32])
{
    if (a->ntokens == 0)
        return;
    size_t i = slot_of(a, digest);
    pthread_mutex_t *l = &a->token_locks[i % TOKEN_LOCKS];
    pthread_mutex_lock(l);
    if (memcmp(a->tokens[i].digest, digest, 32) == 0)
        memset(&a->tokens[i], 0, sizeof(token_entry));
    pthread_mutex_unlock(l);
}
