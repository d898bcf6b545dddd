/*
 * ledger_store.h: the ledger's repository (src/store/ledger.c, migration 0012: tables
 * ledger_accounts, ledger_postings, ledger_entries). Both stores.
 *
 * A posting is one write transaction: the posting row first (its primary key is the
 * idempotency key, so a second request with the same id waits for the first and then sees
 * it), then one UPDATE ... RETURNING per account in account-id order (the row lock and the
 * new totals in one statement; every writer locks in the same order, so postings never
 * deadlock), the caller's balance check on each returned row, the entries, the audit entry,
 * the stored reply; COMMIT. SQLite serialises writers (BEGIN IMMEDIATE); on PostgreSQL the
 * account row locks serialise exactly the postings that share an account, and the check
 * runs on the totals the UPDATE wrote, under the lock, so no concurrent posting can slip
 * past a flag or an overdraft line.
 *
 * The store knows no rule: the caller passes the per-account sums and a check function
 * (src/ledger decides), and renders the reply. Strings returned are in the caller's arena.
 */
#ifndef NOVA_LEDGER_STORE_H
#define NOVA_LEDGER_STORE_H

#include "nova/audit.h"
#include "nova/ledger.h"
#include "nova/store.h"

typedef struct nova_ledger_account {
    const char *tenant_id;
    const char *id;
    const char *currency;
    const char *type;
    const char *status; /* nova_ledger_status_name(): "open", "frozen", "closed" */
    unsigned flags;
    int64_t overdraft_limit;
    int64_t overdraft_expires_at;
    const char *overdraft_rate; /* annual rate as a decimal string, "" when none */
    const char *kyc_tier;       /* "" when none */
    const char *owner_ref;      /* "" when none */
    const char *metadata;       /* JSON object text */
    const char *product;        /* savings product id, "" when none */
    nova_ledger_balance_t balance;
    int64_t created_at;
    int64_t updated_at;
} nova_ledger_account_t;

/* A savings or overdraft product (tenant configuration), with an optional account fee: each
 * member account pays fee_amount once per fee_period into fee_account. */
typedef struct nova_ledger_product {
    const char *id;
    const char *kind; /* "savings" */
    const char *currency;
    const char *rate;             /* annual, decimal string ("0.05") */
    const char *day_count;        /* "ACT/365", "ACT/360", "30/360" */
    int64_t min_balance;          /* minor units: no interest on a day that ends below it */
    const char *interest_account; /* pays savings interest / receives overdraft interest */
    const char *accrual_account;  /* holds it until the interest period ends */
    int64_t updated_at;
    int64_t fee_amount;      /* minor units; 0: no fee */
    const char *fee_period;  /* nova_ledger_period_valid ("" or NULL with no fee) */
    const char *fee_account; /* receives the fee (income) */
    /* When the accrued interest is paid out (savings) or charged (overdraft): one of the
     * periods of nova_ledger_period_valid; NULL or "" is "monthly". */
    const char *interest_period;
} nova_ledger_product_t;

/* Creates or replaces a product (audited). */
nova_status nova_store_ledger_product_put(nova_store_t *s, const char *tenant_id,
                                          const nova_ledger_product_t *p,
                                          const nova_audit_entry_t *audit);
nova_status nova_store_ledger_product_get(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                          const char *id, nova_ledger_product_t *out);
/* The tenant's products by id. */
nova_status nova_store_ledger_product_list(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                           nova_ledger_product_t **out, size_t *n);
/* A page of the accounts of a product by id, ids > after, at most limit (1..500). */
nova_status nova_store_ledger_accounts_of_product(nova_store_t *s, nova_arena_t *ar,
                                                  const char *tenant_id, const char *product,
                                                  const char *after, size_t limit,
                                                  nova_ledger_account_t **out, size_t *n);

/* Inserts a (its totals are zero). NOVA_CONFLICT when the tenant has an account with this id. */
nova_status nova_store_ledger_account_create(nova_store_t *s, const nova_ledger_account_t *a,
                                             const nova_audit_entry_t *audit);
