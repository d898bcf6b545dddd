/* saml.c: SAML 2.0 federation per tenant (issue 11 item 7; nova/saml.h). The tenant's
 * backend configures its SAML IdPs under /v1/people/saml/idps (users:read / users:write;
 * fed_idps.c, shared with OIDC);
 * the IdP's administrator reads the SP's metadata at GET /auth/saml/metadata?tenant_id=&idp=; a
 * person's browser starts at GET /auth/saml/login?tenant_id=&idp= (302 to the IdP with a
 * signed AuthnRequest, HTTP-Redirect binding) and comes back with a POST of the SAMLResponse
 * to /auth/saml/acs/{tenant}/{idp} (HTTP-POST binding), which verifies everything and opens
 * the same session POST /auth/login opens, answered as the OIDC callback answers.
 *
 * Every refusal is a problem+json naming what failed, counted by reason
 * (nova_people_federation_failures_total{protocol="saml"}) and audited as
 * "saml.login_failed" with the reason only: no Response, NameID or attribute is logged or
 * audited. */
#include <string.h>

#include "internal.h"
#include "nova/saml.h"

/* ---- the browser's legs ---- */

static bool param_ok(const char *v)
{
    return v && *v && strlen(v) <= 64;
}

/* The problem of a failed login or logout, counted and audited as action (the reason,
 * never what the IdP sent). */
static void refused(nova_req_t *r, nova_api_t *api, nova_store_t *s, const char *tenant,
                    const char *idp, const char *action, nova_saml_fail f, const char *why)
{
    static const struct {
        int status;
        const char *code;
        const char *title;
    } map[NOVA_SAML_FAIL_N] = {
        [NOVA_SAML_FAIL_UNKNOWN_IDP] = {404, "saml_unknown_idp", "Not Found"},
        [NOVA_SAML_FAIL_MALFORMED] = {400, "saml_malformed_response", "Bad Request"},
        [NOVA_SAML_FAIL_STATUS] = {401, "saml_idp_error", "Unauthorized"},
        [NOVA_SAML_FAIL_SIGNATURE] = {401, "saml_invalid_signature", "Unauthorized"},
        [NOVA_SAML_FAIL_UNSIGNED] = {401, "saml_unsigned_assertion", "Unauthorized"},
        [NOVA_SAML_FAIL_ISSUER] = {401, "saml_invalid_issuer", "Unauthorized"},
        [NOVA_SAML_FAIL_DESTINATION] = {401, "saml_invalid_destination", "Unauthorized"},
        [NOVA_SAML_FAIL_AUDIENCE] = {401, "saml_invalid_audience", "Unauthorized"},
        [NOVA_SAML_FAIL_EXPIRED] = {401, "saml_assertion_expired", "Unauthorized"},
        [NOVA_SAML_FAIL_IN_RESPONSE_TO] = {400, "saml_unknown_request", "Bad Request"},
        [NOVA_SAML_FAIL_REPLAY] = {401, "saml_replayed_assertion", "Unauthorized"},
        [NOVA_SAML_FAIL_SUBJECT] = {401, "saml_invalid_subject", "Unauthorized"},
        [NOVA_SAML_FAIL_PROVISIONING] = {409, "saml_provisioning_failed", "Conflict"},
        [NOVA_SAML_FAIL_SUSPENDED] = {403, "account_suspended", "Forbidden"},
        [NOVA_SAML_FAIL_POLICY] = {403, "saml_mfa_required", "Forbidden"},
        [NOVA_SAML_FAIL_DECRYPTION] = {400, "saml_decryption_failed", "Bad Request"},
        [NOVA_SAML_FAIL_UNENCRYPTED] = {401, "saml_unencrypted_assertion", "Unauthorized"},
    };
    nova_saml_count(f);
    if (f != NOVA_SAML_FAIL_UNKNOWN_IDP && f != NOVA_SAML_FAIL_PROVISIONING &&
        f != NOVA_SAML_FAIL_SUSPENDED && f != NOVA_SAML_FAIL_POLICY)
        api_ratelimit_auth_failed(r, api, NULL);
    /* The tenant's trail shows refused federated sign-ins by reason: a forged or replayed
     * Response is an event its security team wants to see. */
    if (s && tenant && f != NOVA_SAML_FAIL_UNKNOWN_IDP)
        api_fed_audit_refusal(r, s, tenant, "saml", action, "saml_idp", idp,
                              nova_saml_fail_name(f));
    nova_resp_header(r, "Cache-Control", "no-store");
    if ((unsigned)f >= NOVA_SAML_FAIL_N || map[f].status == 0)
        nova_resp_problem(r, 400, "saml_failed", "Bad Request", why);
    else
        nova_resp_problem(r, map[f].status, map[f].code, map[f].title, why);
}

