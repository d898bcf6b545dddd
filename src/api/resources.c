/* resources.c: health and readiness, the caller (/v1/me), API clients and tenants. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "nova/events.h"
#include "nova/people.h"
#include "nova/sched.h"

void api_health(nova_req_t *r, void *ud)
{
    (void)ud;
    nova_resp_json(r, 200, "{\"status\":\"ok\"}", 15);
}

/* true when the request carries the operator's metrics token (NOVA_METRICS_TOKEN) as
 * `Authorization: Bearer ...`. */
static bool operator_token(nova_req_t *r, nova_api_t *api)
{
    const char *authz = nova_req_header(r, "Authorization");
    if (authz == NULL || strncasecmp(authz, "Bearer ", 7) != 0)
        return false;
    const char *tok = authz + 7;
    while (*tok == ' ')
        tok++;
    return nova_auth_metrics_token_ok(api->auth, tok, strlen(tok));
}

void api_ready(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = NULL;
    int version = 0;
    /* Anyone (a load balancer) may ask whether the instance is ready; which store it runs on,
     * its schema and why it is not ready are for the operator's token only. */
    bool detail = operator_token(r, api);
    if (nova_store_thread(api->database_url, &s) != NOVA_OK || nova_store_ping(s) != NOVA_OK ||
        nova_store_schema_version(s, &version) != NOVA_OK) {
        nova_resp_problem(r, 503, "not_ready", "Not Ready",
                          detail ? "the store cannot be reached" : "not ready");
        return;
    }
    if (version != nova_store_code_version()) {
        nova_resp_problem(r, 503, "not_ready", "Not Ready",
                          detail ? "the schema is not migrated" : "not ready");
        return;
    }
    /* Ready means the control plane answers too: without it the token endpoint refuses. */
    if (nova_kv_ping(api->kv) != NOVA_OK) {
        nova_resp_problem(r, 503, "not_ready", "Not Ready",
                          detail ? "the control plane cannot be reached" : "not ready");
        nova_resp_header(r, "Retry-After", "1");
        return;
    }
    if (!detail) {
        nova_resp_json(r, 200, "{\"status\":\"ready\"}", 18);
        return;
    }
    api_reply_json(r, 200,
                   json_pack("{s:s, s:s, s:i, s:s}", "status", "ready", "store",
                             nova_store_driver(s), "schema_version", version, "kv",
                             nova_kv_driver(api->kv)));
}

/* The background scheduler's jobs (nova/sched.h), one series per job. */
typedef struct sched_out {
    nova_buf_t *out;
    nova_status st;
    int pass;
} sched_out_t;

static void sched_line(const nova_sched_stats_t *j, void *ctx)
{
    sched_out_t *o = ctx;
    if (o->st != NOVA_OK)
        return;
    if (o->pass == 0)
        o->st = nova_buf_printf(o->out, "nova_background_runs_total{job=\"%s\"} %llu\n", j->name,
                                (unsigned long long)j->runs);
    else if (o->pass == 1)
        o->st = nova_buf_printf(o->out, "nova_background_failures_total{job=\"%s\"} %llu\n",
                                j->name, (unsigned long long)j->failures);
    else
        o->st = nova_buf_printf(o->out, "nova_background_last_run_seconds{job=\"%s\"} %.6f\n",
                                j->name, j->last_seconds);
}

static nova_status sched_metrics(nova_sched_t *s, nova_buf_t *out)
{
    static const char *const head[] = {
        "# HELP nova_background_runs_total Runs of each background job.\n"
        "# TYPE nova_background_runs_total counter\n",
        "# HELP nova_background_failures_total Background job runs that failed (retried on "
        "schedule).\n# TYPE nova_background_failures_total counter\n",
        "# HELP nova_background_last_run_seconds Duration of each job's last finished run.\n"
        "# TYPE nova_background_last_run_seconds gauge\n",
    };
    sched_out_t o = {out, NOVA_OK, 0};
    for (o.pass = 0; o.pass < 3 && o.st == NOVA_OK && s; o.pass++) {
        o.st = nova_buf_append_cstr(out, head[o.pass]);
        nova_sched_foreach(s, sched_line, &o);
    }
    return o.st;
}

/* GET /metrics: only with the operator's token. Without NOVA_METRICS_TOKEN no request can
 * read it (the server does not see the peer's address, so there is no loopback exception). */