/* The tenant's account, from the committed state. */
nova_status nova_store_ledger_account_get(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                          const char *id, nova_ledger_account_t *out);
/* A page of the tenant's accounts by id, ids > after ("" for the first page), at most limit
 * (1..500). */
nova_status nova_store_ledger_account_list(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                           const char *after, size_t limit,
                                           nova_ledger_account_t **out, size_t *n);

/* Sets the limits of scope ("tier:<kyc tier>" or "account:<id>") in currency, replacing
 * what was there; all zero clears them. */
nova_status nova_store_ledger_limits_put(nova_store_t *s, const char *tenant_id, const char *scope,
                                         const char *currency, const nova_ledger_limits_t *l,
                                         int64_t now, const nova_audit_entry_t *audit);
/* The limits of scope; NOVA_NOT_FOUND when none are set. currency in ar. */
nova_status nova_store_ledger_limits_get(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                         const char *scope, const char **currency,
                                         nova_ledger_limits_t *out);
/* An account's limits (its tier's and its own; *has_tier, *has_own say which are set) and its
 * usage in the periods keyed (nova_ledger_periods), read together (POST /v1/core/limits/check). */
nova_status nova_store_ledger_limits_of(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                        const nova_ledger_account_t *a, const char periods[3][16],
                                        nova_ledger_limits_t *tier, bool *has_tier,
                                        nova_ledger_limits_t *own, bool *has_own,
                                        nova_ledger_usage_t *usage);

/* Decides whether the account may change. cur: its row with the change applied (locked);
 * delta: what the change added. NOVA_LEDGER_ALLOWED to go on. */
typedef nova_ledger_refusal (*nova_ledger_check_fn)(const nova_ledger_account_t *cur,
                                                    const nova_ledger_balance_t *delta, void *ud);

/* Changes an account's status under its row lock: allow (given the locked row, may be NULL)
 * decides, NOVA_FORBIDDEN with *refusal when it refuses. */
typedef nova_status (*nova_ledger_status_fn)(const nova_ledger_account_t *cur, void *ud);
nova_status nova_store_ledger_account_set_status(nova_store_t *s, nova_arena_t *ar,
                                                 const char *tenant_id, const char *id,
                                                 const char *status, int64_t now,
                                                 nova_ledger_status_fn allow, void *ud,
                                                 const nova_audit_entry_t *audit,
                                                 nova_ledger_account_t *out);

/* Decides the limits of an account a change touches: tier and own are the limits of its KYC
 * tier and its own (NULL when none is set), usage what it took out this day, week and month
 * before this change. On a refusal *limit names the limit. Called under the account's lock;
 * when it allows an outflow, the store adds it to the usage in the same transaction. */
typedef nova_ledger_refusal (*nova_ledger_limit_fn)(const nova_ledger_account_t *cur,
                                                    const nova_ledger_balance_t *delta,
                                                    const nova_ledger_limits_t *tier,
                                                    const nova_ledger_limits_t *own,
                                                    const nova_ledger_usage_t *usage, void *ud,
                                                    nova_ledger_limit_kind *limit);

typedef struct nova_ledger_write {
    const nova_ledger_posting_t *posting;
    const nova_ledger_account_delta_t *deltas; /* sorted by account (nova_ledger_posting_deltas) */
    size_t ndeltas;
    const char *kind;      /* "posting" or "reversal" */
    const char *parent_id; /* reversal: the original posting; NULL otherwise */
    int64_t parent_units;  /* reversal: what it adds to the original's reversed total */
    int64_t amount_total;  /* the posting's debits (bounds its reversals) */
    const char *actor;
    int64_t now;
    nova_ledger_check_fn check;
    void *check_ud;
    /* The reply stored for replays (JSON text in ar), made once the audit entry exists. */
    const char *(*render)(void *ud, nova_arena_t *ar, const char *audit_id);
    void *render_ud;
    /* Lock each account with SELECT ... FOR UPDATE before its UPDATE, as most ledgers do: only
     * for bench/ledger_bench.c's comparison (the same result, one more round trip each). */
    bool select_for_update;
    /* Limits to enforce (NULL: none, as for reversals, which correct rather than move). */
    nova_ledger_limit_fn limits;
    const char (*periods)[16]; /* with limits: the usage keys of now (nova_ledger_periods) */
    /* Reversal: the original's reversed total this reversal's legs were computed from; the
     * write applies only while it still is (compare-and-set), else out->stale. */
    int64_t parent_reversed;
    /* A reversal naming legs: what of each of the original's legs every reversal so far took,
     * this one included (a JSON array of minor units, one per leg), set in the original's
     * reversed_legs column by the compare-and-set itself (nova_store_ledger_reversed_legs reads
     * it); NULL otherwise (the column keeps what it held). */
    const char *parent_legs;
} nova_ledger_write_t;

