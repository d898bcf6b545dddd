/*
 * worker.c: the gateway's worker pool and what a worker does with a job (nova/idv.h).
 *
 * A job message is {tenant_id, verification_id, trace_id}; the sealed images are in the store
 * (idv_jobs). Processing is idempotent, so a message delivered twice (a worker killed before
 * its ack, a job published again at start) changes nothing the first delivery did:
 *   1. a decided verification: ack and stop;
 *   2. mark it running and count the attempt; past IDV_MAX_ATTEMPTS it is failed and the
 *      message dead-lettered (a poison job must not loop);
 *   3. open the job, load the workflow version the verification names;
 *   4. run each step not yet recorded, in order, recording its result and billing units in
 *      one transaction (a recorded step is never run or billed again);
 *   5. aggregate, then record the decision, drop the job (or keep it sealed for review) and
 *      append the audit entry in one transaction; then ack.
 * The images exist in clear only in this worker's memory while the job runs.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "nova/events.h"
#include "nova/log.h"

#define IDV_MAX_ATTEMPTS 5
#define IDV_REVIEW_KEEP_S (7 * 86400)

static const nova_audit_actor_t worker_actor = {.id = "idv-worker"};

void idv_images_free(idv_images_t *im)
{
    free(im->document_front);
    free(im->document_back);
    free(im->selfie);
    free(im->proof_of_address);
    for (size_t i = 0; i < im->nframes; i++)
        free(im->frames[i]);
    memset(im, 0, sizeof(*im));
}

static nova_status b64(json_t *v, uint8_t **out, size_t *len)
{
    const char *s = json_string_value(v);
    if (s == NULL)
        return NOVA_OK;
    size_t n = json_string_length(v);
    *out = malloc(n / 4 * 3 + 3);
    if (*out == NULL)
        return NOVA_NOMEM;
    return nova_b64std_decode(s, n, *out, len);
}

static nova_status images_load(json_t *images, idv_images_t *im)
{
    nova_status st = b64(json_object_get(images, "document_front"), &im->document_front,
                         &im->document_front_len);
    if (st == NOVA_OK)
        st = b64(json_object_get(images, "document_back"), &im->document_back,
                 &im->document_back_len);
    if (st == NOVA_OK)
        st = b64(json_object_get(images, "selfie"), &im->selfie, &im->selfie_len);
    if (st == NOVA_OK)
        st = b64(json_object_get(images, "proof_of_address"), &im->proof_of_address,
                 &im->proof_of_address_len);
    json_t *fr = json_object_get(images, "liveness_frames");
    for (size_t i = 0; st == NOVA_OK && i < json_array_size(fr) && i < IDV_MAX_FRAMES; i++) {
        st = b64(json_array_get(fr, i), &im->frames[i], &im->frame_len[i]);
        im->nframes = i + 1;
    }
    return st;
}

/* Opens the verification's sealed job into *job (new reference). */
static nova_status job_open(nova_idv_t *g, nova_store_t *s, nova_arena_t *a, const char *tenant,
                            const char *vid, json_t **job)
{
    const uint8_t *blob = NULL;
    size_t len = 0;
    nova_status st = nova_store_idv_job_get(s, a, tenant, vid, &blob, &len);
    if (st == NOVA_OK)
        st = idv_open_json(g, s, tenant, IDV_CTX_JOB, blob, len, job);
    return st;
}

static nova_status finish(nova_store_t *s, nova_arena_t *a, const char *tenant, const char *vid,
                          const char *status, const char *decision, json_t *result,
                          int64_t keep_until, const nova_idv_document_row_t *document)
{
    char *text = json_dumps(result, JSON_COMPACT);
    if (text == NULL)
        return NOVA_NOMEM;
    nova_audit_entry_t e;
    json_t *attrs = json_pack("{s:s, s:s}", "status", status, "decision", decision);
    nova_status st = nova_audit_entry_make(&e, a, &worker_actor, tenant, "verification.decide",
                                           "verification", vid, attrs);
    nova_event_row_t ev;
    if (st == NOVA_OK)
        st = idv_event(s, a, tenant, vid, idv_event_type(status, decision), status, decision,
                       result, &ev);
    if (st == NOVA_OK)
        st = nova_store_idv_verification_finish(s, tenant, vid, status, decision, text,
                                                nova_time_now(), keep_until, &e, &ev, document);
    free(text);
    if (st == NOVA_OK)
        nova_events_kick();
    return st;
}

/* Records a verification that cannot run (poison job, images gone, workflow gone). */
nova_status idv_fail(nova_store_t *s, nova_arena_t *a, const char *tenant, const char *vid,
                     const char *code)
{
    json_t *r = json_pack("{s:n, s:[{s:s}], s:s}", "score", "reasons", "code", code, "error", code);
    nova_status st = finish(s, a, tenant, vid, "failed", "rejected", r, 0, NULL);
    json_decref(r);
    return st == NOVA_NOT_FOUND ? NOVA_OK : st;
}

