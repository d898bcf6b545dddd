/* users.c: the people resources for a tenant's backend (machine clients): users
 * (POST/GET /v1/users, GET/PATCH/DELETE /v1/users/{id}, PUT /v1/users/{id}/password) and
 * their sign-in sessions (GET /v1/sessions?user_id=, DELETE /v1/sessions/{id},
 * DELETE /v1/sessions?user_id=), scopes users:read / users:write. Also the people domain
 * object the API shares (api_people). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nova/people.h"

/* One people domain per API object, made on first use (the control plane is attached to
 * the API after registration). Kept for the life of the process. */
typedef struct people_slot {
    nova_api_t *api;
    nova_people_t *people;
    struct people_slot *next;
} people_slot;
static people_slot *slots;
static pthread_mutex_t slots_mu = PTHREAD_MUTEX_INITIALIZER;

nova_people_t *api_people(nova_req_t *r, nova_api_t *api)
{
    nova_people_t *found = NULL;
    pthread_mutex_lock(&slots_mu);
    for (people_slot *s = slots; s && !found; s = s->next)
        if (s->api == api)
            found = s->people;
    if (found == NULL) {
        people_slot *s = calloc(1, sizeof(*s));
        nova_people_config_t cfg = {.region = api->region,
                                    .group_tuples = api_group_tuples,
                                    .group_tuples_synced = api_group_tuples_synced};
        if (s && nova_people_new(api->auth, api->kv, &cfg, &s->people) == NOVA_OK) {
            s->api = api;
            s->next = slots;
            slots = s;
            found = s->people;
        } else {
            free(s);
        }
    }
    pthread_mutex_unlock(&slots_mu);
    if (found == NULL)
        nova_resp_status(r, NOVA_NOMEM, NULL);
    return found;
}

void api_people_status(nova_req_t *r, nova_status st, const char *why)
{
    if (st == NOVA_INVALID)
        nova_resp_problem(r, 422, "invalid_field", "Invalid field", why ? why : "invalid field");
    else if (st == NOVA_UNAVAILABLE)
        api_kv_unavailable(r);
    else
        nova_resp_status(r, st, why);
}

static json_t *user_json(const nova_user_view_t *u)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:o, s:b, s:s, s:I, s:I}", "id", u->id, "tenant_id",
                  u->tenant_id, "email", u->email, "status", u->status, "roles",
                  api_words(u->roles), "has_password", u->has_password, "totp", u->totp_state,
                  "created_at", (json_int_t)u->created_at, "updated_at", (json_int_t)u->updated_at);
    if (o && u->name)
        json_object_set_new(o, "name", json_string(u->name));
    return o;
}

static nova_audit_actor_t actor(nova_req_t *r)
{
    return (nova_audit_actor_t){.id = r->principal->client_id, .request_id = r->req_id};
}

/* roles: a JSON array of strings, joined with spaces into the arena. NULL when absent; "bad"
 * sentinel when malformed. */
static const char bad_roles[] = "";
static const char *roles_of(nova_req_t *r, json_t *v)
{
    if (v == NULL)
        return NULL;
    if (!json_is_array(v) || json_array_size(v) > 16)
        return bad_roles;
    nova_buf_t b;
    nova_buf_init(&b);
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e) || strchr(json_string_value(e), ' ')) {
            nova_buf_free(&b);
            return bad_roles;
        }
        (void)nova_buf_printf(&b, "%s%s", i ? " " : "", json_string_value(e));
    }
    const char *out = nova_arena_strndup(&r->arena, b.data ? b.data : "", b.len);
    nova_buf_free(&b);
    return out;
}

