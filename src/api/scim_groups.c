/* scim_groups.c: SCIM 2.0 Groups (RFC 7643 §4.2, RFC 7644; issue 11 item 8): /scim/v2/Groups
 * (create, get, replace, patch, delete, list with filter and startIndex/count) with the same
 * per-tenant bearer token and SCIM errors as /scim/v2/Users (scim.c), and the tenant's
 * group->role mapping at /v1/scim/group-roles for its backend.
 *
 * A group's members are users of the same tenant ({"value": user id}); an id that is not one
 * answers 400 invalidValue. displayName is unique in the tenant (ASCII case aside: 409
 * uniqueness). The ETag is W/"<version>", the version growing by one at each change; If-Match
 * is checked on PUT, PATCH and DELETE. Members carry no "display": a user's name is sealed
 * personal data, and the IdP knows it.
 *
 * What a membership gives (src/people/groups.c): the roles the tenant maps the group's name
 * to, and in each of the tenant's policy stores whose latest model admits it, the tuple
 * group:<group id>#member@user:<user id>. The tuples are written in the group's own
 * transaction (the whole member set each time, duplicates costing nothing, and the removed
 * members' deletions), so a change and its tuples commit together or not at all: a member
 * removed from the group never keeps the group's relationships. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scim_internal.h"

#define GROUP_BODY 262144 /* 1000 members of {"value": "usr_..."} fit */
/* A PATCH without If-Match reads and applies again when another change won the race. */
#define GROUP_PATCH_TRIES 8

static const char *etag_of(nova_req_t *r, const nova_group_view_t *g)
{
    return nova_arena_printf(&r->arena, "W/\"%lld\"", (long long)g->version);
}

/* excludedAttributes=members (what Entra ID asks for when it only wants the group). */
static bool members_excluded(nova_req_t *r)
{
    const char *ex = nova_req_query(r, "excludedAttributes");
    const char *at = nova_req_query(r, "attributes");
    if (ex && strcasestr(ex, "members"))
        return true;
    return at && !strcasestr(at, "members");
}

static json_t *group_json(nova_req_t *r, const nova_group_view_t *g, bool members)
{
    json_t *o =
        json_pack("{s:[s], s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}}", "schemas", SCIM_GROUP, "id",
                  g->id, "displayName", g->display_name, "meta", "resourceType", "Group", "created",
                  api_scim_time(r, g->created_at), "lastModified", api_scim_time(r, g->updated_at),
                  "location", nova_arena_printf(&r->arena, "/scim/v2/Groups/%s", g->id), "version",
                  etag_of(r, g));
    if (o && g->external_id)
        json_object_set_new(o, "externalId", json_string(g->external_id));
    if (o && members) {
        json_t *m = json_array();
        for (size_t i = 0; i < g->nmembers; i++)
            json_array_append_new(
                m, json_pack("{s:s, s:s, s:s}", "value", g->members[i], "$ref",
                             nova_arena_printf(&r->arena, "/scim/v2/Users/%s", g->members[i]),
                             "type", "User"));
        json_object_set_new(o, "members", m);
    }
    return o;
}

/* The flattened attributes a filter is matched against (members.value once per member). */
static nova_scim_attr_t *group_attrs(nova_req_t *r, const nova_group_view_t *g, size_t *n)
{
    nova_scim_attr_t *a = nova_arena_alloc(&r->arena, (4 + 2 * g->nmembers) * sizeof(*a));
    size_t k = 0;
    if (a == NULL)
        return NULL;
    a[k++] = (nova_scim_attr_t){.path = "id", .str = g->id, .case_exact = true};
    a[k++] = (nova_scim_attr_t){.path = "displayname", .str = g->display_name};
    a[k++] = (nova_scim_attr_t){.path = "externalid", .str = g->external_id, .case_exact = true};
    for (size_t i = 0; i < g->nmembers; i++) {
        a[k++] =
            (nova_scim_attr_t){.path = "members.value", .str = g->members[i], .case_exact = true};
        a[k++] = (nova_scim_attr_t){.path = "members.type", .str = "User"};
    }
    *n = k;
    return a;
}

