/*
 * auth.h: the authentication domain. Tenants with per-tenant signing keys (sealed at rest
 * under the master key), API clients with keyed-digest secrets, OAuth 2.0 client-credentials
 * grants issuing short-lived audience-scoped JWS access tokens (RFC 9068 shape), their
 * verification, introspection (RFC 7662) and revocation (RFC 7009), and the JWKS document.
 *
 * No HTTP and no SQL here: callers pass a store connection (their thread's) and an arena for
 * results. One nova_auth_t serves every thread; it is internally synchronised.
 */
#ifndef NOVA_AUTH_H
#define NOVA_AUTH_H

#include "nova/audit.h"
#include "nova/base.h"
#include "nova/crypto.h"
#include "nova/kv.h"
#include "nova/session_store.h"
#include "nova/store.h"

typedef struct nova_auth nova_auth_t;

typedef struct nova_auth_config {
    uint8_t master_key[32];
    const char *issuer;        /* the deployment's; a tenant's is issuer + "/tenants/" + id */
    const char *audience;      /* the audience this deployment's API accepts */
    unsigned token_ttl;        /* seconds */
    nova_jws_alg alg;          /* for new tenants' keys */
    size_t token_cache;        /* entries of the verified-token cache; 0 disables */
    bool jwks_combined;        /* serve every tenant's keys in one JWKS (nova_auth_jwks) */
    const char *metrics_token; /* bearer token for operational detail; NULL or "": none */
    unsigned session_ttl;      /* default SDK session lifetime in seconds; 0: 1800 */
} nova_auth_config_t;

/* Copies cfg (strings too). */
nova_status nova_auth_new(const nova_auth_config_t *cfg, nova_auth_t **out);
void nova_auth_free(nova_auth_t *a);
/* The deployment's issuer (NOVA_ISSUER, no trailing slash): base of every tenant's issuer. */
const char *nova_auth_issuer(const nova_auth_t *a);
/* The issuer of tenant_id's tokens and its RFC 8414 identifier: "{issuer}/tenants/{id}".
 * Allocated from ar; NULL when out of memory. Tokens of a tenant carry it as `iss`, and
 * verification accepts no other for the token's `tid`. */
const char *nova_auth_tenant_issuer(const nova_auth_t *a, nova_arena_t *ar, const char *tenant_id);
const char *nova_auth_audience(const nova_auth_t *a);
/* Whether the combined JWKS (every tenant's keys) is served. */
bool nova_auth_jwks_combined(const nova_auth_t *a);
/* true when a metrics token is configured and presented (len bytes) equals it. Compares
 * SHA-256 digests in constant time, so neither the token nor its length shows in timing. */
bool nova_auth_metrics_token_ok(const nova_auth_t *a, const char *presented, size_t len);

/* Signs and verifies with the platform key (nova_audit_platform_sign/verify) under this
 * process's master key, which stays inside nova_auth_t. */
nova_status nova_auth_platform_sign(const nova_auth_t *a, const void *msg, size_t n,
                                    uint8_t sig[64]);
nova_status nova_auth_platform_verify(const nova_auth_t *a, const void *msg, size_t n,
                                      const uint8_t sig[64]);

/* Loads the 32-byte master key: from b64 (base64url) when non-empty, else from the file at
 * path, creating it (mode 0600, parent directory too) with fresh random bytes when missing
 * and create is set. err gets a reason on failure. */
nova_status nova_auth_master_key_load(const char *b64, const char *path, bool create,
                                      uint8_t out[32], char *err, size_t errlen);

/* Ties the store to this master key: the first process to call it records a check value
 * (HMAC of a fixed label under the key), later ones must match it, else NOVA_CONFLICT. A
 * process with the wrong key would seal keys and digest secrets nobody else can use. */
nova_status nova_auth_master_key_bind(nova_store_t *s, const uint8_t key[32]);

/* Scopes a client may hold. NULL-terminated. */
extern const char *const nova_auth_scopes[];
/* true when scopes is one or more space-separated words, each in nova_auth_scopes. */
bool nova_auth_scopes_known(const char *scopes);
/* true when every space-separated word of want is in have. */
bool nova_auth_scope_subset(const char *want, const char *have);
bool nova_auth_scope_has(const char *scopes, const char *one);

/* Creates a tenant named name (1-128 chars, no control characters) with a fresh signing key.
 * NOVA_CONFLICT when another tenant has that name (see nova_store_tenant_create). Audited as
 * "tenant.create" by `by`, in the new tenant's chain. */
nova_status nova_auth_tenant_create(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                    const nova_audit_actor_t *by, const char *name,
                                    nova_tenant_t *out);

