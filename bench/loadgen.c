/*
 * loadgen.c: open-loop, paced HTTP/1.1 load generator for bench/run.sh.
 *
 * wrk is closed-loop: it sends the next request only when the previous answer arrived, so a
 * slow server slows the load down and its stalls vanish from the figures ("coordinated
 * omission"). Here request i is due at start + i/rate, whatever happened before; it goes out
 * on an idle keep-alive connection as soon as one is free, and its latency is measured from
 * the time it was due, not from the time it was sent. A server that falls behind therefore
 * shows the queueing it causes. service_ms (from the actual send) is reported beside it.
 *
 *   loadgen [-c CONNS] [-r RATE] [-d SECONDS] [-w WARMUP] [-m METHOD] [-b BODY]
 *           [-H 'Name: value']... [-o OUT.json] [-R RAW.txt] http://HOST:PORT/PATH
 *
 * -S KEY_ID:SECRET signs every request as an API key (docs/API.md, "API keys and signed
 * requests"): each send gets a fresh x-nonce, the current date and its x-signature, HMAC-SHA-256
 * over METHOD\ntarget\nhex(sha256(body))\ndate\nnonce (OpenSSL: link with -lcrypto). Signing
 * happens when the request is handed out, so its cost (~2 us) is inside the measured latency.
 *
 * Plain sockets and epoll; one thread; a timerfd paces the schedule. Responses must carry
 * Content-Length or be chunked. Only requests due after the warm-up are measured.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/hmac.h>
#include <openssl/sha.h>

#define MAX_HEADERS 16
#define IN_CAP 65536
#define DRAIN_NS (5ull * 1000000000ull)

enum conn_state { C_CLOSED, C_CONNECTING, C_IDLE, C_BUSY };

typedef struct conn {
    int fd;
    enum conn_state state;
    const char *req; /* the request being written */
    size_t req_len;
    size_t out_off;        /* bytes of the request written so far */
    char signed_req[4096]; /* -S: this connection's signed request */
    uint64_t due_ns;       /* when the in-flight request was scheduled */
    uint64_t sent_ns;      /* when it was handed to the kernel */
    bool measured;         /* scheduled after the warm-up */
    char in[IN_CAP];
    size_t in_len;
} conn_t;

typedef struct stats {
    uint64_t *lat, *svc, *due; /* nanoseconds, one per measured response */
    size_t n, cap;
    uint64_t ok, status_err, read_err, connect_err, dropped, reconnects;
} stats_t;

static struct addrinfo *g_addr;
static char *g_req;
static size_t g_req_len;
/* -F: one request per line of the file (each line one more header), used in turn: for
 * headers that must differ per request, such as DPoP proofs. */
/* -S: the key, and the request's parts around the four signature headers. */
static const char *g_key_id, *g_secret;
static char *g_head, *g_tail;
static const char *g_method, *g_target;
static char g_body_hash[65];
static uint64_t g_nonce_seq;
static char **g_reqs;
static size_t *g_req_lens;
static size_t g_nreqs, g_next_req;
static int g_ep;
static stats_t g_st;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void b64url(const unsigned char *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = a[v >> 18 & 63];
        out[o++] = a[v >> 12 & 63];
        if (i + 1 < n)
            out[o++] = a[v >> 6 & 63];
        if (i + 2 < n)
            out[o++] = a[v & 63];
    }
    out[o] = '\0';
}

/* Writes c's own signed copy of the request (fresh nonce, now's date, its signature) and
 * points c->req at it. */
