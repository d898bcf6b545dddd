/* internal.h: what the people module's files share. Not a public interface. */
#ifndef NOVA_PEOPLE_INTERNAL_H
#define NOVA_PEOPLE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include <jansson.h>

#include "nova/crypto.h"
#include "nova/oidc.h"
#include "nova/oidc_store.h"
#include "nova/people.h"
#include "nova/saml.h"
#include "nova/saml_store.h"

/* A tenant's opened people keys, cached by the process (a key never changes once made). */
typedef struct people_keys {
    char tenant_id[64];
    uint8_t index_key[32];
    nova_key_t *token_key; /* private Ed25519 */
    struct people_keys *next;
} people_keys_t;

/* A verified user token's claims, cached by the SHA-256 of the token until its exp (the
 * session is still read on every use: revocation does not rely on the cache). */
#define PEOPLE_TCACHE 1024
typedef struct people_tcache {
    uint8_t digest[32];
    int64_t exp;
    int aal;
    char tenant[64], user[64], sid[64], jti[32], amr[64], orig[48], jit[48], jit_role[72];
} people_tcache_t;

struct nova_people {
    nova_auth_t *auth;
    nova_kv_t *kv;
    char region[17];
    char totp_issuer[64];
    unsigned access_ttl;
    nova_group_tuples_fn group_tuples;
    void (*group_tuples_synced)(void *ud, nova_store_t *s, const char *tenant_id,
                                const nova_fga_batch_t *b, size_t n);
    void *group_tuples_ud;
    pthread_mutex_t mu; /* guards keys; never held across a store call */
    people_keys_t *keys;
    size_t nkeys;
    pthread_mutex_t tmu; /* guards tcache: a copy in or out, never I/O */
    people_tcache_t tcache[PEOPLE_TCACHE];
};

/* The tenant's keys, made (and stored sealed) on first use. *out stays valid until
 * nova_people_free. */
nova_status people_keys_get(nova_people_t *p, nova_store_t *s, const char *tenant_id,
                            const people_keys_t **out);
/* The blind index of an email (lower-cased) under the tenant's index key: 64 hex + NUL. */
void people_email_index(const people_keys_t *k, const char *email, char out[65]);
/* Seals / opens a personal-data column of the tenant (context "user.email", ...). seal
 * appends nova_sealed_encode's bytes to out; open returns an arena copy (NUL-terminated). */
nova_status people_seal(nova_people_t *p, nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                        const char *context, const void *pt, size_t n, const uint8_t **out,
                        size_t *outlen);
nova_status people_open(nova_people_t *p, nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                        const char *region, const char *context, const uint8_t *v, size_t n,
                        char **out, size_t *outlen);

/* Signs claims (a JSON object text) as a JWS with the tenant's token key. In ar. */
nova_status people_sign(nova_people_t *p, nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                        const char *typ, const char *claims, const char **out);
/* Verifies a JWS of typ signed by the key of the tenant its tid claim names; *claims gets
 * the payload (caller json_decref). NOVA_UNAUTHORIZED with *why. */
nova_status people_verify(nova_people_t *p, nova_store_t *s, const char *token, const char *typ,
                          void **claims, const char **why);

/* Mints a user access token for a session (step-up: orig non-NULL, ttl 600). */
nova_status people_mint(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                        const nova_user_session_t *ses, int aal, const char *amr, const char *orig,
                        int64_t ttl, const char **token);

/* Opens a session for user_id: the store row and first refresh token (spending f, may be
 * NULL, in its transaction), the control-plane record, the access token. */
nova_status people_session_open(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                const nova_login_request_t *req, const char *user_id, int aal,
                                const char *amr, bool enrol, const nova_factor_spend_t *f,
                                nova_login_result_t *out);

/* people_session_open for a federated sign-in: the session records the IdP row it came
 * through (idp_id) and the IdP's own session id (idp_sid, may be NULL), so that deleting
 * the IdP, or the IdP's back-channel logout, revokes it. */
