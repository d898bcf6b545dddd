/*
 * audit.c: the audit log's repository (nova/audit_store.h): appending to a tenant's chain
 * inside a write transaction, the chain head, and reading entries back.
 *
 * The append is the one place the chain grows. It locks the tenant's head row for the rest
 * of the transaction, so concurrent writers of one tenant queue behind each other and each
 * sees the head the previous one committed; different tenants do not wait for each other on
 * PostgreSQL (SQLite has one writer per database anyway).
 */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "nova/audit_store.h"

#define AUDIT_COLS                                                                                 \
    "id, tenant_id, seq, ts, actor, action, target, decision, attrs, prev_hash, row_hash"

static const nova_sql_t AQ[] = {
    /* The head made if missing and read under its row lock in one statement: ON CONFLICT DO
     * UPDATE locks the row on PostgreSQL as FOR UPDATE would (SQLite's write transaction,
     * BEGIN IMMEDIATE, is the lock there), and the no-op update returns the row as it is. */
    {NOVA_Q_AUDIT_HEAD_ENSURE, "audit head ensure and lock",
     "INSERT INTO audit_heads (tenant_id, count, last_hash, updated_at) VALUES (?, 0, ?, 0) "
     "ON CONFLICT (tenant_id) DO UPDATE SET count = audit_heads.count "
     "RETURNING count, last_hash, updated_at",
     NULL},
    {NOVA_Q_AUDIT_INSERT, "audit insert",
     "INSERT INTO audit_log (" AUDIT_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", NULL},
    /* count = ? re-checks what the lock already guarantees: a head moves one step at a time. */
    {NOVA_Q_AUDIT_HEAD_MOVE, "audit head move",
     "UPDATE audit_heads SET count = ?, last_hash = ?, updated_at = ? "
     "WHERE tenant_id = ? AND count = ?",
     NULL},
    {NOVA_Q_AUDIT_HEAD_GET, "audit head get",
     "SELECT count, last_hash FROM audit_heads WHERE tenant_id = ?", NULL},
    {NOVA_Q_AUDIT_ROWS, "audit rows", "SELECT count(*) FROM audit_log WHERE tenant_id = ?", NULL},
    {NOVA_Q_AUDIT_LIST, "audit list",
     "SELECT " AUDIT_COLS " FROM audit_log WHERE tenant_id = ? AND seq > ? "
     "AND (CAST(? AS TEXT) IS NULL OR action = ?) AND (CAST(? AS TEXT) IS NULL OR actor = ?) "
     "AND (CAST(? AS TEXT) IS NULL OR target = ?) AND ts >= ? AND ts < ? "
     "ORDER BY seq LIMIT ?",
     NULL},
    {NOVA_Q_AUDIT_TENANTS, "audit tenants",
     "SELECT tenant_id FROM audit_heads UNION SELECT tenant_id FROM audit_log ORDER BY 1", NULL},
};

static const nova_sql_t *aq(int slot)
{
    return &AQ[slot - NOVA_Q_AUDIT_HEAD_ENSURE];
}

/* Wall clock in microseconds. nova_time_set_fake moves it too (whole seconds), so tests
 * that fake the time see entries in their fake time. */
static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t real = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    int64_t secs = nova_time_now();
    return secs == (int64_t)ts.tv_sec ? real : secs * 1000000;
}

static nova_status copy_out(nova_arena_t *ar, const nova_audit_record_t *in,
                            nova_audit_record_t *out)
{
    const char **dst[] = {&out->id,     &out->tenant_id, &out->actor,
                          &out->action, &out->target,    &out->decision,
                          &out->attrs,  &out->prev_hash, &out->row_hash};
    const char *src[] = {in->id,       in->tenant_id, in->actor,     in->action,  in->target,
                         in->decision, in->attrs,     in->prev_hash, in->row_hash};
    out->seq = in->seq;
    out->ts = in->ts;
    for (size_t i = 0; i < sizeof(src) / sizeof(src[0]); i++) {
        *dst[i] = nova_arena_strdup(ar, src[i]);
        if (*dst[i] == NULL)
            return NOVA_NOMEM;
    }
    return NOVA_OK;
}

nova_status nova_store_audit_append_tx(nova_store_t *s, const nova_audit_entry_t *e,
                                       nova_arena_t *ar, nova_audit_record_t *out)
{
    return nova_store_audit_append_tx_as(s, e, NULL, ar, out);
}

