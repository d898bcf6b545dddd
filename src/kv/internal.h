/*
 * internal.h: what kv.c (the front: argument checks, the flag copy, its poller, statistics)
 * shares with the drivers (inproc.c, redis.c). The front has checked every argument against
 * kv.h's bounds before a driver sees it, so drivers check nothing twice.
 */
#ifndef NOVA_KV_INTERNAL_H
#define NOVA_KV_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "nova/kv.h"

/* One flag; both strings malloc'd, owned by the set holding them. */
typedef struct kv_flag {
    char *name;
    char *value;
} kv_flag_t;

/* A set of flags sorted by name (strcmp). */
typedef struct kv_flagset {
    kv_flag_t *v;
    size_t n;
} kv_flagset_t;

void kv_flagset_free(kv_flagset_t *fs);
/* Sorts fs by name; returns NOVA_INVALID when a name occurs twice. */
nova_status kv_flagset_sort(kv_flagset_t *fs);

typedef struct kv_driver {
    const char *name;
    void (*close)(nova_kv_t *kv);
    nova_status (*ping)(nova_kv_t *kv);
    nova_status (*set_nx)(nova_kv_t *kv, const char *key, const void *val, size_t len,
                          uint64_t ttl_ms);
    nova_status (*incr)(nova_kv_t *kv, const char *key, int64_t delta, uint64_t window_ms,
                        int64_t *count, uint64_t *reset_ms);
    nova_status (*set)(nova_kv_t *kv, const char *key, const void *val, size_t len,
                       uint64_t ttl_ms);
    /* take: remove the key as it is read. */
    nova_status (*get)(nova_kv_t *kv, const char *key, bool take, nova_arena_t *a, char **val,
                       size_t *len);
    nova_status (*del)(nova_kv_t *kv, const char *key);
    /* Backend flag store; NULL when the front's copy is the only store (in-process). */
    nova_status (*flag_write)(nova_kv_t *kv, const char *name, const char *value);
    /* The backend's flag version; when it differs from known, also the whole set (caller
     * frees). *changed says which. NULL in-process. */
    nova_status (*flag_fetch)(nova_kv_t *kv, uint64_t known, uint64_t *version, bool *changed,
                              kv_flagset_t *out);
} kv_driver_t;

struct nova_kv {
    const kv_driver_t *drv;
    void *impl;
    unsigned timeout_ms;

    /* The flag copy: readers take the read lock and copy out; the poller swaps in a new set
     * under the write lock. Never held across I/O. */
    pthread_rwlock_t flags_lock;
    kv_flagset_t flags;
    uint64_t flags_version;
    _Atomic uint64_t flags_ok_ns; /* monotonic time the copy was last confirmed current */
    pthread_mutex_t fetch_mu;     /* one fetch-and-install at a time (poller, own writes) */

    pthread_t poller;
    bool poller_started;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stop;

    _Atomic uint64_t errors;
    _Atomic uint64_t reconnects;
};

nova_status kv_inproc_open(nova_kv_t *kv, char *err, size_t errlen);
nova_status kv_redis_open(nova_kv_t *kv, const char *url, char *err, size_t errlen);

#endif
