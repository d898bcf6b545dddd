/* common.c: request decoding, replies and authentication shared by every resource. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "nova/people.h"

nova_store_t *api_store(nova_req_t *r, nova_api_t *api)
{
    nova_store_t *s = NULL;
    if (nova_store_thread(api->database_url, &s) != NOVA_OK) {
        nova_resp_status(r, NOVA_UNAVAILABLE, "the store cannot be reached");
        return NULL;
    }
    return s;
}

/* "type/subtype" of the Content-Type header, parameters ignored, compared without case. */
static bool content_type_is(nova_req_t *r, const char *want)
{
    const char *ct = nova_req_header(r, "Content-Type");
    if (ct == NULL)
        return false;
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return n == strlen(want) && strncasecmp(ct, want, n) == 0;
}

json_t *api_json_body(nova_req_t *r, const char *const *members)
{
    if (!content_type_is(r, "application/json")) {
        nova_resp_problem(r, 415, "unsupported_media_type", "Unsupported Media Type",
                          "send the body as application/json");
        return NULL;
    }
    char err[160];
    json_t *obj = NULL;
    nova_status st = nova_json_parse_body(r->body.data ? r->body.data : "", r->body.len, members,
                                          &obj, err, sizeof(err));
    if (st == NOVA_TOO_LARGE) {
        /* Within the size limit but too costly to decode (see NOVA_JSON_BUDGET). */
        nova_resp_problem(r, 413, "payload_too_large", "Payload too large", err);
        return NULL;
    }
    if (st != NOVA_OK) {
        nova_resp_problem(r, 400, "invalid_json", "Invalid JSON body", err);
        return NULL;
    }
    return obj;
}

void api_reply_json(nova_req_t *r, int status, json_t *json)
{
    char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;
    json_decref(json);
    if (text == NULL) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return;
    }
    nova_resp_json(r, status, text, strlen(text));
    free(text);
}

json_t *api_words(const char *list)
{
    json_t *arr = json_array();
    const char *p = list ? list : "";
    while (*p) {
        while (*p == ' ')
            p++;
        size_t l = strcspn(p, " ");
        if (l)
            json_array_append_new(arr, json_stringn(p, l));
        p += l;
    }
    return arr;
}

void api_oauth_error(nova_req_t *r, int status, const char *error, const char *description)
{
    /* RFC 6749 members first (what OAuth clients read), RFC 9457 members beside them. */
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s}", "error", error, "error_description",
                  description, "type", "https://nova.dev/problems/oauth", "title", error, "status",
                  status, "code", error, "instance", r->req_id ? r->req_id : "");
    r->problem_code = error;
    nova_resp_header(r, "Pragma", "no-cache");
    api_reply_json(r, status, o);
}

/* One pair of api_form_parse's body: a repeated name NOVA_CONFLICT, a 17th NOVA_TOO_LARGE. */
static nova_status form_pair(void *ud, char *name, char *value)
{
    api_form_t *f = ud;
    if (api_form_get(f, name))
        return NOVA_CONFLICT;
    if (f->n == sizeof(f->name) / sizeof(f->name[0]))
        return NOVA_TOO_LARGE;
    f->name[f->n] = name;
    f->value[f->n] = value;
    f->n++;
    return NOVA_OK;
}

bool api_form_parse(nova_req_t *r, api_form_t *f)
{
    f->n = 0;
    if (!content_type_is(r, "application/x-www-form-urlencoded")) {
        nova_resp_problem(r, 415, "unsupported_media_type", "Unsupported Media Type",
                          "send the body as application/x-www-form-urlencoded");
        return false;
    }
    nova_status st = nova_form_each(&r->arena, r->body.data, r->body.len, form_pair, f);
    if (st == NOVA_INVALID)
        api_oauth_error(r, 400, "invalid_request",
                        "malformed form encoding, or a control character or invalid "
                        "UTF-8 in a parameter");
    else if (st == NOVA_CONFLICT)
        api_oauth_error(r, 400, "invalid_request", "a parameter is repeated");
    else if (st == NOVA_TOO_LARGE)
        api_oauth_error(r, 400, "invalid_request", "too many parameters");
    return st == NOVA_OK;
}

const char *api_form_get(const api_form_t *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->name[i], name) == 0)
            return f->value[i];
    return NULL;
}

