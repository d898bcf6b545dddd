/*
 * webhooks.c: the repository of event notifications (nova/webhook_store.h, migration 0018).
 *
 * Statements are prepared per call (slot -1), as the gateway's are: they run a few times per
 * event, not per request. Select lists cast their parameters, so PostgreSQL need not guess
 * the types of `?` in an INSERT ... SELECT.
 *
 * A delivery's id is "<event id>:<endpoint id>" (":callback" for the verification's own
 * callback_url), so writing the deliveries of an event twice (a replay after a new
 * subscription) adds only the missing ones.
 */
#include <string.h>

#include "internal.h"
#include "nova/audit_store.h"
#include "nova/webhook_store.h"

#define EP_COLS                                                                                    \
    "tenant_id, id, url, events, secrets, client_cert, client_key, ca, pin, enabled, created_by, " \
    "created_at, updated_at"
#define EV_COLS "tenant_id, id, type, subject, payload, created_at"
#define DL_COLS                                                                                    \
    "tenant_id, id, event_id, endpoint_id, url, state, attempts, max_attempts, next_at, "          \
    "last_status, created_at, updated_at, channel, channel_id"

static const nova_sql_t Q_EP_INSERT = {-1, "webhook endpoint insert",
                                       "INSERT INTO webhook_endpoints (" EP_COLS
                                       ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                       NULL};
static const nova_sql_t Q_EP_EXISTS = {
    -1, "webhook endpoint exists", "SELECT 1 FROM webhook_endpoints WHERE tenant_id = ? AND id = ?",
    NULL};
static const nova_sql_t Q_EP_GET = {
    -1, "webhook endpoint get",
    "SELECT " EP_COLS " FROM webhook_endpoints WHERE tenant_id = ? AND id = ?", NULL};
static const nova_sql_t Q_EP_LIST = {
    -1, "webhook endpoint list",
    "SELECT " EP_COLS " FROM webhook_endpoints WHERE tenant_id = ? ORDER BY created_at, id", NULL};
static const nova_sql_t Q_EP_SECRETS = {-1, "webhook endpoint secrets",
                                        "UPDATE webhook_endpoints SET secrets = ?, updated_at = ? "
                                        "WHERE tenant_id = ? AND id = ?",
                                        NULL};
static const nova_sql_t Q_EV_INSERT = {
    -1, "webhook event insert",
    "INSERT INTO webhook_events (" EV_COLS ") VALUES (?, ?, ?, ?, ?, ?)", NULL};
/* The deliveries of an event to the tenant's subscribed endpoints. */
static const nova_sql_t Q_DL_SUBSCRIBED = {
    -1, "webhook deliveries subscribed",
    "INSERT INTO webhook_deliveries (tenant_id, id, event_id, endpoint_id, url, state, attempts, "
    "max_attempts, next_at, created_at, updated_at) SELECT tenant_id, CAST(? AS TEXT) || ':' || "
    "id, CAST(? AS TEXT), id, url, 'pending', 0, CAST(? AS BIGINT), CAST(? AS BIGINT), "
    "CAST(? AS BIGINT), CAST(? AS BIGINT) FROM webhook_endpoints WHERE tenant_id = ? AND enabled "
    "= 1 AND (' ' || events || ' ') LIKE ? ON CONFLICT DO NOTHING",
    NULL};
/* The deliveries of an event to the tenant's subscribed notification channels (0024). */
static const nova_sql_t Q_DL_CHANNELS = {
    -1, "notification deliveries subscribed",
    "INSERT INTO webhook_deliveries (tenant_id, id, event_id, endpoint_id, url, state, attempts, "
    "max_attempts, next_at, created_at, updated_at, channel, channel_id) SELECT tenant_id, "
    "CAST(? AS TEXT) || ':' || id, CAST(? AS TEXT), '', target, 'pending', 0, CAST(? AS BIGINT), "
    "CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT), kind, id FROM notification_channels "
    "WHERE tenant_id = ? AND enabled = 1 AND (' ' || events || ' ') LIKE ? ON CONFLICT DO NOTHING",
    NULL};
