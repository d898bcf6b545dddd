/*
 * server.c: the per-request life cycle on libmicrohttpd worker daemons, and the server's
 * start and graceful stop (accepting, limits and deadlines are in conn.c).
 *
 * MHD calls the access handler several times per request, and on_uri before all of them:
 *  - on_uri (request line read): the request object, holding the raw path Nova routes on.
 *  - first call (headers read): framing checks, route, method, credentials and body size are
 *    settled here, before any body byte is read. A settled reply (an error) goes out at once
 *    when a body is pending, so MHD never reads it and closes the connection; with no body it
 *    waits for the next call, which keeps the connection alive.
 *  - later calls deliver the body, up to the route's own limit;
 *  - the last call (*upload_data_size == 0) suspends the connection and queues the request
 *    for a handler thread (pool.c), which runs the handler and resumes the connection;
 *  - the call after the resume queues the reply.
 * Between suspend and resume libmicrohttpd leaves the connection alone, so the handler thread
 * may read its headers and TLS session; the worker meanwhile serves its other connections.
 * MHD_OPTION_NOTIFY_COMPLETED ends the request: metrics, the access-log line, freeing the
 * arena, and the connection's next header deadline.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_internal.h"
#include "nova/log.h"

#define DEFAULT_MAX_BODY (1024 * 1024)
#define DEFAULT_CONN_TIMEOUT 30
#define DEFAULT_MAX_CONNECTIONS 4096
#define DEFAULT_MAX_PER_IP 256
#define DEFAULT_HEADER_TIMEOUT 10
#define DEFAULT_BODY_TIMEOUT 10
#define DEFAULT_BODY_MIN_RATE 16384
#define REQ_ID_MAX 64
/* Handler threads by default: handlers mostly wait (the store, Redis, outbound calls), so
 * several per CPU; each keeps its own store connection. */
#define HANDLERS_PER_CPU 8

#define STR_(x) #x
#define XSTR(x) STR_(x)
#define MAX_QUERY_BYTES 4096
#define MAX_QUERY_ARGS 64

/* Our request and what only this file needs to know about it. pub comes first: a nova_req_t
 * pointer handed to handlers converts back with a cast. */
typedef struct http_req {
    nova_req_t pub;
    http_job_t job; /* the handler run, on a handler thread */
    nova_http_server_t *srv;
    http_conn_t *conn;
    http_match match;
    bool begun;          /* the first access-handler call has run */
    bool decided;        /* the reply was settled on the headers alone */
    bool query_too_long; /* the query was hidden from MHD's argument parser */
    bool oom;
    bool answered;   /* a response was queued */
    bool dispatched; /* the handler ran (its reply is in pub); the connection was resumed */
    size_t body_limit;
    size_t metric_slot;
    size_t bytes_out;
    http_path_t segs;
} http_req_t;

const char *nova_req_header(nova_req_t *r, const char *name)
{
    if (!r->conn_ || !name)
        return NULL;
    return MHD_lookup_connection_value(r->conn_, MHD_HEADER_KIND, name);
}

const char *nova_req_query(nova_req_t *r, const char *name)
{
    if (!r->conn_ || !name)
        return NULL;
    return MHD_lookup_connection_value(r->conn_, MHD_GET_ARGUMENT_KIND, name);
}

const char *nova_req_peer_ip(nova_req_t *r)
{
    http_req_t *q = (http_req_t *)r;
    static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char *out;

    if (q->conn == NULL || (out = nova_arena_alloc(&r->arena, INET6_ADDRSTRLEN)) == NULL)
        return NULL;
    bool v4 = memcmp(q->conn->ip, v4mapped, sizeof(v4mapped)) == 0;
    if (inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? q->conn->ip + 12 : q->conn->ip, out,
                  INET6_ADDRSTRLEN) == NULL)
        return NULL;
    return out;
}

/* ---- request ids and trace context ---- */

static bool req_id_valid(const char *s)
{
    size_t n = 0;
    if (!s)
        return false;
    for (; s[n]; n++) {
        char c = s[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok || n == REQ_ID_MAX)
            return false;
    }
    return n > 0;
}

/* n lower-case hex digits, not all '0' unless zero_ok. */
static bool hex_field(const char *s, size_t n, bool zero_ok)
{
    bool nonzero = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
        nonzero |= c != '0';
    }
    return zero_ok || nonzero;
}