void api_metrics(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    if (!operator_token(r, api)) {
        bool sent = nova_req_header(r, "Authorization") != NULL;
        nova_resp_header(r, "WWW-Authenticate",
                         sent ? "Bearer realm=\"nova\", error=\"invalid_token\""
                              : "Bearer realm=\"nova\"");
        nova_resp_problem(r, 401, sent ? "invalid_token" : "unauthorized", "Unauthorized",
                          "/metrics needs Authorization: Bearer with the NOVA_METRICS_TOKEN "
                          "(unset: metrics are not served)");
        return;
    }
    nova_http_metrics_handler(r, api->srv);
    if (r->status == 200 && api_audit_metrics(&r->resp_body) != NOVA_OK)
        nova_resp_status(r, NOVA_NOMEM, NULL);
    if (r->status == 200 && api_ratelimit_metrics(api, &r->resp_body) != NOVA_OK)
        nova_resp_status(r, NOVA_NOMEM, NULL);
    if (r->status == 200 && nova_people_metrics(&r->resp_body) != NOVA_OK)
        nova_resp_status(r, NOVA_NOMEM, NULL);
    if (r->status == 200 && api_apikeys_metrics(&r->resp_body) != NOVA_OK)
        nova_resp_status(r, NOVA_NOMEM, NULL);
    if (r->status == 200 && api_auth_metrics(&r->resp_body) != NOVA_OK)
        nova_resp_status(r, NOVA_NOMEM, NULL);
    if (r->status == 200 && api_authz_metrics(&r->resp_body) != NOVA_OK)
        nova_resp_status(r, NOVA_NOMEM, NULL);
    if (r->status == 200 && sched_metrics(api->sched, &r->resp_body) != NOVA_OK)
        nova_resp_status(r, NOVA_NOMEM, NULL);
    if (r->status == 200 && nova_events_metrics(&r->resp_body) != NOVA_OK)
        nova_resp_status(r, NOVA_NOMEM, NULL);
}

void api_me(nova_req_t *r, void *ud)
{
    (void)ud;
    /* Authentication resolved the tenant already (in the same read as the liveness check). */
    const nova_principal_t *p = r->principal;
    if (p->user_id) { /* a person, where the tenant's policy opens /v1/me to people */
        api_reply_json(r, 200,
                       json_pack("{s:{s:s}, s:s, s:s, s:i, s:o, s:o, s:I}", "tenant", "id",
                                 p->tenant_id, "user_id", p->user_id, "actor", p->client_id, "aal",
                                 p->aal, "amr", api_words(p->amr), "roles", api_words(p->roles),
                                 "token_expires_at", (json_int_t)p->exp));
        return;
    }
    json_t *o = json_pack("{s:{s:s, s:s}, s:s, s:o, s:I}", "tenant", "id", p->tenant_id, "name",
                          p->tenant_name, "client_id", p->client_id, "scopes", api_words(p->scope),
                          "token_expires_at", (json_int_t)p->exp);
    api_reply_json(r, 200, o);
}

static json_t *client_json(const nova_client_t *c)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:o, s:o, s:I}", "client_id", c->id, "tenant_id", c->tenant_id,
                  "name", c->name, "scopes", api_words(c->scopes), "audiences",
                  api_words(c->audiences), "created_at", (json_int_t)c->created_at);
    if (o && c->revoked_at)
        json_object_set_new(o, "revoked_at", json_integer(c->revoked_at));
    const char *m = c->auth_method && *c->auth_method ? c->auth_method : "client_secret";
    if (o)
        json_object_set_new(
            o, "token_endpoint_auth_method",
            json_string(strcmp(m, "client_secret") == 0 ? "client_secret_basic" : m));
    if (o && c->jwks && *c->jwks)
        json_object_set_new(o, "jwks", json_loads(c->jwks, 0, NULL));
    if (o && c->tls_subject_dn && *c->tls_subject_dn)
        json_object_set_new(o, "tls_client_auth_subject_dn", json_string(c->tls_subject_dn));
    return o;
}

typedef struct client_req {
    const char *name, *scopes, *audiences;
    const char *auth_method, *jwks, *subject_dn; /* NULL when not given */
} client_req;

/* Decodes {"name","scopes","audiences"}; grantable limits what scopes may be asked for
 * (NULL: any). On failure writes the reply and returns false. */