/* The delivery to the verification's callback_url, with the oldest enabled endpoint's
 * secrets and TLS material. */
static const nova_sql_t Q_DL_CALLBACK = {
    -1, "webhook delivery callback",
    "INSERT INTO webhook_deliveries (tenant_id, id, event_id, endpoint_id, url, state, attempts, "
    "max_attempts, next_at, created_at, updated_at) VALUES (?, ?, ?, COALESCE((SELECT id FROM "
    "webhook_endpoints WHERE tenant_id = ? AND enabled = 1 ORDER BY created_at, id LIMIT 1), ''), "
    "?, 'pending', 0, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    NULL};
static const nova_sql_t Q_EV_GET = {
    -1, "webhook event get",
    "SELECT " EV_COLS " FROM webhook_events WHERE tenant_id = ? AND id = ?", NULL};
static const nova_sql_t Q_EV_LIST = {
    -1, "webhook event list",
    "SELECT " EV_COLS " FROM webhook_events WHERE tenant_id = ? AND (? IS NULL OR type = ?) AND "
    "(? IS NULL OR created_at > ? OR (created_at = ? AND id > ?)) ORDER BY created_at, id LIMIT ?",
    "SELECT " EV_COLS " FROM webhook_events WHERE tenant_id = $1 AND ($2::text IS NULL OR type = "
    "$3) AND ($4::text IS NULL OR created_at > $5 OR (created_at = $6 AND id > $7)) ORDER BY "
    "created_at, id LIMIT $8"};
static const nova_sql_t Q_DL_LIST = {-1, "webhook delivery list",
                                     "SELECT " DL_COLS " FROM webhook_deliveries WHERE tenant_id = "
                                     "? AND event_id = ? ORDER BY created_at, id",
                                     NULL};
static const nova_sql_t Q_AT_LIST = {
    -1, "webhook attempt list",
    "SELECT delivery_id, attempt, status_code, duration_ms, error, created_at, result FROM "
    "webhook_attempts WHERE tenant_id = ? AND event_id = ? ORDER BY delivery_id, attempt",
    NULL};
static const nova_sql_t Q_DL_REPLAY = {
    -1, "webhook delivery replay",
    "UPDATE webhook_deliveries SET state = 'pending', next_at = ?, max_attempts = attempts + ?, "
    "lease_until = 0, lease_owner = '', updated_at = ? WHERE tenant_id = ? AND event_id = ?",
    NULL};
static const nova_sql_t Q_DL_PENDING = {
    -1, "webhook delivery pending",
    "SELECT COUNT(*) FROM webhook_deliveries WHERE tenant_id = ? AND event_id = ? AND state = "
    "'pending'",
    NULL};
static const nova_sql_t Q_DL_CLAIM = {
    -1, "webhook delivery claim",
    "UPDATE webhook_deliveries SET lease_until = ?, lease_owner = ? WHERE (tenant_id, id) IN "
    "(SELECT tenant_id, id FROM webhook_deliveries WHERE state = 'pending' AND next_at <= ? AND "
    "lease_until < ? ORDER BY next_at LIMIT ?) RETURNING " DL_COLS,
    "UPDATE webhook_deliveries d SET lease_until = $1, lease_owner = $2 FROM (SELECT tenant_id, "
    "id FROM webhook_deliveries WHERE state = 'pending' AND next_at <= $3 AND lease_until < $4 "
    "ORDER BY next_at LIMIT $5 FOR UPDATE SKIP LOCKED) c WHERE d.tenant_id = c.tenant_id AND "
    "d.id = c.id RETURNING d.tenant_id, d.id, d.event_id, d.endpoint_id, d.url, d.state, "
    "d.attempts, d.max_attempts, d.next_at, d.last_status, d.created_at, d.updated_at, "
    "d.channel, d.channel_id"};
static const nova_sql_t Q_DL_RECORD = {
    -1, "webhook delivery record",
    "UPDATE webhook_deliveries SET state = ?, attempts = ?, next_at = ?, last_status = ?, "
    "lease_until = 0, lease_owner = '', updated_at = ? WHERE tenant_id = ? AND id = ? AND "
    "lease_owner = ?",
    NULL};
static const nova_sql_t Q_AT_INSERT = {
    -1, "webhook attempt insert",
    "INSERT INTO webhook_attempts (tenant_id, delivery_id, attempt, event_id, status_code, "
    "duration_ms, error, created_at, result) VALUES (?, ?, ?, (SELECT event_id FROM "
    "webhook_deliveries WHERE tenant_id = ? AND id = ?), ?, ?, ?, ?, ?)",
    NULL};

/* ---- endpoints ---- */

static nova_status read_ep(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_webhook_endpoint_row_t *e = out;
    nova_status st = nova_store_col_str(r, 0, a, &e->tenant_id);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 1, a, &e->id);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 2, a, &e->url);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 3, a, &e->events);
    if (st == NOVA_OK)
        st = nova_store_col_blob(r, 4, a, &e->secrets, &e->secrets_len);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 5, a, &e->client_cert);
    if (st == NOVA_OK)
        st = nova_store_col_blob(r, 6, a, &e->client_key, &e->client_key_len);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 7, a, &e->ca);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 8, a, &e->pin);
    e->enabled = r->s->drv->col_int64(r, 9) != 0;
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 10, a, &e->created_by);
    e->created_at = r->s->drv->col_int64(r, 11);
    e->updated_at = r->s->drv->col_int64(r, 12);
    return st;
}