/* The extracted fields of the run's MRZ step (borrowed; NULL when none ran). */
static json_t *mrz_extracted(json_t *results)
{
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r)
    {
        const char *c = json_string_value(json_object_get(r, "check"));
        if (c && strcmp(c, "mrz") == 0)
            return json_object_get(r, "extracted");
    }
    return NULL;
}

static json_t *step_config(json_t *definition, size_t i)
{
    return json_object_get(json_array_get(json_object_get(definition, "steps"), i), "config");
}

static nova_status run_steps(nova_idv_t *g, nova_store_t *s, nova_arena_t *a,
                             const nova_idv_verification_row_t *v, const nova_workflow_def_t *def,
                             json_t *definition, json_t *job, json_t *results)
{
    nova_idv_step_row_t *done = NULL;
    size_t ndone = 0;
    nova_status st = nova_store_idv_step_list(s, a, v->tenant_id, v->id, &done, &ndone);
    if (st != NOVA_OK)
        return st;
    idv_images_t im = {0};
    st = images_load(json_object_get(job, "images"), &im);
    json_t *outputs = json_object();
    for (size_t i = 0; st == NOVA_OK && i < def->nsteps; i++) {
        const nova_workflow_step_t *step = &def->steps[i];
        json_t *res = NULL;
        for (size_t k = 0; k < ndone && res == NULL && st == NOVA_OK; k++)
            if (done[k].idx == (int64_t)i)
                st = idv_open_json(g, s, v->tenant_id, IDV_CTX_STEP, done[k].result,
                                   done[k].result_len, &res);
        if (st != NOVA_OK)
            break;
        if (res == NULL) {
            const idv_check_t *c = idv_check_find(step->check);
            idv_check_in_t in = {g,
                                 &im,
                                 step_config(definition, i),
                                 outputs,
                                 json_object_get(job, "applicant"),
                                 nova_time_now(),
                                 v->tenant_id,
                                 v->id,
                                 step->id,
                                 s,
                                 v->reference,
                                 json_object_get(job, "liveness")};
            idv_check_out_t out = {0};
            uint64_t t0 = nova_time_mono_ns();
            st = c && c->run ? c->run(&in, &out) : NOVA_UNAVAILABLE;
            if (st != NOVA_OK) {
                json_decref(out.reasons);
                json_decref(out.extracted);
                break;
            }
            res = json_pack("{s:s, s:s, s:s, s:f, s:o, s:o, s:I}", "id", step->id, "check",
                            nova_check_name(step->check), "status", out.status, "score", out.score,
                            "reasons", out.reasons ? out.reasons : json_array(), "extracted",
                            out.extracted ? out.extracted : json_object(), "duration_ms",
                            (json_int_t)((nova_time_mono_ns() - t0) / 1000000));
            nova_buf_t sealed;
            nova_buf_init(&sealed);
            st =
                res ? idv_seal_json(g, s, a, v->tenant_id, IDV_CTX_STEP, res, &sealed) : NOVA_NOMEM;
            nova_idv_step_row_t row = {(int64_t)i,
                                       step->id,
                                       nova_check_name(step->check),
                                       out.status,
                                       (const uint8_t *)sealed.data,
                                       sealed.len,
                                       nova_time_now()};
            bool fresh = false;
            if (st == NOVA_OK)
                st = nova_store_idv_step_put(s, v->tenant_id, v->id, &row,
                                             idv_price_units(s, v->tenant_id, step->check), &fresh);
            nova_buf_free(&sealed);
            if (st == NOVA_OK)
                nova_log_info("verification %s trace %s step %s: %s", v->id, v->trace_id, step->id,
                              out.status);
        }
        if (st != NOVA_OK) {
            json_decref(res);
            break;
        }
        json_object_set(outputs, step->id, res);
        json_array_append(results, res);
        /* A required step that failed with on_fail reject ends the run: later steps would
         * only cost units. */
        if (step->required && step->on_fail == NOVA_ON_FAIL_REJECT &&
            strcmp(json_string_value(json_object_get(res, "status")), "failed") == 0) {
            json_decref(res);
            break;
        }
        json_decref(res);
    }
    json_decref(outputs);
    idv_images_free(&im);
    return st;
}