static void invalid_client(nova_req_t *r, const char *why)
{
    nova_resp_header(r, "WWW-Authenticate", "Basic realm=\"nova\", charset=\"UTF-8\"");
    api_oauth_error(r, 401, "invalid_client", why);
}

#define JWT_BEARER "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

/* The outcome of one of the methods below: counts failures for the throttle. */
static bool client_auth_result(nova_req_t *r, nova_api_t *api, const char *id, int method,
                               nova_status st, const char *why)
{
    if (st == NOVA_UNAUTHORIZED) {
        api_metric_client_auth_failed(method);
        api_ratelimit_auth_failed(r, api, id);
        invalid_client(r, why ? why : "client authentication failed");
        return false;
    }
    if (st) {
        api_unavailable(r, st);
        return false;
    }
    return true;
}

bool api_client_auth(nova_req_t *r, nova_api_t *api, nova_store_t *s, const api_form_t *f,
                     nova_client_t *out)
{
    const char *authz = nova_req_header(r, "Authorization");
    const char *id = api_form_get(f, "client_id");
    const char *secret = api_form_get(f, "client_secret");
    const char *atype = api_form_get(f, "client_assertion_type");
    const char *assertion = api_form_get(f, "client_assertion");
    const char *why = NULL;
    nova_status st;
    if (atype || assertion) {
        /* private_key_jwt (RFC 7523 §2.2). */
        if (authz || secret) {
            api_oauth_error(r, 400, "invalid_request", "use one client authentication method");
            return false;
        }
        if (!atype || strcmp(atype, JWT_BEARER) != 0 || !assertion) {
            api_oauth_error(r, 400, "invalid_request",
                            "client_assertion_type must be " JWT_BEARER " with a client_assertion");
            return false;
        }
        if (!api_ratelimit_auth_allowed(r, api, id))
            return false;
        const char *endpoint = api_request_url(r, api);
        st = endpoint ? nova_auth_client_assertion(api->auth, api->kv, s, &r->arena, assertion, id,
                                                   endpoint, out, &why)
                      : NOVA_NOMEM;
        return client_auth_result(r, api, id, API_CAUTH_PRIVATE_KEY_JWT, st, why);
    }
    if (!authz && !secret && id) {
        /* Mutual TLS (RFC 8705 §2): the connection's certificate is the credential. */
        nova_client_cert_t cert;
        if (!nova_req_client_cert(r, &cert)) {
            invalid_client(r, "client authentication is required");
            return false;
        }
        if (!api_ratelimit_auth_allowed(r, api, id))
            return false;
        st = nova_auth_client_tls(api->auth, s, &r->arena, id, cert.thumbprint, cert.verified,
                                  cert.subject_dn, out, &why);
        return client_auth_result(r, api, id, API_CAUTH_TLS, st, why);
    }
    if (authz) {
        if (strncasecmp(authz, "Basic ", 6) != 0) {
            invalid_client(r, "use HTTP Basic or client_secret_post");
            return false;
        }
        if (secret) {
            api_oauth_error(r, 400, "invalid_request", "use one client authentication method");
            return false;
        }
        const char *b64 = authz + 6;
        while (*b64 == ' ')
            b64++;
        char *bid, *bsec;
        /* Malformed credentials (bad base64, no colon, a control character such as a NUL that
         * would cut the secret short) are a malformed request, not a failed authentication. */
        if (nova_basic_decode(&r->arena, b64, strlen(b64), &bid, &bsec) != NOVA_OK) {
            api_oauth_error(r, 400, "invalid_request", "malformed Basic credentials");
            return false;
        }
        if (id && strcmp(id, bid) != 0) {
            invalid_client(r, "client_id differs from the Basic credentials");
            return false;
        }
        id = bid;
        secret = bsec;
    } else if (id == NULL || secret == NULL) {
        invalid_client(r, "client authentication is required");
        return false;
    }
    if (!api_ratelimit_auth_allowed(r, api, id))
        return false;
    st = nova_auth_client_authenticate(api->auth, s, &r->arena, id, secret, out);
    return client_auth_result(r, api, id, API_CAUTH_SECRET, st, NULL);
}

