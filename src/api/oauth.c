/* oauth.c: the OAuth 2.0 endpoints: token (RFC 6749 §4.4, client credentials), introspection
 * (RFC 7662), revocation (RFC 7009), the JWKS and the RFC 8414 metadata document. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void api_token(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    api_form_t f;
    nova_client_t client;
    if (!api_ratelimit_token_ip(r, api) || !api_form_parse(r, &f))
        return;
    nova_store_t *s = api_store(r, api);
    if (s == NULL || !api_client_auth(r, api, s, &f, &client))
        return;
    const char *grant = api_form_get(&f, "grant_type");
    if (grant == NULL) {
        api_oauth_error(r, 400, "invalid_request", "grant_type is required");
        return;
    }
    if (strcmp(grant, "client_credentials") != 0) {
        api_oauth_error(r, 400, "unsupported_grant_type", "only client_credentials is supported");
        return;
    }
    if (!api_ratelimit_token_client(r, api, client.id))
        return;
    /* RFC 8707 "resource" and the widespread "audience" both name the target; not both. */
    const char *aud = api_form_get(&f, "audience");
    const char *res = api_form_get(&f, "resource");
    if (aud && res) {
        api_oauth_error(r, 400, "invalid_request", "send audience or resource, not both");
        return;
    }
    if (aud == NULL)
        aud = res;
    const char *scope = api_form_get(&f, "scope");
    nova_token_t tok;
    const char *oerr = NULL;
    nova_status st =
        nova_auth_token_issue(api->auth, s, &r->arena, &client, scope, aud, &tok, &oerr);
    if (st == NOVA_FORBIDDEN && oerr) {
        api_oauth_error(r, 400, oerr,
                        strcmp(oerr, "invalid_scope") == 0
                            ? "the requested scope is not granted to this client"
                            : "the requested audience is not allowed for this client");
        return;
    }
    if (st) {
        nova_resp_status(r, st, NULL);
        return;
    }
    r->principal = nova_arena_alloc(&r->arena, sizeof(nova_principal_t));
    if (r->principal) {
        memset(r->principal, 0, sizeof(nova_principal_t));
        r->principal->tenant_id = client.tenant_id;
        r->principal->client_id = client.id;
    }
    json_t *o = json_pack("{s:s, s:s, s:I, s:s}", "access_token", tok.access_token, "token_type",
                          "Bearer", "expires_in", (json_int_t)tok.expires_in, "scope", tok.scope);
    nova_resp_header(r, "Pragma", "no-cache");
    api_reply_json(r, 200, o);
}

/* The common front of introspection and revocation: a form with client authentication and a
 * "token" parameter. On failure the reply is written and false returned. */
static bool token_request(nova_req_t *r, nova_api_t *api, api_form_t *f, nova_store_t **s,
                          nova_client_t *client, const char **token)
{
    if (!api_form_parse(r, f))
        return false;
    *s = api_store(r, api);
    if (*s == NULL || !api_client_auth(r, api, *s, f, client))
        return false;
    *token = api_form_get(f, "token");
    if (*token == NULL) {
        api_oauth_error(r, 400, "invalid_request", "token is required");
        return false;
    }
    return true;
}

void api_introspect(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    api_form_t f;
    nova_client_t client;
    nova_store_t *s;
    const char *token;
    if (!token_request(r, api, &f, &s, &client, &token))
        return;
    bool active = false;
    nova_claims_t c;
    nova_status st =
        nova_auth_token_introspect(api->auth, s, &r->arena, &client, token, &active, &c);
    if (st) {
        nova_resp_status(r, st, NULL);
        return;
    }
    json_t *o;
    if (!active)
        o = json_pack("{s:b}", "active", 0);
    else
        o = json_pack("{s:b, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "active", 1, "scope",
                      c.scope, "client_id", c.client_id, "sub", c.client_id, "tid", c.tenant_id,
                      "aud", c.audience, "iss",
                      nova_auth_tenant_issuer(api->auth, &r->arena, c.tenant_id), "jti", c.jti,
                      "iat", (json_int_t)c.iat, "exp", (json_int_t)c.exp);
    if (o && active)
        json_object_set_new(o, "token_type", json_string("Bearer"));
    api_reply_json(r, 200, o);
}

