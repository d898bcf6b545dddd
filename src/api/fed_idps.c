/* fed_idps.c: a tenant's federation IdPs over HTTP, one set of handlers for both protocols
 * (issue 11 item 7): POST/GET /v1/people/<proto>/idps and GET/PATCH/DELETE .../{id}
 * (users:write / users:read) for proto oidc and saml. What differs between the protocols
 * is data: the domain's table (nova_fed_idp_ops: members, calls, view) and this file's
 * (the problem codes and body limit); the route a request matched names its row. */
#include <string.h>

#include "internal.h"
#include "nova/people.h"

typedef struct fed_kind {
    nova_fed_protocol proto;
    const char *base; /* the collection's path */
    size_t max_body;
    const char *exists_code, *exists_detail; /* 409 */
    const char *not_found_detail;            /* 404 */
    /* 502 for NOVA_UNAVAILABLE (metadata that could not be fetched); NULL: the default 503 */
    const char *unavailable_code, *unavailable_detail;
} fed_kind;

static const fed_kind kinds[] = {
    {NOVA_FED_OIDC, "/v1/people/oidc/idps", 32768, "oidc_idp_exists",
     "this tenant has an IdP with this issuer", "this tenant has no IdP of this id", NULL, NULL},
    /* A metadata document of 256 KiB escaped as a JSON string grows. */
    {NOVA_FED_SAML, "/v1/people/saml/idps", 300000, "saml_idp_exists",
     "this tenant has a SAML IdP with this entity ID", "this tenant has no SAML IdP of this id",
     "saml_metadata_unavailable", "the IdP's metadata could not be fetched"},
};

/* The row of the route r matched (routes are registered from this table only). */
static const fed_kind *kind_of(nova_req_t *r)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        size_t n = strlen(kinds[i].base);
        if (strncmp(r->route, kinds[i].base, n) == 0 && (r->route[n] == '\0' || r->route[n] == '/'))
            return &kinds[i];
    }
    nova_assert(!"a federation IdP route outside the table");
    return NULL;
}

static nova_audit_actor_t actor(nova_req_t *r)
{
    return (nova_audit_actor_t){.id = r->principal->client_id, .request_id = r->req_id};
}

static void idp_status(nova_req_t *r, const fed_kind *k, nova_status st, const char *why)
{
    if (st == NOVA_CONFLICT)
        nova_resp_problem(r, 409, k->exists_code, "Conflict", why ? why : k->exists_detail);
    else if (st == NOVA_NOT_FOUND)
        nova_resp_problem(r, 404, "not_found", "Not Found", k->not_found_detail);
    else if (st == NOVA_UNAVAILABLE && k->unavailable_code)
        nova_resp_problem(r, 502, k->unavailable_code, "Bad Gateway",
                          why ? why : k->unavailable_detail);
    else
        api_people_status(r, st, why);
}

/* The body of a create or update, with its IdP URL allowed; NULL once answered. */
static json_t *idp_body(nova_req_t *r, nova_api_t *api, const nova_fed_idp_ops_t *ops, bool create)
{
    json_t *body = api_json_body(r, ops->members);
    if (body && (create || ops->url_on_update) &&
        !api_fed_url_allowed(r, api, ops->url_member,
                             json_string_value(json_object_get(body, ops->url_member)))) {
        json_decref(body);
        return NULL;
    }
    return body;
}

