/*
 * http_internal.h: what the files of src/http share and nobody else sees. The server owns a
 * router (immutable once started, so request threads read it without a lock) and a metrics
 * table of C11 atomics (lock-free on the hot path).
 */
#ifndef NOVA_HTTP_INTERNAL_H
#define NOVA_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "nova/http.h"

#define HTTP_MAX_SEGS 16
#define HTTP_ARENA_CHUNK 4096
#define HTTP_UNMATCHED "unmatched"

/* ---- router (router.c) ---- */

typedef struct http_route {
    char *method;
    char *pattern;
    char *scope;     /* NULL: public */
    size_t max_body; /* largest body this route reads; 0: it takes none */
    nova_handler_fn fn;
    void *ud;
    size_t nsegs;
    nova_str_t segs[HTTP_MAX_SEGS]; /* literal text into pattern; base NULL for "{param}" */
    uint32_t param_mask;            /* bit (HTTP_MAX_SEGS-1-i) set when segment i is a param */
    bool rest;                      /* the last pattern segment is "{name*}": one or more */
    size_t order;                   /* registration order, to keep sorting stable */
    size_t metric_slot;             /* index into http_metrics_t.slots */
} http_route_t;

typedef struct http_router {
    http_route_t *routes;
    size_t n, cap;
} http_router_t;

/* A request path split in place into segments ("/a/b" -> "a","b"); "/" has none. */
typedef struct http_path {
    char *segs[HTTP_MAX_SEGS];
    size_t lens[HTTP_MAX_SEGS];
    size_t nsegs;
    bool too_long; /* more segments than any pattern can have: matches nothing */
} http_path_t;

typedef enum http_match {
    HTTP_MATCH_OK = 0,
    HTTP_MATCH_NOT_FOUND,  /* no pattern matches the path */
    HTTP_MATCH_BAD_METHOD, /* a pattern matches, not with this method */
} http_match;

void http_router_free(http_router_t *rt);
/* Validates and adds a route; strings are copied. */
nova_status http_router_add(http_router_t *rt, const char *method, const char *pattern,
                            const char *scope, size_t max_body, nova_handler_fn fn, void *ud);
/* Orders routes so the most literal pattern wins (literal beats {param} at the first segment
 * where two patterns differ), then registration order. Called once before serving. */
void http_router_finish(http_router_t *rt);
/* Splits path (a writable arena copy, starting with '/') into out. */
void http_path_split(char *path, http_path_t *out);
/* Looks up method + path (raw, still percent-encoded: literal segments compare byte for byte).
 * On OK *idx is the route and params[] (*nparams) point into the path's segments, still
 * encoded (see http_param_decode); on BAD_METHOD *idx is the first route whose pattern
 * matches. */
http_match http_router_match(const http_router_t *rt, const char *method, const http_path_t *p,
                             size_t *idx, const char **params, size_t *nparams);
/* Percent-decodes a path parameter in place. False when an escape is malformed or decodes to
 * a control byte or '/', which no parameter may hold. */
bool http_param_decode(char *seg);
/* The "Allow" value (e.g. "GET, HEAD, POST") for a path, in the arena, or NULL. */
char *http_router_allow(const http_router_t *rt, const http_path_t *p, nova_arena_t *a);

/* ---- metrics (metrics.c) ---- */

enum {
    HTTP_M_GET,
    HTTP_M_HEAD,
    HTTP_M_POST,
    HTTP_M_PUT,
    HTTP_M_PATCH,
    HTTP_M_DELETE,
    HTTP_M_OPTIONS,
    HTTP_M_OTHER,
    HTTP_NMETHODS
};
#define HTTP_NSTATUS 25  /* fixed list of codes + "other", see metrics.c */
#define HTTP_NBUCKETS 13 /* 12 bounds + "+Inf" */

typedef struct http_route_metrics {
    const char *route; /* pattern or "unmatched"; points into the router */
    _Atomic uint64_t requests[HTTP_NMETHODS][HTTP_NSTATUS];
    _Atomic uint64_t buckets[HTTP_NBUCKETS]; /* not cumulative; summed when rendered */
    _Atomic uint64_t sum_ns;
} http_route_metrics_t;

/* Why a connection was refused at accept, or closed by a deadline. */
enum { HTTP_REFUSE_TOTAL, HTTP_REFUSE_PER_IP, HTTP_REFUSE_FDS, HTTP_NREFUSE };
enum { HTTP_PHASE_HEADERS, HTTP_PHASE_BODY, HTTP_NPHASES };

typedef struct http_metrics {
    http_route_metrics_t *slots; /* slot 0 is "unmatched" */
    size_t nslots;
    _Atomic int64_t in_flight;
    double process_start; /* seconds since the epoch */
    _Atomic uint64_t conn_accepted;
    _Atomic uint64_t conn_refused[HTTP_NREFUSE];
    _Atomic uint64_t conn_timed_out[HTTP_NPHASES];
    _Atomic int64_t conn_open;
    _Atomic uint64_t *worker_requests; /* one per worker thread */
    size_t nworkers;
    const struct http_pool *pool; /* the handler threads' gauges; NULL before start */
} http_metrics_t;

