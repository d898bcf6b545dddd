/*
 * review.c: manual review (nova/idv.h). A verification the workflow's rules sent to review
 * keeps its sealed job (images and applicant) until a reviewer decides or the retention ends;
 * the reviewer reads it with the images opened, and decides approved or rejected with a
 * reason. The decision replaces review_required, the sealed images are deleted in the same
 * transaction as the change and its audit entry (review.decide).
 */
#include <string.h>

#include "internal.h"
#include "nova/events.h"

static nova_status refuse(nova_idv_problem_t *pb, const char *field, const char *why)
{
    snprintf(pb->field, sizeof(pb->field), "%s", field);
    snprintf(pb->why, sizeof(pb->why), "%s", why);
    return NOVA_INVALID;
}

nova_status nova_idv_review_get(nova_idv_t *g, nova_store_t *s, nova_arena_t *a,
                                const char *tenant_id, const char *id, json_t **out)
{
    nova_idv_verification_row_t v;
    nova_status st = nova_store_idv_verification_get(s, a, tenant_id, id, &v);
    if (st != NOVA_OK)
        return st;
    json_t *result = json_loads(v.result, 0, NULL);
    bool pending = strcmp(v.decision, "review_required") == 0;
    bool reviewed = json_object_get(result, "review") != NULL;
    json_decref(result);
    if (!pending && !reviewed)
        return NOVA_NOT_FOUND; /* never sent to review */
    if ((st = nova_idv_verification_get(g, s, a, tenant_id, id, out)) != NOVA_OK)
        return st;
    json_object_set_new(*out, "review_status", json_string(pending ? "pending" : "decided"));
    if (!pending)
        return NOVA_OK;
    const uint8_t *blob = NULL;
    size_t len = 0;
    json_t *job = NULL;
    st = nova_store_idv_job_get(s, a, tenant_id, id, &blob, &len);
    if (st == NOVA_OK)
        st = idv_open_json(g, s, tenant_id, IDV_CTX_JOB, blob, len, &job);
    if (st == NOVA_OK) {
        json_object_set(*out, "images", json_object_get(job, "images"));
        json_t *ap = json_object_get(job, "applicant");
        if (json_is_object(ap))
            json_object_set(*out, "applicant", ap);
        json_decref(job);
    } else if (st == NOVA_NOT_FOUND) {
        st = NOVA_OK; /* past its retention: reviewed from the step results alone */
    }
    if (st != NOVA_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return st;
}

nova_status nova_idv_review_decide(nova_idv_t *g, nova_store_t *s, nova_arena_t *a,
                                   const nova_audit_actor_t *by, const char *tenant_id,
                                   const char *id, const nova_idv_review_t *rv, json_t **out,
                                   nova_idv_problem_t *pb)
{
    memset(pb, 0, sizeof(*pb));
    if (rv->reviewer == NULL || *rv->reviewer == '\0' || strlen(rv->reviewer) > 200)
        return refuse(pb, "reviewer", "who decided: 1-200 characters");
    if (rv->decision == NULL ||
        (strcmp(rv->decision, "approved") != 0 && strcmp(rv->decision, "rejected") != 0))
        return refuse(pb, "decision", "approved or rejected");
    if (rv->reason == NULL || *rv->reason == '\0' || strlen(rv->reason) > 1000)
        return refuse(pb, "reason", "why: 1-1000 characters");
    nova_idv_verification_row_t v;
    nova_status st = nova_store_idv_verification_get(s, a, tenant_id, id, &v);
    if (st != NOVA_OK)
        return st;
    json_t *result = json_loads(v.result, 0, NULL);
    if (result == NULL)
        result = json_object();
    json_object_set_new(result, "review",
                        json_pack("{s:s, s:s, s:s, s:s, s:I}", "reviewer", rv->reviewer, "decision",
                                  rv->decision, "reason", rv->reason, "automated", v.decision,
                                  "decided_at", (json_int_t)nova_time_now()));
    char *text = json_dumps(result, JSON_COMPACT);
    json_decref(result);
    if (text == NULL)
        return NOVA_NOMEM;
    nova_audit_entry_t e;
    json_t *attrs = json_pack("{s:s, s:s}", "decision", rv->decision, "reviewer", rv->reviewer);
    st = nova_audit_entry_make(&e, a, by, tenant_id, "review.decide", "verification", id, attrs);
    nova_event_row_t ev;
    if (st == NOVA_OK) {
        json_t *r = json_loads(text, 0, NULL);
        st = idv_event(s, a, tenant_id, id, "review.decided", "completed", rv->decision, r, &ev);
        json_decref(r);
    }
    if (st == NOVA_OK)
        st = nova_store_idv_review_decide(s, tenant_id, id, rv->decision, text, nova_time_now(), &e,
                                          &ev);
    free(text);
    if (st == NOVA_OK)
        nova_events_kick();
    if (st == NOVA_NOT_FOUND)
        return NOVA_CONFLICT; /* exists, but is not waiting for review */
    if (st != NOVA_OK)
        return st;
    return nova_idv_verification_get(g, s, a, tenant_id, id, out);
}
