/* internal.h: state shared by the auth module's files. Not a public interface. */
#ifndef NOVA_AUTH_INTERNAL_H
#define NOVA_AUTH_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "nova/auth.h"

/* A key known to this process: the verification key for every kid seen, and for a tenant's
 * active key also the private half. Entries are immutable once published and never freed
 * before nova_auth_free, so readers may keep pointers without holding the lock. */
typedef struct key_entry {
    struct key_entry *next_kid;    /* chain in the kid table */
    struct key_entry *next_tenant; /* chain in the tenant table (active keys only) */
    struct key_entry *next_all;    /* every entry, for nova_auth_free */
    char *kid;
    char *tenant_id;
    nova_key_t *key; /* private when loaded as a tenant's active key, else public */
    bool active;
    /* Signing entries: when the store last confirmed this is the tenant's active key
     * (monotonic ms; the one field that changes after publication, hence atomic). */
    _Atomic int64_t checked_ms;
} key_entry;

#define KEY_BUCKETS 1024

/* One verified token remembered by the SHA-256 of its text. Direct-mapped: a colliding token
 * simply replaces the entry. */
typedef struct token_entry {
    uint8_t digest[32];
    int64_t exp;
    int64_t iat;
    char tenant_id[64];
    char client_id[64];
    char subject[128];
    char sid[48];
    char jkt[44]; /* cnf.jkt, "" when unbound */
    char x5t[44]; /* cnf.x5t#S256, "" when unbound */
    char jti[48];
    char kid[64]; /* the signing key: its state is checked with every liveness read */
    char audience[128];
    char scope[256];
} token_entry;

#define TOKEN_LOCKS 64

/* A data key known to this process (datakeys.c): unwrapped, in memory only, zeroed with
 * OPENSSL_cleanse when the auth object is freed. Immutable once published. */
typedef struct dk_entry {
    struct dk_entry *next;
    char *tenant_id;
    char region[17];
    int64_t version;
    uint8_t key[32];
} dk_entry;

/* The version that seals new values in (tenant, region), and when the store last said so. */
typedef struct dk_newest {
    struct dk_newest *next;
    char *tenant_id;
    char region[17];
    int64_t version;
    int64_t checked_ms;
} dk_newest;

#define DK_BUCKETS 256

struct nova_auth {
    uint8_t master_key[32];
    uint8_t pepper[32];          /* HMAC key for client-secret digests, derived from master_key */
    uint8_t seal_key[32];        /* AEAD key for signing keys at rest, derived from master_key */
    uint8_t nonce_key[32];       /* HMAC key of DPoP server nonces, derived from master_key */
    struct dpop_keys *dpop_keys; /* recently seen DPoP proof keys, parsed (dpop.c) */
    uint8_t refresh_pepper[32];  /* HMAC key for refresh-token digests, derived from master_key */
    int64_t session_ttl;         /* default SDK session lifetime, seconds */
    char *issuer;
    char *audience;
    unsigned token_ttl;
    nova_jws_alg alg;
    bool jwks_combined;
    bool metrics_token_set;
    uint8_t metrics_token_digest[32]; /* SHA-256 of the metrics token */

    pthread_rwlock_t keys_lock;
    key_entry *by_kid[KEY_BUCKETS];
    key_entry *by_tenant[KEY_BUCKETS];
    key_entry *all;

    /* Field-level encryption (datakeys.c): the envelope that wraps data keys, and the keys
     * unwrapped so far, behind dk_lock (held for lookups and copies, never across I/O). */
    struct nova_envelope *envelope;
    pthread_mutex_t dk_lock;
    dk_entry *dk_keys[DK_BUCKETS];
    dk_newest *dk_newest[DK_BUCKETS];

    token_entry *tokens;
    size_t ntokens;
    pthread_mutex_t token_locks[TOKEN_LOCKS];
};

uint64_t auth_hash(const char *s);
/* true when iss is tenant_id's issuer (nova_auth_tenant_issuer), compared without allocating. */
bool auth_issuer_is(const nova_auth_t *a, const char *tenant_id, const char *iss);
/* The verification key for kid (loading it from the store on a miss). */
nova_status auth_key_for_kid(nova_auth_t *a, nova_store_t *s, const char *kid,
                             const key_entry **out);
/* The tenant's active signing key with its private half. */
nova_status auth_key_for_tenant(nova_auth_t *a, nova_store_t *s, const char *tenant_id,
                                const key_entry **out);
/* A fresh signing key for a new tenant, sealed for the store. */
nova_status auth_key_new(nova_auth_t *a, nova_arena_t *ar, const char *tenant_id,
                         nova_signing_key_t *row);

/* What an access token says; strings are copied into the token. NULL subject: client_id.
 * ttl 0: the configured lifetime. jkt / x5t: the cnf binding, or NULL. */
typedef struct auth_mint {
    const char *tenant_id, *client_id, *subject, *scope, *audience, *session_id;
    const char *jkt, *x5t;
    int64_t ttl;
} auth_mint_t;

/* RFC 6749 §3.3 scope syntax: scope-tokens separated by single spaces. */
bool auth_scope_words_valid(const char *s);

/* Signs an access token with the tenant's active key. */
nova_status auth_token_mint(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar, const auth_mint_t *m,
                            nova_token_t *out);

/* Data-key state (nova_auth_new / nova_auth_free). */
nova_status auth_datakeys_init(nova_auth_t *a);
void auth_datakeys_free(nova_auth_t *a);

/* Derives the DPoP nonce key and sets up the proof-key cache (nova_auth_new); frees the
 * cache (nova_auth_free). */
nova_status auth_dpop_init(nova_auth_t *a);
void auth_dpop_free(nova_auth_t *a);

bool auth_token_cache_get(nova_auth_t *a, const uint8_t digest[32], int64_t now, token_entry *out);
void auth_token_cache_put(nova_auth_t *a, const token_entry *e);
void auth_token_cache_drop(nova_auth_t *a, const uint8_t digest[32]);

#endif