/* W3C Trace Context, version 00: "00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>". */
static bool traceparent_valid(const char *s)
{
    return s && strlen(s) == 55 && s[0] == '0' && s[1] == '0' && s[2] == '-' && s[35] == '-' &&
           s[52] == '-' && hex_field(s + 3, 32, false) && hex_field(s + 36, 16, false) &&
           hex_field(s + 53, 2, true);
}

/* ---- framing: what RFC 9112 makes a recipient refuse ---- */

/* RFC 9110 §5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

typedef struct header_scan {
    unsigned host, content_length, transfer_encoding;
    const char *prev_end; /* end of the previous header's value (its terminating NUL) */
    const char *bad;      /* first problem found */
} header_scan;

/* Bytes MHD hides. MHD 0.9.75 measures names and values with strlen, so "X: a<NUL>junk" reaches
 * Nova as "a"; it also takes a bare LF as a line end and joins obs-fold lines. What it keeps
 * is the layout: each header's name and value point into the read buffer, where every line's
 * CR LF became two NULs. So the next line's name starts exactly two bytes after a value's end,
 * and the last value is followed by four NULs (its CR LF and the empty line's). Anything else
 * means bytes after a NUL, a bare LF, or a folded (moved) value: RFC 9112 §2.2 and §5.2 let a
 * server refuse all three, and Nova does. */
static void check_layout(header_scan *h, const char *key)
{
    if (h->prev_end && !h->bad && (key != h->prev_end + 2 || h->prev_end[1] != '\0'))
        h->bad = "NUL byte, bare LF or folded line in the header block";
}

/* Field names are tokens (so "Host : x", whitespace before the colon, is refused: RFC 9112
 * §5.1); values hold no control byte but HTAB (RFC 9110 §5.5). Counts the framing fields. */
static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
    header_scan *h = cls;
    (void)kind;
    check_layout(h, key);
    h->prev_end = value + value_size;
    if (key_size == 0)
        h->bad = h->bad ? h->bad : "empty header name";
    for (size_t i = 0; i < key_size && !h->bad; i++)
        if (!is_tchar((unsigned char)key[i]))
            h->bad = "invalid character in a header name";
    for (size_t i = 0; i < value_size && !h->bad; i++) {
        unsigned char c = (unsigned char)value[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            h->bad = "control character in a header value";
    }
    h->host += strcasecmp(key, "Host") == 0;
    h->content_length += strcasecmp(key, "Content-Length") == 0;
    h->transfer_encoding += strcasecmp(key, "Transfer-Encoding") == 0;
    return MHD_YES;
}

/* Checks the request's framing; on a problem writes the reply (the caller closes) and returns
 * false. *has_body and *length describe the body that follows (length 0 when chunked). */
static bool check_framing(nova_req_t *r, struct MHD_Connection *c, const char *version,
                          bool *has_body, uint64_t *length, bool *chunked)
{
    header_scan h = {0};
    const char *te, *cl;

    *has_body = *chunked = false;
    *length = 0;
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, scan_header, &h);
    if (h.prev_end && !h.bad &&
        (h.prev_end[1] != '\0' || h.prev_end[2] != '\0' || h.prev_end[3] != '\0'))
        h.bad = "NUL byte, bare LF or folded line in the header block";
    if (!h.bad && h.host != 1 && (h.host > 1 || strcmp(version, MHD_HTTP_VERSION_1_1) == 0))
        h.bad = h.host ? "more than one Host header" : "no Host header";
    if (!h.bad && h.content_length > 1)
        h.bad = "more than one Content-Length header";
    if (!h.bad && h.transfer_encoding && h.content_length)
        h.bad = "both Content-Length and Transfer-Encoding";
    if (!h.bad && h.transfer_encoding && strcmp(version, MHD_HTTP_VERSION_1_1) != 0)
        h.bad = "Transfer-Encoding in a request older than HTTP/1.1";
    if (!h.bad && h.transfer_encoding > 1)
        h.bad = "more than one Transfer-Encoding header";
    if (h.bad) {
        nova_resp_problem(r, 400, "malformed_request", "Malformed request", h.bad);
        *has_body = true; /* the framing is in doubt: answer at once, read nothing more */
        return false;
    }
    te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (te) {
        if (strcasecmp(te, "chunked") != 0) {
            nova_resp_problem(r, 501, "unsupported_transfer_coding", "Unsupported transfer coding",
                              "only chunked is accepted");
            *has_body = true;
            return false;
        }
        *has_body = *chunked = true;
        return true;
    }
    cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        /* MHD has already refused what is not a plain decimal number. */
        errno = 0;
        unsigned long long v = strtoull(cl, NULL, 10);
        *length = errno == ERANGE ? UINT64_MAX : v;
        *has_body = *length > 0;
    }
    return true;
}

