/*
 * inproc.c: the in-process control plane. One chained hash table (FNV-1a, doubled at load
 * 1) behind one mutex; the work under it is a lookup and a copy, never I/O. Expiry is
 * checked on every access, so an expired entry is never seen; every write also sweeps a few
 * buckets from a rotating cursor, so entries nobody reads again are reclaimed too. The table
 * holds at most INPROC_MAX_ENTRIES: when full, a write sweeps it whole, and if it is still
 * full the write fails NOVA_UNAVAILABLE (fail closed: a replay cache that cannot remember
 * must not say "first sight").
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define INPROC_MAX_ENTRIES (1u << 20)
#define INPROC_SWEEP_BUCKETS 8

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    uint64_t expires_ns; /* monotonic */
    bool counter;
    int64_t count;
    size_t klen, vlen;
    char *val;  /* vlen bytes + NUL, for values */
    char key[]; /* klen bytes + NUL */
} entry_t;

typedef struct inproc {
    pthread_mutex_t mu;
    entry_t **buckets;
    size_t nbuckets; /* power of two */
    size_t n;
    size_t cursor;
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
    if (e == NULL)
        return;
    free(e->val);
    free(e);
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
        t->cursor = (t->cursor + 1) & (t->nbuckets - 1);
    }
}

static void grow(inproc_t *t)
{
    size_t nb = t->nbuckets * 2;
    entry_t **b = calloc(nb, sizeof(*b));
    if (b == NULL)
        return; /* a longer chain is still correct */
    for (size_t i = 0; i < t->nbuckets; i++) {
        entry_t *e = t->buckets[i];
        while (e != NULL) {
            entry_t *next = e->next;
            size_t j = e->hash & (nb - 1);
            e->next = b[j];
            b[j] = e;
            e = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
    t->cursor &= nb - 1;
}

/* The live entry for key, or NULL; an expired one found on the way is dropped. pp_out gets
 * the link pointing at it (for unlinking). */
static entry_t *find(inproc_t *t, const char *key, size_t klen, uint64_t h, uint64_t now,
                     entry_t ***pp_out)
{
    entry_t **pp = &t->buckets[h & (t->nbuckets - 1)];
    while (*pp != NULL) {
        entry_t *e = *pp;
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0) {
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
    if (t->n < INPROC_MAX_ENTRIES)
        return NOVA_OK;
    for (size_t i = 0; i < t->nbuckets; i++)
        sweep_bucket(t, i, now);
    return t->n < INPROC_MAX_ENTRIES ? NOVA_OK : NOVA_UNAVAILABLE;
}

/* Links a new entry (caller holds the lock and made room). */
static entry_t *insert(inproc_t *t, const char *key, size_t klen, uint64_t h)
{
    entry_t *e = calloc(1, sizeof(*e) + klen + 1);
    if (e == NULL)
        return NULL;
    memcpy(e->key, key, klen);
    e->klen = klen;
    e->hash = h;
    size_t i = h & (t->nbuckets - 1);
    e->next = t->buckets[i];
    t->buckets[i] = e;
    t->n++;
    if (t->n > t->nbuckets)
        grow(t);
    return e;
}

static char *dup_value(const void *val, size_t len)
{
    char *v = malloc(len + 1);
    if (v == NULL)
        return NULL;
    memcpy(v, val, len);
    v[len] = '\0';
    return v;
}

/* Writes key = val (replace true: whatever was there; false: only when absent). */
static nova_status put(nova_kv_t *kv, const char *key, const void *val, size_t len, uint64_t ttl_ms,
                       bool replace)
{
    inproc_t *t = kv->impl;
    size_t klen = strlen(key);
    uint64_t h = fnv1a(key, klen);
    nova_status st = NOVA_OK;
    char *v = dup_value(val, len);
    if (v == NULL)
        return NOVA_NOMEM;

    pthread_mutex_lock(&t->mu);
    uint64_t now = nova_time_mono_ns();
    entry_t *e = find(t, key, klen, h, now, NULL);
    if (e != NULL && !replace) {
        st = NOVA_CONFLICT;
        goto end;
    }
    if (e == NULL) {
        st = make_room(t, now);
        if (st != NOVA_OK)
            goto end;
        e = insert(t, key, klen, h);
        if (e == NULL) {
            st = NOVA_NOMEM;
            goto end;
        }
    }
    free(e->val);
    e->val = v;
    v = NULL;
    e->vlen = len;
    e->counter = false;
    e->count = 0;
    e->expires_ns = deadline(now, ttl_ms);
end:
    pthread_mutex_unlock(&t->mu);
    free(v);
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
        e = insert(t, key, klen, h);
        if (e == NULL) {
            st = NOVA_NOMEM;
            goto end;
        }
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
        *val = nova_arena_strndup(a, e->val, e->vlen);
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
    for (size_t i = 0; i < t->nbuckets; i++) {
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
    if (t != NULL) {
        t->nbuckets = 1024;
        t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
    }
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
