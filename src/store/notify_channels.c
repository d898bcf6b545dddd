/*
 * notify_channels.c: the repository of a tenant's email and SMS channels
 * (nova/webhook_store.h, table notification_channels, migration 0024). The outbox's own
 * statements (src/store/webhooks.c) write the deliveries to them; this file keeps the rows.
 * The sealed secret is stored as given and never read back in clear here.
 */
#include <string.h>

#include "internal.h"
#include "nova/audit_store.h"
#include "nova/webhook_store.h"

#define CH_COLS                                                                                    \
    "tenant_id, id, kind, target, settings, secret, events, enabled, created_by, created_at, "     \
    "updated_at"

static const nova_sql_t Q_CH_INSERT = {-1, "notification channel insert",
                                       "INSERT INTO notification_channels (" CH_COLS
                                       ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                       NULL};
static const nova_sql_t Q_CH_EXISTS = {
    -1, "notification channel exists",
    "SELECT 1 FROM notification_channels WHERE tenant_id = ? AND id = ?", NULL};
static const nova_sql_t Q_CH_GET = {
    -1, "notification channel get",
    "SELECT " CH_COLS " FROM notification_channels WHERE tenant_id = ? AND id = ?", NULL};
static const nova_sql_t Q_CH_LIST = {
    -1, "notification channel list",
    "SELECT " CH_COLS " FROM notification_channels WHERE tenant_id = ? ORDER BY created_at, id",
    NULL};
static const nova_sql_t Q_CH_UPDATE = {
    -1, "notification channel update",
    "UPDATE notification_channels SET target = ?, settings = ?, secret = ?, events = ?, enabled = "
    "?, updated_at = ? WHERE tenant_id = ? AND id = ?",
    NULL};
static const nova_sql_t Q_CH_DELETE = {
    -1, "notification channel delete",
    "DELETE FROM notification_channels WHERE tenant_id = ? AND id = ?", NULL};
/* A channel disabled or deleted sends nothing still pending. */
static const nova_sql_t Q_CH_FAIL = {
    -1, "notification deliveries of a stopped channel",
    "UPDATE webhook_deliveries SET state = 'failed', updated_at = ? WHERE tenant_id = ? AND "
    "channel_id = ? AND state = 'pending'",
    NULL};

static const uint8_t no_secret[1] = {0};

static nova_status read_ch(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_notify_channel_row_t *c = out;
    nova_status st = nova_store_col_str(r, 0, a, &c->tenant_id);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 1, a, &c->id);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 2, a, &c->kind);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 3, a, &c->target);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 4, a, &c->settings);
    if (st == NOVA_OK)
        st = nova_store_col_blob(r, 5, a, &c->secret, &c->secret_len);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 6, a, &c->events);
    c->enabled = r->s->drv->col_int64(r, 7) != 0;
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 8, a, &c->created_by);
    c->created_at = r->s->drv->col_int64(r, 9);
    c->updated_at = r->s->drv->col_int64(r, 10);
    return st;
}

static bool row_ok(const nova_notify_channel_row_t *c)
{
    return nova_store_valid_id(c->tenant_id) && nova_store_valid_id(c->id) && c->kind &&
           c->target && c->settings && c->events;
}

nova_status nova_store_notify_channel_insert(nova_store_t *s, const nova_notify_channel_row_t *c,
                                             const nova_audit_entry_t *audit)
{
    if (!row_ok(c) || !c->created_by || !nova_store_audit_for(audit, c->tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t xp[] = {NOVA_SQL_P_TEXT(c->tenant_id), NOVA_SQL_P_TEXT(c->id)};
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(c->tenant_id),
                            NOVA_SQL_P_TEXT(c->id),
                            NOVA_SQL_P_TEXT(c->kind),
                            NOVA_SQL_P_TEXT(c->target),
                            NOVA_SQL_P_TEXT(c->settings),
                            NOVA_SQL_P_BLOB(c->secret ? c->secret : no_secret, c->secret_len),
                            NOVA_SQL_P_TEXT(c->events),
                            NOVA_SQL_P_INT(c->enabled ? 1 : 0),
                            NOVA_SQL_P_TEXT(c->created_by),
                            NOVA_SQL_P_INT(c->created_at),
                            NOVA_SQL_P_INT(c->updated_at)};
    nova_store_stmt_t x[] = {{&Q_CH_EXISTS, xp, 2, NOVA_OK, NOVA_CONFLICT},
                             {&Q_CH_INSERT, p, 11, NOVA_OK, NOVA_OK}};
    return nova_store_exec_audited(s, c->tenant_id, x, 2, audit);
}

nova_status nova_store_notify_channel_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                          const char *id, nova_notify_channel_row_t *out)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(id)};
    memset(out, 0, sizeof(*out));
    return nova_store_get_one(s, &Q_CH_GET, tenant_id, p, 2, a, read_ch, out);
}

nova_status nova_store_notify_channel_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                           nova_notify_channel_row_t **out, size_t *n)
{
    if (!nova_store_valid_id(tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_all(s, &Q_CH_LIST, tenant_id, p, 1, a, read_ch, sizeof(**out),
                              (void **)out, n);
}

nova_status nova_store_notify_channel_update(nova_store_t *s, const nova_notify_channel_row_t *c,
                                             const nova_audit_entry_t *audit)
{
    if (!row_ok(c) || !nova_store_audit_for(audit, c->tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(c->target),
                            NOVA_SQL_P_TEXT(c->settings),
                            NOVA_SQL_P_BLOB(c->secret ? c->secret : no_secret, c->secret_len),
                            NOVA_SQL_P_TEXT(c->events),
                            NOVA_SQL_P_INT(c->enabled ? 1 : 0),
                            NOVA_SQL_P_INT(c->updated_at),
                            NOVA_SQL_P_TEXT(c->tenant_id),
                            NOVA_SQL_P_TEXT(c->id)};
    nova_sql_param_t fp[] = {NOVA_SQL_P_INT(c->updated_at), NOVA_SQL_P_TEXT(c->tenant_id),
                             NOVA_SQL_P_TEXT(c->id)};
    /* Disabling it fails its pending deliveries in the same transaction. */
    nova_store_stmt_t x[] = {{&Q_CH_UPDATE, p, 8, NOVA_NOT_FOUND, NOVA_OK},
                             {&Q_CH_FAIL, fp, 3, NOVA_OK, NOVA_OK}};
    return nova_store_exec_audited(s, c->tenant_id, x, c->enabled ? 1 : 2, audit);
}

nova_status nova_store_notify_channel_delete(nova_store_t *s, const char *tenant_id, const char *id,
                                             int64_t now, const nova_audit_entry_t *audit)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id) ||
        !nova_store_audit_for(audit, tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(id)};
    nova_sql_param_t fp[] = {NOVA_SQL_P_INT(now), NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(id)};
    nova_store_stmt_t x[] = {{&Q_CH_DELETE, p, 2, NOVA_NOT_FOUND, NOVA_OK},
                             {&Q_CH_FAIL, fp, 3, NOVA_OK, NOVA_OK}};
    return nova_store_exec_audited(s, tenant_id, x, 2, audit);
}
