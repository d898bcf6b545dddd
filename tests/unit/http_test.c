/*
 * http_test.c: starts real servers on 127.0.0.1 (ephemeral ports) and talks HTTP/1.1 to them
 * over plain sockets (and over GnuTLS for the mTLS case). Also unit-tests the router and the
 * header validators through the included sources.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "nova/http.h"
#include "nova/log.h"

/* Reach the statics (validators, the per-address table) of the server. */
#include "../../src/http/conn.c"
#include "../../src/http/server.c"

#ifdef NOVA_HAVE_GNUTLS
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#endif

#define MAX_BODY 1024

/* ---- a tiny blocking HTTP/1.1 client ---- */

typedef struct conn {
    int fd;
    char buf[256 * 1024];
    size_t len;
#ifdef NOVA_HAVE_GNUTLS
    gnutls_session_t tls;
    gnutls_certificate_credentials_t cred;
#endif
} conn_t;

typedef struct resp {
    int status;
    char head[8192]; /* status line + headers, NUL-terminated */
    char *body;      /* NUL-terminated, malloc'd */
    size_t body_len;
} resp_t;

static conn_t *conn_open(unsigned port)
{
    conn_t *c = calloc(1, sizeof(*c));
    struct sockaddr_in sa = {0};
    struct timeval tv = {5, 0};
    int one = 1;

    assert_non_null(c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(c->fd);
        free(c);
        return NULL;
    }
    return c;
}

static void conn_close(conn_t *c)
{
    if (!c)
        return;
#ifdef NOVA_HAVE_GNUTLS
    if (c->tls) {
        gnutls_bye(c->tls, GNUTLS_SHUT_RDWR);
        gnutls_deinit(c->tls);
        gnutls_certificate_free_credentials(c->cred);
    }
#endif
    close(c->fd);
    free(c);
}

static ssize_t conn_write(conn_t *c, const void *p, size_t n)
{
#ifdef NOVA_HAVE_GNUTLS
    if (c->tls)
        return gnutls_record_send(c->tls, p, n);
#endif
    return send(c->fd, p, n, MSG_NOSIGNAL);
}

static ssize_t conn_read(conn_t *c, void *p, size_t n)
{
#ifdef NOVA_HAVE_GNUTLS
    if (c->tls) {
        ssize_t r = gnutls_record_recv(c->tls, p, n);
        return r == GNUTLS_E_PREMATURE_TERMINATION ? 0 : r;
    }
#endif
    return recv(c->fd, p, n, 0);
}

static void conn_send(conn_t *c, const char *data, size_t n)
{
    while (n) {
        ssize_t w = conn_write(c, data, n);
        assert_true(w > 0);
        data += w;
        n -= (size_t)w;
    }
}

static void conn_sendf(conn_t *c, const char *fmt, ...)
{
    char buf[16384];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof(buf));
    conn_send(c, buf, (size_t)n);
}

/* Reads more bytes into c->buf; returns false at EOF or error. */
static bool conn_fill(conn_t *c)
{
    if (c->len == sizeof(c->buf))
        return false;
    ssize_t r = conn_read(c, c->buf + c->len, sizeof(c->buf) - c->len);
    if (r <= 0)
        return false;
    c->len += (size_t)r;
    return true;
}

static void conn_consume(conn_t *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

static const char *resp_header(const resp_t *r, const char *name)
{
    static __thread char val[1024];
    size_t nl = strlen(name);
    const char *p = strstr(r->head, "\r\n");

    while (p && p[2]) {
        const char *line = p + 2;
        const char *eol = strstr(line, "\r\n");
        if (!eol)
            eol = line + strlen(line);
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = (size_t)(eol - v);
            if (vl >= sizeof(val))
                vl = sizeof(val) - 1;
            memcpy(val, v, vl);
            val[vl] = '\0';
            return val;
        }
        p = eol[0] ? eol : NULL;
    }
    return NULL;
}

/* Reads one response (Content-Length bodies only, as MHD sends for buffers). head_req: the
 * request was HEAD, so no body follows. Returns false if the peer closed first. */
static bool conn_recv_resp(conn_t *c, resp_t *r, bool head_req)
{
    char *end;
    memset(r, 0, sizeof(*r));
    for (;;) {
        c->buf[c->len < sizeof(c->buf) ? c->len : sizeof(c->buf) - 1] = '\0';
        end = c->len ? strstr(c->buf, "\r\n\r\n") : NULL;
        if (end)
            break;
        if (!conn_fill(c))
            return false;
    }
    size_t hl = (size_t)(end - c->buf) + 2;
    assert_true(hl < sizeof(r->head));
    memcpy(r->head, c->buf, hl);
    r->head[hl] = '\0';
    conn_consume(c, hl + 2);
    assert_int_equal(sscanf(r->head, "HTTP/1.1 %d", &r->status), 1);
    const char *cl = resp_header(r, "content-length");
    size_t n = cl && !head_req ? strtoul(cl, NULL, 10) : 0;
    while (c->len < n)
        assert_true(conn_fill(c));
    r->body = malloc(n + 1);
    memcpy(r->body, c->buf, n);
    r->body[n] = '\0';
    r->body_len = n;
    conn_consume(c, n);
    return true;
}

static void resp_free(resp_t *r)
{
    free(r->body);
    r->body = NULL;
}

/* True once the server has closed the connection (no more bytes, EOF). */
static bool conn_closed_by_peer(conn_t *c)
{
    char b[64];
    ssize_t r = conn_read(c, b, sizeof(b));
    return r == 0 || (r < 0 && errno == ECONNRESET);
}

/* One request on a fresh connection. */
static void http_req(unsigned port, resp_t *r, const char *fmt, ...)
{
    char buf[16384];
    va_list ap;
    conn_t *c = conn_open(port);
    assert_non_null(c);
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof(buf));
    conn_send(c, buf, (size_t)n);
    assert_true(conn_recv_resp(c, r, strncmp(buf, "HEAD ", 5) == 0));
    conn_close(c);
}

