/*
 * idv.h: the identity-verification gateway (issue 9, seed 000): tenants' workflows as data,
 * verifications accepted, queued, run step by step by workers that compete for jobs, and
 * decided against the workflow's thresholds and review rules.
 *
 * A nova_idv_t owns the job queue (nova/queue.h) and the worker pool; it borrows the auth
 * context (data keys), the control plane and the store URL, which must outlive it. Every call
 * takes the caller's tenant and never reads or changes another tenant's rows.
 */
#ifndef NOVA_IDV_H
#define NOVA_IDV_H

#include <jansson.h>

#include "nova/audit.h"
#include "nova/auth.h"
#include "nova/idv_store.h"
#include "nova/kv.h"
#include "nova/queue.h"

#define NOVA_IDV_QUEUE "idv-gateway-v2"

typedef struct nova_idv nova_idv_t;

typedef struct nova_idv_config {
    nova_auth_t *auth;        /* data keys seal images and applicant data */
    nova_kv_t *kv;            /* workflow cache shared by every novad */
    const char *database_url; /* each worker thread opens its own connection */
    const char *region;       /* data-key region ("" or NULL: "default") */
    const char *amqp_url;     /* NOVA_AMQP_URL: "" for the in-process queue */
    unsigned workers;         /* NOVA_IDV_WORKERS: consumer threads (0: none, publish only) */
    unsigned sync_timeout_ms; /* how long a sync request waits for its decision */
    const char *face_model;   /* NOVA_FACE_MODEL, opened on the first face_match step */
    const char *tessdata;     /* NOVA_TESSDATA: the legacy-engine model of the MRZ second read */
} nova_idv_config_t;

/* Opens the gateway: the queue (declared on the broker) but no workers yet. On failure writes
 * err: NOVA_UNAVAILABLE (broker unreachable) or NOVA_INVALID. */
nova_status nova_idv_open(const nova_idv_config_t *cfg, nova_idv_t **out, char *err, size_t errlen);
/* Starts cfg->workers consumer threads, after publishing again every undecided job the store
 * holds when the queue is in-process (its messages died with the previous process). */
nova_status nova_idv_start(nova_idv_t *g);
/* Stops the workers (each finishes or gives back its job) and frees g. NULL-safe. */
void nova_idv_close(nova_idv_t *g);
const char *nova_idv_queue_driver(const nova_idv_t *g);

/* Why a request was refused: a JSON Pointer (or member name) and a reason, for a 4xx problem
 * naming the field. */
typedef struct nova_idv_problem {
    char field[128];
    char why[200];
} nova_idv_problem_t;

/* ---- workflows ---- */

/* Validates the workflow JSON (nova/workflow.h) and stores it: id NULL creates a workflow
 * (version 1, a new wf_ id), otherwise the next version of id. Refuses checks this server cannot
 * run yet. Audited workflow.create / workflow.update. The control-plane cache gets the new
 * version. NOVA_INVALID with pb filled; NOVA_NOT_FOUND for an unknown id. out in a. */
nova_status nova_idv_workflow_put(nova_kv_t *kv, nova_store_t *s, nova_arena_t *a,
                                  const nova_audit_actor_t *by, const char *tenant_id,
                                  const char *id, const char *json, size_t len,
                                  nova_idv_workflow_row_t *out, nova_idv_problem_t *pb);
/* Version `version` (0: the newest) of a workflow, from the control-plane cache when it has it
 * (kv may be NULL: the store alone). */
nova_status nova_idv_workflow_get(nova_kv_t *kv, nova_store_t *s, nova_arena_t *a,
                                  const char *tenant_id, const char *id, int64_t version,
                                  nova_idv_workflow_row_t *out);
/* {"id","version","name","definition": {...},"created_at","created_by"}; new reference. */
json_t *nova_idv_workflow_json(const nova_idv_workflow_row_t *w);

/* Simulation: the decisions the candidate workflow (JSON text, validated) would have made on
 * the recorded step results of workflow_id's completed verifications created in [from, to]
 * (unix seconds; 0: open), at most 1000: how many changed and why, each against the decision
 * the workflow made (before any manual review). No image is needed. NOVA_INVALID with pb (the
 * candidate's field under "definition"), NOVA_NOT_FOUND for an unknown workflow. */
nova_status nova_idv_workflow_simulate(nova_idv_t *g, nova_store_t *s, nova_arena_t *a,
                                       const char *tenant_id, const char *workflow_id,
                                       const char *candidate, size_t candidate_len, int64_t from,
                                       int64_t to, json_t **out, nova_idv_problem_t *pb);

/* ---- verifications ---- */

typedef struct nova_idv_request {
    const char *workflow_id;
    json_t *images;    /* {"document_front", "document_back", "selfie", "liveness_frames",
                          "proof_of_address"} */
    json_t *applicant; /* {"name", "date_of_birth", "address", "document_number"}, or NULL */
    json_t *liveness;  /* {"nonce", "frame_times_ms"} for an active liveness step, or NULL */
    const char *reference, *mode, *callback_url; /* may be NULL; mode NULL: async */
    const char *idempotency_key;                 /* NULL: none */
    const char *request_digest;                  /* hex SHA-256 of the body */
} nova_idv_request_t;

