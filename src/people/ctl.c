/* ctl.c: `novactl user create|list|suspend` and `novactl idp list|delete` (the command table in
 * cmd/novactl.c calls these).
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

/* The control plane and the people module for one novactl command. */
typedef struct ctl_env {
    nova_kv_t *kv;
    nova_people_t *p;
} ctl_env;

static int env_open(ctl_env *e, nova_auth_t *auth, const char *redis_url)
{
    char err[256] = "";
    memset(e, 0, sizeof(*e));
    nova_status st = nova_kv_open(redis_url ? redis_url : "", NULL, &e->kv, err, sizeof(err));
    if (st)
        return failed(st, "cannot open the control plane", err);
    nova_people_config_t cfg = {0};
    if ((st = nova_people_new(auth, e->kv, &cfg, &e->p)) != NOVA_OK) {
        nova_kv_close(e->kv);
        return failed(st, "people", NULL);
    }
    return 0;
}

static void env_close(ctl_env *e)
{
    nova_people_free(e->p);
    nova_kv_close(e->kv);
}

int nova_people_ctl_user(nova_auth_t *auth, nova_store_t *s, const char *redis_url,
                         const char *verb, const char *tenant_id, const char *name,
                         const char *const *args, bool json)
{
    ctl_env e;
    int rc = env_open(&e, auth, redis_url);
    if (rc)
        return rc;
    nova_people_t *p = e.p;
    nova_arena_t ar;
    nova_arena_init(&ar, 4096);
    nova_audit_actor_t by = {.id = "novactl"};
    nova_status st;
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
    env_close(&e);
    return rc;
}

/* The protocol of an IdP id by its prefix ("oidp_", "sidp_"). */
static const nova_fed_idp_ops_t *idp_ops_of(const char *id)
{
    if (strncmp(id, "oidp_", 5) == 0)
        return nova_fed_idp_ops(NOVA_FED_OIDC);
    if (strncmp(id, "sidp_", 5) == 0)
        return nova_fed_idp_ops(NOVA_FED_SAML);
    return NULL;
}

int nova_people_ctl_idp(nova_auth_t *auth, nova_store_t *s, const char *redis_url, const char *verb,
                        const char *tenant_id, const char *const *args, bool json)
{
    ctl_env e;
    int rc = env_open(&e, auth, redis_url);
    if (rc)
        return rc;
    nova_arena_t ar;
    nova_arena_init(&ar, 16384);
    nova_status st = NOVA_OK;
    if (strcmp(verb, "list") == 0) {
        json_t *arr = json_array();
        for (int proto = NOVA_FED_OIDC; st == NOVA_OK && proto <= NOVA_FED_SAML; proto++) {
            const nova_fed_idp_ops_t *ops = nova_fed_idp_ops(proto);
            void *views;
            size_t n;
            if ((st = ops->list(s, &ar, tenant_id, &views, &n)) != NOVA_OK)
                break;
            for (size_t i = 0; i < n; i++) {
                json_t *o = ops->to_json((const char *)views + i * ops->view_size);
                json_object_set_new(o, "protocol", json_string(ops->name));
                json_array_append_new(arr, o);
            }
        }
        if (st) {
            rc = failed(st, "cannot list the IdPs", NULL);
        } else if (json) {
            print(json_pack("{s:O}", "idps", arr), true, NULL);
        } else {
            size_t i;
            json_t *o;
            json_array_foreach(arr, i, o)
            {
                json_t *name = json_object_get(o, "issuer");
                printf("%s  %s  %s  %s\n", json_string_value(json_object_get(o, "id")),
                       json_string_value(json_object_get(o, "protocol")),
                       json_is_true(json_object_get(o, "enabled")) ? "enabled" : "disabled",
                       json_string_value(name ? name : json_object_get(o, "entity_id")));
            }
        }
        json_decref(arr);
    } else {
        /* As DELETE /v1/people/<proto>/idps/{id}: audited <proto>_idp.delete (actor novactl),
         * the IdP's sessions revoked. */
        const nova_fed_idp_ops_t *ops = idp_ops_of(args[0]);
        nova_audit_actor_t by = {.id = "novactl"};
        st = ops ? ops->remove(e.p, s, &ar, &by, tenant_id, args[0]) : NOVA_NOT_FOUND;
        if (st)
            rc = failed(st, "cannot delete the IdP",
                        st == NOVA_NOT_FOUND ? "the tenant has no IdP of this id" : NULL);
        else if (json)
            print(json_pack("{s:s, s:s, s:b}", "id", args[0], "protocol", ops->name, "deleted", 1),
                  true, NULL);
        else
            printf("%s  deleted\n", args[0]);
    }
    nova_arena_free(&ar);
    env_close(&e);
    return rc;
}

