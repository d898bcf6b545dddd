/*
 * webhooks.c: event notifications (nova/events.h), the tenant's webhook endpoints and its
 * outbox:
 *   POST /v1/webhooks/endpoints                    webhooks:write  create (secret shown once)
 *   GET  /v1/webhooks/endpoints                    webhooks:read
 *   GET  /v1/webhooks/endpoints/{id}               webhooks:read
 *   PATCH /v1/webhooks/endpoints/{id}             webhooks:write  url, events, enabled, TLS
 *   DELETE /v1/webhooks/endpoints/{id}            webhooks:write  pending deliveries fail
 *   POST /v1/webhooks/endpoints/{id}/rotate-secret webhooks:write  {"keep_previous": bool}
 *   POST /v1/notifications/channels                webhooks:write  email or SMS channel
 *   GET  /v1/notifications/channels                webhooks:read
 *   GET  /v1/notifications/channels/{id}           webhooks:read
 *   PATCH /v1/notifications/channels/{id}          webhooks:write  any member, enabled
 *   DELETE /v1/notifications/channels/{id}         webhooks:write  pending deliveries fail
 *   GET  /v1/events                                webhooks:read   ?type=&cursor=&limit=
 *   GET  /v1/events/{id}                           webhooks:read   with deliveries and log
 *   POST /v1/events/{id}/replay                    webhooks:write
 *   POST /webhooks/twilio/status/{tenant}/{channel}  public: Twilio's status callbacks,
 *                                                  X-Twilio-Signature checked
 * It also adds the dispatcher ("webhook-dispatch": every second, and kicked by each event)
 * to novad's scheduler.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "nova/events.h"
#include "nova/idv.h"

#define ENDPOINT_MAX_BODY (200u << 10)

static nova_events_cfg_t events_cfg;

static nova_status dispatch_run(void *arg)
{
    return nova_events_dispatch(arg);
}

static void not_found(nova_req_t *r, const char *what)
{
    nova_resp_problem(r, 404, "not_found", "Not Found", what);
}

/* A 422 naming the field, for the problem the events domain reported. */
static void invalid_field(nova_req_t *r, const nova_events_problem_t *pb)
{
    char *m = nova_arena_printf(&r->arena, "%s: %s", *pb->field ? pb->field : "(body)", pb->why);
    nova_resp_problem(r, 422, "invalid_field", "Invalid field", m ? m : pb->why);
}

static const char *const endpoint_members[] = {
    "url", "events", "client_certificate", "client_key", "ca_certificate", "pin", "secret", NULL};

/* A change made from a JSON body (create or PATCH): the domain's call, and how its result is
 * answered. */
typedef nova_status (*body_fn)(nova_store_t *s, nova_req_t *r, const nova_audit_actor_t *by,
                               json_t *body, json_t **out, nova_events_problem_t *pb);
typedef struct body_op {
    const char *const *members; /* the body's allowed members */
    body_fn fn;
    int status;           /* on success */
    const char *location; /* "/v1/.../%s" of a created resource; NULL: an update of {id} */
    bool no_store;        /* the reply holds a secret: Cache-Control: no-store */
    const char *missing;  /* the 404's detail */
} body_op_t;

/* Answers a body op: 404, 422 naming the field, 503, or its status with out. */
static void answer_body_op(nova_req_t *r, const body_op_t *op, nova_status st,
                           const nova_events_problem_t *pb, json_t *out)
{
    /* On an update, NOVA_INVALID without a reason is the store refusing an id that cannot
     * exist. */
    if (st == NOVA_NOT_FOUND || (st == NOVA_INVALID && *pb->why == '\0' && !op->location)) {
        not_found(r, op->missing);
        return;
    }
    if (st == NOVA_INVALID) {
        invalid_field(r, pb);
        return;
    }
    if (st) {
        api_unavailable(r, st);
        return;
    }
    char *loc = op->location ? nova_arena_printf(&r->arena, op->location,
                                                 json_string_value(json_object_get(out, "id")))
                             : NULL;
    if (loc)
        nova_resp_header(r, "Location", loc);
    if (op->no_store)
        nova_resp_header(r, "Cache-Control", "no-store");
    api_reply_json(r, op->status, out);
}

