/* webauthn.c: passkeys over HTTP (issue 11 item 2): /auth/webauthn/register/begin|finish
 * (with a user access token), /auth/webauthn/login/begin|finish (public), and the sign-in
 * page at GET /auth/signin that runs the ceremonies in the browser. The relying party is the
 * deployment's public address, NOVA_ISSUER: its host is the RP ID and its scheme, host and
 * port the only origin accepted in client data. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nova/people.h"

/* RP from the issuer "scheme://host[:port][/path]". false when the issuer has no host. */
bool api_webauthn_rp(nova_req_t *r, nova_api_t *api, nova_webauthn_rp_t *rp)
{
    const char *iss = nova_auth_issuer(api->auth), *h = strstr(iss, "://");
    if (h == NULL) {
        nova_resp_problem(r, 503, "webauthn_unavailable", "Service Unavailable",
                          "NOVA_ISSUER has no host: passkeys need the deployment's address");
        return false;
    }
    h += 3;
    size_t end = strcspn(h, "/"), host = strcspn(h, ":/");
    rp->rp_id = nova_arena_strndup(&r->arena, h, host);
    rp->origin = nova_arena_strndup(&r->arena, iss, (size_t)(h - iss) + end);
    rp->rp_name = "Nova";
    if (!rp->rp_id || !rp->origin) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return false;
    }
    return true;
}

static void reply_text(nova_req_t *r, char *text)
{
    if (text == NULL) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return;
    }
    nova_resp_json(r, 200, text, strlen(text));
    free(text);
}

