/*
 * server.c: the libmicrohttpd daemon (epoll, internal thread pool), the per-request life
 * cycle, and graceful shutdown.
 *
 * MHD calls the access handler several times per request. The first call only sets up our
 * request (answering then would make MHD drop keep-alive); later calls deliver the body; the
 * last one (*upload_data_size == 0) routes, runs the handler and queues the reply. The one
 * exception is a Content-Length over the limit: that 413 goes out on the first call, so the
 * body is never read and MHD closes the connection. MHD_OPTION_NOTIFY_COMPLETED ends the
 * request: metrics, the access-log line, and freeing the arena.
 */
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
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
#define REQ_ID_MAX 64

/* Our request and what only this file needs to know about it. pub comes first: a nova_req_t
 * pointer handed to handlers converts back with a cast. */
typedef struct http_req {
    nova_req_t pub;
    nova_http_server_t *srv;
    http_match match;
    bool bad_path;
    bool oom;
    bool answered; /* a response was queued */
    size_t metric_slot;
    size_t bytes_out;
    http_path_t segs;
} http_req_t;

/* Returned by the URI log callback as the initial *con_cls when the raw path holds "%00",
 * which MHD decodes to a NUL and so hides from the access handler. */
static char nul_path_marker;

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

/* ---- request life cycle ---- */

/* A path MHD has decoded: must be absolute, with no NUL and no ".." segment. */
static bool path_acceptable(const char *path)
{
    if (path[0] != '/')
        return false;
    for (const char *p = path; (p = strstr(p, "..")) != NULL; p += 2)
        if (p[-1] == '/' && (p[2] == '/' || p[2] == '\0'))
            return false;
    return true;
}

static void req_free(http_req_t *q)
{
    nova_buf_free(&q->pub.body);
    nova_buf_free(&q->pub.resp_body);
    nova_arena_free(&q->pub.arena);
    free(q);
}

static void req_route(nova_http_server_t *s, http_req_t *q)
{
    nova_req_t *r = &q->pub;
    char *copy;
    size_t idx;

    q->match = HTTP_MATCH_NOT_FOUND;
    r->route = HTTP_UNMATCHED;
    r->route_idx_ = -1;
    if (q->bad_path)
        return;
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

/* Routes, authenticates and runs the handler; leaves the reply in r. */
static void req_dispatch(nova_http_server_t *s, http_req_t *q)
{
    nova_req_t *r = &q->pub;

    if (q->bad_path) {
        nova_resp_status(r, NOVA_INVALID, "malformed path");
        return;
    }
    if (r->body_too_large_) {
        nova_resp_status(r, NOVA_TOO_LARGE, NULL);
        return;
    }
    if (q->oom) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return;
    }
    if (q->match == HTTP_MATCH_NOT_FOUND) {
        nova_resp_status(r, NOVA_NOT_FOUND, NULL);
        return;
    }
    if (q->match == HTTP_MATCH_BAD_METHOD) {
        char *allow = http_router_allow(&s->router, &q->segs, &r->arena);
        nova_resp_problem(r, 405, "method_not_allowed", "Method not allowed", NULL);
        if (allow)
            nova_resp_header(r, "Allow", allow);
        return;
    }

    /* Handlers may treat the body as a C string even when there was none. */
    if (!r->body.data && nova_buf_append(&r->body, "", 0) != NOVA_OK) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return;
    }
    const http_route_t *rt = &s->router.routes[r->route_idx_];
    if (rt->scope) {
        /* start() refuses scoped routes without an authenticator; this is belt and braces. */
        if (!s->auth) {
            nova_resp_status(r, NOVA_INTERNAL, NULL);
            return;
        }
        if (!s->auth(r, rt->scope, s->auth_ud)) {
            if (r->status == 0)
                nova_resp_status(r, NOVA_UNAUTHORIZED, NULL);
            return;
        }
    }
    rt->fn(r, rt->ud);
    if (r->status < 100 || r->status > 599) {
        if (r->status != 0)
            nova_log_error("http: %s %s answered status %d", rt->method, rt->pattern, r->status);
        nova_resp_status(r, NOVA_INTERNAL, NULL);
    }
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
    if (atomic_load_explicit(&s->stopping, memory_order_relaxed))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");

    ret = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    if (ret == MHD_YES) {
        q->answered = true;
        q->bytes_out = len;
    }
    return ret;
}