static bool load_group(nova_req_t *r, api_scim_caller *c, const char *id, nova_group_view_t *g)
{
    nova_status st = nova_people_group_get(c->s, &r->arena, c->tenant_id, id, g);
    if (st) {
        api_scim_status(r, st, st == NOVA_NOT_FOUND ? "no such group" : NULL);
        return false;
    }
    return true;
}

static bool if_match_ok(nova_req_t *r, const nova_group_view_t *g)
{
    return api_scim_if_match(r, etag_of(r, g), "group");
}

static void reply_group(nova_req_t *r, int status, const nova_group_view_t *g)
{
    const char *etag = etag_of(r, g);
    if (etag)
        nova_resp_header(r, "ETag", etag);
    if (status == 201) {
        char *loc = nova_arena_printf(&r->arena, "/scim/v2/Groups/%s", g->id);
        if (loc)
            nova_resp_header(r, "Location", loc);
    }
    api_scim_reply(r, status, group_json(r, g, !members_excluded(r)));
}

nova_status api_group_tuples(void *ud, nova_store_t *s, nova_arena_t *a,
                             const nova_audit_actor_t *by, const char *tenant_id,
                             const char *group_id, const char *const *members, size_t nmembers,
                             const char *const *removed, size_t nremoved, nova_fga_batch_t **out,
                             size_t *n)
{
    (void)ud;
    const char **add = nova_arena_alloc(a, (nmembers ? nmembers : 1) * sizeof(char *));
    const char **rm = nova_arena_alloc(a, (nremoved ? nremoved : 1) * sizeof(char *));
    const char *object = nova_arena_printf(a, "group:%s", group_id);
    if (add == NULL || rm == NULL || object == NULL)
        return NOVA_NOMEM;
    for (size_t i = 0; i < nmembers; i++)
        if ((add[i] = nova_arena_printf(a, "user:%s", members[i])) == NULL)
            return NOVA_NOMEM;
    for (size_t i = 0; i < nremoved; i++)
        if ((rm[i] = nova_arena_printf(a, "user:%s", removed[i])) == NULL)
            return NOVA_NOMEM;
    return api_fga_relate_plan(s, a, by, tenant_id, object, "member", add, nmembers, rm, nremoved,
                               out, n);
}

void api_group_tuples_synced(void *ud, nova_store_t *s, const char *tenant_id,
                             const nova_fga_batch_t *b, size_t n)
{
    (void)ud;
    api_fga_relate_synced(s, tenant_id, b, n);
}

/* ---- the body of create and replace ---- */

static const char *const group_members[] = {"schemas", "id",   "externalId", "displayName",
                                            "members", "meta", NULL};

/* {"value": id} or a bare id string; NULL when neither. */
static const char *member_id(json_t *e)
{
    if (json_is_string(e))
        return json_string_value(e);
    return json_string_value(json_object_get(e, "value"));
}

/* members: an array of {"value": user id}; false with 400 written. */
static bool members_in(nova_req_t *r, json_t *v, const char ***out, size_t *n)
{
    *n = 0;
    if (!json_is_array(v) || json_array_size(v) > NOVA_GROUP_MAX_MEMBERS) {
        api_scim_error(r, 400, "invalidValue",
                       "members: an array of at most 1000 {\"value\": user id}");
        return false;
    }
    *out = nova_arena_alloc(&r->arena, (json_array_size(v) + 1) * sizeof(char *));
    if (*out == NULL) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return false;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        const char *id = member_id(json_array_get(v, i));
        if (id == NULL || *id == '\0') {
            api_scim_error(r, 400, "invalidValue", "members[].value: a user id");
            return false;
        }
        (*out)[(*n)++] = nova_arena_strndup(&r->arena, id, strlen(id));
    }
    return true;
}

