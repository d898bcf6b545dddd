/*
 * apikeys.c: the repository of API keys and their daily spend (nova/apikey_store.h).
 *
 * Spending is one write transaction: the day's row is created at 0 if absent, then raised by
 * an UPDATE whose WHERE clause holds the limit, so two spenders racing for the last of a
 * budget cannot both succeed (SQLite: BEGIN IMMEDIATE serialises them; PostgreSQL: the second
 * UPDATE waits for the first's row lock and re-checks the condition on the new value).
 */
#include <string.h>

#include "internal.h"
#include "nova/apikey_store.h"
#include "nova/audit_store.h"

#define AK_COLS                                                                                    \
    "k.id, k.tenant_id, k.mode, k.purpose, k.scopes, k.ip_allowlist, k.rate_per_minute, "          \
    "k.budget_daily, k.budget_currency, k.secret_hash, k.secret_enc, k.prev_secret_hash, "         \
    "k.prev_secret_enc, k.prev_valid_until, k.version, k.expires_at, k.created_by, "               \
    "k.created_at, k.rotated_at, k.revoked_at"

static const nova_sql_t Q_AK_INSERT = {
    NOVA_Q_AK_INSERT, "api key insert",
    "INSERT INTO api_keys (id, tenant_id, mode, purpose, scopes, ip_allowlist, rate_per_minute, "
    "budget_daily, budget_currency, secret_hash, secret_enc, expires_at, created_by, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    NULL};
static const nova_sql_t Q_AK_FIND = {
    NOVA_Q_AK_FIND, "api key find",
    "SELECT " AK_COLS ", t.name FROM api_keys k JOIN tenants t ON t.id = k.tenant_id "
    "WHERE k.id = ?",
    NULL};
static const nova_sql_t Q_AK_GET = {
    NOVA_Q_AK_GET, "api key get",
    "SELECT " AK_COLS " FROM api_keys k WHERE k.id = ? AND k.tenant_id = ?", NULL};
static const nova_sql_t Q_AK_LIST = {NOVA_Q_AK_LIST, "api key list",
                                     "SELECT " AK_COLS " FROM api_keys k WHERE k.tenant_id = ? "
                                     "ORDER BY k.created_at, k.id",
                                     NULL};
static const nova_sql_t Q_AK_REVOKE = {NOVA_Q_AK_REVOKE, "api key revoke",
                                       "UPDATE api_keys SET revoked_at = ? "
                                       "WHERE id = ? AND tenant_id = ? AND revoked_at = 0",
                                       NULL};
/* The right-hand sides read the row as it was, so the current secret moves to prev. */
static const nova_sql_t Q_AK_ROTATE = {
    NOVA_Q_AK_ROTATE, "api key rotate",
    "UPDATE api_keys SET prev_secret_hash = secret_hash, prev_secret_enc = secret_enc, "
    "prev_valid_until = ?, secret_hash = ?, secret_enc = ?, version = version + 1, "
    "rotated_at = ? WHERE id = ? AND tenant_id = ? AND revoked_at = 0",
    NULL};
static const nova_sql_t Q_AK_SPEND_ENSURE = {
    NOVA_Q_AK_SPEND_ENSURE, "api key spend ensure",
    "INSERT INTO api_key_spend (key_id, day, tenant_id, currency, spent) VALUES (?, ?, ?, ?, 0) "
    "ON CONFLICT DO NOTHING",
    NULL};
static const nova_sql_t Q_AK_SPEND_ADD = {
    NOVA_Q_AK_SPEND_ADD, "api key spend add",
    "UPDATE api_key_spend SET spent = spent + ? "
    "WHERE key_id = ? AND day = ? AND tenant_id = ? AND spent + ? <= ?",
    NULL};
static const nova_sql_t Q_AK_SPEND_GET = {
    NOVA_Q_AK_SPEND_GET, "api key spend get",
    "SELECT spent FROM api_key_spend WHERE key_id = ? AND day = ? AND tenant_id = ?", NULL};

/* Reads AK_COLS (20 columns from 0). */
static nova_status read_key(nova_rows_t *r, nova_arena_t *a, nova_apikey_t *o)
{
    const nova_store_driver_t *d = r->s->drv;
    nova_status st;
    memset(o, 0, sizeof(*o));
    const struct {
        int col;
        const char **out;
    } strs[] = {{0, &o->id},
                {1, &o->tenant_id},
                {2, &o->mode},
                {3, &o->purpose},
                {4, &o->scopes},
                {5, &o->ip_allowlist},
                {8, &o->budget_currency},
                {9, &o->secret_hash},
                {11, &o->prev_secret_hash},
                {16, &o->created_by}};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        if ((st = nova_store_col_str(r, strs[i].col, a, strs[i].out)) != NOVA_OK)
            return st;
    if ((st = nova_store_col_blob(r, 10, a, &o->secret_enc, &o->secret_enc_len)) != NOVA_OK ||
        (st = nova_store_col_blob(r, 12, a, &o->prev_secret_enc, &o->prev_secret_enc_len)) !=
            NOVA_OK)
        return st;
    o->rate_per_minute = d->col_int64(r, 6);
    o->budget_daily = d->col_int64(r, 7);
    o->prev_valid_until = d->col_int64(r, 13);
    o->version = d->col_int64(r, 14);
    o->expires_at = d->col_int64(r, 15);
    o->created_at = d->col_int64(r, 17);
    o->rotated_at = d->col_int64(r, 18);
    o->revoked_at = d->col_int64(r, 19);
    return NOVA_OK;
}

/* Runs a write and its audit entry in one transaction; need_one: NOT_FOUND unless a row
 * changed (the statements name one key by id). */
static nova_status write_tx(nova_store_t *s, const nova_sql_t *q, const nova_sql_param_t *p, int n,
                            const char *tenant_id, const nova_audit_entry_t *audit, bool need_one)
{
    nova_store_stmt_t x = {q, p, n, need_one ? NOVA_NOT_FOUND : NOVA_OK, NOVA_OK};
    return nova_store_exec_audited(s, tenant_id, &x, 1, audit);
}

nova_status nova_store_apikey_create(nova_store_t *s, const nova_apikey_t *k,
                                     const nova_audit_entry_t *audit)
{
    if (!k || !nova_store_valid_id(k->id) || !k->mode || !k->purpose || !k->scopes ||
        !k->ip_allowlist || !k->budget_currency || !k->secret_hash || !k->secret_enc ||
        !k->secret_enc_len || !k->created_by)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(k->id),
                            NOVA_SQL_P_TEXT(k->tenant_id),
                            NOVA_SQL_P_TEXT(k->mode),
                            NOVA_SQL_P_TEXT(k->purpose),
                            NOVA_SQL_P_TEXT(k->scopes),
                            NOVA_SQL_P_TEXT(k->ip_allowlist),
                            NOVA_SQL_P_INT(k->rate_per_minute),
                            NOVA_SQL_P_INT(k->budget_daily),
                            NOVA_SQL_P_TEXT(k->budget_currency),
                            NOVA_SQL_P_TEXT(k->secret_hash),
                            NOVA_SQL_P_BLOB(k->secret_enc, k->secret_enc_len),
                            NOVA_SQL_P_INT(k->expires_at),
                            NOVA_SQL_P_TEXT(k->created_by),
                            NOVA_SQL_P_INT(k->created_at)};
    return write_tx(s, &Q_AK_INSERT, p, 14, k->tenant_id, audit, false);
}