nova_status nova_store_audit_append_tx_as(nova_store_t *s, const nova_audit_entry_t *e,
                                          const char *as, nova_arena_t *ar,
                                          nova_audit_record_t *out)
{
    nova_rows_t r;
    char id[64], prev[65], row_hash[65];
    int64_t count, last_ts;
    nova_status st;

    nova_assert(s->in_tx);
    st = nova_audit_entry_check(e);
    if (st != NOVA_OK)
        return st;
    const char *t = e->tenant_id;
    nova_sql_param_t hp[] = {NOVA_SQL_P_TEXT(t), NOVA_SQL_P_TEXT(NOVA_AUDIT_GENESIS)};
    st = s->drv->query(s, aq(NOVA_Q_AUDIT_HEAD_ENSURE), t, hp, 2, &r);
    if (st != NOVA_OK)
        return st;
    st = s->drv->next(&r);
    if (st == NOVA_OK) {
        size_t hl;
        const char *h = s->drv->col_bytes(&r, 1, &hl);
        count = s->drv->col_int64(&r, 0);
        last_ts = s->drv->col_int64(&r, 2);
        if (h == NULL || hl != 64)
            st = NOVA_INTERNAL;
        else
            memcpy(prev, h, 64), prev[64] = '\0';
    }
    s->drv->done(&r);
    if (st != NOVA_OK)
        return st == NOVA_NOT_FOUND ? NOVA_INTERNAL : st; /* the statement makes the row */

    if (as == NULL)
        st = nova_id_new("aud", id, sizeof(id));
    else if (strlen(as) < sizeof(id))
        memcpy(id, as, strlen(as) + 1);
    else
        st = NOVA_INVALID;
    if (st != NOVA_OK)
        return st;
    int64_t ts = now_us();
    if (ts < last_ts)
        ts = last_ts; /* timestamps never go backwards along a chain */
    nova_audit_record_t rec = {
        .id = id,
        .tenant_id = t,
        .seq = count + 1,
        .ts = ts,
        .actor = e->actor,
        .action = e->action,
        .target = e->target,
        .decision = e->decision ? e->decision : "allow",
        .attrs = e->attrs ? e->attrs : "{}",
        .prev_hash = prev,
        .row_hash = row_hash,
    };
    st = nova_audit_row_hash(&rec, row_hash);
    if (st != NOVA_OK)
        return st;
    nova_sql_param_t ip[] = {NOVA_SQL_P_TEXT(rec.id),     NOVA_SQL_P_TEXT(t),
                             NOVA_SQL_P_INT(rec.seq),     NOVA_SQL_P_INT(rec.ts),
                             NOVA_SQL_P_TEXT(rec.actor),  NOVA_SQL_P_TEXT(rec.action),
                             NOVA_SQL_P_TEXT(rec.target), NOVA_SQL_P_TEXT(rec.decision),
                             NOVA_SQL_P_TEXT(rec.attrs),  NOVA_SQL_P_TEXT(prev),
                             NOVA_SQL_P_TEXT(row_hash)};
    st = nova_store_exec_q(s, aq(NOVA_Q_AUDIT_INSERT), t, ip, 11, NULL);
    if (st != NOVA_OK)
        return st == NOVA_CONFLICT ? NOVA_INTERNAL : st; /* a taken seq would be a fork */
    int64_t moved = 0;
    nova_sql_param_t mp[] = {NOVA_SQL_P_INT(rec.seq), NOVA_SQL_P_TEXT(row_hash),
                             NOVA_SQL_P_INT(rec.ts), NOVA_SQL_P_TEXT(t), NOVA_SQL_P_INT(count)};
    st = nova_store_exec_q(s, aq(NOVA_Q_AUDIT_HEAD_MOVE), t, mp, 5, &moved);
    if (st == NOVA_OK && moved != 1)
        st = NOVA_INTERNAL;
    if (st != NOVA_OK)
        return st;
    s->audit_pending++;
    return out ? copy_out(ar, &rec, out) : NOVA_OK;
}

nova_status nova_store_audit_append(nova_store_t *s, nova_arena_t *ar, const nova_audit_entry_t *e,
                                    nova_audit_record_t *out)
{
    nova_status st = nova_audit_entry_check(e);
    if (st != NOVA_OK)
        return st;
    if (strcmp(e->tenant_id, NOVA_STORE_ALL_TENANTS) == 0)
        return NOVA_INVALID;
    st = nova_store_tx_begin(s, e->tenant_id);
    if (st != NOVA_OK)
        return st;
    st = nova_store_audit_append_tx(s, e, ar, out);
    if (st != NOVA_OK) {
        nova_store_tx_rollback(s);
        return st;
    }
    return nova_store_tx_commit(s);
}

nova_status nova_store_audit_head(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                  int64_t *count, const char **last_hash)
{
    nova_rows_t r;
    if (tenant_id == NULL || *tenant_id == '\0')
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    nova_status st = s->drv->query(s, aq(NOVA_Q_AUDIT_HEAD_GET), tenant_id, p, 1, &r);
    if (st != NOVA_OK)
        return st;
    st = s->drv->next(&r);
    if (st == NOVA_OK) {
        *count = s->drv->col_int64(&r, 0);
        st = nova_store_col_str(&r, 1, ar, last_hash);
    }
    s->drv->done(&r);
    return st;
}