/* Reads a Group resource body into spec (members always set: absent is none). */
static bool group_in(nova_req_t *r, json_t *body, nova_group_spec_t *spec)
{
    const char *key;
    json_t *v;
    memset(spec, 0, sizeof(*spec));
    json_object_foreach(body, key, v)
    {
        bool known = false;
        for (size_t i = 0; group_members[i] && !known; i++)
            known = strcmp(key, group_members[i]) == 0;
        if (!known) {
            api_scim_error(r, 400, "invalidSyntax",
                           nova_arena_printf(&r->arena, "%s: not an attribute of Group", key));
            return false;
        }
    }
    v = json_object_get(body, "displayName");
    if (!json_is_string(v) || json_string_length(v) == 0) {
        api_scim_error(r, 400, "invalidValue", "displayName: required, a non-empty string");
        return false;
    }
    spec->display_name = nova_arena_strndup(&r->arena, json_string_value(v), json_string_length(v));
    spec->has_external = true;
    if ((v = json_object_get(body, "externalId")) != NULL && !json_is_null(v)) {
        if (!json_is_string(v)) {
            api_scim_error(r, 400, "invalidValue", "externalId: a string");
            return false;
        }
        spec->external_id =
            nova_arena_strndup(&r->arena, json_string_value(v), json_string_length(v));
    }
    const char **m = NULL;
    size_t n = 0;
    if ((v = json_object_get(body, "members")) != NULL && !json_is_null(v) &&
        !members_in(r, v, &m, &n))
        return false;
    spec->members = m;
    spec->nmembers = n;
    spec->has_members = true;
    return true;
}

/* A domain refusal as a SCIM error. */
static void group_refused(nova_req_t *r, nova_status st, const char *why)
{
    if (st == NOVA_CONFLICT && why && strcmp(why, "version") == 0)
        api_scim_error(r, 412, NULL, "If-Match: the group has changed since that version");
    else if (st == NOVA_NOT_FOUND)
        api_scim_status(r, st, "no such group");
    else if (st == NOVA_CONFLICT && why && strncmp(why, "members: a policy store", 23) == 0)
        api_scim_error(r, 409, NULL, why); /* not a uniqueness clash of the group's own */
    else
        api_scim_status(r, st, why);
}

static int64_t version_of(const char *etag_header, const nova_group_view_t *g)
{
    return etag_header && strcmp(etag_header, "*") != 0 ? g->version : 0;
}

/* ---- /scim/v2/Groups ---- */

static void groups_create(nova_req_t *r, void *ud)
{
    api_scim_caller c;
    if (!api_scim_auth(r, ud, &c))
        return;
    json_t *body = api_scim_body(r);
    nova_group_spec_t spec;
    if (body == NULL)
        return;
    if (group_in(r, body, &spec)) {
        if (spec.external_id == NULL)
            spec.has_external = false;
        nova_group_view_t g;
        nova_group_change_t ch;
        const char *why = NULL;
        nova_status st =
            nova_people_group_create(c.p, c.s, &r->arena, &c.by, c.tenant_id, &spec, &g, &ch, &why);
        if (st)
            group_refused(r, st, why);
        else {
            nova_people_count_provisioned(NOVA_FED_SCIM, NOVA_FED_CREATED);
            reply_group(r, 201, &g);
        }
    }
    json_decref(body);
}

static void groups_get(nova_req_t *r, void *ud)
{
    api_scim_caller c;
    nova_group_view_t g;
    if (api_scim_auth(r, ud, &c) && load_group(r, &c, r->params[0], &g))
        reply_group(r, 200, &g);
}

static void groups_list(nova_req_t *r, void *ud)
{
    api_scim_caller c;
    if (!api_scim_auth(r, ud, &c))
        return;
    long start, count;
    const nova_scim_filter_t *f;
    if (!api_scim_list_query(r, &start, &count, &f))
        return;
    nova_group_view_t *g;
    size_t n;
    nova_status st = nova_people_group_list(c.s, &r->arena, c.tenant_id, &g, &n);
    if (st) {
        api_scim_status(r, st, NULL);
        return;
    }
    bool members = !members_excluded(r);
    json_t *res = json_array();
    long total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t na = 0;
        nova_scim_attr_t *attrs = f ? group_attrs(r, &g[i], &na) : NULL;
        if (f && (attrs == NULL || !nova_scim_filter_match(f, attrs, na)))
            continue;
        total++;
        if (total >= start && (long)json_array_size(res) < count)
            json_array_append_new(res, group_json(r, &g[i], members));
    }
    api_scim_list_reply(r, total, start, res);
}