void api_revoke(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    api_form_t f;
    nova_client_t client;
    nova_store_t *s;
    const char *token;
    if (!token_request(r, api, &f, &s, &client, &token))
        return;
    const char *hint = api_form_get(&f, "token_type_hint");
    if (hint && strcmp(hint, "access_token") != 0 && strcmp(hint, "refresh_token") != 0) {
        api_oauth_error(r, 400, "unsupported_token_type", "unknown token_type_hint");
        return;
    }
    nova_status st = nova_auth_token_revoke(api->auth, s, &r->arena, &client, token);
    if (st) {
        nova_resp_status(r, st, NULL);
        return;
    }
    nova_resp_body(r, 200, "application/json", "{}", 2);
}

static void reply_jwks(nova_req_t *r, nova_status st, nova_buf_t *b)
{
    if (st == NOVA_OK) {
        nova_resp_body(r, 200, "application/jwk-set+json", b->data, b->len);
        nova_resp_header(r, "Cache-Control", "public, max-age=60");
    } else if (st == NOVA_NOT_FOUND) {
        nova_resp_problem(r, 404, "not_found", "Not found", "no such tenant");
    } else {
        nova_resp_status(r, st, NULL);
    }
}

void api_jwks(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    /* Off by default: a document of every tenant's keys tells anyone how many tenants there
     * are. Each tenant's own JWKS is at /tenants/{id}/.well-known/jwks.json. */
    if (!nova_auth_jwks_combined(api->auth)) {
        nova_resp_problem(r, 404, "not_found", "Not found",
                          "the combined JWKS is not served here; each tenant's is at "
                          "/tenants/{id}/.well-known/jwks.json");
        return;
    }
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_buf_t b;
    nova_buf_init(&b);
    reply_jwks(r, nova_auth_jwks(api->auth, s, &b), &b);
    nova_buf_free(&b);
}

void api_tenant_jwks(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_buf_t b;
    nova_buf_init(&b);
    reply_jwks(r, nova_auth_tenant_jwks(api->auth, s, r->params[0], &b), &b);
    nova_buf_free(&b);
}

/* The RFC 8414 document of issuer iss; jwks_uri may be NULL (then not listed). The endpoints
 * are the deployment's: a client's tenant follows from its credentials. */
static void reply_metadata(nova_req_t *r, nova_api_t *api, const char *iss, const char *jwks_uri)
{
    const char *base = nova_auth_issuer(api->auth);
    json_t *scopes = json_array();
    for (const char *const *sc = nova_auth_scopes; *sc; sc++)
        json_array_append_new(scopes, json_string(*sc));
    json_t *methods = json_pack("[s,s]", "client_secret_basic", "client_secret_post");
    json_t *o = json_pack(
        "{s:s, s:s+, s:s+, s:s+, s:[s], s:O, s:O, s:O, s:o, s:[], s:s+}", "issuer", iss,
        "token_endpoint", base, "/oauth/token", "introspection_endpoint", base, "/oauth/introspect",
        "revocation_endpoint", base, "/oauth/revoke", "grant_types_supported", "client_credentials",
        "token_endpoint_auth_methods_supported", methods,
        "introspection_endpoint_auth_methods_supported", methods,
        "revocation_endpoint_auth_methods_supported", methods, "scopes_supported", scopes,
        "response_types_supported", "service_documentation", base, "/openapi.json");
    json_decref(methods);
    if (o && jwks_uri)
        json_object_set_new(o, "jwks_uri", json_string(jwks_uri));
    api_reply_json(r, 200, o);
}

void api_as_metadata(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    const char *base = nova_auth_issuer(api->auth);
    const char *jwks = nova_auth_jwks_combined(api->auth)
                           ? nova_arena_printf(&r->arena, "%s/.well-known/jwks.json", base)
                           : NULL;
    reply_metadata(r, api, base, jwks);
}

void api_tenant_metadata(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_tenant_t t;
    nova_status st = nova_store_tenant_get(s, &r->arena, r->params[0], &t);
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID) {
        nova_resp_problem(r, 404, "not_found", "Not found", "no such tenant");
        return;
    }
    if (st) {
        nova_resp_status(r, st, NULL);
        return;
    }
    const char *iss = nova_auth_tenant_issuer(api->auth, &r->arena, t.id);
    const char *jwks = iss ? nova_arena_printf(&r->arena, "%s/.well-known/jwks.json", iss) : NULL;
    if (jwks == NULL) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return;
    }
    reply_metadata(r, api, iss, jwks);
}

void api_openapi(nova_req_t *r, void *ud)
{
    (void)ud;
    nova_resp_body(r, 200, "application/json", nova_openapi_json, nova_openapi_json_len);
}
