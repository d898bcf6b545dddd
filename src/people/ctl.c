/* ctl.c: `novactl user create|list|suspend` (the command table in cmd/novactl.c calls this).
 * Exit codes as novactl's: 0 ok, 1 internal, 4 unavailable, 6 invalid input, 7 not found,
 * 8 conflict. With the in-process control plane novactl cannot reach a running novad's
 * session records: a suspension then ends the sessions' rows at once (no refresh) and their
 * access tokens within their 300 s lifetime; with Redis at once. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int exit_of(nova_status st)
{
    static const int codes[NOVA_STATUS_COUNT_] = {
        [NOVA_OK] = 0,           [NOVA_INVALID] = 6,   [NOVA_NOT_FOUND] = 7, [NOVA_CONFLICT] = 8,
        [NOVA_UNAUTHORIZED] = 1, [NOVA_FORBIDDEN] = 1, [NOVA_TOO_LARGE] = 6, [NOVA_UNAVAILABLE] = 4,
        [NOVA_INTERNAL] = 1,     [NOVA_NOMEM] = 1,
    };
    return (unsigned)st < NOVA_STATUS_COUNT_ ? codes[st] : 1;
}

static int failed(nova_status st, const char *what, const char *why)
{
    fprintf(stderr, "novactl: %s: %s\n", what, why ? why : nova_status_name(st));
    return exit_of(st);
}

static json_t *user_json(const nova_user_view_t *u)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", u->id, "tenant_id", u->tenant_id, "email",
                  u->email, "status", u->status, "roles", u->roles, "totp", u->totp_state);
    if (o && u->name)
        json_object_set_new(o, "name", json_string(u->name));
    return o;
}

static void print(json_t *o, bool json, const nova_user_view_t *u)
{
    if (json) {
        char *t = json_dumps(o, JSON_COMPACT);
        if (t)
            puts(t);
        free(t);
    } else if (u) {
        printf("%s  %s  %s  %s\n", u->id, u->status, u->email, u->roles);
    }
    json_decref(o);
}

int nova_people_ctl_user(nova_auth_t *auth, nova_store_t *s, const char *redis_url,
                         const char *verb, const char *tenant_id, const char *name,
                         const char *const *args, bool json)
{
    char err[256] = "";
    nova_kv_t *kv = NULL;
    nova_people_t *p = NULL;
    nova_arena_t ar;
    nova_status st = nova_kv_open(redis_url ? redis_url : "", NULL, &kv, err, sizeof(err));
    if (st)
        return failed(st, "cannot open the control plane", err);
    nova_people_config_t cfg = {0};
    if ((st = nova_people_new(auth, kv, &cfg, &p)) != NOVA_OK) {
        nova_kv_close(kv);
        return failed(st, "people", NULL);
    }
    nova_arena_init(&ar, 4096);
    nova_audit_actor_t by = {.id = "novactl"};
    int rc = 0;
    if (strcmp(verb, "create") == 0) {
        nova_user_spec_t spec = {.email = args[0], .name = name};
        nova_user_view_t u;
        const char *why = NULL;
        st = nova_people_user_create(p, s, &ar, &by, tenant_id, &spec, &u, &why);
        if (st)
            rc = failed(st, "cannot create the user",
                        st == NOVA_CONFLICT ? "the tenant has a user with this email" : why);
        else
            print(user_json(&u), json, &u);
    } else if (strcmp(verb, "list") == 0) {
        const char *after = NULL;
        json_t *arr = json_array();
        for (;;) {
            nova_user_view_t *u;
            size_t n;
            st = nova_people_user_list(p, s, &ar, tenant_id, after, 200, &u, &n);
            if (st)
                break;
            for (size_t i = 0; i < n; i++) {
                if (json)
                    json_array_append_new(arr, user_json(&u[i]));
                else
                    print(NULL, false, &u[i]);
            }
            if (n < 200)
                break;
            after = u[n - 1].id;
        }
        if (st) {
            json_decref(arr);
            rc = failed(st, "cannot list users", NULL);
        } else {
            print(json ? json_pack("{s:o}", "users", arr) : (json_decref(arr), NULL), json, NULL);
        }
    } else {
        nova_user_spec_t spec = {.status = "suspended"};
        nova_user_view_t u;
        const char *why = NULL;
        st = nova_people_user_update(p, s, &ar, &by, tenant_id, args[0], &spec, &u, &why);
        if (st)
            rc = failed(st, "cannot suspend the user",
                        st == NOVA_NOT_FOUND || st == NOVA_INVALID ? "no such user" : why);
        else
            print(user_json(&u), json, &u);
    }
    nova_arena_free(&ar);
    nova_people_free(p);
    nova_kv_close(kv);
    return rc;
}
