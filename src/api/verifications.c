/*
 * verifications.c: the verification gateway's HTTP surface (nova/idv.h).
 *   POST /v1/verifications          verifications:write (backends and SDK session tokens)
 *   GET  /v1/verifications/{id}     verifications:read
 *   GET  /v1/verifications          verifications:read; ?status=&from=&to=&cursor=&limit=
 *   GET  /v1/usage                  workflows:read; billing units by check, ?from=&to=
 *   GET  /v1/prices                 workflows:read; the tenant's price list (units per check)
 *   PUT  /v1/prices                 workflows:write; replaces it, audited
 *   GET  /v1/reviews                reviews:read; verifications waiting for manual review
 *   GET  /v1/reviews/{id}           reviews:read; one, with its images while they are kept
 *   POST /v1/reviews/{id}/decision  reviews:write; {reviewer, decision, reason}, audited
 * It also owns the process's gateway (queue and worker pool), started when the routes are
 * registered: NOVA_AMQP_URL picks RabbitMQ (else the in-process queue), NOVA_IDV_WORKERS the
 * consumer threads (2), NOVA_IDV_SYNC_TIMEOUT_MS how long a sync request waits (30000),
 * NOVA_TESSDATA the OCR model directory.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "nova/crypto.h"
#include "nova/idv.h"
#include "nova/log.h"

/* Four phone photos in base64 and the JSON around them. NOVA_MAX_BODY (1 MiB by default) caps
 * it: an operator taking full-size photos raises that. */
#define VERIFICATION_MAX_BODY (32u << 20)

static nova_idv_t *gateway;

nova_idv_t *api_idv(void)
{
    return gateway;
}

static void refuse(nova_req_t *r, int status, const char *code, const nova_idv_problem_t *pb)
{
    char *m = nova_arena_printf(&r->arena, "%s: %s", pb->field, pb->why);
    nova_resp_problem(r, status, code,
                      status == 404   ? "Not Found"
                      : status == 409 ? "Conflict"
                                      : "Invalid field",
                      m ? m : pb->why);
}

static const char *const create_members[] = {
    "workflow_id", "images", "applicant", "reference", "mode", "callback_url", "liveness", NULL};

static const char *opt_string(json_t *body, const char *key, bool *bad)
{
    json_t *v = json_object_get(body, key);
    if (v && !json_is_string(v))
        *bad = true;
    return json_string_value(v);
}

static void verifications_create(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    const char *key = nova_req_header(r, "Idempotency-Key");
    if (key && (*key == '\0' || strlen(key) > 255 || strpbrk(key, "\"\\"))) {
        nova_resp_problem(r, 400, "invalid_request", "Invalid request",
                          "Idempotency-Key: 1-255 printable characters");
        return;
    }
    json_t *body = api_json_body(r, create_members);
    if (body == NULL)
        return;
    bool bad = false;
    nova_idv_request_t req = {.workflow_id = opt_string(body, "workflow_id", &bad),
                              .images = json_object_get(body, "images"),
                              .applicant = json_object_get(body, "applicant"),
                              .liveness = json_object_get(body, "liveness"),
                              .reference = opt_string(body, "reference", &bad),
                              .mode = opt_string(body, "mode", &bad),
                              .callback_url = opt_string(body, "callback_url", &bad),
                              .idempotency_key = key};
    uint8_t digest[32];
    char hex[65];
    nova_sha256(r->body.data, r->body.len, digest);
    nova_hex_encode(digest, 32, hex);
    req.request_digest = hex;
    if (bad) {
        nova_resp_problem(r, 422, "invalid_field", "Invalid field",
                          "workflow_id, reference, mode and callback_url are strings");
        json_decref(body);
        return;
    }
    nova_store_t *s = api_store(r, api);
    if (s == NULL) {
        json_decref(body);
        return;
    }
    nova_audit_actor_t by = {r->principal->client_id, r->req_id};
    json_t *out = NULL;
    bool replayed = false;
    nova_idv_problem_t pb;
    nova_status st = nova_idv_submit(gateway, s, &r->arena, &by, r->principal->tenant_id, &req,
                                     &out, &replayed, &pb);
    json_decref(body);
    if (st == NOVA_INVALID) {
        refuse(r, 422, "invalid_field", &pb);
        return;
    }
    if (st == NOVA_NOT_FOUND) {
        refuse(r, 404, "workflow_not_found", &pb);
        return;
    }
    if (st == NOVA_CONFLICT) {
        refuse(r, 409, "idempotency_key_reused", &pb);
        return;
    }
    if (st) {
        api_unavailable(r, st);
        return;
    }
    const char *status = json_string_value(json_object_get(out, "status"));
    bool decided = status && (strcmp(status, "completed") == 0 || strcmp(status, "failed") == 0);
    char *loc = nova_arena_printf(&r->arena, "/v1/verifications/%s",
                                  json_string_value(json_object_get(out, "id")));
    if (loc)
        nova_resp_header(r, "Location", loc);
    if (replayed)
        nova_resp_header(r, "Idempotent-Replayed", "true");
    api_reply_json(r, decided ? 201 : 202, out);
}

