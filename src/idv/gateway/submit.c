/*
 * submit.c: accepting verifications and reading them back (nova/idv.h).
 *
 * Accepting is: validate everything (a refusal leaves nothing behind), resolve the workflow's
 * newest version, seal the job (images and applicant, JSON) and the applicant alone with the
 * tenant's data key, write the verification, its job and the audit entry in one transaction,
 * then publish {tenant, verification, trace} on the queue. If the publish fails the job is
 * still in the store: the in-process driver's start-up pass, or the next novad start, publishes
 * it again, so accepted work is not lost.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "nova/log.h"
#include "nova/vision.h"

static nova_status refuse(nova_idv_problem_t *pb, const char *field, const char *why)
{
    snprintf(pb->field, sizeof(pb->field), "%s", field);
    snprintf(pb->why, sizeof(pb->why), "%s", why);
    return NOVA_INVALID;
}

/* Checks that a base64 member decodes to a JPEG that decodes within the vision engine's bounds
 * (NOVA_VISION_MAX_SIDE, pixels). */
static nova_status check_image(json_t *v, const char *field, nova_idv_problem_t *pb)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v), len = 0;
    if (s == NULL || n == 0)
        return refuse(pb, field, "a base64 JPEG");
    if (n % 4 != 0)
        return refuse(pb, field, "truncated base64 (standard alphabet, padded to 4 characters)");
    uint8_t *bytes = malloc(n / 4 * 3 + 3);
    if (bytes == NULL)
        return NOVA_NOMEM;
    nova_status st = nova_b64std_decode(s, n, bytes, &len);
    if (st != NOVA_OK) {
        free(bytes);
        return refuse(pb, field, "not valid base64 (standard alphabet, padded)");
    }
    nova_vision_image_t img = {0};
    bool cut = false;
    /* A JPEG starts with SOI and ends with EOI: a cut one would still decode (libjpeg pads
     * the missing rows with grey), so it is refused here. */
    size_t end = len;
    while (end > 2 && bytes[end - 1] == 0)
        end--;
    cut = len >= 4 && (bytes[end - 2] != 0xFF || bytes[end - 1] != 0xD9);
    if (len < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8 || cut)
        st = NOVA_INVALID;
    else
        st = nova_vision_decode_jpeg(bytes, len, &img);
    nova_vision_image_free(&img);
    free(bytes);
    if (st == NOVA_TOO_LARGE)
        return refuse(pb, field, "the image is too large (at most 16384 pixels a side, 40 MP)");
    if (st == NOVA_NOMEM)
        return st;
    if (cut)
        return refuse(pb, field, "a truncated JPEG (no end-of-image marker)");
    if (st != NOVA_OK)
        return refuse(pb, field, "not a decodable JPEG");
    return NOVA_OK;
}

static nova_status check_images(json_t *images, nova_idv_problem_t *pb)
{
    static const char *const members[] = {"document_front", "document_back", "selfie",
                                          "liveness_frames", "proof_of_address"};
    if (!json_is_object(images))
        return refuse(pb, "images",
                      "an object with document_front (required), document_back, "
                      "selfie, liveness_frames, proof_of_address");
    const char *key;
    json_t *v;
    json_object_foreach(images, key, v)
    {
        bool known = false;
        for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++)
            known = known || strcmp(key, members[i]) == 0;
        char field[96];
        snprintf(field, sizeof(field), "images.%.60s", key);
        if (!known)
            return refuse(pb, field, "not an image of a verification");
        nova_status st;
        if (strcmp(key, "liveness_frames") == 0) {
            if (!json_is_array(v) || json_array_size(v) > IDV_MAX_FRAMES)
                return refuse(pb, field, "a list of at most 8 base64 JPEGs");
            for (size_t i = 0; i < json_array_size(v); i++) {
                snprintf(field, sizeof(field), "images.liveness_frames[%zu]", i);
                if ((st = check_image(json_array_get(v, i), field, pb)) != NOVA_OK)
                    return st;
            }
        } else if ((st = check_image(v, field, pb)) != NOVA_OK) {
            return st;
        }
    }
    if (json_object_get(images, "document_front") == NULL)
        return refuse(pb, "images.document_front", "required: OCR reads the document");
    return NOVA_OK;
}

