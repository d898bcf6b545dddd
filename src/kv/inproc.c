/*
 * inproc.c: the in-process control plane. One chained hash table (FNV-1a) behind one mutex;
 * the work under it is a lookup and a copy, never I/O. The bucket array is made once at its
 * full size (INPROC_BUCKETS pointers, paged in as they are touched) and never rehashed: a
 * doubling moves every entry under the lock, which a replay cache filled by 5,000 DPoP proofs
 * a second paid as a stall of every request at each doubling (measured: 2-30 ms). Expiry is
 * checked on every access, so an expired entry is never seen; every write also sweeps a few
 * buckets from a rotating cursor, so entries nobody reads again are reclaimed too. An entry
 * is one allocation (header, key, value). The table holds at most INPROC_MAX_ENTRIES (a DPoP
 * proof holds one for 180 s: ~23,000 proofs a second sustained): when full, a write sweeps it
 * whole, at most once per INPROC_FULL_SWEEP_NS so a full table cannot make every write pay a
 * full sweep, and if it is still full the write fails NOVA_UNAVAILABLE (fail closed: a replay
 * cache that cannot remember must not say "first sight").
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define INPROC_BUCKETS (1u << 21)
#define INPROC_MAX_ENTRIES (1u << 22)
#define INPROC_SWEEP_BUCKETS 8
#define INPROC_FULL_SWEEP_NS 100000000u /* 100 ms */

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    uint64_t expires_ns; /* monotonic */
    int64_t count;
    uint32_t klen, vlen;
    bool counter;
    char data[]; /* key (klen bytes + NUL), then the value (vlen bytes + NUL) */
} entry_t;

typedef struct inproc {
    pthread_mutex_t mu;
    entry_t **buckets; /* INPROC_BUCKETS */
    size_t n;
    size_t max; /* INPROC_MAX_ENTRIES (a test makes it small) */
    size_t cursor;
    uint64_t full_sweep_ns; /* when a write last swept the whole table */
} inproc_t;

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static void entry_free(entry_t *e)
{
    free(e);
}

static const char *entry_val(const entry_t *e)
{
    return e->data + e->klen + 1;
}

static uint64_t deadline(uint64_t now, uint64_t ttl_ms)
{
    return now + ttl_ms * 1000000u;
}

/* Unlinks and frees the expired entries of bucket i. */
static void sweep_bucket(inproc_t *t, size_t i, uint64_t now)
{
    entry_t **pp = &t->buckets[i];
    while (*pp != NULL) {
        entry_t *e = *pp;
        if (e->expires_ns <= now) {
            *pp = e->next;
            entry_free(e);
            t->n--;
        } else {
            pp = &e->next;
        }
    }
}

static void sweep_some(inproc_t *t, uint64_t now)
{
    for (int k = 0; k < INPROC_SWEEP_BUCKETS; k++) {
        sweep_bucket(t, t->cursor, now);
        t->cursor = (t->cursor + 1) & (INPROC_BUCKETS - 1);
    }
}

/* The live entry for key, or NULL; an expired one found on the way is dropped. pp_out gets
 * the link pointing at it (for unlinking). */
static entry_t *find(inproc_t *t, const char *key, size_t klen, uint64_t h, uint64_t now,
                     entry_t ***pp_out)
{
    entry_t **pp = &t->buckets[h & (INPROC_BUCKETS - 1)];
    while (*pp != NULL) {
        entry_t *e = *pp;
        if (e->hash == h && e->klen == klen && memcmp(e->data, key, klen) == 0) {
            if (e->expires_ns <= now) {
                *pp = e->next;
                entry_free(e);
                t->n--;
                return NULL;
            }
            if (pp_out)
                *pp_out = pp;
            return e;
        }
        pp = &e->next;
    }
    return NULL;
}

/* Room for one more entry: NOVA_OK, or NOVA_UNAVAILABLE when the table is full of live
 * entries. */