/* A drill user by email, made when absent (no password: the drill opens its sessions). */
static nova_status drill_user(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                              const char *tenant, const char *email, const char *roles,
                              const char **id)
{
    const people_keys_t *k;
    char idx[65];
    nova_user_t u;
    nova_status st = people_keys_get(p, s, tenant, &k);
    if (st)
        return st;
    people_email_index(k, email, idx);
    st = nova_store_user_find_email(s, ar, tenant, idx, &u);
    if (st == NOVA_OK) {
        *id = u.id;
        return NOVA_OK;
    }
    if (st != NOVA_NOT_FOUND)
        return st;
    nova_audit_actor_t by = {.id = "novactl"};
    nova_user_spec_t spec = {.email = email, .roles = roles, .name = "break-glass drill"};
    nova_user_view_t v;
    const char *why;
    st = nova_people_user_create(p, s, ar, &by, tenant, &spec, &v, &why);
    *id = v.id;
    return st;
}

/* A session of user_id opened by the drill, as claims. */
static nova_status drill_session(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                 const char *tenant, const char *user_id, nova_user_claims_t *c)
{
    nova_login_request_t req = {.tenant_id = tenant,
                                .device = "novactl breakglass drill",
                                .ip = "",
                                .session_timeout_minutes = 5};
    nova_login_result_t g;
    const char *why;
    nova_status st = people_session_open(p, s, ar, &req, user_id, 2, "drill", false, NULL, &g);
    return st ? st
              : nova_people_token_verify(p, s, ar, g.access_token, "", "novactl breakglass drill",
                                         c, &why);
}

int nova_people_ctl_breakglass_drill(nova_auth_t *auth, nova_store_t *s, const char *redis_url,
                                     const char *tenant_id, bool json)
{
    char err[256] = "", ticket[40];
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
    nova_arena_init(&ar, 8192);
    const char *req_id = NULL, *a1 = NULL, *a2 = NULL, *why = NULL, *token = NULL;
    nova_user_claims_t rc, c1, c2, jc;
    nova_access_request_t q;
    bool refused_one = false, verified = false;
    snprintf(ticket, sizeof(ticket), "DRILL-%lld", (long long)nova_time_now());
    /* Three drill accounts: a requester and two approvers. */
    st = drill_user(p, s, &ar, tenant_id, "breakglass-drill@drill.invalid", "", &req_id);
    if (st == NOVA_OK)
        st = drill_user(p, s, &ar, tenant_id, "breakglass-approver-1@drill.invalid",
                        "access-approver", &a1);
    if (st == NOVA_OK)
        st = drill_user(p, s, &ar, tenant_id, "breakglass-approver-2@drill.invalid",
                        "access-approver", &a2);
    if (st == NOVA_OK)
        st = drill_session(p, s, &ar, tenant_id, req_id, &rc);
    if (st == NOVA_OK)
        st = drill_session(p, s, &ar, tenant_id, a1, &c1);
    if (st == NOVA_OK)
        st = drill_session(p, s, &ar, tenant_id, a2, &c2);
    nova_access_spec_t spec = {.role = "drill:breakglass",
                               .reason = "break-glass drill run by novactl",
                               .ticket = ticket,
                               .duration_s = 60,
                               .break_glass = true};
    if (st == NOVA_OK)
        st = nova_people_access_request(p, s, &ar, &rc, &spec, &q, &why);
    const char *qid = st == NOVA_OK ? nova_arena_strdup(&ar, q.id) : NULL;
    if (st == NOVA_OK)
        st = nova_people_access_approve(p, s, &ar, &c1, qid, &q, &why);
    if (st == NOVA_OK) {
        /* The drill's point: one approval must not open break-glass. */
        nova_status one = nova_people_access_activate(p, s, &ar, &rc, qid, &q, &token, &why);
        refused_one = one == NOVA_CONFLICT;
        st = nova_people_access_approve(p, s, &ar, &c2, qid, &q, &why);
    }
    if (st == NOVA_OK)
        st = nova_people_access_activate(p, s, &ar, &rc, qid, &q, &token, &why);
    if (st == NOVA_OK) {
        st = nova_people_token_verify(p, s, &ar, token, "", "novactl breakglass drill", &jc, &why);
        verified = st == NOVA_OK && jc.jit && strcmp(jc.jit, qid) == 0;
    }
    /* End the drill's sessions, the credential with them. */
    nova_audit_actor_t by = {.id = "novactl"};
    size_t n;
    for (int i = 0; i < 3; i++) {
        const char *u = i == 0 ? req_id : i == 1 ? a1 : a2;
        if (u)
            (void)nova_people_session_revoke_user(p, s, &ar, &by, tenant_id, u, "drill_end", &n);
    }
    int rc_exit = 0;
    if (st)
        rc_exit = failed(st, "the break-glass drill failed", why);
    else if (!refused_one || !verified)
        rc_exit = failed(NOVA_INTERNAL, "the break-glass drill failed",
                         !refused_one ? "one approval opened break-glass"
                                      : "the credential did not verify");
    else if (json)
        print(json_pack("{s:s, s:s, s:b, s:b, s:b, s:I}", "request", qid, "ticket", ticket,
                        "refused_with_one_approval", refused_one, "opened_with_two", true,
                        "credential_verified", verified, "expires_at", (json_int_t)q.expires_at),
              true, NULL);
    else
        printf("break-glass drill %s (%s): one approval refused, two opened it, the credential "
               "verified, sessions ended\n",
               qid, ticket);
    nova_arena_free(&ar);
    nova_people_free(p);
    nova_kv_close(kv);
    return rc_exit;
}