/* Gives every distinct route pattern a slot (after http_router_finish) and each of nworkers
 * worker threads a request counter. */
nova_status http_metrics_init(http_metrics_t *m, http_router_t *rt, size_t nworkers);
void http_metrics_free(http_metrics_t *m);
/* Counts one answered request. */
void http_metrics_observe(http_metrics_t *m, size_t slot, const char *method, int status,
                          uint64_t dur_ns);
/* Appends the Prometheus text exposition (format 0.0.4). */
nova_status http_metrics_render(http_metrics_t *m, nova_buf_t *out);

/* ---- connections (conn.c) ---- */

/* One accepted connection, from accept to MHD's "closed" notification. The table lock guards
 * membership (so the reaper only touches sockets that are still open: MHD notifies "closed"
 * before it closes the socket); the deadline is an atomic the worker thread moves on. */
typedef struct http_conn {
    int fd;
    unsigned worker;
    unsigned char ip[16];        /* IPv4 as ::ffff:a.b.c.d */
    _Atomic int64_t deadline_ms; /* monotonic; 0: none runs */
    _Atomic int phase;           /* HTTP_PHASE_*: which deadline runs, for metrics */
    bool claimed;                /* MHD reported it started: its socket context is this */
    bool reaped;                 /* shut down by the reaper */
    struct http_conn *prev, *next;
} http_conn_t;

typedef struct http_worker {
    struct MHD_Daemon *daemon; /* one epoll thread */
    unsigned open;             /* connections, under the table lock */
} http_worker_t;

typedef struct http_ip_slot {
    unsigned char ip[16];
    unsigned count; /* 0: empty */
} http_ip_slot_t;

typedef struct http_conns {
    pthread_mutex_t lock;
    http_conn_t *head;
    http_conn_t **by_fd; /* accepted, not yet claimed or still open, by socket */
    size_t by_fd_cap;
    http_ip_slot_t *ips; /* open addressing, power-of-two size, backward-shift deletion */
    size_t ip_mask;
    unsigned open;
} http_conns_t;

/* Sets up the connection table and opens the listening socket on addr (sets s->port). */
nova_status http_listen(nova_http_server_t *s, const struct sockaddr *addr, socklen_t len);
/* Starts / stops the accept thread (which also runs the deadlines). Stop closes the listening
 * socket, so new connections are refused by the kernel from then on. */
nova_status http_accept_start(nova_http_server_t *s);
void http_accept_stop(nova_http_server_t *s);
void http_conns_free(http_conns_t *t);
/* MHD_OPTION_NOTIFY_CONNECTION callback. */
void http_conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode toe);
/* The connection entry of an MHD connection, or NULL. */
http_conn_t *http_conn_of(struct MHD_Connection *c);
/* Starts the deadline of phase (ms from now), or stops deadlines (ms 0). */
void http_conn_deadline(http_conn_t *c, int phase, uint64_t ms);

/* ---- handler threads (pool.c) ---- */

/* A unit of work for the handler threads, embedded in what it runs on. */
typedef struct http_job {
    struct http_job *next;
    void (*run)(struct http_job *j);
} http_job_t;

typedef struct http_pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    http_job_t *head, *tail; /* queued, oldest first */
    pthread_t *threads;
    size_t nthreads;
    bool stopping, initialised;
    _Atomic int64_t queued;  /* waiting for a thread (a gauge) */
    _Atomic int64_t running; /* inside a handler (a gauge) */
} http_pool_t;

/* Starts nthreads handler threads. */
nova_status http_pool_start(http_pool_t *p, size_t nthreads);
/* Queues j; a handler thread calls j->run(j). */
void http_pool_push(http_pool_t *p, http_job_t *j);
/* Lets the running jobs finish, stops the threads, then hands each job still queued to drop
 * (when not NULL). A pool never started, or already stopped, is left alone. */
void http_pool_stop(http_pool_t *p, void (*drop)(http_job_t *j));

/* ---- server (server.c) ---- */

struct nova_http_server {
    nova_http_config_t cfg; /* strings below are owned copies */
    char *host, *tls_cert, *tls_key, *tls_ca;
    http_router_t router;
    nova_authenticator_fn auth;
    void *auth_ud;
    http_worker_t *workers;
    size_t nworkers;
    int listen_fd;
    int wake_fd; /* eventfd: wakes the accept thread to stop */
    pthread_t acceptor;
    bool acceptor_running;
    unsigned port;
    atomic_bool stopping;
    http_conns_t conns;
    http_pool_t pool;
    http_metrics_t metrics;
};

/* ---- tls.c ---- */

/* SHA-256 of the verified client certificate (DER), base64url, in the arena; or NULL. */
const char *http_tls_thumbprint(void *mhd_connection, nova_arena_t *a);

#endif