static void login_failed(nova_req_t *r, nova_api_t *api, nova_store_t *s, const char *tenant,
                         const char *idp, nova_saml_fail f, const char *why)
{
    refused(r, api, s, tenant, idp, "saml.login_failed", f, why);
}

static void saml_metadata(nova_req_t *r, void *ud)
{
    nova_store_t *s = api_store(r, ud);
    if (s == NULL)
        return;
    const char *tenant = nova_req_query(r, "tenant_id"), *id = nova_req_query(r, "idp");
    if (!param_ok(tenant) || !param_ok(id)) {
        nova_resp_problem(r, 400, "invalid_request", "Bad Request",
                          "tenant_id and idp: required query parameters");
        return;
    }
    nova_saml_idp_t idp;
    nova_status st = nova_saml_idp_get(s, &r->arena, tenant, id, &idp);
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID) {
        nova_resp_problem(r, 404, "not_found", "Not Found", "no SAML IdP of this tenant and id");
        return;
    }
    if (st) {
        api_people_status(r, st, NULL);
        return;
    }
    const char *md = nova_saml_sp_metadata(&r->arena, idp.sp_entity_id, idp.acs_url, idp.slo_url,
                                           idp.sp_cert_pem, idp.sp_enc_cert_pem);
    if (md == NULL) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return;
    }
    nova_resp_body(r, 200, "application/samlmetadata+xml", md, strlen(md));
}

static void saml_login(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    nova_people_t *p = s ? api_people(r, api) : NULL;
    if (p == NULL || !api_ratelimit_auth_allowed(r, api, NULL))
        return;
    const char *tenant = nova_req_query(r, "tenant_id"), *idp = nova_req_query(r, "idp");
    if (!param_ok(tenant) || !param_ok(idp)) {
        nova_resp_problem(r, 400, "invalid_request", "Bad Request",
                          "tenant_id and idp: required query parameters");
        return;
    }
    if (!api_security_enforce(r, api, tenant, NULL))
        return;
    const char *location = NULL, *why = NULL;
    nova_saml_fail fail = NOVA_SAML_FAIL_NONE;
    nova_status st = nova_saml_login_begin(p, s, &r->arena, tenant, idp, &location, &fail, &why);
    if (st) {
        api_people_status(r, st, NULL);
    } else if (fail) {
        login_failed(r, api, s, tenant, idp, fail, why);
    } else {
        nova_resp_header(r, "Cache-Control", "no-store");
        nova_resp_header(r, "Referrer-Policy", "no-referrer");
        if (api_wants_json(r)) {
            api_reply_json(r, 200, json_pack("{s:s}", "authorization_url", location));
            return;
        }
        nova_resp_header(r, "Location", location);
        nova_resp_body(r, 302, NULL, NULL, 0);
    }
}

