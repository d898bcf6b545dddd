/*
 * metrics.c: Prometheus counters for the HTTP server. Every distinct route pattern (plus
 * "unmatched") owns a slot of C11 atomics, so request threads never take a lock; the
 * exposition reads them with relaxed loads (a scrape may see a request counted in one
 * series and not yet in another, which Prometheus tolerates).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_internal.h"

static const int status_codes[HTTP_NSTATUS - 1] = {
    200, 201, 202, 204, 301, 302, 304, 308, 400, 401, 403, 404,
    405, 409, 412, 413, 415, 422, 429, 500, 501, 502, 503, 504,
};

static const char *const method_names[HTTP_NMETHODS] = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other",
};

/* Upper bounds in seconds and, for the hot path, in nanoseconds. */
static const char *const bucket_labels[HTTP_NBUCKETS] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
    "0.1",    "0.25",  "0.5",    "1",     "2.5",  "+Inf",
};
static const uint64_t bucket_ns[HTTP_NBUCKETS - 1] = {
    500000,   1000000,   2500000,   5000000,   10000000,   25000000,
    50000000, 100000000, 250000000, 500000000, 1000000000, 2500000000,
};

static size_t status_slot(int status)
{
    /* 24 entries: a linear scan is as fast as anything cleverer. */
    for (size_t i = 0; i < HTTP_NSTATUS - 1; i++)
        if (status_codes[i] == status)
            return i;
    return HTTP_NSTATUS - 1;
}

static size_t method_slot(const char *m)
{
    for (size_t i = 0; i < HTTP_M_OTHER; i++)
        if (strcmp(method_names[i], m) == 0)
            return i;
    return HTTP_M_OTHER;
}

/* Start of this process from /proc (clock ticks after boot + boot time); falls back to now. */
static double process_start_time(void)
{
    char buf[1024];
    unsigned long long ticks = 0, btime = 0;
    long hz = sysconf(_SC_CLK_TCK);
    FILE *f = fopen("/proc/self/stat", "r");
    bool ok = false;

    if (f) {
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fclose(f);
        /* comm may contain spaces and parentheses: fields resume after the last ')'. */
        char *p = strrchr(buf, ')');
        /* after ')': state(3) ... starttime(22) is the 20th field */
        for (int field = 2; p && field < 22; field++)
            p = strchr(p + 1, ' ');
        ok = p && sscanf(p + 1, "%llu", &ticks) == 1;
    }
    f = ok ? fopen("/proc/stat", "r") : NULL;
    ok = false;
    if (f) {
        while (fgets(buf, sizeof(buf), f))
            if (sscanf(buf, "btime %llu", &btime) == 1) {
                ok = true;
                break;
            }
        fclose(f);
    }
    if (!ok || hz <= 0)
        return (double)nova_time_now();
    return (double)btime + (double)ticks / (double)hz;
}

nova_status http_metrics_init(http_metrics_t *m, http_router_t *rt, size_t nworkers)
{
    m->nslots = 1;
    m->slots = calloc(rt->n + 1, sizeof(*m->slots));
    m->worker_requests = calloc(nworkers ? nworkers : 1, sizeof(*m->worker_requests));
    if (!m->slots || !m->worker_requests) {
        http_metrics_free(m);
        return NOVA_NOMEM;
    }
    m->nworkers = nworkers;
    m->slots[0].route = HTTP_UNMATCHED;
    for (size_t i = 0; i < rt->n; i++) {
        http_route_t *r = &rt->routes[i];
        size_t j = 1;
        while (j < m->nslots && strcmp(m->slots[j].route, r->pattern) != 0)
            j++;
        if (j == m->nslots)
            m->slots[m->nslots++].route = r->pattern;
        r->metric_slot = j;
    }
    atomic_init(&m->in_flight, 0);
    m->process_start = process_start_time();
    return NOVA_OK;
}