bool idv_workflow_active_liveness(json_t *definition)
{
    size_t i;
    json_t *step;
    json_array_foreach(json_object_get(definition, "steps"), i, step)
    {
        const char *check = json_string_value(json_object_get(step, "check"));
        const char *mode =
            json_string_value(json_object_get(json_object_get(step, "config"), "mode"));
        if (check && strcmp(check, "liveness") == 0 && mode && strcmp(mode, "active") == 0)
            return true;
    }
    return false;
}

/* The request's liveness member for an active liveness step: {nonce, frame_times_ms}, one
 * capture time (ms, increasing) for each of images.liveness_frames (2 or more). */
static nova_status check_liveness(json_t *lv, json_t *images, nova_idv_problem_t *pb)
{
    json_t *frames = json_object_get(images, "liveness_frames");
    if (lv == NULL)
        return refuse(pb, "liveness",
                      "required by the workflow's active liveness step: {nonce (from POST "
                      "/v1/liveness/challenges), frame_times_ms}");
    json_t *nonce = json_object_get(lv, "nonce"), *times = json_object_get(lv, "frame_times_ms");
    if (!json_is_object(lv) || json_object_size(lv) != 2 || !nonce || !times)
        return refuse(pb, "liveness", "an object with nonce and frame_times_ms only");
    if (!json_is_string(nonce) || json_string_length(nonce) == 0 || json_string_length(nonce) > 64)
        return refuse(pb, "liveness.nonce",
                      "the nonce of a challenge from POST "
                      "/v1/liveness/challenges");
    if (json_array_size(frames) < 2)
        return refuse(pb, "images.liveness_frames",
                      "2 to 8 frames performing the challenge's actions, the first neutral");
    if (!json_is_array(times) || json_array_size(times) != json_array_size(frames))
        return refuse(pb, "liveness.frame_times_ms",
                      "one capture time in milliseconds for each of images.liveness_frames");
    for (size_t i = 0; i < json_array_size(times); i++) {
        json_t *t = json_array_get(times, i);
        if (!json_is_integer(t) || json_integer_value(t) < 0 ||
            (i > 0 && json_integer_value(t) <= json_integer_value(json_array_get(times, i - 1))))
            return refuse(pb, "liveness.frame_times_ms", "integers >= 0, increasing");
    }
    return NOVA_OK;
}

static bool is_date(const char *s)
{
    struct tm tm = {0};
    const char *end = s ? strptime(s, "%Y-%m-%d", &tm) : NULL;
    return end && *end == '\0' && strlen(s) == 10;
}