/* Reads the spec members; false with 422 written when one has the wrong type. */
static bool spec_of(nova_req_t *r, json_t *body, nova_user_spec_t *spec)
{
    static const char *const strs[] = {"email", "name", "status", "password"};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        json_t *v = json_object_get(body, strs[i]);
        if (v && !json_is_string(v)) {
            char *w = nova_arena_printf(&r->arena, "%s: a string", strs[i]);
            nova_resp_problem(r, 422, "invalid_field", "Invalid field", w ? w : strs[i]);
            return false;
        }
    }
    spec->email = json_string_value(json_object_get(body, "email"));
    spec->name = json_string_value(json_object_get(body, "name"));
    spec->status = json_string_value(json_object_get(body, "status"));
    spec->password = json_string_value(json_object_get(body, "password"));
    spec->roles = roles_of(r, json_object_get(body, "roles"));
    if (spec->roles == bad_roles) {
        nova_resp_problem(r, 422, "invalid_field", "Invalid field",
                          "roles: an array of up to 16 role names");
        return false;
    }
    return true;
}

static const char *const create_members[] = {"email", "name", "roles", "status", "password", NULL};
static const char *const patch_members[] = {"name", "roles", "status", NULL};

static void users_create(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    json_t *body = api_json_body(r, create_members);
    nova_user_spec_t spec = {0};
    if (body == NULL)
        return;
    nova_store_t *s = NULL;
    nova_people_t *p = NULL;
    if (spec_of(r, body, &spec) && (s = api_store(r, api)) && (p = api_people(r, api))) {
        if (spec.email == NULL) {
            nova_resp_problem(r, 422, "invalid_field", "Invalid field", "email: required");
        } else {
            nova_audit_actor_t by = actor(r);
            nova_user_view_t u;
            const char *why = NULL;
            nova_status st = nova_people_user_create(p, s, &r->arena, &by, r->principal->tenant_id,
                                                     &spec, &u, &why);
            if (st == NOVA_CONFLICT) {
                nova_resp_problem(r, 409, "user_exists", "Conflict",
                                  "email: this tenant has a user with this email");
            } else if (st) {
                api_people_status(r, st, why);
            } else {
                char *loc = nova_arena_printf(&r->arena, "/v1/users/%s", u.id);
                if (loc)
                    nova_resp_header(r, "Location", loc);
                api_reply_json(r, 201, user_json(&u));
            }
        }
    }
    json_decref(body);
}

static void users_list(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    const char *lim = nova_req_query(r, "limit"), *after = nova_req_query(r, "after");
    long limit = 50;
    if (lim) {
        char *end;
        limit = strtol(lim, &end, 10);
        if (*lim == '\0' || *end != '\0' || limit < 1 || limit > 200) {
            nova_resp_problem(r, 400, "invalid_request", "Bad Request", "limit: 1 to 200");
            return;
        }
    }
    nova_store_t *s = api_store(r, api);
    nova_people_t *p = s ? api_people(r, api) : NULL;
    if (p == NULL)
        return;
    nova_user_view_t *u;
    size_t n;
    nova_status st =
        nova_people_user_list(p, s, &r->arena, r->principal->tenant_id, after, limit, &u, &n);
    if (st) {
        api_people_status(r, st, NULL);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, user_json(&u[i]));
    json_t *o = json_pack("{s:o}", "users", arr);
    if (o && n == (size_t)limit)
        json_object_set_new(o, "next_after", json_string(u[n - 1].id));
    api_reply_json(r, 200, o);
}

static void users_get(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    nova_people_t *p = s ? api_people(r, api) : NULL;
    if (p == NULL)
        return;
    nova_user_view_t u;
    nova_status st =
        nova_people_user_get(p, s, &r->arena, r->principal->tenant_id, r->params[0], &u);
    if (st)
        nova_resp_status(r, st == NOVA_INVALID ? NOVA_NOT_FOUND : st, NULL);
    else
        api_reply_json(r, 200, user_json(&u));
}

static void users_patch(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    json_t *body = api_json_body(r, patch_members);
    nova_user_spec_t spec = {0};
    if (body == NULL)
        return;
    nova_store_t *s = NULL;
    nova_people_t *p = NULL;
    if (spec_of(r, body, &spec) && (s = api_store(r, api)) && (p = api_people(r, api))) {
        nova_audit_actor_t by = actor(r);
        nova_user_view_t u;
        const char *why = NULL;
        nova_status st = nova_people_user_update(p, s, &r->arena, &by, r->principal->tenant_id,
                                                 r->params[0], &spec, &u, &why);
        if (st)
            api_people_status(r, st, why);
        else
            api_reply_json(r, 200, user_json(&u));
    }
    json_decref(body);
}

