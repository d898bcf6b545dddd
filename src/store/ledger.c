/*
 * ledger.c: the ledger's repository (nova/ledger_store.h, migration 0012), both stores.
 *
 * Why the hot account stays short: a posting touches each account with one statement,
 * UPDATE ... SET totals = totals + deltas ... RETURNING the row, which takes the row lock and
 * reads the new totals at once (no SELECT ... FOR UPDATE round trip first); the rule check
 * runs in C on that row, and the lock is held only for the rest of the transaction (entries,
 * audit entry, reply, COMMIT). Accounts are updated in id order, so two postings sharing
 * accounts queue rather than deadlock. Totals stay below NOVA_LEDGER_TOTAL_MAX (checked on
 * every returned row, the transaction rolled back past it) and one posting adds at most
 * 64 x 10^15 to a total, so SQLite's integer arithmetic never overflows into a REAL.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nova/audit_store.h"
#include "nova/ledger_store.h"

#define LA_COLS                                                                                    \
    "tenant_id, id, currency, type, status, flags, overdraft_limit, overdraft_expires_at, "        \
    "overdraft_rate, kyc_tier, owner_ref, metadata, debits_posted, credits_posted, "               \
    "debits_pending, credits_pending, created_at, updated_at, product"
#define LP_COLS                                                                                    \
    "id, kind, state, digest, request, result, http_status, parent_id, amount_total, reversed, "   \
    "posted_amount, expires_at, actor, audit_id, created_at, resolved_at"
#define LE_COLS "ord, posting_id, seq, account_id, credit, currency, amount, pending, created_at"

static const nova_sql_t Q_LA_INSERT = {
    NOVA_Q_LA_INSERT, "ledger account insert",
    "INSERT INTO ledger_accounts (tenant_id, id, currency, type, status, flags, overdraft_limit, "
    "overdraft_expires_at, overdraft_rate, kyc_tier, owner_ref, metadata, created_at, "
    "updated_at, product) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    NULL};
static const nova_sql_t Q_LA_GET = {
    NOVA_Q_LA_GET, "ledger account get",
    "SELECT " LA_COLS " FROM ledger_accounts WHERE tenant_id = ? AND id = ?", NULL};
static const nova_sql_t Q_LA_LIST = {NOVA_Q_LA_LIST, "ledger account list",
                                     "SELECT " LA_COLS " FROM ledger_accounts WHERE tenant_id = ? "
                                     "AND id > ? ORDER BY id LIMIT ?",
                                     NULL};
/* Whether any limit applies to the account (its own or its KYC tier's, in its currency): a
 * posting reads the limits and their usage only then, so an account without limits costs no
 * statement for them. */
#define LA_LIMITED                                                                                 \
    "CASE WHEN EXISTS (SELECT 1 FROM ledger_limits l WHERE l.tenant_id = "                         \
    "ledger_accounts.tenant_id "                                                                   \
    "AND l.currency = ledger_accounts.currency AND (l.scope = 'account:' || ledger_accounts.id "   \
    "OR (ledger_accounts.kyc_tier <> '' AND l.scope = 'tier:' || ledger_accounts.kyc_tier))) "     \
    "THEN 1 ELSE 0 END"
static const nova_sql_t Q_LA_APPLY = {
    NOVA_Q_LA_APPLY, "ledger account apply",
    "UPDATE ledger_accounts SET debits_posted = debits_posted + ?, "
    "credits_posted = credits_posted + ?, debits_pending = debits_pending + ?, "
    "credits_pending = credits_pending + ?, updated_at = ? WHERE tenant_id = ? AND id = ? "
    "RETURNING " LA_COLS ", " LA_LIMITED,
    NULL};
/* The conventional way (bench/ledger_bench.c compares): read the row under its lock, then
 * update it, two statements per account. */
static const nova_sql_t Q_LA_LOCK = {
    NOVA_Q_LA_LOCK, "ledger account lock",
    "SELECT " LA_COLS " FROM ledger_accounts WHERE tenant_id = ? AND id = ?",
    "SELECT " LA_COLS " FROM ledger_accounts WHERE tenant_id = ? AND id = ? FOR UPDATE"};
static const nova_sql_t Q_LL_PUT = {
    NOVA_Q_LL_PUT, "ledger limits put",
    "INSERT INTO ledger_limits (tenant_id, scope, currency, per_transaction_max, daily_amount, "
    "daily_count, weekly_amount, weekly_count, monthly_amount, monthly_count, balance_ceiling, "
    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, scope) DO "
    "UPDATE SET currency = excluded.currency, per_transaction_max = excluded.per_transaction_max, "
    "daily_amount = excluded.daily_amount, daily_count = excluded.daily_count, "
    "weekly_amount = excluded.weekly_amount, weekly_count = excluded.weekly_count, "
    "monthly_amount = excluded.monthly_amount, monthly_count = excluded.monthly_count, "
    "balance_ceiling = excluded.balance_ceiling, updated_at = excluded.updated_at",
    NULL};
/* Columns in nova_ledger_limit_kind order from 2. */
static const nova_sql_t Q_LL_GET = {
    NOVA_Q_LL_GET, "ledger limits get",
    "SELECT scope, currency, per_transaction_max, daily_amount, daily_count, weekly_amount, "
    "weekly_count, monthly_amount, monthly_count, balance_ceiling FROM ledger_limits "
    "WHERE tenant_id = ? AND scope IN (?, ?) AND (? = '' OR currency = ?)",
    NULL};
static const nova_sql_t Q_LU_GET = {
    NOVA_Q_LU_GET, "ledger limit usage get",
    "SELECT period, amount, count FROM ledger_limit_usage WHERE tenant_id = ? AND account_id = ? "
    "AND period IN (?, ?, ?)",
    NULL};
static const nova_sql_t Q_LU_ADD = {
    NOVA_Q_LU_ADD, "ledger limit usage add",
    "INSERT INTO ledger_limit_usage (tenant_id, account_id, period, amount, count) "
    "VALUES (?, ?, ?, ?, 1) ON CONFLICT (tenant_id, account_id, period) DO UPDATE SET "
    "amount = ledger_limit_usage.amount + excluded.amount, count = ledger_limit_usage.count + 1",
    NULL};
/* Both ends of a statement in one statement, so from one snapshot. */
static const nova_sql_t Q_LE_SUM_BEFORE = {
    NOVA_Q_LE_SUM_BEFORE, "ledger statement sums",
    /* CAST: PostgreSQL's SUM of a BIGINT is a NUMERIC. */
    "SELECT CAST(COALESCE(SUM(CASE WHEN created_at < ? AND credit = 0 THEN amount ELSE 0 END), 0) "
    "AS BIGINT), "
    "CAST(COALESCE(SUM(CASE WHEN created_at < ? AND credit = 1 THEN amount ELSE 0 END), 0) AS "
    "BIGINT), "
    "CAST(COALESCE(SUM(CASE WHEN created_at >= ? AND credit = 0 THEN amount ELSE 0 END), 0) AS "
    "BIGINT), "
    "CAST(COALESCE(SUM(CASE WHEN created_at >= ? AND credit = 1 THEN amount ELSE 0 END), 0) AS "
    "BIGINT) "
    "FROM ledger_entries WHERE tenant_id = ? AND account_id = ? AND pending = 0 "
    "AND created_at < ? AND (created_at < ? OR ord <= ?)",
    NULL};
static const nova_sql_t Q_LE_WINDOW = {
    NOVA_Q_LE_WINDOW, "ledger statement entries",
    "SELECT " LE_COLS " FROM ledger_entries WHERE tenant_id = ? AND account_id = ? "
    "AND pending = 0 AND created_at >= ? AND created_at < ? AND ord > ? ORDER BY ord LIMIT ?",
    NULL};