/* Creates an API client in tenant_id. scopes: space-separated, each in nova_auth_scopes;
 * audiences: space-separated, NULL means the deployment's audience. *secret gets the
 * 256-bit secret (base64url) — shown once, only its keyed digest is stored. */
nova_status nova_auth_client_create(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                    const nova_audit_actor_t *by, const char *tenant_id,
                                    const char *name, const char *scopes, const char *audiences,
                                    nova_client_t *out, const char **secret);

/* A client to create, and how it will authenticate at the token endpoint. */
typedef struct nova_client_spec {
    const char *name;
    const char *scopes;
    const char *audiences;      /* NULL: the deployment's audience */
    const char *auth_method;    /* NULL or "client_secret" (HTTP Basic or the form: a secret is
                                   made), "private_key_jwt" (needs jwks: 1-8 public EdDSA or
                                   ES256 keys), "tls_client_auth" (needs tls_subject_dn),
                                   "self_signed_tls_client_auth" (needs jwks with x5c) */
    const char *jwks;           /* JWK Set text */
    const char *tls_subject_dn; /* RFC 4514 */
} nova_client_spec_t;

/* As nova_auth_client_create for any method; *secret is NULL unless the method is
 * client_secret. NOVA_INVALID with *why naming the field. */
nova_status nova_auth_client_create_spec(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                         const nova_audit_actor_t *by, const char *tenant_id,
                                         const nova_client_spec_t *spec, nova_client_t *out,
                                         const char **secret, const char **why);

/* private_key_jwt (RFC 7523 §2.2): verifies a client assertion signed by a key of the client's
 * JWK Set: iss = sub = client (client_id, when given, must agree), aud the token endpoint or
 * an issuer identifier, exp within 10 minutes, jti never seen before (kv; NOVA_UNAVAILABLE when
 * the control plane is down). NOVA_UNAUTHORIZED with *why otherwise. */
nova_status nova_auth_client_assertion(nova_auth_t *a, nova_kv_t *kv, nova_store_t *s,
                                       nova_arena_t *ar, const char *assertion,
                                       const char *client_id, const char *token_endpoint,
                                       nova_client_t *out, const char **why);
/* RFC 8705 mutual-TLS client authentication: tls_client_auth needs a certificate verified
 * against the client CA whose subject is the registered one; self_signed_tls_client_auth a
 * certificate whose SHA-256 (thumbprint, base64url) is that of a registered x5c. */
nova_status nova_auth_client_tls(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                 const char *client_id, const char *thumbprint, bool verified,
                                 const char *subject_dn, nova_client_t *out, const char **why);

/* Authenticates client_id/secret. On failure NOVA_UNAUTHORIZED whatever the reason (unknown
 * client, wrong secret, revoked): the caller answers invalid_client. */
nova_status nova_auth_client_authenticate(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                          const char *client_id, const char *secret,
                                          nova_client_t *out);

typedef struct nova_token {
    const char *access_token;
    const char *scope; /* granted scope */
    const char *audience;
    int64_t expires_in;
    const char *token_type; /* "Bearer", or "DPoP" for a DPoP-bound token */
} nova_token_t;

/* What a token is bound to (cnf): a DPoP key thumbprint and/or a TLS client certificate's
 * SHA-256 thumbprint, both base64url; "" for none. */
typedef struct nova_token_bind {
    char jkt[44];
    char x5t[44];
} nova_token_bind_t;

/* Issues an access token for an authenticated client. scope NULL: all the client's scopes;
 * otherwise a subset (else NOVA_FORBIDDEN with *oauth_error "invalid_scope"). audience NULL:
 * the client's first audience; otherwise one of its audiences (else NOVA_FORBIDDEN,
 * "invalid_target"). */
nova_status nova_auth_token_issue(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                  const nova_client_t *client, const char *scope,
                                  const char *audience, nova_token_t *out,
                                  const char **oauth_error);

/* As nova_auth_token_issue, bound to bind (NULL: unbound): the token carries cnf.jkt and/or
 * cnf.x5t#S256 and is only accepted with the matching proof or certificate. */
nova_status nova_auth_token_issue_bound(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                        const nova_client_t *client, const char *scope,
                                        const char *audience, const nova_token_bind_t *bind,
                                        nova_token_t *out, const char **oauth_error);

