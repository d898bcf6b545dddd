/* internal.h: helpers shared by the API resource files. Not a public interface. */
#ifndef NOVA_API_INTERNAL_H
#define NOVA_API_INTERNAL_H

#include <jansson.h>

#include "nova/api.h"
#include "nova/json.h"
#include "nova/policy_store.h"
#include "nova/security.h"

/* This thread's store connection, or writes 503 and returns NULL. */
nova_store_t *api_store(nova_req_t *r, nova_api_t *api);
/* Checks the content type is application/json and decodes the body as a strict JSON object
 * with only the listed members (nova_json_parse_body); on failure writes 415, 400, or 413
 * when decoding would cost more memory than NOVA_JSON_BUDGET allows, and returns NULL. */
json_t *api_json_body(nova_req_t *r, const char *const *members);
/* Sends json (a jansson value, consumed) with status. */
void api_reply_json(nova_req_t *r, int status, json_t *json);
/* A space-separated list as a JSON array of strings. */
json_t *api_words(const char *list);

/* Parsed application/x-www-form-urlencoded body. */
typedef struct api_form {
    const char *name[16];
    const char *value[16];
    size_t n;
} api_form_t;

/* Parses the request body as a form; rejects repeated names (RFC 6749 §3.2), a bad escape,
 * or more than 16 members. On failure writes the OAuth error reply and returns false. */
bool api_form_parse(nova_req_t *r, api_form_t *f);
const char *api_form_get(const api_form_t *f, const char *name);

/* RFC 6749 §5.2 error reply (also shaped as RFC 9457 problem details). */
void api_oauth_error(nova_req_t *r, int status, const char *error, const char *description);

/* Client authentication for the OAuth endpoints: HTTP Basic or client_id/client_secret in
 * the form, not both. On failure writes invalid_client/invalid_request and returns false. */
bool api_client_auth(nova_req_t *r, nova_api_t *api, nova_store_t *s, const api_form_t *f,
                     nova_client_t *out);

bool api_authenticate(nova_req_t *r, const char *scope, void *ud);

/* Rate limits (ratelimit.c), counted in api->kv. Each returns true to go on, or false having
 * written the reply: 429 problem with Retry-After and RateLimit-Policy/RateLimit headers, or
 * 503 with Retry-After when the control plane cannot be reached (fail closed). */
/* Every POST /oauth/token, per source address; first thing the handler does. */
bool api_ratelimit_token_ip(nova_req_t *r, nova_api_t *api);
/* Per client, once it has authenticated; adds the RateLimit headers to the reply. */
bool api_ratelimit_token_client(nova_req_t *r, nova_api_t *api, const char *client_id);
/* Before the credentials are checked: refused once the address, or this client id from this
 * address, has failed too often. client_id may be NULL. */
bool api_ratelimit_auth_allowed(nova_req_t *r, nova_api_t *api, const char *client_id);
/* After a failed client authentication (counts it). */
void api_ratelimit_auth_failed(nova_req_t *r, nova_api_t *api, const char *client_id);
/* 503 control_plane_unavailable with Retry-After, for any caller whose kv call returned
 * NOVA_UNAVAILABLE. */
void api_kv_unavailable(nova_req_t *r);
/* Appends the rate-limit and control-plane metrics (Prometheus text). */
nova_status api_ratelimit_metrics(nova_api_t *api, nova_buf_t *out);

/* The OpenFGA-compatible API (fga.c): /stores and everything under it. */
nova_status api_fga_register(nova_api_t *api, nova_http_server_t *srv);
/* A store's tuple index brought up to its change feed's head and a parsed model of it, for
 * the decision point. On NOVA_OK the index's read lock is held until api_fga_release;
 * NOVA_NOT_FOUND when the model is not the store's; the model lives as long as the process. */
typedef struct api_fga_view {
    void *entry;
    const struct nova_policy_model *model;
    const struct nova_policy_index *index;
} api_fga_view_t;
nova_status api_fga_acquire(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                            const char *store_id, const char *model_id, api_fga_view_t *v);
void api_fga_release(api_fga_view_t *v);
/* The writes (add) and deletes (remove) of the tuples object#relation@user for each user
 * (full "type:id" strings) in every live store of tenant_id whose latest model admits the
 * tuple (nova_policy_tuple_validate), ignoring duplicates and missing tuples, as one batch
 * per such store (arena array), each audited "fga_tuples.write" by `by`: the caller writes
 * them in its own transaction (nova_store_fga_batches_in_tx), through the change feed like
 * a write of /stores/{id}/write; then api_fga_relate_synced brings this process's indexes of
 * those stores up to the batches' seq (read-your-writes). */