static const nova_sql_t Q_LPR_PUT = {
    NOVA_Q_LPR_PUT, "ledger product put",
    "INSERT INTO ledger_products (tenant_id, id, kind, currency, rate, day_count, min_balance, "
    "interest_account, accrual_account, updated_at, fee_amount, fee_period, fee_account, "
    "interest_period) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (tenant_id, id) DO UPDATE SET kind = excluded.kind, currency = "
    "excluded.currency, rate = excluded.rate, day_count = excluded.day_count, min_balance = "
    "excluded.min_balance, interest_account = excluded.interest_account, accrual_account = "
    "excluded.accrual_account, updated_at = excluded.updated_at, fee_amount = "
    "excluded.fee_amount, fee_period = excluded.fee_period, fee_account = excluded.fee_account, "
    "interest_period = excluded.interest_period",
    NULL};
#define LPR_COLS                                                                                   \
    "id, kind, currency, rate, day_count, min_balance, interest_account, accrual_account, "        \
    "updated_at, fee_amount, fee_period, fee_account, interest_period"
static const nova_sql_t Q_LPR_GET = {
    NOVA_Q_LPR_GET, "ledger product get",
    "SELECT " LPR_COLS " FROM ledger_products WHERE tenant_id = ? AND id = ?", NULL};
static const nova_sql_t Q_LPR_LIST = {
    NOVA_Q_LPR_LIST, "ledger product list",
    "SELECT " LPR_COLS " FROM ledger_products WHERE tenant_id = ? ORDER BY id", NULL};
static const nova_sql_t Q_LA_BY_PRODUCT = {NOVA_Q_LA_BY_PRODUCT, "ledger accounts of product",
                                           "SELECT " LA_COLS " FROM ledger_accounts WHERE "
                                           "tenant_id = ? AND product = ? AND id > ? ORDER BY "
                                           "id LIMIT ?",
                                           NULL};
static const nova_sql_t Q_LA_STATUS = {
    NOVA_Q_LA_STATUS, "ledger account status",
    "UPDATE ledger_accounts SET status = ?, updated_at = ? WHERE tenant_id = ? AND id = ?", NULL};
static const nova_sql_t Q_LP_INSERT = {
    NOVA_Q_LP_INSERT, "ledger posting insert",
    "INSERT INTO ledger_postings (tenant_id, id, kind, state, digest, request, parent_id, "
    "amount_total, expires_at, actor, created_at, result, http_status, audit_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    NULL};
static const nova_sql_t Q_LP_GET = {
    NOVA_Q_LP_GET, "ledger posting get",
    "SELECT " LP_COLS " FROM ledger_postings WHERE tenant_id = ? AND id = ?", NULL};
static const nova_sql_t Q_LP_RESOLVE = {
    NOVA_Q_LP_RESOLVE, "ledger hold resolve",
    "UPDATE ledger_postings SET state = ?, posted_amount = ?, resolved_at = ? "
    "WHERE tenant_id = ? AND id = ? AND state = 'pending' AND kind = 'posting'",
    NULL};
/* The compare-and-set of a reversal on its original. A reversal naming legs also sets what
 * of each leg the reversals took so far (reversed_legs, migration 0027), in the same statement,
 * so the vector moves exactly when the reversed total does; one by amount leaves it. */
static const nova_sql_t Q_LP_REVERSE = {
    NOVA_Q_LP_REVERSE, "ledger posting reverse",
    "UPDATE ledger_postings SET reversed = reversed + ?, reversed_legs = COALESCE(?, "
    "reversed_legs) WHERE tenant_id = ? AND id = ? AND state = 'posted' AND kind = 'posting' "
    "AND reversed = ? AND reversed + ? <= "
    "CASE WHEN posted_amount > 0 THEN posted_amount ELSE amount_total END",
    NULL};
static const nova_sql_t Q_LP_LEGS = {
    NOVA_Q_LP_LEGS, "ledger reversed legs",
    "SELECT reversed_legs FROM ledger_postings WHERE tenant_id = ? AND id = ? "
    "AND reversed_legs IS NOT NULL",
    NULL};
static const nova_sql_t Q_LP_DUE = {
    NOVA_Q_LP_DUE, "ledger holds due",
    "SELECT tenant_id, id FROM ledger_postings WHERE state = 'pending' AND expires_at > 0 "
    "AND expires_at <= ? ORDER BY expires_at LIMIT ?",
    NULL};
static const nova_sql_t Q_LE_INSERT = {
    NOVA_Q_LE_INSERT, "ledger entry insert",
    "INSERT INTO ledger_entries (tenant_id, posting_id, seq, account_id, credit, currency, "
    "amount, pending, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    NULL};
static const nova_sql_t Q_LE_OF = {
    NOVA_Q_LE_OF, "ledger entries of posting",
    "SELECT " LE_COLS " FROM ledger_entries WHERE tenant_id = ? AND posting_id = ? ORDER BY seq",
    NULL};
static const nova_sql_t Q_LE_ACCOUNT = {
    NOVA_Q_LE_ACCOUNT, "ledger entries of account",
    "SELECT " LE_COLS " FROM ledger_entries WHERE tenant_id = ? AND account_id = ? "
    "AND pending = 0 AND ord > ? ORDER BY ord LIMIT ?",
    NULL};

/* Every transaction here runs on the store's writer (nova_store_writer_acquire): on SQLite
 * the process's one writer connection, whose page cache stays warm from one posting to the
 * next, with this process's other writers queued on a mutex rather than sleeping in SQLite's
 * busy handler (1, 2, 5, 10 ... ms, where the tail of concurrent postings went); other
 * processes still meet the busy handler. On PostgreSQL the caller's own connection. tx_begin
 * points *s at the writer, tx_commit and tx_rollback point it back at the caller's. */
typedef struct ledger_tx {
    nova_store_t *own;
    bool locked;
} ledger_tx;

static nova_status tx_begin(nova_store_t **s, ledger_tx *t, const char *tenant_id)
{
    t->own = *s;
    *s = nova_store_writer_acquire(t->own, &t->locked);
    nova_status st = nova_store_tx_begin(*s, tenant_id);
    if (st != NOVA_OK) {
        nova_store_writer_release(t->locked);
        *s = t->own;
    }
    return st;
}

static nova_status tx_commit(nova_store_t **s, ledger_tx *t)
{
    nova_status st = nova_store_tx_commit(*s);
    nova_store_writer_release(t->locked);
    *s = t->own;
    return st;
}

static void tx_rollback(nova_store_t **s, ledger_tx *t)
{
    nova_store_tx_rollback(*s);
    nova_store_writer_release(t->locked);
    *s = t->own;
}

/* Reads LA_COLS (19 columns from 0). */
static nova_status read_account(nova_rows_t *r, nova_arena_t *a, nova_ledger_account_t *o)
{
    const nova_store_driver_t *d = r->s->drv;
    nova_status st;
    memset(o, 0, sizeof(*o));
    const struct {
        int col;
        const char **out;
    } strs[] = {{0, &o->tenant_id}, {1, &o->id},         {2, &o->currency},
                {3, &o->type},      {4, &o->status},     {8, &o->overdraft_rate},
                {9, &o->kyc_tier},  {10, &o->owner_ref}, {11, &o->metadata}};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        if ((st = nova_store_col_str(r, strs[i].col, a, strs[i].out)) != NOVA_OK)
            return st;
    o->flags = (unsigned)d->col_int64(r, 5);
    o->overdraft_limit = d->col_int64(r, 6);
    o->overdraft_expires_at = d->col_int64(r, 7);
    o->balance.debits_posted = d->col_int64(r, 12);
    o->balance.credits_posted = d->col_int64(r, 13);
    o->balance.debits_pending = d->col_int64(r, 14);
    o->balance.credits_pending = d->col_int64(r, 15);
    o->created_at = d->col_int64(r, 16);
    o->updated_at = d->col_int64(r, 17);
    return nova_store_col_str(r, 18, a, &o->product);
}

static nova_status read_account_row(nova_rows_t *r, nova_arena_t *a, void *out)
{
    return read_account(r, a, out);
}

static nova_status read_posting(nova_rows_t *r, nova_arena_t *a, nova_ledger_posting_row_t *o)
{
    const nova_store_driver_t *d = r->s->drv;
    nova_status st;
    memset(o, 0, sizeof(*o));
    const struct {
        int col;
        const char **out;
    } strs[] = {{0, &o->id},        {1, &o->kind},    {2, &o->state},
                {3, &o->digest},    {4, &o->request}, {5, &o->result},
                {7, &o->parent_id}, {12, &o->actor},  {13, &o->audit_id}};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        if ((st = nova_store_col_str(r, strs[i].col, a, strs[i].out)) != NOVA_OK)
            return st;
    o->http_status = (int)d->col_int64(r, 6);
    o->amount_total = d->col_int64(r, 8);
    o->reversed = d->col_int64(r, 9);
    o->posted_amount = d->col_int64(r, 10);
    o->expires_at = d->col_int64(r, 11);
    o->created_at = d->col_int64(r, 14);
    o->resolved_at = d->col_int64(r, 15);
    return NOVA_OK;
}

static nova_status read_entry(nova_rows_t *r, nova_arena_t *a, void *out)
{
    const nova_store_driver_t *d = r->s->drv;
    nova_ledger_entry_row_t *o = out;
    nova_status st;
    if ((st = nova_store_col_str(r, 1, a, &o->posting_id)) != NOVA_OK ||
        (st = nova_store_col_str(r, 3, a, &o->account_id)) != NOVA_OK ||
        (st = nova_store_col_str(r, 5, a, &o->currency)) != NOVA_OK)
        return st;
    o->ord = d->col_int64(r, 0);
    o->seq = d->col_int64(r, 2);
    o->credit = d->col_int64(r, 4) != 0;
    o->amount = d->col_int64(r, 6);
    o->pending = d->col_int64(r, 7) != 0;
    o->created_at = d->col_int64(r, 8);
    return NOVA_OK;
}

nova_status nova_store_ledger_account_create(nova_store_t *s, const nova_ledger_account_t *a,
                                             const nova_audit_entry_t *audit)
{
    if (!a || !nova_store_valid_id(a->tenant_id) || !nova_store_valid_id(a->id) || !a->currency ||
        !a->type || !a->status || !nova_store_audit_for(audit, a->tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(a->tenant_id),
                            NOVA_SQL_P_TEXT(a->id),
                            NOVA_SQL_P_TEXT(a->currency),
                            NOVA_SQL_P_TEXT(a->type),
                            NOVA_SQL_P_TEXT(a->status),
                            NOVA_SQL_P_INT((int64_t)a->flags),
                            NOVA_SQL_P_INT(a->overdraft_limit),
                            NOVA_SQL_P_INT(a->overdraft_expires_at),
                            NOVA_SQL_P_TEXT(a->overdraft_rate ? a->overdraft_rate : ""),
                            NOVA_SQL_P_TEXT(a->kyc_tier ? a->kyc_tier : ""),
                            NOVA_SQL_P_TEXT(a->owner_ref ? a->owner_ref : ""),
                            NOVA_SQL_P_TEXT(a->metadata ? a->metadata : "{}"),
                            NOVA_SQL_P_INT(a->created_at),
                            NOVA_SQL_P_INT(a->created_at),
                            NOVA_SQL_P_TEXT(a->product ? a->product : "")};
    ledger_tx tx;
    nova_status st = tx_begin(&s, &tx, a->tenant_id);
    if (st != NOVA_OK)
        return st;
    st = nova_store_exec_q(s, &Q_LA_INSERT, NULL, p, 15, NULL);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    if (st != NOVA_OK) {
        tx_rollback(&s, &tx);
        return st;
    }
    return tx_commit(&s, &tx);
}

nova_status nova_store_ledger_account_get(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                          const char *id, nova_ledger_account_t *out)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(id)};
    nova_rows_t r;
    nova_status st = s->drv->query(s, &Q_LA_GET, tenant_id, p, 2, &r);
    if (st != NOVA_OK)
        return st;
    st = s->drv->next(&r);
    if (st == NOVA_OK)
        st = read_account(&r, ar, out);
    s->drv->done(&r);
    return st;
}

nova_status nova_store_ledger_account_list(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                           const char *after, size_t limit,
                                           nova_ledger_account_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!nova_store_valid_id(tenant_id) || after == NULL || limit == 0 || limit > 500)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(after),
                            NOVA_SQL_P_INT((int64_t)limit)};
    return nova_store_get_all(s, &Q_LA_LIST, tenant_id, p, 3, ar, read_account_row,
                              sizeof(nova_ledger_account_t), (void **)out, n);
}

