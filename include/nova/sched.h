/*
 * sched.h: novad's one scheduler for background work (ARCHITECTURE: "Background work runs
 * through one small scheduler or worker pool in novad, not a thread per feature").
 *
 * A fixed pool of threads, below the HTTP threads in priority (nice 10 on Linux), runs named
 * jobs: periodic ones (token pruning, key rotation, webhook dispatch, hold expiry, accruals)
 * and kicked ones (a face-index rebuild, an outbox with fresh rows). A job never runs twice at
 * once: a kick or a due period while it runs makes it run once more right after. Each job
 * counts its runs, its failures and its last duration for /metrics.
 *
 * Jobs must be reentrant across threads (one pool thread today, another tomorrow) and open
 * their own store connection through nova_store_thread when they need one.
 */
#ifndef NOVA_SCHED_H
#define NOVA_SCHED_H

#include "nova/base.h"

typedef struct nova_sched nova_sched_t;
typedef struct nova_sched_job nova_sched_job_t;

/* A job's work: NOVA_OK, or a failure that is counted and logged (the job stays scheduled). */
typedef nova_status (*nova_sched_fn)(void *arg);

/* A pool of threads (1..64) that runs jobs once nova_sched_start is called. */
nova_status nova_sched_new(unsigned threads, nova_sched_t **out);
nova_status nova_sched_start(nova_sched_t *s);

/* Adds a job named name (copied; a metric label: [a-z0-9_-], at most 47 bytes). period_ms > 0:
 * it runs every period_ms, the first time first_ms from now; period_ms == 0: it runs only
 * when kicked. Jobs may be added before or after start. *out (optional) is valid until
 * nova_sched_free. */
nova_status nova_sched_add(nova_sched_t *s, const char *name, uint32_t period_ms, uint32_t first_ms,
                           nova_sched_fn fn, void *arg, nova_sched_job_t **out);
/* Makes the job due now (cheap: a lock and a signal; safe from any thread, NULL is a no-op). */
void nova_sched_kick(nova_sched_job_t *job);

typedef struct nova_sched_stats {
    const char *name;
    uint64_t runs, failures;
    double last_seconds; /* duration of the last finished run */
    bool running;
} nova_sched_stats_t;

/* Calls fn for every job, in the order they were added. */
void nova_sched_foreach(nova_sched_t *s, void (*fn)(const nova_sched_stats_t *st, void *ctx),
                        void *ctx);

/* Stops taking jobs, waits for the running ones to finish and joins the threads. */
void nova_sched_stop(nova_sched_t *s);
/* Stops (when still running) and frees. NULL is a no-op. */
void nova_sched_free(nova_sched_t *s);

#endif
