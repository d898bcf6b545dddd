/*
 * groups.c: a tenant's groups as its IdP provisions them through SCIM (issue 11 item 8), and
 * the roles they give.
 *
 * Roles: the tenant maps group names to roles (nova_people_group_roles_put); a member of a
 * mapped group holds the group's roles. A group's own name is never taken as a role: an IdP
 * that could name a group "admin" would otherwise give itself any role Nova knows, so a role
 * comes from a group only through a mapping the tenant's backend wrote. Which of a user's
 * roles come from groups is kept (scim_role_grants), so that leaving a group takes away
 * exactly the roles only groups gave: a role the user held before any group gave it is the
 * user's own and stays. Groups are authoritative for their roles: when a user's roles are set
 * (nova_people_user_update: /v1/users, a SCIM User PUT without roles as Okta sends it, a roles
 * PATCH), the roles its groups give are added back at once (people_group_roles_refresh).
 *
 * Every change runs in two steps: the group, its members and the grants in one transaction
 * (audited "scim_group.*"), then each member's roles through nova_people_user_update (audited
 * "user.update"). The grants are written first, so a crash between the two leaves grants that
 * the next recompute corrects, never a group role taken for the user's own.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nova/people.h"

#define ROLES_MAX 16
#define WORDS_MAX 256

static bool text_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max || !nova_utf8_valid(s, n))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static char *name_key(nova_arena_t *ar, const char *name)
{
    char *k = nova_arena_strndup(ar, name, strlen(name));
    for (char *c = k; c && *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    return k;
}

/* ---- word sets (space-separated role lists) ---- */

typedef struct words {
    const char *w[WORDS_MAX];
    size_t n;
} words;

static bool words_has(const words *ws, const char *w)
{
    for (size_t i = 0; i < ws->n; i++)
        if (strcmp(ws->w[i], w) == 0)
            return true;
    return false;
}

static nova_status words_add(words *ws, const char *w)
{
    if (words_has(ws, w))
        return NOVA_OK;
    if (ws->n == WORDS_MAX)
        return NOVA_INVALID;
    ws->w[ws->n++] = w;
    return NOVA_OK;
}

static nova_status words_of(nova_arena_t *ar, const char *s, words *out)
{
    out->n = 0;
    for (const char *p = s ? s : ""; *p;) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if (e > p) {
            char *w = nova_arena_strndup(ar, p, (size_t)(e - p));
            if (w == NULL)
                return NOVA_NOMEM;
            nova_status st = words_add(out, w);
            if (st)
                return st;
        }
        p = e;
    }
    return NOVA_OK;
}

static const char *words_join(nova_arena_t *ar, const words *ws)
{
    size_t len = 1;
    for (size_t i = 0; i < ws->n; i++)
        len += strlen(ws->w[i]) + 1;
    char *out = nova_arena_alloc(ar, len), *p = out;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < ws->n; i++) {
        size_t l = strlen(ws->w[i]);
        if (i)
            *p++ = ' ';
        memcpy(p, ws->w[i], l);
        p += l;
    }
    *p = '\0';
    return out;
}

/* ---- the roles plan ---- */

/* One group as the plan sees it after the change: its name key and members. */
typedef struct group_after {
    const char *id;
    const char *key; /* NULL: the group is gone */
    const char *const *members;
    size_t nmembers;
} group_after;

typedef struct role_update {
    const char *user_id;
    const char *roles;
} role_update;

typedef struct plan {
    nova_scim_grant_t *grants;
    size_t ngrants;
    role_update *updates;
    size_t nupdates;
} plan;

static bool in_list(const char *const *l, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i], s) == 0)
            return true;
    return false;
}

/* What the roles of users[0..n) become after the change (changed: one group as it will be,
 * or NULL) under the mapping rows: the grants to store and the role lists to write.
 * NOVA_INVALID with *why when a user would hold more than ROLES_MAX roles. */