static nova_status get_one(nova_store_t *s, const nova_sql_t *q, const char *tenant,
                           const nova_sql_param_t *p, int n, nova_arena_t *a, nova_apikey_t *out,
                           bool with_tenant)
{
    nova_rows_t r;
    nova_status st = s->drv->query(s, q, tenant, p, n, &r);
    if (st != NOVA_OK)
        return st;
    st = s->drv->next(&r);
    if (st == NOVA_OK)
        st = read_key(&r, a, out);
    if (st == NOVA_OK && with_tenant)
        st = nova_store_col_str(&r, 20, a, &out->tenant_name);
    s->drv->done(&r);
    return st;
}

nova_status nova_store_apikey_find(nova_store_t *s, nova_arena_t *a, const char *id,
                                   nova_apikey_t *out)
{
    if (!nova_store_valid_id(id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(id)};
    return get_one(s, &Q_AK_FIND, NOVA_STORE_ALL_TENANTS, p, 1, a, out, true);
}

nova_status nova_store_apikey_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                  const char *id, nova_apikey_t *out)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(id), NOVA_SQL_P_TEXT(tenant_id)};
    return get_one(s, &Q_AK_GET, tenant_id, p, 2, a, out, false);
}

static nova_status read_key_row(nova_rows_t *r, nova_arena_t *a, void *out)
{
    return read_key(r, a, out);
}