/* ---- request life cycle ---- */

/* A raw path: absolute, no encoded NUL, and no dot segment ("." or "..", even encoded as
 * %2e), which proxies in front would resolve and Nova would not. */
static bool path_acceptable(const char *path)
{
    if (path[0] != '/' || strstr(path, "%00"))
        return false;
    for (const char *p = path; *p;) {
        size_t dots = 0;
        bool other = false;
        p++; /* past '/' */
        while (*p && *p != '/') {
            if (*p == '.') {
                dots++, p++;
            } else if (p[0] == '%' && p[1] == '2' && (p[2] == 'e' || p[2] == 'E')) {
                dots++, p += 3;
            } else {
                other = true, p++;
            }
        }
        if (!other && (dots == 1 || dots == 2))
            return false;
    }
    return true;
}

static void req_free(http_req_t *q)
{
    nova_buf_free(&q->pub.body);
    nova_buf_free(&q->pub.resp_body);
    nova_arena_free(&q->pub.arena);
    free(q);
}

/* Routes on the raw path: "/v1%2ftenants" is one segment and matches nothing. Parameters are
 * decoded once matched. */
static void req_route(nova_http_server_t *s, http_req_t *q)
{
    nova_req_t *r = &q->pub;
    char *copy;
    size_t idx;

    q->match = HTTP_MATCH_NOT_FOUND;
    r->route = HTTP_UNMATCHED;
    r->route_idx_ = -1;
    copy = nova_arena_strdup(&r->arena, r->path);
    if (!copy) {
        q->oom = true;
        return;
    }
    http_path_split(copy, &q->segs);
    q->match = http_router_match(&s->router, r->method, &q->segs, &idx, r->params, &r->nparams);
    if (q->match != HTTP_MATCH_NOT_FOUND) {
        r->route_idx_ = (int)idx;
        r->route = s->router.routes[idx].pattern;
        q->metric_slot = s->router.routes[idx].metric_slot;
    }
}

/* Everything decided on the request line and headers, before any body byte is read: framing,
 * path, route, method, credentials, body size. True when the reply is already settled. */
static bool req_precheck(nova_http_server_t *s, http_req_t *q, struct MHD_Connection *c,
                         const char *version, bool *has_body)
{
    nova_req_t *r = &q->pub;
    uint64_t length;
    bool chunked;

    if (!check_framing(r, c, version, has_body, &length, &chunked)) {
        nova_resp_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
        return true;
    }
    if (q->query_too_long) {
        nova_resp_problem(r, 414, "uri_too_long", "URI too long",
                          "at most " XSTR(MAX_QUERY_ARGS) " query arguments and " XSTR(
                              MAX_QUERY_BYTES) " bytes of query");
        return true;
    }
    if (!path_acceptable(r->path)) {
        nova_resp_status(r, NOVA_INVALID, "malformed path");
        return true;
    }
    req_route(s, q);
    if (q->oom) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return true;
    }
    if (q->match == HTTP_MATCH_NOT_FOUND) {
        nova_resp_status(r, NOVA_NOT_FOUND, NULL);
        return true;
    }
    if (q->match == HTTP_MATCH_BAD_METHOD) {
        char *allow = http_router_allow(&s->router, &q->segs, &r->arena);
        nova_resp_problem(r, 405, "method_not_allowed", "Method not allowed", NULL);
        if (allow)
            nova_resp_header(r, "Allow", allow);
        return true;
    }
    for (size_t i = 0; i < r->nparams; i++) {
        if (!http_param_decode((char *)r->params[i])) {
            nova_resp_status(r, NOVA_INVALID, "malformed path parameter");
            return true;
        }
    }
    const http_route_t *rt = &s->router.routes[r->route_idx_];
    if (rt->scope) {
        /* start() refuses scoped routes without an authenticator; this is belt and braces. */
        if (!s->auth) {
            nova_resp_status(r, NOVA_INTERNAL, NULL);
            return true;
        }
        if (!s->auth(r, rt->scope, s->auth_ud)) {
            if (r->status == 0)
                nova_resp_status(r, NOVA_UNAUTHORIZED, NULL);
            return true;
        }
    }
    q->body_limit = rt->max_body < s->cfg.max_body ? rt->max_body : s->cfg.max_body;
    if (*has_body && (length > q->body_limit || q->body_limit == 0)) {
        nova_resp_status(r, NOVA_TOO_LARGE,
                         q->body_limit ? NULL : "this route takes no request body");
        return true;
    }
    if (*has_body) {
        uint64_t size = chunked ? q->body_limit : length;
        http_conn_deadline(q->conn, HTTP_PHASE_BODY,
                           (uint64_t)s->cfg.body_timeout * 1000 +
                               size * 1000 / s->cfg.body_min_rate);
    } else {
        http_conn_deadline(q->conn, HTTP_PHASE_BODY, 0);
    }
    return false;
}

