/*
 * limits.c: transaction limits (issue 8 item 7): a per-transaction maximum, daily, weekly and
 * monthly outflow amounts and counts, and a balance ceiling, set per KYC tier and per account
 * (the stricter of the two applies). Pure computation over the usage the store keeps per
 * period; the same function answers POST /v1/core/limits/check and decides inside a posting.
 */
#include <string.h>
#include <time.h>

#include "nova/ledger.h"

static const char *const limit_names[NOVA_LEDGER_LIMIT_N] = {
    [NOVA_LEDGER_LIMIT_PER_TRANSACTION] = "per_transaction_max",
    [NOVA_LEDGER_LIMIT_DAILY_AMOUNT] = "daily_amount",
    [NOVA_LEDGER_LIMIT_DAILY_COUNT] = "daily_count",
    [NOVA_LEDGER_LIMIT_WEEKLY_AMOUNT] = "weekly_amount",
    [NOVA_LEDGER_LIMIT_WEEKLY_COUNT] = "weekly_count",
    [NOVA_LEDGER_LIMIT_MONTHLY_AMOUNT] = "monthly_amount",
    [NOVA_LEDGER_LIMIT_MONTHLY_COUNT] = "monthly_count",
    [NOVA_LEDGER_LIMIT_BALANCE_CEILING] = "balance_ceiling",
};

const char *nova_ledger_limit_name(nova_ledger_limit_kind k)
{
    return k < NOVA_LEDGER_LIMIT_N ? limit_names[k] : "none";
}

void nova_ledger_limits_merge(const nova_ledger_limits_t *a, const nova_ledger_limits_t *b,
                              nova_ledger_limits_t *out)
{
    for (int i = 0; i < NOVA_LEDGER_LIMIT_N; i++) {
        int64_t x = a ? a->v[i] : 0, y = b ? b->v[i] : 0;
        out->v[i] = x == 0 ? y : y == 0 ? x : x < y ? x : y;
    }
}

void nova_ledger_periods(int64_t now, char keys[3][16])
{
    time_t t = (time_t)now;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(keys[0], 16, "d%Y-%m-%d", &tm);
    /* The week starts on Monday (ISO 8601): step back to it. */
    int back = (tm.tm_wday + 6) % 7;
    time_t monday = t - (time_t)back * 86400;
    struct tm wm;
    gmtime_r(&monday, &wm);
    strftime(keys[1], 16, "w%Y-%m-%d", &wm);
    strftime(keys[2], 16, "m%Y-%m", &tm);
}

/* What is left under a limit (a negative never: 0 once it is used up). */
static int64_t left(int64_t limit, int64_t used)
{
    return used >= limit ? 0 : limit - used;
}

void nova_ledger_limit_check(const nova_ledger_limits_t *l, const nova_ledger_usage_t *u,
                             int64_t debit, int64_t ledger_after, nova_ledger_limit_result_t *out)
{
    memset(out, 0, sizeof(*out));
    out->allowed = true;
    out->decides = NOVA_LEDGER_LIMIT_N;
    out->remaining_amount = -1; /* no amount limit */
    out->remaining_count = -1;
    static const struct {
        nova_ledger_limit_kind amount, count;
    } windows[3] = {
        {NOVA_LEDGER_LIMIT_DAILY_AMOUNT, NOVA_LEDGER_LIMIT_DAILY_COUNT},
        {NOVA_LEDGER_LIMIT_WEEKLY_AMOUNT, NOVA_LEDGER_LIMIT_WEEKLY_COUNT},
        {NOVA_LEDGER_LIMIT_MONTHLY_AMOUNT, NOVA_LEDGER_LIMIT_MONTHLY_COUNT},
    };
    /* The tightest remaining amount and count decide what is reported. */
    for (int w = 0; w < 3; w++) {
        int64_t la = l->v[windows[w].amount], lc = l->v[windows[w].count];
        if (la > 0) {
            int64_t rem = left(la, u->amount[w]);
            if (out->remaining_amount < 0 || rem < out->remaining_amount) {
                out->remaining_amount = rem;
                if (out->allowed)
                    out->decides = windows[w].amount;
            }
            if (debit > 0 && out->allowed && u->amount[w] + debit > la) {
                out->allowed = false;
                out->decides = windows[w].amount;
            }
        }
        if (lc > 0) {
            int64_t rem = left(lc, u->count[w]);
            if (out->remaining_count < 0 || rem < out->remaining_count)
                out->remaining_count = rem;
            if (debit > 0 && out->allowed && u->count[w] + 1 > lc) {
                out->allowed = false;
                out->decides = windows[w].count;
            }
        }
    }
    int64_t ptx = l->v[NOVA_LEDGER_LIMIT_PER_TRANSACTION];
    if (ptx > 0 && debit > ptx && out->allowed) {
        out->allowed = false;
        out->decides = NOVA_LEDGER_LIMIT_PER_TRANSACTION;
    }
    int64_t ceiling = l->v[NOVA_LEDGER_LIMIT_BALANCE_CEILING];
    if (ceiling > 0 && ledger_after > ceiling && out->allowed) {
        out->allowed = false;
        out->decides = NOVA_LEDGER_LIMIT_BALANCE_CEILING;
    }
}