nova_status nova_store_apikey_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                   nova_apikey_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!nova_store_valid_id(tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_all(s, &Q_AK_LIST, tenant_id, p, 1, a, read_key_row,
                              sizeof(nova_apikey_t), (void **)out, n);
}

nova_status nova_store_apikey_revoke(nova_store_t *s, const char *tenant_id, const char *id,
                                     int64_t now, const nova_audit_entry_t *audit)
{
    if (!nova_store_valid_id(id) || now <= 0)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(now), NOVA_SQL_P_TEXT(id), NOVA_SQL_P_TEXT(tenant_id)};
    return write_tx(s, &Q_AK_REVOKE, p, 3, tenant_id, audit, true);
}

nova_status nova_store_apikey_rotate(nova_store_t *s, const char *tenant_id, const char *id,
                                     const char *secret_hash, const uint8_t *secret_enc,
                                     size_t secret_enc_len, int64_t prev_valid_until, int64_t now,
                                     const nova_audit_entry_t *audit)
{
    if (!nova_store_valid_id(id) || !secret_hash || !secret_enc || !secret_enc_len || now <= 0)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(prev_valid_until),
                            NOVA_SQL_P_TEXT(secret_hash),
                            NOVA_SQL_P_BLOB(secret_enc, secret_enc_len),
                            NOVA_SQL_P_INT(now),
                            NOVA_SQL_P_TEXT(id),
                            NOVA_SQL_P_TEXT(tenant_id)};
    return write_tx(s, &Q_AK_ROTATE, p, 6, tenant_id, audit, true);
}

nova_status nova_store_apikey_spend(nova_store_t *s, const char *tenant_id, const char *id,
                                    const char *day, const char *currency, int64_t amount,
                                    int64_t limit, const nova_audit_entry_t *audit, int64_t *spent)
{
    int64_t changed = 0;
    *spent = 0;
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id) || !day || !currency ||
        amount <= 0 || limit < 0 || !audit || !audit->tenant_id ||
        strcmp(audit->tenant_id, tenant_id) != 0)
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    nova_sql_param_t ep[] = {NOVA_SQL_P_TEXT(id), NOVA_SQL_P_TEXT(day), NOVA_SQL_P_TEXT(tenant_id),
                             NOVA_SQL_P_TEXT(currency)};
    nova_sql_param_t ap[] = {NOVA_SQL_P_INT(amount), NOVA_SQL_P_TEXT(id),
                             NOVA_SQL_P_TEXT(day),   NOVA_SQL_P_TEXT(tenant_id),
                             NOVA_SQL_P_INT(amount), NOVA_SQL_P_INT(limit)};
    nova_sql_param_t gp[] = {NOVA_SQL_P_TEXT(id), NOVA_SQL_P_TEXT(day), NOVA_SQL_P_TEXT(tenant_id)};
    st = nova_store_exec_q(s, &Q_AK_SPEND_ENSURE, NULL, ep, 4, NULL);
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, &Q_AK_SPEND_ADD, NULL, ap, 6, &changed);
    if (st == NOVA_OK)
        st = nova_store_query_int(s, &Q_AK_SPEND_GET, NULL, gp, 3, spent);
    if (st == NOVA_OK && changed == 0) {
        /* Over the limit: nothing changed, nothing to record. */
        nova_store_tx_rollback(s);
        return NOVA_FORBIDDEN;
    }
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    if (st != NOVA_OK) {
        nova_store_tx_rollback(s);
        return st;
    }
    return nova_store_tx_commit(s);
}
