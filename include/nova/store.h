/*
 * store.h: Nova's relational store. One interface, two drivers: SQLite (embedded default,
 * WAL, BEGIN IMMEDIATE for writes) and PostgreSQL 15 (libpq). A nova_store_t is one
 * connection and belongs to one thread; nova_store_thread() hands each thread its own.
 *
 * Every call on tenant-owned data takes the tenant id; a row of another tenant is reported
 * as NOVA_NOT_FOUND, never returned. Strings in returned rows are allocated from the arena
 * the caller passes and live as long as it.
 *
 * Every call that changes tenant data takes the audit entry of the change (never NULL; its
 * tenant_id is the tenant changed) and appends it to the tenant's hash chain in the same
 * transaction (nova/audit_store.h): the change and its entry commit together or not at all.
 */
#ifndef NOVA_STORE_H
#define NOVA_STORE_H

#include "nova/audit.h"
#include "nova/base.h"

typedef struct nova_store nova_store_t;

/* Opens a connection. url: "sqlite:PATH" (file; parent directory is created), "sqlite::memory:"
 * (a database private to this one connection: tests only) or "postgres://..." /
 * "postgresql://...". On failure writes a reason into err (never the
 * password) and returns NOVA_UNAVAILABLE or NOVA_INVALID (bad url). */
nova_status nova_store_open(const char *url, nova_store_t **out, char *err, size_t errlen);
void nova_store_close(nova_store_t *s);
/* "sqlite" or "postgres". */
const char *nova_store_driver(const nova_store_t *s);
/* Cheap round trip to the database (for /v1/ready). */
nova_status nova_store_ping(nova_store_t *s);

/* From now on, SQLite connections this process opens leave WAL checkpoints to
 * nova_store_checkpoint (novad's "store-checkpoint" job, once a second) instead of the thread
 * that commits; past 64 MB of WAL the committing thread still checkpoints. Call before
 * threads open connections. No effect on PostgreSQL. */
void nova_store_defer_checkpoints(void);
/* Background upkeep of the store: SQLite's passive WAL checkpoint (never waits for a lock);
 * nothing on PostgreSQL. */
nova_status nova_store_checkpoint(nova_store_t *s);

/* This thread's connection to url, opened on first use and closed when the thread exits.
 * All threads of a process must use the same url. */
nova_status nova_store_thread(const char *url, nova_store_t **out);

/* Highest migration version compiled into this binary. */
int nova_store_code_version(void);
/* Version recorded in the database (0 for an empty database). */
nova_status nova_store_schema_version(nova_store_t *s, int *out);
/* Applies every pending migration, each in its own transaction, recording it in
 * schema_version. Returns NOVA_CONFLICT (and changes nothing) when the database is newer than
 * this binary. from/to may be NULL. Safe to run concurrently from several processes. */
nova_status nova_store_migrate(nova_store_t *s, int *from, int *to);

/* ---- rows ---- */

typedef struct nova_tenant {
    const char *id;
    const char *name;
    int64_t created_at;
} nova_tenant_t;

typedef struct nova_signing_key {
    const char *kid;
    const char *tenant_id;
    const char *alg;            /* "EdDSA" | "ES256" */
    const char *public_jwk;     /* JSON text */
    const uint8_t *private_enc; /* AEAD-sealed PKCS#8, opaque to the store */
    size_t private_enc_len;
    int64_t created_at;
    bool active;         /* the key new tokens of this tenant are signed with */
    const char *state;   /* "active" | "grace" | "retired" (migration 0006) */
    int64_t grace_until; /* grace: verifies and is published until then (unix seconds) */
    int64_t retired_at;  /* retired: since when (0 otherwise) */
} nova_signing_key_t;

typedef struct nova_client {
    const char *id;
    const char *tenant_id;
    const char *name;
    const char *secret_digest; /* hex HMAC-SHA-256, 64 chars */
    const char *scopes;        /* space-separated */
    const char *audiences;     /* space-separated */
    int64_t created_at;
    int64_t revoked_at;         /* 0 while active */
    const char *auth_method;    /* "client_secret" (NULL on create means it), "private_key_jwt",
                                   "tls_client_auth", "self_signed_tls_client_auth" */
    const char *jwks;           /* JWK Set text: private_key_jwt keys, or x5c certificates */
    const char *tls_subject_dn; /* tls_client_auth: the certificate subject (RFC 4514) */
} nova_client_t;

/* ---- tenants and their keys ---- */

/* Creates the tenant and its first signing key in one transaction. NOVA_CONFLICT when the id
 * exists or another tenant has the name: names are unique per deployment, ASCII letters
 * compared without case and every other byte exactly (migration 0003). key->tenant_id must
 * equal t->id. */
nova_status nova_store_tenant_create(nova_store_t *s, const nova_tenant_t *t,
                                     const nova_signing_key_t *key,
                                     const nova_audit_entry_t *audit);
