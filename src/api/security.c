/* security.c: GET and PUT /v1/tenants/{id}/security, a tenant's security settings
 * (nova/security.h): the caller's own tenant with security:read / security:write, any tenant
 * with platform:admin. Also where the API enforces them: api_security_enforce on every
 * authenticated request and token grant, the token endpoint's DPoP and mTLS requirements
 * (oauth.c) and the SDK session lifetime (sdk.c). */
#include <string.h>

#include "internal.h"
#include "nova/security.h"

/* false with the reply written for a failed nova_security_* call: the control plane's 503 for
 * NOVA_UNAVAILABLE (its copy is stale), else the status's problem. */
static bool settings_ok(nova_req_t *r, nova_status st)
{
    if (st == NOVA_UNAVAILABLE)
        api_kv_unavailable(r);
    else if (st)
        api_unavailable(r, st);
    return st == NOVA_OK;
}

bool api_security_settings(nova_req_t *r, nova_api_t *api, nova_store_t *s, const char *tenant_id,
                           nova_security_settings_t *out)
{
    int64_t version = 0;
    return settings_ok(r, nova_security_get(api->security, api->kv, s, tenant_id, out, &version));
}

bool api_security_enforce(nova_req_t *r, nova_api_t *api, const char *tenant_id,
                          nova_security_settings_t *out)
{
    nova_security_settings_t local;
    nova_security_settings_t *set = out ? out : &local;
    nova_store_t *s = api_store(r, api);
    if (s == NULL || !api_security_settings(r, api, s, tenant_id, set))
        return false;
    if (!nova_security_region_allowed(set, api->region)) {
        nova_resp_problem(r, 421, "region_not_resident", "Misdirected Request",
                          api->region && *api->region
                              ? "this tenant's data may not be served from this region "
                                "(its resident_regions exclude this server's NOVA_REGION)"
                              : "this tenant has resident_regions and this server has no "
                                "NOVA_REGION, so it cannot serve the tenant");
        return false;
    }
    if (!nova_security_ip_allowed(set, nova_req_peer_ip(r))) {
        nova_resp_problem(r, 403, "ip_not_allowed", "Forbidden",
                          "this address is outside the tenant's allowed_ip_ranges");
        return false;
    }
    return true;
}

/* Whether the caller may read (write false) or change the settings of tenant: its own with
 * the scope, any with platform:admin. Else writes 403. */
static bool allowed(nova_req_t *r, const char *tenant, bool write)
{
    const char *scope = write ? "security:write" : "security:read";
    if (nova_auth_scope_has(r->principal->scope, "platform:admin") ||
        (strcmp(tenant, r->principal->tenant_id) == 0 &&
         nova_auth_scope_has(r->principal->scope, scope))) {
        return true;
    }
    char *why = nova_arena_printf(&r->arena,
                                  "this route needs the %s scope for the caller's own tenant, or "
                                  "platform:admin",
                                  scope);
    nova_resp_problem(r, 403, "insufficient_scope", "Forbidden", why ? why : "insufficient scope");
    return false;
}

/* 404 unless the tenant exists (a platform admin may name any). */
static bool tenant_exists(nova_req_t *r, nova_store_t *s, const char *tenant)
{
    nova_tenant_t t;
    nova_status st = nova_store_tenant_get(s, &r->arena, tenant, &t);
    if (st == NOVA_OK)
        return true;
    nova_resp_status(r, st, st == NOVA_NOT_FOUND ? "no such tenant" : NULL);
    return false;
}

static void reply_settings(nova_req_t *r, const char *tenant, int64_t version,
                           const nova_security_settings_t *set)
{
    json_t *o = nova_security_to_json(set);
    if (o) {
        json_object_set_new(o, "tenant_id", json_string(tenant));
        json_object_set_new(o, "version", json_integer(version));
    }
    api_reply_json(r, 200, o);
}

static void security_get(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    const char *tenant = r->params[0];
    if (!allowed(r, tenant, false))
        return;
    nova_store_t *s = api_store(r, api);
    if (s == NULL || !tenant_exists(r, s, tenant))
        return;
    nova_security_settings_t set;
    int64_t version = 0;
    if (settings_ok(r, nova_security_get(api->security, api->kv, s, tenant, &set, &version)))
        reply_settings(r, tenant, version, &set);
}

static const char *const security_members[] = {"mfa_required_for_all_users",
                                               "session_timeout_minutes",
                                               "allowed_ip_ranges",
                                               "resident_regions",
                                               "require_dpop",
                                               "require_mtls_for_m2m",
                                               NULL};

static void security_put(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    const char *tenant = r->params[0];
    if (!allowed(r, tenant, true))
        return;
    json_t *body = api_json_body(r, security_members);
    if (body == NULL)
        return;
    nova_security_settings_t set;
    const char *why = NULL;
    nova_status st = nova_security_from_json(body, &set, &why);
    json_decref(body);
    if (st) {
        nova_resp_problem(r, 422, "invalid_field", "Invalid field", why);
        return;
    }
    /* A tenant does not lock itself out: the request that changes its own settings must
     * still be one they allow. A platform admin may set anything for another tenant. */
    if (strcmp(tenant, r->principal->tenant_id) == 0) {
        if (!nova_security_ip_allowed(&set, nova_req_peer_ip(r))) {
            nova_resp_problem(r, 422, "invalid_field", "Invalid field",
                              "allowed_ip_ranges: would exclude the address of this request, "
                              "locking the tenant out");
            return;
        }
        if (!nova_security_region_allowed(&set, api->region)) {
            nova_resp_problem(r, 422, "invalid_field", "Invalid field",
                              "resident_regions: would exclude this server's region "
                              "(NOVA_REGION), locking the tenant out");
            return;
        }
    }
    nova_store_t *s = api_store(r, api);
    if (s == NULL || !tenant_exists(r, s, tenant))
        return;
    nova_audit_actor_t by = {r->principal->client_id, r->req_id};
    int64_t version = 0;
    st = nova_security_put(api->security, api->kv, s, &r->arena, &by, tenant, &set, &version);
    if (settings_ok(r, st))
        reply_settings(r, tenant, version, &set);
}

nova_status api_security_register(nova_api_t *api, nova_http_server_t *srv)
{
    if (api->security == NULL)
        return NOVA_INVALID;
    /* The scope test is the handler's (own tenant or platform:admin): the route asks only
     * for an authenticated caller. */
    nova_status st =
        nova_http_route(srv, "GET", "/v1/tenants/{id}/security", "", 0, security_get, api);
    if (st == NOVA_OK)
        st = nova_http_route(srv, "PUT", "/v1/tenants/{id}/security", "", 4096, security_put, api);
    return st;
}
