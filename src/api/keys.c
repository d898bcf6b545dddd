/* keys.c: the caller's tenant's signing keys. GET /v1/keys lists them in every state (scope
 * keys:read); POST /v1/keys/rotate rotates (scope keys:write) with an optional
 * {"grace_seconds": 0..86400, "reason": "..."}: the previous key keeps verifying that long
 * (default NOVA_KEY_GRACE), 0 retires it at once. */
#include <string.h>

#include "internal.h"

static json_t *key_json(const nova_signing_key_t *k)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "kid", k->kid, "alg", k->alg, "state", k->state,
                          "created_at", (json_int_t)k->created_at);
    if (o && strcmp(k->state, "grace") == 0)
        json_object_set_new(o, "grace_until", json_integer(k->grace_until));
    if (o && k->retired_at)
        json_object_set_new(o, "retired_at", json_integer(k->retired_at));
    return o;
}

static void keys_list(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_signing_key_t *ks = NULL;
    size_t n = 0;
    nova_status st = nova_store_key_history(s, &r->arena, r->principal->tenant_id, &ks, &n);
    if (st) {
        nova_resp_status(r, st, NULL);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, key_json(&ks[i]));
    api_reply_json(r, 200, json_pack("{s:o}", "keys", arr));
}

static const char *const rotate_members[] = {"grace_seconds", "reason", NULL};

static void keys_rotate(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    int64_t grace = api->key_grace;
    const char *reason = "requested";
    json_t *body = NULL;
    /* The body is optional: no body rotates with the deployment's grace. */
    if (r->body.len > 0) {
        body = api_json_body(r, rotate_members);
        if (body == NULL)
            return;
        json_t *g = json_object_get(body, "grace_seconds"), *why = json_object_get(body, "reason");
        const char *bad = NULL;
        if (g && (!json_is_integer(g) || json_integer_value(g) < 0 ||
                  json_integer_value(g) > NOVA_KEY_GRACE_MAX))
            bad = "grace_seconds: an integer from 0 (retire the old key at once) to 86400";
        else if (why && (!json_is_string(why) || json_string_length(why) < 1 ||
                         json_string_length(why) > 200))
            bad = "reason: a string of 1 to 200 characters";
        if (bad) {
            nova_resp_problem(r, 422, "invalid_field", "Invalid field", bad);
            json_decref(body);
            return;
        }
        if (g)
            grace = json_integer_value(g);
        if (why)
            reason = nova_arena_strdup(&r->arena, json_string_value(why));
    }
    nova_store_t *s = reason ? api_store(r, api) : NULL;
    if (reason == NULL)
        nova_resp_status(r, NOVA_NOMEM, NULL);
    if (s == NULL) {
        json_decref(body);
        return;
    }
    nova_audit_actor_t by = {r->principal->client_id, r->req_id};
    nova_key_rotation_t rot;
    nova_status st = nova_auth_key_rotate(api->auth, s, &r->arena, &by, r->principal->tenant_id,
                                          grace, reason, &rot);
    json_decref(body);
    if (st) {
        nova_resp_status(
            r, st, st == NOVA_CONFLICT ? "another rotation of this tenant's key won; retry" : NULL);
        return;
    }
    json_t *o = json_pack("{s:s, s:{s:s, s:s}}", "kid", rot.new_kid, "previous", "kid", rot.old_kid,
                          "state", rot.old_state);
    if (o && rot.grace_until)
        json_object_set_new(json_object_get(o, "previous"), "grace_until",
                            json_integer(rot.grace_until));
    api_reply_json(r, 200, o);
}

nova_status api_keys_register(nova_api_t *api, nova_http_server_t *srv)
{
    static const struct {
        const char *method, *pattern, *scope;
        nova_handler_fn fn;
        size_t max_body;
    } routes[] = {
        {"GET", "/v1/keys", "keys:read", keys_list, 0},
        {"POST", "/v1/keys/rotate", "keys:write", keys_rotate, 1024},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        nova_status st = nova_http_route(srv, routes[i].method, routes[i].pattern, routes[i].scope,
                                         routes[i].max_body, routes[i].fn, api);
        if (st)
            return st;
    }
    return NOVA_OK;
}