static void saml_acs(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    nova_people_t *p = s ? api_people(r, api) : NULL;
    if (p == NULL || !api_ratelimit_auth_allowed(r, api, NULL))
        return;
    const char *tenant = r->params[0], *idp = r->params[1];
    if (!param_ok(tenant) || !param_ok(idp)) {
        nova_resp_problem(r, 404, "not_found", "Not Found", "no SAML IdP of this tenant and id");
        return;
    }
    api_form_t f;
    if (!api_form_parse(r, &f))
        return;
    const char *resp = api_form_get(&f, "SAMLResponse");
    if (resp == NULL) {
        login_failed(r, api, NULL, NULL, idp, NOVA_SAML_FAIL_MALFORMED,
                     "SAMLResponse: required (the HTTP-POST binding's form member)");
        return;
    }
    nova_security_settings_t sec;
    if (!api_security_enforce(r, api, tenant, &sec))
        return;
    nova_login_request_t req = {.device = nova_req_header(r, "User-Agent"),
                                .ip = nova_req_peer_ip(r),
                                .session_timeout_minutes = sec.session_timeout_minutes,
                                .mfa_required = sec.mfa_required_for_all_users};
    nova_login_result_t g;
    nova_saml_fail fail = NOVA_SAML_FAIL_NONE;
    const char *why = NULL;
    nova_status st = nova_saml_acs(p, s, &r->arena, tenant, idp, resp, &req, &g, &fail, &why);
    if (st) {
        api_people_status(r, st, NULL);
        return;
    }
    if (fail) {
        login_failed(r, api, s, tenant, idp, fail, why);
        return;
    }
    nova_saml_count(NOVA_SAML_FAIL_NONE);
    api_fed_grant_reply(r, &g, tenant);
}

/* SP-initiated Single Logout: the person's own access token ends its session, and when the
 * session came through a SAML IdP that offers Single Logout, the answer names the URL to send
 * the browser to (a signed LogoutRequest; the IdP ends its session and answers at the SLO
 * endpoint below). No body. */
static void saml_logout(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    nova_people_t *p = s ? api_people(r, api) : NULL;
    nova_user_claims_t c;
    if (p == NULL || !api_user_authenticate(r, api, p, s, &c, true))
        return;
    const char *url = NULL;
    nova_status st = nova_saml_logout_begin(p, s, &r->arena, c.tenant_id, c.session_id, &url);
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
    nova_saml_logout_forget(p, &r->arena, c.session_id);
    nova_resp_header(r, "Cache-Control", "no-store");
    nova_resp_header(r, "Referrer-Policy", "no-referrer");
    api_reply_json(r, 200, json_pack("{s:o}", "logout_url", url ? json_string(url) : json_null()));
}

/* The inline script of the auto-submitting form, allowed by its hash alone. */
#define SUBMIT_JS "document.forms[0].submit();"
#define SUBMIT_JS_SHA256 "sha256-8lDeP0UDwCO6/RhblgeH/ctdBzjVpJxrXizsnIk3cEQ="

/* The HTTP-POST binding's answer: a page that posts SAMLResponse to the IdP's
 * SingleLogoutService at once (a button without script). */
static void post_form(nova_req_t *r, const char *action, const char *saml_response)
{
    nova_buf_t b;
    nova_buf_init(&b);
    nova_buf_append_cstr(&b, "<!doctype html><html><head><meta charset=\"utf-8\">"
                             "<title>Signing out</title></head><body>"
                             "<form method=\"post\" action=\"");
    nova_buf_append_xml(&b, action);
    /* base64 needs no escaping in an attribute */
    nova_buf_append_cstr(&b, "\"><input type=\"hidden\" name=\"SAMLResponse\" value=\"");
    nova_buf_append_cstr(&b, saml_response);
    nova_status st = nova_buf_append_cstr(
        &b, "\"><noscript><button type=\"submit\">Continue</button></noscript></form>"
            "<script>" SUBMIT_JS "</script></body></html>");
    if (st) {
        nova_buf_free(&b);
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return;
    }
    nova_resp_header(r, "Content-Security-Policy",
                     "default-src 'none'; script-src '" SUBMIT_JS_SHA256
                     "'; frame-ancestors 'none'");
    nova_resp_header(r, "X-Content-Type-Options", "nosniff");
    nova_resp_body(r, 200, "text/html; charset=utf-8", (const char *)b.data, b.len);
    nova_buf_free(&b);
}

