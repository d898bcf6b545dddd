/*
 * oidc.c: OIDC federation's repository (nova/oidc_store.h, migration 0020). Statements are
 * prepared per call (slot -1): they run at sign-in and administration rates.
 */
#include <string.h>

#include "internal.h"
#include "nova/audit_store.h"
#include "nova/oidc_store.h"

#define IDP_COLS "id, tenant_id, issuer, config, secret_sealed, created_at, updated_at"
#define Q(name, text) static const nova_sql_t name = {-1, #name, text, NULL}

Q(Q_IDP_INSERT, "INSERT INTO people_oidc_idps (" IDP_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?)");
Q(Q_IDP_TAKEN, "SELECT count(*) FROM people_oidc_idps WHERE tenant_id = ? AND issuer = ?");
Q(Q_IDP_GET, "SELECT " IDP_COLS " FROM people_oidc_idps WHERE id = ? AND tenant_id = ?");
Q(Q_IDP_LIST, "SELECT " IDP_COLS " FROM people_oidc_idps WHERE tenant_id = ? "
              "ORDER BY created_at, id LIMIT 100");
Q(Q_IDP_UPDATE, "UPDATE people_oidc_idps SET config = ?, secret_sealed = ?, updated_at = ? "
                "WHERE id = ? AND tenant_id = ?");
Q(Q_IDP_DELETE, "DELETE FROM people_oidc_idps WHERE id = ? AND tenant_id = ?");
Q(Q_LINK_GET, "SELECT user_id FROM people_oidc_links WHERE tenant_id = ? AND issuer = ? "
              "AND sub = ?");
Q(Q_LINK_TAKEN, "SELECT count(*) FROM people_oidc_links WHERE tenant_id = ? AND issuer = ? "
                "AND sub = ?");
Q(Q_LINK_PUT, "INSERT INTO people_oidc_links (tenant_id, issuer, sub, user_id, created_at) "
              "VALUES (?, ?, ?, ?, ?)");

static bool audit_ok(const char *tenant_id, const nova_audit_entry_t *audit)
{
    return nova_store_valid_id(tenant_id) && nova_store_audit_for(audit, tenant_id);
}

static nova_status finish(nova_store_t *s, nova_status st)
{
    if (st != NOVA_OK) {
        nova_store_tx_rollback(s);
        return st;
    }
    return nova_store_tx_commit(s);
}

static nova_status read_idp(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_oidc_idp_row_t *o = out;
    nova_status st;
    memset(o, 0, sizeof(*o));
    if ((st = nova_store_col_str(r, 0, a, &o->id)) != NOVA_OK ||
        (st = nova_store_col_str(r, 1, a, &o->tenant_id)) != NOVA_OK ||
        (st = nova_store_col_str(r, 2, a, &o->issuer)) != NOVA_OK ||
        (st = nova_store_col_str(r, 3, a, &o->config)) != NOVA_OK ||
        (st = nova_store_col_blob(r, 4, a, &o->secret_sealed, &o->secret_sealed_len)) != NOVA_OK)
        return st;
    o->created_at = r->s->drv->col_int64(r, 5);
    o->updated_at = r->s->drv->col_int64(r, 6);
    return NOVA_OK;
}

static nova_sql_param_t secret_param(const nova_oidc_idp_row_t *row)
{
    return row->secret_sealed ? NOVA_SQL_P_BLOB(row->secret_sealed, row->secret_sealed_len)
                              : NOVA_SQL_P_TEXT(NULL); /* binds SQL NULL */
}

nova_status nova_store_oidc_idp_create(nova_store_t *s, const nova_oidc_idp_row_t *row,
                                       const nova_audit_entry_t *audit)
{
    if (!row || !nova_store_valid_id(row->id) || !row->issuer || !row->config ||
        !audit_ok(row->tenant_id, audit))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, row->tenant_id);
    if (st != NOVA_OK)
        return st;
    int64_t taken = 0;
    nova_sql_param_t q[] = {NOVA_SQL_P_TEXT(row->tenant_id), NOVA_SQL_P_TEXT(row->issuer)};
    st = nova_store_query_int(s, &Q_IDP_TAKEN, row->tenant_id, q, 2, &taken);
    if (st == NOVA_OK && taken > 0)
        st = NOVA_CONFLICT;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(row->id),
                            NOVA_SQL_P_TEXT(row->tenant_id),
                            NOVA_SQL_P_TEXT(row->issuer),
                            NOVA_SQL_P_TEXT(row->config),
                            secret_param(row),
                            NOVA_SQL_P_INT(row->created_at),
                            NOVA_SQL_P_INT(row->updated_at)};
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, &Q_IDP_INSERT, NULL, p, 7, NULL);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    return finish(s, st);
}