static void bearer_error(nova_req_t *r, int status, const char *error, const char *why,
                         const char *scope)
{
    char *h;
    if (error == NULL)
        h = nova_arena_strdup(&r->arena, "Bearer realm=\"nova\"");
    else if (scope)
        h = nova_arena_printf(&r->arena,
                              "Bearer realm=\"nova\", error=\"%s\", error_description=\"%s\", "
                              "scope=\"%s\"",
                              error, why, scope);
    else
        h = nova_arena_printf(
            &r->arena, "Bearer realm=\"nova\", error=\"%s\", error_description=\"%s\"", error, why);
    if (h)
        nova_resp_header(r, "WWW-Authenticate", h);
    if (status == 401)
        nova_resp_problem(r, 401, error ? error : "unauthorized", "Unauthorized", why);
    else
        nova_resp_problem(r, 403, "insufficient_scope", "Forbidden", why);
}

/* RFC 9449 §7.1: the DPoP challenge. */
static void dpop_error(nova_req_t *r, nova_api_t *api, const char *error, const char *why)
{
    char *h = nova_arena_printf(&r->arena,
                                "DPoP realm=\"nova\", error=\"%s\", error_description=\"%s\", "
                                "algs=\"ES256 EdDSA\"",
                                error, why);
    if (h)
        nova_resp_header(r, "WWW-Authenticate", h);
    if (strcmp(error, "use_dpop_nonce") == 0)
        api_dpop_nonce_header(r, api);
    nova_resp_problem(r, 401, error, "Unauthorized", why);
}

const char *api_request_url(nova_req_t *r, nova_api_t *api)
{
    return nova_arena_printf(&r->arena, "%s%s", nova_auth_issuer(api->auth), r->path);
}

void api_dpop_nonce_header(nova_req_t *r, nova_api_t *api)
{
    char nonce[NOVA_DPOP_NONCE_LEN];
    nova_auth_dpop_nonce(api->auth, nonce);
    nova_resp_header(r, "DPoP-Nonce", nonce);
}

bool api_dpop_check(nova_req_t *r, nova_api_t *api, const char *access_token, bool nonce_required,
                    char jkt[44])
{
    nova_dpop_check_t c = {.proof = nova_req_header(r, "DPoP"),
                           .method = r->method,
                           .url = api_request_url(r, api),
                           .access_token = access_token,
                           .nonce_required = nonce_required,
                           .arena = &r->arena};
    nova_dpop_result_t res;
    if (c.url == NULL) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return false;
    }
    nova_status st = nova_auth_dpop_verify(api->auth, api->kv, &c, &res);
    if (st == NOVA_OK) {
        api_metric_dpop(API_DPOP_VERIFIED);
        memcpy(jkt, res.jkt, sizeof(res.jkt));
        return true;
    }
    if (st == NOVA_UNAUTHORIZED) {
        api_metric_dpop(strcmp(res.error, "use_dpop_nonce") == 0      ? API_DPOP_NONCE
                        : strcmp(res.why, "DPoP proof replayed") == 0 ? API_DPOP_REPLAYED
                                                                      : API_DPOP_INVALID);
        if (access_token)
            dpop_error(r, api, res.error, res.why);
        else {
            if (strcmp(res.error, "use_dpop_nonce") == 0)
                api_dpop_nonce_header(r, api);
            api_oauth_error(r, 400, res.error, res.why);
        }
        return false;
    }
    api_unavailable(r, st);
    return false;
}

void api_unavailable(nova_req_t *r, nova_status st)
{
    if (st == NOVA_UNAVAILABLE)
        nova_resp_header(r, "Retry-After", "1");
    nova_resp_status(r, st, NULL);
}