static bool parse_client(nova_req_t *r, json_t *body, const char *grantable, client_req *out)
{
    char err[160];
    if (nova_json_get_string(body, "name", true, 1, 128, &out->name, err, sizeof(err)) ||
        nova_json_get_words(body, "scopes", true, 16, 64, &r->arena, &out->scopes, err,
                            sizeof(err)) ||
        nova_json_get_words(body, "audiences", false, 8, 256, &r->arena, &out->audiences, err,
                            sizeof(err)) ||
        nova_json_get_string(body, "token_endpoint_auth_method", false, 1, 64, &out->auth_method,
                             err, sizeof(err)) ||
        nova_json_get_string(body, "tls_client_auth_subject_dn", false, 1, 512, &out->subject_dn,
                             err, sizeof(err))) {
        nova_resp_problem(r, 400, "invalid_request", "Invalid request", err);
        return false;
    }
    /* Both secret methods are one registration: the secret works either way. */
    if (out->auth_method && (strcmp(out->auth_method, "client_secret_basic") == 0 ||
                             strcmp(out->auth_method, "client_secret_post") == 0))
        out->auth_method = "client_secret";
    json_t *jwks = json_object_get(body, "jwks");
    out->jwks = NULL;
    if (jwks) {
        char *txt = json_is_object(jwks) ? json_dumps(jwks, JSON_COMPACT) : NULL;
        out->jwks = txt ? nova_arena_strdup(&r->arena, txt) : NULL;
        free(txt);
        if (out->jwks == NULL) {
            nova_resp_problem(r, 422, "invalid_field", "Invalid field", "jwks: a JWK Set object");
            return false;
        }
    }
    if (!nova_auth_scopes_known(out->scopes)) {
        nova_resp_problem(r, 400, "invalid_scope", "Invalid scope",
                          *out->scopes ? "\"scopes\" holds a scope Nova does not know"
                                       : "\"scopes\" is empty");
        return false;
    }
    if (grantable && !nova_auth_scope_subset(out->scopes, grantable)) {
        nova_resp_problem(r, 403, "scope_escalation", "Forbidden",
                          "a client can only be granted scopes its creator may grant");
        return false;
    }
    return true;
}

/* Creates the client; returns its JSON (with the one-time secret) or writes an error. */
static json_t *create_client(nova_req_t *r, nova_api_t *api, nova_store_t *s, const char *tenant_id,
                             const client_req *cr)
{
    nova_client_t c;
    const char *secret = NULL;
    nova_audit_actor_t by = {r->principal->client_id, r->req_id};
    nova_client_spec_t spec = {.name = cr->name,
                               .scopes = cr->scopes,
                               .audiences = cr->audiences,
                               .auth_method = cr->auth_method,
                               .jwks = cr->jwks,
                               .tls_subject_dn = cr->subject_dn};
    const char *why = NULL;
    nova_status st = nova_auth_client_create_spec(api->auth, s, &r->arena, &by, tenant_id, &spec,
                                                  &c, &secret, &why);
    if (st == NOVA_INVALID && why) {
        nova_resp_problem(r, 422, "invalid_field", "Invalid field", why);
        return NULL;
    }
    if (st) {
        nova_resp_status(r, st, st == NOVA_INVALID ? "invalid client attributes" : NULL);
        return NULL;
    }
    json_t *o = client_json(&c);
    if (secret)
        json_object_set_new(o, "client_secret", json_string(secret));
    return o;
}

static const char *const client_members[] = {"name",      "scopes",
                                             "audiences", "token_endpoint_auth_method",
                                             "jwks",      "tls_client_auth_subject_dn",
                                             NULL};

void api_clients_create(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    json_t *body = api_json_body(r, client_members);
    if (body == NULL)
        return;
    client_req cr;
    nova_store_t *s = NULL;
    if (parse_client(r, body, r->principal->scope, &cr))
        s = api_store(r, api);
    json_t *o = s ? create_client(r, api, s, r->principal->tenant_id, &cr) : NULL;
    if (o) {
        char *loc = nova_arena_printf(&r->arena, "/v1/clients/%s",
                                      json_string_value(json_object_get(o, "client_id")));
        if (loc)
            nova_resp_header(r, "Location", loc);
        api_reply_json(r, 201, o);
    }
    json_decref(body);
}

