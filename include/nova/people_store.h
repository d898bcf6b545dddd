/*
 * people_store.h: the repository of the people module (src/store/people.c, migration 0013):
 * users, their recovery codes, the module's per-tenant keys, sign-in sessions with their
 * refresh-token families, and WebAuthn credentials. Sealed columns are bytes made by the
 * domain (nova_sealed_encode); the store never sees personal data in clear. Every mutation
 * takes its audit entry and appends it in the same transaction (nova/audit_store.h). Strings
 * and bytes of returned rows are in the caller's arena.
 */
#ifndef NOVA_PEOPLE_STORE_H
#define NOVA_PEOPLE_STORE_H

#include "nova/audit.h"
#include "nova/policy_store.h"
#include "nova/store.h"

typedef struct nova_user {
    const char *id; /* "usr_..." */
    const char *tenant_id;
    const char *status; /* "active" | "suspended" */
    const char *roles;  /* space-separated */
    const char *email_index;
    const uint8_t *email_sealed;
    size_t email_sealed_len;
    const uint8_t *name_sealed; /* NULL when no name */
    size_t name_sealed_len;
    const char *pii_region;
    const char *password_hash; /* "" when none */
    const uint8_t *totp_sealed;
    size_t totp_sealed_len;
    const char *totp_alg;   /* "SHA1" | "SHA256" | "SHA512" */
    int64_t totp_digits;    /* 6..8 */
    const char *totp_state; /* "none" | "pending" | "active" */
    int64_t totp_last_step;
    const char *created_by;
    int64_t created_at;
    int64_t updated_at;
} nova_user_t;

/* NOVA_CONFLICT when the tenant has a user with this email_index. */
nova_status nova_store_user_create(nova_store_t *s, const nova_user_t *u,
                                   const nova_audit_entry_t *audit);
nova_status nova_store_user_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                const char *id, nova_user_t *out);
nova_status nova_store_user_find_email(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                       const char *email_index, nova_user_t *out);
/* The tenant's users, oldest first: at most limit rows created after the row `after` (NULL:
 * from the start). */
nova_status nova_store_user_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                 const char *after, int64_t limit, nova_user_t **out, size_t *n);
/* Writes u's status, roles, name_sealed and updated_at. NOVA_NOT_FOUND when absent. */
nova_status nova_store_user_update(nova_store_t *s, const nova_user_t *u,
                                   const nova_audit_entry_t *audit);
/* Deletes the user, its recovery codes and credentials, and revokes its sessions ("deleted"),
 * with the policy tuples fga (its memberships' deletions) in the same transaction;
 * *revoked (may be NULL) gets the revoked session ids (arena array, *nrevoked). */
nova_status nova_store_user_delete(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                   const char *id, int64_t now, nova_fga_batch_t *fga, size_t nfga,
                                   const nova_audit_entry_t *audit, const char ***revoked,
                                   size_t *nrevoked);
nova_status nova_store_user_password_set(nova_store_t *s, const char *tenant_id, const char *id,
                                         const char *hash, int64_t now,
                                         const nova_audit_entry_t *audit);
/* Stores a pending TOTP secret (enrolment started). NOVA_CONFLICT when TOTP is active: it is
 * removed first (a step-up action). */
nova_status nova_store_user_totp_begin(nova_store_t *s, const char *tenant_id, const char *id,
                                       const uint8_t *sealed, size_t len, const char *alg,
                                       int64_t digits, int64_t now,
                                       const nova_audit_entry_t *audit);
/* Activates the pending secret with step as its last used step, and replaces the user's
 * recovery codes with the n digests. NOVA_CONFLICT when no secret is pending. */
nova_status nova_store_user_totp_activate(nova_store_t *s, const char *tenant_id, const char *id,
                                          int64_t step, const char *const *digests, size_t n,
                                          int64_t now, const nova_audit_entry_t *audit);
/* Removes TOTP and the recovery codes. */
nova_status nova_store_user_totp_remove(nova_store_t *s, const char *tenant_id, const char *id,
                                        int64_t now, const nova_audit_entry_t *audit);
/* Replaces the recovery codes (TOTP must be active, else NOVA_CONFLICT). */
nova_status nova_store_user_recovery_replace(nova_store_t *s, const char *tenant_id, const char *id,
                                             const char *const *digests, size_t n, int64_t now,
                                             const nova_audit_entry_t *audit);
/* How many recovery codes the user has left. */
nova_status nova_store_user_recovery_count(nova_store_t *s, const char *tenant_id, const char *id,
                                           int64_t *n);

