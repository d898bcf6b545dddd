/*
 * ledger_accrue.h: the daily interest run of the savings products (issue 8 item 9), shared by
 * POST /v1/core/accruals and `novactl ledger accrue` (implemented in src/api/ledger.c, next to
 * the posting path it uses).
 *
 * For a finished UTC day D and each account of each savings product: the day's interest on
 * the account's end-of-day balance (rate, day-count convention, minimum balance:
 * nova_ledger_interest_day) accrues into the product's accrual account as a posting
 * "accrue:<product>:<account>:<D>" (debit the interest account), of the whole minor units the
 * interest period's cumulative accrual crossed that day; on the period's last day its total is
 * paid to the account ("payout:<product>:<account>:<label>", debit the accrual account; the
 * period is the product's interest_period, a month by default, label as
 * nova_ledger_period_label: "2026-11" for a month). A product with a fee charges it once a
 * fee period to each member account ("fee:<product>:<account>:<label>", debit the account,
 * credit the fee account), never
 * taking a credit-normal account below zero beyond its overdraft line (refused, skipped,
 * counted, tried again the next day). Every accrual is a posting, audited; a run is idempotent (the
 * ids are fixed and the bodies deterministic: past end-of-day balances never change), so running a
 * day twice posts once.
 */
#ifndef NOVA_LEDGER_ACCRUE_H
#define NOVA_LEDGER_ACCRUE_H

#include "nova/audit.h"
#include "nova/store.h"

typedef struct nova_ledger_accrual_run {
    size_t accounts;     /* accounts of savings products seen */
    size_t posted;       /* postings written by this run */
    size_t replayed;     /* postings an earlier run of this day had written */
    size_t failed;       /* postings refused (their account named in the log) */
    size_t fees_skipped; /* of failed: account fees refused (they would overdraw the account;
                            tried again by the next day's run) */
} nova_ledger_accrual_run_t;

/* Runs day ("YYYY-MM-DD", before today UTC) for tenant_id, or every tenant when NULL. by: the
 * actor of the postings' audit entries. NOVA_INVALID for a bad or unfinished day. */
nova_status nova_ledger_accrue(nova_store_t *s, nova_arena_t *ar, const nova_audit_actor_t *by,
                               const char *tenant_id, const char *day,
                               nova_ledger_accrual_run_t *out);

/* The scheduler's daily run (novad's "ledger-accrual" job): yesterday, UTC of now, for
 * tenant_id, or every tenant with products when NULL (as the job runs it), unless done (this
 * process's last finished day, "" at start) already names it. On success done names it and *ran is
 * true. Several processes on one store each run the day once: the later runs replay the first's
 * postings and post nothing. by: "system". */
nova_status nova_ledger_accrue_due(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                   int64_t now, char done[16], bool *ran,
                                   nova_ledger_accrual_run_t *out);

#endif