static nova_status make_room(inproc_t *t, uint64_t now)
{
    sweep_some(t, now);
    if (t->n < t->max)
        return NOVA_OK;
    if (t->full_sweep_ns != 0 && now - t->full_sweep_ns < INPROC_FULL_SWEEP_NS)
        return NOVA_UNAVAILABLE;
    t->full_sweep_ns = now;
    for (size_t i = 0; i < INPROC_BUCKETS; i++)
        sweep_bucket(t, i, now);
    return t->n < t->max ? NOVA_OK : NOVA_UNAVAILABLE;
}

/* A new entry for key (and val, NULL for a counter), not linked. */
static entry_t *entry_new(const char *key, size_t klen, uint64_t h, const void *val, size_t vlen)
{
    entry_t *e = malloc(sizeof(*e) + klen + 1 + vlen + 1);
    if (e == NULL)
        return NULL;
    memset(e, 0, sizeof(*e));
    memcpy(e->data, key, klen);
    e->data[klen] = '\0';
    if (vlen)
        memcpy(e->data + klen + 1, val, vlen);
    e->data[klen + 1 + vlen] = '\0';
    e->klen = (uint32_t)klen;
    e->vlen = (uint32_t)vlen;
    e->hash = h;
    return e;
}

/* Links e at the head of its bucket (caller holds the lock and made room). */
static void link_entry(inproc_t *t, entry_t *e)
{
    size_t i = e->hash & (INPROC_BUCKETS - 1);
    e->next = t->buckets[i];
    t->buckets[i] = e;
    t->n++;
}

/* Writes key = val (replace true: whatever was there; false: only when absent). */
static nova_status put(nova_kv_t *kv, const char *key, const void *val, size_t len, uint64_t ttl_ms,
                       bool replace)
{
    inproc_t *t = kv->impl;
    size_t klen = strlen(key);
    uint64_t h = fnv1a(key, klen);
    nova_status st = NOVA_OK;
    /* Made before the lock: the work under it stays a lookup and a link. */
    entry_t *fresh = entry_new(key, klen, h, val, len), **pp = NULL;
    if (fresh == NULL)
        return NOVA_NOMEM;

    pthread_mutex_lock(&t->mu);
    uint64_t now = nova_time_mono_ns();
    fresh->expires_ns = deadline(now, ttl_ms);
    entry_t *e = find(t, key, klen, h, now, &pp);
    if (e != NULL && !replace) {
        st = NOVA_CONFLICT;
    } else if (e != NULL) {
        fresh->next = e->next; /* takes the old entry's place in its chain */
        *pp = fresh;
        fresh = NULL;
    } else if ((st = make_room(t, now)) == NOVA_OK) {
        link_entry(t, fresh);
        fresh = NULL;
    }
    pthread_mutex_unlock(&t->mu);
    free(fresh);
    free(e != NULL && st == NOVA_OK ? e : NULL);
    return st;
}

static nova_status inproc_set_nx(nova_kv_t *kv, const char *key, const void *val, size_t len,
                                 uint64_t ttl_ms)
{
    return put(kv, key, val, len, ttl_ms, false);
}

static nova_status inproc_set(nova_kv_t *kv, const char *key, const void *val, size_t len,
                              uint64_t ttl_ms)
{
    return put(kv, key, val, len, ttl_ms, true);
}

static nova_status inproc_incr(nova_kv_t *kv, const char *key, int64_t delta, uint64_t window_ms,
                               int64_t *count, uint64_t *reset_ms)
{
    inproc_t *t = kv->impl;
    size_t klen = strlen(key);
    uint64_t h = fnv1a(key, klen);
    nova_status st = NOVA_OK;

    pthread_mutex_lock(&t->mu);
    uint64_t now = nova_time_mono_ns();
    entry_t *e = find(t, key, klen, h, now, NULL);
    if (e == NULL) {
        st = make_room(t, now);
        if (st != NOVA_OK)
            goto end;
        if ((e = entry_new(key, klen, h, NULL, 0)) == NULL) {
            st = NOVA_NOMEM;
            goto end;
        }
        link_entry(t, e);
        e->counter = true;
        e->expires_ns = deadline(now, window_ms);
    } else if (!e->counter) {
        st = NOVA_CONFLICT;
        goto end;
    }
    if ((delta > 0 && e->count > INT64_MAX - delta) ||
        (delta < 0 && e->count < INT64_MIN - delta)) {
        st = NOVA_INVALID;
        goto end;
    }
    e->count += delta;
    *count = e->count;
    *reset_ms = (e->expires_ns - now + 999999u) / 1000000u;
end:
    pthread_mutex_unlock(&t->mu);
    return st;
}