nova_status nova_store_webhook_endpoint_insert(nova_store_t *s,
                                               const nova_webhook_endpoint_row_t *e,
                                               const nova_audit_entry_t *audit)
{
    if (!nova_store_valid_id(e->tenant_id) || !nova_store_valid_id(e->id) || !e->url ||
        !e->events || !e->secrets || !e->client_cert || !e->client_key || !e->created_by ||
        !nova_store_audit_for(audit, e->tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t xp[] = {NOVA_SQL_P_TEXT(e->tenant_id), NOVA_SQL_P_TEXT(e->id)};
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(e->tenant_id),
                            NOVA_SQL_P_TEXT(e->id),
                            NOVA_SQL_P_TEXT(e->url),
                            NOVA_SQL_P_TEXT(e->events),
                            NOVA_SQL_P_BLOB(e->secrets, e->secrets_len),
                            NOVA_SQL_P_TEXT(e->client_cert),
                            NOVA_SQL_P_BLOB(e->client_key, e->client_key_len),
                            NOVA_SQL_P_TEXT(e->ca ? e->ca : ""),
                            NOVA_SQL_P_TEXT(e->pin ? e->pin : ""),
                            NOVA_SQL_P_INT(e->enabled ? 1 : 0),
                            NOVA_SQL_P_TEXT(e->created_by),
                            NOVA_SQL_P_INT(e->created_at),
                            NOVA_SQL_P_INT(e->updated_at)};
    nova_store_stmt_t x[] = {{&Q_EP_EXISTS, xp, 2, NOVA_OK, NOVA_CONFLICT},
                             {&Q_EP_INSERT, p, 13, NOVA_OK, NOVA_OK}};
    return nova_store_exec_audited(s, e->tenant_id, x, 2, audit);
}

nova_status nova_store_webhook_endpoint_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                            const char *id, nova_webhook_endpoint_row_t *out)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(id)};
    memset(out, 0, sizeof(*out));
    return nova_store_get_one(s, &Q_EP_GET, tenant_id, p, 2, a, read_ep, out);
}

nova_status nova_store_webhook_endpoint_list(nova_store_t *s, nova_arena_t *a,
                                             const char *tenant_id,
                                             nova_webhook_endpoint_row_t **out, size_t *n)
{
    if (!nova_store_valid_id(tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_all(s, &Q_EP_LIST, tenant_id, p, 1, a, read_ep, sizeof(**out),
                              (void **)out, n);
}

nova_status nova_store_webhook_endpoint_secrets(nova_store_t *s, const char *tenant_id,
                                                const char *id, const uint8_t *secrets, size_t len,
                                                int64_t now, const nova_audit_entry_t *audit)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id) || !secrets ||
        !nova_store_audit_for(audit, tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_BLOB(secrets, len), NOVA_SQL_P_INT(now),
                            NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(id)};
    nova_store_stmt_t x = {&Q_EP_SECRETS, p, 4, NOVA_NOT_FOUND, NOVA_OK};
    return nova_store_exec_audited(s, tenant_id, &x, 1, audit);
}