/* Runs the handler (the route and the caller are settled); leaves the reply in r. */
static void req_dispatch(nova_http_server_t *s, http_req_t *q)
{
    nova_req_t *r = &q->pub;

    if (r->body_too_large_) {
        nova_resp_status(r, NOVA_TOO_LARGE, NULL);
        return;
    }
    /* Handlers may treat the body as a C string even when there was none. */
    if (q->oom || (!r->body.data && nova_buf_append(&r->body, "", 0) != NOVA_OK)) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return;
    }
    /* The authenticator's second step, for credentials that sign the body too. */
    if (r->body_check && !r->body_check(r, r->body_check_ud)) {
        if (r->status == 0)
            nova_resp_status(r, NOVA_UNAUTHORIZED, NULL);
        return;
    }
    const http_route_t *rt = &s->router.routes[r->route_idx_];
    rt->fn(r, rt->ud);
    if (r->status < 100 || r->status > 599) {
        if (r->status != 0)
            nova_log_error("http: %s %s answered status %d", rt->method, rt->pattern, r->status);
        nova_resp_status(r, NOVA_INTERNAL, NULL);
    }
}

/* On a handler thread: runs the handler, then hands the connection back to its worker, which
 * calls on_request again to send the reply. */
static void req_run(http_job_t *j)
{
    http_req_t *q = (http_req_t *)((char *)j - offsetof(http_req_t, job));
    struct MHD_Connection *c = q->pub.conn_;

    req_dispatch(q->srv, q);
    q->dispatched = true;
    MHD_resume_connection(c);
}

/* A request still queued when the server stops: answered 503 (libmicrohttpd refuses to stop
 * with a connection suspended, so each is resumed). */
static void req_drop(http_job_t *j)
{
    http_req_t *q = (http_req_t *)((char *)j - offsetof(http_req_t, job));

    nova_resp_status(&q->pub, NOVA_UNAVAILABLE, "the server is stopping");
    q->dispatched = true;
    MHD_resume_connection(q->pub.conn_);
}

static bool has_resp_header(const nova_req_t *r, const char *name)
{
    for (size_t i = 0; i < r->resp_nhdr; i++)
        if (strcasecmp(r->resp_hdr_name[i], name) == 0)
            return true;
    return false;
}

/* Turns the reply in r into an MHD response and queues it. */
static enum MHD_Result req_reply(nova_http_server_t *s, http_req_t *q, struct MHD_Connection *c)
{
    nova_req_t *r = &q->pub;
    struct MHD_Response *resp;
    size_t len = r->resp_body.len;
    enum MHD_Result ret;

    if (len) {
        char *data = nova_buf_steal(&r->resp_body);
        resp = MHD_create_response_from_buffer_with_free_callback(len, data, free);
        if (!resp)
            free(data);
    } else {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!resp)
        return MHD_NO;

