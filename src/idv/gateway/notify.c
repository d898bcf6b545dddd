/*
 * notify.c: the gateway's outbox events (nova/events.h). A decision or a review decision
 * carries its event into the store call that persists it, so both commit together; after the
 * commit the dispatcher is kicked. The event names the verification, its reference, workflow
 * and trace, the status, the decision and its reason codes: never the applicant's data.
 */
#include <string.h>

#include "internal.h"
#include "nova/events.h"
#include "nova/idv_store.h"

/* The reason codes of a result's "reasons" ([{"code": ...}, ...]). */
static json_t *reason_codes(json_t *result)
{
    json_t *codes = json_array();
    json_t *rs = json_object_get(result, "reasons");
    for (size_t i = 0; i < json_array_size(rs); i++) {
        json_t *r = json_array_get(rs, i);
        json_t *c = json_is_string(r) ? r : json_object_get(r, "code");
        if (json_is_string(c))
            json_array_append(codes, c);
    }
    return codes;
}

const char *idv_event_type(const char *status, const char *decision)
{
    if (strcmp(status, "failed") == 0)
        return "verification.failed";
    if (strcmp(decision, "review_required") == 0)
        return "verification.review_required";
    return "verification.completed";
}

nova_status idv_event(nova_store_t *s, nova_arena_t *a, const char *tenant, const char *vid,
                      const char *type, const char *status, const char *decision, json_t *result,
                      nova_event_row_t *out)
{
    nova_idv_verification_row_t v;
    nova_status st = nova_store_idv_verification_get(s, a, tenant, vid, &v);
    if (st != NOVA_OK)
        return st;
    json_t *data =
        json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:o}", "verification_id", vid, "reference",
                  v.reference ? v.reference : "", "workflow_id", v.workflow_id, "workflow_version",
                  (json_int_t)v.workflow_version, "trace_id", v.trace_id, "status", status,
                  "decision", decision, "reasons", reason_codes(result));
    if (data == NULL)
        return NOVA_NOMEM;
    st = nova_event_make(a, tenant, type, vid, data, v.callback_url, out);
    json_decref(data);
    return st;
}
