/* oidc.c: OIDC federation per tenant (issue 11 item 7; nova/oidc.h). The tenant's backend
 * configures its OpenID Providers under /v1/people/oidc/idps (users:read / users:write;
 * fed_idps.c, shared with SAML); a
 * person's browser starts at GET /auth/oidc/login?tenant_id=&idp= (302 to the IdP with
 * state, nonce and a PKCE S256 challenge) and comes back to GET /auth/oidc/callback, which
 * verifies everything and opens the same session POST /auth/login opens. The callback
 * answers the grant as JSON when the client asks for application/json, else as a small page
 * holding it (no-store) for the sign-in page of the same origin to read. The IdP's server
 * ends sessions with Back-Channel Logout 1.0 at POST /auth/oidc/backchannel-logout/{tenant}/{idp}.
 *
 * Every refusal is a problem+json naming what failed, counted by reason
 * (nova_people_federation_failures_total{protocol="oidc"}); no token, code, state or nonce
 * is logged or audited. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nova/audit_store.h"
#include "nova/oidc.h"

bool api_fed_url_allowed(nova_req_t *r, nova_api_t *api, const char *member, const char *url)
{
    const char *self = nova_auth_issuer(api->auth);
    if (url == NULL || strncmp(url, "http://", 7) != 0)
        return true;
    if (self && strncmp(self, "http://", 7) == 0 && nova_oidc_url_ok(self))
        return true;
    const char *why = nova_arena_printf(&r->arena,
                                        "%s: https required (an http IdP on a loopback host only "
                                        "when novad itself runs on one, a development setup)",
                                        member);
    nova_resp_problem(r, 422, "invalid_field", "Invalid field", why ? why : member);
    return false;
}

/* ---- the browser's legs ---- */

bool api_wants_json(nova_req_t *r)
{
    const char *a = nova_req_header(r, "Accept");
    return a && strstr(a, "application/json") && !strstr(a, "text/html");
}

/* The problem of a failed login, counted. */
static void login_failed(nova_req_t *r, nova_api_t *api, nova_oidc_fail f, const char *why)
{
    static const struct {
        int status;
        const char *code;
        const char *title;
    } map[NOVA_OIDC_FAIL_N] = {
        [NOVA_OIDC_FAIL_UNKNOWN_IDP] = {404, "oidc_unknown_idp", "Not Found"},
        [NOVA_OIDC_FAIL_STATE] = {400, "oidc_invalid_state", "Bad Request"},
        [NOVA_OIDC_FAIL_IDP_ERROR] = {400, "oidc_idp_error", "Bad Request"},
        [NOVA_OIDC_FAIL_DISCOVERY] = {502, "oidc_discovery_failed", "Bad Gateway"},
        [NOVA_OIDC_FAIL_TOKEN] = {401, "oidc_token_exchange_failed", "Unauthorized"},
        [NOVA_OIDC_FAIL_JWKS] = {502, "oidc_jwks_failed", "Bad Gateway"},
        [NOVA_OIDC_FAIL_SIGNATURE] = {401, "oidc_invalid_signature", "Unauthorized"},
        [NOVA_OIDC_FAIL_CLAIMS] = {401, "oidc_invalid_id_token", "Unauthorized"},
        [NOVA_OIDC_FAIL_PROVISIONING] = {409, "oidc_provisioning_failed", "Conflict"},
        [NOVA_OIDC_FAIL_SUSPENDED] = {403, "account_suspended", "Forbidden"},
        [NOVA_OIDC_FAIL_POLICY] = {403, "oidc_mfa_required", "Forbidden"},
        [NOVA_OIDC_FAIL_USERINFO] = {502, "oidc_userinfo_failed", "Bad Gateway"},
    };
    nova_oidc_count(f);
    if (f == NOVA_OIDC_FAIL_STATE || f == NOVA_OIDC_FAIL_SIGNATURE || f == NOVA_OIDC_FAIL_CLAIMS)
        api_ratelimit_auth_failed(r, api, NULL);
    nova_resp_header(r, "Cache-Control", "no-store");
    if ((unsigned)f >= NOVA_OIDC_FAIL_N || map[f].status == 0)
        nova_resp_problem(r, 400, "oidc_failed", "Bad Request", why);
    else
        nova_resp_problem(r, map[f].status, map[f].code, map[f].title, why);
}