static void verifications_get(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    json_t *out = NULL;
    nova_status st = nova_idv_verification_get(gateway, s, &r->arena, r->principal->tenant_id,
                                               r->params[0], &out);
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID) {
        nova_resp_problem(r, 404, "not_found", "Not Found",
                          "no verification of this tenant has this id");
        return;
    }
    if (st) {
        api_unavailable(r, st);
        return;
    }
    api_reply_json(r, 200, out);
}

/* Unix seconds or YYYY-MM-DD (UTC midnight). */
static bool parse_time(const char *s, int64_t *out)
{
    if (strspn(s, "0123456789") == strlen(s) && *s && strlen(s) <= 12) {
        *out = strtoll(s, NULL, 10);
        return true;
    }
    struct tm tm = {0};
    const char *end = strptime(s, "%Y-%m-%d", &tm);
    if (end == NULL || *end != '\0' || strlen(s) != 10)
        return false;
    *out = (int64_t)timegm(&tm);
    return *out >= 0;
}

/* The paged part of the verification and review lists: limit and cursor from the query, then
 * one page of q's verifications as {member: [...], next_cursor}. bad: a refusal the caller
 * already found in its own filters (answered first), or NULL. */
static void reply_page(nova_req_t *r, nova_api_t *api, nova_idv_list_query_t *q, const char *bad,
                       const char *member)
{
    const char *cursor = nova_req_query(r, "cursor"), *limit = nova_req_query(r, "limit");
    if (!bad && limit) {
        char *end = NULL;
        long v = strtol(limit, &end, 10);
        if (*limit == '\0' || *end != '\0' || v < 1 || v > 200)
            bad = "limit: 1..200";
        else
            q->limit = (int)v;
    }
    if (!bad && cursor &&
        nova_idv_cursor_parse(&r->arena, cursor, &q->after_created, &q->after_id) != NOVA_OK)
        bad = "cursor: the next_cursor of a previous page";
    if (bad) {
        nova_resp_problem(r, 400, "invalid_request", "Invalid request", bad);
        return;
    }
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    json_t *arr = NULL;
    const char *next = NULL;
    nova_status st =
        nova_idv_verification_list(s, &r->arena, r->principal->tenant_id, q, &arr, &next);
    if (st) {
        api_unavailable(r, st);
        return;
    }
    api_reply_json(r, 200,
                   json_pack("{s:o, s:o}", member, arr, "next_cursor",
                             next ? json_string(next) : json_null()));
}

static void verifications_list(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_idv_list_query_t q = {.status = nova_req_query(r, "status"), .limit = 50};
    const char *from = nova_req_query(r, "from"), *to = nova_req_query(r, "to");
    static const char *const statuses[] = {"queued", "running", "completed", "failed"};
    const char *bad = NULL;
    if (q.status) {
        bad = "status: queued, running, completed or failed";
        for (size_t i = 0; i < 4; i++)
            if (strcmp(q.status, statuses[i]) == 0)
                bad = NULL;
    }
    if (!bad && from && !parse_time(from, &q.from))
        bad = "from: unix seconds or YYYY-MM-DD";
    if (!bad && to && !parse_time(to, &q.to))
        bad = "to: unix seconds or YYYY-MM-DD";
    reply_page(r, api, &q, bad, "verifications");
}

static void usage_get(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    const char *from = nova_req_query(r, "from"), *to = nova_req_query(r, "to");
    int64_t f = 0, t = 0;
    if ((from && !parse_time(from, &f)) || (to && !parse_time(to, &t))) {
        nova_resp_problem(r, 400, "invalid_request", "Invalid request",
                          "from/to: unix seconds or YYYY-MM-DD");
        return;
    }
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    json_t *out = NULL;
    nova_status st = nova_idv_usage_json(s, &r->arena, r->principal->tenant_id, f, t, &out);
    if (st) {
        api_unavailable(r, st);
        return;
    }
    api_reply_json(r, 200, out);
}

static void prices_get(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    json_t *out = NULL;
    nova_status st = nova_idv_prices_json(s, &r->arena, r->principal->tenant_id, &out);
    if (st) {
        api_unavailable(r, st);
        return;
    }
    api_reply_json(r, 200, out);
}

static const char *const prices_members[] = {"prices", NULL};