static void sign_request(conn_t *c)
{
    char date[40], nonce[40], canon[2048], sig[48];
    unsigned char mac[32];
    unsigned maclen = 0;
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    snprintf(nonce, sizeof(nonce), "lg%d-%020" PRIu64, (int)getpid(), ++g_nonce_seq);
    int n = snprintf(canon, sizeof(canon), "%s\n%s\n%s\n%s\n%s", g_method, g_target, g_body_hash,
                     date, nonce);
    HMAC(EVP_sha256(), g_secret, (int)strlen(g_secret), (unsigned char *)canon, (size_t)n, mac,
         &maclen);
    b64url(mac, sizeof(mac), sig);
    n = snprintf(c->signed_req, sizeof(c->signed_req),
                 "%sx-api-key-id: %s\r\nx-nonce: %s\r\ndate: %s\r\nx-signature: %s\r\n%s", g_head,
                 g_key_id, nonce, date, sig, g_tail);
    if (n < 0 || (size_t)n >= sizeof(c->signed_req)) {
        fprintf(stderr, "loadgen: signed request over %zu bytes\n", sizeof(c->signed_req));
        exit(2);
    }
    c->req = c->signed_req;
    c->req_len = (size_t)n;
}

/* Builds one request per non-empty line of file: the common headers, then the line. */
static int load_per_request(const char *file, const char *method, const char *path, const char *hp,
                            size_t hplen, const char **hdrs, int nh, const char *body)
{
    FILE *f = fopen(file, "r");
    if (f == NULL) {
        fprintf(stderr, "loadgen: %s: %s\n", file, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t lcap = 0, cap = 0;
    ssize_t got;
    while ((got = getline(&line, &lcap, f)) > 0) {
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = '\0';
        if (got == 0)
            continue;
        if (g_nreqs == cap) {
            cap = cap ? cap * 2 : 4096;
            g_reqs = realloc(g_reqs, cap * sizeof(*g_reqs));
            g_req_lens = realloc(g_req_lens, cap * sizeof(*g_req_lens));
            if (!g_reqs || !g_req_lens)
                die("realloc");
        }
        size_t rcap = 1024 + (size_t)got + (body ? strlen(body) : 0);
        for (int i = 0; i < nh; i++)
            rcap += strlen(hdrs[i]) + 2;
        char *r = malloc(rcap);
        if (r == NULL)
            die("malloc");
        int n =
            snprintf(r, rcap, "%s %s HTTP/1.1\r\nHost: %.*s\r\nUser-Agent: nova-loadgen\r\n%s\r\n",
                     method, path, (int)hplen, hp, line);
        for (int i = 0; i < nh; i++)
            n += snprintf(r + n, rcap - (size_t)n, "%s\r\n", hdrs[i]);
        if (body)
            n += snprintf(r + n, rcap - (size_t)n, "Content-Length: %zu\r\n\r\n%s", strlen(body),
                          body);
        else
            n += snprintf(r + n, rcap - (size_t)n, "\r\n");
        g_reqs[g_nreqs] = r;
        g_req_lens[g_nreqs++] = (size_t)n;
    }
    free(line);
    fclose(f);
    if (g_nreqs == 0) {
        fprintf(stderr, "loadgen: %s holds no header lines\n", file);
        return -1;
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: loadgen [-c CONNS] [-r RATE] [-d SECONDS] [-w WARMUP] [-m METHOD]"
                    " [-b BODY] [-H 'Name: value']... [-F HEADERS.txt] [-S KEY_ID:SECRET] [-o "
                    "OUT.json] [-R RAW.txt]"
                    " http://HOST:PORT/PATH\n");
    exit(2);
}

static void conn_open(conn_t *c)
{
    c->fd = socket(g_addr->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->in_len = 0;
    c->out_off = 0;
    if (connect(c->fd, g_addr->ai_addr, g_addr->ai_addrlen) == 0) {
        c->state = C_IDLE;
    } else if (errno == EINPROGRESS) {
        c->state = C_CONNECTING;
    } else {
        g_st.connect_err++;
        close(c->fd);
        c->fd = -1;
        c->state = C_CLOSED;
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
    if (epoll_ctl(g_ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        die("epoll_ctl");
}

static void conn_close(conn_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->state = C_CLOSED;
}

static void record(conn_t *c, uint64_t t, bool ok)
{
    if (!ok)
        g_st.status_err++;
    else
        g_st.ok++;
    if (!c->measured)
        return;
    if (g_st.n == g_st.cap) {
        g_st.cap = g_st.cap ? g_st.cap * 2 : 65536;
        g_st.lat = realloc(g_st.lat, g_st.cap * sizeof(uint64_t));
        g_st.svc = realloc(g_st.svc, g_st.cap * sizeof(uint64_t));
        g_st.due = realloc(g_st.due, g_st.cap * sizeof(uint64_t));
        if (g_st.lat == NULL || g_st.svc == NULL || g_st.due == NULL)
            die("realloc");
    }
    g_st.lat[g_st.n] = t - c->due_ns;
    g_st.svc[g_st.n] = t - c->sent_ns;
    g_st.due[g_st.n] = c->due_ns;
    g_st.n++;
}

/* Returns the length of a complete chunked body at p, 0 if more bytes are needed, or
 * (size_t)-1 if it is malformed. Trailers are not supported. */
static size_t chunked_len(const char *p, size_t n)
{
    size_t off = 0;
    for (;;) {
        const char *eol = memmem(p + off, n - off, "\r\n", 2);
        if (eol == NULL)
            return 0;
        char *end;
        unsigned long sz = strtoul(p + off, &end, 16);
        if (end == p + off)
            return (size_t)-1;
        off = (size_t)(eol - p) + 2;
        if (n - off < sz + 2)
            return 0;
        off += sz + 2;
        if (sz == 0)
            return off;
    }
}

/* Parses as many whole responses as the buffer holds (one, since requests are not
 * pipelined). Returns false when the connection must be closed. */
static bool parse_response(conn_t *c, uint64_t t)
{
    const char *hend = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (hend == NULL)
        return c->in_len < IN_CAP;
    size_t hlen = (size_t)(hend - c->in) + 4;
    if (c->in_len < 12 || strncmp(c->in, "HTTP/1.", 7) != 0)
        return false;
    int status = atoi(c->in + 9);
    bool chunked = false, close_after = false;
    long clen = -1;
    for (const char *l = memchr(c->in, '\n', hlen); l && l < hend; l = memchr(l, '\n', hend - l)) {
        l++;
        if (strncasecmp(l, "content-length:", 15) == 0)
            clen = strtol(l + 15, NULL, 10);
        else if (strncasecmp(l, "transfer-encoding:", 18) == 0)
            chunked = memmem(l, (size_t)(hend - l), "chunked", 7) != NULL;
        else if (strncasecmp(l, "connection:", 11) == 0)
            close_after = strncasecmp(l + 11 + strspn(l + 11, " "), "close", 5) == 0;
    }
    size_t blen;
    if (chunked) {
        blen = chunked_len(c->in + hlen, c->in_len - hlen);
        if (blen == (size_t)-1)
            return false;
        if (blen == 0)
            return c->in_len < IN_CAP;
    } else if (clen >= 0) {
        blen = (size_t)clen;
        if (c->in_len - hlen < blen)
            return hlen + blen <= IN_CAP;
    } else {
        return false; /* no framing: cannot tell where it ends */
    }
    record(c, t, status >= 200 && status < 300);
    size_t used = hlen + blen;
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
    c->state = C_IDLE;
    return !close_after;
}

static void conn_send(conn_t *c)
{
    while (c->out_off < c->req_len) {
        ssize_t w = write(c->fd, c->req + c->out_off, c->req_len - c->out_off);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return; /* EPOLLOUT (edge) resumes it */
            if (errno == EINTR)
                continue;
            g_st.read_err++;
            conn_close(c);
            return;
        }
        c->out_off += (size_t)w;
    }
}

static void on_event(conn_t *c, uint32_t events)
{
    if (c->state == C_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
            g_st.connect_err++;
            conn_close(c);
            return;
        }
        if (events & EPOLLOUT)
            c->state = C_IDLE;
        return;
    }
    if (c->state == C_BUSY && (events & EPOLLOUT))
        conn_send(c);
    if (c->fd < 0 || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    for (;;) {
        if (c->in_len == IN_CAP) {
            g_st.read_err++;
            conn_close(c);
            return;
        }
        ssize_t r = read(c->fd, c->in + c->in_len, IN_CAP - c->in_len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0) {
            /* Closed (or failed) by the server: an error only if a request was waiting. */
            if (c->state == C_BUSY)
                g_st.read_err++;
            conn_close(c);
            return;
        }
        c->in_len += (size_t)r;
        if (c->state != C_BUSY) {
            c->in_len = 0; /* nothing was asked: ignore it */
            continue;
        }
        if (!parse_response(c, now_ns())) {
            conn_close(c);
            return;
        }
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(const uint64_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)n);
    if (i >= n)
        i = n - 1;
    return (double)v[i] / 1e6;
}

static void print_dist(FILE *f, const char *name, uint64_t *v, size_t n)
{
    qsort(v, n, sizeof(uint64_t), cmp_u64);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)v[i];
    fprintf(f,
            "  \"%s\": {\"mean\": %.3f, \"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, "
            "\"p999\": %.3f, \"max\": %.3f}",
            name, n ? sum / (double)n / 1e6 : 0.0, pct_ms(v, n, 50), pct_ms(v, n, 90),
            pct_ms(v, n, 99), pct_ms(v, n, 99.9), n ? (double)v[n - 1] / 1e6 : 0.0);
}

int main(int argc, char **argv)
{
    int nconn = 64;
    double rate = 5000, secs = 10, warm = 1;
    const char *method = "GET", *body = NULL, *out = NULL, *raw = NULL;
    const char *hdrs[MAX_HEADERS];
    int nh = 0, opt;
    const char *per_request = NULL;
    char *signer = NULL;
    while ((opt = getopt(argc, argv, "c:r:d:w:m:b:H:o:R:F:S:")) != -1) {
        switch (opt) {
        case 'c':
            nconn = atoi(optarg);
            break;
        case 'r':
            rate = atof(optarg);
            break;
        case 'd':
            secs = atof(optarg);
            break;
        case 'w':
            warm = atof(optarg);
            break;
        case 'm':
            method = optarg;
            break;
        case 'b':
            body = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'R':
            raw = optarg;
            break;
        case 'F':
            per_request = optarg;
            break;
        case 'S':
            signer = optarg;
            break;
        case 'H':
            if (nh == MAX_HEADERS)
                usage();
            hdrs[nh++] = optarg;
            break;
        default:
            usage();
        }
    }
    if (optind != argc - 1 || nconn < 1 || rate <= 0 || secs <= 0 || warm < 0)
        usage();
    const char *url = argv[optind];
    char host[256], port[16] = "80";
    const char *path;
    if (strncmp(url, "http://", 7) != 0)
        usage();
    const char *hp = url + 7;
    path = strchr(hp, '/');
    if (path == NULL)
        path = "/";
    size_t hplen = path[0] == '/' && path != hp ? (size_t)(path - hp) : strlen(hp);
    if (hplen >= sizeof(host))
        usage();
    memcpy(host, hp, hplen);
    host[hplen] = '\0';
    char *colon = strrchr(host, ':');
    if (colon) {
        snprintf(port, sizeof(port), "%s", colon + 1);
        *colon = '\0';
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    if (getaddrinfo(host, port, &hints, &g_addr) != 0) {
        fprintf(stderr, "loadgen: cannot resolve %s\n", host);
        return 1;
    }

    /* The request is the same bytes every time. */
    size_t cap = 1024 + (body ? strlen(body) : 0);
    for (int i = 0; i < nh; i++)
        cap += strlen(hdrs[i]) + 2;
    g_req = malloc(cap);
    if (g_req == NULL)
        die("malloc");
    int n = snprintf(g_req, cap, "%s %s HTTP/1.1\r\nHost: %.*s\r\nUser-Agent: nova-loadgen\r\n",
                     method, path, (int)hplen, hp);
    for (int i = 0; i < nh; i++)
        n += snprintf(g_req + n, cap - (size_t)n, "%s\r\n", hdrs[i]);
    if (body)
        n += snprintf(g_req + n, cap - (size_t)n, "Content-Length: %zu\r\n\r\n%s", strlen(body),
                      body);
    else
        n += snprintf(g_req + n, cap - (size_t)n, "\r\n");
    g_req_len = (size_t)n;
    if (per_request && load_per_request(per_request, method, path, hp, hplen, hdrs, nh, body) != 0)
        return 1;
    if (signer) {
        char *colon2 = strchr(signer, ':');
        if (colon2 == NULL || per_request)
            usage();
        *colon2 = '\0';
        g_key_id = signer;
        g_secret = colon2 + 1;
        g_method = method;
        g_target = path;
        unsigned char d[32];
        SHA256((const unsigned char *)(body ? body : ""), body ? strlen(body) : 0, d);
        for (int i = 0; i < 32; i++)
            snprintf(g_body_hash + 2 * i, 3, "%02x", d[i]);
        /* The signature headers go where the header block ends (before Content-Length, which
         * stays with the body in the tail). */
        const char *end = strstr(g_req, "\r\n\r\n");
        const char *cl = body ? strstr(g_req, "Content-Length: ") : NULL;
        size_t hl = cl ? (size_t)(cl - g_req) : (size_t)(end - g_req) + 2;
        g_head = strndup(g_req, hl);
        g_tail = strdup(g_req + hl);
        if (g_head == NULL || g_tail == NULL)
            die("malloc");
    }

    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_TIMERSLACK, 1UL); /* wake within ~1 us of the schedule, not 50 us */
    g_ep = epoll_create1(EPOLL_CLOEXEC);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (g_ep < 0 || tfd < 0)
        die("epoll/timerfd");
    struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(g_ep, EPOLL_CTL_ADD, tfd, &tev);

    conn_t *conns = calloc((size_t)nconn, sizeof(conn_t));
    if (conns == NULL)
        die("calloc");
    for (int i = 0; i < nconn; i++)
        conn_open(&conns[i]);

    /* Let the connections establish before the clock starts. */
    uint64_t settle = now_ns() + 200000000ull;
    while (now_ns() < settle) {
        struct epoll_event evs[256];
        int k = epoll_wait(g_ep, evs, 256, 10);
        for (int i = 0; i < k; i++)
            if (evs[i].data.ptr)
                on_event(evs[i].data.ptr, evs[i].events);
    }

    const uint64_t interval = (uint64_t)(1e9 / rate);
    const uint64_t start = now_ns();
    const uint64_t measure_from = start + (uint64_t)(warm * 1e9);
    const uint64_t end = measure_from + (uint64_t)(secs * 1e9);
    uint64_t next_sched = 0; /* index of the next request to become due */
    uint64_t next_send = 0;  /* index of the oldest due request not yet sent */
    size_t rr = 0;           /* round-robin cursor over connections */

    for (;;) {
        uint64_t t = now_ns();
        while (start + next_sched * interval <= t && start + next_sched * interval < end)
            next_sched++;
        /* Hand due requests to idle connections; the rest wait, their clock running. */
        for (int scanned = 0; next_send < next_sched && scanned < nconn; scanned++) {
            conn_t *c = &conns[rr];
            rr = (rr + 1) % (size_t)nconn;
            if (c->state == C_CLOSED) {
                g_st.reconnects++;
                conn_open(c);
            }
            if (c->state != C_IDLE)
                continue;
            c->due_ns = start + next_send * interval;
            c->measured = c->due_ns >= measure_from;
            c->state = C_BUSY;
            c->out_off = 0;
            if (g_key_id) {
                sign_request(c);
            } else if (g_nreqs) {
                size_t k = g_next_req++ % g_nreqs;
                c->req = g_reqs[k];
                c->req_len = g_req_lens[k];
            } else {
                c->req = g_req;
                c->req_len = g_req_len;
            }
            c->sent_ns = now_ns();
            next_send++;
            scanned = -1; /* a connection was used: scan all of them again */
            conn_send(c);
        }
        bool busy = false;
        for (int i = 0; i < nconn && !busy; i++)
            busy = conns[i].state == C_BUSY;
        if (t >= end && next_send == next_sched && !busy)
            break;
        if (t >= end + DRAIN_NS)
            break;

        /* Sleep until the next request is due (or the drain deadline), or until I/O. */
        uint64_t wake =
            start + next_sched * interval < end ? start + next_sched * interval : end + DRAIN_NS;
        struct itimerspec its = {.it_value = {.tv_sec = (time_t)(wake / 1000000000ull),
                                              .tv_nsec = (long)(wake % 1000000000ull)}};
        timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
        struct epoll_event evs[256];
        int k = epoll_wait(g_ep, evs, 256, -1);
        if (k < 0 && errno != EINTR)
            die("epoll_wait");
        for (int i = 0; i < k; i++) {
            if (evs[i].data.ptr == NULL) {
                uint64_t x;
                if (read(tfd, &x, sizeof(x)) < 0 && errno != EAGAIN)
                    die("read timerfd");
            } else {
                on_event(evs[i].data.ptr, evs[i].events);
            }
        }
    }

    /* Requests never sent, or sent and never answered, within the drain time. */
    g_st.dropped = next_sched - next_send;
    for (int i = 0; i < nconn; i++)
        if (conns[i].state == C_BUSY)
            g_st.dropped++;
    uint64_t measured_sched = 0;
    for (uint64_t i = 0; i < next_sched; i++)
        if (start + i * interval >= measure_from)
            measured_sched++;

    if (raw) {
        /* One line per measured request, in completion order: when it was due (ms from the
         * start of measurement), its latency and service time (ms). For finding stalls. */
        FILE *rf = fopen(raw, "w");
        if (rf == NULL)
            die(raw);
        for (size_t i = 0; i < g_st.n; i++)
            fprintf(rf, "%.3f %.3f %.3f\n", (double)(g_st.due[i] - measure_from) / 1e6,
                    (double)g_st.lat[i] / 1e6, (double)g_st.svc[i] / 1e6);
        fclose(rf);
    }
    FILE *f = out ? fopen(out, "w") : stdout;
    if (f == NULL)
        die(out);
    fprintf(f,
            "{\n  \"tool\": \"loadgen\",\n  \"url\": \"%s\",\n  \"method\": \"%s\",\n"
            "  \"connections\": %d,\n  \"target_rate\": %.1f,\n  \"duration_s\": %.3f,\n"
            "  \"warmup_s\": %.3f,\n  \"scheduled\": %" PRIu64 ",\n  \"measured\": %zu,\n"
            "  \"rps\": %.1f,\n  \"errors\": {\"status\": %" PRIu64 ", \"read\": %" PRIu64
            ", \"connect\": %" PRIu64 ", \"dropped\": %" PRIu64 ", \"reconnects\": %" PRIu64 "},\n",
            url, method, nconn, rate, secs, warm, measured_sched, g_st.n, (double)g_st.n / secs,
            g_st.status_err, g_st.read_err, g_st.connect_err, g_st.dropped, g_st.reconnects);
    print_dist(f, "latency_ms", g_st.lat, g_st.n);
    fprintf(f, ",\n");
    print_dist(f, "service_ms", g_st.svc, g_st.n);
    fprintf(f, "\n}\n");
    if (out)
        fclose(f);
    for (int i = 0; i < nconn; i++)
        conn_close(&conns[i]);
    free(conns);
    free(g_st.lat);
    free(g_st.svc);
    free(g_st.due);
    free(g_req);
    free(g_head);
    free(g_tail);
    for (size_t i = 0; i < g_nreqs; i++)
        free(g_reqs[i]);
    free(g_reqs);
    free(g_req_lens);
    freeaddrinfo(g_addr);
    return g_st.status_err || g_st.read_err || g_st.dropped ? 3 : 0;
}