static void oidc_login(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    nova_people_t *p = s ? api_people(r, api) : NULL;
    if (p == NULL || !api_ratelimit_auth_allowed(r, api, NULL))
        return;
    const char *tenant = nova_req_query(r, "tenant_id"), *idp = nova_req_query(r, "idp");
    if (tenant == NULL || idp == NULL || !*tenant || !*idp || strlen(tenant) > 64 ||
        strlen(idp) > 64) {
        nova_resp_problem(r, 400, "invalid_request", "Bad Request",
                          "tenant_id and idp: required query parameters");
        return;
    }
    if (!api_security_enforce(r, api, tenant, NULL))
        return;
    const char *location = NULL, *why = NULL;
    nova_oidc_fail fail = NOVA_OIDC_FAIL_NONE;
    nova_status st = nova_oidc_login_begin(
        p, s, &r->arena, tenant, idp, nova_req_query(r, "redirect_uri"), &location, &fail, &why);
    if (st) {
        api_people_status(r, st, NULL);
    } else if (fail) {
        login_failed(r, api, fail, why);
    } else {
        nova_resp_header(r, "Cache-Control", "no-store");
        nova_resp_header(r, "Referrer-Policy", "no-referrer");
        /* A script of the sign-in page asks for the URL to send the browser to; a link or a
         * typed address gets the redirect. */
        if (api_wants_json(r)) {
            api_reply_json(r, 200, json_pack("{s:s}", "authorization_url", location));
            return;
        }
        nova_resp_header(r, "Location", location);
        nova_resp_body(r, 302, NULL, NULL, 0);
    }
}

static bool idp_error_ok(const char *e)
{
    size_t n = strlen(e);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((e[i] >= 'a' && e[i] <= 'z') || e[i] == '_'))
            return false;
    return true;
}

static void oidc_callback(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    nova_people_t *p = s ? api_people(r, api) : NULL;
    if (p == NULL || !api_ratelimit_auth_allowed(r, api, NULL))
        return;
    const char *state = nova_req_query(r, "state"), *code = nova_req_query(r, "code");
    const char *err = nova_req_query(r, "error");
    if (err) {
        /* OIDC Core §3.1.2.6: the IdP refused (login_required, access_denied, ...). Its code is
         * repeated only when it is one of the vocabulary's shapes. */
        const char *why = idp_error_ok(err)
                              ? nova_arena_printf(&r->arena, "the IdP refused the login: %s", err)
                              : "the IdP refused the login";
        login_failed(r, api, NOVA_OIDC_FAIL_IDP_ERROR, why);
        return;
    }
    if (state == NULL || code == NULL) {
        login_failed(r, api, NOVA_OIDC_FAIL_STATE, "state and code: required");
        return;
    }
    const char *tenant = NULL, *why = NULL;
    nova_status st = nova_oidc_state_tenant(p, &r->arena, state, &tenant);
    if (st == NOVA_NOT_FOUND) {
        login_failed(r, api, NOVA_OIDC_FAIL_STATE,
                     "state: unknown, already used or expired (start the login again)");
        return;
    }
    nova_security_settings_t sec;
    if (st) {
        api_people_status(r, st, NULL);
        return;
    }
    if (!api_security_enforce(r, api, tenant, &sec))
        return;
    nova_login_request_t req = {.device = nova_req_header(r, "User-Agent"),
                                .ip = nova_req_peer_ip(r),
                                .session_timeout_minutes = sec.session_timeout_minutes,
                                .mfa_required = sec.mfa_required_for_all_users};
    nova_login_result_t g;
    nova_oidc_fail fail = NOVA_OIDC_FAIL_NONE;
    st = nova_oidc_login_complete(p, s, &r->arena, state, code, &req, &g, &tenant, &fail, &why);
    if (st) {
        api_people_status(r, st, NULL);
        return;
    }
    if (fail) {
        login_failed(r, api, fail, why);
        return;
    }
    nova_oidc_count(NOVA_OIDC_FAIL_NONE);
    api_fed_grant_reply(r, &g, tenant);
}

