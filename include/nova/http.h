/*
 * http.h: Nova's HTTP server on libmicrohttpd (epoll, thread pool, optional TLS with client
 * certificates via GnuTLS), a router with {param} path segments, problem+json errors
 * (RFC 9457), request ids, traceparent pass-through, one JSON access-log line per request and
 * Prometheus metrics.
 *
 * Each request owns an arena (req->arena) freed when the response has been queued: handlers
 * allocate from it and never free.
 */
#ifndef NOVA_HTTP_H
#define NOVA_HTTP_H

#include "nova/base.h"

typedef struct nova_http_server nova_http_server_t;
typedef struct nova_req nova_req_t;

/* What an authenticator learned about the caller; arena strings. */
typedef struct nova_principal {
    const char *tenant_id;
    const char *tenant_name;
    const char *client_id;
    const char *scope; /* space-separated */
    const char *jti;
    int64_t exp;
    /* A person (a user access token of the people domain) rather than a client: the user id,
     * the session's effective AAL and methods, and the user's roles (space-separated; a
     * just-in-time credential's role included). client_id is then the audit actor (the user
     * id, "#<access request>" appended under a just-in-time credential) and scope is empty.
     * user_id is NULL for OAuth clients and API keys. */
    const char *user_id;
    const char *amr;
    const char *roles;
    int aal;
} nova_principal_t;

/* A second authentication step that needs the request body (see nova_req.body_check). */
typedef bool (*nova_body_check_fn)(nova_req_t *r, void *ud);

#define NOVA_HTTP_MAX_PARAMS 4
#define NOVA_HTTP_MAX_RESP_HEADERS 8

struct nova_req {
    nova_arena_t arena;
    const char *method;      /* "GET", ... */
    const char *path;        /* raw path as sent (percent-encoded), no query string */
    const char *query;       /* raw query as sent (after '?', still encoded); NULL: no '?' */
    const char *route;       /* matched pattern ("/v1/clients/{id}") or "unmatched" */
    const char *req_id;      /* x-req-id honoured (if sane) or generated */
    const char *traceparent; /* valid W3C traceparent or NULL */
    const char *params[NOVA_HTTP_MAX_PARAMS]; /* path parameters (decoded) in pattern order */
    size_t nparams;
    nova_buf_t body;             /* request body (NUL-terminated), at most the route's limit */
    nova_principal_t *principal; /* set by the authenticator, NULL on public routes */
    /* Set by an authenticator whose credential covers the body (an API-key signature): the
     * server calls it once the body has been read, before the handler. false: it wrote the
     * error reply and the handler does not run. */
    nova_body_check_fn body_check;
    void *body_check_ud;

    /* response, filled by nova_resp_* */
    int status;
    const char *content_type;
    nova_buf_t resp_body;
    const char *resp_hdr_name[NOVA_HTTP_MAX_RESP_HEADERS];
    const char *resp_hdr_value[NOVA_HTTP_MAX_RESP_HEADERS];
    size_t resp_nhdr;
    const char *problem_code; /* machine code of an error reply, for the log */

    void *conn_; /* private to the server */
    int route_idx_;
    uint64_t start_ns_;
    bool body_too_large_;
};

/* A request header (case-insensitive name) or NULL. */
const char *nova_req_header(nova_req_t *r, const char *name);
/* A query-string argument (decoded) or NULL. */
const char *nova_req_query(nova_req_t *r, const char *name);
/* The address the connection came from, in text form ("192.0.2.1", "2001:db8::1"; IPv4
 * never as ::ffff:a.b.c.d), in the arena; NULL when unknown. The peer of the socket: a
 * proxy's address when one is in front (X-Forwarded-For is not read). */
const char *nova_req_peer_ip(nova_req_t *r);
/* The TLS client certificate the connection presented (arena strings). */
typedef struct nova_client_cert {
    const char *thumbprint; /* SHA-256 of the leaf certificate's DER, base64url */
    bool verified;          /* it chains to the configured client CA and is valid now */
    const char *subject_dn; /* RFC 4514 subject, or NULL */
} nova_client_cert_t;
/* false when the connection carries no client certificate (plain HTTP, or none sent). */
bool nova_req_client_cert(nova_req_t *r, nova_client_cert_t *out);
/* The TLS client certificate's SHA-256 thumbprint (base64url) or NULL without mTLS. */
const char *nova_req_client_cert_thumbprint(nova_req_t *r);