static void signin_page(nova_req_t *r, void *ud)
{
    (void)ud;
    nova_resp_header(r, "Content-Security-Policy",
                     "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                     "connect-src 'self'; frame-ancestors 'none'");
    nova_resp_header(r, "X-Content-Type-Options", "nosniff");
    nova_resp_body(r, 200, "text/html; charset=utf-8", nova_people_signin_html,
                   nova_people_signin_html_len);
}

static void register_begin(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_webauthn_rp_t rp;
    nova_store_t *s = api_store(r, api);
    nova_people_t *p = s ? api_people(r, api) : NULL;
    nova_user_claims_t c;
    if (p == NULL || !api_user_authenticate(r, api, p, s, &c, true) ||
        !api_webauthn_rp(r, api, &rp))
        return;
    char *options = NULL;
    nova_status st = nova_people_passkey_register_begin(p, s, &r->arena, &c, &rp, &options);
    if (st)
        api_people_status(r, st, NULL);
    else
        reply_text(r, options);
}

static const char *const finish_members[] = {"credential", NULL};

static void register_finish(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_webauthn_rp_t rp;
    nova_store_t *s = api_store(r, api);
    nova_people_t *p = s ? api_people(r, api) : NULL;
    nova_user_claims_t c;
    if (p == NULL || !api_user_authenticate(r, api, p, s, &c, true) ||
        !api_webauthn_rp(r, api, &rp))
        return;
    json_t *body = api_json_body(r, finish_members);
    if (body == NULL)
        return;
    nova_passkey_t k;
    const char *why = NULL;
    nova_status st = nova_people_passkey_register_finish(
        p, s, &r->arena, &c, &rp, json_object_get(body, "credential"), &k, &why);
    json_decref(body);
    if (st == NOVA_UNAUTHORIZED)
        nova_resp_problem(r, 400, "webauthn_rejected", "Bad Request", why);
    else if (st == NOVA_CONFLICT)
        nova_resp_problem(r, 409, "passkey_exists", "Conflict", why);
    else if (st)
        api_people_status(r, st, why);
    else
        api_reply_json(r, 201,
                       json_pack("{s:s, s:I, s:s, s:s, s:b, s:I}", "id", k.id, "alg",
                                 (json_int_t)k.alg, "attestation", k.attestation, "aaguid",
                                 k.aaguid, "user_verified", k.user_verified, "sign_count",
                                 (json_int_t)k.sign_count));
}

static const char *const login_begin_members[] = {"tenant_id", "email", NULL};

static void login_begin(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_webauthn_rp_t rp;
    json_t *body = api_json_body(r, login_begin_members);
    if (body == NULL)
        return;
    json_t *t = json_object_get(body, "tenant_id"), *e = json_object_get(body, "email");
    nova_store_t *s = NULL;
    nova_people_t *p = NULL;
    nova_tenant_t tenant;
    if (!json_is_string(t) || (e && !json_is_string(e))) {
        nova_resp_problem(r, 422, "invalid_field", "Invalid field",
                          "tenant_id: required, a string; email: a string");
    } else if (api_webauthn_rp(r, api, &rp) && (s = api_store(r, api)) &&
               (p = api_people(r, api))) {
        nova_status st = nova_store_tenant_get(s, &r->arena, json_string_value(t), &tenant);
        char *options = NULL;
        if (st == NOVA_NOT_FOUND || st == NOVA_INVALID)
            nova_resp_problem(r, 422, "invalid_field", "Invalid field",
                              "tenant_id: no such tenant");
        else if (st)
            api_unavailable(r, st);
        else if (api_security_enforce(r, api, tenant.id, NULL)) {
            st = nova_people_passkey_login_begin(p, s, &r->arena, tenant.id,
                                                 e ? json_string_value(e) : NULL, &rp, &options);
            if (st)
                api_people_status(r, st, NULL);
            else
                reply_text(r, options);
        }
    }
    json_decref(body);
}

static const char *const login_finish_members[] = {"tenant_id", "credential", NULL};

static void login_finish(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_webauthn_rp_t rp;
    json_t *body = api_json_body(r, login_finish_members);
    if (body == NULL)
        return;
    json_t *t = json_object_get(body, "tenant_id");
    nova_store_t *s = NULL;
    nova_people_t *p = NULL;
    nova_security_settings_t sec;
    const char *rl = NULL;
    if (!json_is_string(t) || json_string_length(t) > 64) {
        nova_resp_problem(r, 422, "invalid_field", "Invalid field", "tenant_id: required");
    } else if (api_webauthn_rp(r, api, &rp) && (s = api_store(r, api)) &&
               (p = api_people(r, api)) &&
               (rl = nova_arena_printf(&r->arena, "passkey:%s", json_string_value(t))) &&
               api_ratelimit_auth_allowed(r, api, rl) &&
               api_security_enforce(r, api, json_string_value(t), &sec)) {
        nova_login_request_t req = {.tenant_id = json_string_value(t),
                                    .device = nova_req_header(r, "User-Agent"),
                                    .ip = nova_req_peer_ip(r),
                                    .session_timeout_minutes = sec.session_timeout_minutes,
                                    .mfa_required = sec.mfa_required_for_all_users};
        nova_login_result_t g;
        const char *why = NULL;
        nova_status st = nova_people_passkey_login_finish(
            p, s, &r->arena, &req, &rp, json_object_get(body, "credential"), &g, &why);
        if (st == NOVA_INVALID) {
            nova_resp_problem(r, 422, "invalid_field", "Invalid field", why);
        } else if (st) {
            api_people_status(r, st, NULL);
        } else if (g.outcome == NOVA_LOGIN_OK) {
            api_reply_json(r, 200,
                           json_pack("{s:s, s:s, s:I, s:s, s:s, s:i, s:o}", "access_token",
                                     g.access_token, "token_type", "Bearer", "expires_in",
                                     (json_int_t)g.expires_in, "refresh_token", g.refresh_token,
                                     "session_id", g.session.id, "aal", (int)g.session.aal, "amr",
                                     api_words(g.session.amr)));
        } else if (g.outcome == NOVA_LOGIN_SUSPENDED) {
            nova_resp_problem(r, 403, "account_suspended", "Forbidden",
                              "this account is suspended");
        } else {
            api_ratelimit_auth_failed(r, api, rl);
            nova_resp_problem(
                r, 401, g.outcome == NOVA_LOGIN_CLONED ? "passkey_cloned" : "webauthn_rejected",
                "Unauthorized", why ? why : "the passkey assertion was refused");
        }
    }
    json_decref(body);
}

nova_status api_webauthn_register(nova_api_t *api, nova_http_server_t *srv)
{
    static const struct {
        const char *method, *pattern;
        nova_handler_fn fn;
        size_t max_body;
    } routes[] = {
        {"GET", "/auth/signin", signin_page, 0},
        {"POST", "/auth/webauthn/register/begin", register_begin, 64},
        {"POST", "/auth/webauthn/register/finish", register_finish, 16384},
        {"POST", "/auth/webauthn/login/begin", login_begin, 512},
        {"POST", "/auth/webauthn/login/finish", login_finish, 16384},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        nova_status st = nova_http_route(srv, routes[i].method, routes[i].pattern, NULL,
                                         routes[i].max_body, routes[i].fn, api);
        if (st)
            return st;
    }
    return NOVA_OK;
}