static void http_get(unsigned port, const char *path, resp_t *r)
{
    http_req(port, r, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
}

/* ---- the test server ---- */

typedef struct fixture {
    nova_http_server_t *srv;
    unsigned port;
    int log_fd;
    char log_path[64];
} fixture_t;

static fixture_t F;

static void h_hello(nova_req_t *r, void *ud)
{
    (void)ud;
    nova_resp_body(r, 200, "text/plain", "hello", 5);
}

static void h_client(nova_req_t *r, void *ud)
{
    char buf[256];
    (void)ud;
    int n = snprintf(buf, sizeof(buf), "{\"id\":\"%s\",\"n\":%zu}", r->params[0], r->nparams);
    nova_resp_json(r, 200, buf, (size_t)n);
}

static void h_me(nova_req_t *r, void *ud)
{
    (void)ud;
    nova_resp_json(r, 200, "{\"me\":true}", 11);
}

static void h_keys(nova_req_t *r, void *ud)
{
    char buf[512];
    (void)ud;
    int n = snprintf(buf, sizeof(buf), "%s|%s|%zu|%s", r->params[0], r->params[1], r->nparams,
                     r->route);
    nova_resp_body(r, 201, "text/plain", buf, (size_t)n);
}

/* A "{name*}" catch-all: the path, the parameters before it, the route. */
static void h_rest(nova_req_t *r, void *ud)
{
    char buf[512];
    (void)ud;
    int n = snprintf(buf, sizeof(buf), "%s|%zu|%s|%s", r->path, r->nparams,
                     r->nparams ? r->params[0] : "-", r->route);
    nova_resp_body(r, 200, "text/plain", buf, (size_t)n);
}

static void h_echo(nova_req_t *r, void *ud)
{
    (void)ud;
    assert_non_null(r->body.data);
    assert_int_equal(strlen(r->body.data), r->body.len);
    nova_resp_body(r, 200, "application/octet-stream", r->body.data, r->body.len);
}

static void h_hdr(nova_req_t *r, void *ud)
{
    char buf[512];
    const char *h = nova_req_header(r, "X-Test");
    const char *q = nova_req_query(r, "q");
    (void)ud;
    int n = snprintf(buf, sizeof(buf), "%s|%s|%s", h ? h : "-", q ? q : "-", r->path);
    nova_resp_body(r, 200, "text/plain", buf, (size_t)n);
    nova_resp_header(r, "x-extra", "yes");
}

static void h_nostatus(nova_req_t *r, void *ud)
{
    (void)r;
    (void)ud;
}

static void h_status(nova_req_t *r, void *ud)
{
    (void)ud;
    nova_resp_status(r, (nova_status)atoi(r->params[0]), "some detail \"quoted\"");
}

/* The slow handler says when it is in (the tests stop the server only then, rather than
 * after a guessed sleep) and when it is done. */
static atomic_int slow_entered, slow_done;

static void h_slow(nova_req_t *r, void *ud)
{
    struct timespec ts = {0, 300 * 1000 * 1000};
    (void)ud;
    atomic_store(&slow_entered, 1);
    nanosleep(&ts, NULL);
    atomic_store(&slow_done, 1);
    nova_resp_body(r, 200, "text/plain", "slow", 4);
}

/* Waits (bounded, about 10 s) until the slow handler has been entered. */
static void wait_slow_entered(void)
{
    struct timespec ts = {0, 5 * 1000 * 1000};
    for (int i = 0; i < 2000 && !atomic_load(&slow_entered); i++)
        nanosleep(&ts, NULL);
    assert_true(atomic_load(&slow_entered));
}

static void h_private(nova_req_t *r, void *ud)
{
    char buf[256];
    (void)ud;
    int n = snprintf(buf, sizeof(buf), "%s/%s", r->principal->tenant_id, r->principal->client_id);
    nova_resp_body(r, 200, "text/plain", buf, (size_t)n);
}

static void h_cached(nova_req_t *r, void *ud)
{
    (void)ud;
    nova_resp_header(r, "Cache-Control", "public, max-age=60");
    nova_resp_json(r, 200, "{}", 2);
}

/* The second step of an authenticator whose credential covers the body: it sees the whole
 * body (and the raw query) before the handler runs, and may still refuse. */
static bool check_body(nova_req_t *r, void *ud)
{
    assert_ptr_equal(ud, &F);
    if (strcmp(r->body.data, "signed") != 0 || !r->query || strcmp(r->query, "a=%41&b") != 0) {
        nova_resp_problem(r, 401, "bad_signature", "Unauthorized", "body or query changed");
        return false;
    }
    return true;
}

static bool authenticate(nova_req_t *r, const char *scope, void *ud)
{
    const char *h = nova_req_header(r, "authorization");
    (void)ud;
    if (!h || strcmp(h, "Bearer good") != 0) {
        nova_resp_problem(r, 401, "unauthorized", "Unauthorized", "bad token");
        nova_resp_header(r, "WWW-Authenticate", "Bearer");
        return false;
    }
    if (strcmp(scope, "admin") == 0) {
        nova_resp_status(r, NOVA_FORBIDDEN, NULL);
        return false;
    }
    if (strcmp(scope, "silent") == 0)
        return false; /* writes nothing: the server must still refuse */
    if (strcmp(scope, "body") == 0) {
        r->body_check = check_body;
        r->body_check_ud = &F;
    }
    nova_principal_t *p = nova_arena_alloc(&r->arena, sizeof(*p));
    memset(p, 0, sizeof(*p));
    p->tenant_id = "t_1";
    p->client_id = "c_1";
    r->principal = p;
    return true;
}

static void add_routes(nova_http_server_t *s)
{
    assert_int_equal(nova_http_route(s, "GET", "/hello", NULL, 0, h_hello, NULL), NOVA_OK);
    assert_int_equal(nova_http_route(s, "GET", "/v1/clients/{id}", NULL, 0, h_client, NULL),
                     NOVA_OK);
    /* registered after the {id} route on purpose: the literal must still win */
    assert_int_equal(nova_http_route(s, "GET", "/v1/clients/me", NULL, 0, h_me, NULL), NOVA_OK);
    assert_int_equal(
        nova_http_route(s, "POST", "/v1/clients/{id}/keys/{kid}", NULL, 0, h_keys, NULL), NOVA_OK);
    assert_int_equal(nova_http_route(s, "GET", "/rest/{t}/{tail*}", NULL, 0, h_rest, NULL),
                     NOVA_OK);
    /* an exact shape under the catch-all's prefix wins, whatever the order */
    assert_int_equal(nova_http_route(s, "GET", "/rest/{t}/exact", NULL, 0, h_hello, NULL), NOVA_OK);
    assert_int_equal(nova_http_route(s, "POST", "/echo", NULL, MAX_BODY, h_echo, NULL), NOVA_OK);
    assert_int_equal(nova_http_route(s, "PUT", "/echo", NULL, MAX_BODY, h_echo, NULL), NOVA_OK);
    assert_int_equal(nova_http_route(s, "GET", "/hdr", NULL, 0, h_hdr, NULL), NOVA_OK);
    assert_int_equal(nova_http_route(s, "GET", "/nostatus", NULL, 0, h_nostatus, NULL), NOVA_OK);
    assert_int_equal(nova_http_route(s, "GET", "/status/{st}", NULL, 0, h_status, NULL), NOVA_OK);
    assert_int_equal(nova_http_route(s, "GET", "/slow", NULL, 0, h_slow, NULL), NOVA_OK);
    assert_int_equal(nova_http_route(s, "GET", "/cached", NULL, 0, h_cached, NULL), NOVA_OK);
    assert_int_equal(nova_http_route(s, "GET", "/private", "read", 0, h_private, NULL), NOVA_OK);
    assert_int_equal(nova_http_route(s, "GET", "/admin", "admin", 0, h_private, NULL), NOVA_OK);
    assert_int_equal(nova_http_route(s, "GET", "/silent", "silent", 0, h_private, NULL), NOVA_OK);
    assert_int_equal(nova_http_route(s, "POST", "/signed", "body", MAX_BODY, h_echo, NULL),
                     NOVA_OK);
    assert_int_equal(nova_http_route(s, "GET", "/metrics", NULL, 0, nova_http_metrics_handler, s),
                     NOVA_OK);
    nova_http_set_authenticator(s, authenticate, NULL);
}

static int setup(void **state)
{
    nova_http_config_t cfg = {
        .host = "127.0.0.1",
        .port = 0,
        .threads = 2,
        .max_body = MAX_BODY,
        .access_log = true,
        .connection_timeout = 10,
    };
    (void)state;
    snprintf(F.log_path, sizeof(F.log_path), "/tmp/nova_http_test_log.XXXXXX");
    F.log_fd = mkstemp(F.log_path);
    assert_true(F.log_fd >= 0);
    nova_log_set_fd(F.log_fd);
    assert_int_equal(nova_http_server_new(&cfg, &F.srv), NOVA_OK);
    add_routes(F.srv);
    assert_int_equal(nova_http_server_start(F.srv), NOVA_OK);
    F.port = nova_http_server_port(F.srv);
    assert_true(F.port > 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nova_http_server_free(F.srv);
    nova_log_set_fd(2);
    close(F.log_fd);
    unlink(F.log_path);
    return 0;
}

/* Parses a problem+json reply and checks its RFC 9457 shape. */
static void check_problem(const resp_t *r, int status, const char *code, bool has_detail)
{
    json_error_t err;
    char type[128];

    assert_int_equal(r->status, status);
    assert_string_equal(resp_header(r, "content-type"), "application/problem+json");
    json_t *j = json_loadb(r->body, r->body_len, 0, &err);
    assert_non_null(j);
    snprintf(type, sizeof(type), "https://nova.dev/problems/%s", code);
    assert_string_equal(json_string_value(json_object_get(j, "type")), type);
    assert_non_null(json_string_value(json_object_get(j, "title")));
    assert_int_equal(json_integer_value(json_object_get(j, "status")), status);
    assert_string_equal(json_string_value(json_object_get(j, "code")), code);
    assert_string_equal(json_string_value(json_object_get(j, "instance")),
                        resp_header(r, "x-req-id"));
    assert_int_equal(json_object_get(j, "detail") != NULL, has_detail);
    json_decref(j);
}

/* ---- tests ---- */

static void test_route_params(void **state)
{
    resp_t r;
    (void)state;

    http_get(F.port, "/hello", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello");
    assert_string_equal(resp_header(&r, "cache-control"), "no-store");
    assert_string_equal(resp_header(&r, "content-type"), "text/plain");
    resp_free(&r);

    http_get(F.port, "/v1/clients/abc", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"id\":\"abc\",\"n\":1}");
    assert_string_equal(resp_header(&r, "content-type"), "application/json");
    resp_free(&r);

    http_get(F.port, "/v1/clients/me", &r);
    assert_string_equal(r.body, "{\"me\":true}");
    resp_free(&r);

    /* percent-decoded parameter */
    http_get(F.port, "/v1/clients/a%20b", &r);
    assert_string_equal(r.body, "{\"id\":\"a b\",\"n\":1}");
    resp_free(&r);

    http_req(F.port, &r,
             "POST /v1/clients/c1/keys/k9 HTTP/1.1\r\nHost: t\r\n"
             "Content-Length: 0\r\n\r\n");
    assert_int_equal(r.status, 201);
    assert_string_equal(r.body, "c1|k9|2|/v1/clients/{id}/keys/{kid}");
    resp_free(&r);

    /* headers, query (not part of path), extra response header */
    http_req(F.port, &r, "GET /hdr?q=a%%2Bb&z=1 HTTP/1.1\r\nHost: t\r\nx-test: v1\r\n\r\n");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "v1|a+b|/hdr");
    assert_string_equal(resp_header(&r, "x-extra"), "yes");
    resp_free(&r);

    /* HEAD is served by GET without a body */
    http_req(F.port, &r, "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    resp_free(&r);

    /* a catch-all takes one or more segments (deeper than four parameters could), captures
     * the parameters before it only, and ranks after the exact shapes */
    http_get(F.port, "/rest/t1/a", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "/rest/t1/a|1|t1|/rest/{t}/{tail*}");
    resp_free(&r);
    http_get(F.port, "/rest/t1/a/b/c/d/e/f/g", &r);
    assert_string_equal(r.body, "/rest/t1/a/b/c/d/e/f/g|1|t1|/rest/{t}/{tail*}");
    resp_free(&r);
    http_get(F.port, "/rest/t1/exact", &r);
    assert_string_equal(r.body, "hello");
    resp_free(&r);
    http_get(F.port, "/rest/t1", &r); /* zero segments for the catch-all: no match */
    assert_int_equal(r.status, 404);
    resp_free(&r);
    http_get(F.port, "/rest/t1/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o", &r); /* past 16 segments */
    assert_int_equal(r.status, 404);
    resp_free(&r);

    /* a handler may allow caching; otherwise no-store */
    http_get(F.port, "/cached", &r);
    assert_string_equal(resp_header(&r, "cache-control"), "public, max-age=60");
    resp_free(&r);
}

static void test_not_found(void **state)
{
    resp_t r;
    (void)state;

    const char *paths[] = {
        "/nope", "/v1/clients", "/v1/clients/", "/v1/clients/a/b", "/hello/", "//hello", "/"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
        http_get(F.port, paths[i], &r);
        check_problem(&r, 404, "not_found", false);
        assert_string_equal(resp_header(&r, "cache-control"), "no-store");
        resp_free(&r);
    }
}

static void test_method_not_allowed(void **state)
{
    resp_t r;
    (void)state;

    http_req(F.port, &r, "DELETE /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    check_problem(&r, 405, "method_not_allowed", false);
    assert_string_equal(resp_header(&r, "allow"), "GET, HEAD");
    resp_free(&r);

    http_req(F.port, &r, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    check_problem(&r, 405, "method_not_allowed", false);
    assert_string_equal(resp_header(&r, "allow"), "POST, PUT");
    resp_free(&r);
}

static void test_bad_path(void **state)
{
    resp_t r;
    (void)state;

    const char *paths[] = {"/a/../hello", "/..", "/hello/%2e%2e", "/hel%00lo", "/v1/clients/%00"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
        http_get(F.port, paths[i], &r);
        check_problem(&r, 400, "invalid_request", true);
        resp_free(&r);
    }
    /* dots inside a segment are fine */
    http_get(F.port, "/v1/clients/a..b", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
}

static void test_body_echo(void **state)
{
    resp_t r;
    conn_t *c;
    (void)state;

    http_req(F.port, &r, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nabcde");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "abcde");
    resp_free(&r);

    /* exactly the limit is fine */
    char *big = malloc(MAX_BODY + 1);
    memset(big, 'x', MAX_BODY);
    big[MAX_BODY] = '\0';
    c = conn_open(F.port);
    conn_sendf(c, "PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n", MAX_BODY);
    conn_send(c, big, MAX_BODY);
    assert_true(conn_recv_resp(c, &r, false));
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, MAX_BODY);
    resp_free(&r);
    conn_close(c);
    free(big);

    /* chunked within the limit */
    http_req(F.port, &r,
             "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
             "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "abcde");
    resp_free(&r);
}

static void test_too_large(void **state)
{
    resp_t r;
    conn_t *c;
    char chunk[600];
    (void)state;

    /* announced: answered at once, without the body being sent */
    c = conn_open(F.port);
    conn_sendf(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n", MAX_BODY + 1);
    assert_true(conn_recv_resp(c, &r, false));
    check_problem(&r, 413, "payload_too_large", false);
    resp_free(&r);
    assert_true(conn_closed_by_peer(c));
    conn_close(c);

    /* with Expect: 100-continue the client never even gets a 100 */
    c = conn_open(F.port);
    conn_sendf(c, "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                  "Content-Length: 999999999\r\n\r\n");
    assert_true(conn_recv_resp(c, &r, false));
    assert_int_equal(r.status, 413);
    resp_free(&r);
    conn_close(c);

    /* chunked: over the limit is discovered while reading */
    memset(chunk, 'y', sizeof(chunk));
    c = conn_open(F.port);
    conn_sendf(c, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; i++) {
        conn_sendf(c, "%zx\r\n", sizeof(chunk));
        conn_send(c, chunk, sizeof(chunk));
        conn_sendf(c, "\r\n");
    }
    conn_sendf(c, "0\r\n\r\n");
    assert_true(conn_recv_resp(c, &r, false));
    check_problem(&r, 413, "payload_too_large", false);
    resp_free(&r);
    /* the connection stays usable: the body was read and discarded */
    conn_sendf(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(conn_recv_resp(c, &r, false));
    assert_int_equal(r.status, 200);
    resp_free(&r);
    conn_close(c);
}

static void test_req_id(void **state)
{
    resp_t r;
    char id65[66];
    (void)state;

    http_req(F.port, &r, "GET /hello HTTP/1.1\r\nHost: t\r\nx-req-id: abc.DEF_123-x\r\n\r\n");
    assert_string_equal(resp_header(&r, "x-req-id"), "abc.DEF_123-x");
    resp_free(&r);

    http_get(F.port, "/hello", &r);
    const char *gen = resp_header(&r, "x-req-id");
    assert_non_null(gen);
    assert_memory_equal(gen, "req_", 4);
    assert_true(strlen(gen) > 10);
    resp_free(&r);

    http_req(F.port, &r, "GET /hello HTTP/1.1\r\nHost: t\r\nx-req-id: bad id!\r\n\r\n");
    assert_memory_equal(resp_header(&r, "x-req-id"), "req_", 4);
    resp_free(&r);

    memset(id65, 'a', 65);
    id65[65] = '\0';
    http_req(F.port, &r, "GET /hello HTTP/1.1\r\nHost: t\r\nx-req-id: %s\r\n\r\n", id65);
    assert_memory_equal(resp_header(&r, "x-req-id"), "req_", 4);
    resp_free(&r);
    id65[64] = '\0'; /* 64 is the maximum */
    http_req(F.port, &r, "GET /hello HTTP/1.1\r\nHost: t\r\nx-req-id: %s\r\n\r\n", id65);
    assert_string_equal(resp_header(&r, "x-req-id"), id65);
    resp_free(&r);

    /* two generated ids differ */
    char first[80];
    http_get(F.port, "/hello", &r);
    snprintf(first, sizeof(first), "%s", resp_header(&r, "x-req-id"));
    resp_free(&r);
    http_get(F.port, "/hello", &r);
    assert_string_not_equal(first, resp_header(&r, "x-req-id"));
    resp_free(&r);
}

static void test_traceparent(void **state)
{
    resp_t r;
    const char *good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const char *bad[] = {
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", /* upper case */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01", /* zero trace id */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", /* zero parent id */
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", /* other version */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",  /* short */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    };
    (void)state;

    http_req(F.port, &r, "GET /hello HTTP/1.1\r\nHost: t\r\ntraceparent: %s\r\n\r\n", good);
    assert_string_equal(resp_header(&r, "traceparent"), good);
    resp_free(&r);
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        http_req(F.port, &r, "GET /hello HTTP/1.1\r\nHost: t\r\ntraceparent: %s\r\n\r\n", bad[i]);
        assert_int_equal(r.status, 200);
        assert_null(resp_header(&r, "traceparent"));
        resp_free(&r);
    }
    http_get(F.port, "/hello", &r);
    assert_null(resp_header(&r, "traceparent"));
    resp_free(&r);
}

static void test_auth(void **state)
{
    resp_t r;
    (void)state;

    http_get(F.port, "/private", &r);
    check_problem(&r, 401, "unauthorized", true);
    assert_string_equal(resp_header(&r, "www-authenticate"), "Bearer");
    resp_free(&r);

    http_req(F.port, &r, "GET /private HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer good\r\n\r\n");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "t_1/c_1");
    resp_free(&r);

    http_req(F.port, &r, "GET /admin HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer good\r\n\r\n");
    check_problem(&r, 403, "forbidden", false);
    resp_free(&r);

    /* an authenticator that refuses without writing a reply still refuses */
    http_req(F.port, &r, "GET /silent HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer good\r\n\r\n");
    check_problem(&r, 401, "unauthorized", false);
    resp_free(&r);

    /* a body check runs once the body is in, before the handler, and may refuse */
    http_req(F.port, &r,
             "POST /signed?a=%%41&b HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer good\r\n"
             "Content-Length: 6\r\n\r\nsigned");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "signed");
    resp_free(&r);
    http_req(F.port, &r,
             "POST /signed?a=%%41&b HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer good\r\n"
             "Transfer-Encoding: chunked\r\n\r\n6\r\nsigneX\r\n0\r\n\r\n");
    check_problem(&r, 401, "bad_signature", true);
    resp_free(&r);
    http_req(F.port, &r,
             "POST /signed?a=A&b HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer good\r\n"
             "Content-Length: 6\r\n\r\nsigned");
    check_problem(&r, 401, "bad_signature", true);
    resp_free(&r);
}

static void test_problems(void **state)
{
    resp_t r;
    char path[32];
    (void)state;

    http_get(F.port, "/nostatus", &r);
    check_problem(&r, 500, "internal", false);
    resp_free(&r);

    static const struct {
        nova_status st;
        int http;
        const char *code;
    } cases[] = {
        {NOVA_INVALID, 400, "invalid_request"}, {NOVA_NOT_FOUND, 404, "not_found"},
        {NOVA_CONFLICT, 409, "conflict"},       {NOVA_UNAUTHORIZED, 401, "unauthorized"},
        {NOVA_FORBIDDEN, 403, "forbidden"},     {NOVA_TOO_LARGE, 413, "payload_too_large"},
        {NOVA_UNAVAILABLE, 503, "unavailable"}, {NOVA_INTERNAL, 500, "internal"},
        {NOVA_NOMEM, 500, "internal"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        assert_int_equal(nova_http_status_for(cases[i].st), cases[i].http);
        snprintf(path, sizeof(path), "/status/%d", (int)cases[i].st);
        http_get(F.port, path, &r);
        check_problem(&r, cases[i].http, cases[i].code, true);
        json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
        assert_string_equal(json_string_value(json_object_get(j, "detail")),
                            "some detail \"quoted\"");
        json_decref(j);
        resp_free(&r);
    }
}

static void test_keep_alive(void **state)
{
    resp_t r;
    conn_t *c = conn_open(F.port);
    (void)state;

    /* sequential */
    for (int i = 0; i < 3; i++) {
        conn_sendf(c, "GET /v1/clients/k%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
        assert_true(conn_recv_resp(c, &r, false));
        assert_int_equal(r.status, 200);
        assert_null(resp_header(&r, "connection"));
        resp_free(&r);
    }
    /* pipelined, with a body and an error in between */
    conn_sendf(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi"
                  "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n"
                  "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(conn_recv_resp(c, &r, false));
    assert_string_equal(r.body, "hi");
    resp_free(&r);
    assert_true(conn_recv_resp(c, &r, false));
    assert_int_equal(r.status, 404);
    resp_free(&r);
    assert_true(conn_recv_resp(c, &r, false));
    assert_string_equal(r.body, "hello");
    resp_free(&r);
    conn_close(c);
}

/* Value of the sample line that starts with prefix, or -1. */
static double metric(const char *text, const char *prefix)
{
    const char *p = text;
    size_t n = strlen(prefix);
    while (p && *p) {
        if (strncmp(p, prefix, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}

static void test_metrics(void **state)
{
    resp_t r;
    (void)state;

    for (int i = 0; i < 3; i++) {
        http_get(F.port, "/v1/clients/m", &r);
        resp_free(&r);
    }
    http_get(F.port, "/nope/metrics", &r);
    resp_free(&r);
    http_get(F.port, "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(resp_header(&r, "content-type"), "text/plain; version=0.0.4");
    const char *t = r.body;
    assert_true(metric(t, "nova_http_requests_total{route=\"/v1/clients/{id}\",method=\"GET\","
                          "status=\"200\"}") >= 3);
    assert_true(metric(t, "nova_http_requests_total{route=\"unmatched\",method=\"GET\","
                          "status=\"404\"}") >= 1);
    assert_true(metric(t, "nova_http_requests_total{route=\"/hello\",method=\"DELETE\","
                          "status=\"405\"}") >= 1);
    double cnt = metric(t, "nova_http_request_duration_seconds_count{route=\"/v1/clients/{id}\"}");
    assert_true(cnt >= 3);
    assert_true(metric(t, "nova_http_request_duration_seconds_bucket{route=\"/v1/clients/{id}\","
                          "le=\"+Inf\"}") == cnt);
    assert_true(metric(t, "nova_http_request_duration_seconds_bucket{route=\"/v1/clients/{id}\","
                          "le=\"0.0005\"}") >= 0);
    assert_true(metric(t, "nova_http_request_duration_seconds_sum{route=\"/v1/clients/{id}\"}") >
                0);
    assert_true(metric(t, "nova_http_requests_in_flight") >= 1); /* this very request */
    double start = metric(t, "process_start_time_seconds");
    assert_true(start > 1.6e9 && start <= (double)time(NULL) + 1);
    assert_non_null(strstr(t, "# TYPE nova_http_request_duration_seconds histogram\n"));
    assert_non_null(strstr(t, "# TYPE nova_http_requests_total counter\n"));
    /* buckets are cumulative */
    double prev = 0;
    const char *les[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
                         "0.1",    "0.25",  "0.5",    "1",     "2.5",  "+Inf"};
    for (size_t i = 0; i < 13; i++) {
        char name[160];
        snprintf(name, sizeof(name),
                 "nova_http_request_duration_seconds_bucket{route=\"/hello\",le=\"%s\"}", les[i]);
        double v = metric(t, name);
        assert_true(v >= prev);
        prev = v;
    }
    resp_free(&r);
}

static void test_access_log(void **state)
{
    resp_t r;
    char buf[1 << 16];
    (void)state;

    http_req(F.port, &r,
             "GET /v1/clients/secretid?token=SEKRIT HTTP/1.1\r\nHost: t\r\nx-req-id: log-1\r\n"
             "Authorization: Bearer HDRSECRET\r\n"
             "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n");
    resp_free(&r);
    http_req(F.port, &r,
             "GET /private HTTP/1.1\r\nHost: t\r\nx-req-id: log-2\r\n"
             "Authorization: Bearer good\r\n\r\n");
    resp_free(&r);
    http_req(F.port, &r, "GET /nope HTTP/1.1\r\nHost: t\r\nx-req-id: log-3\r\n\r\n");
    resp_free(&r);

    /* the line is written at completion, just after the reply went out: poll (bounded, about
     * 10 s) until the last request's line is there */
    struct timespec ts = {0, 5 * 1000 * 1000};
    ssize_t n = 0;
    for (int i = 0; i < 2000; i++) {
        n = pread(F.log_fd, buf, sizeof(buf) - 1, 0);
        buf[n > 0 ? n : 0] = '\0';
        if (n > 0 && strstr(buf, "\"req_id\":\"log-3\"") && buf[n - 1] == '\n')
            break;
        nanosleep(&ts, NULL);
    }
    assert_true(n > 0);
    assert_null(strstr(buf, "SEKRIT"));
    assert_null(strstr(buf, "HDRSECRET"));
    assert_null(strstr(buf, "secretid"));

    const char *want[] = {"log-1", "log-2", "log-3"};
    for (size_t i = 0; i < 3; i++) {
        char key[64];
        int lines = 0;
        json_t *found = NULL;
        snprintf(key, sizeof(key), "\"req_id\":\"%s\"", want[i]);
        for (char *line = buf, *nl; *line; line = nl + 1) {
            nl = strchr(line, '\n');
            assert_non_null(nl);
            if (!memmem(line, (size_t)(nl - line), key, strlen(key)))
                continue;
            lines++;
            found = json_loadb(line, (size_t)(nl - line), 0, NULL);
        }
        assert_int_equal(lines, 1); /* exactly one line per request */
        assert_non_null(found);
        assert_string_equal(json_string_value(json_object_get(found, "msg")), "http");
        assert_string_equal(json_string_value(json_object_get(found, "method")), "GET");
        assert_true(json_is_integer(json_object_get(found, "dur_us")));
        assert_true(json_is_integer(json_object_get(found, "bytes_out")));
        if (i == 0) {
            assert_string_equal(json_string_value(json_object_get(found, "route")),
                                "/v1/clients/{id}");
            assert_int_equal(json_integer_value(json_object_get(found, "status")), 200);
            assert_string_equal(json_string_value(json_object_get(found, "trace_id")),
                                "4bf92f3577b34da6a3ce929d0e0e4736");
            assert_null(json_object_get(found, "problem"));
        } else if (i == 1) {
            assert_string_equal(json_string_value(json_object_get(found, "tenant")), "t_1");
            assert_string_equal(json_string_value(json_object_get(found, "client")), "c_1");
        } else {
            assert_string_equal(json_string_value(json_object_get(found, "route")), "unmatched");
            assert_int_equal(json_integer_value(json_object_get(found, "status")), 404);
            assert_string_equal(json_string_value(json_object_get(found, "problem")), "not_found");
            assert_null(json_object_get(found, "trace_id"));
            assert_null(json_object_get(found, "tenant"));
        }
        json_decref(found);
    }
}

/* ---- registration and life cycle ---- */

static void test_route_registration(void **state)
{
    nova_http_server_t *s;
    nova_http_config_t cfg = {.host = "127.0.0.1"};
    (void)state;

    assert_int_equal(nova_http_server_new(&cfg, &s), NOVA_OK);
    assert_int_equal(nova_http_route(s, "GET", "nope", NULL, 0, h_hello, NULL), NOVA_INVALID);
    assert_int_equal(nova_http_route(s, "GET", "/a/{}", NULL, 0, h_hello, NULL), NOVA_INVALID);
    assert_int_equal(nova_http_route(s, "GET", "/a/{x", NULL, 0, h_hello, NULL), NOVA_INVALID);
    assert_int_equal(nova_http_route(s, "GET", "/a/x}", NULL, 0, h_hello, NULL), NOVA_INVALID);
    assert_int_equal(nova_http_route(s, "GET", "/a/{b}/{c}/{d}/{e}/{f}", NULL, 0, h_hello, NULL),
                     NOVA_INVALID);
    assert_int_equal(nova_http_route(s, "get", "/a", NULL, 0, h_hello, NULL), NOVA_INVALID);
    assert_int_equal(nova_http_route(s, "GET", "/a", NULL, 0, NULL, NULL), NOVA_INVALID);
    assert_int_equal(nova_http_route(s, "GET", "/a/{b}/{c}/{d}/{e}", NULL, 0, h_hello, NULL),
                     NOVA_OK);
    /* a catch-all only last, with a name, once per shape */
    assert_int_equal(nova_http_route(s, "GET", "/r/{x*}/y", NULL, 0, h_hello, NULL), NOVA_INVALID);
    assert_int_equal(nova_http_route(s, "GET", "/r/{*}", NULL, 0, h_hello, NULL), NOVA_INVALID);
    assert_int_equal(nova_http_route(s, "GET", "/r/{a*b*}", NULL, 0, h_hello, NULL), NOVA_INVALID);
    assert_int_equal(nova_http_route(s, "GET", "/r/{rest*}", NULL, 0, h_hello, NULL), NOVA_OK);
    assert_int_equal(nova_http_route(s, "GET", "/r/{other*}", NULL, 0, h_hello, NULL),
                     NOVA_CONFLICT);
    assert_int_equal(nova_http_route(s, "GET", "/r/{one}", NULL, 0, h_hello, NULL), NOVA_OK);
    assert_int_equal(nova_http_route(s, "GET", "/a/{id}", NULL, 0, h_hello, NULL), NOVA_OK);
    assert_int_equal(nova_http_route(s, "GET", "/a/{other}", NULL, 0, h_hello, NULL),
                     NOVA_CONFLICT);
    assert_int_equal(nova_http_route(s, "POST", "/a/{other}", NULL, 0, h_hello, NULL), NOVA_OK);
    assert_int_equal(nova_http_route(s, "GET", "/p", "scope", 0, h_hello, NULL), NOVA_OK);
    /* a scoped route without an authenticator would fail open or closed at random: refuse */
    assert_int_equal(nova_http_server_start(s), NOVA_INVALID);
    nova_http_set_authenticator(s, authenticate, NULL);
    cfg.port = 0;
    assert_int_equal(nova_http_server_start(s), NOVA_OK);
    assert_int_equal(nova_http_route(s, "GET", "/late", NULL, 0, h_hello, NULL), NOVA_INVALID);
    nova_http_server_stop(s, 100);
    nova_http_server_stop(s, 100); /* idempotent */
    nova_http_server_free(s);
    nova_http_server_free(NULL);

    nova_http_config_t bad = {.host = "127.0.0.1", .tls_cert_pem = "x"};
    assert_int_equal(nova_http_server_new(&bad, &s), NOVA_INVALID);
    assert_null(s);
}

static void test_validators(void **state)
{
    (void)state;
    assert_true(req_id_valid("a"));
    assert_false(req_id_valid(""));
    assert_false(req_id_valid(NULL));
    assert_false(req_id_valid("a/b"));
    assert_false(req_id_valid("a b"));
    assert_true(traceparent_valid("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
    assert_false(traceparent_valid("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g"));
    assert_false(traceparent_valid(NULL));
    assert_true(path_acceptable("/a/b"));
    assert_true(path_acceptable("/a/..b/c.."));
    assert_false(path_acceptable("/a/.."));
    assert_false(path_acceptable("/../a"));
    assert_false(path_acceptable("a/b"));
    assert_false(path_acceptable(""));
}

static void test_raw_path_rules(void **state)
{
    char seg[64];
    (void)state;
    assert_false(path_acceptable("/a/%2e%2e/b"));
    assert_false(path_acceptable("/a/%2E."));
    assert_false(path_acceptable("/a/./b"));
    assert_false(path_acceptable("/a%00b"));
    assert_true(path_acceptable("/a/%2e%2e%2e"));
    assert_true(path_acceptable("/a/.well-known"));
    assert_true(path_acceptable("/"));

    strcpy(seg, "ten_%41b%2d");
    assert_true(http_param_decode(seg));
    assert_string_equal(seg, "ten_Ab-");
    const char *bad[] = {"a%2fb", "a%2Fb", "a%00", "a%0a", "a%7f", "a%", "a%4", "a%zz", "a%g0"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        strcpy(seg, bad[i]);
        assert_false(http_param_decode(seg));
    }
}

/* Open addressing with backward-shift deletion: counts survive any order of release, also
 * across collisions and wrap-around at the end of the table. */
static void test_ip_table(void **state)
{
    http_conns_t t = {0};
    unsigned char ips[40][16];
    (void)state;

    t.ips = calloc(16, sizeof(*t.ips));
    t.ip_mask = 15;
    for (int i = 0; i < 8; i++) {
        memset(ips[i], 0, 16);
        ips[i][15] = (unsigned char)i;
        for (int k = 0; k <= i; k++)
            ip_find(&t, ips[i], true)->count++;
    }
    for (int i = 0; i < 8; i++)
        assert_int_equal(ip_find(&t, ips[i], false)->count, (unsigned)i + 1);
    /* Release in a scrambled order; every other entry must stay findable with its count. */
    const int order[] = {3, 0, 7, 5, 1, 6, 2, 4};
    for (int j = 0; j < 8; j++) {
        int i = order[j];
        for (int k = 0; k <= i; k++)
            ip_release(&t, ips[i]);
        assert_null(ip_find(&t, ips[i], false));
        for (int m = j + 1; m < 8; m++)
            assert_int_equal(ip_find(&t, ips[order[m]], false)->count, (unsigned)order[m] + 1);
    }
    for (size_t i = 0; i < 16; i++)
        assert_int_equal(t.ips[i].count, 0);
    free(t.ips);
}

static void test_port_in_use(void **state)
{
    nova_http_server_t *a, *b;
    nova_http_config_t cfg = {.host = "127.0.0.1", .threads = 1};
    resp_t r;
    (void)state;

    assert_int_equal(nova_http_server_new(&cfg, &a), NOVA_OK);
    assert_int_equal(nova_http_route(a, "GET", "/hello", NULL, 0, h_hello, NULL), NOVA_OK);
    assert_int_equal(nova_http_server_start(a), NOVA_OK);
    cfg.port = nova_http_server_port(a);
    assert_int_equal(nova_http_server_new(&cfg, &b), NOVA_OK);
    assert_int_equal(nova_http_route(b, "GET", "/hello", NULL, 0, h_hello, NULL), NOVA_OK);
    assert_int_equal(nova_http_server_start(b), NOVA_UNAVAILABLE);
    nova_http_server_free(a);
    /* the port is free again: the same server may now start */
    assert_int_equal(nova_http_server_start(b), NOVA_OK);
    assert_int_equal(nova_http_server_port(b), cfg.port);
    http_get(cfg.port, "/hello", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    nova_http_server_free(b);
}

typedef struct slow_call {
    unsigned port;
    resp_t r;
    bool ok;
} slow_call_t;

static void *slow_client(void *arg)
{
    slow_call_t *sc = arg;
    conn_t *c = conn_open(sc->port);
    if (!c)
        return NULL;
    conn_sendf(c, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    sc->ok = conn_recv_resp(c, &sc->r, false);
    conn_close(c);
    return NULL;
}

/* A handler that waits (bounded) for a request to /release: the shape of a token exchange
 * whose IdP calls back (it fetches the client's jwks_uri) before it answers. */
static atomic_int released;
static void h_wait_release(nova_req_t *r, void *ud)
{
    (void)ud;
    atomic_store(&slow_entered, 1);
    for (int i = 0; i < 3000 && !atomic_load(&released); i++) {
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    const char *b = atomic_load(&released) ? "released" : "timeout";
    nova_resp_body(r, 200, "text/plain", b, strlen(b));
}
static void h_release(nova_req_t *r, void *ud)
{
    (void)ud;
    atomic_store(&released, 1);
    nova_resp_body(r, 200, "text/plain", "ok", 2);
}

/* A handler that blocks holds up none of its worker's other connections: with one worker,
 * a kept-alive connection and a new one are both served while /wait waits, and the call back
 * it waits for (an IdP fetching the client's jwks_uri during the token exchange) arrives. */
static void test_blocked_handler_holds_up_nothing(void **state)
{
    nova_http_server_t *s;
    nova_http_config_t cfg = {.host = "127.0.0.1", .threads = 1, .handler_threads = 2};
    (void)state;
    assert_int_equal(nova_http_server_new(&cfg, &s), NOVA_OK);
    assert_int_equal(nova_http_route(s, "GET", "/wait", NULL, 0, h_wait_release, NULL), NOVA_OK);
    assert_int_equal(nova_http_route(s, "GET", "/release", NULL, 0, h_release, NULL), NOVA_OK);
    assert_int_equal(nova_http_route(s, "GET", "/hello", NULL, 0, h_hello, NULL), NOVA_OK);
    assert_int_equal(nova_http_server_start(s), NOVA_OK);
    unsigned port = nova_http_server_port(s);
    resp_t r;
    conn_t *kept = conn_open(port);
    conn_sendf(kept, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(conn_recv_resp(kept, &r, false));
    resp_free(&r);

    atomic_store(&slow_entered, 0);
    atomic_store(&released, 0);
    conn_t *a = conn_open(port);
    conn_sendf(a, "GET /wait HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_slow_entered();
    /* The same (only) worker answers a new connection and the kept-alive one meanwhile. */
    conn_t *b = conn_open(port);
    conn_sendf(b, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(conn_recv_resp(b, &r, false));
    assert_int_equal(r.status, 200);
    resp_free(&r);
    conn_sendf(kept, "GET /release HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(conn_recv_resp(kept, &r, false));
    assert_int_equal(r.status, 200);
    resp_free(&r);
    assert_true(conn_recv_resp(a, &r, false));
    assert_string_equal(r.body, "released");
    resp_free(&r);
    /* The suspended connection was resumed into keep-alive: it serves its next request. */
    conn_sendf(a, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(conn_recv_resp(a, &r, false));
    assert_int_equal(r.status, 200);
    resp_free(&r);
    conn_close(a);
    conn_close(b);
    conn_close(kept);
    nova_http_server_free(s);
}

typedef struct hello_call {
    unsigned port;
    bool answered; /* a reply came (before the close) */
    int status;
} hello_call_t;

static void *hello_client(void *arg)
{
    hello_call_t *hc = arg;
    resp_t r;
    conn_t *c = conn_open(hc->port);
    if (!c)
        return NULL;
    conn_sendf(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    hc->answered = conn_recv_resp(c, &r, false);
    if (hc->answered) {
        hc->status = r.status;
        resp_free(&r);
    }
    conn_close(c);
    return NULL;
}

/* Stopping with a request still queued for the one handler thread: the running handler
 * finishes, the queued request's suspended connection is resumed (libmicrohttpd aborts the
 * process when stopped with one suspended) and closed or answered 503, never a 200. */
static void test_stop_with_queued_request(void **state)
{
    nova_http_server_t *s;
    nova_http_config_t cfg = {.host = "127.0.0.1", .threads = 1, .handler_threads = 1};
    hello_call_t hc = {0};
    pthread_t th;
    (void)state;
    assert_int_equal(nova_http_server_new(&cfg, &s), NOVA_OK);
    assert_int_equal(nova_http_route(s, "GET", "/wait", NULL, 0, h_wait_release, NULL), NOVA_OK);
    assert_int_equal(nova_http_route(s, "GET", "/hello", NULL, 0, h_hello, NULL), NOVA_OK);
    assert_int_equal(nova_http_server_start(s), NOVA_OK);
    hc.port = nova_http_server_port(s);
    atomic_store(&slow_entered, 0);
    atomic_store(&released, 0);
    conn_t *a = conn_open(hc.port);
    conn_sendf(a, "GET /wait HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_slow_entered();
    assert_int_equal(pthread_create(&th, NULL, hello_client, &hc), 0);
    /* The /hello request is read and queued behind /wait. */
    for (int i = 0; i < 2000 && atomic_load(&s->pool.queued) == 0; i++) {
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(atomic_load(&s->pool.queued), 1);
    /* Never released: /wait gives up after 3 s, long after the stop has told the pool to
     * stop, so its thread takes nothing more (released earlier, it could run /hello first). */
    nova_http_server_stop(s, 0);
    pthread_join(th, NULL);
    assert_true(!hc.answered || hc.status == 503);
    conn_close(a);
    nova_http_server_free(s);
}

static void test_graceful_stop(void **state)
{
    nova_http_server_t *s;
    nova_http_config_t cfg = {.host = "127.0.0.1", .threads = 2};
    slow_call_t sc = {0};
    pthread_t th;
    (void)state;

    assert_int_equal(nova_http_server_new(&cfg, &s), NOVA_OK);
    assert_int_equal(nova_http_route(s, "GET", "/slow", NULL, 0, h_slow, NULL), NOVA_OK);
    assert_int_equal(nova_http_route(s, "GET", "/hello", NULL, 0, h_hello, NULL), NOVA_OK);
    assert_int_equal(nova_http_server_start(s), NOVA_OK);
    sc.port = nova_http_server_port(s);

    /* an idle keep-alive connection must not hold up the stop */
    conn_t *idle = conn_open(sc.port);
    resp_t r;
    conn_sendf(idle, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(conn_recv_resp(idle, &r, false));
    resp_free(&r);

    atomic_store(&slow_entered, 0);
    atomic_store(&slow_done, 0);
    assert_int_equal(pthread_create(&th, NULL, slow_client, &sc), 0);
    wait_slow_entered(); /* the slow request is in its handler now */
    nova_http_server_stop(s, 5000);
    /* stop waited for the handler in flight */
    assert_true(atomic_load(&slow_done));
    pthread_join(th, NULL);
    assert_true(sc.ok);
    assert_int_equal(sc.r.status, 200);
    assert_string_equal(sc.r.body, "slow");
    /* told to go away, since the server is stopping */
    assert_string_equal(resp_header(&sc.r, "connection"), "close");
    resp_free(&sc.r);

    /* stopped: no more connections */
    conn_t *c = conn_open(sc.port);
    assert_null(c);
    assert_true(conn_closed_by_peer(idle));
    conn_close(idle);
    nova_http_server_free(s);
}

static void test_stop_grace_expires(void **state)
{
    nova_http_server_t *s;
    nova_http_config_t cfg = {.host = "127.0.0.1", .threads = 1};
    slow_call_t sc = {0};
    pthread_t th;
    (void)state;

    assert_int_equal(nova_http_server_new(&cfg, &s), NOVA_OK);
    assert_int_equal(nova_http_route(s, "GET", "/slow", NULL, 0, h_slow, NULL), NOVA_OK);
    assert_int_equal(nova_http_server_start(s), NOVA_OK);
    sc.port = nova_http_server_port(s);
    atomic_store(&slow_entered, 0);
    atomic_store(&slow_done, 0);
    assert_int_equal(pthread_create(&th, NULL, slow_client, &sc), 0);
    wait_slow_entered();
    /* grace shorter than the handler: stop still returns, after the handler is done */
    nova_http_server_stop(s, 10);
    assert_true(atomic_load(&slow_done));
    pthread_join(th, NULL);
    resp_free(&sc.r);
    nova_http_server_free(s);
}

/* ---- mTLS ---- */

#ifdef NOVA_HAVE_GNUTLS

static const char CA_PEM[] = "-----BEGIN CERTIFICATE-----\n"
                             "MIIBhTCCASugAwIBAgIUARuHKUWQr2eKrsgh/BIQOUwwXBowCgYIKoZIzj0EAwIw\n"
                             "FzEVMBMGA1UEAwwMTm92YSBUZXN0IENBMCAXDTI2MTEyMjE1MDc1MFoYDzIxMjYx\n"
                             "MDI5MTUwNzUwWjAXMRUwEwYDVQQDDAxOb3ZhIFRlc3QgQ0EwWTATBgcqhkjOPQIB\n"
                             "BggqhkjOPQMBBwNCAAR/RJaSvzC7wUB8loNEa9LJ4mXs+Msmyr+pfnPXmbm7iBch\n"
                             "bY1t0SWK1+xA3eJ1WKf/g9pP01tvjaTQbPwy0NTdo1MwUTAdBgNVHQ4EFgQUbFxw\n"
                             "L6yS+1K5xvsYeK6mM6poLoUwHwYDVR0jBBgwFoAUbFxwL6yS+1K5xvsYeK6mM6po\n"
                             "LoUwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiAgFqjs20I5bsLb\n"
                             "0frU6TrWGQLi19blsnor87i/Ba1RqwIhAOgSg9GPAUwPrPp6imrfyhgI7xJtmkJ+\n"
                             "NrkIL4zZNjal\n"
                             "-----END CERTIFICATE-----\n";
static const char SRV_PEM[] = "-----BEGIN CERTIFICATE-----\n"
                              "MIIBjTCCATOgAwIBAgIUC5yMrxbEx/djk2qmi/ruY/B85iAwCgYIKoZIzj0EAwIw\n"
                              "FzEVMBMGA1UEAwwMTm92YSBUZXN0IENBMCAXDTI2MTEyMjE1MDc1MFoYDzIxMjYx\n"
                              "MDI5MTUwNzUwWjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggq\n"
                              "hkjOPQMBBwNCAASGENpl/ZwIl8txoO0xBl5vMWShSk3EuXAucIc4PszNCvpUfTQQ\n"
                              "3oJqSKvZwduYIKSneXFhpWMVjfLLCQT+cMMbo14wXDAPBgNVHREECDAGhwR/AAAB\n"
                              "MAkGA1UdEwQCMAAwHQYDVR0OBBYEFNTaeSaLtdufO8PDFzUdoios3P4GMB8GA1Ud\n"
                              "IwQYMBaAFGxccC+skvtSucb7GHiupjOqaC6FMAoGCCqGSM49BAMCA0gAMEUCIA8N\n"
                              "OHi0WAJdVpjoKERkhNVH4GnUiwpNYu7ZkL8Y51Z5AiEAs9I27zyK6Mba9v3dytn7\n"
                              "RuwoaKUES99UeTrT84hlIjQ=\n"
                              "-----END CERTIFICATE-----\n";
static const char SRV_KEY[] = "-----BEGIN PRIVATE KEY-----\n"
                              "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQguEIjxKcEvXavEnqU\n"
                              "78cL1Ouc8iuz0Ah994rISlZaQL6hRANCAASGENpl/ZwIl8txoO0xBl5vMWShSk3E\n"
                              "uXAucIc4PszNCvpUfTQQ3oJqSKvZwduYIKSneXFhpWMVjfLLCQT+cMMb\n"
                              "-----END PRIVATE KEY-----\n";
static const char CLI_PEM[] = "-----BEGIN CERTIFICATE-----\n"
                              "MIIBjzCCATagAwIBAgIUC5yMrxbEx/djk2qmi/ruY/B85iEwCgYIKoZIzj0EAwIw\n"
                              "FzEVMBMGA1UEAwwMTm92YSBUZXN0IENBMCAXDTI2MTEyMjE1MDc1MFoYDzIxMjYx\n"
                              "MDI5MTUwNzUwWjATMREwDwYDVQQDDAhjbGllbnQtMTBZMBMGByqGSM49AgEGCCqG\n"
                              "SM49AwEHA0IABF7cXR+Iu9yYP3SnnaDMiTfy5ZzG2ZShvyQ9J2sfhaPzbE+RoXak\n"
                              "lmMDgnO8W9DtOAnwWAg6idD3185OT+NXhAijYjBgMAkGA1UdEwQCMAAwEwYDVR0l\n"
                              "BAwwCgYIKwYBBQUHAwIwHQYDVR0OBBYEFL85wTUH8+iRr3ZnkrpT5RkOKaXPMB8G\n"
                              "A1UdIwQYMBaAFGxccC+skvtSucb7GHiupjOqaC6FMAoGCCqGSM49BAMCA0cAMEQC\n"
                              "IDMV9Z687LXAzsDPX96+ggLhYeuQ8H97KQBj9DSqiQ9gAiBwC+YRXtGXbQXGnjC8\n"
                              "c+u7kJNtcpTHaGbcnM5qwJF2wQ==\n"
                              "-----END CERTIFICATE-----\n";
static const char CLI_KEY[] = "-----BEGIN PRIVATE KEY-----\n"
                              "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgvaYUXv/LF+jcNgBa\n"
                              "RlQgFVWCL3QrxDc8+ZQnjxnACnehRANCAARe3F0fiLvcmD90p52gzIk38uWcxtmU\n"
                              "ob8kPSdrH4Wj82xPkaF2pJZjA4JzvFvQ7TgJ8FgIOonQ99fOTk/jV4QI\n"
                              "-----END PRIVATE KEY-----\n";
static const char ROGUE_PEM[] = "-----BEGIN CERTIFICATE-----\n"
                                "MIIBdzCCAR2gAwIBAgIUKcsx7Sr8x5IeMOKYDKloftnxQiYwCgYIKoZIzj0EAwIw\n"
                                "EDEOMAwGA1UEAwwFcm9ndWUwIBcNMjYxMTIyMTUwNzUwWhgPMjEyNjEwMjkxNTA3\n"
                                "NTBaMBAxDjAMBgNVBAMMBXJvZ3VlMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n"
                                "Aon57n8eMrwqpQAN/VhomLNdRUItCv/yHT6ECG4YAR85GW+Vx/GP6SNGEBIq/nRd\n"
                                "B78w50tih12FXo+7ij8gVKNTMFEwHQYDVR0OBBYEFM8F+W16g2Ud9SLVaMpzug7X\n"
                                "+IsPMB8GA1UdIwQYMBaAFM8F+W16g2Ud9SLVaMpzug7X+IsPMA8GA1UdEwEB/wQF\n"
                                "MAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIhAOQg5Ehxc1gXORP4/CcL7xmeZBdG9t9K\n"
                                "IbajzWT5I1slAiBbUl9G/c5+i7ZnZz+JTnXhQv5XwNGqVukHLRfk6AubJw==\n"
                                "-----END CERTIFICATE-----\n";
static const char ROGUE_KEY[] = "-----BEGIN PRIVATE KEY-----\n"
                                "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgmkSPy/YI+R6ip068\n"
                                "jikLUezh18w+R5EtA7fdYi/hHzuhRANCAAQCifnufx4yvCqlAA39WGiYs11FQi0K\n"
                                "//IdPoQIbhgBHzkZb5XH8Y/pI0YQEir+dF0HvzDnS2KHXYVej7uKPyBU\n"
                                "-----END PRIVATE KEY-----\n";

static void h_whoami(nova_req_t *r, void *ud)
{
    const char *t = nova_req_client_cert_thumbprint(r);
    (void)ud;
    nova_resp_body(r, 200, "text/plain", t ? t : "none", strlen(t ? t : "none"));
}

/* A TLS connection, presenting cert/key when given. */
static conn_t *tls_open(unsigned port, const char *cert, const char *key)
{
    conn_t *c = conn_open(port);
    int rc;
    assert_non_null(c);
    assert_int_equal(gnutls_certificate_allocate_credentials(&c->cred), 0);
    gnutls_datum_t ca = {(unsigned char *)CA_PEM, sizeof(CA_PEM) - 1};
    assert_true(gnutls_certificate_set_x509_trust_mem(c->cred, &ca, GNUTLS_X509_FMT_PEM) > 0);
    if (cert) {
        gnutls_datum_t cd = {(unsigned char *)cert, (unsigned)strlen(cert)};
        gnutls_datum_t kd = {(unsigned char *)key, (unsigned)strlen(key)};
        assert_int_equal(
            gnutls_certificate_set_x509_key_mem(c->cred, &cd, &kd, GNUTLS_X509_FMT_PEM), 0);
    }
    assert_int_equal(gnutls_init(&c->tls, GNUTLS_CLIENT), 0);
    assert_int_equal(gnutls_set_default_priority(c->tls), 0);
    assert_int_equal(gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, c->cred), 0);
    gnutls_session_set_verify_cert(c->tls, "127.0.0.1", 0);
    gnutls_transport_set_int(c->tls, c->fd);
    do {
        rc = gnutls_handshake(c->tls);
    } while (rc < 0 && !gnutls_error_is_fatal(rc));
    assert_int_equal(rc, 0);
    return c;
}

static void test_mtls(void **state)
{
    nova_http_server_t *s;
    nova_http_config_t cfg = {
        .host = "127.0.0.1",
        .threads = 1,
        .tls_cert_pem = SRV_PEM,
        .tls_key_pem = SRV_KEY,
        .tls_client_ca_pem = CA_PEM,
    };
    resp_t r;
    conn_t *c;
    (void)state;

    assert_int_equal(nova_http_server_new(&cfg, &s), NOVA_OK);
    assert_int_equal(nova_http_route(s, "GET", "/whoami", NULL, 0, h_whoami, NULL), NOVA_OK);
    assert_int_equal(nova_http_server_start(s), NOVA_OK);
    unsigned port = nova_http_server_port(s);

    /* the thumbprint of CLI_PEM: SHA-256 of its DER, base64url */
    c = tls_open(port, CLI_PEM, CLI_KEY);
    conn_sendf(c, "GET /whoami HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(conn_recv_resp(c, &r, false));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "PumiS-ntTI_tIYZn4a2m8Omvu9MRl6rtKEMgMvvo3KA");
    resp_free(&r);
    /* keep-alive over TLS */
    conn_sendf(c, "GET /whoami HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(conn_recv_resp(c, &r, false));
    assert_int_equal(r.status, 200);
    resp_free(&r);
    conn_close(c);

    c = tls_open(port, NULL, NULL);
    conn_sendf(c, "GET /whoami HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(conn_recv_resp(c, &r, false));
    assert_string_equal(r.body, "none");
    resp_free(&r);
    conn_close(c);

    /* a certificate the CA did not issue: MHD only requests certificates, so the handshake
     * succeeds, but the certificate does not verify and so has no thumbprint */
    c = tls_open(port, ROGUE_PEM, ROGUE_KEY);
    conn_sendf(c, "GET /whoami HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(conn_recv_resp(c, &r, false));
    assert_string_equal(r.body, "none");
    resp_free(&r);
    conn_close(c);

    nova_http_server_free(s);
}
#endif

int main(void)
{
    const struct CMUnitTest served[] = {
        cmocka_unit_test(test_route_params),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_method_not_allowed),
        cmocka_unit_test(test_bad_path),
        cmocka_unit_test(test_body_echo),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_req_id),
        cmocka_unit_test(test_traceparent),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_problems),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_access_log),
    };
    const struct CMUnitTest standalone[] = {
        cmocka_unit_test(test_blocked_handler_holds_up_nothing),
        cmocka_unit_test(test_stop_with_queued_request),
        cmocka_unit_test(test_validators),
        cmocka_unit_test(test_raw_path_rules),
        cmocka_unit_test(test_ip_table),
        cmocka_unit_test(test_route_registration),
        cmocka_unit_test(test_port_in_use),
        cmocka_unit_test(test_graceful_stop),
        cmocka_unit_test(test_stop_grace_expires),
#ifdef NOVA_HAVE_GNUTLS
        cmocka_unit_test(test_mtls),
#endif
    };
    int fails = cmocka_run_group_tests_name("http_served", served, setup, teardown);
    fails += cmocka_run_group_tests_name("http_standalone", standalone, NULL, NULL);
    return fails;
}