    if (r->content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    MHD_add_response_header(resp, "x-req-id", r->req_id);
    if (r->traceparent)
        MHD_add_response_header(resp, "traceparent", r->traceparent);
    /* Handlers may allow caching (public keys, ...); everything else is never stored. */
    if (!has_resp_header(r, MHD_HTTP_HEADER_CACHE_CONTROL))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    for (size_t i = 0; i < r->resp_nhdr; i++)
        if (MHD_add_response_header(resp, r->resp_hdr_name[i], r->resp_hdr_value[i]) != MHD_YES)
            nova_log_warn("http: response header %s refused", r->resp_hdr_name[i]);
    if (atomic_load_explicit(&s->stopping, memory_order_relaxed) &&
        !has_resp_header(r, MHD_HTTP_HEADER_CONNECTION))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");

    ret = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    if (ret == MHD_YES) {
        q->answered = true;
        q->bytes_out = len;
    }
    return ret;
}

/* First access-handler call: the headers are in. Settles what can be settled without the body;
 * a settled reply goes out at once when a body is pending (MHD then never reads the body and
 * closes the connection), else on the next call (which keeps the connection alive). */
static enum MHD_Result req_begin(nova_http_server_t *s, http_req_t *q, struct MHD_Connection *c,
                                 const char *method, const char *version)
{
    nova_req_t *r = &q->pub;
    const char *h;
    bool has_body = false;

    q->begun = true;
    r->method = nova_arena_strdup(&r->arena, method);
    h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-req-id");
    if (req_id_valid(h))
        r->req_id = nova_arena_strdup(&r->arena, h);
    h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "traceparent");
    if (traceparent_valid(h))
        r->traceparent = nova_arena_strdup(&r->arena, h);
    if (!r->method || !r->req_id) {
        r->method = r->method ? r->method : "?";
        r->req_id = r->req_id ? r->req_id : "-";
        return MHD_NO; /* without these we cannot even log: drop the connection */
    }
    q->decided = req_precheck(s, q, c, version, &has_body);
    if (q->decided && has_body)
        return req_reply(s, q, c);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    nova_http_server_t *s = cls;
    http_req_t *q = *con_cls;
    nova_req_t *r;

    (void)url; /* decoded by MHD; Nova routes on the raw path that on_uri kept */
    if (q == NULL)
        return MHD_NO; /* on_uri could not allocate */
    if (!q->begun)
        return req_begin(s, q, c, method, version);
    r = &q->pub;
    if (q->answered) {
        *upload_data_size = 0; /* the early reply: MHD drops the rest, should it call again */
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        /* Over the limit (chunked, since a Content-Length was checked up front): keep
         * reading and discarding, MHD only lets us answer once the request is complete; the
         * body deadline bounds how long that takes. */
        if (r->body_too_large_ || q->oom)
            return MHD_YES;
        if (n > q->body_limit - r->body.len) {
            r->body_too_large_ = true;
            nova_buf_free(&r->body);
        } else if (nova_buf_append(&r->body, upload_data, n) != NOVA_OK) {
            q->oom = true;
            nova_buf_free(&r->body);
        }
        return MHD_YES;
    }
    http_conn_deadline(q->conn, HTTP_PHASE_BODY, 0);
    if (!q->decided && !q->dispatched) {
        /* Suspended before it is queued: the handler thread may resume it at once. */
        MHD_suspend_connection(c);
        http_pool_push(&s->pool, &q->job);
        return MHD_YES;
    }
    return req_reply(s, q, c);
}

/* ---- completion: metrics, access log, free ---- */

static void log_str(nova_buf_t *b, const char *key, const char *v)
{
    if (!v)
        return;
    nova_buf_printf(b, ",\"%s\":\"", key);
    nova_buf_append_json_escaped(b, v, strlen(v));
    nova_buf_append(b, "\"", 1);
}