static void run_body_op(nova_req_t *r, nova_api_t *api, const body_op_t *op)
{
    json_t *body = api_json_body(r, op->members);
    if (body == NULL)
        return;
    nova_store_t *s = api_store(r, api);
    if (s == NULL) {
        json_decref(body);
        return;
    }
    nova_audit_actor_t by = {r->principal->client_id, r->req_id};
    nova_events_problem_t pb = {"", ""};
    json_t *out = NULL;
    nova_status st = op->fn(s, r, &by, body, &out, &pb);
    /* pb.field may name a member of body (one the channel's type does not have), so body
     * lives until the answer is written. */
    answer_body_op(r, op, st, &pb, out);
    json_decref(body);
}

static nova_status endpoint_create_fn(nova_store_t *s, nova_req_t *r, const nova_audit_actor_t *by,
                                      json_t *body, json_t **out, nova_events_problem_t *pb)
{
    return nova_endpoint_create(&events_cfg, s, &r->arena, by, r->principal->tenant_id, body, out,
                                pb);
}

static nova_status endpoint_update_fn(nova_store_t *s, nova_req_t *r, const nova_audit_actor_t *by,
                                      json_t *body, json_t **out, nova_events_problem_t *pb)
{
    return nova_endpoint_update(&events_cfg, s, &r->arena, by, r->principal->tenant_id,
                                r->params[0], body, out, pb);
}

static nova_status channel_create_fn(nova_store_t *s, nova_req_t *r, const nova_audit_actor_t *by,
                                     json_t *body, json_t **out, nova_events_problem_t *pb)
{
    return nova_channel_create(&events_cfg, s, &r->arena, by, r->principal->tenant_id, body, out,
                               pb);
}

static nova_status channel_update_fn(nova_store_t *s, nova_req_t *r, const nova_audit_actor_t *by,
                                     json_t *body, json_t **out, nova_events_problem_t *pb)
{
    return nova_channel_update(&events_cfg, s, &r->arena, by, r->principal->tenant_id, r->params[0],
                               body, out, pb);
}

#define NO_ENDPOINT "no webhook endpoint of this tenant has this id"
#define NO_CHANNEL "no notification channel of this tenant has this id"

static const char *const endpoint_patch_members[] = {
    "url", "events", "enabled", "client_certificate", "client_key", "ca_certificate", "pin", NULL};

static void endpoints_create(nova_req_t *r, void *ud)
{
    static const body_op_t op = {
        endpoint_members, endpoint_create_fn, 201, "/v1/webhooks/endpoints/%s", true, NO_ENDPOINT};
    run_body_op(r, ud, &op);
}

static void endpoints_patch(nova_req_t *r, void *ud)
{
    static const body_op_t op = {
        endpoint_patch_members, endpoint_update_fn, 200, NULL, false, NO_ENDPOINT};
    run_body_op(r, ud, &op);
}

static void channels_create(nova_req_t *r, void *ud)
{
    static const body_op_t op = {nova_channel_members,
                                 channel_create_fn,
                                 201,
                                 "/v1/notifications/channels/%s",
                                 false,
                                 NO_CHANNEL};
    run_body_op(r, ud, &op);
}

static void channels_patch(nova_req_t *r, void *ud)
{
    static const body_op_t op = {
        nova_channel_members, channel_update_fn, 200, NULL, false, NO_CHANNEL};
    run_body_op(r, ud, &op);
}

static void endpoints_list(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_webhook_endpoint_row_t *rows = NULL;
    size_t n = 0;
    nova_status st =
        nova_store_webhook_endpoint_list(s, &r->arena, r->principal->tenant_id, &rows, &n);
    if (st) {
        api_unavailable(r, st);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, nova_endpoint_json(&rows[i]));
    api_reply_json(r, 200, json_pack("{s:o}", "endpoints", arr));
}

static void endpoints_get(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_webhook_endpoint_row_t e;
    nova_status st =
        nova_store_webhook_endpoint_get(s, &r->arena, r->principal->tenant_id, r->params[0], &e);
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID)
        not_found(r, NO_ENDPOINT);
    else if (st)
        api_unavailable(r, st);
    else
        api_reply_json(r, 200, nova_endpoint_json(&e));
}

