/*
 * conn.c: the listening socket, the accept thread, connection limits and deadlines.
 *
 * Nova accepts connections itself instead of letting libmicrohttpd do it, for three reasons:
 *  - Spread. Each worker is its own MHD epoll daemon; the acceptor hands a new connection to
 *    the worker with the fewest open connections. MHD's thread pool lets every worker race for
 *    the shared listening socket, and under a burst one worker can take all of them (measured:
 *    64 wrk connections on one of two threads, half the throughput).
 *  - Limits. A total and a per-address cap are checked before a connection costs anything; a
 *    refusal is counted and answered with a short 503 problem (plain HTTP) before the close.
 *  - Deadlines. MHD's idle timeout restarts on every byte, so a client sending one header
 *    line every few seconds holds its connection forever. Here every connection carries one
 *    deadline: the end of the header block (from connect, or from the end of the previous
 *    response), then the end of the body (a base plus its size at a minimum rate). The
 *    acceptor checks them every tick and shuts a late connection's socket down; MHD then sees
 *    the end of the stream and closes it through its normal path.
 *
 * Safety of the shutdown: the table lock guards which entries exist; MHD notifies "closed"
 * (and we drop the entry under the lock) before it closes the socket, so a socket the reaper
 * shuts down is always the connection's own, never a reused descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_internal.h"
#include "nova/log.h"

#define TICK_MS 200
#define ACCEPT_BATCH 64
#define FD_BACKOFF_MS 50
#define TRIM_EVERY_MS 10000
#define QUIET_MS 1000

static int64_t now_ms(void)
{
    return (int64_t)(nova_time_mono_ns() / 1000000u);
}

/* ---- per-address counts: open addressing, linear probing, backward-shift deletion ---- */

static size_t ip_hash(const unsigned char ip[16], size_t mask)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (int i = 0; i < 16; i++)
        h = (h ^ ip[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29)) & mask;
}

static http_ip_slot_t *ip_find(http_conns_t *t, const unsigned char ip[16], bool insert)
{
    for (size_t i = ip_hash(ip, t->ip_mask);; i = (i + 1) & t->ip_mask) {
        http_ip_slot_t *e = &t->ips[i];
        if (e->count == 0) {
            if (!insert)
                return NULL;
            memcpy(e->ip, ip, 16);
            return e;
        }
        if (memcmp(e->ip, ip, 16) == 0)
            return e;
    }
}

/* The table has twice as many slots as connections can be open, so a probe always ends. */
static void ip_release(http_conns_t *t, const unsigned char ip[16])
{
    http_ip_slot_t *e = ip_find(t, ip, false);
    if (!e || --e->count > 0)
        return;
    size_t hole = (size_t)(e - t->ips);
    for (size_t j = (hole + 1) & t->ip_mask; t->ips[j].count; j = (j + 1) & t->ip_mask) {
        size_t home = ip_hash(t->ips[j].ip, t->ip_mask);
        /* Move j into the hole unless its home lies cyclically in (hole, j]. */
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            t->ips[hole] = t->ips[j];
            t->ips[j].count = 0;
            hole = j;
        }
    }
}

/* ---- the table ---- */

static nova_status conns_init(nova_http_server_t *s)
{
    http_conns_t *t = &s->conns;
    size_t n = 16;
    while (n < 2 * (size_t)s->cfg.max_connections)
        n <<= 1;
    t->ips = calloc(n, sizeof(*t->ips));
    if (!t->ips)
        return NOVA_NOMEM;
    t->ip_mask = n - 1;
    pthread_mutex_init(&t->lock, NULL);
    return NOVA_OK;
}

void http_conns_free(http_conns_t *t)
{
    if (!t->ips)
        return;
    /* Entries MHD never claimed (it failed to set the connection up) are left here. */
    while (t->head) {
        http_conn_t *c = t->head;
        t->head = c->next;
        free(c);
    }
    free(t->by_fd);
    free(t->ips);
    pthread_mutex_destroy(&t->lock);
    memset(t, 0, sizeof(*t));
}