/* One line per request: ids, route pattern, outcome. Never headers, query, bodies, tokens. */
static void access_log(const http_req_t *q, uint64_t dur_ns, bool aborted)
{
    const nova_req_t *r = &q->pub;
    nova_buf_t b;
    char trace_id[33];

    nova_buf_init(&b);
    nova_buf_append_cstr(&b, "\"req_id\":\"");
    nova_buf_append_json_escaped(&b, r->req_id, strlen(r->req_id));
    nova_buf_append(&b, "\"", 1);
    log_str(&b, "method", r->method);
    log_str(&b, "route", r->route ? r->route : HTTP_UNMATCHED);
    nova_buf_printf(&b, ",\"status\":%d,\"dur_us\":%llu,\"bytes_out\":%zu",
                    q->answered ? r->status : 0, (unsigned long long)(dur_ns / 1000), q->bytes_out);
    if (r->traceparent) {
        memcpy(trace_id, r->traceparent + 3, 32);
        trace_id[32] = '\0';
        log_str(&b, "trace_id", trace_id);
    }
    if (r->principal) {
        log_str(&b, "tenant", r->principal->tenant_id);
        log_str(&b, "client", r->principal->client_id);
    }
    if (q->answered)
        log_str(&b, "problem", r->problem_code);
    if (aborted)
        nova_buf_append_cstr(&b, ",\"aborted\":true");
    if (b.data)
        nova_log_json(NOVA_LOG_INFO, "http", b.data);
    nova_buf_free(&b);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    nova_http_server_t *s = cls;
    http_req_t *q = *con_cls;

    (void)c;
    *con_cls = NULL;
    if (!q)
        return;
    uint64_t dur = nova_time_mono_ns() - q->pub.start_ns_;
    q->pub.conn_ = NULL;
    if (q->answered) {
        http_metrics_observe(&s->metrics, q->metric_slot, q->pub.method, q->pub.status, dur);
        if (q->conn)
            atomic_fetch_add_explicit(&s->metrics.worker_requests[q->conn->worker], 1,
                                      memory_order_relaxed);
    }
    /* A kept-alive connection now waits for its next request's headers. */
    http_conn_deadline(q->conn, HTTP_PHASE_HEADERS, (uint64_t)s->cfg.header_timeout * 1000);
    if (s->cfg.access_log && q->begun)
        access_log(q, dur, toe != MHD_REQUEST_TERMINATED_COMPLETED_OK);
    req_free(q);
    atomic_fetch_sub_explicit(&s->metrics.in_flight, 1, memory_order_release);
}

/* Sees the raw request target before MHD decodes it, once per request: sets the request up
 * (its *con_cls) with the raw path, on which Nova routes. A query past the limits is hidden
 * from MHD's argument parser (which otherwise fills the connection's memory pool and stalls,
 * answering nothing for the whole idle timeout) and refused with 414 once the headers are in. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    nova_http_server_t *s = cls;
    http_req_t *q = calloc(1, sizeof(*q));
    nova_req_t *r;

    if (!q)
        return NULL;
    r = &q->pub;
    nova_arena_init(&r->arena, HTTP_ARENA_CHUNK);
    nova_buf_init(&r->body);
    nova_buf_init(&r->resp_body);
    q->srv = s;
    q->job.run = req_run;
    q->conn = http_conn_of(c);
    r->conn_ = c;
    r->start_ns_ = nova_time_mono_ns();
    r->route = HTTP_UNMATCHED;
    r->route_idx_ = -1;
    atomic_fetch_add_explicit(&s->metrics.in_flight, 1, memory_order_relaxed);

    const char *qm = strchr(uri, '?');
    size_t plen = qm ? (size_t)(qm - uri) : strlen(uri);
    char *path = nova_arena_alloc(&r->arena, plen + 1);
    char *id = nova_arena_alloc(&r->arena, REQ_ID_MAX);
    if (path) {
        memcpy(path, uri, plen);
        path[plen] = '\0';
    }
    if (id && nova_id_seq("req", id, REQ_ID_MAX) != NOVA_OK)
        id = NULL;
    r->path = path ? path : "";
    /* Kept before MHD decodes the arguments in place: API-key signatures cover it as sent. */
    r->query = qm ? nova_arena_strdup(&r->arena, qm + 1) : NULL;
    r->req_id = id;
    if (qm) {
        size_t args = 1, len = strlen(qm + 1);
        for (const char *p = qm + 1; *p; p++)
            args += *p == '&';
        if (len > MAX_QUERY_BYTES || args > MAX_QUERY_ARGS) {
            q->query_too_long = true;
            /* MHD parses the arguments from just after the '?' in this same buffer, right
             * after this callback; an empty string leaves it nothing to parse. */
            ((char *)qm)[1] = '\0';
        }
    }
    return q;
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    int n;

    (void)cls;
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (n < 0)
        return;
    n = (size_t)n < sizeof(msg) ? n : (int)sizeof(msg) - 1;
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    nova_log_warn("mhd: %s", msg);
}

/* ---- server ---- */

static char *dup_or_null(const char *s, bool *oom)
{
    char *d;
    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        *oom = true;
    return d;
}