/* First call for a request: set it up, and answer only an announced oversized body. */
static enum MHD_Result req_begin(nova_http_server_t *s, struct MHD_Connection *c, const char *url,
                                 const char *method, bool nul_in_path, void **con_cls)
{
    http_req_t *q = calloc(1, sizeof(*q));
    nova_req_t *r;
    const char *h;

    if (!q)
        return MHD_NO;
    r = &q->pub;
    nova_arena_init(&r->arena, HTTP_ARENA_CHUNK);
    nova_buf_init(&r->body);
    nova_buf_init(&r->resp_body);
    q->srv = s;
    r->conn_ = c;
    r->start_ns_ = nova_time_mono_ns();
    *con_cls = q;
    atomic_fetch_add_explicit(&s->metrics.in_flight, 1, memory_order_relaxed);

    r->method = nova_arena_strdup(&r->arena, method);
    r->path = nova_arena_strdup(&r->arena, url);
    h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-req-id");
    if (req_id_valid(h)) {
        r->req_id = nova_arena_strdup(&r->arena, h);
    } else {
        char *id = nova_arena_alloc(&r->arena, REQ_ID_MAX);
        if (id && nova_id_seq("req", id, REQ_ID_MAX) != NOVA_OK)
            id = NULL;
        r->req_id = id;
    }
    h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "traceparent");
    if (traceparent_valid(h))
        r->traceparent = nova_arena_strdup(&r->arena, h);
    if (!r->method || !r->path || !r->req_id) {
        /* Without these we cannot even log: drop the connection. */
        r->method = r->method ? r->method : "?";
        r->path = NULL;
        r->req_id = r->req_id ? r->req_id : "-";
        r->route = HTTP_UNMATCHED;
        return MHD_NO;
    }

    q->bad_path = nul_in_path || !path_acceptable(r->path);
    req_route(s, q);

    h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (h) {
        errno = 0;
        unsigned long long cl = strtoull(h, NULL, 10);
        if (errno == ERANGE || cl > s->cfg.max_body) {
            r->body_too_large_ = true;
            req_dispatch(s, q);
            return req_reply(s, q, c);
        }
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    nova_http_server_t *s = cls;
    http_req_t *q = *con_cls;
    nova_req_t *r;

    (void)version;
    if (q == NULL || q == (void *)&nul_path_marker)
        return req_begin(s, c, url, method, q != NULL, con_cls);
    r = &q->pub;
    if (q->answered) {
        *upload_data_size = 0; /* the early 413: MHD drops the rest, should it call again */
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        /* Over the limit (chunked, since a Content-Length was checked up front): keep
         * reading and discarding, MHD only lets us answer once the request is complete. */
        if (r->body_too_large_ || q->oom)
            return MHD_YES;
        if (n > s->cfg.max_body - r->body.len) {
            r->body_too_large_ = true;
            nova_buf_free(&r->body);
        } else if (nova_buf_append(&r->body, upload_data, n) != NOVA_OK) {
            q->oom = true;
            nova_buf_free(&r->body);
        }
        return MHD_YES;
    }
    req_dispatch(s, q);
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
    if (!q || q == (void *)&nul_path_marker)
        return;
    uint64_t dur = nova_time_mono_ns() - q->pub.start_ns_;
    q->pub.conn_ = NULL;
    if (q->answered)
        http_metrics_observe(&s->metrics, q->metric_slot, q->pub.method, q->pub.status, dur);
    if (s->cfg.access_log)
        access_log(q, dur, toe != MHD_REQUEST_TERMINATED_COMPLETED_OK);
    req_free(q);
    atomic_fetch_sub_explicit(&s->metrics.in_flight, 1, memory_order_release);
}