static void groups_replace(nova_req_t *r, void *ud)
{
    api_scim_caller c;
    if (!api_scim_auth(r, ud, &c))
        return;
    json_t *body = api_scim_body(r);
    nova_group_spec_t spec;
    nova_group_view_t g;
    if (body == NULL)
        return;
    if (group_in(r, body, &spec) && load_group(r, &c, r->params[0], &g) && if_match_ok(r, &g)) {
        nova_group_change_t ch;
        const char *why = NULL;
        nova_status st = nova_people_group_update(c.p, c.s, &r->arena, &c.by, c.tenant_id, g.id,
                                                  version_of(nova_req_header(r, "if-match"), &g),
                                                  &spec, &g, &ch, &why);
        if (st)
            group_refused(r, st, why);
        else {
            nova_people_count_provisioned(NOVA_FED_SCIM, NOVA_FED_REPLACED);
            reply_group(r, 200, &g);
        }
    }
    json_decref(body);
}

/* ---- PATCH (RFC 7644 §3.5.2) ---- */

/* The group as the operations leave it. */
typedef struct patch_state {
    const char *display_name;
    const char *external_id;
    bool has_external;
    const char **members;
    size_t n, cap;
} patch_state;

static bool state_has(const patch_state *ps, const char *id)
{
    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->members[i], id) == 0)
            return true;
    return false;
}

static bool state_add(nova_req_t *r, patch_state *ps, const char *id)
{
    if (state_has(ps, id))
        return true;
    if (ps->n >= NOVA_GROUP_MAX_MEMBERS) {
        api_scim_error(r, 400, "invalidValue", "members: at most 1000 members in a group");
        return false;
    }
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 16;
        const char **m = nova_arena_alloc(&r->arena, cap * sizeof(char *));
        if (m == NULL) {
            nova_resp_status(r, NOVA_NOMEM, NULL);
            return false;
        }
        if (ps->n)
            memcpy(m, ps->members, ps->n * sizeof(char *));
        ps->members = m;
        ps->cap = cap;
    }
    ps->members[ps->n++] = nova_arena_strndup(&r->arena, id, strlen(id));
    return true;
}

static void state_remove_at(patch_state *ps, size_t i)
{
    memmove(ps->members + i, ps->members + i + 1, (ps->n - i - 1) * sizeof(char *));
    ps->n--;
}

static void state_remove(patch_state *ps, const char *id)
{
    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->members[i], id) == 0) {
            state_remove_at(ps, i);
            return;
        }
}

/* The value of a members operation: an array of {"value": id}, or one such object. */
static bool op_members(nova_req_t *r, json_t *value, const char ***ids, size_t *n)
{
    if (json_is_object(value) || json_is_string(value)) {
        json_t *one = json_pack("[O]", value);
        bool ok = members_in(r, one, ids, n);
        json_decref(one);
        return ok;
    }
    return members_in(r, value, ids, n);
}

static bool op_string(nova_req_t *r, json_t *value, const char *what, const char **out)
{
    if (!json_is_string(value) || json_string_length(value) == 0) {
        api_scim_error(r, 400, "invalidValue", nova_arena_printf(&r->arena, "%s: a string", what));
        return false;
    }
    *out = nova_arena_strndup(&r->arena, json_string_value(value), json_string_length(value));
    return *out != NULL;
}

