/*
 * session_store.h: sessions and their rotating refresh tokens (src/store/sessions.c, tables
 * sessions and refresh_tokens). A session is one token family; refresh tokens are stored only
 * as keyed digests. Every mutation takes its audit entry and appends it in the same
 * transaction (nova/audit_store.h).
 */
#ifndef NOVA_SESSION_STORE_H
#define NOVA_SESSION_STORE_H

#include "nova/audit.h"
#include "nova/store.h"

typedef struct nova_session {
    const char *id; /* "ses_..." */
    const char *tenant_id;
    const char *kind;      /* "sdk" */
    const char *client_id; /* the client that minted it */
    const char *subject;   /* whom it is for: an applicant or verification reference */
    const char *scope;
    const char *audience;
    int64_t created_at;
    int64_t expires_at;
    int64_t revoked_at; /* 0: live */
    const char *revoked_reason;
} nova_session_t;

/* Creates the session and its first refresh token (digest) in one transaction with audit. */
nova_status nova_store_session_create(nova_store_t *s, const nova_session_t *ses,
                                      const char *rt_digest, const nova_audit_entry_t *audit);

/* What a rotation found. */
typedef enum nova_rotate_outcome {
    NOVA_ROTATE_OK = 0,  /* old marked used, new stored: *out is the live session */
    NOVA_ROTATE_REUSED,  /* old was used before: the session is now revoked (reuse audited) */
    NOVA_ROTATE_INVALID, /* no such token, or its session is revoked or expired */
} nova_rotate_outcome;

/* Rotates a refresh token in one transaction: finds old_digest in tenant_id; if it is unused
 * and its session live, marks it used, stores new_digest in the same session and appends
 * audit_rotate (its target is filled in by the caller beforehand); if it was used already
 * (a stolen token replayed, or a race lost) revokes the session with reason
 * "refresh_reuse" and appends audit_reuse instead. Either entry's target may name the
 * session only once known: they are built by build_audit(ses, ud) inside the transaction. */
typedef const nova_audit_entry_t *(*nova_session_audit_fn)(const nova_session_t *ses, bool reuse,
                                                           void *ud);
nova_status nova_store_session_rotate(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                      const char *old_digest, const char *new_digest, int64_t now,
                                      nova_session_audit_fn build_audit, void *ud,
                                      nova_session_t *out, nova_rotate_outcome *outcome);

/* Revokes a live session (reason: "revoked", "contained", ...). NOVA_NOT_FOUND when there is
 * no live session of that id in the tenant. */
nova_status nova_store_session_revoke(nova_store_t *s, const char *tenant_id,
                                      const char *session_id, const char *reason, int64_t now,
                                      const nova_audit_entry_t *audit);
/* Revokes every live session of the tenant; *n gets how many. */
nova_status nova_store_session_revoke_all(nova_store_t *s, const char *tenant_id,
                                          const char *reason, int64_t now,
                                          const nova_audit_entry_t *audit, int64_t *n);

nova_status nova_store_session_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                   const char *session_id, nova_session_t *out);

/* nova_store_token_resolve for a token of a session (its signing key kid live at now too):
 * also requires the session live (not revoked, not expired at now). */
nova_status nova_store_session_token_resolve(nova_store_t *s, nova_arena_t *a,
                                             const char *tenant_id, const char *client_id,
                                             const char *jti, const char *session_id,
                                             const char *kid, int64_t now, nova_tenant_t *out);

#endif