/* Under the lock: unlinks c and gives back its counts. */
static void conn_drop(nova_http_server_t *s, http_conn_t *c)
{
    http_conns_t *t = &s->conns;
    if (c->prev)
        c->prev->next = c->next;
    else
        t->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if ((size_t)c->fd < t->by_fd_cap && t->by_fd[c->fd] == c)
        t->by_fd[c->fd] = NULL;
    if (s->cfg.max_connections_per_ip != UINT_MAX)
        ip_release(t, c->ip);
    s->workers[c->worker].open--;
    t->open--;
    atomic_fetch_sub_explicit(&s->metrics.conn_open, 1, memory_order_relaxed);
    free(c);
}

static bool by_fd_reserve(http_conns_t *t, int fd)
{
    if ((size_t)fd < t->by_fd_cap)
        return true;
    size_t cap = t->by_fd_cap ? t->by_fd_cap : 256;
    while (cap <= (size_t)fd)
        cap *= 2;
    http_conn_t **n = realloc(t->by_fd, cap * sizeof(*n));
    if (!n)
        return false;
    memset(n + t->by_fd_cap, 0, (cap - t->by_fd_cap) * sizeof(*n));
    t->by_fd = n;
    t->by_fd_cap = cap;
    return true;
}

static void ip_key(const struct sockaddr_storage *ss, unsigned char ip[16])
{
    memset(ip, 0, 16);
    if (ss->ss_family == AF_INET6) {
        memcpy(ip, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
    } else if (ss->ss_family == AF_INET) {
        ip[10] = ip[11] = 0xff;
        memcpy(ip + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    }
}

/* Admits a new connection or says which limit refuses it (HTTP_NREFUSE: admitted). */
static int conn_admit(nova_http_server_t *s, int fd, const struct sockaddr_storage *ss,
                      unsigned *worker)
{
    http_conns_t *t = &s->conns;
    unsigned char ip[16];
    int why = HTTP_NREFUSE;
    http_conn_t *c = calloc(1, sizeof(*c));

    ip_key(ss, ip);
    pthread_mutex_lock(&t->lock);
    if (!c || !by_fd_reserve(t, fd)) {
        why = HTTP_REFUSE_FDS;
        goto end;
    }
    /* A descriptor the kernel hands out again was closed: an entry still under it is one MHD
     * dropped without telling us (it failed to set the connection up). */
    if (t->by_fd[fd])
        conn_drop(s, t->by_fd[fd]);
    if (t->open >= s->cfg.max_connections) {
        why = HTTP_REFUSE_TOTAL;
        goto end;
    }
    if (s->cfg.max_connections_per_ip != UINT_MAX) {
        http_ip_slot_t *e = ip_find(t, ip, true);
        if (e->count >= s->cfg.max_connections_per_ip) {
            why = HTTP_REFUSE_PER_IP;
            goto end;
        }
        e->count++;
    }
    /* The worker with the fewest connections. */
    unsigned w = 0;
    for (unsigned i = 1; i < s->nworkers; i++)
        if (s->workers[i].open < s->workers[w].open)
            w = i;
    s->workers[w].open++;
    t->open++;
    c->fd = fd;
    c->worker = w;
    memcpy(c->ip, ip, 16);
    atomic_init(&c->phase, HTTP_PHASE_HEADERS);
    atomic_init(&c->deadline_ms, now_ms() + (int64_t)s->cfg.header_timeout * 1000);
    c->next = t->head;
    if (t->head)
        t->head->prev = c;
    t->head = c;
    t->by_fd[fd] = c;
    c = NULL;
    *worker = w;
    atomic_fetch_add_explicit(&s->metrics.conn_open, 1, memory_order_relaxed);
end:
    pthread_mutex_unlock(&t->lock);
    free(c);
    return why;
}

void http_conn_notify(void *cls, struct MHD_Connection *mc, void **socket_context,
                      enum MHD_ConnectionNotificationCode toe)
{
    nova_http_server_t *s = cls;
    http_conns_t *t = &s->conns;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        int fd = ci ? (int)ci->connect_fd : -1;
        pthread_mutex_lock(&t->lock);
        if (fd >= 0 && (size_t)fd < t->by_fd_cap && t->by_fd[fd] && !t->by_fd[fd]->claimed) {
            t->by_fd[fd]->claimed = true;
            *socket_context = t->by_fd[fd];
        }
        pthread_mutex_unlock(&t->lock);
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        pthread_mutex_lock(&t->lock);
        conn_drop(s, *socket_context);
        pthread_mutex_unlock(&t->lock);
        *socket_context = NULL;
    }
}

http_conn_t *http_conn_of(struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

void http_conn_deadline(http_conn_t *c, int phase, uint64_t ms)
{
    if (!c)
        return;
    atomic_store_explicit(&c->phase, phase, memory_order_relaxed);
    atomic_store_explicit(&c->deadline_ms, ms ? now_ms() + (int64_t)ms : 0, memory_order_relaxed);
}

/* Shuts down every connection past its deadline. */
static void reap(nova_http_server_t *s)
{
    int64_t now = now_ms();
    pthread_mutex_lock(&s->conns.lock);
    for (http_conn_t *c = s->conns.head; c; c = c->next) {
        int64_t d = atomic_load_explicit(&c->deadline_ms, memory_order_relaxed);
        if (d == 0 || now < d || !c->claimed || c->reaped)
            continue;
        int phase = atomic_load_explicit(&c->phase, memory_order_relaxed);
        c->reaped = true;
        shutdown(c->fd, SHUT_RDWR);
        atomic_fetch_add_explicit(&s->metrics.conn_timed_out[phase], 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&s->conns.lock);
}

/* ---- listening and accepting ---- */

#define REFUSAL_BODY                                                                               \
    "{\"type\":\"https://nova.dev/problems/too_many_connections\",\"title\":\"Too many "           \
    "connections\",\"status\":503,\"code\":\"too_many_connections\"}"

static void refuse(nova_http_server_t *s, int fd, int why)
{
    char msg[512];
    int n = snprintf(msg, sizeof(msg),
                     "HTTP/1.1 503 Service Unavailable\r\n"
                     "Content-Type: application/problem+json\r\n"
                     "Retry-After: 1\r\n"
                     "Cache-Control: no-store\r\n"
                     "Connection: close\r\n"
                     "Content-Length: %zu\r\n\r\n" REFUSAL_BODY,
                     sizeof(REFUSAL_BODY) - 1);

    atomic_fetch_add_explicit(&s->metrics.conn_refused[why], 1, memory_order_relaxed);
    /* A TLS client would take plain text for a broken handshake: it just sees the close. */
    if (!s->cfg.tls_cert_pem && n > 0 && send(fd, msg, (size_t)n, MSG_NOSIGNAL) > 0)
        shutdown(fd, SHUT_WR);
    close(fd);
}

/* Accepts what is waiting; false when out of descriptors (back off, the backlog keeps). */
static bool accept_some(nova_http_server_t *s)
{
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(s->listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                atomic_fetch_add_explicit(&s->metrics.conn_refused[HTTP_REFUSE_FDS], 1,
                                          memory_order_relaxed);
                return false;
            }
            return true; /* EAGAIN, or an error of that one connection (ECONNABORTED, ...) */
        }
        unsigned w = 0;
        int why = conn_admit(s, fd, &ss, &w);
        if (why != HTTP_NREFUSE) {
            refuse(s, fd, why);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        atomic_fetch_add_explicit(&s->metrics.conn_accepted, 1, memory_order_relaxed);
        /* MHD closes the socket itself when it cannot take it; the entry then waits for its
         * descriptor to come back (conn_admit). */
        if (MHD_add_connection(s->workers[w].daemon, fd, (struct sockaddr *)&ss, len) != MHD_YES)
            nova_log_warn("http: worker %u did not take a connection: %s", w, strerror(errno));
    }
    return true;
}

/* Requests answered so far, over all workers. */
static uint64_t answered(nova_http_server_t *s)
{
    uint64_t n = 0;
    for (size_t i = 0; i < s->metrics.nworkers; i++)
        n += atomic_load_explicit(&s->metrics.worker_requests[i], memory_order_relaxed);
    return n;
}

static void *acceptor_main(void *arg)
{
    nova_http_server_t *s = arg;
    int64_t backoff_until = 0, next_trim = now_ms() + TRIM_EVERY_MS;
    uint64_t work_at_trim = 0, work_last_tick = 0;
    int quiet_ticks = 0;

    for (;;) {
        struct pollfd p[2] = {{.fd = s->wake_fd, .events = POLLIN},
                              {.fd = s->listen_fd, .events = POLLIN}};
        int64_t now = now_ms();
        nfds_t n = now >= backoff_until ? 2 : 1;
        if (poll(p, n, TICK_MS) < 0 && errno != EINTR)
            nova_log_warn("http: poll: %s", strerror(errno));
        if (p[0].revents)
            break;
        if (n == 2 && (p[1].revents & POLLIN) && !accept_some(s))
            backoff_until = now_ms() + FD_BACKOFF_MS;
        reap(s);
        /* After a burst, give freed request and connection memory back to the system: glibc
         * keeps it in per-thread arenas otherwise. Only once the server has gone quiet (no
         * request answered or in flight for a second), since malloc_trim walks every arena
         * under its lock and would stall requests while they run (measured: it showed in the
         * p99 of paced loads when run every 10 s regardless). Idle servers skip it. */
        uint64_t work =
            answered(s) + atomic_load_explicit(&s->metrics.conn_accepted, memory_order_relaxed);
        bool busy = work != work_last_tick ||
                    atomic_load_explicit(&s->metrics.in_flight, memory_order_relaxed) > 0;
        quiet_ticks = busy ? 0 : quiet_ticks + 1;
        work_last_tick = work;
        now = now_ms();
        if (now >= next_trim && quiet_ticks * TICK_MS >= QUIET_MS && work != work_at_trim) {
            malloc_trim(0);
            work_at_trim = work;
            next_trim = now + TRIM_EVERY_MS;
        }
    }
    return NULL;
}

/* Lifts the soft descriptor limit to the hard one and keeps max_connections under it. */
static void fit_fd_limit(nova_http_server_t *s)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t want = rl.rlim_max == RLIM_INFINITY ? 1u << 20 : rl.rlim_max;
        struct rlimit n = {want, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &n) == 0)
            rl.rlim_cur = want;
    }
    /* Keep room for the store, log files and the accept backlog. */
    rlim_t room = rl.rlim_cur > 128 ? rl.rlim_cur - 128 : 16;
    if (s->cfg.max_connections > room) {
        nova_log_warn("http: max connections lowered from %u to %llu by the descriptor limit",
                      s->cfg.max_connections, (unsigned long long)room);
        s->cfg.max_connections = (unsigned)room;
    }
}

