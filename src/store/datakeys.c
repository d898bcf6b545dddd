/*
 * datakeys.c: the repository of tenant data keys (nova/datakey_store.h).
 *
 * Adding a version is one write transaction: the INSERT (the primary key (tenant, region,
 * version) refuses a version taken by a concurrent rotation, which the caller sees as
 * NOVA_CONFLICT), the retirement of the older versions and the audit entry.
 */
#include <string.h>

#include "internal.h"
#include "nova/audit_store.h"
#include "nova/datakey_store.h"

#define DK_COLS "tenant_id, region, version, envelope, wrapped_key, created_at, retired_at"

static const nova_sql_t Q_DK_INSERT = {
    NOVA_Q_DK_INSERT, "data key insert",
    "INSERT INTO tenant_data_keys (" DK_COLS ") VALUES (?, ?, ?, ?, ?, ?, 0)", NULL};
static const nova_sql_t Q_DK_RETIRE = {
    NOVA_Q_DK_RETIRE, "data key retire",
    "UPDATE tenant_data_keys SET retired_at = ? "
    "WHERE tenant_id = ? AND region = ? AND version < ? AND retired_at = 0",
    NULL};
static const nova_sql_t Q_DK_GET = {NOVA_Q_DK_GET, "data key get",
                                    "SELECT " DK_COLS " FROM tenant_data_keys "
                                    "WHERE tenant_id = ? AND region = ? AND version = ?",
                                    NULL};
static const nova_sql_t Q_DK_NEWEST = {NOVA_Q_DK_NEWEST, "data key newest",
                                       "SELECT " DK_COLS " FROM tenant_data_keys "
                                       "WHERE tenant_id = ? AND region = ? "
                                       "ORDER BY version DESC LIMIT 1",
                                       NULL};
static const nova_sql_t Q_DK_LIST = {NOVA_Q_DK_LIST, "data key list",
                                     "SELECT " DK_COLS " FROM tenant_data_keys "
                                     "WHERE tenant_id = ? ORDER BY region, version",
                                     NULL};

/* Reads DK_COLS; with_key: also the wrapped bytes (copied into a). */
static nova_status read_row(nova_rows_t *r, nova_arena_t *a, bool with_key, nova_datakey_row_t *o)
{
    const nova_store_driver_t *d = r->s->drv;
    nova_status st;
    memset(o, 0, sizeof(*o));
    if ((st = nova_store_col_str(r, 0, a, &o->tenant_id)) != NOVA_OK ||
        (st = nova_store_col_str(r, 1, a, &o->region)) != NOVA_OK ||
        (st = nova_store_col_str(r, 3, a, &o->envelope)) != NOVA_OK)
        return st;
    o->version = d->col_int64(r, 2);
    o->created_at = d->col_int64(r, 5);
    o->retired_at = d->col_int64(r, 6);
    if (with_key) {
        size_t len;
        const void *p = d->col_bytes(r, 4, &len);
        if (p == NULL || len == 0)
            return NOVA_INTERNAL; /* NOT NULL column: a damaged row */
        uint8_t *w = nova_arena_alloc(a, len);
        if (w == NULL)
            return NOVA_NOMEM;
        memcpy(w, p, len);
        o->wrapped = w;
        o->wrapped_len = len;
    }
    return NOVA_OK;
}

nova_status nova_store_datakey_add(nova_store_t *s, const nova_datakey_row_t *k,
                                   const nova_audit_entry_t *audit)
{
    if (!k || !nova_store_valid_id(k->tenant_id) || !k->region || !k->region[0] || k->version < 1 ||
        !k->envelope || !k->wrapped || !k->wrapped_len || k->created_at <= 0 || !audit ||
        !audit->tenant_id || strcmp(audit->tenant_id, k->tenant_id) != 0)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(k->tenant_id),
                            NOVA_SQL_P_TEXT(k->region),
                            NOVA_SQL_P_INT(k->version),
                            NOVA_SQL_P_TEXT(k->envelope),
                            NOVA_SQL_P_BLOB(k->wrapped, k->wrapped_len),
                            NOVA_SQL_P_INT(k->created_at)};
    nova_sql_param_t rp[] = {NOVA_SQL_P_INT(k->created_at), NOVA_SQL_P_TEXT(k->tenant_id),
                             NOVA_SQL_P_TEXT(k->region), NOVA_SQL_P_INT(k->version)};
    nova_store_stmt_t x[] = {{&Q_DK_INSERT, p, 6, NOVA_OK, NOVA_OK},
                             {&Q_DK_RETIRE, rp, 4, NOVA_OK, NOVA_OK}};
    return nova_store_exec_audited(s, k->tenant_id, x, 2, audit);
}

static nova_status get_one(nova_store_t *s, nova_arena_t *a, const nova_sql_t *q,
                           const char *tenant_id, const nova_sql_param_t *p, int n,
                           nova_datakey_row_t *out)
{
    nova_rows_t r;
    nova_status st = s->drv->query(s, q, tenant_id, p, n, &r);
    if (st != NOVA_OK)
        return st;
    st = s->drv->next(&r);
    if (st == NOVA_OK)
        st = read_row(&r, a, true, out);
    s->drv->done(&r);
    return st;
}

nova_status nova_store_datakey_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                   const char *region, int64_t version, nova_datakey_row_t *out)
{
    if (!nova_store_valid_id(tenant_id) || !region || version < 1)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(region),
                            NOVA_SQL_P_INT(version)};
    return get_one(s, a, &Q_DK_GET, tenant_id, p, 3, out);
}

nova_status nova_store_datakey_newest(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                      const char *region, nova_datakey_row_t *out)
{
    if (!nova_store_valid_id(tenant_id) || !region)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(region)};
    return get_one(s, a, &Q_DK_NEWEST, tenant_id, p, 2, out);
}

/* A listed row: never the wrapped key. */
static nova_status read_listed_row(nova_rows_t *r, nova_arena_t *a, void *out)
{
    return read_row(r, a, false, out);
}

nova_status nova_store_datakey_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                    nova_datakey_row_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!nova_store_valid_id(tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_all(s, &Q_DK_LIST, tenant_id, p, 1, a, read_listed_row,
                              sizeof(nova_datakey_row_t), (void **)out, n);
}