static nova_status roles_plan(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                              const group_after *changed, const nova_scim_group_role_t *rows,
                              size_t nrows, const char *const *users, size_t n, plan *out,
                              const char **why)
{
    memset(out, 0, sizeof(*out));
    if (n == 0)
        return NOVA_OK;
    nova_scim_group_t *groups;
    nova_scim_member_t *mem;
    nova_scim_grant_t *grants;
    size_t ng, nm, ngr;
    nova_status st = nova_store_scim_group_list(s, ar, tenant_id, &groups, &ng);
    if (st == NOVA_OK)
        st = nova_store_scim_members(s, ar, tenant_id, NULL, NULL, &mem, &nm);
    if (st == NOVA_OK)
        st = nova_store_scim_grants(s, ar, tenant_id, &grants, &ngr);
    if (st)
        return st;
    out->grants = nova_arena_alloc(ar, n * sizeof(*out->grants));
    out->updates = nova_arena_alloc(ar, n * sizeof(*out->updates));
    words *cur = nova_arena_alloc(ar, sizeof(words) * 4);
    if (out->grants == NULL || out->updates == NULL || cur == NULL)
        return NOVA_NOMEM;
    words *old = cur + 1, *granted = cur + 2, *next = cur + 3;
    for (size_t u = 0; u < n; u++) {
        nova_user_t row;
        st = nova_store_user_get(s, ar, tenant_id, users[u], &row);
        if (st == NOVA_NOT_FOUND || st == NOVA_INVALID)
            continue; /* gone meanwhile: nothing to give it */
        if (st)
            return st;
        const char *old_s = "";
        for (size_t i = 0; i < ngr; i++)
            if (strcmp(grants[i].user_id, users[u]) == 0)
                old_s = grants[i].roles;
        /* The keys of the user's groups after the change. */
        words keys = {.n = 0};
        for (size_t i = 0; i < nm && st == NOVA_OK; i++) {
            if (strcmp(mem[i].user_id, users[u]) != 0 ||
                (changed && strcmp(mem[i].group_id, changed->id) == 0))
                continue;
            for (size_t g = 0; g < ng; g++)
                if (strcmp(groups[g].id, mem[i].group_id) == 0) {
                    const char *k = name_key(ar, groups[g].display_name);
                    st = k ? words_add(&keys, k) : NOVA_NOMEM;
                }
        }
        if (st == NOVA_OK && changed && changed->key &&
            in_list(changed->members, changed->nmembers, users[u]))
            st = words_add(&keys, changed->key);
        if (st == NOVA_OK)
            st = words_of(ar, row.roles, cur);
        if (st == NOVA_OK)
            st = words_of(ar, old_s, old);
        granted->n = 0;
        for (size_t i = 0; st == NOVA_OK && i < nrows; i++)
            if (words_has(&keys, rows[i].name_key))
                st = words_add(granted, rows[i].role);
        if (st)
            return st == NOVA_INVALID ? (*why = "too many groups or roles", st) : st;
        /* own = cur - old; record = granted - own; next = own + record */
        next->n = 0;
        for (size_t i = 0; i < cur->n; i++)
            if (!words_has(old, cur->w[i]))
                (void)words_add(next, cur->w[i]);
        words record = {.n = 0};
        for (size_t i = 0; i < granted->n; i++)
            if (!words_has(next, granted->w[i])) {
                (void)words_add(&record, granted->w[i]);
                (void)words_add(next, granted->w[i]);
            }
        if (next->n > ROLES_MAX) {
            *why = "members: a member would hold more than 16 roles with this group's roles";
            return NOVA_INVALID;
        }
        const char *rec_s = words_join(ar, &record), *next_s = words_join(ar, next);
        if (rec_s == NULL || next_s == NULL)
            return NOVA_NOMEM;
        if (strcmp(rec_s, old_s) != 0)
            out->grants[out->ngrants++] = (nova_scim_grant_t){users[u], rec_s};
        if (strcmp(next_s, row.roles ? row.roles : "") != 0)
            out->updates[out->nupdates++] = (role_update){users[u], next_s};
    }
    return NOVA_OK;
}