static bool patch_members(nova_req_t *r, patch_state *ps, const char *kind, json_t *value,
                          const nova_scim_filter_t *filter)
{
    bool remove = strcasecmp(kind, "remove") == 0, replace = strcasecmp(kind, "replace") == 0;
    const char **ids = NULL;
    size_t n = 0;
    if (filter) {
        /* members[value eq "..."]: the members the filter selects. */
        size_t matched = 0;
        for (size_t i = 0; i < ps->n;) {
            nova_scim_attr_t a[] = {
                {.path = "members.value", .str = ps->members[i], .case_exact = true},
                {.path = "members.type", .str = "User"},
                {.path = "members.$ref",
                 .str = nova_arena_printf(&r->arena, "/scim/v2/Users/%s", ps->members[i]),
                 .case_exact = true}};
            if (nova_scim_filter_match(filter, a, 3) && (remove || replace)) {
                state_remove_at(ps, i);
                matched++;
            } else {
                i++;
            }
        }
        if (replace && matched == 0) {
            api_scim_error(r, 400, "noTarget", "path: the filter selects no member");
            return false;
        }
        if (remove)
            return true;
        if (strcasecmp(kind, "add") == 0) {
            api_scim_error(r, 400, "invalidPath",
                           "path: add takes members, not a filter of members");
            return false;
        }
    } else if (remove) {
        if (value == NULL || json_is_null(value)) {
            ps->n = 0;
            return true;
        }
        if (!op_members(r, value, &ids, &n))
            return false;
        for (size_t i = 0; i < n; i++)
            state_remove(ps, ids[i]);
        return true;
    } else if (replace) {
        ps->n = 0;
    }
    if (!op_members(r, value, &ids, &n))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!state_add(r, ps, ids[i]))
            return false;
    return true;
}

/* One operation applied to ps; false with 400 written. */
static bool patch_op(nova_req_t *r, json_t *op, patch_state *ps)
{
    const char *kind;
    json_t *path, *value;
    if (!api_scim_op(r, op, &kind, &path, &value))
        return false;
    bool remove = strcasecmp(kind, "remove") == 0;
    if (path == NULL) {
        /* No path: value is an object of attributes. */
        if (remove || !json_is_object(value)) {
            api_scim_error(r, 400, remove ? "noTarget" : "invalidValue",
                           remove ? "Operations[].path: required for remove"
                                  : "Operations[].value: an object of attributes without a path");
            return false;
        }
        const char *key;
        json_t *v;
        json_object_foreach(value, key, v)
        {
            const char *k = key;
            if (strncasecmp(k, SCIM_GROUP ":", strlen(SCIM_GROUP) + 1) == 0)
                k += strlen(SCIM_GROUP) + 1;
            if (strcasecmp(k, "displayName") == 0) {
                if (!op_string(r, v, "displayName", &ps->display_name))
                    return false;
            } else if (strcasecmp(k, "externalId") == 0) {
                if (!op_string(r, v, "externalId", &ps->external_id))
                    return false;
                ps->has_external = true;
            } else if (strcasecmp(k, "members") == 0) {
                if (!patch_members(r, ps, kind, v, NULL))
                    return false;
            } else if (strcasecmp(k, "id") != 0 && strcasecmp(k, "schemas") != 0 &&
                       strcasecmp(k, "meta") != 0) {
                api_scim_error(
                    r, 400, "invalidPath",
                    nova_arena_printf(&r->arena, "%s: not an attribute of Group Nova keeps", key));
                return false;
            }
        }
        return true;
    }
    nova_scim_path_t p;
    const char *why = NULL;
    const char *text = json_string_value(path);
    if (nova_scim_path_parse(&r->arena, text, strlen(text), &p, &why) != NOVA_OK) {
        api_scim_error(r, 400, "invalidPath", why);
        return false;
    }
    if (strcmp(p.attr, "members") == 0) {
        if (p.sub && !(p.filter == NULL && strcmp(p.sub, "value") == 0 && remove)) {
            api_scim_error(r, 400, "invalidPath",
                           "path: a member's sub-attributes are not changed, the member is");
            return false;
        }
        return patch_members(r, ps, kind, value, p.filter);
    }
    if (p.filter || p.sub) {
        api_scim_error(r, 400, "invalidPath", "path: only members takes a value filter");
        return false;
    }
    if (strcmp(p.attr, "displayname") == 0) {
        if (remove) {
            api_scim_error(r, 400, "mutability", "displayName: required, cannot be removed");
            return false;
        }
        return op_string(r, value, "displayName", &ps->display_name);
    }
    if (strcmp(p.attr, "externalid") == 0) {
        ps->has_external = true;
        if (remove) {
            ps->external_id = NULL;
            return true;
        }
        return op_string(r, value, "externalId", &ps->external_id);
    }
    api_scim_error(
        r, 400, "invalidPath",
        nova_arena_printf(&r->arena, "path: %s is not an attribute of Group Nova keeps", text));
    return false;
}