static nova_status check_applicant(json_t *ap, nova_idv_problem_t *pb)
{
    static const char *const members[] = {"name", "date_of_birth", "address", "document_number",
                                          "address_country"};
    static const size_t max[] = {200, 10, 500, 32, 2};
    if (ap == NULL)
        return NOVA_OK;
    if (!json_is_object(ap))
        return refuse(pb, "applicant",
                      "an object: name, date_of_birth, address, address_country, "
                      "document_number");
    const char *key;
    json_t *v;
    json_object_foreach(ap, key, v)
    {
        int k = -1;
        for (int i = 0; i < 5; i++)
            if (strcmp(key, members[i]) == 0)
                k = i;
        char field[96];
        snprintf(field, sizeof(field), "applicant.%.60s", key);
        if (k < 0)
            return refuse(pb, field, "not a member of applicant");
        const char *s = json_string_value(v);
        if (s == NULL || *s == '\0' || strlen(s) > max[k])
            return refuse(pb, field, "a non-empty string, within its length");
        if (k == 1 && !is_date(s))
            return refuse(pb, field, "a date YYYY-MM-DD");
        if (k == 4 && (strlen(s) != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z'))
            return refuse(pb, field, "an ISO 3166-1 alpha-2 code (two capital letters)");
    }
    return NOVA_OK;
}

/* The verification JSON of a row and its steps. */
static json_t *verification_json(nova_idv_t *g, nova_store_t *s,
                                 const nova_idv_verification_row_t *v,
                                 const nova_idv_step_row_t *steps, size_t nsteps)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:I}", "id", v->id, "status", v->status,
                  "workflow_id", v->workflow_id, "workflow_version",
                  (json_int_t)v->workflow_version, "mode", v->mode, "trace_id", v->trace_id,
                  "created_at", (json_int_t)v->created_at, "updated_at", (json_int_t)v->updated_at);
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "attempts", json_integer(v->attempts));
    if (v->reference && *v->reference)
        json_object_set_new(o, "reference", json_string(v->reference));
    if (v->callback_url && *v->callback_url)
        json_object_set_new(o, "callback_url", json_string(v->callback_url));
    if (v->decision && *v->decision) {
        json_t *r = json_loads(v->result, 0, NULL);
        json_object_set_new(o, "decision", json_string(v->decision));
        json_object_set_new(o, "score", json_incref(json_object_get(r, "score")));
        json_object_set_new(o, "reasons", json_incref(json_object_get(r, "reasons")));
        if (json_object_get(r, "review"))
            json_object_set_new(o, "review", json_incref(json_object_get(r, "review")));
        if (json_object_get(r, "error"))
            json_object_set_new(o, "error", json_incref(json_object_get(r, "error")));
        json_decref(r);
        json_object_set_new(o, "completed_at", json_integer(v->completed_at));
    }
    if (steps) {
        json_t *arr = json_array();
        for (size_t i = 0; i < nsteps; i++) {
            json_t *one = NULL;
            if (idv_open_json(g, s, v->tenant_id, IDV_CTX_STEP, steps[i].result,
                              steps[i].result_len, &one) != NOVA_OK)
                one = json_pack("{s:s, s:s, s:s}", "id", steps[i].step_id, "check",
                                steps[i].check_name, "status", steps[i].status);
            json_array_append_new(arr, one);
        }
        json_object_set_new(o, "steps", arr);
    }
    return o;
}

nova_status nova_idv_verification_get(nova_idv_t *g, nova_store_t *s, nova_arena_t *a,
                                      const char *tenant_id, const char *id, json_t **out)
{
    nova_idv_verification_row_t v;
    nova_status st = nova_store_idv_verification_get(s, a, tenant_id, id, &v);
    nova_idv_step_row_t *steps = NULL;
    size_t n = 0;
    if (st == NOVA_OK)
        st = nova_store_idv_step_list(s, a, tenant_id, id, &steps, &n);
    if (st == NOVA_OK && (*out = verification_json(g, s, &v, steps, n)) == NULL)
        st = NOVA_NOMEM;
    return st;
}

const char *nova_idv_cursor_make(nova_arena_t *a, int64_t created_at, const char *id)
{
    char raw[128];
    int n = snprintf(raw, sizeof(raw), "%lld.%s", (long long)created_at, id);
    if (n <= 0 || (size_t)n >= sizeof(raw))
        return NULL;
    char *out = nova_arena_alloc(a, nova_b64url_encoded_len((size_t)n) + 1);
    if (out)
        nova_b64url_encode((const uint8_t *)raw, (size_t)n, out);
    return out;
}