/* Writes the planned role lists (the grants are already stored). */
static nova_status plan_apply(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                              const nova_audit_actor_t *by, const char *tenant_id, const plan *pl)
{
    for (size_t i = 0; i < pl->nupdates; i++) {
        nova_user_spec_t spec = {.roles = pl->updates[i].roles};
        nova_user_view_t v;
        const char *why = NULL;
        nova_status st = nova_people_user_update(p, s, ar, by, tenant_id, pl->updates[i].user_id,
                                                 &spec, &v, &why);
        if (st && st != NOVA_NOT_FOUND)
            return st;
    }
    return NOVA_OK;
}

nova_status people_group_roles_refresh(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                       const nova_audit_actor_t *by, const char *tenant_id,
                                       const char *user_id, bool *changed)
{
    nova_scim_group_role_t *rows;
    size_t nrows;
    plan pl;
    const char *why = NULL;
    *changed = false;
    nova_status st = nova_store_scim_group_roles(s, ar, tenant_id, &rows, &nrows);
    if (st == NOVA_OK)
        st = roles_plan(s, ar, tenant_id, NULL, rows, nrows, &user_id, 1, &pl, &why);
    if (st == NOVA_INVALID)
        return NOVA_OK; /* more than 16 roles with the groups': the roles stay as set */
    if (st == NOVA_OK && pl.ngrants) {
        nova_audit_entry_t ae;
        st = nova_audit_entry_make(&ae, ar, by, tenant_id, "user.scim_grants", "user", user_id,
                                   json_pack("{s:b}", "roles", 1));
        if (st == NOVA_OK)
            st = nova_store_scim_grants_put(s, tenant_id, pl.grants, pl.ngrants, &ae);
    }
    if (st == NOVA_OK && pl.nupdates) {
        *changed = true;
        st = plan_apply(p, s, ar, by, tenant_id, &pl);
    }
    return st;
}

/* ---- groups ---- */

static nova_status view_of(nova_store_t *s, nova_arena_t *ar, const nova_scim_group_t *g,
                           nova_group_view_t *out)
{
    nova_scim_member_t *m;
    size_t n;
    nova_status st = nova_store_scim_members(s, ar, g->tenant_id, g->id, NULL, &m, &n);
    if (st)
        return st;
    out->id = g->id;
    out->display_name = g->display_name;
    out->external_id = g->external_id;
    out->version = g->version;
    out->created_at = g->created_at;
    out->updated_at = g->updated_at;
    out->members = nova_arena_alloc(ar, (n ? n : 1) * sizeof(char *));
    if (out->members == NULL)
        return NOVA_NOMEM;
    for (size_t i = 0; i < n; i++)
        out->members[i] = m[i].user_id;
    out->nmembers = n;
    return NOVA_OK;
}

nova_status nova_people_group_get(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                  const char *id, nova_group_view_t *out)
{
    nova_scim_group_t g;
    memset(out, 0, sizeof(*out));
    nova_status st = nova_store_scim_group_get(s, ar, tenant_id, id, &g);
    if (st == NOVA_INVALID)
        st = NOVA_NOT_FOUND;
    return st ? st : view_of(s, ar, &g, out);
}