void api_clients_list(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_client_t *rows = NULL;
    size_t n = 0;
    nova_status st = nova_store_client_list(s, &r->arena, r->principal->tenant_id, &rows, &n);
    if (st) {
        nova_resp_status(r, st, NULL);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, client_json(&rows[i]));
    api_reply_json(r, 200, json_pack("{s:o}", "clients", arr));
}

void api_clients_get(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_client_t c;
    nova_status st =
        nova_store_client_get_scoped(s, &r->arena, r->principal->tenant_id, r->params[0], &c);
    if (st) {
        nova_resp_status(r, st, st == NOVA_NOT_FOUND ? "no such client" : NULL);
        return;
    }
    api_reply_json(r, 200, client_json(&c));
}

void api_clients_delete(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_audit_actor_t by = {r->principal->client_id, r->req_id};
    nova_status st =
        nova_auth_client_revoke(api->auth, s, &by, r->principal->tenant_id, r->params[0]);
    if (st) {
        nova_resp_status(r, st, st == NOVA_NOT_FOUND ? "no such active client" : NULL);
        return;
    }
    nova_resp_body(r, 204, NULL, NULL, 0);
}

static json_t *tenant_json(const nova_tenant_t *t)
{
    return json_pack("{s:s, s:s, s:I}", "id", t->id, "name", t->name, "created_at",
                     (json_int_t)t->created_at);
}

static const char *const tenant_members[] = {"name", "client", NULL};

void api_tenants_create(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    json_t *body = api_json_body(r, tenant_members);
    if (body == NULL)
        return;
    char err[160];
    const char *name;
    client_req cr;
    json_t *client = json_object_get(body, "client");
    nova_store_t *s = NULL;
    if (nova_json_get_string(body, "name", true, 1, 128, &name, err, sizeof(err))) {
        nova_resp_problem(r, 400, "invalid_request", "Invalid request", err);
        goto end;
    }
    /* The tenant's first client is validated before anything is written. The operator may
     * grant it any tenant scope, but not platform:admin, which stays with operators. */
    if (client && !json_is_object(client)) {
        nova_resp_problem(r, 400, "invalid_request", "Invalid request",
                          "\"client\" must be an object");
        goto end;
    }
    if (client && (nova_json_only_members(client, client_members, err, sizeof(err)) ||
                   !parse_client(r, client,
                                 "clients:read clients:write audit:read keys:read keys:write "
                                 "killswitches:read killswitches:write",
                                 &cr))) {
        if (r->status == 0)
            nova_resp_problem(r, 400, "invalid_request", "Invalid request", err);
        goto end;
    }
    s = api_store(r, api);
    if (s == NULL)
        goto end;
    nova_tenant_t t;
    nova_audit_actor_t by = {r->principal->client_id, r->req_id};
    nova_status st = nova_auth_tenant_create(api->auth, s, &r->arena, &by, name, &t);
    if (st) {
        nova_resp_status(r, st,
                         st == NOVA_CONFLICT ? "a tenant with this name exists already (names are "
                                               "unique; ASCII letters compare without case)"
                                             : NULL);
        goto end;
    }
    json_t *o = tenant_json(&t);
    if (client) {
        json_t *c = create_client(r, api, s, t.id, &cr);
        if (c == NULL) {
            json_decref(o);
            goto end;
        }
        json_object_set_new(o, "client", c);
    }
    char *loc = nova_arena_printf(&r->arena, "/v1/tenants/%s", t.id);
    if (loc)
        nova_resp_header(r, "Location", loc);
    api_reply_json(r, 201, o);
end:
    json_decref(body);
}

void api_tenants_get(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_tenant_t t;
    nova_status st = nova_store_tenant_get(s, &r->arena, r->params[0], &t);
    if (st) {
        nova_resp_status(r, st, st == NOVA_NOT_FOUND ? "no such tenant" : NULL);
        return;
    }
    api_reply_json(r, 200, tenant_json(&t));
}

void api_tenants_list(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_tenant_t *rows = NULL;
    size_t n = 0;
    nova_status st = nova_store_tenant_list(s, &r->arena, &rows, &n);
    if (st) {
        nova_resp_status(r, st, NULL);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, tenant_json(&rows[i]));
    api_reply_json(r, 200, json_pack("{s:o}", "tenants", arr));
}

/* Bodies of the form and JSON routes here are a few hundred bytes (a token, a name and a
 * list of scopes); the limit leaves room and keeps what an unauthenticated caller can make the
 * server hold small. Verification uploads will declare their own, larger, limit. */