nova_status api_fga_relate_plan(nova_store_t *s, nova_arena_t *a, const nova_audit_actor_t *by,
                                const char *tenant_id, const char *object, const char *relation,
                                const char *const *add, size_t nadd, const char *const *remove,
                                size_t nremove, nova_fga_batch_t **out, size_t *n);
void api_fga_relate_synced(nova_store_t *s, const char *tenant_id, const nova_fga_batch_t *b,
                           size_t n);
/* Index and model-cache metrics (Prometheus text). */
nova_status api_fga_metrics(nova_buf_t *out);
/* The decision point (authz.c): /v1/authz/..., AuthZEN's /access/v1/... and Envoy's
 * ext_authz service; its metrics (Prometheus text). */
nova_status api_authz_register(nova_api_t *api, nova_http_server_t *srv);
nova_status api_authz_metrics(nova_buf_t *out);
/* The decision point's stage for Nova's own /v1 routes, after authentication and the route's
 * scope: when the tenant's active policy maps the method and path (its http.routes), the
 * policy decides (relation, purpose, rules, step-up) and a refusal is written (403
 * policy_denied, 401 step_up_required, 503 when the policy cannot be read: fail closed);
 * routes no policy maps, and /v1/authz/ itself, are decided by their scope alone. */
bool api_authz_route(nova_req_t *r, nova_api_t *api);
/* Counts a /v1 request the scope stage refused. */
void api_authz_route_scope_denied(void);

/* The audit log (audit.c): GET /v1/audit, and its metric (Prometheus text). */
nova_status api_audit_register(nova_api_t *api, nova_http_server_t *srv);
nova_status api_audit_metrics(nova_buf_t *out);

/* The URL the client addressed: the issuer's base and the raw path (DPoP htu). */
const char *api_request_url(nova_req_t *r, nova_api_t *api);
/* Adds a fresh DPoP-Nonce response header. */
void api_dpop_nonce_header(nova_req_t *r, nova_api_t *api);
/* Verifies the request's DPoP proof (access_token NULL at the token endpoint, where errors are
 * OAuth errors; else resource-server errors with a DPoP challenge). true with jkt set; false
 * with the reply written. */
bool api_dpop_check(nova_req_t *r, nova_api_t *api, const char *access_token, bool nonce_required,
                    char jkt[44]);
/* Replies with st's problem; NOVA_UNAVAILABLE (the control plane or store is down) adds
 * Retry-After. */
void api_unavailable(nova_req_t *r, nova_status st);

/* Signing keys (keys.c): GET /v1/keys, POST /v1/keys/rotate. */
nova_status api_keys_register(nova_api_t *api, nova_http_server_t *srv);
/* Kill switches (killswitch.c): GET /v1/kill-switches, PUT /v1/kill-switches/{action}. */
nova_status api_killswitch_register(nova_api_t *api, nova_http_server_t *srv);

/* Token-service counters (authmetrics.c). */
enum { API_GRANT_CLIENT_CREDENTIALS, API_GRANT_REFRESH_TOKEN, API_GRANT_N };
enum { API_DPOP_VERIFIED, API_DPOP_INVALID, API_DPOP_NONCE, API_DPOP_REPLAYED, API_DPOP_N };
enum { API_CAUTH_SECRET, API_CAUTH_PRIVATE_KEY_JWT, API_CAUTH_TLS, API_CAUTH_N };
void api_metric_grant(int grant, bool issued);
void api_metric_dpop(int outcome);
void api_metric_client_auth_failed(int method);
nova_status api_auth_metrics(nova_buf_t *out);

/* SDK sessions (sdk.c). */
nova_status api_sdk_register(nova_api_t *api, nova_http_server_t *srv);

/* API keys (apikeys.c): the /v1/api-keys routes, the signed-request authenticator that
 * api_authenticate hands a request with x-api-key-id to, and its metrics (Prometheus text). */
nova_status api_apikeys_register(nova_api_t *api, nova_http_server_t *srv);
bool api_apikey_authenticate(nova_req_t *r, nova_api_t *api, const char *scope);
nova_status api_apikeys_metrics(nova_buf_t *out);