/* Adds delta to an account's totals, under its row lock, and returns the new row; *limited
 * (when not NULL): some limit applies to it. */
static nova_status apply_limited(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                 const char *account, const nova_ledger_balance_t *delta,
                                 int64_t now, nova_ledger_account_t *out, bool *limited)
{
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(delta->debits_posted),
                            NOVA_SQL_P_INT(delta->credits_posted),
                            NOVA_SQL_P_INT(delta->debits_pending),
                            NOVA_SQL_P_INT(delta->credits_pending),
                            NOVA_SQL_P_INT(now),
                            NOVA_SQL_P_TEXT(tenant_id),
                            NOVA_SQL_P_TEXT(account)};
    nova_rows_t r;
    nova_status st = s->drv->query(s, &Q_LA_APPLY, NULL, p, 7, &r);
    if (st != NOVA_OK)
        return st;
    st = s->drv->next(&r);
    if (st == NOVA_OK)
        st = read_account(&r, ar, out);
    if (st == NOVA_OK && limited)
        *limited = s->drv->col_int64(&r, 19) != 0;
    s->drv->done(&r);
    return st;
}

static nova_status apply(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                         const char *account, const nova_ledger_balance_t *delta, int64_t now,
                         nova_ledger_account_t *out)
{
    return apply_limited(s, ar, tenant_id, account, delta, now, out, NULL);
}

/* Reads the limits of scopes a and b (b may equal a) into la / lb; *ha, *hb: found. */
static nova_status read_limits(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                               const char *a, const char *b, const char *only,
                               nova_ledger_limits_t *la, bool *ha, nova_ledger_limits_t *lb,
                               bool *hb, const char **currency)
{
    /* only: the account's currency (limits in another currency do not apply to it), or "". */
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(a), NOVA_SQL_P_TEXT(b),
                            NOVA_SQL_P_TEXT(only), NOVA_SQL_P_TEXT(only)};
    nova_rows_t r;
    *ha = *hb = false;
    memset(la, 0, sizeof(*la));
    memset(lb, 0, sizeof(*lb));
    nova_status st = s->drv->query(s, &Q_LL_GET, s->in_tx ? NULL : tenant_id, p, 5, &r);
    if (st != NOVA_OK)
        return st;
    while ((st = s->drv->next(&r)) == NOVA_OK) {
        const char *scope = NULL;
        if ((st = nova_store_col_str(&r, 0, ar, &scope)) != NOVA_OK)
            break;
        bool is_a = strcmp(scope, a) == 0;
        nova_ledger_limits_t *l = is_a ? la : lb;
        *(is_a ? ha : hb) = true;
        if (currency && (st = nova_store_col_str(&r, 1, ar, currency)) != NOVA_OK)
            break;
        for (int i = 0; i < NOVA_LEDGER_LIMIT_N; i++)
            l->v[i] = s->drv->col_int64(&r, 2 + i);
    }
    s->drv->done(&r);
    return st == NOVA_NOT_FOUND ? NOVA_OK : st;
}

static nova_status read_usage(nova_store_t *s, const char *tenant_id, const char *account,
                              const char periods[3][16], nova_ledger_usage_t *u)
{
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(account),
                            NOVA_SQL_P_TEXT(periods[0]), NOVA_SQL_P_TEXT(periods[1]),
                            NOVA_SQL_P_TEXT(periods[2])};
    nova_rows_t r;
    memset(u, 0, sizeof(*u));
    nova_status st = s->drv->query(s, &Q_LU_GET, s->in_tx ? NULL : tenant_id, p, 5, &r);
    if (st != NOVA_OK)
        return st;
    while ((st = s->drv->next(&r)) == NOVA_OK) {
        size_t len;
        const char *key = r.s->drv->col_bytes(&r, 0, &len);
        for (int i = 0; key && i < 3; i++)
            if (len == strlen(periods[i]) && memcmp(key, periods[i], len) == 0) {
                u->amount[i] = s->drv->col_int64(&r, 1);
                u->count[i] = s->drv->col_int64(&r, 2);
            }
    }
    s->drv->done(&r);
    return st == NOVA_NOT_FOUND ? NOVA_OK : st;
}