#define API_SMALL_BODY 4096

nova_status nova_api_register(nova_api_t *api, nova_http_server_t *srv)
{
    static const struct {
        const char *method, *pattern, *scope;
        nova_handler_fn fn;
        size_t max_body; /* the route reads no body larger; 0: none at all */
    } routes[] = {
        {"GET", "/v1/health", NULL, api_health, 0},
        {"GET", "/v1/ready", NULL, api_ready, 0},
        {"GET", "/.well-known/jwks.json", NULL, api_jwks, 0},
        {"GET", "/.well-known/oauth-authorization-server", NULL, api_as_metadata, 0},
        /* Each tenant is an issuer: RFC 8414 §3.1 puts its metadata after the well-known
         * segment; OpenID-style clients look under the issuer, so both are served. */
        {"GET", "/.well-known/oauth-authorization-server/tenants/{id}", NULL, api_tenant_metadata,
         0},
        {"GET", "/tenants/{id}/.well-known/oauth-authorization-server", NULL, api_tenant_metadata,
         0},
        {"GET", "/tenants/{id}/.well-known/jwks.json", NULL, api_tenant_jwks, 0},
        {"GET", "/openapi.json", NULL, api_openapi, 0},
        {"POST", "/oauth/token", NULL, api_token, API_SMALL_BODY},
        {"POST", "/oauth/introspect", NULL, api_introspect, API_SMALL_BODY},
        {"POST", "/oauth/revoke", NULL, api_revoke, API_SMALL_BODY},
        {"GET", "/v1/me", "", api_me, 0},
        {"POST", "/v1/clients", "clients:write", api_clients_create, API_SMALL_BODY},
        {"GET", "/v1/clients", "clients:read", api_clients_list, 0},
        {"GET", "/v1/clients/{id}", "clients:read", api_clients_get, 0},
        {"DELETE", "/v1/clients/{id}", "clients:write", api_clients_delete, 0},
        {"POST", "/v1/tenants", "platform:admin", api_tenants_create, API_SMALL_BODY},
        {"GET", "/v1/tenants", "platform:admin", api_tenants_list, 0},
        {"GET", "/v1/tenants/{id}", "platform:admin", api_tenants_get, 0},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        nova_status st = nova_http_route(srv, routes[i].method, routes[i].pattern, routes[i].scope,
                                         routes[i].max_body, routes[i].fn, api);
        if (st)
            return st;
    }
    api->srv = srv;
    nova_status st = nova_http_route(srv, "GET", "/metrics", NULL, 0, api_metrics, api);
    if (st)
        return st;
    if ((st = api_audit_register(api, srv)) != NOVA_OK)
        return st;
    if ((st = api_apikeys_register(api, srv)) != NOVA_OK)
        return st;
    if ((st = api_sdk_register(api, srv)) != NOVA_OK)
        return st;
    if ((st = api_keys_register(api, srv)) != NOVA_OK)
        return st;
    if ((st = api_killswitch_register(api, srv)) != NOVA_OK)
        return st;
    if ((st = api_security_register(api, srv)) != NOVA_OK)
        return st;
    if ((st = api_users_register(api, srv)) != NOVA_OK ||
        (st = api_login_register(api, srv)) != NOVA_OK ||
        (st = api_webauthn_register(api, srv)) != NOVA_OK ||
        (st = api_scim_register(api, srv)) != NOVA_OK ||
        (st = api_fed_idps_register(api, srv)) != NOVA_OK ||
        (st = api_oidc_register(api, srv)) != NOVA_OK ||
        (st = api_saml_register(api, srv)) != NOVA_OK)
        return st;
    if ((st = api_ledger_register(api, srv)) != NOVA_OK)
        return st;
    if ((st = api_faces_register(api, srv)) != NOVA_OK)
        return st;
    if ((st = api_fga_register(api, srv)) != NOVA_OK)
        return st;
    if ((st = api_workflows_register(api, srv)) != NOVA_OK)
        return st;
    if ((st = api_verifications_register(api, srv)) != NOVA_OK)
        return st;
    if ((st = api_webhooks_register(api, srv)) != NOVA_OK)
        return st;
    if ((st = api_authz_register(api, srv)) != NOVA_OK)
        return st;
    nova_http_set_authenticator(srv, api_authenticate, api);
    return NOVA_OK;
}