nova_status nova_store_oidc_idp_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                    const char *id, nova_oidc_idp_row_t *out)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(id), NOVA_SQL_P_TEXT(tenant_id)};
    nova_rows_t r;
    nova_status st = s->drv->query(s, &Q_IDP_GET, tenant_id, p, 2, &r);
    if (st != NOVA_OK)
        return st;
    st = s->drv->next(&r);
    if (st == NOVA_OK)
        st = read_idp(&r, a, out);
    s->drv->done(&r);
    return st;
}

nova_status nova_store_oidc_idp_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                     nova_oidc_idp_row_t **out, size_t *n)
{
    if (!nova_store_valid_id(tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_all(s, &Q_IDP_LIST, tenant_id, p, 1, a, read_idp,
                              sizeof(nova_oidc_idp_row_t), (void **)out, n);
}

nova_status nova_store_oidc_idp_update(nova_store_t *s, const nova_oidc_idp_row_t *row,
                                       const nova_audit_entry_t *audit)
{
    if (!row || !nova_store_valid_id(row->id) || !row->config || !audit_ok(row->tenant_id, audit))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, row->tenant_id);
    if (st != NOVA_OK)
        return st;
    int64_t changed = 0;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(row->config), secret_param(row),
                            NOVA_SQL_P_INT(row->updated_at), NOVA_SQL_P_TEXT(row->id),
                            NOVA_SQL_P_TEXT(row->tenant_id)};
    st = nova_store_exec_q(s, &Q_IDP_UPDATE, NULL, p, 5, &changed);
    if (st == NOVA_OK && changed != 1)
        st = NOVA_NOT_FOUND;
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    return finish(s, st);
}

nova_status nova_store_oidc_idp_delete(nova_store_t *s, const char *tenant_id, const char *id,
                                       const nova_audit_entry_t *audit)
{
    if (!nova_store_valid_id(id) || !audit_ok(tenant_id, audit))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    int64_t changed = 0;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(id), NOVA_SQL_P_TEXT(tenant_id)};
    st = nova_store_exec_q(s, &Q_IDP_DELETE, NULL, p, 2, &changed);
    if (st == NOVA_OK && changed != 1)
        st = NOVA_NOT_FOUND;
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    return finish(s, st);
}

nova_status nova_store_oidc_link_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                     const char *issuer, const char *sub, const char **user_id)
{
    *user_id = NULL;
    if (!nova_store_valid_id(tenant_id) || !issuer || !sub)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(issuer),
                            NOVA_SQL_P_TEXT(sub)};
    nova_rows_t r;
    nova_status st = s->drv->query(s, &Q_LINK_GET, tenant_id, p, 3, &r);
    if (st != NOVA_OK)
        return st;
    st = s->drv->next(&r);
    if (st == NOVA_OK)
        st = nova_store_col_str(&r, 0, a, user_id);
    s->drv->done(&r);
    return st;
}

nova_status nova_store_oidc_link_put(nova_store_t *s, const char *tenant_id, const char *issuer,
                                     const char *sub, const char *user_id, int64_t now,
                                     const nova_audit_entry_t *audit)
{
    if (!issuer || !sub || !nova_store_valid_id(user_id) || !audit_ok(tenant_id, audit))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    int64_t taken = 0;
    nova_sql_param_t q[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(issuer),
                            NOVA_SQL_P_TEXT(sub)};
    st = nova_store_query_int(s, &Q_LINK_TAKEN, tenant_id, q, 3, &taken);
    if (st == NOVA_OK && taken > 0)
        st = NOVA_CONFLICT;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(issuer),
                            NOVA_SQL_P_TEXT(sub), NOVA_SQL_P_TEXT(user_id), NOVA_SQL_P_INT(now)};
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, &Q_LINK_PUT, NULL, p, 5, NULL);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    return finish(s, st);
}