void api_fed_audit_refusal(nova_req_t *r, nova_store_t *s, const char *tenant, const char *actor,
                           const char *action, const char *target_type, const char *idp,
                           const char *reason)
{
    nova_audit_actor_t by = {.id = actor, .request_id = r->req_id};
    nova_audit_entry_t ae;
    if (nova_audit_entry_make(&ae, &r->arena, &by, tenant, action, target_type, idp,
                              json_pack("{s:s}", "reason", reason)) == NOVA_OK)
        nova_store_audit_append(s, NULL, &ae, NULL);
}

void api_fed_grant_reply(nova_req_t *r, const nova_login_result_t *g, const char *tenant)
{
    nova_resp_header(r, "Cache-Control", "no-store");
    nova_resp_header(r, "Referrer-Policy", "no-referrer");
    json_t *grant = api_people_grant_json(g);
    if (grant)
        json_object_set_new(grant, "tenant_id", json_string(tenant));
    if (api_wants_json(r)) {
        api_reply_json(r, 200, grant);
        return;
    }
    /* The page carries the grant as data (not script): the sign-in page of this origin reads
     * it; nothing runs here, and the policy forbids anything from running. */
    char *text = grant ? json_dumps(grant, JSON_COMPACT | JSON_ESCAPE_SLASH) : NULL;
    json_decref(grant);
    char *page = text ? nova_arena_printf(&r->arena,
                                          "<!doctype html><html><head><meta charset=\"utf-8\">"
                                          "<title>Signed in</title></head><body>"
                                          "<p id=\"nova-status\">Signed in.</p>"
                                          "<script type=\"application/json\" id=\"nova-grant\">"
                                          "%s</script></body></html>",
                                          text)
                      : NULL;
    if (text) {
        OPENSSL_cleanse(text, strlen(text));
        free(text);
    }
    if (page == NULL) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return;
    }
    nova_resp_header(r, "Content-Security-Policy", "default-src 'none'");
    nova_resp_body(r, 200, "text/html; charset=utf-8", page, strlen(page));
}

static const char *const logout_members[] = {"post_logout_redirect_uri", "state", NULL};

/* RP-Initiated Logout 1.0: the person's own access token ends its session, and when the
 * session came through an IdP that offers an end-session endpoint, the answer names the URL
 * to send the browser to (the IdP's session ends there). An empty body is allowed. */
static void oidc_logout(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    nova_people_t *p = s ? api_people(r, api) : NULL;
    nova_user_claims_t c;
    if (p == NULL || !api_user_authenticate(r, api, p, s, &c, true))
        return;
    json_t *body = r->body.len ? api_json_body(r, logout_members) : json_object();
    if (body == NULL)
        return;
    json_t *ru = json_object_get(body, "post_logout_redirect_uri");
    json_t *sv = json_object_get(body, "state");
    if ((ru && !json_is_string(ru)) || (sv && !json_is_string(sv))) {
        nova_resp_problem(r, 422, "invalid_field", "Invalid field",
                          "post_logout_redirect_uri and state: strings");
        json_decref(body);
        return;
    }
    const char *url = NULL, *why = NULL;
    nova_status st = nova_oidc_logout_url(p, s, &r->arena, c.tenant_id, c.session_id,
                                          json_string_value(ru), json_string_value(sv), &url, &why);
    json_decref(body);
    if (st == NOVA_INVALID) {
        nova_resp_problem(r, 422, "invalid_field", "Invalid field", why);
        return;
    }
    if (st) {
        api_people_status(r, st, NULL);
        return;
    }
    nova_audit_actor_t by = {.id = c.user_id, .request_id = r->req_id};
    st = nova_people_session_revoke(p, s, &r->arena, &by, c.tenant_id, c.session_id, "logout");
    if (st) {
        api_people_status(r, st, NULL);
        return;
    }
    nova_oidc_logout_forget(p, &r->arena, c.session_id);
    nova_resp_header(r, "Cache-Control", "no-store");
    nova_resp_header(r, "Referrer-Policy", "no-referrer");
    api_reply_json(r, 200,
                   json_pack("{s:o}", "end_session_url", url ? json_string(url) : json_null()));
}