nova_status nova_idv_process(nova_idv_t *g, nova_store_t *s, const char *tenant_id,
                             const char *verification_id)
{
    nova_arena_t a;
    nova_arena_init(&a, 16384);
    nova_idv_verification_row_t v;
    json_t *job = NULL, *definition = NULL, *results = NULL, *decision = NULL;
    nova_status st = nova_store_idv_verification_get(s, &a, tenant_id, verification_id, &v);
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID) {
        st = NOVA_OK; /* nothing to do: a job for no verification */
        goto end;
    }
    if (st != NOVA_OK)
        goto end;
    if (strcmp(v.status, "completed") == 0 || strcmp(v.status, "failed") == 0)
        goto end; /* decided: a duplicate delivery */
    if (v.attempts >= IDV_MAX_ATTEMPTS) {
        nova_log_warn("verification %s trace %s: %d attempts, failed", v.id, v.trace_id,
                      IDV_MAX_ATTEMPTS);
        st = idv_fail(s, &a, tenant_id, v.id, "too_many_attempts");
        goto end;
    }
    if ((st = nova_store_idv_verification_start(s, tenant_id, v.id, nova_time_now())) != NOVA_OK)
        goto end;
    nova_log_info("verification %s trace %s: attempt %lld started", v.id, v.trace_id,
                  (long long)v.attempts + 1);
    st = job_open(g, s, &a, tenant_id, v.id, &job);
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID || st == NOVA_UNAUTHORIZED) {
        st = idv_fail(s, &a, tenant_id, v.id, "job_unreadable");
        goto end;
    }
    if (st != NOVA_OK)
        goto end;
    nova_idv_workflow_row_t w;
    st = nova_idv_workflow_get(g->cfg.kv, s, &a, tenant_id, v.workflow_id, v.workflow_version, &w);
    nova_workflow_def_t def;
    char field[128], why[200];
    if (st == NOVA_OK && nova_workflow_validate(w.definition, strlen(w.definition), &def, field,
                                                sizeof(field), why, sizeof(why)) != NOVA_OK)
        st = NOVA_INVALID;
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID) {
        st = idv_fail(s, &a, tenant_id, v.id, "workflow_unavailable");
        goto end;
    }
    if (st != NOVA_OK)
        goto end;
    definition = json_loads(w.definition, 0, NULL);
    results = json_array();
    st = run_steps(g, s, &a, &v, &def, definition, job, results);
    if (st != NOVA_OK)
        goto end;
    decision = idv_decide(&def, definition, results);
    if (decision == NULL) {
        st = NOVA_NOMEM;
        goto end;
    }
    const char *d = json_string_value(json_object_get(decision, "decision"));
    int64_t keep = strcmp(d, "review_required") == 0 ? nova_time_now() + IDV_REVIEW_KEEP_S : 0;
    /* The document it read, unless rejected: an approval (now, or after review) makes the
     * number verified for this applicant (documents.c). */
    char number[65], who[65];
    nova_idv_document_row_t doc = {number, who};
    bool has_doc = false;
    if (strcmp(d, "rejected") != 0) {
        nova_status ds = idv_document_digests(g, s, tenant_id, mrz_extracted(results), v.reference,
                                              json_object_get(job, "applicant"), number, who);
        if (ds != NOVA_OK && ds != NOVA_NOT_FOUND) {
            st = ds;
            goto end;
        }
        has_doc = ds == NOVA_OK;
    }
    st = finish(s, &a, tenant_id, v.id, "completed", d, decision, keep, has_doc ? &doc : NULL);
    if (st == NOVA_NOT_FOUND)
        st = NOVA_OK; /* another delivery decided it first */
    if (st == NOVA_OK)
        nova_log_info("verification %s trace %s decided: %s", v.id, v.trace_id, d);
end:
    json_decref(job);
    json_decref(definition);
    json_decref(results);
    json_decref(decision);
    nova_arena_free(&a);
    return st;
}

/* ---- the pool ---- */