nova_status nova_store_webhook_endpoint_update(nova_store_t *s,
                                               const nova_webhook_endpoint_row_t *e,
                                               const nova_audit_entry_t *audit)
{
    static const nova_sql_t Q_UPD = {
        -1, "webhook endpoint update",
        "UPDATE webhook_endpoints SET url = ?, events = ?, client_cert = ?, client_key = ?, ca = "
        "?, "
        "pin = ?, enabled = ?, updated_at = ? WHERE tenant_id = ? AND id = ?",
        NULL};
    static const nova_sql_t Q_FAIL = {
        -1, "webhook deliveries of a disabled endpoint",
        "UPDATE webhook_deliveries SET state = 'failed', updated_at = ? WHERE tenant_id = ? AND "
        "endpoint_id = ? AND state = 'pending'",
        NULL};
    if (!nova_store_valid_id(e->tenant_id) || !nova_store_valid_id(e->id) || !e->url ||
        !e->events || !e->client_cert || !e->client_key ||
        !nova_store_audit_for(audit, e->tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(e->url),
                            NOVA_SQL_P_TEXT(e->events),
                            NOVA_SQL_P_TEXT(e->client_cert),
                            NOVA_SQL_P_BLOB(e->client_key, e->client_key_len),
                            NOVA_SQL_P_TEXT(e->ca ? e->ca : ""),
                            NOVA_SQL_P_TEXT(e->pin ? e->pin : ""),
                            NOVA_SQL_P_INT(e->enabled ? 1 : 0),
                            NOVA_SQL_P_INT(e->updated_at),
                            NOVA_SQL_P_TEXT(e->tenant_id),
                            NOVA_SQL_P_TEXT(e->id)};
    nova_sql_param_t fp[] = {NOVA_SQL_P_INT(e->updated_at), NOVA_SQL_P_TEXT(e->tenant_id),
                             NOVA_SQL_P_TEXT(e->id)};
    /* Disabling it fails its pending deliveries in the same transaction. */
    nova_store_stmt_t x[] = {{&Q_UPD, p, 10, NOVA_NOT_FOUND, NOVA_OK},
                             {&Q_FAIL, fp, 3, NOVA_OK, NOVA_OK}};
    return nova_store_exec_audited(s, e->tenant_id, x, e->enabled ? 1 : 2, audit);
}

nova_status nova_store_webhook_endpoint_delete(nova_store_t *s, const char *tenant_id,
                                               const char *id, int64_t now,
                                               const nova_audit_entry_t *audit)
{
    static const nova_sql_t Q_DEL = {-1, "webhook endpoint delete",
                                     "DELETE FROM webhook_endpoints WHERE tenant_id = ? AND id = ?",
                                     NULL};
    static const nova_sql_t Q_FAIL = {
        -1, "webhook deliveries of a deleted endpoint",
        "UPDATE webhook_deliveries SET state = 'failed', updated_at = ? WHERE tenant_id = ? AND "
        "endpoint_id = ? AND state = 'pending'",
        NULL};
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id) ||
        !nova_store_audit_for(audit, tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(id)};
    nova_sql_param_t fp[] = {NOVA_SQL_P_INT(now), NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(id)};
    nova_store_stmt_t x[] = {{&Q_DEL, p, 2, NOVA_NOT_FOUND, NOVA_OK},
                             {&Q_FAIL, fp, 3, NOVA_OK, NOVA_OK}};
    return nova_store_exec_audited(s, tenant_id, x, 2, audit);
}

/* ---- events ---- */

