/* federation.c: what OIDC and SAML sign-ins share (internal.h): the group->role mappings
 * (validated, stored, shown and applied with their time boxes) and the end of a federated
 * login: the user found by the IdP's subject or provisioned just in time, the roles its
 * groups map to set, and the session opened as a password sign-in opens one. */
#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nova/saml.h"

static bool role_ok(const char *r)
{
    size_t n = strlen(r);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= '0' && r[i] <= '9') || strchr("_:.-", r[i])))
            return false;
    return true;
}

bool people_printable(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

nova_status people_fed_mappings_parse(const json_t *v, json_t **out, const char **why)
{
    size_t n = json_is_array(v) ? json_array_size(v) : (size_t)-1, i;
    json_t *m, *arr = json_array();
    *out = NULL;
    if (n > NOVA_OIDC_MAX_MAPPINGS || arr == NULL) {
        json_decref(arr);
        *why = "role_mappings: an array of at most 64 {group, role, valid_until?}";
        return NOVA_INVALID;
    }
    json_array_foreach(v, i, m)
    {
        json_t *g = json_object_get(m, "group"), *r = json_object_get(m, "role");
        json_t *vu = json_object_get(m, "valid_until");
        if (!json_is_object(m) || json_object_size(m) != 2u + (vu != NULL) || !json_is_string(g) ||
            !people_printable(json_string_value(g), 256) || !json_is_string(r) ||
            !role_ok(json_string_value(r)) ||
            (vu && !json_is_null(vu) && (!json_is_integer(vu) || json_integer_value(vu) <= 0))) {
            json_decref(arr);
            *why = "role_mappings: each {group: 1..256 characters, role: [a-z0-9_:.-]{1,64}, "
                   "valid_until: unix seconds or null}";
            return NOVA_INVALID;
        }
        json_array_append_new(
            arr, json_pack("{s:O, s:O, s:I}", "group", g, "role", r, "valid_until",
                           (json_int_t)(json_is_integer(vu) ? json_integer_value(vu) : 0)));
    }
    *out = arr;
    return NOVA_OK;
}

void people_fed_mappings_view(nova_arena_t *ar, const json_t *arr, nova_oidc_mapping_t *out,
                              size_t *n)
{
    size_t i;
    json_t *v;
    *n = 0;
    json_array_foreach(arr, i, v) if (i < NOVA_OIDC_MAX_MAPPINGS)
    {
        nova_oidc_mapping_t *m = &out[(*n)++];
        m->group = nova_arena_strdup(ar, json_string_value(json_object_get(v, "group")));
        m->role = nova_arena_strdup(ar, json_string_value(json_object_get(v, "role")));
        m->valid_until = json_integer_value(json_object_get(v, "valid_until"));
    }
}

void people_fed_mappings_json(json_t *arr, const nova_oidc_mapping_t *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:s, s:s}", "group", m[i].group, "role", m[i].role);
        json_object_set_new(o, "valid_until",
                            m[i].valid_until ? json_integer(m[i].valid_until) : json_null());
        json_array_append_new(arr, o);
    }
}

const char *people_fed_roles(nova_arena_t *ar, const nova_oidc_mapping_t *maps, size_t nmaps,
                             const char *const *groups, size_t ngroups, int64_t now)
{
    nova_buf_t b;
    nova_buf_init(&b);
    for (size_t i = 0; i < nmaps; i++) {
        const nova_oidc_mapping_t *m = &maps[i];
        /* A contractor's mapping that has ended gives nothing. */
        if (m->valid_until != 0 && m->valid_until <= now)
            continue;
        bool member = false;
        for (size_t g = 0; g < ngroups && !member; g++)
            member = strcmp(groups[g], m->group) == 0;
        if (!member)
            continue;
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++) {
            const nova_oidc_mapping_t *o = &maps[j];
            if (strcmp(o->role, m->role) != 0 || (o->valid_until != 0 && o->valid_until <= now))
                continue;
            for (size_t g = 0; g < ngroups && !dup; g++)
                dup = strcmp(groups[g], o->group) == 0;
        }
        if (!dup)
            nova_buf_printf(&b, "%s%s", b.len ? " " : "", m->role);
    }
    const char *r = nova_arena_strndup(ar, b.data ? (const char *)b.data : "", b.len);
    nova_buf_free(&b);
    return r;
}