void http_metrics_free(http_metrics_t *m)
{
    if (!m)
        return;
    free(m->slots);
    free(m->worker_requests);
    m->slots = NULL;
    m->worker_requests = NULL;
    m->nslots = m->nworkers = 0;
}

void http_metrics_observe(http_metrics_t *m, size_t slot, const char *method, int status,
                          uint64_t dur_ns)
{
    http_route_metrics_t *s = &m->slots[slot < m->nslots ? slot : 0];
    size_t b = 0;

    while (b < HTTP_NBUCKETS - 1 && dur_ns > bucket_ns[b])
        b++;
    atomic_fetch_add_explicit(&s->requests[method_slot(method)][status_slot(status)], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum_ns, dur_ns, memory_order_relaxed);
}

/* Label values: backslash, double quote and newline are escaped (format 0.0.4). */
static nova_status append_label(nova_buf_t *out, const char *v)
{
    nova_status st = NOVA_OK;
    for (; *v && st == NOVA_OK; v++) {
        if (*v == '\\')
            st = nova_buf_append(out, "\\\\", 2);
        else if (*v == '"')
            st = nova_buf_append(out, "\\\"", 2);
        else if (*v == '\n')
            st = nova_buf_append(out, "\\n", 2);
        else
            st = nova_buf_append(out, v, 1);
    }
    return st;
}

#define TRY(x)                                                                                     \
    do {                                                                                           \
        if ((st = (x)) != NOVA_OK)                                                                 \
            return st;                                                                             \
    } while (0)