/* The deliveries of event (tenant, id, type) to the subscribed endpoints, due at now. */
static nova_status deliveries_subscribed(nova_store_t *s, const char *tenant, const char *id,
                                         const char *type, int64_t max_attempts, int64_t now)
{
    char like[96];
    if (strlen(type) > 64)
        return NOVA_INVALID;
    memcpy(like, "% ", 2);
    memcpy(like + 2, type, strlen(type));
    memcpy(like + 2 + strlen(type), " %", 3);
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(id),          NOVA_SQL_P_TEXT(id),
                            NOVA_SQL_P_INT(max_attempts), NOVA_SQL_P_INT(now),
                            NOVA_SQL_P_INT(now),          NOVA_SQL_P_INT(now),
                            NOVA_SQL_P_TEXT(tenant),      NOVA_SQL_P_TEXT(like)};
    nova_status st = nova_store_exec_q(s, &Q_DL_SUBSCRIBED, NULL, p, 8, NULL);
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, &Q_DL_CHANNELS, NULL, p, 8, NULL);
    return st;
}

nova_status nova_store_event_append_tx(nova_store_t *s, const nova_event_row_t *ev)
{
    if (!s->in_tx || !nova_store_valid_id(ev->tenant_id) || !nova_store_valid_id(ev->id) ||
        !ev->type || !ev->payload || ev->max_attempts < 1)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {
        NOVA_SQL_P_TEXT(ev->tenant_id), NOVA_SQL_P_TEXT(ev->id),
        NOVA_SQL_P_TEXT(ev->type),      NOVA_SQL_P_TEXT(ev->subject ? ev->subject : ""),
        NOVA_SQL_P_TEXT(ev->payload),   NOVA_SQL_P_INT(ev->created_at)};
    nova_status st = nova_store_exec_q(s, &Q_EV_INSERT, NULL, p, 6, NULL);
    if (st == NOVA_OK)
        st = deliveries_subscribed(s, ev->tenant_id, ev->id, ev->type, ev->max_attempts,
                                   ev->created_at);
    if (st == NOVA_OK && ev->callback_url && *ev->callback_url) {
        char did[160];
        size_t n = strlen(ev->id);
        if (n + sizeof(":callback") > sizeof(did))
            return NOVA_INVALID;
        memcpy(did, ev->id, n);
        memcpy(did + n, ":callback", sizeof(":callback"));
        nova_sql_param_t cp[] = {
            NOVA_SQL_P_TEXT(ev->tenant_id),    NOVA_SQL_P_TEXT(did),
            NOVA_SQL_P_TEXT(ev->id),           NOVA_SQL_P_TEXT(ev->tenant_id),
            NOVA_SQL_P_TEXT(ev->callback_url), NOVA_SQL_P_INT(ev->max_attempts),
            NOVA_SQL_P_INT(ev->created_at),    NOVA_SQL_P_INT(ev->created_at),
            NOVA_SQL_P_INT(ev->created_at)};
        st = nova_store_exec_q(s, &Q_DL_CALLBACK, NULL, cp, 9, NULL);
    }
    return st;
}

static nova_status read_ev(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_event_row_t *e = out;
    nova_status st = nova_store_col_str(r, 0, a, &e->tenant_id);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 1, a, &e->id);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 2, a, &e->type);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 3, a, &e->subject);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 4, a, &e->payload);
    e->created_at = r->s->drv->col_int64(r, 5);
    return st;
}

nova_status nova_store_event_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                 const char *id, nova_event_row_t *out)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(id)};
    memset(out, 0, sizeof(*out));
    return nova_store_get_one(s, &Q_EV_GET, tenant_id, p, 2, a, read_ev, out);
}

nova_status nova_store_event_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                  const char *type, int64_t after_created, const char *after_id,
                                  int limit, nova_event_row_t **out, size_t *n)
{
    if (!nova_store_valid_id(tenant_id) || limit < 1)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id),    NOVA_SQL_P_TEXT(type),
                            NOVA_SQL_P_TEXT(type),         NOVA_SQL_P_TEXT(after_id),
                            NOVA_SQL_P_INT(after_created), NOVA_SQL_P_INT(after_created),
                            NOVA_SQL_P_TEXT(after_id),     NOVA_SQL_P_INT(limit)};
    return nova_store_get_all(s, &Q_EV_LIST, tenant_id, p, 8, a, read_ev, sizeof(**out),
                              (void **)out, n);
}

