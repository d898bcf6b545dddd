/* internal.h: what the gateway's files share (src/idv/gateway only). */
#ifndef NOVA_IDV_GATEWAY_INTERNAL_H
#define NOVA_IDV_GATEWAY_INTERNAL_H

#include <pthread.h>

#include "nova/idv.h"
#include "nova/workflow.h"

struct nova_idv {
    nova_idv_config_t cfg;
    char *database_url, *region, *face_model, *tessdata;
    nova_queue_t *queue;
    pthread_t *threads;
    unsigned nthreads;
    _Atomic bool stop;
    _Atomic int64_t last_sweep; /* when a worker last deleted review jobs past retention */
};

/* The images of a job, decoded from base64 (bytes malloc'd, freed by idv_images_free). */
#define IDV_MAX_FRAMES 8
typedef struct idv_images {
    uint8_t *document_front, *document_back, *selfie, *proof_of_address;
    size_t document_front_len, document_back_len, selfie_len, proof_of_address_len;
    uint8_t *frames[IDV_MAX_FRAMES];
    size_t frame_len[IDV_MAX_FRAMES];
    size_t nframes;
} idv_images_t;
void idv_images_free(idv_images_t *im);

/* What a check sees: the images, its step's config, the outputs of the steps before it
 * ({"<step id>": {"status", "score", "extracted": {...}}}), the applicant's claimed data. */
typedef struct idv_check_in {
    nova_idv_t *g;
    const idv_images_t *images;
    json_t *config;    /* may be NULL */
    json_t *steps;     /* borrowed */
    json_t *applicant; /* may be NULL */
    int64_t now;
    const char *tenant_id;       /* NULL outside a verification (novactl, unit tests) */
    const char *verification_id; /* NULL likewise */
    const char *step_id;         /* NULL likewise */
    nova_store_t *store;         /* NULL likewise: checks that consult history skip it */
    const char *reference;       /* the verification's reference (NULL or "": none) */
    json_t *liveness; /* the job's {"actions": "blink,nod", "t_ms": [...]} (active liveness) */
} idv_check_in_t;

/* What it answers: status "passed", "failed" or "review", a score in [0, 1], reason codes and
 * extracted data (new references, owned by the caller). */
typedef struct idv_check_out {
    const char *status;
    double score;
    json_t *reasons;
    json_t *extracted;
} idv_check_out_t;

typedef nova_status (*idv_check_fn)(const idv_check_in_t *in, idv_check_out_t *out);

/* The check table: how to run each check kind (NULL: not available on this server, and the
 * reason) and the billing units one run consumes. */
typedef struct idv_check {
    nova_check_kind kind;
    idv_check_fn run;
    unsigned units;
    const char *unavailable;
} idv_check_t;
const idv_check_t *idv_check_find(nova_check_kind k);

/* The checks (checks.c, ocr.c). */
nova_status idv_check_ocr(const idv_check_in_t *in, idv_check_out_t *out);
nova_status idv_check_mrz(const idv_check_in_t *in, idv_check_out_t *out);
nova_status idv_check_authenticity(const idv_check_in_t *in, idv_check_out_t *out);
nova_status idv_check_face_match(const idv_check_in_t *in, idv_check_out_t *out);
nova_status idv_check_liveness(const idv_check_in_t *in, idv_check_out_t *out);
nova_status idv_check_age(const idv_check_in_t *in, idv_check_out_t *out);
nova_status idv_check_address(const idv_check_in_t *in, idv_check_out_t *out);
/* custom.c: the tenant's own check over mTLS, and the parser of its reply (status, score and
 * reasons into out; NOVA_INVALID for anything but the documented shape). */