nova_status nova_http_server_new(const nova_http_config_t *cfg, nova_http_server_t **out)
{
    nova_http_server_t *s;
    bool oom = false;

    *out = NULL;
    if (!cfg || cfg->port > 65535 || (!cfg->tls_cert_pem != !cfg->tls_key_pem) ||
        (cfg->tls_client_ca_pem && !cfg->tls_cert_pem))
        return NOVA_INVALID;
    s = calloc(1, sizeof(*s));
    if (!s)
        return NOVA_NOMEM;
    s->cfg = *cfg;
    s->host = dup_or_null(cfg->host, &oom);
    s->tls_cert = dup_or_null(cfg->tls_cert_pem, &oom);
    s->tls_key = dup_or_null(cfg->tls_key_pem, &oom);
    s->tls_ca = dup_or_null(cfg->tls_client_ca_pem, &oom);
    s->cfg.host = s->host;
    s->cfg.tls_cert_pem = s->tls_cert;
    s->cfg.tls_key_pem = s->tls_key;
    s->cfg.tls_client_ca_pem = s->tls_ca;
    if (s->cfg.max_body == 0)
        s->cfg.max_body = DEFAULT_MAX_BODY;
    if (s->cfg.connection_timeout == 0)
        s->cfg.connection_timeout = DEFAULT_CONN_TIMEOUT;
    if (s->cfg.max_connections == 0)
        s->cfg.max_connections = DEFAULT_MAX_CONNECTIONS;
    if (s->cfg.max_connections_per_ip == 0)
        s->cfg.max_connections_per_ip = DEFAULT_MAX_PER_IP;
    if (s->cfg.header_timeout == 0)
        s->cfg.header_timeout = DEFAULT_HEADER_TIMEOUT;
    if (s->cfg.body_timeout == 0)
        s->cfg.body_timeout = DEFAULT_BODY_TIMEOUT;
    if (s->cfg.body_min_rate == 0)
        s->cfg.body_min_rate = DEFAULT_BODY_MIN_RATE;
    s->listen_fd = s->wake_fd = -1;
    atomic_init(&s->stopping, false);
    if (oom) {
        nova_http_server_free(s);
        return NOVA_NOMEM;
    }
    *out = s;
    return NOVA_OK;
}

nova_status nova_http_route(nova_http_server_t *s, const char *method, const char *pattern,
                            const char *scope, size_t max_body, nova_handler_fn fn, void *ud)
{
    if (s->metrics.slots)
        return NOVA_INVALID; /* the router is read without locks once serving */
    nova_status st = http_router_add(&s->router, method, pattern, scope, max_body, fn, ud);
    if (st != NOVA_OK)
        nova_log_error("http: cannot add route %s %s: %s", method ? method : "(null)",
                       pattern ? pattern : "(null)", nova_status_name(st));
    return st;
}

void nova_http_set_authenticator(nova_http_server_t *s, nova_authenticator_fn fn, void *ud)
{
    s->auth = fn;
    s->auth_ud = ud;
}

/* Stops the acceptor, the handler threads (a running handler finishes; a queued request is
 * answered 503) and the workers (MHD closes their connections, which empties the connection
 * table), then frees the table. */
static void stop_workers(nova_http_server_t *s)
{
    http_accept_stop(s);
    http_pool_stop(&s->pool, req_drop);
    s->metrics.pool = NULL;
    for (size_t i = 0; s->workers && i < s->nworkers; i++)
        if (s->workers[i].daemon)
            MHD_stop_daemon(s->workers[i].daemon);
    free(s->workers);
    s->workers = NULL;
    s->nworkers = 0;
    http_conns_free(&s->conns);
}