/* Accepts a verification: validates the images (base64 JPEGs that decode within the size
 * bounds) and the applicant, resolves the newest workflow version, seals the images and the
 * applicant with the tenant's data key, persists the verification (queued) with its sealed job
 * and audit entry in one transaction, then publishes the job. Sync mode then waits up to the
 * configured timeout for the decision. *out (new reference) is the verification's JSON;
 * *replayed is true when the idempotency key named an earlier verification (of the same body:
 * NOVA_CONFLICT when the body differs). NOVA_INVALID / NOVA_NOT_FOUND (workflow) with pb. */
nova_status nova_idv_submit(nova_idv_t *g, nova_store_t *s, nova_arena_t *a,
                            const nova_audit_actor_t *by, const char *tenant_id,
                            const nova_idv_request_t *req, json_t **out, bool *replayed,
                            nova_idv_problem_t *pb);
/* The verification with its steps and decision (new reference in *out). */
nova_status nova_idv_verification_get(nova_idv_t *g, nova_store_t *s, nova_arena_t *a,
                                      const char *tenant_id, const char *id, json_t **out);
/* A page of verifications (q as nova_store_idv_verification_list); *next_cursor (in a) is NULL
 * on the last page. */
nova_status nova_idv_verification_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                       const nova_idv_list_query_t *q, json_t **out,
                                       const char **next_cursor);
/* Cursor text of the page after (created_at, id), and its inverse (NOVA_INVALID). */
const char *nova_idv_cursor_make(nova_arena_t *a, int64_t created_at, const char *id);
nova_status nova_idv_cursor_parse(nova_arena_t *a, const char *cursor, int64_t *created_at,
                                  const char **id);

/* ---- manual review ---- */

typedef struct nova_idv_review {
    const char *reviewer, *decision, *reason; /* decision: approved | rejected */
} nova_idv_review_t;

/* A verification sent to review (or reviewed), with "review_status" pending or decided; while
 * pending and kept, its images and applicant opened from the sealed job. NOVA_NOT_FOUND for
 * one never sent to review. */
nova_status nova_idv_review_get(nova_idv_t *g, nova_store_t *s, nova_arena_t *a,
                                const char *tenant_id, const char *id, json_t **out);
/* Decides a verification waiting for review (audited review.decide; its sealed images are
 * deleted). NOVA_INVALID with pb, NOVA_NOT_FOUND (no such verification), NOVA_CONFLICT (not
 * waiting for review, or decided already). *out: the verification. */
nova_status nova_idv_review_decide(nova_idv_t *g, nova_store_t *s, nova_arena_t *a,
                                   const nova_audit_actor_t *by, const char *tenant_id,
                                   const char *id, const nova_idv_review_t *rv, json_t **out,
                                   nova_idv_problem_t *pb);

/* Billing units by check in [from, to] (unix seconds; 0: open): {"from","to","checks":[...]}. */
nova_status nova_idv_usage_json(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                int64_t from, int64_t to, json_t **out);

/* The tenant's price list: every check with its units, the built-in default and whether the
 * tenant set it: {"prices": [{"check", "units", "default", "source"}], "updated_at"}. */
nova_status nova_idv_prices_json(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                 json_t **out);
/* Replaces the tenant's price list from {"prices": {check: units}} (checks left out go back to
 * their default; audited idv.prices.update). NOVA_INVALID with pb naming the field. *out: the
 * new list as nova_idv_prices_json gives it. */
nova_status nova_idv_prices_put(nova_store_t *s, nova_arena_t *a, const nova_audit_actor_t *by,
                                const char *tenant_id, const json_t *body, json_t **out,
                                nova_idv_problem_t *pb);

/* ---- the engine parts, for tests and tools ---- */

/* Runs one verification job now on the calling thread (what a worker does with a message):
 * NOVA_OK when it is decided (or already was), else the status that made it retry. */
nova_status nova_idv_process(nova_idv_t *g, nova_store_t *s, const char *tenant_id,
                             const char *verification_id);

/* novactl `workflow create|list|show|update` (verb), printing JSON or text; returns the exit
 * code. args: create FILE; show ID; update ID FILE; list none. */
int nova_idv_ctl_workflow(nova_store_t *s, const char *redis_url, const char *verb,
                          const char *tenant_id, const char *const *args, bool json_out);

/* novactl `ocr mrz IMAGE.jpg`: OCR then MRZ on one JPEG, printing the MRZ JSON with status,
 * errors and the lines read; exit 0 when the zone is valid, 6 when not or unreadable. */
int nova_idv_ctl_ocr_mrz(const char *path, const char *tessdata, bool json_out);

#endif
