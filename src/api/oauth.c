/* oauth.c: the OAuth 2.0 endpoints: token (RFC 6749 §4.4, client credentials), introspection
 * (RFC 7662), revocation (RFC 7009), the JWKS and the RFC 8414 metadata document. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* grant_type=refresh_token: SDK sessions are public clients (the app holds no secret), so the
 * refresh token alone authenticates; a client secret sent anyway is refused. */
static void refresh_grant(nova_req_t *r, nova_api_t *api, nova_store_t *s, const api_form_t *f,
                          const nova_token_bind_t *bind)
{
    if (nova_req_header(r, "Authorization") || api_form_get(f, "client_secret")) {
        api_oauth_error(r, 400, "invalid_request",
                        "refresh tokens of SDK sessions take no client authentication");
        return;
    }
    const char *rt = api_form_get(f, "refresh_token");
    if (rt == NULL) {
        api_oauth_error(r, 400, "invalid_request", "refresh_token is required");
        return;
    }
    nova_session_grant_t g;
    const char *why = NULL;
    nova_status st = nova_auth_session_refresh(api->auth, s, &r->arena, rt,
                                               api_form_get(f, "scope"), bind, &g, &why);
    if (st == NOVA_UNAUTHORIZED || st == NOVA_FORBIDDEN) {
        api_oauth_error(r, 400, st == NOVA_FORBIDDEN ? "invalid_scope" : "invalid_grant", why);
        return;
    }
    if (st) {
        api_unavailable(r, st);
        return;
    }
    r->principal = nova_arena_alloc(&r->arena, sizeof(nova_principal_t));
    if (r->principal) {
        memset(r->principal, 0, sizeof(nova_principal_t));
        r->principal->tenant_id = g.session.tenant_id;
        r->principal->client_id = g.session.client_id;
    }
    json_t *o =
        json_pack("{s:s, s:s, s:I, s:s, s:s, s:I}", "access_token", g.access.access_token,
                  "token_type", g.access.token_type, "expires_in", (json_int_t)g.access.expires_in,
                  "scope", g.access.scope, "refresh_token", g.refresh_token,
                  "refresh_token_expires_in", (json_int_t)g.refresh_expires_in);
    nova_resp_header(r, "Pragma", "no-cache");
    api_reply_json(r, 200, o);
}

/* The tenant's require_dpop: a grant without a proof is refused. */
static bool dpop_ok(nova_req_t *r, const nova_security_settings_t *sec,
                    const nova_token_bind_t *bind)
{
    if (!sec->require_dpop || bind->jkt[0] != '\0')
        return true;
    api_oauth_error(r, 400, "invalid_dpop_proof", "this tenant requires a DPoP proof (RFC 9449)");
    return false;
}

