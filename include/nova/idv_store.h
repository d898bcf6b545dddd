/*
 * idv_store.h: the repository of the identity-verification gateway (src/store/idv.c, tables
 * idv_workflows, idv_verifications, idv_steps, idv_jobs and idv_usage, migration 0015). The
 * store keeps what the domain (nova/idv.h) made: validated workflow JSON, sealed blobs, step
 * results as JSON text. It checks no business rule. Strings of returned rows live in the arena
 * the caller passes; every call takes the tenant id and never returns another tenant's row.
 */
#ifndef NOVA_IDV_STORE_H
#define NOVA_IDV_STORE_H

#include "nova/audit.h"
#include "nova/store.h"
#include "nova/webhook_store.h"

typedef struct nova_idv_workflow_row {
    const char *tenant_id;
    const char *id;
    int64_t version;
    const char *name;
    const char *definition; /* validated JSON text */
    const char *created_by;
    int64_t created_at;
} nova_idv_workflow_row_t;

/* Writes version 1 of workflow id (create: NOVA_CONFLICT when the id exists) or the next
 * version (update: NOVA_NOT_FOUND when it does not), appending audit in the same transaction.
 * *version gets the version written. */
nova_status nova_store_idv_workflow_put(nova_store_t *s, const nova_idv_workflow_row_t *w,
                                        bool create, const nova_audit_entry_t *audit,
                                        int64_t *version);
/* Version `version` of the workflow, or its newest with version 0. NOVA_NOT_FOUND. */
nova_status nova_store_idv_workflow_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                        const char *id, int64_t version,
                                        nova_idv_workflow_row_t *out);
/* The newest version of each of the tenant's workflows, by id. */
nova_status nova_store_idv_workflow_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                         nova_idv_workflow_row_t **out, size_t *n);

typedef struct nova_idv_verification_row {
    const char *tenant_id;
    const char *id;
    const char *workflow_id;
    int64_t workflow_version;
    const char *status; /* queued | running | completed | failed */
    const char *mode;   /* sync | async */
    const char *reference;
    const char *decision; /* "" until decided */
    const char *result;   /* the decision's JSON object text ("{}" until decided) */
    const char *trace_id;
    const char *callback_url;
    const uint8_t *applicant; /* sealed (nova_sealed_encode), may be NULL */
    size_t applicant_len;
    const char *idempotency_key; /* NULL: none */
    const char *request_digest;
    int64_t attempts;
    const char *created_by;
    int64_t created_at, updated_at, completed_at;
} nova_idv_verification_row_t;

/* Inserts the verification (status queued) and its job (job: the sealed images) with audit,
 * in one transaction. With an idempotency key already used by the tenant: NOVA_CONFLICT,
 * nothing written, and *existing_id (arena a) names the first verification. */
nova_status nova_store_idv_verification_insert(nova_store_t *s, nova_arena_t *a,
                                               const nova_idv_verification_row_t *v,
                                               const uint8_t *job, size_t job_len,
                                               const nova_audit_entry_t *audit,
                                               const char **existing_id);
nova_status nova_store_idv_verification_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                            const char *id, nova_idv_verification_row_t *out);

/* A page of the tenant's verifications, oldest first, after the cursor (created_at, id) when
 * after_id is not NULL; status NULL for any; created_at in [from, to] (0: open). */
typedef struct nova_idv_list_query {
    const char *status;
    const char *decision; /* NULL for any ("review_required": the review queue) */
    int64_t from, to;
    int64_t after_created;
    const char *after_id;
    int limit;
} nova_idv_list_query_t;
nova_status nova_store_idv_verification_list(nova_store_t *s, nova_arena_t *a,
                                             const char *tenant_id, const nova_idv_list_query_t *q,
                                             nova_idv_verification_row_t **out, size_t *n);

/* A reviewer's decision on a verification waiting for review: decision (approved | rejected)
 * and the new result JSON replace review_required, its kept job (the sealed images) is
 * deleted, audit and event (the outbox's review.decided; may be NULL) appended, in one
 * transaction. NOVA_NOT_FOUND when it is not waiting for
 * review (never was, another tenant's, or decided already). */
nova_status nova_store_idv_review_decide(nova_store_t *s, const char *tenant_id, const char *id,
                                         const char *decision, const char *result, int64_t now,
                                         const nova_audit_entry_t *audit,
                                         const nova_event_row_t *event);

/* Marks the verification running and counts the attempt. NOVA_NOT_FOUND when it is not queued
 * or running (already decided: the job is a duplicate). */
nova_status nova_store_idv_verification_start(nova_store_t *s, const char *tenant_id,
                                              const char *id, int64_t now);

