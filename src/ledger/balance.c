/*
 * balance.c: an account's balance rules (TigerBeetle's balance flags, plus status and an
 * overdraft line) and its derived balances. Sums that may pass the int64 range (a total minus
 * another plus a headroom) are computed in 128 bits.
 */
#include <string.h>

#include "nova/ledger.h"

static const char *const status_names[NOVA_LEDGER_STATUS_N] = {
    [NOVA_LEDGER_OPEN] = "open",
    [NOVA_LEDGER_FROZEN] = "frozen",
    [NOVA_LEDGER_CLOSED] = "closed",
};

const char *nova_ledger_status_name(nova_ledger_status st)
{
    return st < NOVA_LEDGER_STATUS_N ? status_names[st] : "unknown";
}

int nova_ledger_status_parse(const char *name)
{
    for (int i = 0; name && i < NOVA_LEDGER_STATUS_N; i++)
        if (strcmp(status_names[i], name) == 0)
            return i;
    return -1;
}

static const char *const account_types[] = {
    "customer_wallet", "agent_float", "merchant", "commission_pool", "fees",
    "suspense",        "settlement",  "treasury", "savings",         "loan",
};

bool nova_ledger_type_valid(const char *type)
{
    for (size_t i = 0; type && i < sizeof(account_types) / sizeof(account_types[0]); i++)
        if (strcmp(account_types[i], type) == 0)
            return true;
    return false;
}

static const char *const refusal_codes[NOVA_LEDGER_REFUSAL_N] = {
    [NOVA_LEDGER_ALLOWED] = "allowed",
    [NOVA_LEDGER_INSUFFICIENT_FUNDS] = "insufficient_funds",
    [NOVA_LEDGER_CREDITS_EXCEED] = "credits_exceed_debits",
    [NOVA_LEDGER_ACCOUNT_FROZEN] = "account_frozen",
    [NOVA_LEDGER_ACCOUNT_CLOSED] = "account_closed",
    [NOVA_LEDGER_TOTAL_OVERFLOW] = "amount_overflow",
    [NOVA_LEDGER_ACCOUNT_UNKNOWN] = "account_not_found",
    [NOVA_LEDGER_CURRENCY_MISMATCH] = "currency_mismatch",
    [NOVA_LEDGER_OVER_REVERSAL] = "reversal_exceeds_original",
    [NOVA_LEDGER_LIMIT_EXCEEDED] = "limit_exceeded",
};

const char *nova_ledger_refusal_code(nova_ledger_refusal r)
{
    return r < NOVA_LEDGER_REFUSAL_N ? refusal_codes[r] : "refused";
}

int64_t nova_ledger_overdraft_headroom(const nova_ledger_rules_t *rules, int64_t now)
{
    if (rules->overdraft_limit <= 0)
        return 0;
    if (rules->overdraft_expires_at != 0 && now >= rules->overdraft_expires_at)
        return 0;
    return rules->overdraft_limit;
}

nova_ledger_refusal nova_ledger_check(const nova_ledger_rules_t *rules,
                                      const nova_ledger_balance_t *after,
                                      const nova_ledger_balance_t *delta, int64_t now)
{
    /* Net raises: posting a hold moves its reservation to posted (pending down, posted up by
     * no more), which never needs new funds, so it is not refused by a flag or a frozen
     * account. */
    bool debits_up = (__int128)delta->debits_posted + delta->debits_pending > 0;
    bool credits_up = (__int128)delta->credits_posted + delta->credits_pending > 0;
    if (rules->status == NOVA_LEDGER_CLOSED && (debits_up || credits_up))
        return NOVA_LEDGER_ACCOUNT_CLOSED;
    if (rules->status == NOVA_LEDGER_FROZEN && debits_up)
        return NOVA_LEDGER_ACCOUNT_FROZEN;
    if (after->debits_posted < 0 || after->credits_posted < 0 || after->debits_pending < 0 ||
        after->credits_pending < 0 || after->debits_posted > NOVA_LEDGER_TOTAL_MAX ||
        after->credits_posted > NOVA_LEDGER_TOTAL_MAX ||
        after->debits_pending > NOVA_LEDGER_TOTAL_MAX ||
        after->credits_pending > NOVA_LEDGER_TOTAL_MAX)
        return NOVA_LEDGER_TOTAL_OVERFLOW;
    /* TigerBeetle's rule: posted and pending debits against posted credits only (a pending
     * credit may yet be voided, so it funds nothing). */
    if ((rules->flags & NOVA_LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS) && debits_up) {
        __int128 d = (__int128)after->debits_posted + after->debits_pending;
        __int128 c = (__int128)after->credits_posted + nova_ledger_overdraft_headroom(rules, now);
        if (d > c)
            return NOVA_LEDGER_INSUFFICIENT_FUNDS;
    }
    if ((rules->flags & NOVA_LEDGER_CREDITS_MUST_NOT_EXCEED_DEBITS) && credits_up) {
        __int128 c = (__int128)after->credits_posted + after->credits_pending;
        if (c > after->debits_posted)
            return NOVA_LEDGER_CREDITS_EXCEED;
    }
    return NOVA_LEDGER_ALLOWED;
}

static int64_t clamp(__int128 v)
{
    if (v > INT64_MAX)
        return INT64_MAX;
    if (v < INT64_MIN)
        return INT64_MIN;
    return (int64_t)v;
}

void nova_ledger_derive(const nova_ledger_rules_t *rules, const nova_ledger_balance_t *b,
                        int64_t now, nova_ledger_derived_t *out)
{
    bool debit_normal = (rules->flags & NOVA_LEDGER_CREDITS_MUST_NOT_EXCEED_DEBITS) &&
                        !(rules->flags & NOVA_LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS);
    __int128 ledger, held;
    if (debit_normal) {
        ledger = (__int128)b->debits_posted - b->credits_posted;
        held = b->credits_pending;
    } else {
        ledger = (__int128)b->credits_posted - b->debits_posted;
        held = b->debits_pending;
    }
    out->ledger = clamp(ledger);
    out->held = clamp(held);
    out->available = clamp(ledger - held + nova_ledger_overdraft_headroom(rules, now));
}
