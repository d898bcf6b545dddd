/*
 * sms_messages.c: the repository of the messages Twilio created for SMS deliveries
 * (nova/webhook_store.h, table sms_messages, migration 0028): written by the dispatcher
 * when a send returns MessageSids, moved on by Twilio's status callbacks. A row names its
 * recipient by the delivery log's tag, never by the number.
 */
#include <string.h>

#include "internal.h"
#include "nova/audit_store.h"
#include "nova/webhook_store.h"

#define SMS_COLS                                                                                   \
    "tenant_id, message_sid, channel_id, event_id, delivery_id, recipient, status, rank, "         \
    "error_code, created_at, updated_at"

static const nova_sql_t Q_SMS_INSERT = {-1, "sms message insert",
                                        "INSERT INTO sms_messages (" SMS_COLS
                                        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                                        "ON CONFLICT (tenant_id, message_sid) DO NOTHING",
                                        NULL};
static const nova_sql_t Q_SMS_LIST = {-1, "sms message list",
                                      "SELECT " SMS_COLS " FROM sms_messages WHERE tenant_id = ? "
                                      "AND event_id = ? ORDER BY delivery_id, created_at, "
                                      "message_sid",
                                      NULL};
static const nova_sql_t Q_SMS_GET = {-1, "sms message get",
                                     "SELECT " SMS_COLS " FROM sms_messages WHERE tenant_id = ? "
                                     "AND channel_id = ? AND message_sid = ?",
                                     NULL};
/* Forward only: a status of the same or a lower rank (a duplicate, a late callback) changes
 * nothing. */
static const nova_sql_t Q_SMS_MOVE = {
    -1, "sms message status",
    "UPDATE sms_messages SET status = ?, rank = ?, error_code = ?, updated_at = ? WHERE "
    "tenant_id = ? AND channel_id = ? AND message_sid = ? AND rank < ?",
    NULL};

static nova_status read_sms(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_sms_message_row_t *m = out;
    const char **cols[] = {&m->tenant_id,   &m->message_sid, &m->channel_id, &m->event_id,
                           &m->delivery_id, &m->recipient,   &m->status};
    nova_status st = NOVA_OK;
    for (int i = 0; st == NOVA_OK && i < 7; i++)
        st = nova_store_col_str(r, i, a, cols[i]);
    m->rank = r->s->drv->col_int64(r, 7);
    m->error_code = r->s->drv->col_int64(r, 8);
    m->created_at = r->s->drv->col_int64(r, 9);
    m->updated_at = r->s->drv->col_int64(r, 10);
    return st;
}

nova_status nova_store_sms_message_insert(nova_store_t *s, const nova_sms_message_row_t *rows,
                                          size_t n)
{
    if (n == 0)
        return NOVA_OK;
    const char *tenant = rows[0].tenant_id;
    if (!nova_store_valid_id(tenant))
        return NOVA_INVALID;
    for (size_t i = 0; i < n; i++) {
        const nova_sms_message_row_t *m = &rows[i];
        if (m->tenant_id == NULL || strcmp(m->tenant_id, tenant) != 0 || !m->message_sid ||
            !*m->message_sid || !m->channel_id || !m->event_id || !m->delivery_id ||
            !m->recipient || !m->status)
            return NOVA_INVALID;
    }
    nova_status st = nova_store_tx_begin(s, tenant);
    for (size_t i = 0; st == NOVA_OK && i < n; i++) {
        const nova_sms_message_row_t *m = &rows[i];
        nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(m->tenant_id),   NOVA_SQL_P_TEXT(m->message_sid),
                                NOVA_SQL_P_TEXT(m->channel_id),  NOVA_SQL_P_TEXT(m->event_id),
                                NOVA_SQL_P_TEXT(m->delivery_id), NOVA_SQL_P_TEXT(m->recipient),
                                NOVA_SQL_P_TEXT(m->status),      NOVA_SQL_P_INT(m->rank),
                                NOVA_SQL_P_INT(m->error_code),   NOVA_SQL_P_INT(m->created_at),
                                NOVA_SQL_P_INT(m->updated_at)};
        st = nova_store_exec_q(s, &Q_SMS_INSERT, NULL, p, 11, NULL);
        if (st != NOVA_OK) {
            nova_store_tx_rollback(s);
            return st;
        }
    }
    return st == NOVA_OK ? nova_store_tx_commit(s) : st;
}

nova_status nova_store_sms_message_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                        const char *event_id, nova_sms_message_row_t **out,
                                        size_t *n)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(event_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(event_id)};
    return nova_store_get_all(s, &Q_SMS_LIST, tenant_id, p, 2, a, read_sms, sizeof(**out),
                              (void **)out, n);
}

nova_status nova_store_sms_message_status(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                          const char *channel_id, const char *sid,
                                          const char *status, int64_t rank, int64_t error_code,
                                          int64_t now, const nova_audit_entry_t *audit,
                                          nova_sms_message_row_t *out, bool *changed)
{
    *changed = false;
    memset(out, 0, sizeof(*out));
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(channel_id) || !sid || !*sid ||
        !status || !nova_store_audit_for(audit, tenant_id))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    nova_sql_param_t gp[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(channel_id),
                             NOVA_SQL_P_TEXT(sid)};
    nova_sql_param_t up[] = {NOVA_SQL_P_TEXT(status),    NOVA_SQL_P_INT(rank),
                             NOVA_SQL_P_INT(error_code), NOVA_SQL_P_INT(now),
                             NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(channel_id),
                             NOVA_SQL_P_TEXT(sid),       NOVA_SQL_P_INT(rank)};
    int64_t n = 0;
    st = nova_store_exec_q(s, &Q_SMS_MOVE, NULL, up, 8, &n);
    /* The audit entry only for a change: a duplicate or a late callback mutates nothing. */
    if (st == NOVA_OK && n > 0)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    if (st == NOVA_OK)
        st = nova_store_get_one(s, &Q_SMS_GET, NULL, gp, 3, a, read_sms, out);
    if (st != NOVA_OK) {
        nova_store_tx_rollback(s);
        return st;
    }
    st = nova_store_tx_commit(s);
    *changed = st == NOVA_OK && n > 0;
    return st;
}