/* The scopes of an account: "account:<id>" and "tier:<kyc tier>" (the first again when it
 * has no tier, which matches nothing twice). */
static void scopes_of(nova_arena_t *ar, const nova_ledger_account_t *a, const char **own,
                      const char **tier)
{
    *own = nova_arena_printf(ar, "account:%s", a->id);
    *tier = a->kyc_tier && a->kyc_tier[0] ? nova_arena_printf(ar, "tier:%s", a->kyc_tier) : *own;
}

nova_status nova_store_ledger_limits_of(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                        const nova_ledger_account_t *a, const char periods[3][16],
                                        nova_ledger_limits_t *tier, bool *has_tier,
                                        nova_ledger_limits_t *own, bool *has_own,
                                        nova_ledger_usage_t *usage)
{
    const char *so, *st_;
    scopes_of(ar, a, &so, &st_);
    if (!nova_store_valid_id(tenant_id) || so == NULL || st_ == NULL)
        return NOVA_INVALID;
    nova_status st =
        read_limits(s, ar, tenant_id, st_, so, a->currency, tier, has_tier, own, has_own, NULL);
    if (st == NOVA_OK && st_ == so) {
        *own = *tier;
        *has_own = *has_tier;
        *has_tier = false;
    }
    if (st == NOVA_OK)
        st = read_usage(s, tenant_id, a->id, periods, usage);
    return st;
}

nova_status nova_store_ledger_limits_put(nova_store_t *s, const char *tenant_id, const char *scope,
                                         const char *currency, const nova_ledger_limits_t *l,
                                         int64_t now, const nova_audit_entry_t *audit)
{
    if (!nova_store_valid_id(tenant_id) || !scope || !currency || !l ||
        !nova_store_audit_for(audit, tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[12] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(scope),
                              NOVA_SQL_P_TEXT(currency)};
    for (int i = 0; i < NOVA_LEDGER_LIMIT_N; i++)
        p[3 + i] = NOVA_SQL_P_INT(l->v[i]);
    p[11] = NOVA_SQL_P_INT(now);
    ledger_tx tx;
    nova_status st = tx_begin(&s, &tx, tenant_id);
    if (st != NOVA_OK)
        return st;
    st = nova_store_exec_q(s, &Q_LL_PUT, NULL, p, 12, NULL);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    if (st != NOVA_OK) {
        tx_rollback(&s, &tx);
        return st;
    }
    return tx_commit(&s, &tx);
}

nova_status nova_store_ledger_limits_get(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                         const char *scope, const char **currency,
                                         nova_ledger_limits_t *out)
{
    if (!nova_store_valid_id(tenant_id) || !scope)
        return NOVA_INVALID;
    nova_ledger_limits_t other;
    bool found, unused;
    *currency = NULL;
    nova_status st =
        read_limits(s, ar, tenant_id, scope, scope, "", out, &found, &other, &unused, currency);
    return st == NOVA_OK && !found ? NOVA_NOT_FOUND : st;
}

/* Within the posting's transaction, under the account's lock: the limits decide, then the
 * outflow joins the usage of its day, week and month. */
static nova_status enforce_limits(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                  const nova_ledger_write_t *w, const nova_ledger_account_t *acct,
                                  const nova_ledger_balance_t *delta, int64_t outflow,
                                  nova_ledger_outcome_t *out)
{
    const char *so, *stier;
    nova_ledger_limits_t lt, lo;
    bool ht, ho;
    nova_ledger_usage_t u;
    scopes_of(ar, acct, &so, &stier);
    if (so == NULL || stier == NULL)
        return NOVA_NOMEM;
    nova_status st =
        read_limits(s, ar, tenant_id, stier, so, acct->currency, &lt, &ht, &lo, &ho, NULL);
    if (st != NOVA_OK)
        return st;
    if (stier == so) {
        lo = lt;
        ho = ht;
        ht = false;
    }
    if (!ht && !ho)
        return NOVA_OK;
    if ((st = read_usage(s, tenant_id, acct->id, w->periods, &u)) != NOVA_OK)
        return st;
    nova_ledger_limit_kind which = NOVA_LEDGER_LIMIT_N;
    nova_ledger_refusal why =
        w->limits(acct, delta, ht ? &lt : NULL, ho ? &lo : NULL, &u, w->check_ud, &which);
    if (why != NOVA_LEDGER_ALLOWED) {
        out->refusal = why;
        out->limit = which;
        out->refused_account = acct->id;
        return NOVA_FORBIDDEN;
    }
    for (int i = 0; outflow > 0 && st == NOVA_OK && i < 3; i++) {
        nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(acct->id),
                                NOVA_SQL_P_TEXT(w->periods[i]), NOVA_SQL_P_INT(outflow)};
        st = nova_store_exec_q(s, &Q_LU_ADD, NULL, p, 4, NULL);
    }
    return st;
}

/* The same change the conventional way: SELECT ... FOR UPDATE, the new totals computed here,
 * then the UPDATE (its returned row is the same and is read again). */
static nova_status lock_then_apply(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                   const char *account, const nova_ledger_balance_t *delta,
                                   int64_t now, nova_ledger_account_t *out, bool *limited)
{
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(account)};
    nova_rows_t r;
    nova_status st = s->drv->query(s, &Q_LA_LOCK, NULL, p, 2, &r);
    if (st != NOVA_OK)
        return st;
    st = s->drv->next(&r);
    if (st == NOVA_OK)
        st = read_account(&r, ar, out);
    s->drv->done(&r);
    if (st != NOVA_OK)
        return st;
    return apply_limited(s, ar, tenant_id, account, delta, now, out, limited);
}

nova_status nova_store_ledger_account_set_status(nova_store_t *s, nova_arena_t *ar,
                                                 const char *tenant_id, const char *id,
                                                 const char *status, int64_t now,
                                                 nova_ledger_status_fn allow, void *ud,
                                                 const nova_audit_entry_t *audit,
                                                 nova_ledger_account_t *out)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id) || !status ||
        !nova_store_audit_for(audit, tenant_id))
        return NOVA_INVALID;
    ledger_tx tx;
    nova_status st = tx_begin(&s, &tx, tenant_id);
    if (st != NOVA_OK)
        return st;
    nova_ledger_balance_t zero = {0};
    st = apply(s, ar, tenant_id, id, &zero, now, out);
    if (st == NOVA_OK && allow)
        st = allow(out, ud);
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(status), NOVA_SQL_P_INT(now),
                            NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(id)};
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, &Q_LA_STATUS, NULL, p, 4, NULL);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    if (st != NOVA_OK) {
        tx_rollback(&s, &tx);
        return st;
    }
    out->status = status;
    return tx_commit(&s, &tx);
}

nova_status nova_store_ledger_posting_get(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                          const char *id, nova_ledger_posting_row_t *out)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(id)};
    nova_rows_t r;
    nova_status st = s->drv->query(s, &Q_LP_GET, s->in_tx ? NULL : tenant_id, p, 2, &r);
    if (st != NOVA_OK)
        return st;
    st = s->drv->next(&r);
    if (st == NOVA_OK)
        st = read_posting(&r, ar, out);
    s->drv->done(&r);
    return st;
}

nova_status nova_store_ledger_reversed_legs(nova_store_t *s, nova_arena_t *ar,
                                            const char *tenant_id, const char *posting_id,
                                            const char **legs)
{
    *legs = NULL;
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(posting_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(posting_id)};
    nova_rows_t r;
    nova_status st = s->drv->query(s, &Q_LP_LEGS, s->in_tx ? NULL : tenant_id, p, 2, &r);
    if (st != NOVA_OK)
        return st;
    st = s->drv->next(&r);
    if (st == NOVA_OK)
        st = nova_store_col_str(&r, 0, ar, legs);
    s->drv->done(&r);
    return st;
}