nova_status nova_people_group_list(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                   nova_group_view_t **out, size_t *n)
{
    nova_scim_group_t *g;
    nova_scim_member_t *m;
    size_t ng, nm;
    *out = NULL;
    *n = 0;
    nova_status st = nova_store_scim_group_list(s, ar, tenant_id, &g, &ng);
    if (st == NOVA_OK)
        st = nova_store_scim_members(s, ar, tenant_id, NULL, NULL, &m, &nm);
    if (st)
        return st;
    nova_group_view_t *v = nova_arena_alloc(ar, (ng ? ng : 1) * sizeof(*v));
    const char **ids = nova_arena_alloc(ar, (nm ? nm : 1) * sizeof(char *));
    if (v == NULL || ids == NULL)
        return NOVA_NOMEM;
    /* Memberships come ordered by group: each group's members are one run of ids. */
    for (size_t i = 0; i < nm; i++)
        ids[i] = m[i].user_id;
    for (size_t i = 0; i < ng; i++) {
        v[i] = (nova_group_view_t){.id = g[i].id,
                                   .display_name = g[i].display_name,
                                   .external_id = g[i].external_id,
                                   .version = g[i].version,
                                   .created_at = g[i].created_at,
                                   .updated_at = g[i].updated_at};
        size_t a = 0;
        while (a < nm && strcmp(m[a].group_id, g[i].id) != 0)
            a++;
        size_t b = a;
        while (b < nm && strcmp(m[b].group_id, g[i].id) == 0)
            b++;
        v[i].members = ids + a;
        v[i].nmembers = b - a;
    }
    *out = v;
    *n = ng;
    return NOVA_OK;
}

nova_status nova_people_user_groups(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                    const char *user_id, nova_scim_member_t **out, size_t *n)
{
    return nova_store_scim_members(s, ar, tenant_id, NULL, user_id, out, n);
}

/* The spec's members, checked and without repeats, in ar. */
static nova_status members_of(nova_arena_t *ar, const nova_group_spec_t *spec, const char ***out,
                              size_t *n, const char **why)
{
    *n = 0;
    *out = nova_arena_alloc(ar, (spec->nmembers ? spec->nmembers : 1) * sizeof(char *));
    if (*out == NULL)
        return NOVA_NOMEM;
    if (spec->nmembers > NOVA_GROUP_MAX_MEMBERS) {
        *why = "members: at most 1000 members in a group";
        return NOVA_INVALID;
    }
    for (size_t i = 0; i < spec->nmembers; i++) {
        const char *m = spec->members[i];
        if (m == NULL || strlen(m) == 0 || strlen(m) > 64) {
            *why = "members[].value: the id of a user of this tenant";
            return NOVA_INVALID;
        }
        if (!in_list(*out, *n, m))
            (*out)[(*n)++] = m;
    }
    return NOVA_OK;
}

static nova_status spec_check(const nova_group_spec_t *spec, bool create, const char **why)
{
    if ((create || spec->display_name) && !text_ok(spec->display_name, 256))
        *why = "displayName: 1 to 256 bytes of UTF-8 without control characters";
    else if (spec->has_external && spec->external_id && !text_ok(spec->external_id, 256))
        *why = "externalId: 1 to 256 bytes of UTF-8 without control characters";
    return *why ? NOVA_INVALID : NOVA_OK;
}