typedef struct nova_idv_step_row {
    int64_t idx;
    const char *step_id;
    const char *check_name;
    const char *status;
    const uint8_t *result; /* the step's JSON, sealed (nova_sealed_encode) */
    size_t result_len;
    int64_t created_at;
} nova_idv_step_row_t;

/* Records a finished step and its billing units in one transaction. A step already recorded
 * (a redelivered job) is left as it was and not billed again: *fresh false. */
nova_status nova_store_idv_step_put(nova_store_t *s, const char *tenant_id, const char *vid,
                                    const nova_idv_step_row_t *step, int64_t units, bool *fresh);
/* The verification's recorded steps by idx. */
nova_status nova_store_idv_step_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                     const char *vid, nova_idv_step_row_t **out, size_t *n);

/* A document the verification read (idv_documents): keyed digests (64 hex) of the issuing
 * state and number, and of the applicant. Written by verification_finish (may be NULL) in its
 * transaction. */
typedef struct nova_idv_document_row {
    const char *number_digest;
    const char *applicant_digest;
} nova_idv_document_row_t;

/* Decides the verification: status (completed | failed), decision, result JSON, with audit
 * and event (the outbox's verification.*; may be NULL), and in the same transaction drops
 * its job, or keeps it until keep_until (unix seconds;
 * review: the sealed images for the reviewer). NOVA_NOT_FOUND when already decided. */
nova_status nova_store_idv_verification_finish(nova_store_t *s, const char *tenant_id,
                                               const char *id, const char *status,
                                               const char *decision, const char *result,
                                               int64_t now, int64_t keep_until,
                                               const nova_audit_entry_t *audit,
                                               const nova_event_row_t *event,
                                               const nova_idv_document_row_t *document);

/* How many approved verifications of the tenant other than except_vid read the document
 * number_digest for an applicant other than applicant_digest. */
nova_status nova_store_idv_document_others(nova_store_t *s, const char *tenant_id,
                                           const char *number_digest, const char *applicant_digest,
                                           const char *except_vid, int64_t *count);

/* The tenant's sealed index key (idv_index_keys; bytes and region in a). NOVA_NOT_FOUND when
 * none was made yet. */
nova_status nova_store_idv_index_key_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                         const char **region, const uint8_t **sealed, size_t *len);
/* Stores the tenant's first index key with its audit entry. NOVA_CONFLICT when another
 * process stored one first (read that one). */
nova_status nova_store_idv_index_key_put(nova_store_t *s, const char *tenant_id, const char *region,
                                         const uint8_t *sealed, size_t len, int64_t now,
                                         const nova_audit_entry_t *audit);

/* The sealed job of a verification (bytes in a). NOVA_NOT_FOUND when gone. */
nova_status nova_store_idv_job_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                   const char *vid, const uint8_t **payload, size_t *len);

typedef struct nova_idv_job_ref {
    const char *tenant_id;
    const char *verification_id;
} nova_idv_job_ref_t;
/* Every tenant's undecided verifications that still have their job (to publish again after an
 * in-process queue lost its messages in a crash), at most limit. */
nova_status nova_store_idv_job_pending(nova_store_t *s, nova_arena_t *a, int limit,
                                       nova_idv_job_ref_t **out, size_t *n);
/* Deletes jobs kept for review past their expires_at; *n gets how many. */
nova_status nova_store_idv_job_expire(nova_store_t *s, int64_t now, int64_t *n);

typedef struct nova_idv_usage_row {
    const char *check_name;
    int64_t checks;
    int64_t units;
} nova_idv_usage_row_t;
/* Billing units of the tenant's checks executed in [from, to], by check. */
nova_status nova_store_idv_usage(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                 int64_t from, int64_t to, nova_idv_usage_row_t **out, size_t *n);

/* ---- price list (migration 0021) ---- */

typedef struct nova_idv_price_row {
    const char *check_name;
    int64_t units;
    int64_t updated_at;
    const char *updated_by;
} nova_idv_price_row_t;

/* The tenant's own prices, by check name. */
nova_status nova_store_idv_prices_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                      nova_idv_price_row_t **out, size_t *n);
/* The units one check of check_name costs the tenant: *units unchanged when it has no price
 * of its own (NOVA_OK either way). */
nova_status nova_store_idv_price_of(nova_store_t *s, const char *tenant_id, const char *check_name,
                                    int64_t *units);
/* Replaces the tenant's price list with rows (n may be 0: back to the built-in prices) and
 * appends audit in the same transaction. */
nova_status nova_store_idv_prices_put(nova_store_t *s, const char *tenant_id,
                                      const nova_idv_price_row_t *rows, size_t n,
                                      const nova_audit_entry_t *audit);

#endif