nova_status nova_store_audit_rows(nova_store_t *s, const char *tenant_id, int64_t *rows)
{
    if (tenant_id == NULL || *tenant_id == '\0')
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_query_int(s, aq(NOVA_Q_AUDIT_ROWS), tenant_id, p, 1, rows);
}

static nova_status read_record(nova_rows_t *r, nova_arena_t *a, nova_audit_record_t *e)
{
    const char **text[] = {&e->id,    &e->tenant_id, NULL,        NULL,
                           &e->actor, &e->action,    &e->target,  &e->decision,
                           &e->attrs, &e->prev_hash, &e->row_hash};
    for (int i = 0; i < (int)(sizeof(text) / sizeof(text[0])); i++) {
        if (text[i] == NULL)
            continue;
        nova_status st = nova_store_col_str(r, i, a, text[i]);
        if (st != NOVA_OK)
            return st;
        if (*text[i] == NULL)
            *text[i] = ""; /* NOT NULL columns: only a hand-edited database gets here */
    }
    e->seq = r->s->drv->col_int64(r, 2);
    e->ts = r->s->drv->col_int64(r, 3);
    return NOVA_OK;
}

nova_status nova_store_audit_list(nova_store_t *s, nova_arena_t *ar, const nova_audit_query_t *q,
                                  nova_audit_record_t **out, size_t *n)
{
    nova_rows_t r;
    if (q == NULL || q->tenant_id == NULL || *q->tenant_id == '\0' || q->limit == 0 ||
        q->limit > 1000)
        return NOVA_INVALID;
    nova_audit_record_t *rows = nova_arena_alloc(ar, q->limit * sizeof(*rows));
    if (rows == NULL)
        return NOVA_NOMEM;
    nova_sql_param_t p[] = {
        NOVA_SQL_P_TEXT(q->tenant_id),    NOVA_SQL_P_INT(q->after_seq),
        NOVA_SQL_P_TEXT(q->action),       NOVA_SQL_P_TEXT(q->action),
        NOVA_SQL_P_TEXT(q->actor),        NOVA_SQL_P_TEXT(q->actor),
        NOVA_SQL_P_TEXT(q->target),       NOVA_SQL_P_TEXT(q->target),
        NOVA_SQL_P_INT(q->from_ts),       NOVA_SQL_P_INT(q->to_ts > 0 ? q->to_ts : INT64_MAX),
        NOVA_SQL_P_INT((int64_t)q->limit)};
    nova_status st = s->drv->query(s, aq(NOVA_Q_AUDIT_LIST), q->tenant_id, p, 11, &r);
    if (st != NOVA_OK)
        return st;
    size_t len = 0;
    while ((st = s->drv->next(&r)) == NOVA_OK && len < q->limit) {
        memset(&rows[len], 0, sizeof(rows[len]));
        st = read_record(&r, ar, &rows[len]);
        if (st != NOVA_OK)
            break;
        len++;
    }
    s->drv->done(&r);
    if (st != NOVA_OK && st != NOVA_NOT_FOUND)
        return st;
    *out = rows;
    *n = len;
    return NOVA_OK;
}

nova_status nova_store_audit_tenants(nova_store_t *s, nova_arena_t *ar, const char ***ids,
                                     size_t *n)
{
    nova_rows_t r;
    size_t len = 0, cap = 16;
    const char **arr = nova_arena_alloc(ar, cap * sizeof(*arr));
    if (arr == NULL)
        return NOVA_NOMEM;
    nova_status st =
        s->drv->query(s, aq(NOVA_Q_AUDIT_TENANTS), NOVA_STORE_ALL_TENANTS, NULL, 0, &r);
    if (st != NOVA_OK)
        return st;
    while ((st = s->drv->next(&r)) == NOVA_OK) {
        if (len == cap) {
            const char **bigger = nova_arena_alloc(ar, cap * 2 * sizeof(*arr));
            if (bigger == NULL) {
                st = NOVA_NOMEM;
                break;
            }
            memcpy(bigger, arr, len * sizeof(*arr));
            arr = bigger;
            cap *= 2;
        }
        st = nova_store_col_str(&r, 0, ar, &arr[len]);
        if (st != NOVA_OK)
            break;
        if (arr[len] != NULL)
            len++;
    }
    s->drv->done(&r);
    if (st != NOVA_NOT_FOUND)
        return st;
    *ids = arr;
    *n = len;
    return NOVA_OK;
}