static void users_delete(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    nova_people_t *p = s ? api_people(r, api) : NULL;
    if (p == NULL)
        return;
    nova_audit_actor_t by = actor(r);
    nova_status st = api_user_delete(r, p, s, &by, r->principal->tenant_id, r->params[0]);
    if (st)
        nova_resp_status(r, st == NOVA_INVALID ? NOVA_NOT_FOUND : st, NULL);
    else
        nova_resp_body(r, 204, NULL, NULL, 0);
}

static const char *const password_members[] = {"password", NULL};

static void users_password(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    json_t *body = api_json_body(r, password_members);
    if (body == NULL)
        return;
    json_t *pw = json_object_get(body, "password");
    nova_store_t *s = NULL;
    nova_people_t *p = NULL;
    if (!json_is_string(pw)) {
        nova_resp_problem(r, 422, "invalid_field", "Invalid field", "password: a string");
    } else if ((s = api_store(r, api)) && (p = api_people(r, api))) {
        nova_audit_actor_t by = actor(r);
        const char *why = NULL;
        nova_status st = nova_people_password_set(p, s, &r->arena, &by, r->principal->tenant_id,
                                                  r->params[0], json_string_value(pw), &why);
        if (st)
            api_people_status(r, st, why);
        else
            nova_resp_body(r, 204, NULL, NULL, 0);
    }
    json_decref(body);
}

/* ---- sessions ---- */

json_t *api_user_session_json(nova_req_t *r, nova_people_t *p, const nova_user_session_t *ses)
{
    json_t *o = json_pack("{s:s, s:s, s:i, s:o, s:s, s:s, s:I, s:I}", "id", ses->id, "user_id",
                          ses->user_id, "aal", (int)ses->aal, "amr", api_words(ses->amr), "device",
                          ses->device, "ip", ses->ip, "created_at", (json_int_t)ses->created_at,
                          "expires_at", (json_int_t)ses->expires_at);
    if (o && ses->idp_id && *ses->idp_id)
        json_object_set_new(o, "idp_id", json_string(ses->idp_id));
    if (o && ses->revoked_at) {
        json_object_set_new(o, "revoked_at", json_integer(ses->revoked_at));
        json_object_set_new(o, "revoked_reason", json_string(ses->revoked_reason));
    } else if (o) {
        int64_t seen = nova_people_session_last_seen(p, &r->arena, ses->tenant_id, ses->id);
        if (seen)
            json_object_set_new(o, "last_seen", json_integer(seen));
    }
    return o;
}

static void sessions_list(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    const char *user = nova_req_query(r, "user_id"), *all = nova_req_query(r, "include_revoked");
    nova_store_t *s = api_store(r, api);
    nova_people_t *p = s ? api_people(r, api) : NULL;
    if (p == NULL)
        return;
    nova_user_session_t *ses;
    size_t n;
    bool revoked = all && strcmp(all, "true") == 0;
    nova_status st = nova_store_user_session_list(s, &r->arena, r->principal->tenant_id, user,
                                                  revoked ? 0 : nova_time_now(), &ses, &n);
    if (st) {
        nova_resp_status(r, st, NULL);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        /* A row whose control-plane record is gone ended idle: not live any more. */
        if (!revoked && !nova_people_session_last_seen(p, &r->arena, ses[i].tenant_id, ses[i].id))
            continue;
        json_array_append_new(arr, api_user_session_json(r, p, &ses[i]));
    }
    api_reply_json(r, 200, json_pack("{s:o}", "sessions", arr));
}

static void sessions_delete(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    nova_people_t *p = s ? api_people(r, api) : NULL;
    if (p == NULL)
        return;
    nova_audit_actor_t by = actor(r);
    nova_status st = nova_people_session_revoke(p, s, &r->arena, &by, r->principal->tenant_id,
                                                r->params[0], "revoked");
    if (st)
        api_people_status(r, st == NOVA_INVALID ? NOVA_NOT_FOUND : st, NULL);
    else
        nova_resp_body(r, 204, NULL, NULL, 0);
}