/* The write shared by create and update: the diff, the roles plan, the store, the roles. */
static nova_status group_write(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                               const nova_audit_actor_t *by, const char *tenant_id,
                               const nova_scim_group_t *before, const nova_group_spec_t *spec,
                               nova_group_view_t *out, nova_group_change_t *change,
                               const char **why)
{
    bool create = before == NULL;
    const char **before_m = NULL, **after_m = NULL;
    size_t nbefore = 0, nafter = 0;
    char id[64];
    nova_status st = NOVA_OK;
    memset(change, 0, sizeof(*change));
    if (!create) {
        nova_scim_member_t *m;
        st = nova_store_scim_members(s, ar, tenant_id, before->id, NULL, &m, &nbefore);
        if (st)
            return st;
        before_m = nova_arena_alloc(ar, (nbefore ? nbefore : 1) * sizeof(char *));
        if (before_m == NULL)
            return NOVA_NOMEM;
        for (size_t i = 0; i < nbefore; i++)
            before_m[i] = m[i].user_id;
    }
    if (spec->has_members) {
        if ((st = members_of(ar, spec, &after_m, &nafter, why)) != NOVA_OK)
            return st;
    } else {
        after_m = before_m;
        nafter = nbefore;
    }
    nova_scim_group_t g = {.tenant_id = tenant_id, .version = 1};
    int64_t now = nova_time_now();
    if (create) {
        if ((st = nova_id_new("grp", id, sizeof(id))) != NOVA_OK)
            return st;
        g.id = nova_arena_strndup(ar, id, strlen(id));
        g.created_at = now;
        g.display_name = spec->display_name;
        g.external_id = spec->has_external ? spec->external_id : NULL;
    } else {
        g = *before;
        g.version = before->version + 1;
        if (spec->display_name)
            g.display_name = spec->display_name;
        if (spec->has_external)
            g.external_id = spec->external_id;
    }
    g.updated_at = now;
    const char *key = name_key(ar, g.display_name);
    change->added = nova_arena_alloc(ar, (nafter ? nafter : 1) * sizeof(char *));
    change->removed = nova_arena_alloc(ar, (nbefore ? nbefore : 1) * sizeof(char *));
    if (g.id == NULL || key == NULL || change->added == NULL || change->removed == NULL)
        return NOVA_NOMEM;
    for (size_t i = 0; i < nafter; i++)
        if (!in_list(before_m, nbefore, after_m[i]))
            change->added[change->nadded++] = after_m[i];
    for (size_t i = 0; i < nbefore; i++)
        if (!in_list(after_m, nafter, before_m[i]))
            change->removed[change->nremoved++] = before_m[i];
    /* Whose roles may change: who joined or left, and every member when the name (the key of
     * the mapping) changes. */
    bool renamed = !create && strcmp(name_key(ar, before->display_name), key) != 0;
    size_t naff = 0;
    const char **aff = nova_arena_alloc(ar, (nafter + nbefore + 1) * sizeof(char *));
    if (aff == NULL)
        return NOVA_NOMEM;
    for (size_t i = 0; i < change->nadded; i++)
        aff[naff++] = change->added[i];
    for (size_t i = 0; i < change->nremoved; i++)
        aff[naff++] = change->removed[i];
    for (size_t i = 0; renamed && i < nafter; i++)
        if (!in_list(aff, naff, after_m[i]))
            aff[naff++] = after_m[i];
    nova_scim_group_role_t *rows;
    size_t nrows;
    plan pl;
    group_after ga = {g.id, key, after_m, nafter};
    st = nova_store_scim_group_roles(s, ar, tenant_id, &rows, &nrows);
    if (st == NOVA_OK && naff)
        st = roles_plan(s, ar, tenant_id, &ga, rows, nrows, aff, naff, &pl, why);
    else
        memset(&pl, 0, sizeof(pl));
    if (st)
        return st;
    json_t *changed = json_array();
    if (spec->display_name && (create || strcmp(spec->display_name, before->display_name)))
        json_array_append_new(changed, json_string("displayName"));
    if (spec->has_external)
        json_array_append_new(changed, json_string("externalId"));
    if (change->nadded || change->nremoved)
        json_array_append_new(changed, json_string("members"));
    nova_audit_entry_t ae;
    st = nova_audit_entry_make(
        &ae, ar, by, tenant_id, create ? "scim_group.create" : "scim_group.update", "scim_group",
        g.id,
        json_pack("{s:o, s:I, s:I, s:I, s:I}", "changed", changed, "members_added",
                  (json_int_t)change->nadded, "members_removed", (json_int_t)change->nremoved,
                  "members", (json_int_t)nafter, "role_changes", (json_int_t)pl.nupdates));
    if (st == NOVA_OK && p->group_tuples)
        st = p->group_tuples(p->group_tuples_ud, s, ar, by, tenant_id, g.id, after_m, nafter,
                             change->removed, change->nremoved, &change->fga, &change->nfga);
    nova_scim_group_write_t w = {.group = &g,
                                 .name_key = key,
                                 .create = create,
                                 .expect = create ? 0 : before->version,
                                 .add = change->added,
                                 .nadd = change->nadded,
                                 .remove = change->removed,
                                 .nremove = change->nremoved,
                                 .grants = pl.grants,
                                 .ngrants = pl.ngrants,
                                 .fga = change->fga,
                                 .nfga = change->nfga};
    const char *what = NULL;
    if (st == NOVA_OK)
        st = nova_store_scim_group_write(s, &w, &ae, &what);
    if (st == NOVA_CONFLICT && what && strcmp(what, "policy_tuple") == 0)
        *why = "members: a policy store holds a member's tuple of this group with a condition; "
               "delete that tuple first";
    else if (st == NOVA_CONFLICT)
        *why = what && strcmp(what, "version") == 0 ? "version"
               : what && strcmp(what, "externalId") == 0
                   ? "externalId: another group of this tenant has it"
                   : "displayName: another group of this tenant has this name";
    else if (st == NOVA_INVALID && what)
        *why = "members[].value: not a user of this tenant";
    if (st == NOVA_OK && change->nfga && p->group_tuples_synced)
        p->group_tuples_synced(p->group_tuples_ud, s, tenant_id, change->fga, change->nfga);
    if (st == NOVA_OK)
        st = plan_apply(p, s, ar, by, tenant_id, &pl);
    if (st == NOVA_OK)
        st = nova_people_group_get(s, ar, tenant_id, g.id, out);
    return st;
}