nova_status nova_store_tenant_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                  nova_tenant_t *out);
/* All tenants, oldest first. *out is an arena array of *n rows. */
nova_status nova_store_tenant_list(nova_store_t *s, nova_arena_t *a, nova_tenant_t **out,
                                   size_t *n);

/* The key with this kid, whatever its tenant (the caller checks the tenant). */
nova_status nova_store_key_get(nova_store_t *s, nova_arena_t *a, const char *kid,
                               nova_signing_key_t *out);
/* The tenant's active signing key. */
nova_status nova_store_key_get_active(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                      nova_signing_key_t *out);
/* Every tenant's live keys at now (active, or in grace before grace_until: the keys that
 * verify), for the JWKS document, oldest first. */
nova_status nova_store_key_list(nova_store_t *s, nova_arena_t *a, int64_t now,
                                nova_signing_key_t **out, size_t *n);
/* The tenant's live keys at now (for its own JWKS), oldest first; none (n 0) for an unknown
 * tenant. */
nova_status nova_store_key_list_tenant(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                       int64_t now, nova_signing_key_t **out, size_t *n);
/* The tenant's keys in every state, oldest first (GET /v1/keys, novactl key list). */
nova_status nova_store_key_history(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                   nova_signing_key_t **out, size_t *n);
/* Rotates in one transaction: the active key old_kid becomes "grace" until grace_until (0:
 * "retired" at now), any other key in grace is retired (at most two keys verify at a time),
 * and new_key (active) is inserted. NOVA_CONFLICT, nothing changed, when old_kid is no longer
 * the tenant's active key (a concurrent rotation won). */
nova_status nova_store_key_rotate(nova_store_t *s, const char *tenant_id, const char *old_kid,
                                  const nova_signing_key_t *new_key, int64_t grace_until,
                                  int64_t now, const nova_audit_entry_t *audit);
/* Retires a key in grace. NOVA_NOT_FOUND when kid is not a grace key of the tenant. */
nova_status nova_store_key_retire(nova_store_t *s, const char *tenant_id, const char *kid,
                                  int64_t now, const nova_audit_entry_t *audit);
/* Platform level, for the scheduler: active keys created at or before created_before, and
 * grace keys whose grace_until is at or before now; oldest first. */
nova_status nova_store_key_list_due(nova_store_t *s, nova_arena_t *a, int64_t created_before,
                                    nova_signing_key_t **out, size_t *n);
nova_status nova_store_key_list_grace_ended(nova_store_t *s, nova_arena_t *a, int64_t now,
                                            nova_signing_key_t **out, size_t *n);

/* ---- API clients ---- */

/* NOVA_CONFLICT when the id exists; NOVA_NOT_FOUND when the tenant does not. */
nova_status nova_store_client_create(nova_store_t *s, const nova_client_t *c,
                                     const nova_audit_entry_t *audit);
/* Looks a client up by its globally unique id (the token endpoint does not know the tenant
 * yet). Revoked clients are returned too (revoked_at != 0). */
nova_status nova_store_client_get(nova_store_t *s, nova_arena_t *a, const char *client_id,
                                  nova_client_t *out);
/* The client with this id if it belongs to the tenant (revoked ones too), else NOVA_NOT_FOUND:
 * for tenant-scoped reads such as the admin API. */
nova_status nova_store_client_get_scoped(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                         const char *client_id, nova_client_t *out);
/* The tenant's clients, oldest first, revoked ones included. */
nova_status nova_store_client_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                   nova_client_t **out, size_t *n);
/* Marks the client revoked. NOVA_NOT_FOUND when it is not the tenant's or already revoked. */
nova_status nova_store_client_revoke(nova_store_t *s, const char *tenant_id, const char *client_id,
                                     int64_t now, const nova_audit_entry_t *audit);

/* ---- access token state ---- */

/* Records a revoked token id until exp (idempotent). */
nova_status nova_store_token_revoke(nova_store_t *s, const char *tenant_id, const char *jti,
                                    int64_t exp, const nova_audit_entry_t *audit);
/* One round trip: the tenant's row when the client exists in the tenant, is not revoked, the
 * jti is not revoked, and the signing key kid is the tenant's and live at now (active, or in
 * grace before its end); NOVA_NOT_FOUND otherwise. Authentication resolves the caller's
 * tenant with it, so handlers need no second read, and a retired key's tokens fail on every
 * instance whatever it has cached. */
nova_status nova_store_token_resolve(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                     const char *client_id, const char *jti, const char *kid,
                                     int64_t now, nova_tenant_t *out);
/* Deletes revocation records whose exp is before now. Not audited: it removes records that no
 * longer decide anything, and nobody asked for it. */
nova_status nova_store_token_prune(nova_store_t *s, int64_t now);

/* ---- deployment settings (not tenant data) ---- */

/* Stores value under name unless a value is there already, then sets *stored (arena) to the
 * value the store holds: the first writer wins, so callers compare *stored with value. */
nova_status nova_store_setting_ensure(nova_store_t *s, nova_arena_t *a, const char *name,
                                      const char *value, const char **stored);

#endif