/* The SP's SingleLogoutService, GET for HTTP-Redirect and POST (a form of SAMLRequest or
 * SAMLResponse) for HTTP-POST: the IdP's LogoutRequest (its sessions here end, the browser
 * goes back with a signed LogoutResponse: a redirect, or a form posting it when the IdP
 * offers only HTTP-POST) or its LogoutResponse to one of Nova's requests (a page saying so).
 * Refusals are problem+json, counted by reason and audited "saml.logout_failed" with the
 * reason only; a sender's refusals count against the auth-failure rate limit, checked before
 * any parsing. */
static void saml_slo(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    nova_people_t *p = s ? api_people(r, api) : NULL;
    if (p == NULL || !api_ratelimit_auth_allowed(r, api, NULL))
        return;
    const char *tenant = r->params[0], *idp = r->params[1];
    if (!param_ok(tenant) || !param_ok(idp)) {
        nova_resp_problem(r, 404, "saml_unknown_idp", "Not Found",
                          "no SAML IdP of this tenant and id");
        return;
    }
    bool post = strcmp(r->method, "POST") == 0;
    const char *sreq = NULL, *sresp = NULL;
    if (post) {
        api_form_t f;
        if (!api_form_parse(r, &f))
            return;
        sreq = api_form_get(&f, "SAMLRequest");
        sresp = api_form_get(&f, "SAMLResponse");
    }
    if (!api_security_enforce(r, api, tenant, NULL))
        return;
    nova_saml_slo_result_t res;
    nova_saml_fail fail = NOVA_SAML_FAIL_NONE;
    const char *why = NULL;
    const char *query = post ? NULL : (r->query ? r->query : ""); /* NULL: HTTP-POST */
    nova_status st =
        nova_saml_slo(p, s, &r->arena, tenant, idp, query, sreq, sresp, &res, &fail, &why);
    if (st) {
        api_people_status(r, st, NULL);
        return;
    }
    if (fail) {
        refused(r, api, s, tenant, idp, "saml.logout_failed", fail, why);
        return;
    }
    nova_resp_header(r, "Cache-Control", "no-store");
    nova_resp_header(r, "Referrer-Policy", "no-referrer");
    if (res.location && res.saml_response) {
        post_form(r, res.location, res.saml_response);
        return;
    }
    if (res.location) {
        nova_resp_header(r, "Location", res.location);
        nova_resp_body(r, 302, NULL, NULL, 0);
        return;
    }
    static const char page[] = "<!doctype html><html><head><meta charset=\"utf-8\">"
                               "<title>Signed out</title></head><body>"
                               "<p id=\"nova-status\">Signed out.</p></body></html>";
    nova_resp_header(r, "Content-Security-Policy", "default-src 'none'");
    nova_resp_body(r, 200, "text/html; charset=utf-8", page, sizeof(page) - 1);
}

nova_status api_saml_register(nova_api_t *api, nova_http_server_t *srv)
{
    static const struct {
        const char *method, *pattern, *scope;
        nova_handler_fn fn;
        size_t max_body;
    } routes[] = {
        /* The browser's legs and the SP metadata are public: InResponseTo ties an ACS post to
         * a request this novad made, and the signatures to the IdP. */
        {"GET", "/auth/saml/metadata", NULL, saml_metadata, 0},
        {"GET", "/auth/saml/login", NULL, saml_login, 0},
        /* A form-encoded base64 Response of 256 KiB grows by up to a third when escaped. */
        {"POST", "/auth/saml/acs/{tenant_id}/{idp}", NULL, saml_acs, 360000},
        /* The person's own access token, checked by the handler (as /auth/logout does). */
        {"POST", "/auth/saml/logout", NULL, saml_logout, 0},
        /* The IdP's messages through the browser; their signatures tie them to the IdP. */
        {"GET", "/auth/saml/slo/{tenant_id}/{idp}", NULL, saml_slo, 0},
        {"POST", "/auth/saml/slo/{tenant_id}/{idp}", NULL, saml_slo, 360000},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        nova_status st = nova_http_route(srv, routes[i].method, routes[i].pattern, routes[i].scope,
                                         routes[i].max_body, routes[i].fn, api);
        if (st)
            return st;
    }
    return NOVA_OK;
}