static void prices_put(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    json_t *body = api_json_body(r, prices_members);
    if (body == NULL)
        return;
    nova_store_t *s = api_store(r, api);
    if (s == NULL) {
        json_decref(body);
        return;
    }
    nova_audit_actor_t by = {r->principal->client_id, r->req_id};
    nova_idv_problem_t pb;
    json_t *out = NULL;
    nova_status st =
        nova_idv_prices_put(s, &r->arena, &by, r->principal->tenant_id, body, &out, &pb);
    json_decref(body);
    if (st == NOVA_INVALID) {
        refuse(r, 422, "invalid_field", &pb);
        return;
    }
    if (st) {
        api_unavailable(r, st);
        return;
    }
    api_reply_json(r, 200, out);
}

/* ---- manual review ---- */

static void reviews_list(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_idv_list_query_t q = {.status = "completed", .decision = "review_required", .limit = 50};
    reply_page(r, api, &q, NULL, "reviews");
}

static void reviews_get(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    json_t *out = NULL;
    nova_status st =
        nova_idv_review_get(gateway, s, &r->arena, r->principal->tenant_id, r->params[0], &out);
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID) {
        nova_resp_problem(r, 404, "not_found", "Not Found",
                          "no verification of this tenant was sent to review with this id");
        return;
    }
    if (st) {
        api_unavailable(r, st);
        return;
    }
    nova_resp_header(r, "Cache-Control", "no-store");
    api_reply_json(r, 200, out);
}

static const char *const decision_members[] = {"reviewer", "decision", "reason", NULL};

static void reviews_decide(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    json_t *body = api_json_body(r, decision_members);
    if (body == NULL)
        return;
    nova_idv_review_t rv = {json_string_value(json_object_get(body, "reviewer")),
                            json_string_value(json_object_get(body, "decision")),
                            json_string_value(json_object_get(body, "reason"))};
    nova_store_t *s = api_store(r, api);
    if (s == NULL) {
        json_decref(body);
        return;
    }
    nova_audit_actor_t by = {r->principal->client_id, r->req_id};
    json_t *out = NULL;
    nova_idv_problem_t pb;
    nova_status st = nova_idv_review_decide(gateway, s, &r->arena, &by, r->principal->tenant_id,
                                            r->params[0], &rv, &out, &pb);
    json_decref(body);
    if (st == NOVA_INVALID && *pb.field) {
        refuse(r, 422, "invalid_field", &pb);
    } else if (st == NOVA_NOT_FOUND || st == NOVA_INVALID) {
        nova_resp_problem(r, 404, "not_found", "Not Found",
                          "no verification of this tenant has this id");
    } else if (st == NOVA_CONFLICT) {
        nova_resp_problem(r, 409, "not_in_review", "Conflict",
                          "this verification is not waiting for review (decided already, or "
                          "its workflow decided it)");
    } else if (st) {
        api_unavailable(r, st);
    } else {
        api_reply_json(r, 200, out);
    }
}

nova_status api_verifications_register(nova_api_t *api, nova_http_server_t *srv)
{
    nova_idv_config_t cfg = {
        .auth = api->auth,
        .kv = api->kv,
        .database_url = api->database_url,
        .region = api->region,
        .amqp_url = api->amqp_url ? api->amqp_url : "",
        .workers = api->idv_workers,
        .sync_timeout_ms = api->idv_sync_timeout_ms ? api->idv_sync_timeout_ms : 30000,
        .face_model = api->face_model,
        .tessdata = api->tessdata && *api->tessdata ? api->tessdata : NULL,
    };
    char err[256];
    nova_status st = nova_idv_open(&cfg, &gateway, err, sizeof(err));
    if (st != NOVA_OK) {
        nova_log_error("verification gateway: %s", err);
        return st;
    }
    if ((st = nova_idv_start(gateway)) != NOVA_OK)
        return st;
    nova_log_info("verification gateway: queue %s (%s), %u workers", NOVA_IDV_QUEUE,
                  nova_idv_queue_driver(gateway), cfg.workers);
    static const struct {
        const char *method, *pattern, *scope;
        nova_handler_fn fn;
        size_t max_body;
    } routes[] = {
        {"POST", "/v1/verifications", "verifications:write", verifications_create,
         VERIFICATION_MAX_BODY},
        {"GET", "/v1/verifications", "verifications:read", verifications_list, 0},
        {"GET", "/v1/verifications/{id}", "verifications:read", verifications_get, 0},
        {"GET", "/v1/usage", "workflows:read", usage_get, 0},
        {"GET", "/v1/prices", "workflows:read", prices_get, 0},
        {"PUT", "/v1/prices", "workflows:write", prices_put, 4096},
        {"GET", "/v1/reviews", "reviews:read", reviews_list, 0},
        {"GET", "/v1/reviews/{id}", "reviews:read", reviews_get, 0},
        {"POST", "/v1/reviews/{id}/decision", "reviews:write", reviews_decide, 4096},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        st = nova_http_route(srv, routes[i].method, routes[i].pattern, routes[i].scope,
                             routes[i].max_body, routes[i].fn, api);
        if (st)
            return st;
    }
    return NOVA_OK;
}