/* ---- deliveries ---- */

static nova_status read_dl(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_delivery_row_t *d = out;
    nova_status st = nova_store_col_str(r, 0, a, &d->tenant_id);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 1, a, &d->id);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 2, a, &d->event_id);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 3, a, &d->endpoint_id);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 4, a, &d->url);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 5, a, &d->state);
    d->attempts = r->s->drv->col_int64(r, 6);
    d->max_attempts = r->s->drv->col_int64(r, 7);
    d->next_at = r->s->drv->col_int64(r, 8);
    d->last_status = r->s->drv->col_int64(r, 9);
    d->created_at = r->s->drv->col_int64(r, 10);
    d->updated_at = r->s->drv->col_int64(r, 11);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 12, a, &d->channel);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 13, a, &d->channel_id);
    return st;
}

static nova_status read_at(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_attempt_row_t *t = out;
    nova_status st = nova_store_col_str(r, 0, a, &t->delivery_id);
    t->attempt = r->s->drv->col_int64(r, 1);
    t->status_code = r->s->drv->col_int64(r, 2);
    t->duration_ms = r->s->drv->col_int64(r, 3);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 4, a, &t->error);
    t->created_at = r->s->drv->col_int64(r, 5);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 6, a, &t->result);
    return st;
}

nova_status nova_store_delivery_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                     const char *event_id, nova_delivery_row_t **out, size_t *n)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(event_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(event_id)};
    return nova_store_get_all(s, &Q_DL_LIST, tenant_id, p, 2, a, read_dl, sizeof(**out),
                              (void **)out, n);
}

nova_status nova_store_attempt_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                    const char *event_id, nova_attempt_row_t **out, size_t *n)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(event_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(event_id)};
    return nova_store_get_all(s, &Q_AT_LIST, tenant_id, p, 2, a, read_at, sizeof(**out),
                              (void **)out, n);
}

nova_status nova_store_event_replay(nova_store_t *s, const char *tenant_id, const char *id,
                                    int64_t now, int64_t extra, const nova_audit_entry_t *audit,
                                    int64_t *n)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id) || extra < 1 ||
        !nova_store_audit_for(audit, tenant_id))
        return NOVA_INVALID;
    nova_arena_t a;
    nova_arena_init(&a, 4096);
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK) {
        nova_arena_free(&a);
        return st;
    }
    nova_event_row_t *ev = NULL;
    size_t nev = 0;
    nova_sql_param_t gp[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(id)};
    st =
        nova_store_get_all(s, &Q_EV_GET, NULL, gp, 2, &a, read_ev, sizeof(*ev), (void **)&ev, &nev);
    if (st == NOVA_OK && nev == 0)
        st = NOVA_NOT_FOUND;
    nova_sql_param_t rp[] = {NOVA_SQL_P_INT(now), NOVA_SQL_P_INT(extra), NOVA_SQL_P_INT(now),
                             NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(id)};
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, &Q_DL_REPLAY, NULL, rp, 5, NULL);
    if (st == NOVA_OK)
        st = deliveries_subscribed(s, tenant_id, id, ev[0].type, extra, now);
    if (st == NOVA_OK)
        st = nova_store_query_int(s, &Q_DL_PENDING, NULL, gp, 2, n);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    nova_arena_free(&a);
    if (st != NOVA_OK) {
        nova_store_tx_rollback(s);
        return st;
    }
    return nova_store_tx_commit(s);
}

nova_status nova_store_delivery_claim(nova_store_t *s, nova_arena_t *a, int64_t now,
                                      int64_t lease_until, const char *owner, int limit,
                                      nova_delivery_row_t **out, size_t *n)
{
    if (owner == NULL || *owner == '\0' || limit < 1)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(lease_until), NOVA_SQL_P_TEXT(owner),
                            NOVA_SQL_P_INT(now), NOVA_SQL_P_INT(now), NOVA_SQL_P_INT(limit)};
    return nova_store_get_all(s, &Q_DL_CLAIM, NOVA_STORE_ALL_TENANTS, p, 5, a, read_dl,
                              sizeof(**out), (void **)out, n);
}

