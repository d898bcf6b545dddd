/*
 * scim_groups.c: the repository of SCIM groups (nova/people_store.h, migration 0023): groups,
 * their members, the tenant's group->role mapping and the roles users hold through groups.
 *
 * Uniqueness of a group's name and externalId is checked by a SELECT inside the write
 * transaction before the row is written (a failed statement would abort a PostgreSQL
 * transaction); the unique indexes stay as the backstop. A member is added by an INSERT ...
 * SELECT from people_users of the same tenant, so an id of another tenant's user adds no row
 * and the write fails, with or without row-level security.
 */
#include <string.h>

#include "internal.h"
#include "nova/audit_store.h"
#include "nova/people_store.h"

#define GROUP_COLS "id, tenant_id, display_name, external_id, version, created_at, updated_at"

#define Q(name, text) static const nova_sql_t name = {-1, #name, text, NULL}

Q(Q_GRP_INSERT,
  "INSERT INTO scim_groups (" GROUP_COLS ", name_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
Q(Q_GRP_UPDATE, "UPDATE scim_groups SET display_name = ?, name_key = ?, external_id = ?, "
                "version = ?, updated_at = ? WHERE id = ? AND tenant_id = ? AND version = ?");
Q(Q_GRP_EXISTS, "SELECT count(*) FROM scim_groups WHERE id = ? AND tenant_id = ?");
Q(Q_GRP_NAME_TAKEN,
  "SELECT count(*) FROM scim_groups WHERE tenant_id = ? AND name_key = ? AND id <> ?");
Q(Q_GRP_EXT_TAKEN,
  "SELECT count(*) FROM scim_groups WHERE tenant_id = ? AND external_id = ? AND id <> ?");
Q(Q_GRP_GET, "SELECT " GROUP_COLS " FROM scim_groups WHERE id = ? AND tenant_id = ?");
Q(Q_GRP_LIST, "SELECT " GROUP_COLS " FROM scim_groups WHERE tenant_id = ? ORDER BY created_at, id");
Q(Q_GRP_DELETE, "DELETE FROM scim_groups WHERE id = ? AND tenant_id = ?");
Q(Q_MEM_ADD,
  "INSERT INTO scim_group_members (group_id, user_id, tenant_id, added_at) "
  "SELECT CAST(? AS TEXT), id, tenant_id, CAST(? AS BIGINT) FROM people_users WHERE id = ? AND "
  "tenant_id = ? "
  "AND NOT EXISTS (SELECT 1 FROM scim_group_members WHERE group_id = ? AND user_id = ?)");
Q(Q_MEM_HAS, "SELECT count(*) FROM scim_group_members WHERE group_id = ? AND user_id = ?");
Q(Q_MEM_REMOVE, "DELETE FROM scim_group_members WHERE group_id = ? AND user_id = ? "
                "AND tenant_id = ?");
Q(Q_MEM_OF_GROUP, "SELECT group_id, user_id FROM scim_group_members WHERE tenant_id = ? "
                  "AND group_id = ? ORDER BY group_id, user_id");
Q(Q_MEM_OF_USER, "SELECT group_id, user_id FROM scim_group_members WHERE tenant_id = ? "
                 "AND user_id = ? ORDER BY group_id, user_id");
Q(Q_MEM_ALL, "SELECT group_id, user_id FROM scim_group_members WHERE tenant_id = ? "
             "ORDER BY group_id, user_id");
Q(Q_GRANT_DELETE, "DELETE FROM scim_role_grants WHERE user_id = ? AND tenant_id = ?");
Q(Q_GRANT_INSERT, "INSERT INTO scim_role_grants (user_id, tenant_id, roles, updated_at) "
                  "SELECT id, tenant_id, CAST(? AS TEXT), CAST(? AS BIGINT) FROM people_users "
                  "WHERE id = ? AND tenant_id = ?");
Q(Q_GRANT_LIST, "SELECT user_id, roles FROM scim_role_grants WHERE tenant_id = ? "
                "ORDER BY user_id");
Q(Q_ROLE_LIST, "SELECT group_name, name_key, role FROM scim_group_roles WHERE tenant_id = ? "
               "ORDER BY name_key, role");
Q(Q_ROLE_CLEAR, "DELETE FROM scim_group_roles WHERE tenant_id = ?");
Q(Q_ROLE_INSERT, "INSERT INTO scim_group_roles (tenant_id, name_key, group_name, role) "
                 "VALUES (?, ?, ?, ?)");

static nova_status finish(nova_store_t *s, nova_status st)
{
    if (st != NOVA_OK) {
        nova_store_tx_rollback(s);
        return st;
    }
    return nova_store_tx_commit(s);
}

/* Sets each grant inside the open transaction (a user gone meanwhile keeps no row). */
static nova_status put_grants(nova_store_t *s, const char *tenant_id, const nova_scim_grant_t *g,
                              size_t n, int64_t now)
{
    nova_status st = NOVA_OK;
    for (size_t i = 0; st == NOVA_OK && i < n; i++) {
        if (!nova_store_valid_id(g[i].user_id) || g[i].roles == NULL)
            return NOVA_INVALID;
        nova_sql_param_t d[] = {NOVA_SQL_P_TEXT(g[i].user_id), NOVA_SQL_P_TEXT(tenant_id)};
        st = nova_store_exec_q(s, &Q_GRANT_DELETE, NULL, d, 2, NULL);
        nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(g[i].roles), NOVA_SQL_P_INT(now),
                                NOVA_SQL_P_TEXT(g[i].user_id), NOVA_SQL_P_TEXT(tenant_id)};
        if (st == NOVA_OK && g[i].roles[0])
            st = nova_store_exec_q(s, &Q_GRANT_INSERT, NULL, p, 4, NULL);
    }
    return st;
}