static void sessions_delete_user(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    const char *user = nova_req_query(r, "user_id");
    if (user == NULL || *user == '\0') {
        nova_resp_problem(r, 400, "invalid_request", "Bad Request",
                          "user_id: the user whose sessions end (query parameter)");
        return;
    }
    nova_store_t *s = api_store(r, api);
    nova_people_t *p = s ? api_people(r, api) : NULL;
    if (p == NULL)
        return;
    nova_user_view_t u;
    nova_status st = nova_people_user_get(p, s, &r->arena, r->principal->tenant_id, user, &u);
    if (st) {
        nova_resp_status(r, st == NOVA_INVALID ? NOVA_NOT_FOUND : st, "no such user");
        return;
    }
    nova_audit_actor_t by = actor(r);
    size_t n = 0;
    st = nova_people_session_revoke_user(p, s, &r->arena, &by, r->principal->tenant_id, user,
                                         "revoked", &n);
    if (st)
        api_people_status(r, st, NULL);
    else
        api_reply_json(r, 200, json_pack("{s:I}", "revoked", (json_int_t)n));
}

/* ---- the tenant's people settings (continuous access evaluation) ---- */

static void settings_get(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    nova_people_t *p = s ? api_people(r, api) : NULL;
    if (p == NULL)
        return;
    nova_people_settings_t *set = nova_arena_alloc(&r->arena, sizeof(*set));
    nova_status st =
        set ? nova_people_settings_get(p, s, r->principal->tenant_id, set) : NOVA_NOMEM;
    if (st)
        api_people_status(r, st, NULL);
    else
        api_reply_json(r, 200, nova_people_settings_to_json(set));
}

static void settings_put(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    static const char *const members[] = {"ip_drift",      "device_change", "impossible_travel",
                                          "max_speed_kmh", "locations",     NULL};
    json_t *body = api_json_body(r, members);
    if (body == NULL)
        return;
    nova_store_t *s = api_store(r, api);
    nova_people_t *p = s ? api_people(r, api) : NULL;
    nova_people_settings_t *set = nova_arena_alloc(&r->arena, sizeof(*set));
    if (p && set) {
        nova_audit_actor_t by = actor(r);
        const char *why = NULL;
        nova_status st = nova_people_settings_put(p, s, &r->arena, &by, r->principal->tenant_id,
                                                  body, set, &why);
        if (st)
            api_people_status(r, st, why);
        else
            api_reply_json(r, 200, nova_people_settings_to_json(set));
    } else if (p) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
    }
    json_decref(body);
}

nova_status api_users_register(nova_api_t *api, nova_http_server_t *srv)
{
    static const struct {
        const char *method, *pattern, *scope;
        nova_handler_fn fn;
        size_t max_body;
    } routes[] = {
        {"POST", "/v1/users", "users:write", users_create, 4096},
        {"GET", "/v1/users", "users:read", users_list, 0},
        {"GET", "/v1/users/{id}", "users:read", users_get, 0},
        {"PATCH", "/v1/users/{id}", "users:write", users_patch, 4096},
        {"DELETE", "/v1/users/{id}", "users:write", users_delete, 0},
        {"PUT", "/v1/users/{id}/password", "users:write", users_password, 2048},
        {"GET", "/v1/sessions", "users:read", sessions_list, 0},
        {"DELETE", "/v1/sessions", "users:write", sessions_delete_user, 0},
        {"DELETE", "/v1/sessions/{id}", "users:write", sessions_delete, 0},
        {"GET", "/v1/people/settings", "users:read", settings_get, 0},
        {"PUT", "/v1/people/settings", "users:write", settings_put, 8192},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        nova_status st = nova_http_route(srv, routes[i].method, routes[i].pattern, routes[i].scope,
                                         routes[i].max_body, routes[i].fn, api);
        if (st)
            return st;
    }
    return NOVA_OK;
}