/* What of each leg of posting_id the reversals took, as the last reversal naming legs left it
 * (its parent_legs, in ar); NOVA_NOT_FOUND when no reversal of it named legs. */
nova_status nova_store_ledger_reversed_legs(nova_store_t *s, nova_arena_t *ar,
                                            const char *tenant_id, const char *posting_id,
                                            const char **legs);

/* Extra refusals the store finds (beside those of nova_ledger_check). */
typedef struct nova_ledger_outcome {
    bool replayed;       /* an earlier request had this id and body: result is its reply */
    int http_status;     /* of result */
    const char *result;  /* the reply (JSON text) */
    const char *differs; /* NOVA_CONFLICT: the members that differ from the first body */
    nova_ledger_refusal refusal;
    const char *refused_account;  /* the account a refusal is about */
    nova_ledger_limit_kind limit; /* NOVA_LEDGER_LIMIT_EXCEEDED: which */
    const char *audit_id;
    bool stale; /* NOVA_UNAVAILABLE: a reversal's original moved since parent_reversed (another
                   reversal came first); nothing written: compute it again */
} nova_ledger_outcome_t;

/* Writes a posting (or a hold when posting->pending, or a reversal). Results:
 *   NOVA_OK: written (out->result the reply, http_status 201), or a replay of the same id
 *     and body (out->replayed; result and status as first answered, a failure included);
 *   NOVA_CONFLICT: the id was used with another body (out->differs names the members);
 *   NOVA_FORBIDDEN: a refusal (out->refusal, out->refused_account), nothing written: the
 *     caller records it with nova_store_ledger_refuse;
 *   NOVA_NOT_FOUND: a reversal's original is not a posted posting of the tenant. */
nova_status nova_store_ledger_post(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                   const nova_ledger_write_t *w, const nova_audit_entry_t *audit,
                                   nova_ledger_outcome_t *out);
#define NOVA_LEDGER_BATCH_MAX 1000

/* Writes n postings in one transaction, all or nothing (linked postings), with one audit
 * entry for the batch (appended first; each posting records its id), out[i] each posting's
 * outcome. NOVA_OK: all written, or all of them were written before with the same bodies
 * (each out[i].replayed). NOVA_FORBIDDEN: posting *failed was refused (out[*failed].refusal),
 * nothing written and nothing recorded. NOVA_CONFLICT: posting *failed's id is taken by
 * another body (out[*failed].differs), or the batch is partly new. */
nova_status nova_store_ledger_post_batch(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                         const nova_ledger_write_t *w, size_t n,
                                         const nova_audit_entry_t *audit,
                                         nova_ledger_outcome_t *out, size_t *failed);
/* Records a refused batch: every posting "failed" with the batch's problem, one audit entry,
 * so the same batch keeps failing the same way. If an id was taken meanwhile, the outcome is
 * as for nova_store_ledger_post_batch's replay or conflict. */
nova_status nova_store_ledger_refuse_batch(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                           const nova_ledger_write_t *w, size_t n, int http_status,
                                           const char *problem, const nova_audit_entry_t *audit,
                                           nova_ledger_outcome_t *out);
