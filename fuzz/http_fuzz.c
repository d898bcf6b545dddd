/*
 * http_fuzz.c: libFuzzer target for Nova's HTTP edge, end to end. One real server (acceptor,
 * two worker daemons, a public route, a scoped route with a body, path parameters) runs on
 * loopback for the whole session; each input is written to a fresh connection as raw bytes,
 * the write side is shut, and the answer read until the server closes. Nova's own parsing
 * (framing checks, the header layout check, the raw path rules, parameter decoding, the query
 * limits, body limits) runs on every input inside this sanitized process. An answer must be
 * nothing (libmicrohttpd gave up) or HTTP/1.1 responses; a problem+json body must parse.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "nova/http.h"
#include "nova/log.h"

static nova_http_server_t *srv;
static unsigned port;

static void h_ok(nova_req_t *r, void *ud)
{
    (void)ud;
    nova_resp_json(r, 200, "{}", 2);
}

static void h_param(nova_req_t *r, void *ud)
{
    (void)ud;
    /* Decoded parameters hold no '/' and no control byte. */
    for (size_t i = 0; i < r->nparams; i++)
        for (const char *p = r->params[i]; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == '/' || *p == 0x7f)
                abort();
    nova_resp_json(r, 200, "{}", 2);
}

static void h_body(nova_req_t *r, void *ud)
{
    (void)ud;
    if (r->body.len > 256)
        abort(); /* the route's limit */
    nova_resp_json(r, 201, "{}", 2);
}

static bool auth_header(nova_req_t *r, const char *scope, void *ud)
{
    (void)scope;
    (void)ud;
    const char *a = nova_req_header(r, "Authorization");
    if (a && strcmp(a, "Bearer ok") == 0)
        return true;
    nova_resp_status(r, NOVA_UNAUTHORIZED, NULL);
    return false;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    nova_log_set_level(NOVA_LOG_OFF);
    nova_http_config_t cfg = {.host = "127.0.0.1",
                              .threads = 2,
                              .max_body = 1024,
                              .header_timeout = 2,
                              .body_timeout = 2,
                              .connection_timeout = 2,
                              .max_connections_per_ip = UINT_MAX};
    if (nova_http_server_new(&cfg, &srv) != NOVA_OK ||
        nova_http_route(srv, "GET", "/v1/health", NULL, 0, h_ok, NULL) != NOVA_OK ||
        nova_http_route(srv, "GET", "/v1/things/{id}/parts/{part}", NULL, 0, h_param, NULL) !=
            NOVA_OK ||
        nova_http_route(srv, "POST", "/v1/things", "things:write", 256, h_body, NULL) != NOVA_OK)
        abort();
    nova_http_set_authenticator(srv, auth_header, NULL);
    if (nova_http_server_start(srv) != NOVA_OK)
        abort();
    port = nova_http_server_port(srv);
    return 0;
}

/* Every response in the answer starts with a status line; problem bodies parse. */
static void check_answer(const char *buf, size_t n)
{
    if (n == 0)
        return;
    if (n < 12 || memcmp(buf, "HTTP/1.1 ", 9) != 0)
        abort();
    const char *body = memmem(buf, n, "\r\n\r\n", 4);
    if (!body)
        return; /* cut short by the read limit */
    if (memmem(buf, (size_t)(body - buf), "application/problem+json", 24)) {
        const char *cl = memmem(buf, (size_t)(body - buf), "Content-Length: ", 16);
        if (!cl)
            abort();
        size_t len = strtoul(cl + 16, NULL, 10);
        body += 4;
        if ((size_t)(buf + n - body) >= len) {
            json_error_t e;
            json_t *j = json_loadb(body, len, 0, &e);
            if (!j)
                abort();
            json_decref(j);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    static char buf[1 << 16];
    size_t n = 0;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        abort();
    for (size_t off = 0; off < size;) {
        ssize_t w = send(fd, data + off, size - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server answered and closed early */
        off += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    /* libmicrohttpd does not notice a half-closed client once it has answered (the
     * connection then waits for its header deadline), so the answer is taken as complete
     * once some of it has come and 3 ms pass without more. Nothing at all within 5 s is a
     * hang. */
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int rc = poll(&p, 1, n ? 3 : 5000);
        if (rc == 0 && n == 0)
            abort(); /* the server neither answered nor closed: a hang */
        if (rc <= 0)
            break;
        ssize_t r = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == sizeof(buf) - 1)
            break;
    }
    close(fd);
    check_answer(buf, n);
    return 0;
}