nova_status nova_people_group_create(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                     const nova_audit_actor_t *by, const char *tenant_id,
                                     const nova_group_spec_t *spec, nova_group_view_t *out,
                                     nova_group_change_t *change, const char **why)
{
    *why = NULL;
    memset(change, 0, sizeof(*change));
    nova_status st = spec_check(spec, true, why);
    return st ? st : group_write(p, s, ar, by, tenant_id, NULL, spec, out, change, why);
}

nova_status nova_people_group_update(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                     const nova_audit_actor_t *by, const char *tenant_id,
                                     const char *id, int64_t if_version,
                                     const nova_group_spec_t *spec, nova_group_view_t *out,
                                     nova_group_change_t *change, const char **why)
{
    *why = NULL;
    memset(change, 0, sizeof(*change));
    nova_status st = spec_check(spec, false, why);
    nova_scim_group_t g;
    if (st == NOVA_OK)
        st = nova_store_scim_group_get(s, ar, tenant_id, id, &g);
    if (st == NOVA_INVALID && *why == NULL)
        st = NOVA_NOT_FOUND;
    if (st)
        return st;
    if (if_version > 0 && g.version != if_version) {
        *why = "version";
        return NOVA_CONFLICT;
    }
    return group_write(p, s, ar, by, tenant_id, &g, spec, out, change, why);
}

nova_status nova_people_group_delete(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                     const nova_audit_actor_t *by, const char *tenant_id,
                                     const char *id, nova_group_change_t *change)
{
    nova_group_view_t v;
    memset(change, 0, sizeof(*change));
    nova_status st = nova_people_group_get(s, ar, tenant_id, id, &v);
    if (st)
        return st;
    nova_scim_group_role_t *rows;
    size_t nrows;
    plan pl;
    const char *why = NULL;
    group_after ga = {v.id, NULL, NULL, 0};
    st = nova_store_scim_group_roles(s, ar, tenant_id, &rows, &nrows);
    if (st == NOVA_OK)
        st = roles_plan(s, ar, tenant_id, &ga, rows, nrows, v.members, v.nmembers, &pl, &why);
    nova_audit_entry_t ae;
    if (st == NOVA_OK)
        st =
            nova_audit_entry_make(&ae, ar, by, tenant_id, "scim_group.delete", "scim_group", id,
                                  json_pack("{s:I, s:I}", "members_removed", (json_int_t)v.nmembers,
                                            "role_changes", (json_int_t)pl.nupdates));
    if (st == NOVA_OK && p->group_tuples)
        st = p->group_tuples(p->group_tuples_ud, s, ar, by, tenant_id, id, NULL, 0, v.members,
                             v.nmembers, &change->fga, &change->nfga);
    if (st == NOVA_OK)
        st = nova_store_scim_group_delete(s, tenant_id, id, pl.grants, pl.ngrants, change->fga,
                                          change->nfga, &ae);
    if (st == NOVA_OK && change->nfga && p->group_tuples_synced)
        p->group_tuples_synced(p->group_tuples_ud, s, tenant_id, change->fga, change->nfga);
    if (st == NOVA_OK)
        st = plan_apply(p, s, ar, by, tenant_id, &pl);
    if (st == NOVA_OK) {
        change->removed = v.members;
        change->nremoved = v.nmembers;
    }
    return st;
}