nova_status people_session_open_fed(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                    const nova_login_request_t *req, const char *user_id, int aal,
                                    const char *amr, const char *idp_id, const char *idp_sid,
                                    nova_login_result_t *out);
/* Drops the control-plane records of sessions ids[0..n) of the tenant (each request reads
 * it: the session is over everywhere once it is gone), counting each as revoked when count.
 * NOVA_UNAVAILABLE when the control plane could not drop one (the others are dropped). */
nova_status people_session_forget(nova_people_t *p, nova_arena_t *ar, const char *tenant_id,
                                  const char *const *ids, size_t n, bool count);

/* people_mint for a just-in-time credential: also the claims jit (the request) and roles. */
nova_status people_mint_jit(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                            const nova_user_session_t *ses, int aal, const char *amr,
                            const char *orig, int64_t ttl, const char *jit, const char *role,
                            const char **token);

/* TOTP check for a user row: opens the secret and verifies code. *step the step matched. */
nova_status people_totp_check(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                              const nova_user_t *u, const char *code, int64_t now, int64_t *step);

/* After a step-up: the session adopts the request's context and a forced step-up is done. */
nova_status people_session_rebind(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                  const nova_user_claims_t *c);

/* A passkey assertion by user_id over challenge (base64url), UV required, counter checked and
 * moved (passkeys.c): the step-up factor. NOVA_UNAUTHORIZED with *why. */
nova_status people_passkey_assert(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                  const char *tenant_id, const char *user_id,
                                  const nova_webauthn_rp_t *rp, void *credential,
                                  const char *challenge, const char **why);

/* Whether c holds role: in the user's record (active), or granted by its JIT credential. */
nova_status people_has_role(nova_store_t *s, nova_arena_t *ar, const nova_user_claims_t *c,
                            const char *role, bool *out);

/* CAE helpers (cae.c). */
bool people_cae_locate(const nova_people_settings_t *s, const char *ip, double *lat, double *lon);
double people_cae_km(double lat1, double lon1, double lat2, double lon2);
void people_cae_count(int event, nova_cae_action a);
const char *people_cae_event_name(int event);
const char *people_cae_action_name(nova_cae_action a);
nova_status people_cae_metrics(nova_buf_t *out);

/* OIDC (oidc.c, oidc_login.c): the client secret of an IdP row, opened (arena; NULL when the
 * IdP has none); the failure counters' lines of nova_people_federation_failures_total. */
/* The client's private_key_jwt key of an IdP row (ES256, labelled kid), opened: the caller
 * frees it (nova_key_free). */
nova_status people_oidc_client_key(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                   const nova_oidc_idp_row_t *row, const char *kid,
                                   nova_key_t **key);
nova_status people_oidc_secret(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                               const nova_oidc_idp_row_t *row, const char **secret);
nova_status people_oidc_failure_lines(nova_buf_t *out);
nova_status people_saml_failure_lines(nova_buf_t *out);
/* SAML (saml.c): the SP private key (PEM) of an IdP row, opened (arena; NULL when none). */
nova_status people_saml_key(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                            const nova_saml_idp_row_t *row, const char **key_pem);
/* The SP's encryption key of row, opened (PEM, arena; the caller cleanses it), or *key_pem
 * NULL when the IdP has none yet (made before there was one, not updated since). */
nova_status people_saml_enc_key(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                const nova_saml_idp_row_t *row, const char **key_pem);

/* GET url (Accept: accept, default application/json; Authorization: Bearer bearer when set),
 * or POST form (application/x-www-form-urlencoded) with HTTP Basic user:pass when user is
 * set, with libcurl: 5 s to connect, 10 s in all, at most 256 KiB, no redirects, proxies of
 * the environment ignored. 2xx, or 400/401 when error_ok (a token endpoint's error response),
 * fill out; NOVA_UNAVAILABLE otherwise. guarded (people_http_guarded) and
 * NOVA_OIDC_ALLOW_PRIVATE off: an http URL, or a peer address that is not public
 * (nova_oidc_addr_public, judged by libcurl's open-socket callback on the very address it
 * connects to), is NOVA_FORBIDDEN (oidc_login.c). */
