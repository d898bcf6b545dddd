/*
 * workflows.c: the tenant's verification workflows (nova/idv.h): POST/GET /v1/workflows,
 * GET/PUT /v1/workflows/{id}. The body is the workflow itself (nova/workflow.h); an invalid one
 * is a 422 naming the field as a JSON Pointer. PUT makes the next version; GET takes
 * ?version=N for an older one. POST /v1/workflows/{id}/simulate replays a candidate over the
 * recorded step results of past verifications (nova_idv_workflow_simulate). Scopes workflows:read /
 * workflows:write (a backend's: SDK sessions never hold them).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nova/idv.h"

#define WORKFLOW_MAX_BODY (64u << 10)

static void refuse_field(nova_req_t *r, const nova_idv_problem_t *pb)
{
    char *m = nova_arena_printf(&r->arena, "%s: %s", *pb->field ? pb->field : "(body)", pb->why);
    nova_resp_problem(r, 422, "invalid_field", "Invalid field", m ? m : pb->why);
}

static void workflow_put(nova_req_t *r, nova_api_t *api, const char *id)
{
    const char *ct = nova_req_header(r, "Content-Type");
    if (ct == NULL || strncmp(ct, "application/json", 16) != 0) {
        nova_resp_problem(r, 415, "unsupported_media_type", "Unsupported Media Type",
                          "send the workflow as application/json");
        return;
    }
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_audit_actor_t by = {r->principal->client_id, r->req_id};
    nova_idv_workflow_row_t w;
    nova_idv_problem_t pb;
    nova_status st = nova_idv_workflow_put(api->kv, s, &r->arena, &by, r->principal->tenant_id, id,
                                           r->body.data ? r->body.data : "", r->body.len, &w, &pb);
    if (st == NOVA_INVALID) {
        refuse_field(r, &pb);
        return;
    }
    if (st) {
        api_unavailable(r, st == NOVA_NOT_FOUND ? NOVA_NOT_FOUND : st);
        return;
    }
    if (id == NULL) {
        char *loc = nova_arena_printf(&r->arena, "/v1/workflows/%s", w.id);
        if (loc)
            nova_resp_header(r, "Location", loc);
    }
    api_reply_json(r, id ? 200 : 201, nova_idv_workflow_json(&w));
}

static void workflows_create(nova_req_t *r, void *ud)
{
    workflow_put(r, ud, NULL);
}

static void workflows_update(nova_req_t *r, void *ud)
{
    workflow_put(r, ud, r->params[0]);
}

static void workflows_list(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_idv_workflow_row_t *rows = NULL;
    size_t n = 0;
    nova_status st = nova_store_idv_workflow_list(s, &r->arena, r->principal->tenant_id, &rows, &n);
    if (st) {
        api_unavailable(r, st);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, nova_idv_workflow_json(&rows[i]));
    api_reply_json(r, 200, json_pack("{s:o}", "workflows", arr));
}

static void workflows_get(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    const char *vs = nova_req_query(r, "version");
    int64_t version = 0;
    if (vs) {
        char *end = NULL;
        long long v = strtoll(vs, &end, 10);
        if (*vs == '\0' || *end != '\0' || v < 1 || v > 1000000000LL) {
            nova_resp_problem(r, 400, "invalid_request", "Invalid request",
                              "version: a version number (1, 2, ...)");
            return;
        }
        version = v;
    }
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_idv_workflow_row_t w;
    nova_status st = nova_idv_workflow_get(api->kv, s, &r->arena, r->principal->tenant_id,
                                           r->params[0], version, &w);
    if (st) {
        if (st == NOVA_NOT_FOUND || st == NOVA_INVALID)
            nova_resp_problem(r, 404, "not_found", "Not Found",
                              "no workflow (or version) of this tenant has this id");
        else
            api_unavailable(r, st);
        return;
    }
    api_reply_json(r, 200, nova_idv_workflow_json(&w));
}

static const char *const simulate_members[] = {"definition", "version", "from", "to", NULL};

/* POST /v1/workflows/{id}/simulate: {"definition": {...}} or {"version": N}, and optional
 * "from"/"to" (unix seconds). Changes nothing. */
static void workflows_simulate(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    json_t *body = api_json_body(r, simulate_members);
    if (body == NULL)
        return;
    json_t *def = json_object_get(body, "definition"), *ver = json_object_get(body, "version");
    json_t *from = json_object_get(body, "from"), *to = json_object_get(body, "to");
    const char *bad = NULL;
    if ((def == NULL) == (ver == NULL))
        bad = "definition or version: give one candidate, a workflow object or a version number";
    else if (def && !json_is_object(def))
        bad = "definition: a workflow object";
    else if (ver && (!json_is_integer(ver) || json_integer_value(ver) < 1))
        bad = "version: a version number (1, 2, ...)";
    else if ((from && (!json_is_integer(from) || json_integer_value(from) < 0)) ||
             (to && (!json_is_integer(to) || json_integer_value(to) < 0)))
        bad = "from/to: unix seconds";
    nova_store_t *s = bad ? NULL : api_store(r, api);
    if (bad)
        nova_resp_problem(r, 422, "invalid_field", "Invalid field", bad);
    if (s == NULL) {
        json_decref(body);
        return;
    }
    char *text = NULL;
    nova_status st = NOVA_OK;
    if (def) {
        text = json_dumps(def, JSON_COMPACT);
    } else {
        nova_idv_workflow_row_t w;
        st = nova_idv_workflow_get(api->kv, s, &r->arena, r->principal->tenant_id, r->params[0],
                                   json_integer_value(ver), &w);
        text = st == NOVA_OK ? strdup(w.definition) : NULL;
    }
    json_t *out = NULL;
    nova_idv_problem_t pb = {{0}, {0}};
    if (st == NOVA_OK)
        st = text ? nova_idv_workflow_simulate(
                        api_idv(), s, &r->arena, r->principal->tenant_id, r->params[0], text,
                        strlen(text), json_integer_value(from), json_integer_value(to), &out, &pb)
                  : NOVA_NOMEM;
    free(text);
    json_decref(body);
    if (st == NOVA_INVALID && *pb.field)
        refuse_field(r, &pb);
    else if (st == NOVA_NOT_FOUND || st == NOVA_INVALID)
        nova_resp_problem(r, 404, "not_found", "Not Found",
                          "no workflow (or version) of this tenant has this id");
    else if (st)
        api_unavailable(r, st);
    else
        api_reply_json(r, 200, out);
}

nova_status api_workflows_register(nova_api_t *api, nova_http_server_t *srv)
{
    static const struct {
        const char *method, *pattern, *scope;
        nova_handler_fn fn;
        size_t max_body;
    } routes[] = {
        {"POST", "/v1/workflows", "workflows:write", workflows_create, WORKFLOW_MAX_BODY},
        {"GET", "/v1/workflows", "workflows:read", workflows_list, 0},
        {"GET", "/v1/workflows/{id}", "workflows:read", workflows_get, 0},
        {"PUT", "/v1/workflows/{id}", "workflows:write", workflows_update, WORKFLOW_MAX_BODY},
        {"POST", "/v1/workflows/{id}/simulate", "workflows:read", workflows_simulate,
         WORKFLOW_MAX_BODY},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        nova_status st = nova_http_route(srv, routes[i].method, routes[i].pattern, routes[i].scope,
                                         routes[i].max_body, routes[i].fn, api);
        if (st)
            return st;
    }
    return NOVA_OK;
}