/* OpenID Connect Back-Channel Logout 1.0: the IdP's server POSTs a logout_token (form) to
 * the RP's back-channel logout URI of one tenant's IdP (the IdP's view shows its path, to
 * register as the client's backchannel_logout_uri). 200 once the sessions it names are
 * over; 400 for a token that does not verify, §2.8 (a problem+json naming what failed),
 * counted by reason and audited "oidc.logout_failed" with the reason only. */
static void oidc_backchannel_logout(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    nova_people_t *p = s ? api_people(r, api) : NULL;
    if (p == NULL || !api_ratelimit_auth_allowed(r, api, NULL))
        return;
    const char *tenant = r->params[0], *idp = r->params[1];
    nova_resp_header(r, "Cache-Control", "no-store");
    if (strlen(tenant) > 64 || strlen(idp) > 64) {
        nova_resp_problem(r, 404, "oidc_unknown_idp", "Not Found",
                          "this tenant has no IdP of this id");
        return;
    }
    api_form_t f;
    if (!api_form_parse(r, &f))
        return;
    if (!api_security_enforce(r, api, tenant, NULL))
        return;
    size_t revoked = 0;
    nova_oidc_fail fail = NOVA_OIDC_FAIL_NONE;
    const char *why = NULL;
    const char *token = api_form_get(&f, "logout_token");
    nova_status st = token ? nova_oidc_backchannel_logout(p, s, &r->arena, tenant, idp, token,
                                                          &revoked, &fail, &why)
                           : NOVA_OK;
    if (token == NULL) {
        fail = NOVA_OIDC_FAIL_LOGOUT_TOKEN;
        why = "logout_token: required (a form member)";
    }
    if (st) {
        api_people_status(r, st, NULL);
        return;
    }
    if (fail == NOVA_OIDC_FAIL_NONE) {
        nova_resp_body(r, 200, NULL, NULL, 0);
        return;
    }
    nova_oidc_count(fail);
    if (fail == NOVA_OIDC_FAIL_SIGNATURE || fail == NOVA_OIDC_FAIL_LOGOUT_TOKEN)
        api_ratelimit_auth_failed(r, api, NULL);
    /* A forged or replayed logout token is an event the tenant's security team wants. */
    if (fail != NOVA_OIDC_FAIL_UNKNOWN_IDP)
        api_fed_audit_refusal(r, s, tenant, "oidc", "oidc.logout_failed", "oidc_idp", idp,
                              nova_oidc_fail_name(fail));
    if (fail == NOVA_OIDC_FAIL_UNKNOWN_IDP)
        nova_resp_problem(r, 404, "oidc_unknown_idp", "Not Found", why);
    else if (fail == NOVA_OIDC_FAIL_DISCOVERY)
        nova_resp_problem(r, 502, "oidc_discovery_failed", "Bad Gateway", why);
    else if (fail == NOVA_OIDC_FAIL_JWKS)
        nova_resp_problem(r, 502, "oidc_jwks_failed", "Bad Gateway", why);
    else
        nova_resp_problem(r, 400, "oidc_invalid_logout_token", "Bad Request", why);
}

/* OpenID Connect Front-Channel Logout 1.0: the IdP's logout page loads this URL (in an
 * iframe) with iss and sid; the sessions of that IdP session end. A small page answers
 * (never cached, §3), one the IdP's page may frame; a missing or foreign iss or a missing
 * sid is 400 problem+json, counted and audited "oidc.logout_failed" with the reason only. */