nova_status nova_store_delivery_record(nova_store_t *s, const char *tenant_id, const char *owner,
                                       const nova_attempt_row_t *at, const char *state,
                                       int64_t next_at)
{
    if (!nova_store_valid_id(tenant_id) || !owner || !*owner || !at->delivery_id || !state)
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    nova_sql_param_t up[] = {NOVA_SQL_P_TEXT(state),           NOVA_SQL_P_INT(at->attempt),
                             NOVA_SQL_P_INT(next_at),          NOVA_SQL_P_INT(at->status_code),
                             NOVA_SQL_P_INT(at->created_at),   NOVA_SQL_P_TEXT(tenant_id),
                             NOVA_SQL_P_TEXT(at->delivery_id), NOVA_SQL_P_TEXT(owner)};
    int64_t changes = 0;
    st = nova_store_exec_q(s, &Q_DL_RECORD, NULL, up, 8, &changes);
    if (st == NOVA_OK && changes == 0)
        st = NOVA_CONFLICT;
    nova_sql_param_t ip[] = {
        NOVA_SQL_P_TEXT(tenant_id),       NOVA_SQL_P_TEXT(at->delivery_id),
        NOVA_SQL_P_INT(at->attempt),      NOVA_SQL_P_TEXT(tenant_id),
        NOVA_SQL_P_TEXT(at->delivery_id), NOVA_SQL_P_INT(at->status_code),
        NOVA_SQL_P_INT(at->duration_ms),  NOVA_SQL_P_TEXT(at->error ? at->error : ""),
        NOVA_SQL_P_INT(at->created_at),   NOVA_SQL_P_TEXT(at->result ? at->result : "")};
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, &Q_AT_INSERT, NULL, ip, 10, NULL);
    if (st != NOVA_OK) {
        nova_store_tx_rollback(s);
        return st;
    }
    return nova_store_tx_commit(s);
}

nova_status nova_store_event_prune(nova_store_t *s, int64_t before, int64_t *n)
{
    /* Events old enough with no delivery still pending; attempts and deliveries go first. */
#define DONE_EVENTS                                                                                \
    "SELECT e.tenant_id, e.id FROM webhook_events e WHERE e.created_at < ? AND NOT EXISTS "        \
    "(SELECT 1 FROM webhook_deliveries d WHERE d.tenant_id = e.tenant_id AND d.event_id = e.id "   \
    "AND d.state = 'pending')"
    static const nova_sql_t Q_SMS = {-1, "webhook prune sms messages",
                                     "DELETE FROM sms_messages WHERE (tenant_id, event_id) IN "
                                     "(" DONE_EVENTS ")",
                                     NULL};
    static const nova_sql_t Q_AT = {-1, "webhook prune attempts",
                                    "DELETE FROM webhook_attempts WHERE (tenant_id, event_id) IN "
                                    "(" DONE_EVENTS ")",
                                    NULL};
    static const nova_sql_t Q_DL = {-1, "webhook prune deliveries",
                                    "DELETE FROM webhook_deliveries WHERE (tenant_id, event_id) IN "
                                    "(" DONE_EVENTS ")",
                                    NULL};
    static const nova_sql_t Q_EV = {-1, "webhook prune events",
                                    "DELETE FROM webhook_events WHERE (tenant_id, id) IN "
                                    "(" DONE_EVENTS ")",
                                    NULL};
#undef DONE_EVENTS
    nova_status st = nova_store_tx_begin(s, NOVA_STORE_ALL_TENANTS);
    if (st != NOVA_OK)
        return st;
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(before)};
    st = nova_store_exec_q(s, &Q_SMS, NULL, p, 1, NULL);
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, &Q_AT, NULL, p, 1, NULL);
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, &Q_DL, NULL, p, 1, NULL);
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, &Q_EV, NULL, p, 1, n);
    if (st != NOVA_OK) {
        nova_store_tx_rollback(s);
        return st;
    }
    return nova_store_tx_commit(s);
}