/* What a second factor spends, in the transaction of what it allows: a TOTP step (the row's
 * last step moves to it only if it is later: a code is accepted once, also between racing
 * requests) or a recovery code (its digest is deleted: exactly one of two racing uses wins).
 * NOVA_CONFLICT from the call when the step or the code was spent already. */
typedef struct nova_factor_spend {
    const char *user_id;
    int64_t totp_step;           /* > 0: spend this step */
    const char *recovery_digest; /* non-NULL: spend this code */
} nova_factor_spend_t;

/* Spends f alone with its audit entry (step-up completion). */
nova_status nova_store_factor_spend(nova_store_t *s, const char *tenant_id,
                                    const nova_factor_spend_t *f, const nova_audit_entry_t *audit);

/* ---- the people module's per-tenant keys ---- */

typedef struct nova_people_key {
    const char *tenant_id;
    const char *name; /* "index" | "token" */
    const char *kid;
    const char *region;
    const uint8_t *sealed;
    size_t sealed_len;
    int64_t created_at;
} nova_people_key_t;

nova_status nova_store_people_key_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                      const char *name, nova_people_key_t *out);
/* Inserts k unless the tenant has that key already (the first writer wins: read it back). */
nova_status nova_store_people_key_put(nova_store_t *s, const nova_people_key_t *k,
                                      const nova_audit_entry_t *audit);

/* ---- sign-in sessions ---- */

typedef struct nova_user_session {
    const char *id; /* "pss_..." */
    const char *tenant_id;
    const char *user_id;
    int64_t aal;     /* 1 or 2 */
    const char *amr; /* space-separated: "pwd otp", "hwk user", ... (RFC 8176) */
    const char *device;
    const char *ip;
    int64_t created_at;
    int64_t expires_at; /* absolute end */
    int64_t revoked_at;
    const char *revoked_reason;
    const char *idp_id;  /* the IdP row a federated sign-in came through; "" (or NULL) none */
    const char *idp_sid; /* the IdP's session id (OIDC sid); "" (or NULL) none */
} nova_user_session_t;

/* Creates the session with its first refresh token (digest), spending f (may be NULL) in the
 * same transaction. */
nova_status nova_store_user_session_create(nova_store_t *s, const nova_user_session_t *ses,
                                           const char *rt_digest, const nova_factor_spend_t *f,
                                           const nova_audit_entry_t *audit);
typedef enum nova_user_rotate {
    NOVA_USER_ROTATE_OK = 0,
    NOVA_USER_ROTATE_REUSED,  /* a used token again: the session is revoked now */
    NOVA_USER_ROTATE_INVALID, /* unknown, or its session is revoked or past expires_at */
} nova_user_rotate;
/* Rotates a refresh token with nova_store_session_rotate's family rule: an unused token of a
 * live session is marked used and new_digest stored in the session; a used one revokes the
 * session ("refresh_reuse"). The entry build_audit(session, reused, ud) returns is appended
 * in the same transaction. */
typedef const nova_audit_entry_t *(*nova_user_session_audit_fn)(const nova_user_session_t *ses,
                                                                bool reused, void *ud);
nova_status nova_store_user_session_rotate(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                           const char *old_digest, const char *new_digest,
                                           int64_t now, nova_user_session_audit_fn build_audit,
                                           void *ud, nova_user_session_t *out,
                                           nova_user_rotate *outcome);
nova_status nova_store_user_session_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                        const char *id, nova_user_session_t *out);
/* The user's sessions (user_id NULL: the tenant's), newest first; live only when live_at > 0
 * (not revoked, expires_at after it). At most 500. */
nova_status nova_store_user_session_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                         const char *user_id, int64_t live_at,
                                         nova_user_session_t **out, size_t *n);
/* Revokes one live session. NOVA_NOT_FOUND when none of that id is live in the tenant. */
nova_status nova_store_user_session_revoke(nova_store_t *s, const char *tenant_id, const char *id,
                                           const char *reason, int64_t now,
                                           const nova_audit_entry_t *audit);
/* Revokes every live session of the user; *ids gets their ids (arena array of *n). */
nova_status nova_store_user_session_revoke_user(nova_store_t *s, nova_arena_t *a,
                                                const char *tenant_id, const char *user_id,
                                                const char *reason, int64_t now,
                                                const nova_audit_entry_t *audit, const char ***ids,
                                                size_t *n);

/* The ids of the live sessions (not revoked, expires_at after now) the IdP idp_id opened,
 * narrowed to the IdP's session sid and/or to user_id when not NULL; oldest first, at most
 * 500 (arena array of *n). */
nova_status nova_store_user_session_idp_live(nova_store_t *s, nova_arena_t *a,
                                             const char *tenant_id, const char *idp_id,
                                             const char *sid, const char *user_id, int64_t now,
                                             const char ***ids, size_t *n);