nova_status nova_store_ledger_entries(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                      const char *posting_id, nova_ledger_entry_row_t **out,
                                      size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(posting_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(posting_id)};
    return nova_store_get_all(s, &Q_LE_OF, s->in_tx ? NULL : tenant_id, p, 2, ar, read_entry,
                              sizeof(nova_ledger_entry_row_t), (void **)out, n);
}

nova_status nova_store_ledger_account_entries(nova_store_t *s, nova_arena_t *ar,
                                              const char *tenant_id, const char *account_id,
                                              int64_t after, size_t limit,
                                              nova_ledger_entry_row_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(account_id) || limit == 0 ||
        limit > 500)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(account_id),
                            NOVA_SQL_P_INT(after), NOVA_SQL_P_INT((int64_t)limit)};
    return nova_store_get_all(s, &Q_LE_ACCOUNT, tenant_id, p, 4, ar, read_entry,
                              sizeof(nova_ledger_entry_row_t), (void **)out, n);
}

/* The id is taken: a replay when the body is the same, else a conflict naming nothing yet
 * (the caller compares the bodies: it knows their members). */
static nova_status taken(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                         const nova_ledger_write_t *w, nova_ledger_outcome_t *out)
{
    nova_ledger_posting_row_t row;
    nova_status st = nova_store_ledger_posting_get(s, ar, tenant_id, w->posting->id, &row);
    if (st != NOVA_OK)
        return st == NOVA_NOT_FOUND ? NOVA_UNAVAILABLE : st;
    if (strcmp(row.digest, w->posting->digest) != 0 || row.result[0] == '\0') {
        out->differs = row.request;
        return NOVA_CONFLICT;
    }
    out->replayed = true;
    out->result = row.result;
    out->http_status = row.http_status;
    out->audit_id = row.audit_id;
    return NOVA_OK;
}

/* The row with its reply and audit entry id already in it (the entry is appended later in
 * the same transaction under that id), so the reply needs no second write of the row. */
static nova_status insert_posting(nova_store_t *s, const char *tenant_id,
                                  const nova_ledger_write_t *w, const char *state,
                                  const char *result, int http_status, const char *audit_id)
{
    const nova_ledger_posting_t *p = w->posting;
    nova_sql_param_t pp[] = {NOVA_SQL_P_TEXT(tenant_id),
                             NOVA_SQL_P_TEXT(p->id),
                             NOVA_SQL_P_TEXT(w->kind),
                             NOVA_SQL_P_TEXT(state),
                             NOVA_SQL_P_TEXT(p->digest),
                             NOVA_SQL_P_TEXT(p->canonical),
                             NOVA_SQL_P_TEXT(w->parent_id ? w->parent_id : ""),
                             NOVA_SQL_P_INT(w->amount_total),
                             NOVA_SQL_P_INT(p->expires_at),
                             NOVA_SQL_P_TEXT(w->actor),
                             NOVA_SQL_P_INT(w->now),
                             NOVA_SQL_P_TEXT(result),
                             NOVA_SQL_P_INT(http_status),
                             NOVA_SQL_P_TEXT(audit_id)};
    return nova_store_exec_q(s, &Q_LP_INSERT, NULL, pp, 14, NULL);
}

static nova_status insert_entry(nova_store_t *s, const char *tenant_id, const char *posting_id,
                                int64_t seq, const char *account, bool credit, const char *currency,
                                int64_t amount, bool pending, int64_t now)
{
    nova_sql_param_t p[] = {
        NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(posting_id), NOVA_SQL_P_INT(seq),
        NOVA_SQL_P_TEXT(account),   NOVA_SQL_P_INT(credit),      NOVA_SQL_P_TEXT(currency),
        NOVA_SQL_P_INT(amount),     NOVA_SQL_P_INT(pending),     NOVA_SQL_P_INT(now)};
    return nova_store_exec_q(s, &Q_LE_INSERT, NULL, p, 9, NULL);
}

/* One posting inside the open transaction: NOVA_CONFLICT when its id is taken, NOVA_FORBIDDEN
 * with out->refusal, else NOVA_OK with out->result. */
static nova_status post_in_tx(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                              const nova_ledger_write_t *w, const nova_audit_entry_t *audit,
                              const char *audit_id, nova_ledger_outcome_t *out, bool rows)
{
    const nova_ledger_posting_t *p = w->posting;
    /* The posting row first: a concurrent request with this id waits here for this one. A
     * batch (rows false) writes its postings' and entries' rows itself, one statement each.
     * The reply is rendered first, under the audit entry's id chosen now. */
    char aid[64];
    const char *result = NULL;
    nova_status st = NOVA_OK;
    if (rows) {
        st = nova_id_new("aud", aid, sizeof(aid));
        audit_id = st == NOVA_OK ? nova_arena_strdup(ar, aid) : NULL;
        result = audit_id ? w->render(w->render_ud, ar, audit_id) : NULL;
        st = st ? st : result ? NOVA_OK : NOVA_NOMEM;
    }
    if (st == NOVA_OK && rows)
        st = insert_posting(s, tenant_id, w, p->pending ? "pending" : "posted", result, 201,
                            audit_id);
    if (st == NOVA_OK && w->parent_id) {
        int64_t changed = 0;
        nova_sql_param_t rp[] = {
            NOVA_SQL_P_INT(w->parent_units),    NOVA_SQL_P_TEXT(w->parent_legs),
            NOVA_SQL_P_TEXT(tenant_id),         NOVA_SQL_P_TEXT(w->parent_id),
            NOVA_SQL_P_INT(w->parent_reversed), NOVA_SQL_P_INT(w->parent_units)};
        st = nova_store_exec_q(s, &Q_LP_REVERSE, NULL, rp, 6, &changed);
        /* Not applied: either the original's reversed total moved (another reversal came
         * first: the caller computes again) or this one would exceed what was posted. */
        nova_ledger_posting_row_t parent;
        if (st == NOVA_OK && changed != 1)
            st = nova_store_ledger_posting_get(s, ar, tenant_id, w->parent_id, &parent);
        if (st == NOVA_OK && changed != 1 && parent.reversed != w->parent_reversed) {
            out->stale = true;
            st = NOVA_UNAVAILABLE;
        } else if (st == NOVA_OK && changed != 1) {
            out->refusal = NOVA_LEDGER_OVER_REVERSAL;
            out->refused_account = "";
            st = NOVA_FORBIDDEN;
        }
    }
    for (size_t i = 0; st == NOVA_OK && i < w->ndeltas; i++) {
        const nova_ledger_account_delta_t *d = &w->deltas[i];
        nova_ledger_balance_t delta = {0};
        if (p->pending) {
            delta.debits_pending = d->debits;
            delta.credits_pending = d->credits;
        } else {
            delta.debits_posted = d->debits;
            delta.credits_posted = d->credits;
        }
        nova_ledger_account_t acct;
        bool limited = false;
        if (w->select_for_update)
            st = lock_then_apply(s, ar, tenant_id, d->account, &delta, w->now, &acct, &limited);
        else
            st = apply_limited(s, ar, tenant_id, d->account, &delta, w->now, &acct, &limited);
        nova_ledger_refusal why = NOVA_LEDGER_ALLOWED;
        if (st == NOVA_NOT_FOUND)
            why = NOVA_LEDGER_ACCOUNT_UNKNOWN;
        else if (st == NOVA_OK && strcmp(acct.currency, d->currency) != 0)
            why = NOVA_LEDGER_CURRENCY_MISMATCH;
        else if (st == NOVA_OK)
            why = w->check(&acct, &delta, w->check_ud);
        if (why != NOVA_LEDGER_ALLOWED) {
            out->refusal = why;
            out->refused_account = d->account;
            st = NOVA_FORBIDDEN;
        }
        if (st == NOVA_OK && w->limits && w->periods && limited)
            st = enforce_limits(s, ar, tenant_id, w, &acct, &delta, d->debits, out);
    }
    if (!rows)
        return st;
    for (size_t i = 0; st == NOVA_OK && i < p->n; i++) {
        const nova_ledger_entry_t *e = &p->entries[i];
        st = insert_entry(s, tenant_id, p->id, (int64_t)i, e->account, e->credit, e->currency,
                          e->amount, p->pending, w->now);
    }
    if (st == NOVA_OK && audit)
        st = nova_store_audit_append_tx_as(s, audit, audit_id, NULL, NULL);
    if (st == NOVA_OK) {
        out->audit_id = audit_id;
        out->result = result;
        out->http_status = 201;
    }
    return st;
}

