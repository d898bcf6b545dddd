/*
 * ledger.h: the money engine (issue 8): currencies with their ISO 4217 exponents, Amounts in
 * integer minor units, postings (balanced double entries) and the balance rules of an
 * account. Pure computation: no store, no HTTP, no floating point anywhere.
 *
 * On the wire an Amount is {"currency": "KES", "value": "1500.00"}: a decimal string with at
 * most the currency's exponent's digits after the point, no sign, no exponent, no leading
 * zeros. Inside it is an int64_t count of minor units (KES cents, UGX shillings, BHD fils).
 *
 * Bounds, so that no sum can overflow: one amount is at most NOVA_LEDGER_AMOUNT_MAX minor
 * units, a posting has at most NOVA_LEDGER_MAX_ENTRIES entries, and an account's running
 * totals are refused past NOVA_LEDGER_TOTAL_MAX (a total below it plus one posting's part in
 * it stays below INT64_MAX).
 */
#ifndef NOVA_LEDGER_H
#define NOVA_LEDGER_H

#include "nova/base.h"

typedef struct json_t json_t;

#define NOVA_LEDGER_AMOUNT_MAX 1000000000000000LL /* 10^15 minor units */
#define NOVA_LEDGER_TOTAL_MAX 9000000000000000000LL
#define NOVA_LEDGER_MAX_ENTRIES 64
#define NOVA_LEDGER_ID_MAX 64

/* ---- currencies and amounts ---- */

typedef struct nova_currency {
    const char *code; /* "KES" */
    int exponent;     /* digits after the point: KES 2, UGX 0, BHD 3 */
} nova_currency_t;

/* The currency with this ISO 4217 code (exact, upper case), or NULL. Static storage. */
const nova_currency_t *nova_ledger_currency(const char *code);

/* Parses value (a decimal string) in currency into minor units. allow_zero: "0" is accepted
 * (limits, overdraft lines), otherwise an amount must be positive. On NOVA_INVALID *why says
 * what is wrong (static text) and *bad_currency whether the currency (true) or the value
 * (false) is at fault. */
nova_status nova_ledger_amount_parse(const char *currency, const char *value, bool allow_zero,
                                     int64_t *minor, bool *bad_currency, const char **why);
/* Writes minor (any sign) as the wire's decimal string for currency into out: "-12.50".
 * NOVA_INVALID for an unknown currency, NOVA_TOO_LARGE when out is too small (32 suffice). */
nova_status nova_ledger_amount_format(const char *currency, int64_t minor, char *out, size_t n);

/* Reads an Amount object {"currency", "value"} (exactly those members). On NOVA_INVALID
 * *member is the member at fault as a JSON Pointer relative to the object ("", "/currency",
 * "/value") and *why the reason (static text). */
nova_status nova_ledger_amount_json(json_t *amount, bool allow_zero, char currency[4],
                                    int64_t *minor, const char **member, const char **why);
/* {"currency", "value"} for minor in currency (a new jansson object, NULL on failure). */
json_t *nova_ledger_amount_new(const char *currency, int64_t minor);

/* true when id is 1..64 of [A-Za-z0-9_.:-] (client-supplied posting and account ids). */
bool nova_ledger_id_valid(const char *id);

/* ---- accounts ---- */

/* Account flags (TigerBeetle's balance flags). */
#define NOVA_LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS 1u
#define NOVA_LEDGER_CREDITS_MUST_NOT_EXCEED_DEBITS 2u

typedef enum nova_ledger_status {
    NOVA_LEDGER_OPEN,
    NOVA_LEDGER_FROZEN, /* takes credits, no debits */
    NOVA_LEDGER_CLOSED, /* takes nothing; only with a zero balance */
    NOVA_LEDGER_STATUS_N
} nova_ledger_status;

/* "open", "frozen", "closed"; and back (-1 for an unknown name). */
const char *nova_ledger_status_name(nova_ledger_status st);
int nova_ledger_status_parse(const char *name);
/* true when type is one of the account types: customer_wallet, agent_float, merchant,
 * commission_pool, fees, suspense, settlement, treasury, savings, loan. */
bool nova_ledger_type_valid(const char *type);

/* An account's running totals, in minor units of its currency. */
typedef struct nova_ledger_balance {
    int64_t debits_posted;
    int64_t credits_posted;
    int64_t debits_pending; /* reserved by holds */
    int64_t credits_pending;
} nova_ledger_balance_t;