nova_status idv_check_custom_webhook(const idv_check_in_t *in, idv_check_out_t *out);
nova_status idv_custom_reply_parse(const char *body, size_t len, idv_check_out_t *out);
/* A reason code array entry. */
void idv_reason(idv_check_out_t *out, const char *code);
/* Whether text holds word as a whole word (letters and digits, case folded). */
bool idv_word_in(const char *word, const char *text);
/* Whether the mrz step proves the names of the zone from cands (arrays of MRZ lines, the OCR
 * step's mrz_candidates) and page (the OCR text, whose visual zone proves names): the reading
 * its check digits score best, after the visual-zone repairs, else another reading (checks.c).
 * The OCR step's test for reading the band once more. */
bool idv_mrz_names_proved(json_t *cands, const char *page, int64_t now);
/* Whether the OCR step has the legacy engine read the MRZ band once more, given its readings
 * (cands: the LSTM's band and page lines) and the page text: when no reading is a zone every
 * check digit proves, or idv_mrz_names_proved is false. Names the visual-zone repairs prove
 * cost no third read (ocr.c). */
bool idv_ocr_wants_legacy_read(json_t *cands, const char *page, int64_t now);

/* The units one check of kind costs the tenant now: its own price, else the check table's
 * (prices.c). */
int64_t idv_price_units(nova_store_t *s, const char *tenant_id, nova_check_kind kind);

/* Aggregation (decide.c): the decision of a workflow over its step results (array in step
 * order of {"id", "status", "score"}), with reasons: {"decision", "score", "reasons"}. */
json_t *idv_decide(const nova_workflow_def_t *def, json_t *definition, json_t *results);

/* Whether the workflow JSON asks for something this server cannot do; fills pb. */
bool idv_workflow_runnable(const nova_workflow_def_t *def, json_t *definition,
                           nova_idv_problem_t *pb);

/* Decides a verification that cannot run as failed with reason code (already decided: OK). */
nova_status idv_fail(nova_store_t *s, nova_arena_t *a, const char *tenant, const char *vid,
                     const char *code);

/* JSON sealed with the tenant's data key (seal.c): *out gets nova_sealed_encode's bytes. */
nova_status idv_seal_text(nova_idv_t *g, nova_store_t *s, nova_arena_t *a, const char *tenant,
                          const char *context, const char *text, nova_buf_t *out);
nova_status idv_seal_json(nova_idv_t *g, nova_store_t *s, nova_arena_t *a, const char *tenant,
                          const char *context, json_t *v, nova_buf_t *out);
/* Opens what idv_seal_json sealed into *out (new reference). */
nova_status idv_open_json(nova_idv_t *g, nova_store_t *s, const char *tenant, const char *context,
                          const uint8_t *blob, size_t len, json_t **out);

/* The outbox (notify.c): the event type of a decision, and its event (strings in a) built
 * from the stored verification; result is the decision's JSON (its reason codes go out). */
struct nova_event_row;
const char *idv_event_type(const char *status, const char *decision);
nova_status idv_event(nova_store_t *s, nova_arena_t *a, const char *tenant, const char *vid,
                      const char *type, const char *status, const char *decision, json_t *result,
                      struct nova_event_row *out);

/* Whether the workflow has a liveness step in mode active (its frames need a challenge). */
bool idv_workflow_active_liveness(json_t *definition);

/* Keyed digests of the document number the MRZ step proved and of the applicant (the
 * reference, else the claimed name and date of birth), 64 hex each, under the tenant's index
 * key (documents.c, made on first use). NOVA_NOT_FOUND when there is no proved number or
 * nothing names the applicant. */
nova_status idv_document_digests(nova_idv_t *g, nova_store_t *s, const char *tenant, json_t *mrz,
                                 const char *reference, json_t *applicant, char number[65],
                                 char who[65]);

/* Seal/open contexts of the data key. */
#define IDV_CTX_JOB "idv.job"
#define IDV_CTX_APPLICANT "idv.applicant"
#define IDV_CTX_STEP "idv.step"
#define IDV_CTX_INDEX_KEY "idv.index_key"

#endif