/* Tenant security settings (security.c): GET/PUT /v1/tenants/{id}/security. */
nova_status api_security_register(nova_api_t *api, nova_http_server_t *srv);
/* The tenant's settings (from the per-process cache); false with 503 written when they cannot
 * be read (fail closed). */
bool api_security_settings(nova_req_t *r, nova_api_t *api, nova_store_t *s, const char *tenant_id,
                           nova_security_settings_t *out);
/* Refuses a request of tenant_id that its settings do not allow here: 421
 * region_not_resident (this novad's NOVA_REGION is not a resident region), 403
 * ip_not_allowed (the peer is outside allowed_ip_ranges), 503 when the settings cannot be
 * read. true to go on, with the settings in *out (may be NULL). */
bool api_security_enforce(nova_req_t *r, nova_api_t *api, const char *tenant_id,
                          nova_security_settings_t *out);

/* The core ledger (ledger.c): accounts, balances, postings, holds, reversals (/v1/core). */
nova_status api_ledger_register(nova_api_t *api, nova_http_server_t *srv);

/* People (users.c, login.c; nova/people.h): the user and session resources, sign-in, TOTP,
 * step-up. api_people: the API's people domain, made on first use (503 written when it
 * cannot be). */
struct nova_people;
struct nova_user_claims;
nova_status api_users_register(nova_api_t *api, nova_http_server_t *srv);
nova_status api_login_register(nova_api_t *api, nova_http_server_t *srv);
struct nova_people *api_people(nova_req_t *r, nova_api_t *api);
/* Deletes a user (nova_people_user_delete) and, in the same transaction, the policy tuples
 * of its group memberships (group:<id>#member@user:<id>), for /v1/users and /scim/v2/Users
 * alike (scim_groups.c). */
nova_status api_user_delete(nova_req_t *r, struct nova_people *p, nova_store_t *s,
                            const nova_audit_actor_t *by, const char *tenant_id, const char *id);
/* The people domain's group_tuples planner (nova/people.h): group:<group>#member@user:<id>
 * through api_fga_relate_plan, so a SCIM group's change writes its tuples in its own
 * transaction (scim_groups.c). */
nova_status api_group_tuples(void *ud, nova_store_t *s, nova_arena_t *a,
                             const nova_audit_actor_t *by, const char *tenant_id,
                             const char *group_id, const char *const *members, size_t nmembers,
                             const char *const *removed, size_t nremoved, nova_fga_batch_t **out,
                             size_t *n);
/* Its group_tuples_synced: api_fga_relate_synced. */
void api_group_tuples_synced(void *ud, nova_store_t *s, const char *tenant_id,
                             const nova_fga_batch_t *b, size_t n);
/* Replies for a failed people call: 422 naming the field for NOVA_INVALID, 503 for the
 * control plane, else the status's problem. */
void api_people_status(nova_req_t *r, nova_status st, const char *why);
nova_status api_webauthn_register(nova_api_t *api, nova_http_server_t *srv);
/* SCIM 2.0 provisioning (scim.c): /scim/v2/... and POST/DELETE /v1/scim/tokens. */
nova_status api_scim_register(nova_api_t *api, nova_http_server_t *srv);
/* Federation IdPs of both protocols (fed_idps.c): /v1/people/{oidc,saml}/idps[/{id}]. */
nova_status api_fed_idps_register(nova_api_t *api, nova_http_server_t *srv);
/* OIDC federation (oidc.c): the browser's /auth/oidc/... legs. */
nova_status api_oidc_register(nova_api_t *api, nova_http_server_t *srv);
/* SAML federation (saml.c): the SP metadata and the browser's /auth/saml/... legs. */
nova_status api_saml_register(nova_api_t *api, nova_http_server_t *srv);
/* The reply of a sign-in that opened a session (login.c): access and refresh tokens, the
 * session id, AAL and methods. */
struct nova_login_result;
json_t *api_people_grant_json(const struct nova_login_result *g);
/* Shared by the OIDC and SAML legs (oidc.c): whether the client asked for JSON rather than a
 * page; the grant of a federated login as JSON or as a small page holding it (no-store, no
 * script); whether an IdP URL may be http (only when novad itself runs on http on a loopback
 * host; else 422 written, false). */
bool api_wants_json(nova_req_t *r);
void api_fed_grant_reply(nova_req_t *r, const struct nova_login_result *g, const char *tenant);
bool api_fed_url_allowed(nova_req_t *r, nova_api_t *api, const char *member, const char *url);
/* Audits a refused federation message of the tenant's IdP idp (a SAML Response, a logout
 * token) as action by actor, with the reason only: never what the IdP sent. Best effort. */