/* What the balance rules of an account need to know. */
typedef struct nova_ledger_rules {
    unsigned flags;
    nova_ledger_status status;
    int64_t overdraft_limit;      /* minor units; 0: none */
    int64_t overdraft_expires_at; /* unix seconds; 0: never */
} nova_ledger_rules_t;

/* Why a change to an account is refused; NOVA_LEDGER_ALLOWED (0) when it is not. */
typedef enum nova_ledger_refusal {
    NOVA_LEDGER_ALLOWED = 0,
    NOVA_LEDGER_INSUFFICIENT_FUNDS, /* debits would exceed credits (+ overdraft headroom) */
    NOVA_LEDGER_CREDITS_EXCEED,     /* credits would exceed debits */
    NOVA_LEDGER_ACCOUNT_FROZEN,
    NOVA_LEDGER_ACCOUNT_CLOSED,
    NOVA_LEDGER_TOTAL_OVERFLOW,
    NOVA_LEDGER_ACCOUNT_UNKNOWN,   /* the tenant has no account with this id */
    NOVA_LEDGER_CURRENCY_MISMATCH, /* an entry's currency is not its account's */
    NOVA_LEDGER_OVER_REVERSAL,     /* reversals would exceed the original */
    NOVA_LEDGER_LIMIT_EXCEEDED,    /* a limit of the account or its KYC tier */
    NOVA_LEDGER_REFUSAL_N
} nova_ledger_refusal;

/* The problem code of a refusal: "insufficient_funds", "credits_exceed_debits",
 * "account_frozen", "account_closed", "amount_overflow", "account_not_found",
 * "currency_mismatch", "reversal_exceeds_original", "limit_exceeded". */
const char *nova_ledger_refusal_code(nova_ledger_refusal r);

/* The overdraft headroom that counts at now (0 once the line has expired). */
int64_t nova_ledger_overdraft_headroom(const nova_ledger_rules_t *rules, int64_t now);

/* Checks an account after a change: after is the balance with the change applied, delta the
 * change itself (what it adds to each total; negative when a hold is released). A rule is
 * only enforced on the side the change raises, so a credit always reaches an account whose
 * expired overdraft line left it short, and releasing a hold is always allowed. */
nova_ledger_refusal nova_ledger_check(const nova_ledger_rules_t *rules,
                                      const nova_ledger_balance_t *after,
                                      const nova_ledger_balance_t *delta, int64_t now);

/* Derived balances. ledger = credits_posted - debits_posted for a credit-normal account (no
 * flag, or debits_must_not_exceed_credits: wallets, floats, pools), debits_posted -
 * credits_posted for a debit-normal one (credits_must_not_exceed_debits: settlement, loans);
 * held = the pending amount on the side that reduces it; available = ledger - held +
 * overdraft headroom. Computed in 128 bits, clamped to the int64 range. */
typedef struct nova_ledger_derived {
    int64_t ledger;
    int64_t held;
    int64_t available;
} nova_ledger_derived_t;
void nova_ledger_derive(const nova_ledger_rules_t *rules, const nova_ledger_balance_t *b,
                        int64_t now, nova_ledger_derived_t *out);

/* ---- postings ---- */

typedef struct nova_ledger_entry {
    const char *account; /* account id */
    bool credit;         /* false: debit */
    char currency[4];
    int64_t amount; /* > 0 */
} nova_ledger_entry_t;

typedef struct nova_ledger_posting {
    const char *id;
    size_t n;
    nova_ledger_entry_t entries[NOVA_LEDGER_MAX_ENTRIES];
    const char *description; /* NULL when absent */
    const char *purpose;
    const char *channel;
    const char *metadata;  /* canonical JSON object text, NULL when absent */
    bool pending;          /* a hold: reserves, posts later */
    int64_t expires_at;    /* holds: unix seconds, 0 for none */
    const char *canonical; /* the body as canonical JSON (sorted keys, compact) */
    char digest[65];       /* hex SHA-256 of canonical: the idempotency fingerprint */
} nova_ledger_posting_t;

/* The members a posting body may hold. */
extern const char *const nova_ledger_posting_members[];

/* Validates a posting body (a JSON object whose members are nova_ledger_posting_members)
 * into out; strings in a. now bounds expires_at (in the future, at most a year ahead). On
 * NOVA_INVALID, field gets the JSON Pointer of the member at fault ("/entries/1/amount/value")
 * and why the reason: a bad id, fewer than 2 or more than 64 entries, a bad direction or
 * Amount, debits and credits unequal in a currency (field "/entries"), a bad description,
 * purpose, channel or metadata, expires_at without pending or not in the future. */
