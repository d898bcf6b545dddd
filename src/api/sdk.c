/* sdk.c: SDK sessions. A tenant backend mints a narrowly scoped session for one applicant or
 * verification, so that no client secret ever sits in a browser or an app (seed 000). */
#include <string.h>

#include "internal.h"

static const char *const session_members[] = {"subject", "scope", "ttl", NULL};

static json_t *session_json(const nova_session_t *ses)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "id", ses->id, "kind", ses->kind,
                          "subject", ses->subject, "scope", ses->scope, "created_at",
                          (json_int_t)ses->created_at, "expires_at", (json_int_t)ses->expires_at);
    if (o && ses->revoked_at) {
        json_object_set_new(o, "revoked_at", json_integer(ses->revoked_at));
        json_object_set_new(o, "revoked_reason", json_string(ses->revoked_reason));
    }
    return o;
}

static void sessions_create(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    json_t *body = api_json_body(r, session_members);
    if (body == NULL)
        return;
    json_t *subject = json_object_get(body, "subject"), *scope = json_object_get(body, "scope"),
           *ttl = json_object_get(body, "ttl");
    const char *bad = NULL;
    if (!json_is_string(subject))
        bad = "subject: a string is required";
    else if (scope && !json_is_string(scope))
        bad = "scope: a space-separated string";
    else if (ttl && !json_is_integer(ttl))
        bad = "ttl: an integer number of seconds";
    if (bad) {
        nova_resp_problem(r, 422, "invalid_field", "Invalid field", bad);
        json_decref(body);
        return;
    }
    nova_session_request_t req = {.tenant_id = r->principal->tenant_id,
                                  .client_id = r->principal->client_id,
                                  .subject = json_string_value(subject),
                                  .scope = scope ? json_string_value(scope) : NULL,
                                  .ttl = ttl ? json_integer_value(ttl) : 0};
    if (ttl && (req.ttl <= 0)) {
        nova_resp_problem(r, 422, "invalid_field", "Invalid field", "ttl: 60 to 86400 seconds");
        json_decref(body);
        return;
    }
    nova_store_t *s = api_store(r, api);
    nova_security_settings_t sec;
    if (s == NULL || !api_security_settings(r, api, s, req.tenant_id, &sec)) {
        json_decref(body);
        return;
    }
    req.max_ttl = (int64_t)sec.session_timeout_minutes * 60;
    nova_session_grant_t g;
    const char *why = NULL;
    nova_status st = nova_auth_session_create(api->auth, s, &r->arena, &req, &g, &why);
    if (st == NOVA_INVALID) {
        nova_resp_problem(r, 422, "invalid_field", "Invalid field", why);
    } else if (st) {
        api_unavailable(r, st);
    } else {
        json_t *o = session_json(&g.session);
        json_object_set_new(o, "access_token", json_string(g.access.access_token));
        json_object_set_new(o, "token_type", json_string(g.access.token_type));
        json_object_set_new(o, "expires_in", json_integer(g.access.expires_in));
        json_object_set_new(o, "refresh_token", json_string(g.refresh_token));
        json_object_set_new(o, "refresh_token_expires_in", json_integer(g.refresh_expires_in));
        char *loc = nova_arena_printf(&r->arena, "/v1/sdk/sessions/%s", g.session.id);
        if (loc)
            nova_resp_header(r, "Location", loc);
        api_reply_json(r, 201, o);
    }
    json_decref(body);
}

static void sessions_get(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_session_t ses;
    nova_status st =
        nova_store_session_get(s, &r->arena, r->principal->tenant_id, r->params[0], &ses);
    if (st) {
        nova_resp_status(r, st == NOVA_INVALID ? NOVA_NOT_FOUND : st, NULL);
        return;
    }
    api_reply_json(r, 200, session_json(&ses));
}

static void sessions_delete(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_status st = nova_auth_session_revoke(api->auth, s, &r->arena, r->principal->tenant_id,
                                              r->params[0], r->principal->client_id);
    if (st) {
        nova_resp_status(r, st == NOVA_INVALID ? NOVA_NOT_FOUND : st, NULL);
        return;
    }
    nova_resp_body(r, 204, NULL, NULL, 0);
}

nova_status api_sdk_register(nova_api_t *api, nova_http_server_t *srv)
{
    static const struct {
        const char *method, *pattern, *scope;
        nova_handler_fn fn;
        size_t max_body;
    } routes[] = {
        {"POST", "/v1/sdk/sessions", "sdk:sessions", sessions_create, 1024},
        {"GET", "/v1/sdk/sessions/{id}", "sdk:sessions", sessions_get, 0},
        {"DELETE", "/v1/sdk/sessions/{id}", "sdk:sessions", sessions_delete, 0},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        nova_status st = nova_http_route(srv, routes[i].method, routes[i].pattern, routes[i].scope,
                                         routes[i].max_body, routes[i].fn, api);
        if (st)
            return st;
    }
    return NOVA_OK;
}