/* What a verified access token says. Arena strings. */
typedef struct nova_claims {
    const char *tenant_id;
    const char *tenant_name; /* resolved from the store with the liveness check */
    const char *client_id;
    const char *scope;
    const char *jti;
    const char *audience;
    const char *subject;    /* sub: the client, or an SDK session's subject */
    const char *session_id; /* sid of an SDK session token, else NULL */
    const char *jkt;        /* cnf.jkt: the DPoP key the token is bound to, else NULL */
    const char *x5t;        /* cnf.x5t#S256: the client certificate it is bound to, else NULL */
    int64_t iat;
    int64_t exp;
} nova_claims_t;

/* Verifies a bearer access token: strict JWS parse, signature with the key named by kid,
 * key's tenant == tid, typ at+jwt, iss, aud == want_aud (NULL: the deployment's audience),
 * exp/iat, then the store says the client is live and the jti is not revoked. Any failure is
 * NOVA_UNAUTHORIZED with a short reason in *why (safe to return to the caller); a store outage
 * is NOVA_UNAVAILABLE (fail closed). */
nova_status nova_auth_token_verify(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                   const char *token, size_t len, const char *want_aud,
                                   nova_claims_t *out, const char **why);

/* RFC 7009: revokes token if it is a valid access token issued to caller (otherwise does
 * nothing: the endpoint answers 200 either way). Audited as "token.revoke" by the caller,
 * target the token's jti (never the token). */
nova_status nova_auth_token_revoke(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                   const nova_client_t *caller, const char *token);

/* RFC 7662: *active false unless token is a live token of caller's tenant (any audience). */
nova_status nova_auth_token_introspect(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                       const nova_client_t *caller, const char *token, bool *active,
                                       nova_claims_t *out);

/* Revokes a client of the tenant; its tokens stop verifying at once. Audited as
 * "client.revoke" by `by`. */
nova_status nova_auth_client_revoke(nova_auth_t *a, nova_store_t *s, const nova_audit_actor_t *by,
                                    const char *tenant_id, const char *client_id);

/* Appends the JWKS document ({"keys":[...]}) with every tenant's public keys. */
nova_status nova_auth_jwks(nova_auth_t *a, nova_store_t *s, nova_buf_t *out);
/* Appends the JWKS document of one tenant. NOVA_NOT_FOUND (nothing appended) when there is no
 * such tenant, whatever the id looks like. */
nova_status nova_auth_tenant_jwks(nova_auth_t *a, nova_store_t *s, const char *tenant_id,
                                  nova_buf_t *out);

/* ---- signing-key rotation (seed 003 §10, src/auth/keys.c) ----
 * A tenant's keys are "active" (signs, verifies; one per tenant), "grace" (verifies the
 * tokens it signed until its grace ends, at most NOVA_KEY_GRACE_MAX after the rotation) or
 * "retired" (verifies nothing). The JWKS documents carry active and grace keys only. */

#define NOVA_KEY_GRACE_MAX 86400 /* seconds: at most 24 h during which two keys verify */

typedef struct nova_key_rotation {
    const char *tenant_id;
    const char *new_kid;   /* now active */
    const char *old_kid;   /* the key that was active */
    const char *old_state; /* "grace" or "retired" */
    int64_t grace_until;   /* grace: until when it verifies; 0 when retired */
} nova_key_rotation_t;

/* Rotates tenant_id's signing key: a fresh key (NOVA_TOKEN_ALG) signs from now on; the
 * previous one stays in grace for grace seconds (1..NOVA_KEY_GRACE_MAX), or with grace 0 is
 * retired at once, so its tokens fail on every instance from their next request. A key
 * already in grace is retired. Audited "key.rotate" (attrs: previous_kid, previous_state,
 * reason, grace_seconds). NOVA_NOT_FOUND for an unknown tenant, NOVA_CONFLICT when a
 * concurrent rotation won, NOVA_INVALID for a grace out of range. Strings in ar. */
nova_status nova_auth_key_rotate(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                 const nova_audit_actor_t *by, const char *tenant_id, int64_t grace,
                                 const char *reason, nova_key_rotation_t *out);

/* One pass of the key scheduler (novad runs it once a minute): retires grace keys whose grace
 * has ended ("key.retire" by system) and, when rotate_after > 0, rotates every active key
 * created rotate_after seconds or more before now with the given grace ("key.rotate", reason
 * "scheduled"). Safe to run on several instances at once: a key another instance rotated or
 * retired first is skipped. Counts what it did. */
nova_status nova_auth_keys_maintain(nova_auth_t *a, nova_store_t *s, int64_t now,
                                    int64_t rotate_after, int64_t grace, unsigned *rotated,
                                    unsigned *retired);

typedef struct nova_contain_result {
    nova_key_rotation_t rotation; /* old key retired, no grace */
    int64_t sessions_revoked;     /* sessions (token families) ended */
} nova_contain_result_t;