/* Many rows in one statement: the rows go as one JSON array parameter, which SQLite reads with
 * json_each and PostgreSQL with json_to_recordset (the store binds at most 16 parameters). */
static const nova_sql_t Q_LP_INSERT_MANY = {
    NOVA_Q_LP_INSERT_MANY, "ledger postings insert (batch)",
    "INSERT INTO ledger_postings (tenant_id, id, kind, state, digest, request, result, "
    "http_status, amount_total, expires_at, actor, audit_id, created_at) SELECT ?, "
    "json_extract(value, '$.id'), 'posting', json_extract(value, '$.state'), "
    "json_extract(value, '$.digest'), json_extract(value, '$.request'), "
    "json_extract(value, '$.result'), json_extract(value, '$.hs'), json_extract(value, '$.total'), "
    "json_extract(value, '$.exp'), ?, ?, ? FROM json_each(?)",
    "INSERT INTO ledger_postings (tenant_id, id, kind, state, digest, request, result, "
    "http_status, amount_total, expires_at, actor, audit_id, created_at) SELECT ?, x.id, "
    "'posting', x.state, x.digest, x.request, x.result, x.hs, x.total, x.exp, ?, ?, ? FROM "
    "json_to_recordset(?::json) AS x(id text, state text, digest text, request text, result "
    "text, hs bigint, total bigint, exp bigint)"};
static const nova_sql_t Q_LE_INSERT_MANY = {
    NOVA_Q_LE_INSERT_MANY, "ledger entries insert (batch)",
    "INSERT INTO ledger_entries (tenant_id, posting_id, seq, account_id, credit, currency, "
    "amount, pending, created_at) SELECT ?, json_extract(value, '$.p'), json_extract(value, "
    "'$.s'), json_extract(value, '$.a'), json_extract(value, '$.c'), json_extract(value, "
    "'$.cur'), json_extract(value, '$.amt'), json_extract(value, '$.pend'), ? FROM json_each(?)",
    "INSERT INTO ledger_entries (tenant_id, posting_id, seq, account_id, credit, currency, "
    "amount, pending, created_at) SELECT ?, x.p, x.s, x.a, x.c, x.cur, x.amt, x.pend, ? FROM "
    "json_to_recordset(?::json) AS x(p text, s bigint, a text, c bigint, cur text, amt bigint, "
    "pend bigint)"};

static void json_str(nova_buf_t *b, const char *name, const char *v, bool comma)
{
    nova_buf_printf(b, "%s\"%s\":\"", comma ? "," : "", name);
    nova_buf_append_json_escaped(b, v, strlen(v));
    nova_buf_append(b, "\"", 1);
}

/* failed: every row records the batch's refusal (state "failed", out[i] its problem). */
static nova_status insert_postings_many(nova_store_t *s, const char *tenant_id,
                                        const nova_ledger_write_t *w, size_t n,
                                        const nova_ledger_outcome_t *out, const char *audit_id,
                                        bool failed)
{
    nova_buf_t b;
    nova_buf_init(&b);
    nova_buf_append(&b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        const nova_ledger_posting_t *p = w[i].posting;
        nova_buf_append_cstr(&b, i ? ",{" : "{");
        json_str(&b, "id", p->id, false);
        json_str(&b, "state", failed ? "failed" : p->pending ? "pending" : "posted", true);
        json_str(&b, "digest", p->digest, true);
        json_str(&b, "request", p->canonical, true);
        json_str(&b, "result", out[i].result, true);
        nova_buf_printf(&b, ",\"hs\":%d,\"total\":%lld,\"exp\":%lld}", out[i].http_status,
                        (long long)w[i].amount_total, (long long)p->expires_at);
    }
    nova_status st = nova_buf_append(&b, "]", 1);
    nova_sql_param_t q[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(w[0].actor),
                            NOVA_SQL_P_TEXT(audit_id), NOVA_SQL_P_INT(w[0].now),
                            NOVA_SQL_P_TEXT(b.data)};
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, &Q_LP_INSERT_MANY, NULL, q, 5, NULL);
    nova_buf_free(&b);
    return st;
}

static nova_status insert_entries_many(nova_store_t *s, const char *tenant_id,
                                       const nova_ledger_write_t *w, size_t n)
{
    nova_buf_t b;
    nova_buf_init(&b);
    nova_buf_append(&b, "[", 1);
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        const nova_ledger_posting_t *p = w[i].posting;
        for (size_t k = 0; k < p->n; k++) {
            const nova_ledger_entry_t *e = &p->entries[k];
            nova_buf_append_cstr(&b, first ? "{" : ",{");
            first = false;
            json_str(&b, "p", p->id, false);
            json_str(&b, "a", e->account, true);
            json_str(&b, "cur", e->currency, true);
            nova_buf_printf(&b, ",\"s\":%zu,\"c\":%d,\"amt\":%lld,\"pend\":%d}", k,
                            e->credit ? 1 : 0, (long long)e->amount, p->pending ? 1 : 0);
        }
    }
    nova_status st = nova_buf_append(&b, "]", 1);
    nova_sql_param_t q[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_INT(w[0].now),
                            NOVA_SQL_P_TEXT(b.data)};
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, &Q_LE_INSERT_MANY, NULL, q, 3, NULL);
    nova_buf_free(&b);
    return st;
}

static bool write_ok(const nova_ledger_write_t *w)
{
    return w && w->posting && w->deltas && w->ndeltas && w->kind && w->actor && w->check &&
           w->render;
}

nova_status nova_store_ledger_post(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                   const nova_ledger_write_t *w, const nova_audit_entry_t *audit,
                                   nova_ledger_outcome_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!nova_store_valid_id(tenant_id) || !write_ok(w) || !nova_store_audit_for(audit, tenant_id))
        return NOVA_INVALID;
    ledger_tx tx;
    nova_status st = tx_begin(&s, &tx, tenant_id);
    if (st != NOVA_OK)
        return st;
    st = post_in_tx(s, ar, tenant_id, w, audit, NULL, out, true);
    if (st != NOVA_OK) {
        tx_rollback(&s, &tx);
        return st == NOVA_CONFLICT ? taken(s, ar, tenant_id, w, out) : st;
    }
    return tx_commit(&s, &tx);
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