/* Sees the raw request target before MHD decodes it. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    for (const char *p = uri; *p && *p != '?'; p++)
        if (p[0] == '%' && p[1] == '0' && p[2] == '0')
            return &nul_path_marker;
    return NULL;
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
    s->quiesced_fd = -1;
    atomic_init(&s->stopping, false);
    if (oom) {
        nova_http_server_free(s);
        return NOVA_NOMEM;
    }
    *out = s;
    return NOVA_OK;
}

nova_status nova_http_route(nova_http_server_t *s, const char *method, const char *pattern,
                            const char *scope, nova_handler_fn fn, void *ud)
{
    if (s->metrics.slots)
        return NOVA_INVALID; /* the router is read without locks once serving */
    nova_status st = http_router_add(&s->router, method, pattern, scope, fn, ud);
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

/* Resolves host:port into a socket address MHD binds to. */
static nova_status resolve(const nova_http_server_t *s, struct sockaddr_storage *ss, bool *ipv6)
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
    *ipv6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return NOVA_OK;
}

nova_status nova_http_server_start(nova_http_server_t *s)
{
    struct sockaddr_storage addr = {0};
    bool ipv6 = false;
    unsigned threads = s->cfg.threads;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    struct MHD_OptionItem opts[5];
    size_t nopts = 0;
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
    st = resolve(s, &addr, &ipv6);
    if (st != NOVA_OK)
        return st;
    http_router_finish(&s->router);
    st = http_metrics_init(&s->metrics, &s->router);
    if (st != NOVA_OK)
        return st;

    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 1;
    }
    if (ipv6)
        flags |= MHD_USE_IPv6;
    if (s->cfg.tls_cert_pem) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            nova_log_error("http: TLS requested but libmicrohttpd lacks TLS support");
            return NOVA_UNAVAILABLE;
        }
        flags |= MHD_USE_TLS;
        opts[nopts++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key};
        opts[nopts++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert};
        /* A trust store makes MHD request (not require) a client certificate. */
        if (s->tls_ca)
            opts[nopts++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, s->tls_ca};
    }
    if (threads > 1)
        opts[nopts++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, threads, NULL};
    opts[nopts] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

    /* The logger goes first so that MHD reports option errors through it too. */
    s->daemon = MHD_start_daemon(flags, (uint16_t)s->cfg.port, NULL, NULL, on_request, s,
                                 MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_TIMEOUT,
                                 s->cfg.connection_timeout, MHD_OPTION_NOTIFY_COMPLETED,
                                 on_completed, s, MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
                                 MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!s->daemon) {
        http_metrics_free(&s->metrics); /* so that a later start may try again */
        nova_log_error("http: cannot listen on %s:%u", s->cfg.host ? s->cfg.host : "*",
                       s->cfg.port);
        return NOVA_UNAVAILABLE;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : s->cfg.port;
    return NOVA_OK;
}

unsigned nova_http_server_port(const nova_http_server_t *s)
{
    return s->port;
}

void nova_http_server_stop(nova_http_server_t *s, unsigned grace_ms)
{
    uint64_t deadline;

    if (!s || !s->daemon)
        return;
    atomic_store(&s->stopping, true);
    s->quiesced_fd = MHD_quiesce_daemon(s->daemon);
    deadline = nova_time_mono_ns() + (uint64_t)grace_ms * 1000000u;
    while (atomic_load_explicit(&s->metrics.in_flight, memory_order_acquire) > 0 &&
           nova_time_mono_ns() < deadline) {
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    /* MHD hands the listen socket back on quiesce; its threads may use it until stopped. */
    if (s->quiesced_fd != MHD_INVALID_SOCKET && s->quiesced_fd >= 0)
        close(s->quiesced_fd);
    s->quiesced_fd = -1;
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