nova_status people_fed_open(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                            const nova_oidc_idp_row_t *row, const char *region_member,
                            const char *context, const char **out)
{
    *out = NULL;
    if (row->secret_sealed == NULL)
        return NOVA_OK;
    json_error_t err;
    json_t *c = json_loads(row->config, 0, &err);
    const char *region = json_string_value(json_object_get(c, region_member));
    char *text = NULL;
    size_t len = 0;
    nova_status st = people_open(p, s, ar, row->tenant_id, region ? region : "global", context,
                                 row->secret_sealed, row->secret_sealed_len, &text, &len);
    json_decref(c);
    *out = text;
    return st;
}

nova_status people_fed_failure_lines(nova_buf_t *out, const char *proto, const char *const *names,
                                     _Atomic uint64_t *counts, int n)
{
    nova_status st = NOVA_OK;
    /* Reason 0 is "none": a login, counted on its own line. */
    for (int f = 1; f < n && st == NOVA_OK; f++)
        st = nova_buf_printf(
            out, "nova_people_federation_failures_total{protocol=\"%s\",reason=\"%s\"} %llu\n",
            proto, names[f],
            (unsigned long long)atomic_load_explicit(&counts[f], memory_order_relaxed));
    return st;
}

static const char *const proto_names[NOVA_FED_PROTOCOL_N] = {"scim", "oidc", "saml"};

static nova_status link_get(const people_fed_subject_t *w, nova_store_t *s, nova_arena_t *ar,
                            const char **uid)
{
    return w->proto == NOVA_FED_SAML
               ? nova_store_saml_link_get(s, ar, w->tenant_id, w->idp_name, w->sub, uid)
               : nova_store_oidc_link_get(s, ar, w->tenant_id, w->idp_name, w->sub, uid);
}

static nova_status link_put(const people_fed_subject_t *w, nova_store_t *s, const char *uid,
                            const nova_audit_entry_t *ae)
{
    return w->proto == NOVA_FED_SAML ? nova_store_saml_link_put(s, w->tenant_id, w->idp_name,
                                                                w->sub, uid, nova_time_now(), ae)
                                     : nova_store_oidc_link_put(s, w->tenant_id, w->idp_name,
                                                                w->sub, uid, nova_time_now(), ae);
}

/* The user of the subject: linked, or provisioned now from its verified email. */
static nova_status find_or_provision(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                     const people_fed_subject_t *w, const nova_audit_actor_t *by,
                                     nova_user_view_t *u, people_fed_result *res, const char **why)
{
    const char *uid = NULL;
    nova_status st = link_get(w, s, ar, &uid);
    if (st == NOVA_OK)
        return nova_people_user_get(p, s, ar, w->tenant_id, uid, u);
    if (st != NOVA_NOT_FOUND)
        return st;
    if (w->email == NULL || !w->email_verified) {
        *res = PEOPLE_FED_PROVISIONING;
        *why = w->proto == NOVA_FED_SAML
                   ? "the IdP gave no email to provision the user with (the email attribute, "
                     "or an emailAddress NameID)"
                   : "the IdP gave no verified email to provision the user with "
                     "(email, email_verified)";
        return NOVA_OK;
    }
    nova_user_spec_t spec = {
        .email = w->email, .name = w->name, .roles = w->roles ? w->roles : "", .status = "active"};
    const char *uwhy = NULL;
    st = nova_people_user_create(p, s, ar, by, w->tenant_id, &spec, u, &uwhy);
    if (st == NOVA_CONFLICT || st == NOVA_INVALID) {
        *res = PEOPLE_FED_PROVISIONING;
        *why = st == NOVA_CONFLICT ? "a user with this email exists and is not linked to this IdP"
                                   : "the IdP's email or name cannot make a user";
        return NOVA_OK;
    }
    if (st)
        return st;
    nova_audit_entry_t ae;
    const char *action = w->proto == NOVA_FED_SAML ? "user.saml_link" : "user.oidc_link";
    st = nova_audit_entry_make(&ae, ar, by, w->tenant_id, action, "user", u->id,
                               json_pack("{s:s}", "idp", w->idp_id));
    if (st == NOVA_OK)
        st = link_put(w, s, u->id, &ae);
    if (st == NOVA_CONFLICT) {
        /* Two first logins of one subject raced: the other linked its user; this one goes. */
        nova_people_user_delete(p, s, ar, by, w->tenant_id, u->id);
        if ((st = link_get(w, s, ar, &uid)) == NOVA_OK)
            st = nova_people_user_get(p, s, ar, w->tenant_id, uid, u);
    }
    if (st == NOVA_OK)
        nova_people_count_provisioned(w->proto, NOVA_FED_CREATED);
    return st;
}