/* The caller, then (route) the route's scope and the tenant's policy (api_authz_route). */
static bool authenticate(nova_req_t *r, nova_api_t *api, const char *scope, bool route)
{
    if (nova_req_header(r, "x-api-key-id")) {
        if (!api_apikey_authenticate(r, api, "") ||
            !api_security_enforce(r, api, r->principal->tenant_id, NULL))
            return false;
        if (scope && *scope && !nova_auth_scope_has(r->principal->scope, scope)) {
            api_authz_route_scope_denied();
            char *w = nova_arena_printf(&r->arena, "this route needs the %s scope", scope);
            nova_resp_problem(r, 403, "insufficient_scope", "Forbidden",
                              w ? w : "insufficient scope");
            return false;
        }
        return !route || api_authz_route(r, api);
    }
    const char *authz = nova_req_header(r, "Authorization");
    if (authz == NULL) {
        bearer_error(r, 401, NULL, "a bearer token is required", NULL);
        return false;
    }
    bool dpop = strncasecmp(authz, "DPoP ", 5) == 0;
    if (!dpop && strncasecmp(authz, "Bearer ", 7) != 0) {
        bearer_error(r, 401, "invalid_request", "use the Bearer or DPoP scheme", NULL);
        return false;
    }
    const char *tok = authz + (dpop ? 5 : 7);
    while (*tok == ' ')
        tok++;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return false;
    nova_claims_t c;
    const char *why = NULL;
    nova_status st =
        nova_auth_token_verify(api->auth, s, &r->arena, tok, strlen(tok), NULL, &c, &why);
    if (st == NOVA_UNAUTHORIZED && !dpop && nova_people_token_looks_user(tok)) {
        /* A person: no scopes, so a /v1 route reaches it only where the tenant's policy maps
         * the route and allows (api_authz_route). */
        if (!api_user_caller(r, api, tok))
            return false;
        return !route || api_authz_route(r, api);
    }
    if (st == NOVA_UNAUTHORIZED) {
        if (dpop)
            dpop_error(r, api, "invalid_token", why ? why : "invalid token");
        else
            bearer_error(r, 401, "invalid_token", why ? why : "invalid token", NULL);
        return false;
    }
    if (st) {
        nova_resp_status(r, st, NULL);
        return false;
    }
    /* A DPoP-bound token is worthless without its key (RFC 9449 §7.2): as a bearer token it is
     * refused, and with the DPoP scheme the proof must be for this request and this token and
     * signed by the key the token names. */
    if (c.jkt || dpop) {
        char jkt[44];
        if (!dpop) {
            bearer_error(r, 401, "invalid_token",
                         "this token is DPoP-bound: send it with the DPoP scheme and a proof",
                         NULL);
            return false;
        }
        if (c.jkt == NULL) {
            dpop_error(r, api, "invalid_token", "not a DPoP-bound token: use the Bearer scheme");
            return false;
        }
        if (!api_dpop_check(r, api, tok, false, jkt))
            return false;
        if (strcmp(jkt, c.jkt) != 0) {
            dpop_error(r, api, "invalid_dpop_proof", "the proof's key is not the token's key");
            return false;
        }
    }
    /* An mTLS-bound token (RFC 8705 §3) only over a connection with its certificate. */
    if (c.x5t) {
        /* The handshake proved the connection holds the certificate's key; whether it also
         * chains to the client CA does not matter for the binding (self-signed clients). */
        nova_client_cert_t cert;
        if (!nova_req_client_cert(r, &cert) || strcmp(cert.thumbprint, c.x5t) != 0) {
            bearer_error(r, 401, "invalid_token",
                         "this token is bound to another client certificate", NULL);
            return false;
        }
    }
    nova_principal_t *p = nova_arena_alloc(&r->arena, sizeof(*p));
    if (p == NULL) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return false;
    }
    memset(p, 0, sizeof(*p));
    p->tenant_id = c.tenant_id;
    p->tenant_name = c.tenant_name;
    p->client_id = c.client_id;
    p->scope = c.scope;
    p->jti = c.jti;
    p->exp = c.exp;
    r->principal = p;
    if (!api_security_enforce(r, api, p->tenant_id, NULL))
        return false;
    /* The decision point: the route's scope, then the tenant's policy where it maps the route
     * (api_authz_route). */
    if (scope && *scope && !nova_auth_scope_has(c.scope, scope)) {
        api_authz_route_scope_denied();
        char *why2 = nova_arena_printf(&r->arena, "this route needs the %s scope", scope);
        bearer_error(r, 403, "insufficient_scope", why2 ? why2 : "insufficient scope", scope);
        return false;
    }
    return !route || api_authz_route(r, api);
}

bool api_authenticate(nova_req_t *r, const char *scope, void *ud)
{
    return authenticate(r, ud, scope, true);
}

bool api_authenticate_caller(nova_req_t *r, nova_api_t *api)
{
    return authenticate(r, api, "", false);
}