static nova_status inproc_get(nova_kv_t *kv, const char *key, bool take, nova_arena_t *a,
                              char **val, size_t *len)
{
    inproc_t *t = kv->impl;
    size_t klen = strlen(key);
    uint64_t h = fnv1a(key, klen);
    nova_status st = NOVA_OK;
    entry_t **pp = NULL;

    pthread_mutex_lock(&t->mu);
    entry_t *e = find(t, key, klen, h, nova_time_mono_ns(), &pp);
    if (e == NULL) {
        st = NOVA_NOT_FOUND;
        goto end;
    }
    if (e->counter) {
        /* A counter reads as its decimal value, as Redis's GET would show it. */
        char num[24];
        int n = snprintf(num, sizeof(num), "%lld", (long long)e->count);
        *val = nova_arena_strndup(a, num, (size_t)n);
        *len = (size_t)n;
    } else {
        *val = nova_arena_strndup(a, entry_val(e), e->vlen);
        *len = e->vlen;
    }
    if (*val == NULL) {
        st = NOVA_NOMEM;
        goto end;
    }
    if (take) {
        *pp = e->next;
        entry_free(e);
        t->n--;
    }
end:
    pthread_mutex_unlock(&t->mu);
    return st;
}

static nova_status inproc_del(nova_kv_t *kv, const char *key)
{
    inproc_t *t = kv->impl;
    size_t klen = strlen(key);
    uint64_t h = fnv1a(key, klen);
    entry_t **pp = NULL;
    nova_status st = NOVA_NOT_FOUND;

    pthread_mutex_lock(&t->mu);
    entry_t *e = find(t, key, klen, h, nova_time_mono_ns(), &pp);
    if (e != NULL) {
        *pp = e->next;
        entry_free(e);
        t->n--;
        st = NOVA_OK;
    }
    pthread_mutex_unlock(&t->mu);
    return st;
}

static nova_status inproc_ping(nova_kv_t *kv)
{
    (void)kv;
    return NOVA_OK;
}

static void inproc_close(nova_kv_t *kv)
{
    inproc_t *t = kv->impl;
    if (t == NULL)
        return;
    for (size_t i = 0; i < INPROC_BUCKETS; i++) {
        entry_t *e = t->buckets[i];
        while (e != NULL) {
            entry_t *next = e->next;
            entry_free(e);
            e = next;
        }
    }
    free(t->buckets);
    pthread_mutex_destroy(&t->mu);
    free(t);
    kv->impl = NULL;
}

static const kv_driver_t inproc_driver = {
    .name = "inproc",
    .close = inproc_close,
    .ping = inproc_ping,
    .set_nx = inproc_set_nx,
    .incr = inproc_incr,
    .set = inproc_set,
    .get = inproc_get,
    .del = inproc_del,
    .flag_write = NULL,
    .flag_fetch = NULL,
};

nova_status kv_inproc_open(nova_kv_t *kv, char *err, size_t errlen)
{
    inproc_t *t = calloc(1, sizeof(*t));
    if (t != NULL)
        t->buckets = calloc(INPROC_BUCKETS, sizeof(*t->buckets)); /* zero pages until touched */
    if (t != NULL)
        t->max = INPROC_MAX_ENTRIES;
    if (t == NULL || t->buckets == NULL) {
        free(t);
        snprintf(err, errlen, "out of memory");
        return NOVA_NOMEM;
    }
    pthread_mutex_init(&t->mu, NULL);
    kv->impl = t;
    kv->drv = &inproc_driver;
    return NOVA_OK;
}