nova_status people_http_fetch(const char *url, const char *accept, const char *form,
                              const char *user, const char *pass, const char *bearer, bool error_ok,
                              bool guarded, nova_buf_t *out);
/* Whether the fetches of an IdP named by url (an OIDC issuer, a SAML metadata URL) are
 * guarded: when it is https. */
bool people_http_guarded(const char *url);
/* The refusal of a guarded fetch, for a problem's detail. */
#define PEOPLE_HTTP_PRIVATE_WHY                                                                    \
    "the IdP's address is not public (loopback, private, link-local, CGNAT or metadata; "          \
    "NOVA_OIDC_ALLOW_PRIVATE is off)"

/* Federation shared by OIDC and SAML (federation.c). */
/* The lines nova_people_federation_failures_total{protocol=proto,reason} of counts[1..n-1]
 * named by names[] (index 0, "none", is not a failure). */
nova_status people_fed_failure_lines(nova_buf_t *out, const char *proto, const char *const *names,
                                     _Atomic uint64_t *counts, int n);
/* Whether s is 1..max bytes without a control character. */
bool people_printable(const char *s, size_t max);
/* The sealed bytes of an IdP row opened with context, in the region the config's member
 * region_member names ("global" when absent): *out an arena string, NULL when none. */
nova_status people_fed_open(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                            const nova_oidc_idp_row_t *row, const char *region_member,
                            const char *context, const char **out);
/* Validates role_mappings ([{group, role, valid_until?}], at most 64) into *out (the stored
 * array, caller decrefs). NOVA_INVALID with *why. */
nova_status people_fed_mappings_parse(const json_t *v, json_t **out, const char **why);
/* The stored array into out[] (arena strings; at most NOVA_OIDC_MAX_MAPPINGS). */
void people_fed_mappings_view(nova_arena_t *ar, const json_t *arr, nova_oidc_mapping_t *out,
                              size_t *n);
/* Appends the API's view of the mappings to arr. */
void people_fed_mappings_json(json_t *arr, const nova_oidc_mapping_t *m, size_t n);
/* The roles groups give at now (see nova_oidc_roles_for). Arena; "" when none. */
const char *people_fed_roles(nova_arena_t *ar, const nova_oidc_mapping_t *maps, size_t nmaps,
                             const char *const *groups, size_t ngroups, int64_t now);

/* The subject an IdP vouched for. */
typedef struct people_fed_subject {
    nova_fed_protocol proto; /* NOVA_FED_OIDC or NOVA_FED_SAML */
    const char *tenant_id;
    const char *idp_id;
    const char *idp_name; /* issuer or entity ID: the link's namespace */
    const char *sub;      /* sub or NameID */
    const char *email;
    bool email_verified;
    const char *name;
    const char *roles; /* NULL: the IdP has no mappings, roles left alone */
    int aal;           /* what the IdP asserted: 2 with a second factor, else 1 (0 is 1) */
    const char *sid;   /* the IdP's session id (OIDC sid), or NULL */
} people_fed_subject_t;
typedef enum people_fed_result {
    PEOPLE_FED_OK = 0,
    PEOPLE_FED_PROVISIONING,
    PEOPLE_FED_SUSPENDED,
    PEOPLE_FED_UNKNOWN_IDP /* the IdP was deleted while the session was being opened */
} people_fed_result;
/* The end of a federated login: the user linked to the subject, or provisioned from its
 * email (audited "user.create" and "user.<proto>_link"), the roles set when they differ, and
 * a session opened (w->aal: AAL2 with amr "fed mfa", else AAL1 with amr "fed"). A refusal is
 * NOVA_OK with *res and *why. */