static nova_status taken(nova_store_t *s, const nova_sql_t *q, const char *tenant_id,
                         const char *value, const char *id, bool *out)
{
    int64_t n = 0;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(value),
                            NOVA_SQL_P_TEXT(id)};
    nova_status st = nova_store_query_int(s, q, NULL, p, 3, &n);
    *out = n > 0;
    return st;
}

nova_status nova_store_scim_group_write(nova_store_t *s, const nova_scim_group_write_t *w,
                                        const nova_audit_entry_t *audit, const char **what)
{
    const nova_scim_group_t *g = w->group;
    *what = NULL;
    if (g == NULL || !nova_store_valid_id(g->id) || !nova_store_valid_id(g->tenant_id) ||
        !g->display_name || !w->name_key || !nova_store_audit_for(audit, g->tenant_id))
        return NOVA_INVALID;
    const char *tid = g->tenant_id;
    nova_status st = nova_store_tx_begin(s, tid);
    if (st != NOVA_OK)
        return st;
    bool t = false;
    st = taken(s, &Q_GRP_NAME_TAKEN, tid, w->name_key, g->id, &t);
    if (st == NOVA_OK && t) {
        *what = "displayName";
        st = NOVA_CONFLICT;
    }
    if (st == NOVA_OK && g->external_id) {
        st = taken(s, &Q_GRP_EXT_TAKEN, tid, g->external_id, g->id, &t);
        if (st == NOVA_OK && t) {
            *what = "externalId";
            st = NOVA_CONFLICT;
        }
    }
    if (st == NOVA_OK && w->create) {
        nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(g->id),           NOVA_SQL_P_TEXT(tid),
                                NOVA_SQL_P_TEXT(g->display_name), NOVA_SQL_P_TEXT(g->external_id),
                                NOVA_SQL_P_INT(g->version),       NOVA_SQL_P_INT(g->created_at),
                                NOVA_SQL_P_INT(g->updated_at),    NOVA_SQL_P_TEXT(w->name_key)};
        st = nova_store_exec_q(s, &Q_GRP_INSERT, NULL, p, 8, NULL);
    } else if (st == NOVA_OK) {
        int64_t changed = 0;
        nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(g->display_name),
                                NOVA_SQL_P_TEXT(w->name_key),
                                NOVA_SQL_P_TEXT(g->external_id),
                                NOVA_SQL_P_INT(g->version),
                                NOVA_SQL_P_INT(g->updated_at),
                                NOVA_SQL_P_TEXT(g->id),
                                NOVA_SQL_P_TEXT(tid),
                                NOVA_SQL_P_INT(w->expect)};
        st = nova_store_exec_q(s, &Q_GRP_UPDATE, NULL, p, 8, &changed);
        if (st == NOVA_OK && changed != 1) {
            int64_t exists = 0;
            nova_sql_param_t e[] = {NOVA_SQL_P_TEXT(g->id), NOVA_SQL_P_TEXT(tid)};
            st = nova_store_query_int(s, &Q_GRP_EXISTS, NULL, e, 2, &exists);
            if (st == NOVA_OK) {
                st = exists ? NOVA_CONFLICT : NOVA_NOT_FOUND;
                *what = exists ? "version" : NULL;
            }
        }
    }
    for (size_t i = 0; st == NOVA_OK && i < w->nadd; i++) {
        int64_t changed = 0, has = 0;
        if (!nova_store_valid_id(w->add[i])) {
            st = NOVA_INVALID;
            *what = "members";
            break;
        }
        nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(g->id),     NOVA_SQL_P_INT(g->updated_at),
                                NOVA_SQL_P_TEXT(w->add[i]), NOVA_SQL_P_TEXT(tid),
                                NOVA_SQL_P_TEXT(g->id),     NOVA_SQL_P_TEXT(w->add[i])};
        st = nova_store_exec_q(s, &Q_MEM_ADD, NULL, p, 6, &changed);
        if (st == NOVA_OK && changed != 1) {
            nova_sql_param_t h[] = {NOVA_SQL_P_TEXT(g->id), NOVA_SQL_P_TEXT(w->add[i])};
            st = nova_store_query_int(s, &Q_MEM_HAS, NULL, h, 2, &has);
            if (st == NOVA_OK && has == 0) {
                st = NOVA_INVALID;
                *what = "members";
            }
        }
    }
    for (size_t i = 0; st == NOVA_OK && i < w->nremove; i++) {
        nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(g->id), NOVA_SQL_P_TEXT(w->remove[i]),
                                NOVA_SQL_P_TEXT(tid)};
        st = nova_store_exec_q(s, &Q_MEM_REMOVE, NULL, p, 3, NULL);
    }
    if (st == NOVA_OK)
        st = put_grants(s, tid, w->grants, w->ngrants, g->updated_at);
    if (st == NOVA_OK) {
        st = nova_store_fga_batches_in_tx(s, tid, w->fga, w->nfga);
        if (st == NOVA_CONFLICT)
            *what = "policy_tuple";
    }
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    return finish(s, st);
}