/* Records a refused posting (state "failed", its problem reply and status) so the same id
 * keeps failing the same way. If the id was taken meanwhile, the outcome is as for
 * nova_store_ledger_post (a replay or NOVA_CONFLICT). */
nova_status nova_store_ledger_refuse(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                     const nova_ledger_write_t *w, int http_status,
                                     const char *problem, const nova_audit_entry_t *audit,
                                     nova_ledger_outcome_t *out);

typedef struct nova_ledger_posting_row {
    const char *id;
    const char *kind;
    const char *state; /* posted, pending, voided, expired, failed */
    const char *digest;
    const char *request; /* canonical body */
    const char *result;  /* the first reply */
    int http_status;
    const char *parent_id;
    int64_t amount_total;
    int64_t reversed;
    int64_t posted_amount;
    int64_t expires_at;
    const char *actor;
    const char *audit_id;
    int64_t created_at;
    int64_t resolved_at;
} nova_ledger_posting_row_t;

nova_status nova_store_ledger_posting_get(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                          const char *id, nova_ledger_posting_row_t *out);

typedef struct nova_ledger_entry_row {
    int64_t ord; /* store-wide order */
    const char *posting_id;
    int64_t seq;
    const char *account_id;
    bool credit;
    const char *currency;
    int64_t amount;
    bool pending;
    int64_t created_at;
} nova_ledger_entry_row_t;

/* A posting's entries in seq order (a hold's reservations, then its posted part). */
nova_status nova_store_ledger_entries(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                      const char *posting_id, nova_ledger_entry_row_t **out,
                                      size_t *n);
/* A page of an account's posted entries in order, ord > after, at most limit (1..500). */
nova_status nova_store_ledger_account_entries(nova_store_t *s, nova_arena_t *ar,
                                              const char *tenant_id, const char *account_id,
                                              int64_t after, size_t limit,
                                              nova_ledger_entry_row_t **out, size_t *n);

/* Statements: an account's posted entries with from <= created_at < to, in order. */
typedef struct nova_ledger_sums {
    int64_t debits;
    int64_t credits;
} nova_ledger_sums_t;
/* The posted entries before from (*before), and those of the window up to and including
 * ord upto (*within; INT64_MAX for the whole window), from one snapshot. */
nova_status nova_store_ledger_statement_sums(nova_store_t *s, const char *tenant_id,
                                             const char *account_id, int64_t from, int64_t to,
                                             int64_t upto, nova_ledger_sums_t *before,
                                             nova_ledger_sums_t *within);
/* A page of the window's entries, ord > after, at most limit (1..1000). */
nova_status nova_store_ledger_statement_entries(nova_store_t *s, nova_arena_t *ar,
                                                const char *tenant_id, const char *account_id,
                                                int64_t from, int64_t to, int64_t after,
                                                size_t limit, nova_ledger_entry_row_t **out,
                                                size_t *n);

/* Posts (post true; amount 0 for the whole hold, else a part of a hold of one debit and one
 * credit) or voids a pending hold, at most once: under the hold's row lock, its reservations
 * are released, the posted part written, each account checked, audited. NOVA_CONFLICT with
 * *state the hold's state when it is not pending ("expired" too when a post comes after
 * expires_at: the caller voids it as expired); NOVA_INVALID when amount is above the hold's
 * or the hold has more than two entries; NOVA_FORBIDDEN with out->refusal from check. */
nova_status nova_store_ledger_resolve(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                      const char *hold_id, bool post, bool expire, int64_t amount,
                                      int64_t now, nova_ledger_check_fn check, void *ud,
                                      const nova_audit_entry_t *audit, const char **state,
                                      nova_ledger_outcome_t *out);

/* Platform level, for the expiry sweep: holds pending past their expires_at at now, oldest
 * first, at most limit; tenants[i] and ids[i] in ar. */
nova_status nova_store_ledger_due(nova_store_t *s, nova_arena_t *ar, int64_t now, size_t limit,
                                  const char ***tenants, const char ***ids, size_t *n);

#endif