/* A create (201 with Location) or an update (200) of the IdP in the path. */
static void idp_write(nova_req_t *r, nova_api_t *api, bool create)
{
    const fed_kind *k = kind_of(r);
    const nova_fed_idp_ops_t *ops = nova_fed_idp_ops(k->proto);
    json_t *body = idp_body(r, api, ops, create);
    if (body == NULL)
        return;
    nova_store_t *s = api_store(r, api);
    nova_people_t *p = s ? api_people(r, api) : NULL;
    void *idp = p ? nova_arena_alloc(&r->arena, ops->view_size) : NULL;
    if (p && idp == NULL) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
    } else if (p) {
        nova_audit_actor_t by = actor(r);
        const char *why = NULL, *base = nova_auth_issuer(api->auth);
        const char *tenant = r->principal->tenant_id;
        nova_status st =
            create ? ops->create(p, s, &r->arena, &by, tenant, base ? base : "", body, idp, &why)
                   : ops->update(p, s, &r->arena, &by, tenant, r->params[0], body, idp, &why);
        char *loc = create && st == NOVA_OK
                        ? nova_arena_printf(&r->arena, "%s/%s", k->base, ops->id_of(idp))
                        : NULL;
        if (loc)
            nova_resp_header(r, "Location", loc);
        if (st)
            idp_status(r, k, st, why);
        else
            api_reply_json(r, create ? 201 : 200, ops->to_json(idp));
    }
    json_decref(body);
}

static void api_fed_idp_create(nova_req_t *r, void *ud)
{
    idp_write(r, ud, true);
}

static void api_fed_idp_list(nova_req_t *r, void *ud)
{
    const fed_kind *k = kind_of(r);
    const nova_fed_idp_ops_t *ops = nova_fed_idp_ops(k->proto);
    nova_store_t *s = api_store(r, ud);
    if (s == NULL)
        return;
    void *idps;
    size_t n;
    nova_status st = ops->list(s, &r->arena, r->principal->tenant_id, &idps, &n);
    if (st) {
        idp_status(r, k, st, NULL);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, ops->to_json((const char *)idps + i * ops->view_size));
    api_reply_json(r, 200, json_pack("{s:o}", "idps", arr));
}

static void api_fed_idp_get(nova_req_t *r, void *ud)
{
    const fed_kind *k = kind_of(r);
    const nova_fed_idp_ops_t *ops = nova_fed_idp_ops(k->proto);
    nova_store_t *s = api_store(r, ud);
    if (s == NULL)
        return;
    void *idp = nova_arena_alloc(&r->arena, ops->view_size);
    nova_status st =
        idp ? ops->get(s, &r->arena, r->principal->tenant_id, r->params[0], idp) : NOVA_NOMEM;
    if (st)
        idp_status(r, k, st, NULL);
    else
        api_reply_json(r, 200, ops->to_json(idp));
}

static void api_fed_idp_patch(nova_req_t *r, void *ud)
{
    idp_write(r, ud, false);
}

static void api_fed_idp_delete(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    const fed_kind *k = kind_of(r);
    const nova_fed_idp_ops_t *ops = nova_fed_idp_ops(k->proto);
    nova_store_t *s = api_store(r, api);
    nova_people_t *p = s ? api_people(r, api) : NULL;
    if (p == NULL)
        return;
    nova_audit_actor_t by = actor(r);
    nova_status st = ops->remove(p, s, &r->arena, &by, r->principal->tenant_id, r->params[0]);
    if (st)
        idp_status(r, k, st, NULL);
    else
        nova_resp_body(r, 204, NULL, NULL, 0);
}

nova_status api_fed_idps_register(nova_api_t *api, nova_http_server_t *srv)
{
    static const struct {
        const char *method, *suffix, *scope;
        nova_handler_fn fn;
        bool body;
    } ops[] = {
        {"POST", "", "users:write", api_fed_idp_create, true},
        {"GET", "", "users:read", api_fed_idp_list, false},
        {"GET", "/{id}", "users:read", api_fed_idp_get, false},
        {"PATCH", "/{id}", "users:write", api_fed_idp_patch, true},
        {"DELETE", "/{id}", "users:write", api_fed_idp_delete, false},
    };
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
        for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
            char pattern[64];
            snprintf(pattern, sizeof(pattern), "%s%s", kinds[k].base, ops[i].suffix);
            nova_status st = nova_http_route(srv, ops[i].method, pattern, ops[i].scope,
                                             ops[i].body ? kinds[k].max_body : 0, ops[i].fn, api);
            if (st)
                return st;
        }
    return NOVA_OK;
}