nova_status http_metrics_render(http_metrics_t *m, nova_buf_t *out)
{
    nova_status st;

    TRY(nova_buf_append_cstr(out, "# HELP nova_http_requests_total HTTP requests answered.\n"
                                  "# TYPE nova_http_requests_total counter\n"));
    for (size_t i = 0; i < m->nslots; i++) {
        http_route_metrics_t *s = &m->slots[i];
        for (size_t mi = 0; mi < HTTP_NMETHODS; mi++) {
            for (size_t si = 0; si < HTTP_NSTATUS; si++) {
                uint64_t v = atomic_load_explicit(&s->requests[mi][si], memory_order_relaxed);
                if (v == 0)
                    continue;
                TRY(nova_buf_append_cstr(out, "nova_http_requests_total{route=\""));
                TRY(append_label(out, s->route));
                if (si < HTTP_NSTATUS - 1)
                    TRY(nova_buf_printf(out, "\",method=\"%s\",status=\"%d\"} %llu\n",
                                        method_names[mi], status_codes[si], (unsigned long long)v));
                else
                    TRY(nova_buf_printf(out, "\",method=\"%s\",status=\"other\"} %llu\n",
                                        method_names[mi], (unsigned long long)v));
            }
        }
    }

    TRY(nova_buf_append_cstr(out, "# HELP nova_http_request_duration_seconds Time from request "
                                  "headers to response sent.\n"
                                  "# TYPE nova_http_request_duration_seconds histogram\n"));
    for (size_t i = 0; i < m->nslots; i++) {
        http_route_metrics_t *s = &m->slots[i];
        uint64_t cum = 0;
        for (size_t b = 0; b < HTTP_NBUCKETS; b++) {
            cum += atomic_load_explicit(&s->buckets[b], memory_order_relaxed);
            TRY(nova_buf_append_cstr(out, "nova_http_request_duration_seconds_bucket{route=\""));
            TRY(append_label(out, s->route));
            TRY(nova_buf_printf(out, "\",le=\"%s\"} %llu\n", bucket_labels[b],
                                (unsigned long long)cum));
        }
        uint64_t sum = atomic_load_explicit(&s->sum_ns, memory_order_relaxed);
        TRY(nova_buf_append_cstr(out, "nova_http_request_duration_seconds_sum{route=\""));
        TRY(append_label(out, s->route));
        TRY(nova_buf_printf(out, "\"} %.9f\n", (double)sum / 1e9));
        TRY(nova_buf_append_cstr(out, "nova_http_request_duration_seconds_count{route=\""));
        TRY(append_label(out, s->route));
        TRY(nova_buf_printf(out, "\"} %llu\n", (unsigned long long)cum));
    }

    TRY(nova_buf_printf(out,
                        "# HELP nova_http_requests_in_flight Requests being processed.\n"
                        "# TYPE nova_http_requests_in_flight gauge\n"
                        "nova_http_requests_in_flight %lld\n"
                        "# HELP process_start_time_seconds Start time of the process since "
                        "unix epoch in seconds.\n"
                        "# TYPE process_start_time_seconds gauge\n"
                        "process_start_time_seconds %.2f\n",
                        (long long)atomic_load_explicit(&m->in_flight, memory_order_relaxed),
                        m->process_start));

    static const char *const refuse_names[HTTP_NREFUSE] = {"max_connections", "per_ip", "fds"};
    static const char *const phase_names[HTTP_NPHASES] = {"headers", "body"};
#define LOAD(x) ((unsigned long long)atomic_load_explicit(&(x), memory_order_relaxed))
    TRY(nova_buf_printf(out,
                        "# HELP nova_http_connections_open Connections open now.\n"
                        "# TYPE nova_http_connections_open gauge\n"
                        "nova_http_connections_open %lld\n"
                        "# HELP nova_http_connections_accepted_total Connections accepted.\n"
                        "# TYPE nova_http_connections_accepted_total counter\n"
                        "nova_http_connections_accepted_total %llu\n"
                        "# HELP nova_http_connections_refused_total Connections refused at "
                        "accept, by limit.\n"
                        "# TYPE nova_http_connections_refused_total counter\n",
                        (long long)atomic_load_explicit(&m->conn_open, memory_order_relaxed),
                        LOAD(m->conn_accepted)));
    for (size_t i = 0; i < HTTP_NREFUSE; i++)
        TRY(nova_buf_printf(out, "nova_http_connections_refused_total{reason=\"%s\"} %llu\n",
                            refuse_names[i], LOAD(m->conn_refused[i])));
    TRY(nova_buf_append_cstr(out, "# HELP nova_http_connections_timed_out_total Connections "
                                  "closed because a request's headers or body missed its "
                                  "deadline.\n"
                                  "# TYPE nova_http_connections_timed_out_total counter\n"));
    for (size_t i = 0; i < HTTP_NPHASES; i++)
        TRY(nova_buf_printf(out, "nova_http_connections_timed_out_total{phase=\"%s\"} %llu\n",
                            phase_names[i], LOAD(m->conn_timed_out[i])));
    TRY(nova_buf_append_cstr(out, "# HELP nova_http_worker_requests_total Requests answered, "
                                  "by worker thread.\n"
                                  "# TYPE nova_http_worker_requests_total counter\n"));
    for (size_t i = 0; i < m->nworkers; i++)
        TRY(nova_buf_printf(out, "nova_http_worker_requests_total{worker=\"%zu\"} %llu\n", i,
                            LOAD(m->worker_requests[i])));
    if (m->pool)
        TRY(nova_buf_printf(
            out,
            "# HELP nova_http_handler_threads Threads that run route handlers.\n"
            "# TYPE nova_http_handler_threads gauge\n"
            "nova_http_handler_threads %zu\n"
            "# HELP nova_http_handlers_running Requests inside a handler now.\n"
            "# TYPE nova_http_handlers_running gauge\n"
            "nova_http_handlers_running %lld\n"
            "# HELP nova_http_handler_queue_length Requests read and waiting for a handler "
            "thread.\n"
            "# TYPE nova_http_handler_queue_length gauge\n"
            "nova_http_handler_queue_length %lld\n",
            m->pool->nthreads,
            (long long)atomic_load_explicit(&m->pool->running, memory_order_relaxed),
            (long long)atomic_load_explicit(&m->pool->queued, memory_order_relaxed)));
#undef LOAD
    return NOVA_OK;
}