nova_status nova_idv_cursor_parse(nova_arena_t *a, const char *cursor, int64_t *created_at,
                                  const char **id)
{
    size_t n = strlen(cursor), len = 0;
    if (n == 0 || n > 160)
        return NOVA_INVALID;
    uint8_t raw[160];
    if (nova_b64url_decode(cursor, n, raw, &len) != NOVA_OK || len == 0 || len >= sizeof(raw))
        return NOVA_INVALID;
    raw[len] = '\0';
    char *dot = strchr((char *)raw, '.');
    if (dot == NULL || dot == (char *)raw || dot[1] == '\0')
        return NOVA_INVALID;
    *dot = '\0';
    char *end = NULL;
    long long t = strtoll((char *)raw, &end, 10);
    if (*end != '\0' || t < 0)
        return NOVA_INVALID;
    for (const char *p = dot + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return NOVA_INVALID;
    *created_at = t;
    *id = nova_arena_strdup(a, dot + 1);
    return *id ? NOVA_OK : NOVA_NOMEM;
}

nova_status nova_idv_verification_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                       const nova_idv_list_query_t *q, json_t **out,
                                       const char **next_cursor)
{
    nova_idv_verification_row_t *rows = NULL;
    size_t n = 0;
    nova_idv_list_query_t q1 = *q;
    q1.limit = q->limit + 1; /* one more tells whether a next page exists */
    nova_status st = nova_store_idv_verification_list(s, a, tenant_id, &q1, &rows, &n);
    if (st != NOVA_OK)
        return st;
    *next_cursor = NULL;
    if (n > (size_t)q->limit) {
        n = (size_t)q->limit;
        *next_cursor = nova_idv_cursor_make(a, rows[n - 1].created_at, rows[n - 1].id);
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, verification_json(NULL, s, &rows[i], NULL, 0));
    *out = arr;
    return NOVA_OK;
}

nova_status nova_idv_usage_json(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                int64_t from, int64_t to, json_t **out)
{
    nova_idv_usage_row_t *rows = NULL;
    size_t n = 0;
    nova_status st = nova_store_idv_usage(s, a, tenant_id, from, to, &rows, &n);
    if (st != NOVA_OK)
        return st;
    json_t *arr = json_array();
    json_int_t total = 0;
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, json_pack("{s:s, s:I, s:I}", "check", rows[i].check_name,
                                             "checks", (json_int_t)rows[i].checks, "units",
                                             (json_int_t)rows[i].units));
        total += rows[i].units;
    }
    *out = json_pack("{s:I, s:I, s:o, s:I}", "from", (json_int_t)from, "to", (json_int_t)to,
                     "checks", arr, "total_units", total);
    return *out ? NOVA_OK : NOVA_NOMEM;
}

/* Waits for the verification to be decided (sync mode): the worker that settles the job
 * answers the call over the queue (AMQP RPC: reply_to + correlation_id; it may be in another
 * process), which wakes this wait at once. The store stays the truth: it is read before each
 * wait and after the answer, and once a second should an answer be lost (a reconnect). */
static void wait_decided(nova_idv_t *g, nova_store_t *s, nova_arena_t *a, const char *tenant,
                         const char *id, nova_queue_call_t *call)
{
    unsigned limit = g->cfg.sync_timeout_ms ? g->cfg.sync_timeout_ms : 30000;
    uint64_t end = nova_time_mono_ns() + (uint64_t)limit * 1000000u;
    for (;;) {
        nova_idv_verification_row_t v;
        if (nova_store_idv_verification_get(s, a, tenant, id, &v) != NOVA_OK)
            return;
        if (strcmp(v.status, "completed") == 0 || strcmp(v.status, "failed") == 0)
            return;
        uint64_t now = nova_time_mono_ns();
        if (now >= end)
            return;
        uint64_t left_ms = (end - now) / 1000000u;
        unsigned slice = left_ms < 1000 ? (unsigned)left_ms : 1000;
        if (call == NULL) {
            usleep(slice * 1000u);
        } else if (nova_queue_call_wait(call, slice) == NOVA_OK) {
            nova_log_info("verification %s: its worker answered the call", id);
            call = NULL; /* answered: one last read of the store decides */
            end = now;
        }
    }
}

