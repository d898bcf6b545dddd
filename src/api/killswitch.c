/* killswitch.c: PUT /v1/kill-switches/{action} (scope killswitches:write) turns a switch of the
 * caller's tenant on or off, {"active": true|false, "region": "KE" | "*", "reason": "..."};
 * GET /v1/kill-switches (killswitches:read) lists the ones that are on. The rules are in
 * nova/killswitch.h. */
#include <string.h>

#include "internal.h"
#include "nova/killswitch.h"

static json_t *switch_json(const nova_killswitch_t *k)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:b}", "action", k->action, "region", k->region,
                     "reason", k->reason, "set_by", k->set_by, "set_at", (json_int_t)k->set_at,
                     "active", 1);
}

static void switches_list(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_killswitch_t *ks = NULL;
    size_t n = 0;
    nova_status st = nova_killswitch_list(api->kv, &r->arena, r->principal->tenant_id, &ks, &n);
    if (st == NOVA_UNAVAILABLE) {
        api_kv_unavailable(r);
        return;
    }
    if (st) {
        nova_resp_status(r, st, NULL);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, switch_json(&ks[i]));
    api_reply_json(r, 200, json_pack("{s:o}", "kill_switches", arr));
}

static const char *const switch_members[] = {"active", "region", "reason", NULL};

static void switch_put(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    const char *action = r->params[0];
    if (!nova_killswitch_action_valid(action)) {
        nova_resp_problem(r, 422, "invalid_field", "Invalid field",
                          "action (the path): 1 to 40 of a-z 0-9 _ . - starting with a letter");
        return;
    }
    json_t *body = api_json_body(r, switch_members);
    if (body == NULL)
        return;
    json_t *active = json_object_get(body, "active"), *region = json_object_get(body, "region"),
           *reason = json_object_get(body, "reason");
    const char *bad = NULL;
    if (!json_is_boolean(active))
        bad = "active: true or false is required";
    else if (region &&
             (!json_is_string(region) || !nova_killswitch_region_valid(json_string_value(region))))
        bad = "region: \"*\" (every region) or 2 to 8 of A-Z 0-9 -";
    else if ((json_is_true(active) && !json_is_string(reason)) ||
             (reason && (!json_is_string(reason) || json_string_length(reason) < 1 ||
                         json_string_length(reason) > 200)))
        bad = "reason: 1 to 200 characters, required to turn a switch on";
    if (bad) {
        nova_resp_problem(r, 422, "invalid_field", "Invalid field", bad);
        json_decref(body);
        return;
    }
    nova_store_t *s = api_store(r, api);
    if (s == NULL) {
        json_decref(body);
        return;
    }
    nova_audit_actor_t by = {r->principal->client_id, r->req_id};
    const char *reg = region ? json_string_value(region) : NOVA_KILLSWITCH_ALL_REGIONS;
    bool on = json_is_true(active);
    nova_status st = nova_killswitch_set(api->kv, s, &r->arena, &by, r->principal->tenant_id, reg,
                                         action, on, reason ? json_string_value(reason) : NULL);
    if (st == NOVA_UNAVAILABLE)
        api_kv_unavailable(r);
    else if (st == NOVA_INVALID)
        nova_resp_problem(r, 422, "invalid_field", "Invalid field",
                          "reason: printable characters only");
    else if (st)
        nova_resp_status(r, st, NULL);
    else
        api_reply_json(r, 200,
                       json_pack("{s:s, s:s, s:b}", "action", action, "region", reg, "active", on));
    json_decref(body);
}

nova_status api_killswitch_register(nova_api_t *api, nova_http_server_t *srv)
{
    static const struct {
        const char *method, *pattern, *scope;
        nova_handler_fn fn;
        size_t max_body;
    } routes[] = {
        {"GET", "/v1/kill-switches", "killswitches:read", switches_list, 0},
        {"PUT", "/v1/kill-switches/{action}", "killswitches:write", switch_put, 1024},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        nova_status st = nova_http_route(srv, routes[i].method, routes[i].pattern, routes[i].scope,
                                         routes[i].max_body, routes[i].fn, api);
        if (st)
            return st;
    }
    return NOVA_OK;
}