/* Resolves host:port into the socket address to listen on. */
static nova_status resolve(const nova_http_server_t *s, struct sockaddr_storage *ss, socklen_t *len)
{
    struct addrinfo hints = {0}, *res = NULL;
    char port[8];
    int rc;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%u", s->cfg.port);
    rc = getaddrinfo(s->cfg.host && *s->cfg.host ? s->cfg.host : NULL, port, &hints, &res);
    if (rc != 0 || !res) {
        nova_log_error("http: cannot resolve %s: %s", s->cfg.host ? s->cfg.host : "*",
                       gai_strerror(rc));
        return NOVA_INVALID;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return NOVA_OK;
}

static unsigned cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

/* One worker: an MHD daemon with its own epoll thread and no listening socket of its own. */
static struct MHD_Daemon *start_worker(nova_http_server_t *s)
{
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                     MHD_USE_NO_LISTEN_SOCKET;
    struct MHD_OptionItem opts[4];
    size_t nopts = 0;

    if (s->cfg.tls_cert_pem) {
        flags |= MHD_USE_TLS;
        opts[nopts++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key};
        opts[nopts++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert};
        /* A trust store makes MHD request (not require) a client certificate. */
        if (s->tls_ca)
            opts[nopts++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, s->tls_ca};
    }
    opts[nopts] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    /* The logger goes first so that MHD reports option errors through it too. MHD's own
     * connection limit sits above Nova's, which the acceptor enforces. */
    return MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
        MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.connection_timeout, MHD_OPTION_CONNECTION_LIMIT,
        s->cfg.max_connections + 16u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, http_conn_notify, s, MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
        MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
}

nova_status nova_http_server_start(nova_http_server_t *s)
{
    struct sockaddr_storage addr = {0};
    socklen_t alen = 0;
    unsigned threads = s->cfg.threads;
    nova_status st;

    if (s->metrics.slots)
        return NOVA_INVALID; /* started once already */
    for (size_t i = 0; i < s->router.n; i++) {
        if (s->router.routes[i].scope && !s->auth) {
            nova_log_error("http: route %s %s has a scope but no authenticator is set",
                           s->router.routes[i].method, s->router.routes[i].pattern);
            return NOVA_INVALID;
        }
    }
    if (s->cfg.tls_cert_pem && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        nova_log_error("http: TLS requested but libmicrohttpd lacks TLS support");
        return NOVA_UNAVAILABLE;
    }
    st = resolve(s, &addr, &alen);
    if (st != NOVA_OK)
        return st;
    if (threads == 0)
        threads = cpus();
    http_router_finish(&s->router);
    st = http_metrics_init(&s->metrics, &s->router, threads);
    if (st != NOVA_OK)
        return st;
    s->workers = calloc(threads, sizeof(*s->workers));
    if (!s->workers) {
        st = NOVA_NOMEM;
        goto fail;
    }
    s->nworkers = threads;
    st = http_pool_start(&s->pool, s->cfg.handler_threads ? s->cfg.handler_threads
                                                          : HANDLERS_PER_CPU * cpus());
    if (st != NOVA_OK)
        goto fail;
    s->metrics.pool = &s->pool;
    st = http_listen(s, (struct sockaddr *)&addr, alen);
    if (st != NOVA_OK)
        goto fail;
    for (size_t i = 0; i < s->nworkers; i++) {
        s->workers[i].daemon = start_worker(s);
        if (!s->workers[i].daemon) {
            nova_log_error("http: cannot start worker %zu", i);
            st = NOVA_UNAVAILABLE;
            goto fail;
        }
    }
    st = http_accept_start(s);
    if (st == NOVA_OK)
        return NOVA_OK;
fail:
    stop_workers(s);
    http_metrics_free(&s->metrics); /* so that a later start may try again */
    return st;
}

unsigned nova_http_server_port(const nova_http_server_t *s)
{
    return s->port;
}

void nova_http_server_stop(nova_http_server_t *s, unsigned grace_ms)
{
    uint64_t deadline;

    if (!s || !s->workers)
        return;
    atomic_store(&s->stopping, true);
    http_accept_stop(s); /* closes the listening socket: the kernel refuses new connections */
    deadline = nova_time_mono_ns() + (uint64_t)grace_ms * 1000000u;
    while (atomic_load_explicit(&s->metrics.in_flight, memory_order_acquire) > 0 &&
           nova_time_mono_ns() < deadline) {
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    stop_workers(s);
}

void nova_http_server_free(nova_http_server_t *s)
{
    if (!s)
        return;
    nova_http_server_stop(s, 0);
    http_router_free(&s->router);
    http_metrics_free(&s->metrics);
    free(s->host);
    free(s->tls_cert);
    free(s->tls_key);
    free(s->tls_ca);
    free(s);
}

void nova_http_metrics_handler(nova_req_t *r, void *server)
{
    nova_http_server_t *s = server;
    nova_buf_t b;

    nova_buf_init(&b);
    if (http_metrics_render(&s->metrics, &b) != NOVA_OK) {
        nova_buf_free(&b);
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return;
    }
    nova_buf_free(&r->resp_body);
    r->resp_body = b;
    r->status = 200;
    r->content_type = "text/plain; version=0.0.4";
    r->problem_code = NULL;
}