nova_status nova_store_ledger_post_batch(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                         const nova_ledger_write_t *w, size_t n,
                                         const nova_audit_entry_t *audit,
                                         nova_ledger_outcome_t *out, size_t *failed)
{
    *failed = 0;
    if (!nova_store_valid_id(tenant_id) || n == 0 || n > NOVA_LEDGER_BATCH_MAX ||
        !nova_store_audit_for(audit, tenant_id))
        return NOVA_INVALID;
    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof(out[i]));
        if (!write_ok(&w[i]))
            return NOVA_INVALID;
    }
    ledger_tx tx;
    nova_status st = tx_begin(&s, &tx, tenant_id);
    if (st != NOVA_OK)
        return st;
    /* PostgreSQL: lock every account of the batch first, in id order, so that two batches
     * (or a batch and a posting) sharing accounts queue instead of deadlocking. SQLite has one
     * writer already. */
    if (s->drv->dialect == NOVA_DIALECT_POSTGRES) {
        size_t na = 0;
        for (size_t i = 0; i < n; i++)
            na += w[i].ndeltas;
        const char **acc = nova_arena_alloc(ar, na * sizeof(char *));
        if (acc == NULL)
            st = NOVA_NOMEM;
        na = 0;
        for (size_t i = 0; acc && i < n; i++)
            for (size_t k = 0; k < w[i].ndeltas; k++)
                acc[na++] = w[i].deltas[k].account;
        if (acc)
            qsort(acc, na, sizeof(acc[0]), cmp_str);
        nova_ledger_balance_t zero = {0};
        for (size_t i = 0; st == NOVA_OK && i < na; i++) {
            if (i > 0 && strcmp(acc[i], acc[i - 1]) == 0)
                continue;
            nova_ledger_account_t a;
            st = apply(s, ar, tenant_id, acc[i], &zero, w[0].now, &a);
            if (st == NOVA_NOT_FOUND)
                st = NOVA_OK; /* the posting naming it is refused below */
        }
    }
    /* The batch's entry first (its id goes into every reply), then every posting row in one
     * statement, the accounts posting by posting, every entry row in one statement. */
    nova_audit_record_t rec = {0};
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, ar, &rec);
    for (size_t i = 0; st == NOVA_OK && i < n; i++) {
        out[i].audit_id = rec.id;
        out[i].http_status = 201;
        out[i].result = w[i].render(w[i].render_ud, ar, rec.id);
        if (out[i].result == NULL)
            st = NOVA_NOMEM;
    }
    if (st == NOVA_OK)
        st = insert_postings_many(s, tenant_id, w, n, out, rec.id, false);
    for (size_t i = 0; st == NOVA_OK && i < n; i++) {
        st = post_in_tx(s, ar, tenant_id, &w[i], NULL, rec.id, &out[i], false);
        if (st != NOVA_OK)
            *failed = i;
    }
    if (st == NOVA_OK)
        st = insert_entries_many(s, tenant_id, w, n);
    if (st == NOVA_OK)
        return tx_commit(&s, &tx);
    tx_rollback(&s, &tx);
    if (st != NOVA_CONFLICT)
        return st;
    /* An id was taken: a replay only when every posting of the batch is there with the same
     * body (the batch committed before); anything else is a conflict. */
    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof(out[i]));
        st = taken(s, ar, tenant_id, &w[i], &out[i]);
        if (st != NOVA_OK) {
            *failed = i;
            if (st == NOVA_UNAVAILABLE)
                st = NOVA_CONFLICT; /* not there: the batch is not the one first sent */
            return st;
        }
    }
    return NOVA_OK;
}

nova_status nova_store_ledger_refuse(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                     const nova_ledger_write_t *w, int http_status,
                                     const char *problem, const nova_audit_entry_t *audit,
                                     nova_ledger_outcome_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!nova_store_valid_id(tenant_id) || !w || !w->posting || !w->kind || !w->actor || !problem ||
        !nova_store_audit_for(audit, tenant_id))
        return NOVA_INVALID;
    ledger_tx tx;
    nova_status st = tx_begin(&s, &tx, tenant_id);
    if (st != NOVA_OK)
        return st;
    char aid[64];
    st = nova_id_new("aud", aid, sizeof(aid));
    if (st == NOVA_OK)
        st = insert_posting(s, tenant_id, w, "failed", problem, http_status, aid);
    if (st == NOVA_CONFLICT) {
        tx_rollback(&s, &tx);
        return taken(s, ar, tenant_id, w, out);
    }
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx_as(s, audit, aid, NULL, NULL);
    if (st != NOVA_OK) {
        tx_rollback(&s, &tx);
        return st;
    }
    out->result = problem;
    out->http_status = http_status;
    out->audit_id = nova_arena_strdup(ar, aid);
    return tx_commit(&s, &tx);
}

static int cmp_entry_account(const void *x, const void *y)
{
    return strcmp(((const nova_ledger_entry_row_t *)x)->account_id,
                  ((const nova_ledger_entry_row_t *)y)->account_id);
}

nova_status nova_store_ledger_resolve(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                      const char *hold_id, bool post, bool expire, int64_t amount,
                                      int64_t now, nova_ledger_check_fn check, void *ud,
                                      const nova_audit_entry_t *audit, const char **state,
                                      nova_ledger_outcome_t *out)
{
    memset(out, 0, sizeof(*out));
    *state = NULL;
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(hold_id) || amount < 0 || !check ||
        !nova_store_audit_for(audit, tenant_id) || (post && expire))
        return NOVA_INVALID;
    ledger_tx tx;
    nova_status st = tx_begin(&s, &tx, tenant_id);
    if (st != NOVA_OK)
        return st;
    nova_ledger_posting_row_t row;
    nova_ledger_entry_row_t *e = NULL;
    size_t n = 0;
    int64_t changed = 0;
    const char *to = post ? "posted" : expire ? "expired" : "voided";
    st = nova_store_ledger_posting_get(s, ar, tenant_id, hold_id, &row);
    if (st == NOVA_OK && (strcmp(row.state, "pending") != 0 || strcmp(row.kind, "posting") != 0)) {
        *state = row.state;
        st = NOVA_CONFLICT;
    } else if (st == NOVA_OK && post && row.expires_at != 0 && now >= row.expires_at) {
        *state = "expired";
        st = NOVA_CONFLICT;
    }
    if (st == NOVA_OK)
        st = nova_store_ledger_entries(s, ar, tenant_id, hold_id, &e, &n);
    if (st == NOVA_OK && amount != 0 && (n != 2 || amount > e[0].amount))
        st = NOVA_INVALID;
    int64_t posted = !post ? 0 : amount ? amount : row.amount_total;
    /* The state change first: it takes the hold's row lock, so of two racing resolutions the
     * second finds the state changed (0 rows) and reports it. */
    nova_sql_param_t rp[] = {NOVA_SQL_P_TEXT(to), NOVA_SQL_P_INT(posted), NOVA_SQL_P_INT(now),
                             NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(hold_id)};
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, &Q_LP_RESOLVE, NULL, rp, 5, &changed);
    if (st == NOVA_OK && changed != 1) {
        tx_rollback(&s, &tx);
        if (nova_store_ledger_posting_get(s, ar, tenant_id, hold_id, &row) == NOVA_OK)
            *state = row.state;
        return NOVA_CONFLICT;
    }
    /* Per account, in id order: release the reservation, post the part. */
    if (st == NOVA_OK)
        qsort(e, n, sizeof(e[0]), cmp_entry_account);
    for (size_t i = 0; st == NOVA_OK && i < n;) {
        nova_ledger_balance_t delta = {0};
        size_t k = i;
        for (; k < n && strcmp(e[k].account_id, e[i].account_id) == 0; k++) {
            int64_t part = amount ? amount : e[k].amount;
            if (e[k].credit) {
                delta.credits_pending -= e[k].amount;
                delta.credits_posted += post ? part : 0;
            } else {
                delta.debits_pending -= e[k].amount;
                delta.debits_posted += post ? part : 0;
            }
        }
        nova_ledger_account_t acct;
        st = apply(s, ar, tenant_id, e[i].account_id, &delta, now, &acct);
        if (st == NOVA_OK) {
            nova_ledger_refusal why = check(&acct, &delta, ud);
            if (why != NOVA_LEDGER_ALLOWED) {
                out->refusal = why;
                out->refused_account = e[i].account_id;
                st = NOVA_FORBIDDEN;
            }
        }
        i = k;
    }
    for (size_t i = 0; st == NOVA_OK && post && i < n; i++)
        st = insert_entry(s, tenant_id, hold_id, 100 + e[i].seq, e[i].account_id, e[i].credit,
                          e[i].currency, amount ? amount : e[i].amount, false, now);
    nova_audit_record_t rec;
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, ar, &rec);
    if (st != NOVA_OK) {
        tx_rollback(&s, &tx);
        return st;
    }
    out->audit_id = rec.id;
    *state = to;
    return tx_commit(&s, &tx);
}