static void groups_patch(nova_req_t *r, void *ud)
{
    api_scim_caller c;
    if (!api_scim_auth(r, ud, &c))
        return;
    json_t *body = api_scim_body(r);
    nova_group_view_t g;
    if (body == NULL)
        return;
    json_t *ops = api_scim_patch_ops(r, body);
    /* The operations apply to the group as read, so the write is conditional on that version;
     * when another change came between (and the IdP sent no If-Match), read and apply again. */
    bool own_match = nova_req_header(r, "if-match") == NULL;
    for (int attempt = 0; ops && attempt < GROUP_PATCH_TRIES; attempt++) {
        if (!load_group(r, &c, r->params[0], &g) || !if_match_ok(r, &g))
            break;
        patch_state ps = {.display_name = g.display_name, .external_id = g.external_id};
        bool ok = true;
        for (size_t i = 0; ok && i < g.nmembers; i++)
            ok = state_add(r, &ps, g.members[i]);
        for (size_t i = 0; ok && i < json_array_size(ops); i++)
            ok = patch_op(r, json_array_get(ops, i), &ps);
        if (!ok)
            break;
        nova_group_spec_t spec = {.display_name = ps.display_name,
                                  .external_id = ps.external_id,
                                  .has_external = ps.has_external,
                                  .members = ps.members,
                                  .nmembers = ps.n,
                                  .has_members = true};
        nova_group_change_t ch;
        const char *why = NULL;
        nova_status st = nova_people_group_update(c.p, c.s, &r->arena, &c.by, c.tenant_id, g.id,
                                                  g.version, &spec, &g, &ch, &why);
        if (st == NOVA_CONFLICT && why && strcmp(why, "version") == 0 && own_match &&
            attempt + 1 < GROUP_PATCH_TRIES)
            continue;
        if (st)
            group_refused(r, st, why);
        else {
            nova_people_count_provisioned(NOVA_FED_SCIM, NOVA_FED_PATCHED);
            reply_group(r, 200, &g);
        }
        break;
    }
    json_decref(body);
}

static void groups_delete(nova_req_t *r, void *ud)
{
    api_scim_caller c;
    nova_group_view_t g;
    if (!api_scim_auth(r, ud, &c) || !load_group(r, &c, r->params[0], &g) || !if_match_ok(r, &g))
        return;
    nova_group_change_t ch;
    nova_status st = nova_people_group_delete(c.p, c.s, &r->arena, &c.by, c.tenant_id, g.id, &ch);
    if (st)
        group_refused(r, st, NULL);
    else {
        nova_people_count_provisioned(NOVA_FED_SCIM, NOVA_FED_DELETED);
        nova_resp_body(r, 204, NULL, NULL, 0);
    }
}

/* ---- the User resource's groups ---- */

json_t *api_scim_user_groups(nova_req_t *r, api_scim_caller *c, const char *user_id)
{
    nova_scim_member_t *m;
    size_t n;
    json_t *out = json_array();
    if (nova_people_user_groups(c->s, &r->arena, c->tenant_id, user_id, &m, &n) != NOVA_OK)
        return out;
    for (size_t i = 0; i < n; i++) {
        nova_group_view_t g;
        nova_scim_group_t row;
        if (nova_store_scim_group_get(c->s, &r->arena, c->tenant_id, m[i].group_id, &row))
            continue;
        g.id = row.id;
        json_array_append_new(
            out,
            json_pack("{s:s, s:s, s:s, s:s}", "value", g.id, "display", row.display_name, "$ref",
                      nova_arena_printf(&r->arena, "/scim/v2/Groups/%s", g.id), "type", "direct"));
    }
    return out;
}

/* ---- a user's deletion ---- */

nova_status api_user_delete(nova_req_t *r, nova_people_t *p, nova_store_t *s,
                            const nova_audit_actor_t *by, const char *tenant_id, const char *id)
{
    /* The memberships go with the user's row, their tuples in the same transaction (the
     * people domain's group_tuples planner). */
    return nova_people_user_delete(p, s, &r->arena, by, tenant_id, id);
}

