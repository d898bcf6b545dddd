/*
 * security.c: the repository of tenant security settings (nova/security_store.h).
 *
 * A put is one write transaction: an upsert that bumps the version, a read of the new
 * version, the audit entry. SQLite runs it under BEGIN IMMEDIATE (one writer); on PostgreSQL
 * the upsert takes the row lock, so concurrent puts of one tenant are numbered one after the
 * other and never share a version.
 */
#include <string.h>

#include "internal.h"
#include "nova/audit_store.h"
#include "nova/security_store.h"

static const nova_sql_t Q_SEC_GET = {
    NOVA_Q_SEC_GET, "security get",
    "SELECT tenant_id, settings, version, updated_at FROM tenant_security WHERE tenant_id = ?",
    NULL};
static const nova_sql_t Q_SEC_VERSION = {NOVA_Q_SEC_VERSION, "security version",
                                         "SELECT version FROM tenant_security WHERE tenant_id = ?",
                                         NULL};
static const nova_sql_t Q_SEC_INSERT = {
    NOVA_Q_SEC_INSERT, "security upsert",
    "INSERT INTO tenant_security (tenant_id, settings, version, updated_at) VALUES (?, ?, 1, ?) "
    "ON CONFLICT (tenant_id) DO UPDATE SET settings = excluded.settings, "
    "version = tenant_security.version + 1, updated_at = excluded.updated_at",
    NULL};
static const nova_sql_t Q_SEC_TENANT = {NOVA_Q_SEC_TENANT, "security tenant exists",
                                        "SELECT 1 FROM tenants WHERE id = ?", NULL};

nova_status nova_store_security_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                    nova_security_row_t *out)
{
    nova_rows_t r;
    if (!nova_store_valid_id(tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    nova_status st = s->drv->query(s, &Q_SEC_GET, tenant_id, p, 1, &r);
    if (st != NOVA_OK)
        return st;
    st = s->drv->next(&r);
    if (st == NOVA_OK)
        st = nova_store_col_str(&r, 0, a, &out->tenant_id);
    if (st == NOVA_OK)
        st = nova_store_col_str(&r, 1, a, &out->settings);
    if (st == NOVA_OK) {
        out->version = s->drv->col_int64(&r, 2);
        out->updated_at = s->drv->col_int64(&r, 3);
    }
    s->drv->done(&r);
    return st;
}

nova_status nova_store_security_put(nova_store_t *s, const char *tenant_id, const char *settings,
                                    int64_t now, const nova_audit_entry_t *audit, int64_t *version)
{
    if (!nova_store_valid_id(tenant_id) || settings == NULL || now <= 0 || !audit ||
        !audit->tenant_id || strcmp(audit->tenant_id, tenant_id) != 0)
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    nova_sql_param_t tp[] = {NOVA_SQL_P_TEXT(tenant_id)};
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(settings),
                            NOVA_SQL_P_INT(now)};
    int64_t one = 0;
    st = nova_store_query_int(s, &Q_SEC_TENANT, NULL, tp, 1, &one);
    if (st == NOVA_NOT_FOUND)
        st = NOVA_INVALID;
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, &Q_SEC_INSERT, NULL, p, 3, NULL);
    if (st == NOVA_OK)
        st = nova_store_query_int(s, &Q_SEC_VERSION, NULL, tp, 1, version);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    if (st != NOVA_OK) {
        nova_store_tx_rollback(s);
        return st;
    }
    return nova_store_tx_commit(s);
}
