/* sched.c: the background scheduler (nova/sched.h): a fixed pool of threads, one condition
 * variable, and a short list of named jobs scanned for the earliest due one. The list holds a
 * dozen jobs, so a scan is cheaper than keeping a heap in order. */
#include "nova/sched.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "nova/log.h"

#define NEVER UINT64_MAX

struct nova_sched_job {
    nova_sched_t *s;
    char name[48];
    uint64_t period_ns; /* 0: runs only when kicked */
    uint64_t due_ns;    /* monotonic; NEVER: not due */
    nova_sched_fn fn;
    void *arg;
    bool running;
    bool again; /* kicked or due while running: run once more right after */
    uint64_t runs, failures;
    double last_seconds;
    nova_sched_job_t *next;
};

struct nova_sched {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    nova_sched_job_t *jobs, *tail;
    pthread_t *threads;
    unsigned nthreads, started;
    bool stopping;
};

static bool name_ok(const char *n)
{
    size_t len = n ? strlen(n) : 0;
    if (len == 0 || len >= sizeof(((nova_sched_job_t *)0)->name))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '_' ||
              n[i] == '-'))
            return false;
    return true;
}

nova_status nova_sched_new(unsigned threads, nova_sched_t **out)
{
    *out = NULL;
    if (threads < 1 || threads > 64)
        return NOVA_INVALID;
    nova_sched_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NOVA_NOMEM;
    s->threads = calloc(threads, sizeof(*s->threads));
    if (!s->threads) {
        free(s);
        return NOVA_NOMEM;
    }
    s->nthreads = threads;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    *out = s;
    return NOVA_OK;
}

nova_status nova_sched_add(nova_sched_t *s, const char *name, uint32_t period_ms, uint32_t first_ms,
                           nova_sched_fn fn, void *arg, nova_sched_job_t **out)
{
    if (out)
        *out = NULL;
    if (!s || !fn || !name_ok(name))
        return NOVA_INVALID;
    nova_sched_job_t *j = calloc(1, sizeof(*j));
    if (!j)
        return NOVA_NOMEM;
    j->s = s;
    strcpy(j->name, name);
    j->period_ns = (uint64_t)period_ms * 1000000u;
    j->due_ns = period_ms ? nova_time_mono_ns() + (uint64_t)first_ms * 1000000u : NEVER;
    j->fn = fn;
    j->arg = arg;
    pthread_mutex_lock(&s->mu);
    if (s->tail)
        s->tail->next = j;
    else
        s->jobs = j;
    s->tail = j;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (out)
        *out = j;
    return NOVA_OK;
}

void nova_sched_kick(nova_sched_job_t *j)
{
    if (!j)
        return;
    nova_sched_t *s = j->s;
    pthread_mutex_lock(&s->mu);
    if (j->running)
        j->again = true;
    else
        j->due_ns = nova_time_mono_ns();
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Under mu: the due job that is not running with the earliest due time, or NULL with
 * *wake the earliest future due time (NEVER when none). */
static nova_sched_job_t *next_due(nova_sched_t *s, uint64_t now, uint64_t *wake)
{
    nova_sched_job_t *best = NULL;
    *wake = NEVER;
    for (nova_sched_job_t *j = s->jobs; j; j = j->next) {
        if (j->running || j->due_ns == NEVER)
            continue;
        if (j->due_ns <= now) {
            if (!best || j->due_ns < best->due_ns)
                best = j;
        } else if (j->due_ns < *wake) {
            *wake = j->due_ns;
        }
    }
    return best;
}

static void *worker_main(void *arg)
{
    nova_sched_t *s = arg;
    /* background work yields to the HTTP threads: a thread's own nice value on Linux (a
     * failure changes nothing but the priority) */
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        uint64_t now = nova_time_mono_ns(), wake;
        nova_sched_job_t *j = next_due(s, now, &wake);
        if (!j) {
            if (wake == NEVER) {
                pthread_cond_wait(&s->cv, &s->mu);
            } else {
                struct timespec ts = {(time_t)(wake / 1000000000u), (long)(wake % 1000000000u)};
                pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            }
            continue;
        }
        j->running = true;
        j->again = false;
        pthread_mutex_unlock(&s->mu);
        uint64_t t0 = nova_time_mono_ns();
        nova_status st = j->fn(j->arg);
        uint64_t t1 = nova_time_mono_ns();
        if (st != NOVA_OK)
            nova_log(NOVA_LOG_WARN, "background job %s failed: %s (runs again on schedule)",
                     j->name, nova_status_name(st));
        pthread_mutex_lock(&s->mu);
        j->running = false;
        j->runs++;
        j->failures += st != NOVA_OK;
        j->last_seconds = (double)(t1 - t0) / 1e9;
        if (j->again)
            j->due_ns = t1;
        else if (j->period_ns)
            j->due_ns = t1 + j->period_ns;
        else
            j->due_ns = NEVER;
        /* another thread may be waiting for this job to become free */
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

nova_status nova_sched_start(nova_sched_t *s)
{
    if (!s || s->started)
        return NOVA_INVALID;
    for (unsigned i = 0; i < s->nthreads; i++) {
        if (pthread_create(&s->threads[i], NULL, worker_main, s) != 0) {
            nova_sched_stop(s);
            return NOVA_INTERNAL;
        }
        s->started++;
    }
    return NOVA_OK;
}

void nova_sched_foreach(nova_sched_t *s, void (*fn)(const nova_sched_stats_t *st, void *ctx),
                        void *ctx)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    for (nova_sched_job_t *j = s->jobs; j; j = j->next) {
        nova_sched_stats_t st = {j->name, j->runs, j->failures, j->last_seconds, j->running};
        fn(&st, ctx);
    }
    pthread_mutex_unlock(&s->mu);
}

void nova_sched_stop(nova_sched_t *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (unsigned i = 0; i < s->started; i++)
        pthread_join(s->threads[i], NULL);
    s->started = 0;
}

void nova_sched_free(nova_sched_t *s)
{
    if (!s)
        return;
    nova_sched_stop(s);
    for (nova_sched_job_t *j = s->jobs, *n; j; j = n) {
        n = j->next;
        free(j);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->threads);
    free(s);
}