/* Revokes those sessions (all of them, not only 500) with the audit entry in the same
 * transaction; *ids gets their ids (arena array of *n). */
nova_status nova_store_user_session_revoke_idp(nova_store_t *s, nova_arena_t *a,
                                               const char *tenant_id, const char *idp_id,
                                               const char *sid, const char *user_id,
                                               const char *reason, int64_t now,
                                               const nova_audit_entry_t *audit, const char ***ids,
                                               size_t *n);

/* ---- WebAuthn credentials (passkeys) ---- */

typedef struct nova_passkey {
    const char *id; /* base64url of the credential id */
    const char *tenant_id;
    const char *user_id;
    const uint8_t *public_key; /* COSE_Key */
    size_t public_key_len;
    int64_t alg;
    int64_t sign_count;
    const char *aaguid;
    const char *attestation; /* "none" | "packed-self" | "packed-x5c" */
    bool user_verified;
    int64_t created_at;
    int64_t last_used_at;
    int64_t flagged_at; /* the counter went backwards once: a clone is suspected */
} nova_passkey_t;

/* NOVA_CONFLICT when the credential id is registered already (to anyone). */
nova_status nova_store_passkey_create(nova_store_t *s, const nova_passkey_t *k,
                                      const nova_audit_entry_t *audit);
nova_status nova_store_passkey_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                   const char *id, nova_passkey_t *out);
nova_status nova_store_passkey_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                    const char *user_id, nova_passkey_t **out, size_t *n);
/* Moves the counter to count only if it is still `seen_before` (so of two racing uses of one
 * counter value one wins), and records the use. NOVA_CONFLICT when it moved meanwhile. */
nova_status nova_store_passkey_use(nova_store_t *s, const char *tenant_id, const char *id,
                                   int64_t seen_before, int64_t count, int64_t now);
/* Marks the credential flagged (a counter regression), with its audit entry. */
nova_status nova_store_passkey_flag(nova_store_t *s, const char *tenant_id, const char *id,
                                    int64_t now, const nova_audit_entry_t *audit);

/* ---- the tenant's people settings (continuous access evaluation) ---- */

/* The settings JSON text (arena), NOVA_NOT_FOUND when the tenant has none (the defaults). */
nova_status nova_store_people_settings_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                           const char **json);
/* Inserts or replaces them, with the audit entry. */
nova_status nova_store_people_settings_put(nova_store_t *s, const char *tenant_id, const char *json,
                                           int64_t now, const nova_audit_entry_t *audit);

/* ---- just-in-time access and break-glass requests ---- */

typedef struct nova_access_request {
    const char *id; /* "acr_..." */
    const char *tenant_id;
    const char *requester;
    const char *role;
    const char *reason;
    const char *ticket;
    const char *kind; /* "jit" | "break_glass" */
    int64_t required_approvals;
    const char *approvals; /* approver ids, space-separated */
    const char *status;    /* "pending" | "approved" */
    int64_t duration_s;
    int64_t created_at, approved_at, expires_at;
} nova_access_request_t;

nova_status nova_store_access_create(nova_store_t *s, const nova_access_request_t *r,
                                     const nova_audit_entry_t *audit);
nova_status nova_store_access_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                  const char *id, nova_access_request_t *out);
/* The tenant's requests, newest first, at most 200 (requester NULL: everyone's). */
nova_status nova_store_access_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                   const char *requester, nova_access_request_t **out, size_t *n);
/* Records an approval: approvals moves from seen to approvals, status and the times as given,
 * only if approvals is still `seen` (of two racing approvers one wins: NOVA_CONFLICT). */
nova_status nova_store_access_approve(nova_store_t *s, const char *tenant_id, const char *id,
                                      const char *seen, const char *approvals, const char *status,
                                      int64_t approved_at, int64_t expires_at,
                                      const nova_audit_entry_t *audit);

/* ---- SCIM provisioning (migration 0017) ---- */

/* Stores a SCIM bearer token of tenant_id by its digest (hex SHA-256 of the token). */
nova_status nova_store_scim_token_create(nova_store_t *s, const char *tenant_id, const char *id,
                                         const char *digest, const char *created_by, int64_t now,
                                         const nova_audit_entry_t *audit);
/* The id (arena string) of the live token of tenant_id with this digest; NOVA_NOT_FOUND
 * when none (unknown or revoked). */
nova_status nova_store_scim_token_find(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                       const char *digest, const char **id);
/* Revokes a token. NOVA_NOT_FOUND when the tenant has no live token with this id. */
nova_status nova_store_scim_token_revoke(nova_store_t *s, const char *tenant_id, const char *id,
                                         int64_t now, const nova_audit_entry_t *audit);