nova_status people_fed_login(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                             const people_fed_subject_t *w, const nova_login_request_t *req,
                             nova_login_result_t *out, people_fed_result *res, const char **why);

/* Deletes the tenant's IdP id of proto (NOVA_FED_OIDC or NOVA_FED_SAML) and revokes the
 * sessions it opened: their control-plane records first (NOVA_UNAVAILABLE and nothing
 * changed when the control plane cannot drop them), then the row and the sessions' rows in
 * one transaction with the entry action (target type target_type, attrs (stolen) plus
 * "sessions_revoked": the sessions live when the delete began), then the records of any
 * session opened meanwhile. *nrevoked (may be NULL) the sessions the transaction revoked.
 * NOVA_NOT_FOUND when the tenant has no such IdP. */
nova_status people_fed_idp_delete(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                  const nova_audit_actor_t *by, nova_fed_protocol proto,
                                  const char *tenant_id, const char *id, const char *action,
                                  const char *target_type, json_t *attrs, size_t *nrevoked);

/* The shared body of both protocols' IdP administration (federation.c): the protocol's
 * own parts are the view of a row and the application of a body's members to the stored
 * config (which may also set the row's sealed bytes). */
typedef nova_status (*people_fed_view_fn)(nova_arena_t *ar, const nova_oidc_idp_row_t *row,
                                          void *out);
typedef nova_status (*people_fed_apply_fn)(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                           const char *tenant_id, json_t *cfg, json_t *in,
                                           bool create, nova_oidc_idp_row_t *row, const char **why);
/* Checks that in holds only members[] and applies the members both protocols have
 * (role_mappings, enabled; their defaults on create). NOVA_INVALID with *why (unknown_why
 * for an unknown member). */
nova_status people_fed_apply_common(json_t *cfg, json_t *in, const char *const *members,
                                    bool create, const char *unknown_why, const char **why);
/* The view of the tenant's IdP id (NOVA_NOT_FOUND when none, or the id is not one). */
nova_status people_fed_idp_get(nova_store_t *s, nova_arena_t *ar, nova_fed_protocol proto,
                               const char *tenant_id, const char *id, people_fed_view_fn view,
                               void *out);
/* The views of the tenant's IdPs: an arena array of *n elements of view_size bytes. */
nova_status people_fed_idp_list(nova_store_t *s, nova_arena_t *ar, nova_fed_protocol proto,
                                const char *tenant_id, people_fed_view_fn view, size_t view_size,
                                void **out, size_t *n);
/* Stores a new IdP row: its config is cfg (the IdP's name, issuer or entity ID, read from
 * cfg's name_member), the sealed bytes as row holds them, audited "<proto>_idp.create" with
 * attrs (stolen); *why conflict_why on NOVA_CONFLICT; out the view. */
nova_status people_fed_idp_insert(nova_store_t *s, nova_arena_t *ar, const nova_audit_actor_t *by,
                                  nova_fed_protocol proto, const char *id, json_t *cfg,
                                  const char *name_member, nova_oidc_idp_row_t *row, json_t *attrs,
                                  const char *conflict_why, people_fed_view_fn view, void *out,
                                  const char **why);
/* Applies the members of in to the stored IdP id with apply, audited "<proto>_idp.update"
 * with the members changed; out the view. NOVA_NOT_FOUND when the tenant has no such IdP. */
nova_status people_fed_idp_update(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                  const nova_audit_actor_t *by, nova_fed_protocol proto,
                                  const char *tenant_id, const char *id, json_t *in,
                                  people_fed_apply_fn apply, people_fed_view_fn view, void *out,
                                  const char **why);