nova_status people_fed_login(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                             const people_fed_subject_t *w, const nova_login_request_t *req,
                             nova_login_result_t *out, people_fed_result *res, const char **why)
{
    *res = PEOPLE_FED_OK;
    const char *actor = nova_arena_printf(ar, "%s:%s", proto_names[w->proto], w->idp_id);
    if (actor == NULL)
        return NOVA_NOMEM;
    nova_audit_actor_t by = {.id = actor};
    nova_user_view_t u;
    nova_status st = find_or_provision(p, s, ar, w, &by, &u, res, why);
    if (st || *res)
        return st;
    if (strcmp(u.status, "active") != 0) {
        out->outcome = NOVA_LOGIN_SUSPENDED;
        out->user_id = u.id;
        *res = PEOPLE_FED_SUSPENDED;
        *why = "this account is suspended";
        return NOVA_OK;
    }
    /* The IdP is authoritative for the roles its mappings give: each login sets them. */
    if (w->roles && strcmp(w->roles, u.roles) != 0) {
        nova_user_spec_t spec = {.roles = w->roles};
        const char *uwhy = NULL;
        st = nova_people_user_update(p, s, ar, &by, w->tenant_id, u.id, &spec, &u, &uwhy);
        if (st == NOVA_INVALID) {
            *res = PEOPLE_FED_PROVISIONING;
            *why = "the roles the groups map to cannot be given (at most 16)";
            return NOVA_OK;
        }
        if (st)
            return st;
    }
    nova_login_request_t r = *req;
    r.tenant_id = w->tenant_id;
    int aal = w->aal >= 2 ? 2 : 1;
    st = people_session_open_fed(p, s, ar, &r, u.id, aal, aal >= 2 ? "fed mfa" : "fed", w->idp_id,
                                 w->sid, out);
    if (st)
        return st;
    /* An IdP deleted while this login ran: its delete revoked the sessions committed before it,
     * and this look, after the session's row and record exist, catches the rest. */
    nova_oidc_idp_row_t row;
    st = w->proto == NOVA_FED_SAML ? nova_store_saml_idp_get(s, ar, w->tenant_id, w->idp_id, &row)
                                   : nova_store_oidc_idp_get(s, ar, w->tenant_id, w->idp_id, &row);
    if (st == NOVA_NOT_FOUND) {
        st =
            nova_people_session_revoke(p, s, ar, &by, w->tenant_id, out->session.id, "idp_deleted");
        if (st == NOVA_NOT_FOUND)
            st = NOVA_OK; /* the delete's transaction revoked it; the record went first */
        memset(out, 0, sizeof(*out));
        out->outcome = NOVA_LOGIN_BAD;
        *res = PEOPLE_FED_UNKNOWN_IDP;
        *why = "the IdP was deleted";
        return st;
    }
    if (st)
        return st;
    out->outcome = NOVA_LOGIN_OK;
    out->user_id = u.id;
    return NOVA_OK;
}

nova_status people_fed_idp_delete(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                  const nova_audit_actor_t *by, nova_fed_protocol proto,
                                  const char *tenant_id, const char *id, const char *action,
                                  const char *target_type, json_t *attrs, size_t *nrevoked)
{
    const char **live = NULL, **ids = NULL;
    size_t nlive = 0, n = 0;
    int64_t now = nova_time_now();
    if (nrevoked)
        *nrevoked = 0;
    /* As for a user's sessions: the records every request reads go first, so a control plane
     * that cannot drop them changes nothing (503, retry). */
    nova_status st =
        nova_store_user_session_idp_live(s, ar, tenant_id, id, NULL, NULL, now, &live, &nlive);
    if (st == NOVA_INVALID)
        st = NOVA_NOT_FOUND;
    if (st == NOVA_OK)
        st = people_session_forget(p, ar, tenant_id, live, nlive, false);
    if (st) {
        json_decref(attrs);
        return st;
    }
    if (attrs)
        json_object_set_new(attrs, "sessions_revoked", json_integer((json_int_t)nlive));
    nova_audit_entry_t ae;
    st = nova_audit_entry_make(&ae, ar, by, tenant_id, action, target_type, id, attrs);
    if (st == NOVA_OK)
        st = proto == NOVA_FED_SAML
                 ? nova_store_saml_idp_delete(s, ar, tenant_id, id, now, &ae, &ids, &n)
                 : nova_store_oidc_idp_delete(s, ar, tenant_id, id, now, &ae, &ids, &n);
    if (st == NOVA_INVALID)
        st = NOVA_NOT_FOUND;
    if (st)
        return st;
    /* The ids the transaction revoked: those above, and any opened since the list. */
    (void)people_session_forget(p, ar, tenant_id, ids, n, true);
    if (nrevoked)
        *nrevoked = n;
    return NOVA_OK;
}

/* ---- IdP administration, both protocols ---- */