nova_status nova_idv_submit(nova_idv_t *g, nova_store_t *s, nova_arena_t *a,
                            const nova_audit_actor_t *by, const char *tenant_id,
                            const nova_idv_request_t *req, json_t **out, bool *replayed,
                            nova_idv_problem_t *pb)
{
    memset(pb, 0, sizeof(*pb));
    *replayed = false;
    const char *mode = req->mode ? req->mode : "async";
    if (strcmp(mode, "sync") != 0 && strcmp(mode, "async") != 0)
        return refuse(pb, "mode", "sync or async");
    if (req->workflow_id == NULL || *req->workflow_id == '\0' || strlen(req->workflow_id) > 64)
        return refuse(pb, "workflow_id", "the id of one of the tenant's workflows");
    if (req->reference && strlen(req->reference) > 200)
        return refuse(pb, "reference", "at most 200 characters");
    if (req->callback_url &&
        (strncmp(req->callback_url, "https://", 8) != 0 || strlen(req->callback_url) > 2048 ||
         strpbrk(req->callback_url, " \t\r\n\"<>\\^`{|}")))
        return refuse(pb, "callback_url", "an https:// URL");
    nova_status st = check_applicant(req->applicant, pb);
    if (st == NOVA_OK)
        st = check_images(req->images, pb);
    if (st != NOVA_OK)
        return st;
    nova_idv_workflow_row_t w;
    st = nova_idv_workflow_get(g->cfg.kv, s, a, tenant_id, req->workflow_id, 0, &w);
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID) {
        refuse(pb, "workflow_id", "no workflow of this tenant has this id");
        return NOVA_NOT_FOUND;
    }
    if (st != NOVA_OK)
        return st;

    /* An active liveness step: the challenge's actions travel in the job; the nonce is read
     * now and spent once the verification is recorded (a replayed request keeps its first
     * answer and spends nothing). */
    json_t *definition = json_loads(w.definition, 0, NULL);
    bool active = definition && idv_workflow_active_liveness(definition);
    json_decref(definition);
    char *actions = NULL;
    const char *lv_key = NULL;
    if (active) {
        if ((st = check_liveness(req->liveness, req->images, pb)) != NOVA_OK)
            return st;
        lv_key = nova_arena_printf(a, NOVA_LIVENESS_KEY_FMT, tenant_id,
                                   json_string_value(json_object_get(req->liveness, "nonce")));
        st = lv_key ? nova_kv_get(g->cfg.kv, lv_key, a, &actions, NULL) : NOVA_NOMEM;
        if (st == NOVA_NOT_FOUND)
            return refuse(pb, "liveness.nonce",
                          "unknown, already used or expired: ask POST /v1/liveness/challenges");
        if (st != NOVA_OK)
            return st;
    }

    nova_idv_verification_row_t v = {0};
    char id[40], trace[33];
    uint8_t rnd[16];
    if (nova_id_new("ver_", id, sizeof(id)) != NOVA_OK || nova_random_bytes(rnd, 16) != NOVA_OK)
        return NOVA_INTERNAL;
    nova_hex_encode(rnd, 16, trace);
    v.tenant_id = tenant_id;
    v.id = id;
    v.workflow_id = w.id;
    v.workflow_version = w.version;
    v.status = "queued";
    v.mode = mode;
    v.reference = req->reference;
    v.trace_id = trace;
    v.callback_url = req->callback_url;
    v.idempotency_key = req->idempotency_key;
    v.request_digest = req->request_digest;
    v.created_by = by && by->id ? by->id : "system";
    v.created_at = nova_time_now();

    /* The job: images and applicant, sealed as one JSON text. */
    json_t *job = json_pack("{s:O, s:O}", "images", req->images, "applicant",
                            req->applicant ? req->applicant : json_null());
    if (job && active)
        json_object_set_new(job, "liveness",
                            json_pack("{s:s, s:O}", "actions", actions, "t_ms",
                                      json_object_get(req->liveness, "frame_times_ms")));
    char *jtext = job ? json_dumps(job, JSON_COMPACT) : NULL;
    json_decref(job);
    if (jtext == NULL)
        return NOVA_NOMEM;
    nova_buf_t jblob, ablob;
    nova_buf_init(&jblob);
    nova_buf_init(&ablob);
    st = idv_seal_text(g, s, a, tenant_id, IDV_CTX_JOB, jtext, &jblob);
    free(jtext);
    if (st == NOVA_OK && req->applicant) {
        char *atext = json_dumps(req->applicant, JSON_COMPACT | JSON_SORT_KEYS);
        st = atext ? idv_seal_text(g, s, a, tenant_id, IDV_CTX_APPLICANT, atext, &ablob)
                   : NOVA_NOMEM;
        free(atext);
        v.applicant = (const uint8_t *)ablob.data;
        v.applicant_len = ablob.len;
    }
    nova_audit_entry_t e;
    if (st == NOVA_OK) {
        json_t *attrs = json_pack("{s:s, s:I, s:s, s:s}", "workflow_id", w.id, "workflow_version",
                                  (json_int_t)w.version, "mode", mode, "trace_id", trace);
        st = nova_audit_entry_make(&e, a, by, tenant_id, "verification.create", "verification", id,
                                   attrs);
    }
    const char *existing = NULL;
    if (st == NOVA_OK)
        st = nova_store_idv_verification_insert(s, a, &v, (const uint8_t *)jblob.data, jblob.len,
                                                &e, &existing);
    nova_buf_free(&jblob);
    nova_buf_free(&ablob);
    if (st == NOVA_CONFLICT && existing) {
        /* The same key again: the first answer, if it was for the same body. */
        nova_idv_verification_row_t first;
        st = nova_store_idv_verification_get(s, a, tenant_id, existing, &first);
        if (st != NOVA_OK)
            return st;
        if (strcmp(first.request_digest, req->request_digest ? req->request_digest : "") != 0) {
            refuse(pb, "Idempotency-Key",
                   "this key was used for a different request body; use a new key");
            return NOVA_CONFLICT;
        }
        *replayed = true;
        return nova_idv_verification_get(g, s, a, tenant_id, existing, out);
    }
    if (st != NOVA_OK)
        return st;
    if (active) {
        /* Spend the nonce. Another request that spent it between our read and now decides
         * this one: failed, the challenge was used. */
        st = nova_kv_take(g->cfg.kv, lv_key, a, &actions, NULL);
        if (st == NOVA_NOT_FOUND) {
            idv_fail(s, a, tenant_id, id, "liveness_challenge_used");
            return nova_idv_verification_get(g, s, a, tenant_id, id, out);
        }
        if (st != NOVA_OK) {
            idv_fail(s, a, tenant_id, id, "control_plane_unavailable");
            return NOVA_UNAVAILABLE;
        }
    }
    json_t *msg = json_pack("{s:s, s:s, s:s}", "tenant_id", tenant_id, "verification_id", id,
                            "trace_id", trace);
    char *mtext = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    /* sync: a call, so the worker that settles it answers this request at once */
    bool sync = strcmp(mode, "sync") == 0;
    nova_queue_call_t *call = NULL;
    st = !mtext ? NOVA_NOMEM
         : sync ? nova_queue_call_publish(g->queue, mtext, strlen(mtext), id, &call)
                : nova_queue_publish(g->queue, mtext, strlen(mtext));
    free(mtext);
    if (st != NOVA_OK) {
        /* Not accepted after all: the caller gets 503 and the row says why. */
        nova_log_warn("verification %s: the queue did not take the job (%s)", id,
                      nova_status_name(st));
        idv_fail(s, a, tenant_id, id, "queue_unavailable");
        return NOVA_UNAVAILABLE;
    }
    nova_log_info("verification %s queued (trace %s, workflow %s v%lld)", id, trace, w.id,
                  (long long)w.version);
    if (sync)
        wait_decided(g, s, a, tenant_id, id, call);
    nova_queue_call_free(call);
    return nova_idv_verification_get(g, s, a, tenant_id, id, out);
}