/* Sets (external_id non-NULL) or clears the IdP's externalId of a user. NOVA_CONFLICT when
 * another user of the tenant has it. */
nova_status nova_store_scim_external_set(nova_store_t *s, const char *tenant_id,
                                         const char *user_id, const char *external_id, int64_t now,
                                         const nova_audit_entry_t *audit);
typedef struct nova_scim_link {
    const char *user_id;
    const char *external_id;
} nova_scim_link_t;
/* Every externalId of the tenant's users (arena array, *n). */
nova_status nova_store_scim_external_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                          nova_scim_link_t **out, size_t *n);

/* ---- SCIM groups (migration 0023) ---- */

/* A group as stored. Arena strings; external_id NULL when none. */
typedef struct nova_scim_group {
    const char *id; /* "grp_..." */
    const char *tenant_id;
    const char *display_name;
    const char *external_id;
    int64_t version; /* 1 at creation, one more at each change (the ETag) */
    int64_t created_at;
    int64_t updated_at;
} nova_scim_group_t;

/* One membership: user_id is a member of group_id. */
typedef struct nova_scim_member {
    const char *group_id;
    const char *user_id;
} nova_scim_member_t;

/* The roles a user holds only through its groups ("" when none: the row is removed). */
typedef struct nova_scim_grant {
    const char *user_id;
    const char *roles; /* space-separated */
} nova_scim_grant_t;

/* One row of a tenant's group->role mapping; name_key is the group name lower-cased (ASCII). */
typedef struct nova_scim_group_role {
    const char *group_name;
    const char *name_key;
    const char *role;
} nova_scim_group_role_t;

/* A change of one group, written with its audit entry in one transaction. */
typedef struct nova_scim_group_write {
    const nova_scim_group_t *group; /* the group after the change (version: the new one) */
    const char *name_key;           /* group->display_name lower-cased */
    bool create;                    /* insert; else update the row whose version is expect */
    int64_t expect;
    const char *const *add; /* user ids that become members */
    size_t nadd;
    const char *const *remove; /* user ids that stop being members */
    size_t nremove;
    const nova_scim_grant_t *grants; /* role grants to set in the same transaction */
    size_t ngrants;
    nova_fga_batch_t *fga; /* the memberships' policy tuples, written in the same transaction */
    size_t nfga;
} nova_scim_group_write_t;

/* Writes w. NOVA_CONFLICT with *what "displayName" or "externalId" when another group of the
 * tenant has it, or "version" when the group changed since expect; NOVA_INVALID with *what
 * "members" when an added id is not a user of the tenant; NOVA_NOT_FOUND when an update finds
 * no such group. */
nova_status nova_store_scim_group_write(nova_store_t *s, const nova_scim_group_write_t *w,
                                        const nova_audit_entry_t *audit, const char **what);
/* Deletes a group (its memberships with it), sets grants and writes the policy tuples fga
 * (the memberships' deletions), in one transaction. NOVA_NOT_FOUND when the tenant has no
 * such group. */
nova_status nova_store_scim_group_delete(nova_store_t *s, const char *tenant_id, const char *id,
                                         const nova_scim_grant_t *grants, size_t ngrants,
                                         nova_fga_batch_t *fga, size_t nfga,
                                         const nova_audit_entry_t *audit);
nova_status nova_store_scim_group_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                      const char *id, nova_scim_group_t *out);
/* Every group of the tenant, oldest first (arena array). */
nova_status nova_store_scim_group_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                       nova_scim_group_t **out, size_t *n);
/* The memberships of group_id, or of user_id, or (both NULL) of the whole tenant, ordered by
 * group then user (arena array). */
nova_status nova_store_scim_members(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                    const char *group_id, const char *user_id,
                                    nova_scim_member_t **out, size_t *n);
/* Every role grant of the tenant (arena array). */
nova_status nova_store_scim_grants(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                   nova_scim_grant_t **out, size_t *n);
/* Sets grants (a user's roles through groups; "" removes the row) in one transaction. */
nova_status nova_store_scim_grants_put(nova_store_t *s, const char *tenant_id,
                                       const nova_scim_grant_t *grants, size_t n,
                                       const nova_audit_entry_t *audit);
/* The tenant's group->role mapping, by group name key then role (arena array). */
nova_status nova_store_scim_group_roles(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                        nova_scim_group_role_t **out, size_t *n);
/* Replaces the tenant's mapping with rows and sets grants, in one transaction. */
nova_status nova_store_scim_group_roles_put(nova_store_t *s, const char *tenant_id,
                                            const nova_scim_group_role_t *rows, size_t n,
                                            const nova_scim_grant_t *grants, size_t ngrants,
                                            const nova_audit_entry_t *audit);

#endif
