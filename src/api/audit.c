/*
 * audit.c: GET /v1/audit, the caller's tenant's audit log in chain order (scope audit:read),
 * and the audit metric. Filters: action, actor, target (exact), from/to (unix seconds,
 * YYYY-MM-DD or RFC 3339 UTC; from inclusive, to exclusive); `cursor` continues after the
 * last entry of the previous page; `limit` 1..200 (50).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nova/audit_store.h"

#define AUDIT_PAGE_DEFAULT 50
#define AUDIT_PAGE_MAX 200

static json_t *entry_json(const nova_audit_record_t *e)
{
    char when[21];
    nova_time_format(e->ts / 1000000, when);
    json_t *attrs = json_loads(e->attrs, JSON_REJECT_DUPLICATES, NULL);
    return json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s}", "id", e->id, "seq",
                     (json_int_t)e->seq, "ts", (json_int_t)e->ts, "time", when, "actor", e->actor,
                     "action", e->action, "target", e->target, "decision", e->decision, "attrs",
                     attrs ? attrs : json_string(e->attrs), "prev_hash", e->prev_hash, "row_hash",
                     e->row_hash);
}

/* A decimal in [lo, hi] or false. */
static bool parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end = NULL;
    if (s == NULL || *s == '\0' || strspn(s, "0123456789") != strlen(s) || strlen(s) > 18)
        return false;
    long long v = strtoll(s, &end, 10);
    if (v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static void api_audit_list(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_audit_query_t q = {.tenant_id = r->principal->tenant_id,
                            .action = nova_req_query(r, "action"),
                            .actor = nova_req_query(r, "actor"),
                            .target = nova_req_query(r, "target")};
    const char *from = nova_req_query(r, "from"), *to = nova_req_query(r, "to");
    const char *cursor = nova_req_query(r, "cursor"), *limit = nova_req_query(r, "limit");
    int64_t lim = AUDIT_PAGE_DEFAULT;
    if ((from && nova_audit_parse_time(from, &q.from_ts) != NOVA_OK) ||
        (to && nova_audit_parse_time(to, &q.to_ts) != NOVA_OK)) {
        nova_resp_problem(r, 400, "invalid_request", "Invalid request",
                          "from/to: unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
        return;
    }
    if ((cursor && !parse_int(cursor, 0, INT64_MAX / 2, &q.after_seq)) ||
        (limit && !parse_int(limit, 1, AUDIT_PAGE_MAX, &lim))) {
        nova_resp_problem(r, 400, "invalid_request", "Invalid request",
                          cursor && !parse_int(cursor, 0, INT64_MAX / 2, &q.after_seq)
                              ? "cursor: the next_cursor of a previous page"
                              : "limit: 1..200");
        return;
    }
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    /* One more than asked for tells whether there is a next page. */
    q.limit = (size_t)lim + 1;
    nova_audit_record_t *rows = NULL;
    size_t n = 0;
    nova_status st = nova_store_audit_list(s, &r->arena, &q, &rows, &n);
    if (st) {
        nova_resp_status(r, st, NULL);
        return;
    }
    bool more = n > (size_t)lim;
    if (more)
        n = (size_t)lim;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, entry_json(&rows[i]));
    json_t *o = json_pack("{s:o}", "entries", arr);
    if (more) {
        char next[24];
        snprintf(next, sizeof(next), "%" PRId64, rows[n - 1].seq);
        json_object_set_new(o, "next_cursor", json_string(next));
    } else {
        json_object_set_new(o, "next_cursor", json_null());
    }
    api_reply_json(r, 200, o);
}

nova_status api_audit_register(nova_api_t *api, nova_http_server_t *srv)
{
    return nova_http_route(srv, "GET", "/v1/audit", "audit:read", 0, api_audit_list, api);
}

nova_status api_audit_metrics(nova_buf_t *out)
{
    return nova_buf_printf(out,
                           "# HELP nova_audit_entries_written_total Audit entries committed by "
                           "this process.\n"
                           "# TYPE nova_audit_entries_written_total counter\n"
                           "nova_audit_entries_written_total %" PRIu64 "\n",
                           nova_audit_written_total());
}