/* DELETE .../{id} through the domain's delete. */
static void run_delete(nova_req_t *r, nova_api_t *api,
                       nova_status (*fn)(nova_store_t *, nova_arena_t *, const nova_audit_actor_t *,
                                         const char *, const char *),
                       const char *missing)
{
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_audit_actor_t by = {r->principal->client_id, r->req_id};
    nova_status st = fn(s, &r->arena, &by, r->principal->tenant_id, r->params[0]);
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID)
        not_found(r, missing);
    else if (st)
        api_unavailable(r, st);
    else
        nova_resp_body(r, 204, NULL, NULL, 0);
}

static void endpoints_delete(nova_req_t *r, void *ud)
{
    run_delete(r, ud, nova_endpoint_delete, NO_ENDPOINT);
}

static const char *const rotate_members[] = {"keep_previous", NULL};

static void endpoints_rotate(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    bool keep = true;
    if (r->body.len > 0) {
        json_t *body = api_json_body(r, rotate_members);
        if (body == NULL)
            return;
        json_t *k = json_object_get(body, "keep_previous");
        if (k && !json_is_boolean(k)) {
            json_decref(body);
            nova_resp_problem(r, 422, "invalid_field", "Invalid field",
                              "keep_previous: true or false");
            return;
        }
        keep = k == NULL || json_is_true(k);
        json_decref(body);
    }
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_audit_actor_t by = {r->principal->client_id, r->req_id};
    json_t *out = NULL;
    nova_status st = nova_endpoint_rotate(&events_cfg, s, &r->arena, &by, r->principal->tenant_id,
                                          r->params[0], keep, &out);
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID) {
        not_found(r, NO_ENDPOINT);
        return;
    }
    if (st) {
        api_unavailable(r, st);
        return;
    }
    nova_resp_header(r, "Cache-Control", "no-store");
    api_reply_json(r, 200, out);
}

static void channels_list(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_notify_channel_row_t *rows = NULL;
    size_t n = 0;
    nova_status st =
        nova_store_notify_channel_list(s, &r->arena, r->principal->tenant_id, &rows, &n);
    if (st) {
        api_unavailable(r, st);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, nova_channel_json(&rows[i]));
    api_reply_json(r, 200, json_pack("{s:o}", "channels", arr));
}

static void channels_get(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_notify_channel_row_t c;
    nova_status st =
        nova_store_notify_channel_get(s, &r->arena, r->principal->tenant_id, r->params[0], &c);
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID)
        not_found(r, NO_CHANNEL);
    else if (st)
        api_unavailable(r, st);
    else
        api_reply_json(r, 200, nova_channel_json(&c));
}

static void channels_delete(nova_req_t *r, void *ud)
{
    run_delete(r, ud, nova_channel_delete, NO_CHANNEL);
}

static void events_list(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    const char *type = nova_req_query(r, "type");
    const char *cursor = nova_req_query(r, "cursor"), *limit = nova_req_query(r, "limit");
    int lim = 50;
    int64_t after_created = 0;
    const char *after_id = NULL;
    const char *bad = NULL;
    if (type && !nova_event_type_valid(type))
        bad = "type: verification.completed, verification.failed, "
              "verification.review_required or review.decided";
    if (!bad && limit) {
        char *end = NULL;
        long v = strtol(limit, &end, 10);
        if (*limit == '\0' || *end != '\0' || v < 1 || v > 200)
            bad = "limit: 1..200";
        else
            lim = (int)v;
    }
    if (!bad && cursor &&
        nova_idv_cursor_parse(&r->arena, cursor, &after_created, &after_id) != NOVA_OK)
        bad = "cursor: the next_cursor of a previous page";
    if (bad) {
        nova_resp_problem(r, 400, "invalid_request", "Invalid request", bad);
        return;
    }
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_event_row_t *rows = NULL;
    size_t n = 0;
    nova_status st = nova_store_event_list(s, &r->arena, r->principal->tenant_id, type,
                                           after_created, after_id, lim + 1, &rows, &n);
    if (st) {
        api_unavailable(r, st);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n && i < (size_t)lim; i++)
        json_array_append_new(arr, nova_event_json(&rows[i], NULL, 0, NULL, 0));
    const char *next = n > (size_t)lim ? nova_idv_cursor_make(&r->arena, rows[lim - 1].created_at,
                                                              rows[lim - 1].id)
                                       : NULL;
    api_reply_json(r, 200,
                   json_pack("{s:o, s:o}", "events", arr, "next_cursor",
                             next ? json_string(next) : json_null()));
}

