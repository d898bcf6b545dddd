/*
 * response.c: filling a request's reply, and the one table that maps nova_status to an HTTP
 * status and a problem+json (RFC 9457) code and title.
 */
#include <string.h>

#include "http_internal.h"
#include "nova/log.h"

static const struct {
    int http;
    const char *code;
    const char *title;
} status_table[NOVA_STATUS_COUNT_] = {
    [NOVA_OK] = {200, "ok", "OK"},
    [NOVA_INVALID] = {400, "invalid_request", "Invalid request"},
    [NOVA_NOT_FOUND] = {404, "not_found", "Not found"},
    [NOVA_CONFLICT] = {409, "conflict", "Conflict"},
    [NOVA_UNAUTHORIZED] = {401, "unauthorized", "Unauthorized"},
    [NOVA_FORBIDDEN] = {403, "forbidden", "Forbidden"},
    [NOVA_TOO_LARGE] = {413, "payload_too_large", "Payload too large"},
    [NOVA_UNAVAILABLE] = {503, "unavailable", "Service unavailable"},
    [NOVA_INTERNAL] = {500, "internal", "Internal error"},
    [NOVA_NOMEM] = {500, "internal", "Internal error"},
};

static unsigned table_index(nova_status st)
{
    return (unsigned)st < NOVA_STATUS_COUNT_ ? (unsigned)st : NOVA_INTERNAL;
}

int nova_http_status_for(nova_status st)
{
    return status_table[table_index(st)].http;
}

/* When even the error reply cannot be built, reply a bodiless 500. */
static void resp_oom(nova_req_t *r)
{
    nova_buf_reset(&r->resp_body);
    r->status = 500;
    r->content_type = NULL;
    r->problem_code = "internal";
}

void nova_resp_body(nova_req_t *r, int status, const char *content_type, const char *body, size_t n)
{
    nova_buf_reset(&r->resp_body);
    r->status = status;
    r->problem_code = NULL;
    r->content_type = content_type ? nova_arena_strdup(&r->arena, content_type) : NULL;
    if ((content_type && !r->content_type) ||
        (n && nova_buf_append(&r->resp_body, body, n) != NOVA_OK))
        resp_oom(r);
}

void nova_resp_json(nova_req_t *r, int status, const char *json, size_t n)
{
    nova_resp_body(r, status, "application/json", json, n);
}

void nova_resp_header(nova_req_t *r, const char *name, const char *value)
{
    if (r->resp_nhdr == NOVA_HTTP_MAX_RESP_HEADERS) {
        nova_log_error("http: more than %d response headers, dropped %s",
                       NOVA_HTTP_MAX_RESP_HEADERS, name);
        return;
    }
    const char *n = nova_arena_strdup(&r->arena, name);
    const char *v = nova_arena_strdup(&r->arena, value);
    if (!n || !v)
        return;
    r->resp_hdr_name[r->resp_nhdr] = n;
    r->resp_hdr_value[r->resp_nhdr] = v;
    r->resp_nhdr++;
}

static nova_status append_json_str(nova_buf_t *b, const char *s)
{
    nova_status st = nova_buf_append(b, "\"", 1);
    if (st == NOVA_OK)
        st = nova_buf_append_json_escaped(b, s, strlen(s));
    if (st == NOVA_OK)
        st = nova_buf_append(b, "\"", 1);
    return st;
}

void nova_resp_problem(nova_req_t *r, int status, const char *code, const char *title,
                       const char *detail)
{
    nova_buf_t *b = &r->resp_body;
    nova_status st;

    nova_buf_reset(b);
    r->status = status;
    r->content_type = "application/problem+json";
    r->problem_code = nova_arena_strdup(&r->arena, code);
    if (!r->problem_code)
        goto oom;
    st = nova_buf_append_cstr(b, "{\"type\":\"https://nova.dev/problems/");
    if (st == NOVA_OK)
        st = nova_buf_append_json_escaped(b, code, strlen(code));
    if (st == NOVA_OK)
        st = nova_buf_append_cstr(b, "\",\"title\":");
    if (st == NOVA_OK)
        st = append_json_str(b, title ? title : code);
    if (st == NOVA_OK)
        st = nova_buf_printf(b, ",\"status\":%d", status);
    if (st == NOVA_OK && detail) {
        st = nova_buf_append_cstr(b, ",\"detail\":");
        if (st == NOVA_OK)
            st = append_json_str(b, detail);
    }
    if (st == NOVA_OK)
        st = nova_buf_append_cstr(b, ",\"code\":");
    if (st == NOVA_OK)
        st = append_json_str(b, code);
    if (st == NOVA_OK && r->req_id) {
        st = nova_buf_append_cstr(b, ",\"instance\":");
        if (st == NOVA_OK)
            st = append_json_str(b, r->req_id);
    }
    if (st == NOVA_OK)
        st = nova_buf_append(b, "}", 1);
    if (st == NOVA_OK)
        return;
oom:
    resp_oom(r);
}

void nova_resp_status(nova_req_t *r, nova_status st, const char *detail)
{
    unsigned i = table_index(st == NOVA_OK ? NOVA_INTERNAL : st);
    nova_resp_problem(r, status_table[i].http, status_table[i].code, status_table[i].title, detail);
}