static void *worker_main(void *arg)
{
    nova_idv_t *g = arg;
    nova_queue_consumer_t *c = NULL;
    if (nova_queue_consumer_open(g->queue, &c) != NOVA_OK) {
        nova_log_error("idv worker: cannot open a queue consumer");
        return NULL;
    }
    while (!atomic_load(&g->stop)) {
        /* Once a minute one worker (whichever claims the slot) deletes the sealed images of
         * verifications whose review retention has ended. */
        int64_t now = nova_time_now(), last = atomic_load(&g->last_sweep);
        nova_store_t *ss = NULL;
        if (now - last >= 60 && atomic_compare_exchange_strong(&g->last_sweep, &last, now) &&
            nova_store_thread(g->database_url, &ss) == NOVA_OK) {
            int64_t gone = 0;
            if (nova_store_idv_job_expire(ss, now, &gone) == NOVA_OK && gone > 0)
                nova_log_info("idv: sealed images of %lld reviews past retention deleted",
                              (long long)gone);
        }
        nova_queue_msg_t m;
        nova_status st = nova_queue_next(c, 250, &m);
        if (st == NOVA_NOT_FOUND)
            continue;
        if (st != NOVA_OK) {
            usleep(200000); /* broker away: reconnect on the next call */
            continue;
        }
        json_t *msg = json_loadb((const char *)m.body, m.len, 0, NULL);
        const char *tenant = json_string_value(json_object_get(msg, "tenant_id"));
        const char *vid = json_string_value(json_object_get(msg, "verification_id"));
        nova_store_t *s = NULL;
        if (tenant == NULL || vid == NULL) {
            nova_log_warn("idv worker: a message that is not a job, dead-lettered");
            nova_queue_reject(c, &m, false);
        } else if ((st = nova_store_thread(g->database_url, &s)) != NOVA_OK ||
                   (st = nova_idv_process(g, s, tenant, vid)) != NOVA_OK) {
            /* Retried: the attempt was counted, so a job that always fails ends failed. */
            nova_log_warn("idv worker: verification %s: %s, requeued", vid, nova_status_name(st));
            nova_queue_reject(c, &m, true);
            usleep(100000);
        } else {
            nova_queue_ack(c, &m);
            /* a sync caller waits on this job: tell it the store has the decision */
            if (m.has_reply && nova_queue_reply(g->queue, &m) != NOVA_OK)
                nova_log_warn("idv worker: verification %s: the caller could not be answered "
                              "(it reads the store on its own)",
                              vid);
        }
        json_decref(msg);
    }
    nova_queue_consumer_close(c);
    return NULL;
}

nova_status nova_idv_open(const nova_idv_config_t *cfg, nova_idv_t **out, char *err, size_t errlen)
{
    nova_idv_t *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return NOVA_NOMEM;
    g->cfg = *cfg;
    g->database_url = strdup(cfg->database_url ? cfg->database_url : "");
    g->region = strdup(cfg->region ? cfg->region : "");
    g->face_model = strdup(cfg->face_model ? cfg->face_model : "");
    g->tessdata = strdup(cfg->tessdata ? cfg->tessdata : "");
    if (!g->database_url || !g->region || !g->face_model || !g->tessdata) {
        nova_idv_close(g);
        return NOVA_NOMEM;
    }
    nova_queue_options_t qo = {.prefetch = 1};
    nova_status st = nova_queue_open(cfg->amqp_url, NOVA_IDV_QUEUE, &qo, &g->queue, err, errlen);
    if (st != NOVA_OK) {
        nova_idv_close(g);
        return st;
    }
    *out = g;
    return NOVA_OK;
}

const char *nova_idv_queue_driver(const nova_idv_t *g)
{
    return nova_queue_driver(g->queue);
}

/* Publishes again every undecided verification's job (see nova_idv_start). */
static void republish(nova_idv_t *g)
{
    nova_store_t *s = NULL;
    nova_arena_t a;
    nova_arena_init(&a, 8192);
    nova_idv_job_ref_t *refs = NULL;
    size_t n = 0;
    if (nova_store_thread(g->database_url, &s) == NOVA_OK &&
        nova_store_idv_job_pending(s, &a, 100000, &refs, &n) == NOVA_OK) {
        for (size_t i = 0; i < n; i++) {
            char msg[256];
            int len =
                snprintf(msg, sizeof(msg), "{\"tenant_id\":\"%s\",\"verification_id\":\"%s\"}",
                         refs[i].tenant_id, refs[i].verification_id);
            if (len > 0 && (size_t)len < sizeof(msg))
                nova_queue_publish(g->queue, msg, (size_t)len);
        }
        if (n)
            nova_log_info("idv: %zu undecided verifications published again", n);
    }
    nova_arena_free(&a);
}

nova_status nova_idv_start(nova_idv_t *g)
{
    /* In-process messages died with the previous process; a broker keeps its own (and a job
     * the broker did not confirm was refused with 503 and marked failed). */
    if (strcmp(nova_queue_driver(g->queue), "inproc") == 0)
        republish(g);
    if (g->cfg.workers == 0)
        return NOVA_OK;
    g->threads = calloc(g->cfg.workers, sizeof(pthread_t));
    if (g->threads == NULL)
        return NOVA_NOMEM;
    for (unsigned i = 0; i < g->cfg.workers; i++) {
        if (pthread_create(&g->threads[i], NULL, worker_main, g) != 0)
            return NOVA_INTERNAL;
        g->nthreads++;
    }
    return NOVA_OK;
}

void nova_idv_close(nova_idv_t *g)
{
    if (g == NULL)
        return;
    atomic_store(&g->stop, true);
    for (unsigned i = 0; i < g->nthreads; i++)
        pthread_join(g->threads[i], NULL);
    free(g->threads);
    nova_queue_close(g->queue);
    free(g->database_url);
    free(g->region);
    free(g->face_model);
    free(g->tessdata);
    free(g);
}