/* ---- the group->role mapping ---- */

nova_status nova_people_group_roles_get(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                        nova_scim_group_role_t **out, size_t *n)
{
    return nova_store_scim_group_roles(s, ar, tenant_id, out, n);
}

nova_status nova_people_group_roles_put(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                        const nova_audit_actor_t *by, const char *tenant_id,
                                        const nova_scim_group_role_t *in, size_t n,
                                        const char **why)
{
    *why = NULL;
    if (n > NOVA_GROUP_MAX_MAPPINGS) {
        *why = "mappings: at most 256";
        return NOVA_INVALID;
    }
    nova_scim_group_role_t *rows = nova_arena_alloc(ar, (n ? n : 1) * sizeof(*rows));
    if (rows == NULL)
        return NOVA_NOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        words one;
        if (!text_ok(in[i].group_name, 256)) {
            *why = "mappings[].group: a group's displayName (1 to 256 bytes)";
            return NOVA_INVALID;
        }
        const char *r = in[i].role;
        bool ok = r && *r && strlen(r) <= 64;
        for (const char *c = r; ok && *c; c++)
            ok = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == ':' ||
                 *c == '.' || *c == '-';
        if (!ok || words_of(ar, r, &one) != NOVA_OK || one.n != 1) {
            *why = "mappings[].role: a role name of [a-z0-9_:.-], at most 64 characters";
            return NOVA_INVALID;
        }
        const char *key = name_key(ar, in[i].group_name);
        if (key == NULL)
            return NOVA_NOMEM;
        bool dup = false;
        for (size_t j = 0; j < m && !dup; j++)
            dup = strcmp(rows[j].name_key, key) == 0 && strcmp(rows[j].role, r) == 0;
        if (!dup)
            rows[m++] = (nova_scim_group_role_t){in[i].group_name, key, r};
    }
    /* Everyone whose roles groups may change: members of any group and holders of grants. */
    nova_scim_member_t *mem;
    nova_scim_grant_t *gr;
    size_t nm, ngr;
    nova_status st = nova_store_scim_members(s, ar, tenant_id, NULL, NULL, &mem, &nm);
    if (st == NOVA_OK)
        st = nova_store_scim_grants(s, ar, tenant_id, &gr, &ngr);
    if (st)
        return st;
    const char **aff = nova_arena_alloc(ar, (nm + ngr + 1) * sizeof(char *));
    size_t naff = 0;
    if (aff == NULL)
        return NOVA_NOMEM;
    for (size_t i = 0; i < nm; i++)
        if (!in_list(aff, naff, mem[i].user_id))
            aff[naff++] = mem[i].user_id;
    for (size_t i = 0; i < ngr; i++)
        if (!in_list(aff, naff, gr[i].user_id))
            aff[naff++] = gr[i].user_id;
    plan pl;
    st = roles_plan(s, ar, tenant_id, NULL, rows, m, aff, naff, &pl, why);
    nova_audit_entry_t ae;
    if (st == NOVA_OK)
        st = nova_audit_entry_make(&ae, ar, by, tenant_id, "scim_group_roles.put",
                                   "scim_group_roles", tenant_id,
                                   json_pack("{s:I, s:I}", "mappings", (json_int_t)m,
                                             "role_changes", (json_int_t)pl.nupdates));
    if (st == NOVA_OK)
        st = nova_store_scim_group_roles_put(s, tenant_id, rows, m, pl.grants, pl.ngrants, &ae);
    if (st == NOVA_OK)
        st = plan_apply(p, s, ar, by, tenant_id, &pl);
    return st;
}