nova_status nova_store_scim_group_delete(nova_store_t *s, const char *tenant_id, const char *id,
                                         const nova_scim_grant_t *grants, size_t ngrants,
                                         nova_fga_batch_t *fga, size_t nfga,
                                         const nova_audit_entry_t *audit)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id) ||
        !nova_store_audit_for(audit, tenant_id))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    int64_t changed = 0;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(id), NOVA_SQL_P_TEXT(tenant_id)};
    st = nova_store_exec_q(s, &Q_GRP_DELETE, NULL, p, 2, &changed);
    if (st == NOVA_OK && changed != 1)
        st = NOVA_NOT_FOUND;
    if (st == NOVA_OK)
        st = put_grants(s, tenant_id, grants, ngrants, nova_time_now());
    if (st == NOVA_OK)
        st = nova_store_fga_batches_in_tx(s, tenant_id, fga, nfga);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    return finish(s, st);
}

static nova_status read_group(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_scim_group_t *g = out;
    const nova_store_driver_t *d = r->s->drv;
    nova_status st;
    const char **strs[] = {&g->id, &g->tenant_id, &g->display_name, &g->external_id};
    for (int i = 0; i < 4; i++)
        if ((st = nova_store_col_str(r, i, a, strs[i])) != NOVA_OK)
            return st;
    g->version = d->col_int64(r, 4);
    g->created_at = d->col_int64(r, 5);
    g->updated_at = d->col_int64(r, 6);
    return NOVA_OK;
}

