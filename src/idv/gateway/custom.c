/*
 * custom.c: the custom_webhook check (issue 9 item 4): a synchronous POST of the step's input
 * to the tenant's URL (step config "url", "timeout_ms"), over mutual TLS with the client
 * certificate, key and CA or pin of the webhook endpoint the step names ("endpoint_id"), else
 * of the tenant's oldest enabled one, signed per Standard Webhooks with that endpoint's secrets
 * (nova/events.h). The tenant answers {"result": "pass" |
 * "fail" | "review", "score"?: [0, 1], "reasons"?: ["code", ...]}. A timeout, an unreachable or
 * unverified receiver, a non-2xx status or a bad body is the step failing with a reason code
 * (custom_check_timeout, custom_check_unreachable, custom_check_http_status,
 * custom_check_bad_reply, custom_check_no_endpoint), so the step's on_fail (reject, review or
 * continue) decides what follows: never a made-up pass.
 *
 * What is sent: {"verification_id", "step", "applicant" (the claimed data: the tenant's own,
 * going back to the tenant), "steps" (earlier outputs)}. No image.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nova/events.h"
#include "nova/webhook.h"

#define CUSTOM_REPLY_MAX 16384
#define CUSTOM_REASONS_MAX 16
#define CUSTOM_REASON_LEN 64

static bool reason_ok(const char *s, size_t n)
{
    if (n == 0 || n > CUSTOM_REASON_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

nova_status idv_custom_reply_parse(const char *body, size_t len, idv_check_out_t *out)
{
    json_error_t err;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
    nova_status st = NOVA_INVALID;
    if (!json_is_object(o))
        goto end;
    const char *result = json_string_value(json_object_get(o, "result"));
    if (result == NULL)
        goto end;
    double def;
    if (strcmp(result, "pass") == 0) {
        out->status = "passed";
        def = 1.0;
    } else if (strcmp(result, "fail") == 0) {
        out->status = "failed";
        def = 0.0;
    } else if (strcmp(result, "review") == 0) {
        out->status = "review";
        def = 0.5;
    } else {
        goto end;
    }
    json_t *score = json_object_get(o, "score");
    if (score && !(json_is_number(score) && json_number_value(score) >= 0.0 &&
                   json_number_value(score) <= 1.0))
        goto end;
    out->score = score ? json_number_value(score) : def;
    json_t *rs = json_object_get(o, "reasons");
    if (rs && (!json_is_array(rs) || json_array_size(rs) > CUSTOM_REASONS_MAX))
        goto end;
    for (size_t i = 0; i < json_array_size(rs); i++) {
        json_t *r = json_array_get(rs, i);
        if (!json_is_string(r) || !reason_ok(json_string_value(r), json_string_length(r)))
            goto end;
    }
    if (out->reasons == NULL)
        out->reasons = json_array();
    for (size_t i = 0; i < json_array_size(rs); i++)
        json_array_append(out->reasons, json_array_get(rs, i));
    st = NOVA_OK;
end:
    json_decref(o);
    return st;
}

static nova_status fail_with(idv_check_out_t *out, const char *code)
{
    out->status = "failed";
    out->score = 0.0;
    json_decref(out->reasons);
    out->reasons = NULL;
    idv_reason(out, code);
    return NOVA_OK;
}

nova_status idv_check_custom_webhook(const idv_check_in_t *in, idv_check_out_t *out)
{
    const char *url = json_string_value(json_object_get(in->config, "url"));
    json_t *t = json_object_get(in->config, "timeout_ms");
    unsigned timeout = json_is_integer(t) ? (unsigned)json_integer_value(t) : 5000;
    if (in->g == NULL || in->tenant_id == NULL || url == NULL)
        return fail_with(out, "custom_check_no_endpoint");
    nova_store_t *s = NULL;
    nova_status st = nova_store_thread(in->g->database_url, &s);
    if (st != NOVA_OK)
        return st; /* the store is down: the job is retried, not decided */
    nova_arena_t a;
    nova_arena_init(&a, 8192);
    /* The endpoint whose material signs and connects: the step's endpoint_id, else the
     * tenant's oldest enabled one. A named endpoint that is gone or disabled fails the step
     * (never another endpoint's certificate in its place). */
    nova_webhook_endpoint_row_t ep;
    const char *eid = json_string_value(json_object_get(in->config, "endpoint_id"));
    st = eid ? nova_store_webhook_endpoint_get(s, &a, in->tenant_id, eid, &ep)
             : nova_endpoint_default(s, &a, in->tenant_id, &ep);
    if (st == NOVA_OK && eid && !ep.enabled)
        st = NOVA_NOT_FOUND;
    if (st == NOVA_NOT_FOUND || (eid && st == NOVA_INVALID)) {
        nova_arena_free(&a);
        return fail_with(out, "custom_check_no_endpoint");
    }
    if (st != NOVA_OK) {
        nova_arena_free(&a);
        return st;
    }
    json_t *msg = json_pack("{s:s, s:s, s:O, s:O}", "verification_id",
                            in->verification_id ? in->verification_id : "", "step",
                            in->step_id ? in->step_id : "", "applicant",
                            in->applicant ? in->applicant : json_null(), "steps",
                            in->steps ? in->steps : json_object());
    char *body = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    char id[64];
    if (body == NULL || nova_id_seq("chk", id, sizeof(id)) != NOVA_OK) {
        free(body);
        nova_arena_free(&a);
        return NOVA_NOMEM;
    }
    nova_events_cfg_t cfg = {in->g->cfg.auth, in->g->region, in->g->database_url};
    nova_webhook_response_t rs;
    st = nova_endpoint_post(&cfg, s, &ep, url, id, body, timeout, CUSTOM_REPLY_MAX, &rs);
    size_t n = strlen(body);
    memset(body, 0, n); /* the applicant's data */
    free(body);
    if (st == NOVA_OK && (rs.status < 200 || rs.status > 299))
        fail_with(out, "custom_check_http_status");
    else if (st == NOVA_OK &&
             idv_custom_reply_parse(rs.body.data ? rs.body.data : "", rs.body.len, out) != NOVA_OK)
        fail_with(out, "custom_check_bad_reply");
    else if (st != NOVA_OK)
        fail_with(out, strstr(rs.error, "imed out") ? "custom_check_timeout"
                                                    : "custom_check_unreachable");
    nova_buf_free(&rs.body);
    nova_arena_free(&a);
    return NOVA_OK;
}
