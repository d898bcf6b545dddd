/*
 * kv.c: the control plane's front. Checks every argument against kv.h's bounds, counts
 * failures, and keeps this instance's copy of the flags. With a backend flag store (Redis)
 * one poller thread asks for the flag version every NOVA_KV_FLAG_POLL_MS and fetches the
 * whole set only when it moved; readers never wait on I/O.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "nova/log.h"

void kv_flagset_free(kv_flagset_t *fs)
{
    if (fs == NULL)
        return;
    for (size_t i = 0; i < fs->n; i++) {
        free(fs->v[i].name);
        free(fs->v[i].value);
    }
    free(fs->v);
    fs->v = NULL;
    fs->n = 0;
}

static int flag_cmp(const void *a, const void *b)
{
    return strcmp(((const kv_flag_t *)a)->name, ((const kv_flag_t *)b)->name);
}

nova_status kv_flagset_sort(kv_flagset_t *fs)
{
    if (fs->n > 1)
        qsort(fs->v, fs->n, sizeof(fs->v[0]), flag_cmp);
    for (size_t i = 1; i < fs->n; i++)
        if (strcmp(fs->v[i - 1].name, fs->v[i].name) == 0)
            return NOVA_INVALID;
    return NOVA_OK;
}

/* ---- argument checks ---- */

static bool key_ok(const char *key)
{
    if (key == NULL)
        return false;
    size_t n = strnlen(key, NOVA_KV_KEY_MAX + 1);
    return n >= 1 && n <= NOVA_KV_KEY_MAX;
}

static bool ttl_ok(uint64_t ttl_ms)
{
    return ttl_ms >= 1 && ttl_ms <= NOVA_KV_TTL_MAX_MS;
}

static bool value_ok(const void *val, size_t len)
{
    return len <= NOVA_KV_VALUE_MAX && (val != NULL || len == 0);
}