static void oidc_frontchannel_logout(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    nova_people_t *p = s ? api_people(r, api) : NULL;
    if (p == NULL || !api_ratelimit_auth_allowed(r, api, NULL))
        return;
    const char *tenant = r->params[0], *idp = r->params[1];
    nova_resp_header(r, "Cache-Control", "no-store");
    if (strlen(tenant) > 64 || strlen(idp) > 64) {
        nova_resp_problem(r, 404, "oidc_unknown_idp", "Not Found",
                          "this tenant has no IdP of this id");
        return;
    }
    if (!api_security_enforce(r, api, tenant, NULL))
        return;
    size_t revoked = 0;
    nova_oidc_fail fail = NOVA_OIDC_FAIL_NONE;
    const char *why = NULL;
    nova_status st =
        nova_oidc_frontchannel_logout(p, s, &r->arena, tenant, idp, nova_req_query(r, "iss"),
                                      nova_req_query(r, "sid"), &revoked, &fail, &why);
    if (st) {
        api_people_status(r, st, NULL);
        return;
    }
    if (fail == NOVA_OIDC_FAIL_NONE) {
        static const char page[] = "<!doctype html><html><head><meta charset=\"utf-8\">"
                                   "<title>Signed out</title></head><body>"
                                   "<p id=\"nova-status\">Signed out.</p></body></html>";
        nova_resp_header(r, "Content-Security-Policy", "default-src 'none'");
        nova_resp_header(r, "Referrer-Policy", "no-referrer");
        nova_resp_body(r, 200, "text/html; charset=utf-8", page, sizeof(page) - 1);
        return;
    }
    nova_oidc_count(fail);
    api_ratelimit_auth_failed(r, api, NULL);
    if (fail == NOVA_OIDC_FAIL_UNKNOWN_IDP) {
        nova_resp_problem(r, 404, "oidc_unknown_idp", "Not Found", why);
        return;
    }
    api_fed_audit_refusal(r, s, tenant, "oidc", "oidc.logout_failed", "oidc_idp", idp,
                          nova_oidc_fail_name(fail));
    nova_resp_problem(r, 400, "oidc_invalid_logout_request", "Bad Request", why);
}

/* The JWK Set of Nova's client key for private_key_jwt at one IdP (RFC 7517), for the IdP to
 * register as the client's jwks_uri: a rotation reaches it without a new registration.
 * Public keys only; 404 problem for an unknown IdP or one that does not use the method. */
static void oidc_client_jwks(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    const char *tenant = r->params[0], *id = r->params[1];
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_oidc_idp_t idp;
    nova_status st = strlen(tenant) <= 64 && strlen(id) <= 64
                         ? nova_oidc_idp_get(s, &r->arena, tenant, id, &idp)
                         : NOVA_NOT_FOUND;
    json_t *jwks = st == NOVA_OK ? nova_oidc_client_jwks(&idp) : NULL;
    if (st == NOVA_INVALID || st == NOVA_NOT_FOUND || (st == NOVA_OK && jwks == NULL)) {
        nova_resp_problem(r, 404, "oidc_unknown_idp", "Not Found",
                          "this tenant has no IdP of this id that uses private_key_jwt");
        return;
    }
    if (st) {
        nova_resp_status(r, st, NULL);
        return;
    }
    /* Short: a staged key is listed well before it signs (600 s by default). */
    nova_resp_header(r, "Cache-Control", "public, max-age=60");
    char *text = json_dumps(jwks, JSON_COMPACT);
    json_decref(jwks);
    if (text == NULL) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return;
    }
    nova_resp_body(r, 200, "application/jwk-set+json", text, strlen(text));
    free(text);
}

nova_status api_oidc_register(nova_api_t *api, nova_http_server_t *srv)
{
    static const struct {
        const char *method, *pattern, *scope;
        nova_handler_fn fn;
        size_t max_body;
    } routes[] = {
        /* The browser's legs are public: the state ties the callback to its login. */
        {"GET", "/auth/oidc/login", NULL, oidc_login, 0},
        {"GET", "/auth/oidc/callback", NULL, oidc_callback, 0},
        /* The person's own access token, checked by the handler (as /auth/logout does). */
        {"POST", "/auth/oidc/logout", NULL, oidc_logout, 1024},
        /* The IdP's server; the logout token's signature ties it to the IdP. */
        {"POST", "/auth/oidc/backchannel-logout/{tenant_id}/{idp}", NULL, oidc_backchannel_logout,
         24576},
        /* The IdP's logout page, through the browser; the sid names what ends. */
        {"GET", "/auth/oidc/frontchannel-logout/{tenant_id}/{idp}", NULL, oidc_frontchannel_logout,
         0},
        /* The IdP's server fetches Nova's client key (private_key_jwt's jwks_uri). */
        {"GET", "/auth/oidc/jwks/{tenant_id}/{idp}", NULL, oidc_client_jwks, 0},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        nova_status st = nova_http_route(srv, routes[i].method, routes[i].pattern, routes[i].scope,
                                         routes[i].max_body, routes[i].fn, api);
        if (st)
            return st;
    }
    return NOVA_OK;
}