nova_status nova_store_scim_group_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                      const char *id, nova_scim_group_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(id), NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_one(s, &Q_GRP_GET, tenant_id, p, 2, a, read_group, out);
}

nova_status nova_store_scim_group_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                       nova_scim_group_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!nova_store_valid_id(tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_all(s, &Q_GRP_LIST, tenant_id, p, 1, a, read_group,
                              sizeof(nova_scim_group_t), (void **)out, n);
}

static nova_status read_member(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_scim_member_t *m = out;
    nova_status st = nova_store_col_str(r, 0, a, &m->group_id);
    return st ? st : nova_store_col_str(r, 1, a, &m->user_id);
}

nova_status nova_store_scim_members(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                    const char *group_id, const char *user_id,
                                    nova_scim_member_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!nova_store_valid_id(tenant_id))
        return NOVA_INVALID;
    const char *which = group_id ? group_id : user_id;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(which)};
    const nova_sql_t *q = group_id ? &Q_MEM_OF_GROUP : user_id ? &Q_MEM_OF_USER : &Q_MEM_ALL;
    return nova_store_get_all(s, q, tenant_id, p, which ? 2 : 1, a, read_member,
                              sizeof(nova_scim_member_t), (void **)out, n);
}

static nova_status read_grant(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_scim_grant_t *g = out;
    nova_status st = nova_store_col_str(r, 0, a, &g->user_id);
    return st ? st : nova_store_col_str(r, 1, a, &g->roles);
}

nova_status nova_store_scim_grants(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                   nova_scim_grant_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!nova_store_valid_id(tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_all(s, &Q_GRANT_LIST, tenant_id, p, 1, a, read_grant,
                              sizeof(nova_scim_grant_t), (void **)out, n);
}

static nova_status read_role(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_scim_group_role_t *g = out;
    nova_status st = nova_store_col_str(r, 0, a, &g->group_name);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 1, a, &g->name_key);
    return st ? st : nova_store_col_str(r, 2, a, &g->role);
}

nova_status nova_store_scim_group_roles(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                        nova_scim_group_role_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!nova_store_valid_id(tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_all(s, &Q_ROLE_LIST, tenant_id, p, 1, a, read_role,
                              sizeof(nova_scim_group_role_t), (void **)out, n);
}

nova_status nova_store_scim_group_roles_put(nova_store_t *s, const char *tenant_id,
                                            const nova_scim_group_role_t *rows, size_t n,
                                            const nova_scim_grant_t *grants, size_t ngrants,
                                            const nova_audit_entry_t *audit)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_audit_for(audit, tenant_id))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    nova_sql_param_t c[] = {NOVA_SQL_P_TEXT(tenant_id)};
    st = nova_store_exec_q(s, &Q_ROLE_CLEAR, NULL, c, 1, NULL);
    for (size_t i = 0; st == NOVA_OK && i < n; i++) {
        nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(rows[i].name_key),
                                NOVA_SQL_P_TEXT(rows[i].group_name), NOVA_SQL_P_TEXT(rows[i].role)};
        st = nova_store_exec_q(s, &Q_ROLE_INSERT, NULL, p, 4, NULL);
    }
    if (st == NOVA_OK)
        st = put_grants(s, tenant_id, grants, ngrants, nova_time_now());
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    return finish(s, st);
}

nova_status nova_store_scim_grants_put(nova_store_t *s, const char *tenant_id,
                                       const nova_scim_grant_t *grants, size_t n,
                                       const nova_audit_entry_t *audit)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_audit_for(audit, tenant_id))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    st = put_grants(s, tenant_id, grants, n, nova_time_now());
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    return finish(s, st);
}