nova_status nova_store_ledger_due(nova_store_t *s, nova_arena_t *ar, int64_t now, size_t limit,
                                  const char ***tenants, const char ***ids, size_t *n)
{
    *tenants = *ids = NULL;
    *n = 0;
    if (limit == 0 || limit > 1000)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(now), NOVA_SQL_P_INT((int64_t)limit)};
    nova_rows_t r;
    nova_status st = s->drv->query(s, &Q_LP_DUE, NOVA_STORE_ALL_TENANTS, p, 2, &r);
    if (st != NOVA_OK)
        return st;
    const char **t = nova_arena_alloc(ar, limit * sizeof(char *));
    const char **d = nova_arena_alloc(ar, limit * sizeof(char *));
    if (t == NULL || d == NULL) {
        s->drv->done(&r);
        return NOVA_NOMEM;
    }
    while (*n < limit && (st = s->drv->next(&r)) == NOVA_OK) {
        if ((st = nova_store_col_str(&r, 0, ar, &t[*n])) != NOVA_OK ||
            (st = nova_store_col_str(&r, 1, ar, &d[*n])) != NOVA_OK)
            break;
        (*n)++;
    }
    s->drv->done(&r);
    if (st != NOVA_OK && st != NOVA_NOT_FOUND)
        return st;
    *tenants = t;
    *ids = d;
    return NOVA_OK;
}

nova_status nova_store_ledger_statement_sums(nova_store_t *s, const char *tenant_id,
                                             const char *account_id, int64_t from, int64_t to,
                                             int64_t upto, nova_ledger_sums_t *before,
                                             nova_ledger_sums_t *within)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(account_id) || from > to)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {
        NOVA_SQL_P_INT(from), NOVA_SQL_P_INT(from),       NOVA_SQL_P_INT(from),
        NOVA_SQL_P_INT(from), NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(account_id),
        NOVA_SQL_P_INT(to),   NOVA_SQL_P_INT(from),       NOVA_SQL_P_INT(upto)};
    nova_rows_t r;
    nova_status st = s->drv->query(s, &Q_LE_SUM_BEFORE, tenant_id, p, 9, &r);
    if (st != NOVA_OK)
        return st;
    st = s->drv->next(&r);
    if (st == NOVA_OK) {
        before->debits = s->drv->col_int64(&r, 0);
        before->credits = s->drv->col_int64(&r, 1);
        within->debits = s->drv->col_int64(&r, 2);
        within->credits = s->drv->col_int64(&r, 3);
    }
    s->drv->done(&r);
    return st;
}

nova_status nova_store_ledger_statement_entries(nova_store_t *s, nova_arena_t *ar,
                                                const char *tenant_id, const char *account_id,
                                                int64_t from, int64_t to, int64_t after,
                                                size_t limit, nova_ledger_entry_row_t **out,
                                                size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(account_id) || limit == 0 ||
        limit > 1000)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(account_id),
                            NOVA_SQL_P_INT(from),       NOVA_SQL_P_INT(to),
                            NOVA_SQL_P_INT(after),      NOVA_SQL_P_INT((int64_t)limit)};
    return nova_store_get_all(s, &Q_LE_WINDOW, tenant_id, p, 6, ar, read_entry,
                              sizeof(nova_ledger_entry_row_t), (void **)out, n);
}

static nova_status read_product(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_ledger_product_t *o = out;
    nova_status st;
    const struct {
        int col;
        const char **out;
    } strs[] = {{0, &o->id},
                {1, &o->kind},
                {2, &o->currency},
                {3, &o->rate},
                {4, &o->day_count},
                {6, &o->interest_account},
                {7, &o->accrual_account},
                {10, &o->fee_period},
                {11, &o->fee_account},
                {12, &o->interest_period}};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        if ((st = nova_store_col_str(r, strs[i].col, a, strs[i].out)) != NOVA_OK)
            return st;
    o->min_balance = r->s->drv->col_int64(r, 5);
    o->updated_at = r->s->drv->col_int64(r, 8);
    o->fee_amount = r->s->drv->col_int64(r, 9);
    return NOVA_OK;
}

nova_status nova_store_ledger_product_put(nova_store_t *s, const char *tenant_id,
                                          const nova_ledger_product_t *p,
                                          const nova_audit_entry_t *audit)
{
    if (!nova_store_valid_id(tenant_id) || !p || !nova_store_valid_id(p->id) || !p->kind ||
        !p->currency || !p->rate || !p->day_count || !p->interest_account || !p->accrual_account ||
        !nova_store_audit_for(audit, tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t q[] = {NOVA_SQL_P_TEXT(tenant_id),
                            NOVA_SQL_P_TEXT(p->id),
                            NOVA_SQL_P_TEXT(p->kind),
                            NOVA_SQL_P_TEXT(p->currency),
                            NOVA_SQL_P_TEXT(p->rate),
                            NOVA_SQL_P_TEXT(p->day_count),
                            NOVA_SQL_P_INT(p->min_balance),
                            NOVA_SQL_P_TEXT(p->interest_account),
                            NOVA_SQL_P_TEXT(p->accrual_account),
                            NOVA_SQL_P_INT(p->updated_at),
                            NOVA_SQL_P_INT(p->fee_amount),
                            NOVA_SQL_P_TEXT(p->fee_period ? p->fee_period : ""),
                            NOVA_SQL_P_TEXT(p->fee_account ? p->fee_account : ""),
                            NOVA_SQL_P_TEXT(p->interest_period && p->interest_period[0]
                                                ? p->interest_period
                                                : "monthly")};
    ledger_tx tx;
    nova_status st = tx_begin(&s, &tx, tenant_id);
    if (st != NOVA_OK)
        return st;
    st = nova_store_exec_q(s, &Q_LPR_PUT, NULL, q, 14, NULL);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    if (st != NOVA_OK) {
        tx_rollback(&s, &tx);
        return st;
    }
    return tx_commit(&s, &tx);
}

nova_status nova_store_ledger_product_get(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                          const char *id, nova_ledger_product_t *out)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(id)};
    nova_rows_t r;
    nova_status st = s->drv->query(s, &Q_LPR_GET, tenant_id, p, 2, &r);
    if (st != NOVA_OK)
        return st;
    st = s->drv->next(&r);
    if (st == NOVA_OK) {
        memset(out, 0, sizeof(*out));
        st = read_product(&r, ar, out);
    }
    s->drv->done(&r);
    return st;
}

nova_status nova_store_ledger_product_list(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                           nova_ledger_product_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!nova_store_valid_id(tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_all(s, &Q_LPR_LIST, tenant_id, p, 1, ar, read_product,
                              sizeof(nova_ledger_product_t), (void **)out, n);
}

nova_status nova_store_ledger_accounts_of_product(nova_store_t *s, nova_arena_t *ar,
                                                  const char *tenant_id, const char *product,
                                                  const char *after, size_t limit,
                                                  nova_ledger_account_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(product) || !after || limit == 0 ||
        limit > 500)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(product),
                            NOVA_SQL_P_TEXT(after), NOVA_SQL_P_INT((int64_t)limit)};
    return nova_store_get_all(s, &Q_LA_BY_PRODUCT, tenant_id, p, 4, ar, read_account_row,
                              sizeof(nova_ledger_account_t), (void **)out, n);
}

nova_status nova_store_ledger_refuse_batch(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                           const nova_ledger_write_t *w, size_t n, int http_status,
                                           const char *problem, const nova_audit_entry_t *audit,
                                           nova_ledger_outcome_t *out)
{
    if (!nova_store_valid_id(tenant_id) || n == 0 || n > NOVA_LEDGER_BATCH_MAX || !problem ||
        !nova_store_audit_for(audit, tenant_id))
        return NOVA_INVALID;
    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof(out[i]));
        if (!write_ok(&w[i]))
            return NOVA_INVALID;
        out[i].result = problem;
        out[i].http_status = http_status;
    }
    ledger_tx tx;
    nova_status st = tx_begin(&s, &tx, tenant_id);
    if (st != NOVA_OK)
        return st;
    nova_audit_record_t rec = {0};
    st = nova_store_audit_append_tx(s, audit, ar, &rec);
    if (st == NOVA_OK)
        st = insert_postings_many(s, tenant_id, w, n, out, rec.id, true);
    if (st == NOVA_OK)
        return tx_commit(&s, &tx);
    tx_rollback(&s, &tx);
    if (st != NOVA_CONFLICT)
        return st;
    /* Some id was taken meanwhile: answer as for the batch itself. */
    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof(out[i]));
        st = taken(s, ar, tenant_id, &w[i], &out[i]);
        if (st != NOVA_OK)
            return st == NOVA_UNAVAILABLE ? NOVA_CONFLICT : st;
    }
    return NOVA_OK;
}