/* ---- /v1/scim/group-roles (the tenant's backend) ---- */

static void group_roles_reply(nova_req_t *r, nova_store_t *s, const char *tenant)
{
    nova_scim_group_role_t *rows;
    size_t n;
    nova_status st = nova_people_group_roles_get(s, &r->arena, tenant, &rows, &n);
    if (st) {
        nova_resp_status(r, st, NULL);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            a, json_pack("{s:s, s:s}", "group", rows[i].group_name, "role", rows[i].role));
    api_reply_json(r, 200, json_pack("{s:o}", "mappings", a));
}

static void group_roles_get(nova_req_t *r, void *ud)
{
    nova_store_t *s = api_store(r, ud);
    if (s)
        group_roles_reply(r, s, r->principal->tenant_id);
}

static void group_roles_put(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    static const char *const members[] = {"mappings", NULL};
    json_t *body = api_json_body(r, members);
    if (body == NULL)
        return;
    json_t *m = json_object_get(body, "mappings");
    nova_store_t *s = NULL;
    nova_people_t *p = NULL;
    if (!json_is_array(m) || json_array_size(m) > NOVA_GROUP_MAX_MAPPINGS) {
        nova_resp_status(r, NOVA_INVALID, "mappings: an array of at most 256 {group, role}");
        goto end;
    }
    nova_scim_group_role_t *rows =
        nova_arena_alloc(&r->arena, (json_array_size(m) + 1) * sizeof(*rows));
    if (rows == NULL) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        goto end;
    }
    for (size_t i = 0; i < json_array_size(m); i++) {
        json_t *e = json_array_get(m, i);
        const char *g = json_string_value(json_object_get(e, "group"));
        const char *role = json_string_value(json_object_get(e, "role"));
        if (!json_is_object(e) || json_object_size(e) != 2 || g == NULL || role == NULL) {
            nova_resp_status(r, NOVA_INVALID,
                             "mappings[]: {\"group\": displayName, \"role\": role}");
            goto end;
        }
        rows[i] = (nova_scim_group_role_t){nova_arena_strndup(&r->arena, g, strlen(g)), NULL,
                                           nova_arena_strndup(&r->arena, role, strlen(role))};
    }
    if ((s = api_store(r, api)) == NULL || (p = api_people(r, api)) == NULL)
        goto end;
    const char *tenant = r->principal->tenant_id, *why = NULL;
    nova_audit_actor_t by = {.id = r->principal->client_id, .request_id = r->req_id};
    nova_status st =
        nova_people_group_roles_put(p, s, &r->arena, &by, tenant, rows, json_array_size(m), &why);
    if (st)
        nova_resp_status(r, st, why);
    else
        group_roles_reply(r, s, tenant);
end:
    json_decref(body);
}

nova_status api_scim_groups_register(nova_api_t *api, nova_http_server_t *srv)
{
    static const struct {
        const char *method, *pattern, *scope;
        nova_handler_fn fn;
        size_t max_body;
    } routes[] = {
        {"GET", "/v1/scim/group-roles", "users:read", group_roles_get, 0},
        {"PUT", "/v1/scim/group-roles", "users:write", group_roles_put, 65536},
        /* The SCIM routes authenticate the IdP's token themselves (api_scim_auth). */
        {"POST", "/scim/v2/Groups", NULL, groups_create, GROUP_BODY},
        {"GET", "/scim/v2/Groups", NULL, groups_list, 0},
        {"GET", "/scim/v2/Groups/{id}", NULL, groups_get, 0},
        {"PUT", "/scim/v2/Groups/{id}", NULL, groups_replace, GROUP_BODY},
        {"PATCH", "/scim/v2/Groups/{id}", NULL, groups_patch, GROUP_BODY},
        {"DELETE", "/scim/v2/Groups/{id}", NULL, groups_delete, 0},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        nova_status st = nova_http_route(srv, routes[i].method, routes[i].pattern, routes[i].scope,
                                         routes[i].max_body, routes[i].fn, api);
        if (st)
            return st;
    }
    return NOVA_OK;
}