/* The token endpoint; *grant gets the grant type once known (for the metrics). */
static void token_endpoint(nova_req_t *r, nova_api_t *api, int *grant_kind)
{
    api_form_t f;
    nova_client_t client;
    if (!api_ratelimit_token_ip(r, api) || !api_form_parse(r, &f))
        return;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    const char *grant = api_form_get(&f, "grant_type");
    if (grant == NULL) {
        api_oauth_error(r, 400, "invalid_request", "grant_type is required");
        return;
    }
    bool refresh = strcmp(grant, "refresh_token") == 0;
    if (!refresh && strcmp(grant, "client_credentials") != 0) {
        api_oauth_error(r, 400, "unsupported_grant_type",
                        "client_credentials and refresh_token are supported");
        return;
    }
    *grant_kind = refresh ? API_GRANT_REFRESH_TOKEN : API_GRANT_CLIENT_CREDENTIALS;
    /* DPoP (RFC 9449 §5): a proof at the token endpoint binds the token to the proof's key. */
    nova_token_bind_t bind;
    memset(&bind, 0, sizeof(bind));
    if (nova_req_header(r, "DPoP")) {
        if (!api_dpop_check(r, api, NULL, api->dpop_nonce, bind.jkt))
            return;
        api_dpop_nonce_header(r, api);
    }
    nova_security_settings_t sec;
    if (refresh) {
        /* The tenant the token claims: its settings apply before the token is spent. */
        const char *rt = api_form_get(&f, "refresh_token");
        const char *tenant = rt ? nova_auth_refresh_tenant(&r->arena, rt) : NULL;
        if (tenant && (!api_security_enforce(r, api, tenant, &sec) || !dpop_ok(r, &sec, &bind)))
            return;
        refresh_grant(r, api, s, &f, &bind);
        return;
    }
    if (!api_client_auth(r, api, s, &f, &client))
        return;
    if (!api_security_enforce(r, api, client.tenant_id, &sec) || !dpop_ok(r, &sec, &bind))
        return;
    if (sec.require_mtls_for_m2m && strcmp(client.auth_method, "tls_client_auth") != 0 &&
        strcmp(client.auth_method, "self_signed_tls_client_auth") != 0) {
        api_oauth_error(r, 400, "invalid_client",
                        "this tenant requires machine clients to authenticate with a certificate "
                        "(tls_client_auth or self_signed_tls_client_auth)");
        return;
    }
    if (!api_ratelimit_token_client(r, api, client.id))
        return;
    /* RFC 8705 §3: a client that authenticated with its certificate gets tokens bound to it. */
    if (strcmp(client.auth_method, "tls_client_auth") == 0 ||
        strcmp(client.auth_method, "self_signed_tls_client_auth") == 0) {
        nova_client_cert_t cert;
        if (nova_req_client_cert(r, &cert))
            snprintf(bind.x5t, sizeof(bind.x5t), "%s", cert.thumbprint);
    }
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
    nova_status st = nova_auth_token_issue_bound(api->auth, s, &r->arena, &client, scope, aud,
                                                 &bind, &tok, &oerr);
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
    json_t *o =
        json_pack("{s:s, s:s, s:I, s:s}", "access_token", tok.access_token, "token_type",
                  tok.token_type, "expires_in", (json_int_t)tok.expires_in, "scope", tok.scope);
    nova_resp_header(r, "Pragma", "no-cache");
    api_reply_json(r, 200, o);
}

void api_token(nova_req_t *r, void *ud)
{
    int grant = -1;
    token_endpoint(r, ud, &grant);
    if (grant >= 0)
        api_metric_grant(grant, r->status == 200);
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
    if (o && active) {
        json_object_set_new(o, "token_type", json_string(c.jkt ? "DPoP" : "Bearer"));
        json_object_set_new(o, "sub", json_string(c.subject));
        if (c.session_id)
            json_object_set_new(o, "sid", json_string(c.session_id));
        if (c.jkt || c.x5t) {
            json_t *cnf = json_object();
            if (c.jkt)
                json_object_set_new(cnf, "jkt", json_string(c.jkt));
            if (c.x5t)
                json_object_set_new(cnf, "x5t#S256", json_string(c.x5t));
            json_object_set_new(o, "cnf", cnf);
        }
    }
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
    json_t *token_methods =
        json_pack("[s,s,s,s,s]", "client_secret_basic", "client_secret_post", "private_key_jwt",
                  "tls_client_auth", "self_signed_tls_client_auth");
    json_t *o = json_pack(
        "{s:s, s:s+, s:s+, s:s+, s:[s,s], s:O, s:O, s:O, s:o, s:[], s:s+, s:[s,s]}", "issuer", iss,
        "token_endpoint", base, "/oauth/token", "introspection_endpoint", base, "/oauth/introspect",
        "revocation_endpoint", base, "/oauth/revoke", "grant_types_supported", "client_credentials",
        "refresh_token", "token_endpoint_auth_methods_supported", token_methods,
        "introspection_endpoint_auth_methods_supported", methods,
        "revocation_endpoint_auth_methods_supported", methods, "scopes_supported", scopes,
        "response_types_supported", "service_documentation", base, "/openapi.json",
        "dpop_signing_alg_values_supported", "ES256", "EdDSA");
    json_decref(methods);
    json_decref(token_methods);
    if (o) {
        json_object_set_new(o, "token_endpoint_auth_signing_alg_values_supported",
                            json_pack("[s,s]", "ES256", "EdDSA"));
        json_object_set_new(o, "tls_client_certificate_bound_access_tokens", json_true());
    }
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