nova_status nova_ledger_posting_parse(json_t *body, nova_arena_t *a, int64_t now,
                                      nova_ledger_posting_t *out, char *field, size_t fieldlen,
                                      char *why, size_t whylen);

/* The reversal of orig (every entry's side swapped), out->id id; the other members are left
 * empty for the caller. amount 0: the whole posting, only while nothing of it is reversed
 * (before == 0). Otherwise the units (before, before + amount] of orig's total T (its debits,
 * one currency): each side's legs take their shares of those units proportionally by
 * sequential D'Hondt over the units (unit k of a leg of amount a ranks at k / a, ties to the
 * earlier leg), so a leg's cumulative share never falls as reversals add up, every side sums
 * to amount exactly, and at T every leg is reversed in full and no further; legs whose share
 * is zero are left out. A posting of one debit and one credit reverses amount on both.
 * NOVA_TOO_LARGE when before + amount exceeds T (or a whole reversal after a partial one);
 * NOVA_INVALID for a bad id, or a partial reversal of a posting in several currencies. */
nova_status nova_ledger_posting_reverse(const nova_ledger_posting_t *orig, const char *id,
                                        int64_t before, int64_t amount, nova_ledger_posting_t *out);
/* shares[i] (orig->n of them): what of leg i the reversals by amount of orig's first r units
 * took in total (as nova_ledger_posting_reverse shares them). r 0 or orig's whole total work
 * for any posting; in between only for one in a single currency (else NOVA_INVALID);
 * NOVA_TOO_LARGE past the total. */
nova_status nova_ledger_posting_shares(const nova_ledger_posting_t *orig, int64_t r,
                                       int64_t *shares);
/* One leg a reversal names: orig's entry leg (0-based, in the original's order) and the amount
 * of it reversed (minor units of currency, which must be the leg's). */
typedef struct nova_ledger_leg {
    size_t leg;
    const char *currency;
    int64_t amount;
} nova_ledger_leg_t;
/* The reversal of the legs named (at least two, each once): each named leg of orig with its
 * side swapped and the amount named, in the original's order; out->id id. prior[i]: what
 * earlier reversals took of leg i. *units: the reversal's share of orig's total (the original
 * debits it reverses), what the original's reversed total rises by. NOVA_TOO_LARGE when a leg
 * would be reversed past its amount (legs[*bad]); NOVA_INVALID for an unknown or repeated leg,
 * a currency not the leg's, an amount not above zero (legs[*bad]), or legs that do not balance
 * per currency (*bad == n). */
nova_status nova_ledger_posting_reverse_legs(const nova_ledger_posting_t *orig, const char *id,
                                             const int64_t *prior, const nova_ledger_leg_t *legs,
                                             size_t n, nova_ledger_posting_t *out, int64_t *units,
                                             size_t *bad);

/* Sums of one posting's entries per account, for locking and checking. Accounts are sorted
 * by id (the order every writer locks them in, so two postings never deadlock). */
typedef struct nova_ledger_account_delta {
    const char *account;
    char currency[4];
    int64_t debits;
    int64_t credits;
} nova_ledger_account_delta_t;
/* Fills out (room for NOVA_LEDGER_MAX_ENTRIES) and *n. NOVA_INVALID when one account appears
 * with two currencies. */
nova_status nova_ledger_posting_deltas(const nova_ledger_posting_t *p,
                                       nova_ledger_account_delta_t *out, size_t *n);

/* The top-level member names whose values differ between two canonical posting bodies,
 * comma-separated in a ("entries, description"); "" when they are equal. */
const char *nova_ledger_posting_diff(nova_arena_t *a, const char *canonical_a,
                                     const char *canonical_b);

/* ---- limits (per KYC tier and per account; tenant configuration) ---- */

typedef enum nova_ledger_limit_kind {
    NOVA_LEDGER_LIMIT_PER_TRANSACTION, /* the most one posting may take out of the account */
    NOVA_LEDGER_LIMIT_DAILY_AMOUNT,    /* outflow per UTC day */
    NOVA_LEDGER_LIMIT_DAILY_COUNT,     /* postings taking money out per UTC day */
    NOVA_LEDGER_LIMIT_WEEKLY_AMOUNT,   /* per ISO week (from Monday, UTC) */
    NOVA_LEDGER_LIMIT_WEEKLY_COUNT,
    NOVA_LEDGER_LIMIT_MONTHLY_AMOUNT, /* per calendar month (UTC) */
    NOVA_LEDGER_LIMIT_MONTHLY_COUNT,
    NOVA_LEDGER_LIMIT_BALANCE_CEILING, /* the ledger balance a credit may not pass */
    NOVA_LEDGER_LIMIT_N
} nova_ledger_limit_kind;