nova_status http_listen(nova_http_server_t *s, const struct sockaddr *addr, socklen_t len)
{
    int one = 1;
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);

    fit_fd_limit(s);
    nova_status st = conns_init(s);
    if (st != NOVA_OK)
        return st;
    if (s->cfg.has_bound_fd) {
        /* The socket bound when the port was picked: listen on it, no second bind. */
        s->listen_fd = s->cfg.bound_fd;
        s->cfg.has_bound_fd = false;
        int fl = fcntl(s->listen_fd, F_GETFL);
        if (fl < 0 || fcntl(s->listen_fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
            listen(s->listen_fd, 1024) != 0 ||
            getsockname(s->listen_fd, (struct sockaddr *)&bound, &blen) != 0)
            goto fail;
        s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                    : ((struct sockaddr_in *)&bound)->sin_port);
        return NOVA_OK;
    }
    s->listen_fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0)
        goto fail;
    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(s->listen_fd, addr, len) != 0 || listen(s->listen_fd, 1024) != 0 ||
        getsockname(s->listen_fd, (struct sockaddr *)&bound, &blen) != 0)
        goto fail;
    s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port);
    return NOVA_OK;
fail:
    nova_log_error("http: cannot listen on %s:%u: %s", s->cfg.host ? s->cfg.host : "*", s->cfg.port,
                   strerror(errno));
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    s->listen_fd = -1;
    return NOVA_UNAVAILABLE;
}

nova_status http_accept_start(nova_http_server_t *s)
{
    s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->wake_fd < 0)
        return NOVA_UNAVAILABLE;
    if (pthread_create(&s->acceptor, NULL, acceptor_main, s) != 0) {
        close(s->wake_fd);
        s->wake_fd = -1;
        return NOVA_UNAVAILABLE;
    }
    s->acceptor_running = true;
    return NOVA_OK;
}

void http_accept_stop(nova_http_server_t *s)
{
    if (s->acceptor_running) {
        uint64_t one = 1;
        if (write(s->wake_fd, &one, sizeof(one)) != sizeof(one))
            nova_log_warn("http: cannot wake the acceptor: %s", strerror(errno));
        pthread_join(s->acceptor, NULL);
        s->acceptor_running = false;
    }
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    s->wake_fd = s->listen_fd = -1;
}