static const char *const proto_nouns[NOVA_FED_PROTOCOL_N] = {NULL, "oidc_idp", "saml_idp"};

static nova_status row_get(nova_store_t *s, nova_arena_t *ar, nova_fed_protocol proto,
                           const char *tenant_id, const char *id, nova_oidc_idp_row_t *row)
{
    nova_status st = proto == NOVA_FED_SAML ? nova_store_saml_idp_get(s, ar, tenant_id, id, row)
                                            : nova_store_oidc_idp_get(s, ar, tenant_id, id, row);
    return st == NOVA_INVALID ? NOVA_NOT_FOUND : st;
}

nova_status people_fed_apply_common(json_t *cfg, json_t *in, const char *const *members,
                                    bool create, const char *unknown_why, const char **why)
{
    const char *k;
    json_t *v;
    json_object_foreach(in, k, v)
    {
        size_t i = 0;
        while (members[i] && strcmp(members[i], k) != 0)
            i++;
        if (members[i] == NULL) {
            *why = unknown_why;
            return NOVA_INVALID;
        }
    }
    if ((v = json_object_get(in, "role_mappings")) != NULL) {
        json_t *out = NULL;
        nova_status st = people_fed_mappings_parse(v, &out, why);
        if (st)
            return st;
        json_object_set_new(cfg, "role_mappings", out);
    } else if (create) {
        json_object_set_new(cfg, "role_mappings", json_array());
    }
    if ((v = json_object_get(in, "enabled")) != NULL) {
        if (!json_is_boolean(v)) {
            *why = "enabled: a boolean";
            return NOVA_INVALID;
        }
        json_object_set(cfg, "enabled", v);
    } else if (create) {
        json_object_set_new(cfg, "enabled", json_true());
    }
    return NOVA_OK;
}

nova_status people_fed_idp_get(nova_store_t *s, nova_arena_t *ar, nova_fed_protocol proto,
                               const char *tenant_id, const char *id, people_fed_view_fn view,
                               void *out)
{
    nova_oidc_idp_row_t row;
    nova_status st = row_get(s, ar, proto, tenant_id, id, &row);
    return st ? st : view(ar, &row, out);
}

nova_status people_fed_idp_list(nova_store_t *s, nova_arena_t *ar, nova_fed_protocol proto,
                                const char *tenant_id, people_fed_view_fn view, size_t view_size,
                                void **out, size_t *n)
{
    nova_oidc_idp_row_t *rows;
    size_t nr;
    nova_status st = proto == NOVA_FED_SAML
                         ? nova_store_saml_idp_list(s, ar, tenant_id, &rows, &nr)
                         : nova_store_oidc_idp_list(s, ar, tenant_id, &rows, &nr);
    if (st)
        return st;
    char *views = nova_arena_alloc(ar, (nr ? nr : 1) * view_size);
    if (views == NULL)
        return NOVA_NOMEM;
    for (size_t i = 0; i < nr; i++)
        if ((st = view(ar, &rows[i], views + i * view_size)) != NOVA_OK)
            return st;
    *out = views;
    *n = nr;
    return NOVA_OK;
}

nova_status people_fed_idp_insert(nova_store_t *s, nova_arena_t *ar, const nova_audit_actor_t *by,
                                  nova_fed_protocol proto, const char *id, json_t *cfg,
                                  const char *name_member, nova_oidc_idp_row_t *row, json_t *attrs,
                                  const char *conflict_why, people_fed_view_fn view, void *out,
                                  const char **why)
{
    char *text = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
    nova_status st = text ? NOVA_OK : NOVA_NOMEM;
    if (st == NOVA_OK) {
        row->id = nova_arena_strdup(ar, id);
        row->issuer = nova_arena_strdup(ar, json_string_value(json_object_get(cfg, name_member)));
        row->config = nova_arena_strdup(ar, text);
        row->created_at = row->updated_at = nova_time_now();
        if (!row->id || !row->issuer || !row->config)
            st = NOVA_NOMEM;
    }
    free(text);
    const char *action = nova_arena_printf(ar, "%s.create", proto_nouns[proto]);
    nova_audit_entry_t ae;
    if (st == NOVA_OK && action == NULL)
        st = NOVA_NOMEM;
    if (st == NOVA_OK) {
        st = nova_audit_entry_make(&ae, ar, by, row->tenant_id, action, proto_nouns[proto], id,
                                   attrs);
        attrs = NULL;
    }
    json_decref(attrs);
    if (st == NOVA_OK)
        st = proto == NOVA_FED_SAML ? nova_store_saml_idp_create(s, row, &ae)
                                    : nova_store_oidc_idp_create(s, row, &ae);
    if (st == NOVA_CONFLICT)
        *why = conflict_why;
    return st ? st : view(ar, row, out);
}