static void events_get(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    const char *tenant = r->principal->tenant_id;
    nova_event_row_t ev;
    nova_delivery_row_t *d = NULL;
    nova_attempt_row_t *at = NULL;
    size_t nd = 0, na = 0;
    nova_status st = nova_store_event_get(s, &r->arena, tenant, r->params[0], &ev);
    if (st == NOVA_OK)
        st = nova_store_delivery_list(s, &r->arena, tenant, ev.id, &d, &nd);
    if (st == NOVA_OK)
        st = nova_store_attempt_list(s, &r->arena, tenant, ev.id, &at, &na);
    nova_sms_message_row_t *msgs = NULL;
    size_t nm = 0;
    if (st == NOVA_OK)
        st = nova_store_sms_message_list(s, &r->arena, tenant, ev.id, &msgs, &nm);
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID) {
        not_found(r, "no event of this tenant has this id");
    } else if (st) {
        api_unavailable(r, st);
    } else {
        json_t *o = nova_event_json(&ev, d, nd, at, na);
        json_object_set_new(o, "sms_messages", nova_sms_messages_json(msgs, nm));
        api_reply_json(r, 200, o);
    }
}

static void events_replay(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    const char *tenant = r->principal->tenant_id;
    nova_audit_actor_t by = {r->principal->client_id, r->req_id};
    nova_audit_entry_t e;
    int64_t pending = 0;
    nova_status st = nova_audit_entry_make(&e, &r->arena, &by, tenant, "event.replay", "event",
                                           r->params[0], NULL);
    if (st == NOVA_OK)
        st = nova_store_event_replay(s, tenant, r->params[0], nova_time_now(),
                                     NOVA_EVENT_MAX_ATTEMPTS, &e, &pending);
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID) {
        not_found(r, "no event of this tenant has this id");
        return;
    }
    if (st) {
        api_unavailable(r, st);
        return;
    }
    nova_events_kick();
    api_reply_json(r, 202,
                   json_pack("{s:s, s:I}", "id", r->params[0], "pending", (json_int_t)pending));
}

/* Twilio's status callback for a channel's messages (nova_events_twilio_status). Public:
 * Twilio holds no bearer token; its signature over the channel's status_callback URL with
 * the account's auth token is the authentication, so a sender refused for a bad signature,
 * account or body is counted against its address as a failed client authentication is, and
 * refused 429 once over the limit. */