/* Values in minor units of the account's currency (counts for the *_COUNT kinds); 0: none. */
typedef struct nova_ledger_limits {
    int64_t v[NOVA_LEDGER_LIMIT_N];
} nova_ledger_limits_t;

/* What the account took out so far in the current day [0], week [1] and month [2]. */
typedef struct nova_ledger_usage {
    int64_t amount[3];
    int64_t count[3];
} nova_ledger_usage_t;

typedef struct nova_ledger_limit_result {
    bool allowed;
    nova_ledger_limit_kind decides; /* the refusing limit, or the tightest; _N: none applies */
    int64_t remaining_amount;       /* under the tightest amount window; -1: no amount limit */
    int64_t remaining_count;        /* under the tightest count window; -1: no count limit */
} nova_ledger_limit_result_t;

/* "per_transaction_max", "daily_amount", ..., "balance_ceiling" (the JSON member names). */
const char *nova_ledger_limit_name(nova_ledger_limit_kind k);
/* The stricter of two sets (a tier's and an account's): the smaller non-zero value of each. */
void nova_ledger_limits_merge(const nova_ledger_limits_t *a, const nova_ledger_limits_t *b,
                              nova_ledger_limits_t *out);
/* The usage keys of the periods now falls in: "d2026-12-01", "w2026-11-30" (its Monday),
 * "m2026-12". */
void nova_ledger_periods(int64_t now, char keys[3][16]);
/* Whether taking debit out of the account (0: nothing taken) is within l given u, and, for a
 * credit, whether ledger_after stays under the ceiling (pass INT64_MIN when nothing is
 * credited). */
void nova_ledger_limit_check(const nova_ledger_limits_t *l, const nova_ledger_usage_t *u,
                             int64_t debit, int64_t ledger_after, nova_ledger_limit_result_t *out);

/* ---- interest (savings products): pure, in integers ---- */

typedef enum nova_ledger_daycount {
    NOVA_LEDGER_ACT_365,
    NOVA_LEDGER_ACT_360,
    NOVA_LEDGER_30_360,
    NOVA_LEDGER_DAYCOUNT_N
} nova_ledger_daycount;

/* "ACT/365", "ACT/360", "30/360"; and back (-1 when unknown). */
const char *nova_ledger_daycount_name(nova_ledger_daycount dc);
int nova_ledger_daycount_parse(const char *name);
/* An annual rate as a decimal string ("0.0525", at most 8 decimals, below 100) into 10^-8. */
nova_status nova_ledger_rate_parse(const char *text, int64_t *rate_e8);
/* The interest one day earns on an end-of-day balance (minor units), in 10^-9 minor units:
 * 0 below min_balance or for a balance not above zero. year-month-day is the day (for 30/360:
 * day 31 earns nothing, the last of February the days February lacks). NOVA_TOO_LARGE past
 * the bound a period's sum must stay under. */
nova_status nova_ledger_interest_day(int64_t balance, int64_t rate_e8, nova_ledger_daycount dc,
                                     int64_t min_balance, int year, int month, int day,
                                     int64_t *nano);
/* What a day posts: the whole minor units the period's cumulative accrual (nano-units)
 * crossed from before that day to after it. The postings of a period sum to the floor of the
 * period's exact interest. */
int64_t nova_ledger_interest_post(int64_t cum_before_nano, int64_t cum_after_nano);
/* "YYYY-MM-DD" into its parts and the day's first second (UTC). */
nova_status nova_ledger_date_parse(const char *text, int *year, int *month, int *day,
                                   int64_t *start);
/* true on the last day of its month. */
bool nova_ledger_last_day(int year, int month, int day);
/* The periods of account fees (a product's fee.period) and of interest payouts (its
 * interest_period): "daily", "weekly" (ISO weeks, from Monday), "monthly", "quarterly" (from
 * January, April, July, October) or "annual", in UTC. valid: name is one; names: them as a
 * phrase for an error's detail (static). label: the period the day starting at day falls in,
 * as a fee's or payout's posting id ends: "2026-12-01", "w2026-11-30", "2026-12", "2026-Q4",
 * "2026". span: the first second of that period (*first) and whether day is its last day
 * (*last). Both NOVA_INVALID for an unknown name or a day before 1970. */
bool nova_ledger_period_valid(const char *name);
const char *nova_ledger_period_names(void);
nova_status nova_ledger_period_label(const char *name, int64_t day, char out[16]);
nova_status nova_ledger_period_span(const char *name, int64_t day, int64_t *first, bool *last);

#endif