nova_status people_fed_idp_update(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                  const nova_audit_actor_t *by, nova_fed_protocol proto,
                                  const char *tenant_id, const char *id, json_t *in,
                                  people_fed_apply_fn apply, people_fed_view_fn view, void *out,
                                  const char **why)
{
    json_error_t err;
    nova_oidc_idp_row_t row;
    nova_status st = row_get(s, ar, proto, tenant_id, id, &row);
    if (st)
        return st;
    if (!json_is_object(in)) {
        *why = "the body must be a JSON object";
        return NOVA_INVALID;
    }
    json_t *cfg = json_loads(row.config, JSON_REJECT_DUPLICATES, &err);
    if (cfg == NULL)
        return NOVA_INTERNAL;
    char *text = NULL;
    st = apply(p, s, ar, tenant_id, cfg, in, false, &row, why);
    if (st == NOVA_OK && (text = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
        st = NOVA_NOMEM;
    json_decref(cfg);
    if (st == NOVA_OK) {
        row.config = nova_arena_strdup(ar, text);
        row.updated_at = nova_time_now();
        st = row.config ? NOVA_OK : NOVA_NOMEM;
    }
    free(text);
    /* The names of the members changed, never their values (secrets, metadata). */
    json_t *changed = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(in, k, v) json_array_append_new(changed, json_string(k));
    const char *action = nova_arena_printf(ar, "%s.update", proto_nouns[proto]);
    nova_audit_entry_t ae;
    if (st == NOVA_OK && action == NULL)
        st = NOVA_NOMEM;
    if (st == NOVA_OK)
        st = nova_audit_entry_make(&ae, ar, by, tenant_id, action, proto_nouns[proto], id,
                                   json_pack("{s:O}", "changed", changed));
    json_decref(changed);
    if (st == NOVA_OK)
        st = proto == NOVA_FED_SAML ? nova_store_saml_idp_update(s, &row, &ae)
                                    : nova_store_oidc_idp_update(s, &row, &ae);
    return st ? st : view(ar, &row, out);
}

const nova_fed_idp_ops_t *nova_fed_idp_ops(nova_fed_protocol proto)
{
    return proto == NOVA_FED_OIDC   ? &people_oidc_idp_ops
           : proto == NOVA_FED_SAML ? &people_saml_idp_ops
                                    : NULL;
}

const nova_fed_idp_ops_t *nova_fed_idp_ops_named(const char *name)
{
    for (int proto = NOVA_FED_OIDC; name && proto <= NOVA_FED_SAML; proto++)
        if (strcmp(nova_fed_idp_ops(proto)->name, name) == 0)
            return nova_fed_idp_ops(proto);
    return NULL;
}

nova_status people_fed_logout_sessions(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                       nova_fed_protocol proto, const char *tenant_id,
                                       const char *idp_id, const char *sid, const char *user_id,
                                       const char *action, int64_t now, const char ***ids,
                                       size_t *n)
{
    *n = 0;
    if (ids)
        *ids = NULL;
    nova_assert(sid != NULL || user_id != NULL);
    const char **live = NULL, **gone = NULL;
    size_t nlive = 0, ngone = 0;
    nova_status st = nova_store_user_session_idp_live(s, ar, tenant_id, idp_id, sid, user_id, now,
                                                      &live, &nlive);
    if (st == NOVA_OK)
        st = people_session_forget(p, ar, tenant_id, live, nlive, false);
    if (st)
        return st;
    /* Audited as the IdP's act, with counts only: a sid and a subject are the IdP's
     * identifiers of a session and a person. */
    const char *actor = nova_arena_printf(ar, "%s:%s", proto_names[proto], idp_id);
    nova_audit_actor_t by = {.id = actor};
    nova_audit_entry_t ae;
    st = actor ? nova_audit_entry_make(&ae, ar, &by, tenant_id, action, proto_nouns[proto], idp_id,
                                       json_pack("{s:I, s:b, s:b}", "sessions", (json_int_t)nlive,
                                                 "sid", sid != NULL, "sub", user_id != NULL))
               : NOVA_NOMEM;
    if (st == NOVA_OK)
        st = nova_store_user_session_revoke_idp(s, ar, tenant_id, idp_id, sid, user_id,
                                                "idp_logout", now, &ae, &gone, &ngone);
    if (st)
        return st;
    (void)people_session_forget(p, ar, tenant_id, gone, ngone, true);
    if (ids)
        *ids = gone;
    *n = ngone;
    return NOVA_OK;
}