/* The key-compromise runbook (seed 003 §16.1) in one call: rotates the signing key with no
 * grace (every token the old key signed fails at once), revokes every live session of the
 * tenant and with it each refresh-token family ("session.revoke_all"), then appends
 * "tenant.contain" naming the retired and new kid and the count. Each step commits with its
 * own entry; a failure stops there and running it again finishes the job. */
nova_status nova_auth_tenant_contain(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                     const nova_audit_actor_t *by, const char *tenant_id,
                                     nova_contain_result_t *out);

/* ---- SDK sessions and refresh tokens ---- */

/* A tenant backend asks for a session for one subject. */
typedef struct nova_session_request {
    const char *tenant_id; /* the caller's */
    const char *client_id; /* the caller (actor of the audit entry, client_id of tokens) */
    const char *subject;   /* 1-128 of [A-Za-z0-9._:-@]: an applicant or verification ref */
    const char *scope;     /* NULL: "verifications:write"; SDK-grantable scopes only */
    const char *audience;  /* NULL: the deployment's */
    int64_t ttl;           /* session lifetime in seconds (60..86400); 0: the default */
    int64_t max_ttl;       /* the tenant's session timeout in seconds (0: none): caps ttl */
} nova_session_request_t;

/* The tenant a refresh token claims (copied into ar), or NULL when it has not Nova's shape.
 * Only a claim: the token is checked by nova_auth_session_refresh. */
const char *nova_auth_refresh_tenant(nova_arena_t *ar, const char *refresh_token);

typedef struct nova_session_grant {
    nova_session_t session;
    nova_token_t access;       /* sub = subject, sid = session id */
    const char *refresh_token; /* shown once; only its digest is stored */
    int64_t refresh_expires_in;
} nova_session_grant_t;

/* Creates an SDK session with its first refresh and access tokens (audited). NOVA_INVALID with
 * *why for a bad subject, scope or ttl. */
nova_status nova_auth_session_create(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                     const nova_session_request_t *req, nova_session_grant_t *out,
                                     const char **why);
/* grant_type=refresh_token: spends refresh_token and issues the next one with an access token
 * (scope NULL: the session's; else a subset), bound to bind (NULL: unbound). A spent token
 * presented again revokes the session (audited) and is NOVA_UNAUTHORIZED, as is an unknown,
 * expired or revoked one; a scope outside the session's is NOVA_FORBIDDEN. */
nova_status nova_auth_session_refresh(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                      const char *refresh_token, const char *scope,
                                      const nova_token_bind_t *bind, nova_session_grant_t *out,
                                      const char **why);
/* Ends a session of the tenant (audited, actor as given); its tokens stop working at once. */
nova_status nova_auth_session_revoke(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                     const char *tenant_id, const char *session_id,
                                     const char *actor);

/* ---- DPoP (RFC 9449) ---- */

#define NOVA_DPOP_NONCE_LEN 33 /* 32 base64url characters and the NUL */

typedef struct nova_dpop_check {
    const char *proof;        /* the DPoP header; NULL or "" when absent */
    const char *method;       /* the request's method: htm must equal it */
    const char *url;          /* the URL the client addressed, without query: htu */
    const char *access_token; /* resource requests: the token, which ath must hash; else NULL */
    bool nonce_required;      /* refuse a proof without a current server nonce */
    nova_arena_t *arena;
} nova_dpop_check_t;

typedef struct nova_dpop_result {
    char jkt[44];      /* the proof key's RFC 7638 thumbprint, on NOVA_OK */
    const char *error; /* on NOVA_UNAUTHORIZED: "invalid_dpop_proof" or "use_dpop_nonce" */
    const char *why;   /* a short reason, safe to return */
} nova_dpop_result_t;

/* Verifies a DPoP proof: typ dpop+jwt, a public jwk (EdDSA or ES256) that verifies the
 * signature, htm and htu of this request, iat within [-120 s, +60 s], ath when an access
 * token is given, a current nonce when required (or when one is sent), and a jti never seen
 * before for this key (remembered in kv for the acceptance window; NOVA_UNAVAILABLE when kv is
 * down: fail closed). NOVA_UNAUTHORIZED with out->error and out->why otherwise. */
nova_status nova_auth_dpop_verify(nova_auth_t *a, nova_kv_t *kv, const nova_dpop_check_t *c,
                                  nova_dpop_result_t *out);
/* A current server nonce for the DPoP-Nonce header. */
void nova_auth_dpop_nonce(nova_auth_t *a, char out[NOVA_DPOP_NONCE_LEN]);

#endif