static bool flag_name_ok(const char *name)
{
    if (name == NULL)
        return false;
    size_t n = strnlen(name, NOVA_KV_FLAG_NAME_MAX + 1);
    if (n < 1 || n > NOVA_KV_FLAG_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '/' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static bool flag_value_ok(const char *value)
{
    size_t n = strnlen(value, NOVA_KV_FLAG_VALUE_MAX + 1);
    return n >= 1 && n <= NOVA_KV_FLAG_VALUE_MAX;
}

/* Counts a failure of the backend; every other status passes through. */
static nova_status counted(nova_kv_t *kv, nova_status st)
{
    if (st == NOVA_UNAVAILABLE)
        atomic_fetch_add_explicit(&kv->errors, 1, memory_order_relaxed);
    return st;
}

/* ---- the flag copy ---- */

/* Replaces the copy with fs (taking its contents) at version. */
static void flags_install(nova_kv_t *kv, kv_flagset_t *fs, uint64_t version)
{
    kv_flagset_t old;
    pthread_rwlock_wrlock(&kv->flags_lock);
    old = kv->flags;
    kv->flags = *fs;
    kv->flags_version = version;
    pthread_rwlock_unlock(&kv->flags_lock);
    fs->v = NULL;
    fs->n = 0;
    kv_flagset_free(&old);
}

/* Sets or clears name in the copy (in-process: the copy is the store). */
static nova_status flags_put(nova_kv_t *kv, const char *name, const char *value)
{
    nova_status st = NOVA_OK;
    char *nv = NULL, *nn = NULL;

    if (value != NULL && (nv = strdup(value)) == NULL)
        return NOVA_NOMEM;
    pthread_rwlock_wrlock(&kv->flags_lock);
    kv_flagset_t *fs = &kv->flags;
    size_t lo = 0, hi = fs->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(fs->v[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    bool found = lo < fs->n && strcmp(fs->v[lo].name, name) == 0;
    if (found && value != NULL) {
        free(fs->v[lo].value);
        fs->v[lo].value = nv;
        nv = NULL;
    } else if (found) {
        free(fs->v[lo].name);
        free(fs->v[lo].value);
        memmove(&fs->v[lo], &fs->v[lo + 1], (fs->n - lo - 1) * sizeof(fs->v[0]));
        fs->n--;
    } else if (value != NULL) {
        kv_flag_t *grown = realloc(fs->v, (fs->n + 1) * sizeof(fs->v[0]));
        nn = strdup(name);
        if (grown == NULL || nn == NULL) {
            if (grown != NULL)
                fs->v = grown;
            st = NOVA_NOMEM;
            goto end;
        }
        fs->v = grown;
        memmove(&fs->v[lo + 1], &fs->v[lo], (fs->n - lo) * sizeof(fs->v[0]));
        fs->v[lo].name = nn;
        fs->v[lo].value = nv;
        fs->n++;
        nn = nv = NULL;
    }
    kv->flags_version++;
end:
    pthread_rwlock_unlock(&kv->flags_lock);
    free(nn);
    free(nv);
    return st;
}

/* One poll: the version, and the set when it moved. Polls are serialised (fetch_mu), so a
 * set fetched earlier is never installed over one fetched later. */
static void flags_poll_once(nova_kv_t *kv)
{
    uint64_t known, version = 0;
    bool changed = false;
    kv_flagset_t fs = {0};

    pthread_mutex_lock(&kv->fetch_mu);
    pthread_rwlock_rdlock(&kv->flags_lock);
    known = kv->flags_version;
    pthread_rwlock_unlock(&kv->flags_lock);
    nova_status st = kv->drv->flag_fetch(kv, known, &version, &changed, &fs);
    if (st == NOVA_OK) {
        if (changed)
            flags_install(kv, &fs, version);
        atomic_store_explicit(&kv->flags_ok_ns, nova_time_mono_ns(), memory_order_release);
    } else {
        counted(kv, st);
    }
    pthread_mutex_unlock(&kv->fetch_mu);
    kv_flagset_free(&fs);
}

static void *flags_poller(void *arg)
{
    nova_kv_t *kv = arg;
    pthread_mutex_lock(&kv->stop_mu);
    while (!kv->stop) {
        pthread_mutex_unlock(&kv->stop_mu);
        flags_poll_once(kv);
        pthread_mutex_lock(&kv->stop_mu);
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += (long)NOVA_KV_FLAG_POLL_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        while (!kv->stop && pthread_cond_timedwait(&kv->stop_cv, &kv->stop_mu, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&kv->stop_mu);
    return NULL;
}

/* NOVA_OK when the copy may be trusted now. */
static nova_status flags_fresh(nova_kv_t *kv)
{
    if (kv->drv->flag_fetch == NULL)
        return NOVA_OK;
    uint64_t ok_ns = atomic_load_explicit(&kv->flags_ok_ns, memory_order_acquire);
    uint64_t now = nova_time_mono_ns();
    if (ok_ns == 0 || now - ok_ns > (uint64_t)NOVA_KV_FLAG_STALE_MS * 1000000u)
        return counted(kv, NOVA_UNAVAILABLE);
    return NOVA_OK;
}

/* ---- open and close ---- */

nova_status nova_kv_open(const char *url, const nova_kv_options_t *opts, nova_kv_t **out, char *err,
                         size_t errlen)
{
    nova_kv_t *kv;
    nova_status st;
    pthread_condattr_t ca;

    if (errlen > 0)
        err[0] = '\0';
    *out = NULL;
    kv = calloc(1, sizeof(*kv));
    if (kv == NULL)
        return NOVA_NOMEM;
    kv->timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : 500;
    pthread_rwlock_init(&kv->flags_lock, NULL);
    pthread_mutex_init(&kv->stop_mu, NULL);
    pthread_mutex_init(&kv->fetch_mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&kv->stop_cv, &ca);
    pthread_condattr_destroy(&ca);

    if (url == NULL || url[0] == '\0' || strcmp(url, "inproc:") == 0) {
        st = kv_inproc_open(kv, err, errlen);
    } else if (strncmp(url, "redis://", 8) == 0) {
        st = kv_redis_open(kv, url, err, errlen);
    } else {
        snprintf(err, errlen, "control plane url must be redis://... or inproc: (or empty)");
        st = NOVA_INVALID;
    }
    if (st != NOVA_OK) {
        nova_kv_close(kv);
        return st;
    }
    if (kv->drv->flag_fetch != NULL) {
        /* A first copy before anyone reads, so a fresh instance answers at once. */
        flags_poll_once(kv);
        if (pthread_create(&kv->poller, NULL, flags_poller, kv) != 0) {
            snprintf(err, errlen, "cannot start the flag poller");
            nova_kv_close(kv);
            return NOVA_INTERNAL;
        }
        kv->poller_started = true;
    }
    *out = kv;
    return NOVA_OK;
}

void nova_kv_close(nova_kv_t *kv)
{
    if (kv == NULL)
        return;
    if (kv->poller_started) {
        pthread_mutex_lock(&kv->stop_mu);
        kv->stop = true;
        pthread_cond_broadcast(&kv->stop_cv);
        pthread_mutex_unlock(&kv->stop_mu);
        pthread_join(kv->poller, NULL);
    }
    if (kv->drv != NULL)
        kv->drv->close(kv);
    kv_flagset_free(&kv->flags);
    pthread_rwlock_destroy(&kv->flags_lock);
    pthread_mutex_destroy(&kv->stop_mu);
    pthread_mutex_destroy(&kv->fetch_mu);
    pthread_cond_destroy(&kv->stop_cv);
    free(kv);
}

const char *nova_kv_driver(const nova_kv_t *kv)
{
    return kv->drv->name;
}

nova_status nova_kv_ping(nova_kv_t *kv)
{
    return counted(kv, kv->drv->ping(kv));
}

/* ---- values and counters ---- */

nova_status nova_kv_set_nx(nova_kv_t *kv, const char *key, const void *val, size_t len,
                           uint64_t ttl_ms)
{
    if (!key_ok(key) || !value_ok(val, len) || !ttl_ok(ttl_ms))
        return NOVA_INVALID;
    return counted(kv, kv->drv->set_nx(kv, key, val ? val : "", len, ttl_ms));
}

nova_status nova_kv_incr(nova_kv_t *kv, const char *key, int64_t delta, uint64_t window_ms,
                         int64_t *count, uint64_t *reset_ms)
{
    uint64_t reset = 0;
    /* Bounded so no sum of a few calls can overflow, in C or in Redis's int64. */
    if (!key_ok(key) || !ttl_ok(window_ms) || count == NULL || delta > (INT64_C(1) << 52) ||
        delta < -(INT64_C(1) << 52))
        return NOVA_INVALID;
    nova_status st = counted(kv, kv->drv->incr(kv, key, delta, window_ms, count, &reset));
    if (st == NOVA_OK && reset_ms != NULL)
        *reset_ms = reset;
    return st;
}

nova_status nova_kv_set(nova_kv_t *kv, const char *key, const void *val, size_t len,
                        uint64_t ttl_ms)
{
    if (!key_ok(key) || !value_ok(val, len) || !ttl_ok(ttl_ms))
        return NOVA_INVALID;
    return counted(kv, kv->drv->set(kv, key, val ? val : "", len, ttl_ms));
}

nova_status nova_kv_get(nova_kv_t *kv, const char *key, nova_arena_t *a, char **val, size_t *len)
{
    size_t n = 0;
    if (!key_ok(key) || a == NULL || val == NULL)
        return NOVA_INVALID;
    nova_status st = counted(kv, kv->drv->get(kv, key, false, a, val, &n));
    if (st == NOVA_OK && len != NULL)
        *len = n;
    return st;
}

nova_status nova_kv_take(nova_kv_t *kv, const char *key, nova_arena_t *a, char **val, size_t *len)
{
    size_t n = 0;
    if (!key_ok(key) || a == NULL || val == NULL)
        return NOVA_INVALID;
    nova_status st = counted(kv, kv->drv->get(kv, key, true, a, val, &n));
    if (st == NOVA_OK && len != NULL)
        *len = n;
    return st;
}

nova_status nova_kv_del(nova_kv_t *kv, const char *key)
{
    if (!key_ok(key))
        return NOVA_INVALID;
    return counted(kv, kv->drv->del(kv, key));
}

/* ---- flags ---- */

nova_status nova_kv_flag_set(nova_kv_t *kv, const char *name, const char *value)
{
    if (!flag_name_ok(name) || (value != NULL && !flag_value_ok(value)))
        return NOVA_INVALID;
    if (kv->drv->flag_write != NULL) {
        nova_status st = counted(kv, kv->drv->flag_write(kv, name, value));
        if (st != NOVA_OK)
            return st;
        /* Fetch now, so this instance reads its own write at once. Should the fetch fail,
         * the write stands and the poller brings it. */
        flags_poll_once(kv);
        return NOVA_OK;
    }
    return flags_put(kv, name, value);
}

nova_status nova_kv_flag_get(nova_kv_t *kv, const char *name, nova_arena_t *a, char **value)
{
    nova_status st;
    if (!flag_name_ok(name) || a == NULL || value == NULL)
        return NOVA_INVALID;
    st = flags_fresh(kv);
    if (st != NOVA_OK)
        return st;
    kv_flag_t probe = {(char *)name, NULL};
    pthread_rwlock_rdlock(&kv->flags_lock);
    kv_flag_t *f =
        kv->flags.n ? bsearch(&probe, kv->flags.v, kv->flags.n, sizeof(kv_flag_t), flag_cmp) : NULL;
    st = NOVA_NOT_FOUND;
    if (f != NULL) {
        *value = nova_arena_strdup(a, f->value);
        st = *value ? NOVA_OK : NOVA_NOMEM;
    }
    pthread_rwlock_unlock(&kv->flags_lock);
    return st;
}

nova_status nova_kv_flag_list(nova_kv_t *kv, const char *prefix, nova_arena_t *a, char ***names,
                              char ***values, size_t *n)
{
    nova_status st = NOVA_OK;
    if (prefix == NULL || a == NULL || names == NULL || values == NULL || n == NULL)
        return NOVA_INVALID;
    st = flags_fresh(kv);
    if (st != NOVA_OK)
        return st;
    size_t plen = strlen(prefix), k = 0;
    pthread_rwlock_rdlock(&kv->flags_lock);
    size_t total = kv->flags.n;
    char **nv = nova_arena_alloc(a, (total + 1) * sizeof(char *));
    char **vv = nova_arena_alloc(a, (total + 1) * sizeof(char *));
    if (nv == NULL || vv == NULL) {
        st = NOVA_NOMEM;
        goto end;
    }
    for (size_t i = 0; i < total; i++) {
        const kv_flag_t *f = &kv->flags.v[i];
        if (strncmp(f->name, prefix, plen) != 0)
            continue;
        nv[k] = nova_arena_strdup(a, f->name);
        vv[k] = nova_arena_strdup(a, f->value);
        if (nv[k] == NULL || vv[k] == NULL) {
            st = NOVA_NOMEM;
            goto end;
        }
        k++;
    }
    *names = nv;
    *values = vv;
    *n = k;
end:
    pthread_rwlock_unlock(&kv->flags_lock);
    return st;
}

void nova_kv_stats(nova_kv_t *kv, nova_kv_stats_t *out)
{
    out->errors = atomic_load_explicit(&kv->errors, memory_order_relaxed);
    out->reconnects = atomic_load_explicit(&kv->reconnects, memory_order_relaxed);
    pthread_rwlock_rdlock(&kv->flags_lock);
    out->flags_version = kv->flags_version;
    pthread_rwlock_unlock(&kv->flags_lock);
    out->flags_age_ms = 0;
    if (kv->drv->flag_fetch != NULL) {
        uint64_t ok_ns = atomic_load_explicit(&kv->flags_ok_ns, memory_order_acquire);
        out->flags_age_ms = ok_ns ? (int64_t)((nova_time_mono_ns() - ok_ns) / 1000000u) : -1;
    }
}