/* Ends the sessions an IdP's logout names (OIDC back- and front-channel logout, SAML
 * Single Logout): those of the IdP idp_id with the IdP's session id sid (NULL: any) of
 * user_id (NULL: any user; sid and user_id are never both NULL), their control-plane records
 * first, then their rows with the entry action (target "<proto>_idp:<idp_id>", actor
 * "<proto>:<idp_id>", attrs: counts only, never the sid or subject) in one transaction.
 * *ids (may be NULL) the sessions revoked (arena), *n their number. */
nova_status people_fed_logout_sessions(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                       nova_fed_protocol proto, const char *tenant_id,
                                       const char *idp_id, const char *sid, const char *user_id,
                                       const char *action, int64_t now, const char ***ids,
                                       size_t *n);

/* SAML's login and logout share these (saml_login.c). */
struct _LassoServer;
/* An IdP row and its view, with the SP key opened and the SP's metadata. */
typedef struct people_saml_ctx {
    nova_saml_idp_row_t row;
    nova_saml_idp_t idp;
    const char *key_pem;     /* the caller cleanses it once done */
    const char *enc_key_pem; /* the encryption key, NULL when none; cleansed as key_pem */
    const char *sp_metadata;
} people_saml_ctx;
/* Loads the tenant's IdP idp_id into c; a disabled one only when disabled_ok (a logout only
 * takes access away). NOVA_OK with *fail UNKNOWN_IDP when there is none. */
nova_status people_saml_load(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                             const char *tenant_id, const char *idp_id, bool disabled_ok,
                             people_saml_ctx *c, nova_saml_fail *fail, const char **why);
/* The LassoServer kept for c's row (made when there is none), returned with the servers'
 * lock held: call people_saml_server_done once done with it. NULL (not locked) when Lasso
 * will not load it. */
struct _LassoServer *people_saml_server(const people_saml_ctx *c);
void people_saml_server_done(void);
/* A LassoServer of e's SP and IdP, not kept (the caller unrefs it); NULL when it will not
 * load. */
struct _LassoServer *people_saml_server_new(const nova_saml_expect_t *e);
/* xs:dateTime in UTC to unix seconds, -1 when it is not one. */
int64_t people_saml_time(const char *t);
/* Whether s is 1..max bytes of UTF-8 without a control character. */
bool people_saml_text_ok(const char *s, size_t max);
/* Keeps what a SAML session's SP-initiated logout needs (saml_logout.c). */
void people_saml_session_keep(nova_people_t *p, nova_arena_t *ar, const char *session_id,
                              int64_t expires_at, const char *idp_id,
                              const nova_saml_identity_t *who);

/* Each protocol's table (oidc.c, saml.c), behind nova_fed_idp_ops. */
extern const nova_fed_idp_ops_t people_oidc_idp_ops, people_saml_idp_ops;

/* Counters. */
enum {
    PEOPLE_M_STEPUP_PROMPT,
    PEOPLE_M_STEPUP_OK,
    PEOPLE_M_STEPUP_FAIL,
    PEOPLE_M_SES_CREATED,
    PEOPLE_M_SES_REVOKED,
    PEOPLE_M_SES_REFRESHED,
    PEOPLE_M_SES_IDLE,
    PEOPLE_M_N
};
void people_count(int which);
void people_count_login(nova_login_outcome o);
void people_count_aal(int aal);

/* nova_people_user_update without the groups' roles refresh (groups.c writes the roles it
 * planned through this one). */
nova_status people_user_update(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                               const nova_audit_actor_t *by, const char *tenant_id, const char *id,
                               const nova_user_spec_t *spec, nova_user_view_t *out,
                               const char **why);
/* After a user's roles were set: gives back the roles its groups give (and records them as
 * granted). *changed when the roles were written again. A member who would then hold more
 * than 16 roles keeps the roles as set. */
nova_status people_group_roles_refresh(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                       const nova_audit_actor_t *by, const char *tenant_id,
                                       const char *user_id, bool *changed);

#endif