void api_fed_audit_refusal(nova_req_t *r, nova_store_t *s, const char *tenant, const char *actor,
                           const char *action, const char *target_type, const char *idp,
                           const char *reason);
/* The WebAuthn relying party: NOVA_ISSUER's host and origin; false with 503 written. */
struct nova_webauthn_rp;
bool api_webauthn_rp(nova_req_t *r, nova_api_t *api, struct nova_webauthn_rp *rp);
/* Verifies the request's user access token into *c; false with 401/403/503 written.
 * allow_enrol_only: an enrol-only session (mfa required, none enrolled) may proceed. */
bool api_user_authenticate(nova_req_t *r, nova_api_t *api, struct nova_people *p, nova_store_t *s,
                           struct nova_user_claims *c, bool allow_enrol_only);
/* A person's user access token (aud nova:people) at a /v1 route: verified as
 * api_user_authenticate does (continuous evaluation included, an enrol-only session refused),
 * the user's roles read, r->principal set with user_id, aal, amr and roles (no scopes; the
 * audit actor in client_id). Sets the request's body check, which admits a step-up token
 * (cnf.orig) only for the request it is bound to. False with the reply written. */
bool api_user_caller(nova_req_t *r, nova_api_t *api, const char *token);
/* After api_user_caller: the policy answered step_up_required at required_aal, so once the
 * body is in the request gets the request-bound 403 MFA_REQUIRED challenge (api_stepup),
 * unless its token is a step-up token bound to exactly this request at that AAL. */
void api_user_stepup_later(nova_req_t *r, int required_aal);
/* After api_user_caller: whether the person's token is a step-up token (cnf.orig), good for
 * one request of Nova's own API only. */
bool api_user_bound(const nova_req_t *r);
/* The caller of the request (client token, API key or user token) without the route's
 * scope or policy stage: for ext_authz, which decides the original request itself. */
bool api_authenticate_caller(nova_req_t *r, nova_api_t *api);
/* Request-bound step-up: true when the caller's token may perform this request at aal, else
 * false with 403 MFA_REQUIRED and a challenge for exactly this request written. */
bool api_stepup(nova_req_t *r, struct nova_people *p, nova_store_t *s,
                const struct nova_user_claims *c, int aal);

/* The verification gateway: workflows (workflows.c) and verifications, usage and the
 * gateway's queue and workers (verifications.c). */
nova_status api_workflows_register(nova_api_t *api, nova_http_server_t *srv);
nova_status api_verifications_register(nova_api_t *api, nova_http_server_t *srv);
/* The process's verification gateway (verifications.c), once registered. */
struct nova_idv *api_idv(void);

/* Event notifications (webhooks.c): /v1/webhooks/endpoints, /v1/events, and the dispatcher
 * job on api->sched. */
nova_status api_webhooks_register(nova_api_t *api, nova_http_server_t *srv);

/* Face match (faces.c): POST /v1/faces/compare. */
nova_status api_faces_register(nova_api_t *api, nova_http_server_t *srv);

void api_health(nova_req_t *r, void *ud);
void api_ready(nova_req_t *r, void *ud);
void api_token(nova_req_t *r, void *ud);
void api_introspect(nova_req_t *r, void *ud);
void api_revoke(nova_req_t *r, void *ud);
void api_jwks(nova_req_t *r, void *ud);
void api_as_metadata(nova_req_t *r, void *ud);
void api_tenant_jwks(nova_req_t *r, void *ud);
void api_tenant_metadata(nova_req_t *r, void *ud);
void api_metrics(nova_req_t *r, void *ud);
void api_openapi(nova_req_t *r, void *ud);
void api_me(nova_req_t *r, void *ud);
void api_clients_create(nova_req_t *r, void *ud);
void api_clients_list(nova_req_t *r, void *ud);
void api_clients_delete(nova_req_t *r, void *ud);
void api_clients_get(nova_req_t *r, void *ud);
void api_tenants_get(nova_req_t *r, void *ud);
void api_tenants_create(nova_req_t *r, void *ud);
void api_tenants_list(nova_req_t *r, void *ud);

/* Embedded docs/openapi.json (generated at build time). */
extern const char nova_openapi_json[];
extern const size_t nova_openapi_json_len;

#endif