/* Sets the reply. body is copied. */
void nova_resp_body(nova_req_t *r, int status, const char *content_type, const char *body,
                    size_t n);
/* Sets a JSON reply; json is a complete JSON text (copied). */
void nova_resp_json(nova_req_t *r, int status, const char *json, size_t n);
/* Adds a response header; name and value are copied into the arena. */
void nova_resp_header(nova_req_t *r, const char *name, const char *value);
/* RFC 9457 problem+json: {"type","title","status","detail","code","instance":req_id}.
 * type is "https://nova.dev/problems/<code>". detail may be NULL. */
void nova_resp_problem(nova_req_t *r, int status, const char *code, const char *title,
                       const char *detail);
/* Maps a nova_status to its HTTP status, code and title (one table), then as above. */
void nova_resp_status(nova_req_t *r, nova_status st, const char *detail);
/* The HTTP status nova_resp_status uses for st. */
int nova_http_status_for(nova_status st);

typedef void (*nova_handler_fn)(nova_req_t *r, void *ud);

/* Called before the handler of every route registered with a non-NULL scope. Returns true to
 * go on (having set r->principal), or false having written the error reply itself. scope ""
 * means any valid credential. */
typedef bool (*nova_authenticator_fn)(nova_req_t *r, const char *scope, void *ud);

typedef struct nova_http_config {
    const char *host;         /* "127.0.0.1" */
    unsigned port;            /* 0 = pick a free port (see nova_http_server_port) */
    unsigned threads;         /* worker (epoll) threads, 0 = number of CPUs */
    unsigned handler_threads; /* threads that run handlers, 0 = 8 per CPU */
    size_t max_body;          /* bytes; larger bodies get 413 */
    const char *tls_cert_pem; /* PEM text (not a path) or NULL for plain HTTP */
    const char *tls_key_pem;
    const char *tls_client_ca_pem; /* when set, client certificates are requested */
    bool access_log;               /* one JSON line per request */
    unsigned connection_timeout;   /* seconds idle before a connection is closed */
    /* Limits against slow and greedy clients; 0 picks the default shown. */
    unsigned max_connections;        /* open connections in all (4096) */
    unsigned max_connections_per_ip; /* per client address (256); UINT_MAX: no limit */
    unsigned header_timeout;         /* s from connect (or the last response) to the end of the
                                        request's header block (10) */
    unsigned body_timeout;           /* s for a body, plus its size at body_min_rate (10) */
    unsigned body_min_rate;          /* bytes/s a body must at least arrive at (16384) */
    /* A socket already bound to host:port (nova_config_t.port_fd) that the server listens on
     * instead of binding anew; it then owns it. Only read when has_bound_fd. */
    bool has_bound_fd;
    int bound_fd;
} nova_http_config_t;

nova_status nova_http_server_new(const nova_http_config_t *cfg, nova_http_server_t **out);
/* Registers a route before start. pattern segments "{name}" match one non-empty segment of
 * the raw path; parameters reach the handler percent-decoded. A last segment "{name*}" matches
 * one or more further segments (up to the router's 16 in all), captures nothing (the handler
 * reads r->path) and ranks after every other route that matches. scope NULL: public; otherwise
 * the authenticator runs first, on the headers alone, before any of the body is read.
 * max_body: the largest body the route reads (capped by the server's max_body); 0 means it
 * takes none. A larger body, or any body where none is taken, is answered 413 unread. */
nova_status nova_http_route(nova_http_server_t *s, const char *method, const char *pattern,
                            const char *scope, size_t max_body, nova_handler_fn fn, void *ud);
void nova_http_set_authenticator(nova_http_server_t *s, nova_authenticator_fn fn, void *ud);
/* Starts listening: one accept thread hands each connection to the least loaded of `threads`
 * worker threads (one libmicrohttpd epoll daemon each), after the connection limits. A worker
 * reads requests and writes replies; handlers run on `handler_threads` threads of their own,
 * so a handler that blocks holds up no other request. */
nova_status nova_http_server_start(nova_http_server_t *s);
/* The bound port (useful with port 0). */
unsigned nova_http_server_port(const nova_http_server_t *s);
/* Stops accepting, lets in-flight requests finish (up to grace_ms), then stops. */
void nova_http_server_stop(nova_http_server_t *s, unsigned grace_ms);
void nova_http_server_free(nova_http_server_t *s);

/* The Prometheus text exposition of this server's metrics (handler for GET /metrics). */
void nova_http_metrics_handler(nova_req_t *r, void *server);

#endif