static void twilio_status(nova_req_t *r, void *ud)
{
    static const struct {
        int status;
        const char *code, *title;
    } map[NOVA_SMS_CB_N] = {
        [NOVA_SMS_CB_MALFORMED] = {400, "twilio_malformed_callback", "Bad Request"},
        [NOVA_SMS_CB_UNKNOWN_CHANNEL] = {404, "unknown_channel", "Not Found"},
        [NOVA_SMS_CB_NOT_THIS_ROUTE] = {404, "status_callback_not_this_route", "Not Found"},
        [NOVA_SMS_CB_NO_AUTH_TOKEN] = {403, "twilio_auth_token_required", "Forbidden"},
        [NOVA_SMS_CB_SIGNATURE] = {403, "invalid_signature", "Forbidden"},
        [NOVA_SMS_CB_ACCOUNT] = {403, "account_mismatch", "Forbidden"},
        [NOVA_SMS_CB_UNKNOWN_MESSAGE] = {404, "unknown_message", "Not Found"},
        [NOVA_SMS_CB_UNAVAILABLE] = {503, "unavailable", "Service Unavailable"},
    };
    nova_api_t *api = ud;
    if (!api_ratelimit_auth_allowed(r, api, NULL))
        return;
    const char *ct = nova_req_header(r, "Content-Type");
    size_t ctn = ct ? strcspn(ct, "; \t") : 0;
    if (ct == NULL || ctn != strlen("application/x-www-form-urlencoded") ||
        strncasecmp(ct, "application/x-www-form-urlencoded", ctn) != 0) {
        api_ratelimit_auth_failed(r, api, NULL);
        nova_resp_problem(r, 415, "unsupported_media_type", "Unsupported Media Type",
                          "Twilio posts its status callbacks as application/x-www-form-urlencoded");
        return;
    }
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_sms_cb_result_t res;
    nova_events_twilio_status(&events_cfg, s, &r->arena, r->req_id, r->params[0], r->params[1],
                              r->path, nova_req_header(r, "X-Twilio-Signature"),
                              r->body.data ? r->body.data : "", r->body.len, &res);
    if (res.fail != NOVA_SMS_CB_OK) {
        if (res.fail != NOVA_SMS_CB_UNAVAILABLE)
            api_ratelimit_auth_failed(r, api, NULL);
        if (res.fail == NOVA_SMS_CB_UNAVAILABLE)
            nova_resp_header(r, "Retry-After", "5");
        nova_resp_problem(r, map[res.fail].status, map[res.fail].code, map[res.fail].title,
                          res.why);
        return;
    }
    api_reply_json(r, 200,
                   json_pack("{s:s, s:s, s:s, s:b}", "message_sid", res.msg.message_sid, "status",
                             res.msg.status, "reported", res.status, "changed", res.changed));
}

nova_status api_webhooks_register(nova_api_t *api, nova_http_server_t *srv)
{
    events_cfg.auth = api->auth;
    events_cfg.region = api->region;
    events_cfg.database_url = api->database_url;
    if (api->sched) {
        nova_sched_job_t *job = NULL;
        nova_status st = nova_sched_add(api->sched, "webhook-dispatch", 1000, 1000, dispatch_run,
                                        &events_cfg, &job);
        if (st)
            return st;
        nova_events_set_job(job);
    }
    static const struct {
        const char *method, *pattern, *scope;
        void (*fn)(nova_req_t *, void *);
        size_t max_body;
    } routes[] = {
        {"POST", "/v1/webhooks/endpoints", "webhooks:write", endpoints_create, ENDPOINT_MAX_BODY},
        {"GET", "/v1/webhooks/endpoints", "webhooks:read", endpoints_list, 0},
        {"GET", "/v1/webhooks/endpoints/{id}", "webhooks:read", endpoints_get, 0},
        {"PATCH", "/v1/webhooks/endpoints/{id}", "webhooks:write", endpoints_patch,
         ENDPOINT_MAX_BODY},
        {"DELETE", "/v1/webhooks/endpoints/{id}", "webhooks:write", endpoints_delete, 0},
        {"POST", "/v1/webhooks/endpoints/{id}/rotate-secret", "webhooks:write", endpoints_rotate,
         1024},
        {"POST", "/v1/notifications/channels", "webhooks:write", channels_create,
         ENDPOINT_MAX_BODY},
        {"GET", "/v1/notifications/channels", "webhooks:read", channels_list, 0},
        {"GET", "/v1/notifications/channels/{id}", "webhooks:read", channels_get, 0},
        {"PATCH", "/v1/notifications/channels/{id}", "webhooks:write", channels_patch,
         ENDPOINT_MAX_BODY},
        {"DELETE", "/v1/notifications/channels/{id}", "webhooks:write", channels_delete, 0},
        {"GET", "/v1/events", "webhooks:read", events_list, 0},
        {"GET", "/v1/events/{id}", "webhooks:read", events_get, 0},
        {"POST", "/v1/events/{id}/replay", "webhooks:write", events_replay, 0},
        /* Public: Twilio signs it (X-Twilio-Signature); its callbacks are a few hundred bytes. */
        {"POST", "/webhooks/twilio/status/{tenant}/{channel}", NULL, twilio_status, 16384},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        nova_status st = nova_http_route(srv, routes[i].method, routes[i].pattern, routes[i].scope,
                                         routes[i].max_body, routes[i].fn, api);
        if (st)
            return st;
    }
    return NOVA_OK;
}
