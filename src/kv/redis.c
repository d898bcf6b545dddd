/*
 * redis.c: the control plane on Redis (hiredis, synchronous). Each thread owns one
 * connection (a pthread key per kv), opened on first use; a connection that fails (refused,
 * timed out, closed, a reply that makes no sense) is dropped, the call returns
 * NOVA_UNAVAILABLE, and the thread's next call opens a new one, at most one attempt per
 * RECONNECT_PAUSE_MS so an outage costs a refused call, not a connect per request.
 *
 * Keys: "nova:k:" + the caller's key; flags in the hash "nova:flags" with the version
 * counter "nova:flags:version". Multi-step operations (counter with its window, a flag write
 * with its version bump, a consistent fetch of version and set) are Lua scripts, so each is
 * atomic on the server; they run by EVALSHA and fall back to EVAL when the server has lost
 * its script cache (a restart).
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "internal.h"
#include "nova/log.h"

#define RECONNECT_PAUSE_MS 100
#define KEY_PREFIX "nova:k:"
#define FLAGS_HASH "nova:flags"
#define FLAGS_VERSION "nova:flags:version"

/* KEYS[1] counter; ARGV[1] delta, ARGV[2] window ms. Returns {count, ms left}. A key found
 * without a TTL (created by INCRBY just now) gets the window. */
static const char SCRIPT_INCR[] =
    "local c = redis.call('INCRBY', KEYS[1], ARGV[1])\n"
    "local t = redis.call('PTTL', KEYS[1])\n"
    "if t < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]); t = tonumber(ARGV[2]) end\n"
    "return {c, t}\n";

/* KEYS[1] hash, KEYS[2] version; ARGV[1] name, ARGV[2] first version, ARGV[3] value (absent:
 * clear). The first version is the writer's clock in microseconds, so a Redis that lost its
 * data never hands out a version an instance saw before. Returns the new version. */
static const char SCRIPT_FLAG_SET[] =
    "if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('SET', KEYS[2], ARGV[2]) end\n"
    "if ARGV[3] then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])\n"
    "else redis.call('HDEL', KEYS[1], ARGV[1]) end\n"
    "return redis.call('INCR', KEYS[2])\n";

/* KEYS[1] hash, KEYS[2] version; ARGV[1] the version the caller holds. Returns {version}
 * when it is current, else {version, {name, value, ...}}: one snapshot. */
static const char SCRIPT_FLAG_FETCH[] = "local v = redis.call('GET', KEYS[2]) or '0'\n"
                                        "if v == ARGV[1] then return {v} end\n"
                                        "return {v, redis.call('HGETALL', KEYS[1])}\n";

enum { S_INCR, S_FLAG_SET, S_FLAG_FETCH, S_COUNT };
static const char *const scripts[S_COUNT] = {SCRIPT_INCR, SCRIPT_FLAG_SET, SCRIPT_FLAG_FETCH};

typedef struct redis redis_t;

typedef struct rconn {
    redisContext *c;
    uint64_t retry_ns; /* no connect attempt before this (monotonic) */
    bool opened_once;
    bool refused; /* an attempt to connect failed */
    redis_t *owner;
    struct rconn *prev, *next;
} rconn_t;

struct redis {
    char *host;
    int port;
    char *user; /* NULL: AUTH with the password alone */
    char *pass; /* NULL: no AUTH */
    int db;
    struct timeval tv;
    pthread_key_t key;
    pthread_mutex_t mu; /* guards the list of connections */
    rconn_t *conns;
    char sha[S_COUNT][41];
    nova_kv_t *kv;
    /* Some thread lost its connection or failed to open one: a connection opened from then
     * on (by any thread, even its first) counts as a reconnect. */
    atomic_bool outage;
};

/* ---- connections ---- */

static void conn_unlink_free(rconn_t *rc)
{
    redis_t *r = rc->owner;
    pthread_mutex_lock(&r->mu);
    if (rc->prev)
        rc->prev->next = rc->next;
    else
        r->conns = rc->next;
    if (rc->next)
        rc->next->prev = rc->prev;
    pthread_mutex_unlock(&r->mu);
    if (rc->c)
        redisFree(rc->c);
    free(rc);
}

/* pthread key destructor: the thread is exiting. */
static void conn_thread_exit(void *p)
{
    conn_unlink_free(p);
}

static void conn_drop(rconn_t *rc, const char *why)
{
    if (rc->c == NULL)
        return;
    nova_log_warn("kv: redis %s:%d: %s; reconnecting on next use", rc->owner->host, rc->owner->port,
                  why);
    redisFree(rc->c);
    rc->c = NULL;
    rc->retry_ns = nova_time_mono_ns() + (uint64_t)RECONNECT_PAUSE_MS * 1000000u;
    atomic_store(&rc->owner->outage, true);
}

/* Runs one command on c; NULL reply means the connection is unusable. */
static redisReply *run(redisContext *c, int argc, const char **argv, const size_t *lens)
{
    return redisCommandArgv(c, argc, argv, lens);
}

/* Opens a connection, authenticates and selects the database. On failure writes why. */
static redisContext *conn_open(redis_t *r, char *why, size_t whylen)
{
    redisContext *c = redisConnectWithTimeout(r->host, r->port, r->tv);
    redisReply *rep = NULL;

    if (c == NULL) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    if (c->err) {
        snprintf(why, whylen, "connect: %s", c->errstr);
        goto error;
    }
    if (redisSetTimeout(c, r->tv) != REDIS_OK) {
        snprintf(why, whylen, "cannot set the timeout");
        goto error;
    }
    if (r->pass != NULL) {
        const char *argv[3] = {"AUTH", r->user ? r->user : r->pass, r->pass};
        size_t lens[3] = {4, strlen(argv[1]), strlen(r->pass)};
        rep = run(c, r->user ? 3 : 2, argv, lens);
        if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
            /* The server's message names no secret; ours neither. */
            snprintf(why, whylen, "AUTH refused%s%s", rep ? ": " : "", rep ? rep->str : "");
            goto error;
        }
        freeReplyObject(rep);
        rep = NULL;
    }
    if (r->db != 0) {
        char db[16];
        snprintf(db, sizeof(db), "%d", r->db);
        const char *argv[2] = {"SELECT", db};
        size_t lens[2] = {6, strlen(db)};
        rep = run(c, 2, argv, lens);
        if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
            snprintf(why, whylen, "SELECT %d refused%s%s", r->db, rep ? ": " : "",
                     rep ? rep->str : "");
            goto error;
        }
        freeReplyObject(rep);
    }
    return c;
error:
    if (rep)
        freeReplyObject(rep);
    redisFree(c);
    return NULL;
}

/* This thread's connection, opened when needed; NULL while Redis cannot be reached. */
static rconn_t *conn_get(redis_t *r)
{
    rconn_t *rc = pthread_getspecific(r->key);
    char why[256];

    if (rc == NULL) {
        rc = calloc(1, sizeof(*rc));
        if (rc == NULL)
            return NULL;
        rc->owner = r;
        if (pthread_setspecific(r->key, rc) != 0) {
            free(rc);
            return NULL;
        }
        pthread_mutex_lock(&r->mu);
        rc->next = r->conns;
        if (r->conns)
            r->conns->prev = rc;
        r->conns = rc;
        pthread_mutex_unlock(&r->mu);
    }
    if (rc->c != NULL)
        return rc;
    if (nova_time_mono_ns() < rc->retry_ns)
        return NULL;
    rc->c = conn_open(r, why, sizeof(why));
    if (rc->c == NULL) {
        rc->retry_ns = nova_time_mono_ns() + (uint64_t)RECONNECT_PAUSE_MS * 1000000u;
        rc->refused = true;
        atomic_store(&r->outage, true);
        return NULL;
    }
    /* A connection back after a loss, or a thread's first one after an outage. */
    if (rc->opened_once || rc->refused || atomic_load(&r->outage)) {
        atomic_fetch_add_explicit(&r->kv->reconnects, 1, memory_order_relaxed);
        nova_log_info("kv: redis %s:%d: reconnected", r->host, r->port);
    }
    rc->opened_once = true;
    return rc;
}

/* Sends one command on this thread's connection. NOVA_OK with *out (caller frees) for any
 * reply that is not an error; an error reply: NOVA_CONFLICT for a wrong type or a
 * non-integer, NOVA_NOT_FOUND for NOSCRIPT (the caller falls back to EVAL), otherwise
 * NOVA_UNAVAILABLE (LOADING, READONLY, OOM, MASTERDOWN...: fail closed). */
static nova_status cmd(redis_t *r, redisReply **out, int argc, const char **argv,
                       const size_t *lens)
{
    rconn_t *rc = conn_get(r);
    *out = NULL;
    if (rc == NULL)
        return NOVA_UNAVAILABLE;
    redisReply *rep = run(rc->c, argc, argv, lens);
    if (rep == NULL) {
        conn_drop(rc, rc->c->errstr[0] ? rc->c->errstr : "no reply");
        return NOVA_UNAVAILABLE;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        nova_status st = NOVA_UNAVAILABLE;
        if (strncmp(rep->str, "NOSCRIPT", 8) == 0)
            st = NOVA_NOT_FOUND;
        else if (strncmp(rep->str, "WRONGTYPE", 9) == 0 || strstr(rep->str, "not an integer"))
            st = NOVA_CONFLICT;
        else
            nova_log_warn("kv: redis: %s", rep->str);
        freeReplyObject(rep);
        return st;
    }
    *out = rep;
    return NOVA_OK;
}

/* EVALSHA, or EVAL when the server does not know the script. argv[0..2] are filled here:
 * the caller passes argv/lens with three free slots in front. */
static nova_status eval(redis_t *r, int script, redisReply **out, int argc, const char **argv,
                        size_t *lens)
{
    argv[0] = "EVALSHA";
    lens[0] = 7;
    argv[1] = r->sha[script];
    lens[1] = 40;
    nova_status st = cmd(r, out, argc, argv, lens);
    if (st != NOVA_NOT_FOUND)
        return st;
    argv[0] = "EVAL";
    lens[0] = 4;
    argv[1] = scripts[script];
    lens[1] = strlen(scripts[script]);
    st = cmd(r, out, argc, argv, lens);
    return st == NOVA_NOT_FOUND ? NOVA_UNAVAILABLE : st;
}

/* "nova:k:" + key into buf (NOVA_KV_KEY_MAX + 8 bytes). */
static size_t full_key(char *buf, const char *key)
{
    size_t n = strlen(key);
    memcpy(buf, KEY_PREFIX, sizeof(KEY_PREFIX) - 1);
    memcpy(buf + sizeof(KEY_PREFIX) - 1, key, n + 1);
    return n + sizeof(KEY_PREFIX) - 1;
}

#define KEYBUF (NOVA_KV_KEY_MAX + sizeof(KEY_PREFIX))

/* ---- operations ---- */

static nova_status redis_ping(nova_kv_t *kv)
{
    redisReply *rep;
    const char *argv[1] = {"PING"};
    size_t lens[1] = {4};
    nova_status st = cmd(kv->impl, &rep, 1, argv, lens);
    if (st != NOVA_OK)
        return NOVA_UNAVAILABLE;
    bool ok = rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0;
    freeReplyObject(rep);
    return ok ? NOVA_OK : NOVA_UNAVAILABLE;
}

static nova_status put(nova_kv_t *kv, const char *key, const void *val, size_t len, uint64_t ttl_ms,
                       bool nx)
{
    char k[KEYBUF], ttl[24];
    redisReply *rep;
    size_t kl = full_key(k, key);
    int tl = snprintf(ttl, sizeof(ttl), "%" PRIu64, ttl_ms);
    const char *argv[6] = {"SET", k, val, "PX", ttl, "NX"};
    size_t lens[6] = {3, kl, len, 2, (size_t)tl, 2};
    nova_status st = cmd(kv->impl, &rep, nx ? 6 : 5, argv, lens);
    if (st != NOVA_OK)
        return st == NOVA_CONFLICT ? NOVA_CONFLICT : NOVA_UNAVAILABLE;
    if (rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "OK") == 0)
        st = NOVA_OK;
    else if (nx && rep->type == REDIS_REPLY_NIL)
        st = NOVA_CONFLICT;
    else
        st = NOVA_UNAVAILABLE;
    freeReplyObject(rep);
    return st;
}

static nova_status redis_set_nx(nova_kv_t *kv, const char *key, const void *val, size_t len,
                                uint64_t ttl_ms)
{
    return put(kv, key, val, len, ttl_ms, true);
}

static nova_status redis_set(nova_kv_t *kv, const char *key, const void *val, size_t len,
                             uint64_t ttl_ms)
{
    return put(kv, key, val, len, ttl_ms, false);
}

static nova_status redis_incr(nova_kv_t *kv, const char *key, int64_t delta, uint64_t window_ms,
                              int64_t *count, uint64_t *reset_ms)
{
    char k[KEYBUF], d[24], w[24];
    redisReply *rep;
    size_t kl = full_key(k, key);
    int dl = snprintf(d, sizeof(d), "%" PRId64, delta);
    int wl = snprintf(w, sizeof(w), "%" PRIu64, window_ms);
    const char *argv[6] = {NULL, NULL, "1", k, d, w};
    size_t lens[6] = {0, 0, 1, kl, (size_t)dl, (size_t)wl};
    nova_status st = eval(kv->impl, S_INCR, &rep, 6, argv, lens);
    if (st != NOVA_OK)
        return st;
    st = NOVA_UNAVAILABLE;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[0]->type == REDIS_REPLY_INTEGER &&
        rep->element[1]->type == REDIS_REPLY_INTEGER && rep->element[1]->integer >= 0) {
        *count = rep->element[0]->integer;
        *reset_ms = (uint64_t)rep->element[1]->integer;
        st = NOVA_OK;
    }
    freeReplyObject(rep);
    return st;
}

static nova_status redis_get(nova_kv_t *kv, const char *key, bool take, nova_arena_t *a, char **val,
                             size_t *len)
{
    char k[KEYBUF];
    redisReply *rep;
    size_t kl = full_key(k, key);
    const char *argv[2] = {take ? "GETDEL" : "GET", k};
    size_t lens[2] = {take ? 6u : 3u, kl};
    nova_status st = cmd(kv->impl, &rep, 2, argv, lens);
    if (st != NOVA_OK)
        return st == NOVA_CONFLICT ? NOVA_CONFLICT : NOVA_UNAVAILABLE;
    if (rep->type == REDIS_REPLY_NIL) {
        st = NOVA_NOT_FOUND;
    } else if (rep->type == REDIS_REPLY_STRING) {
        *val = nova_arena_strndup(a, rep->str, rep->len);
        *len = rep->len;
        st = *val ? NOVA_OK : NOVA_NOMEM;
    } else {
        st = NOVA_UNAVAILABLE;
    }
    freeReplyObject(rep);
    return st;
}

static nova_status redis_del(nova_kv_t *kv, const char *key)
{
    char k[KEYBUF];
    redisReply *rep;
    size_t kl = full_key(k, key);
    const char *argv[2] = {"DEL", k};
    size_t lens[2] = {3, kl};
    nova_status st = cmd(kv->impl, &rep, 2, argv, lens);
    if (st != NOVA_OK)
        return NOVA_UNAVAILABLE;
    st = rep->type != REDIS_REPLY_INTEGER ? NOVA_UNAVAILABLE
         : rep->integer > 0               ? NOVA_OK
                                          : NOVA_NOT_FOUND;
    freeReplyObject(rep);
    return st;
}

/* ---- flags ---- */

static nova_status redis_flag_write(nova_kv_t *kv, const char *name, const char *value)
{
    char first[24];
    redisReply *rep;
    struct timeval now;
    gettimeofday(&now, NULL);
    int fl = snprintf(first, sizeof(first), "%lld",
                      (long long)now.tv_sec * 1000000 + (long long)now.tv_usec);
    const char *argv[8] = {NULL, NULL, "2", FLAGS_HASH, FLAGS_VERSION, name, first, value};
    size_t lens[8] = {0,
                      0,
                      1,
                      sizeof(FLAGS_HASH) - 1,
                      sizeof(FLAGS_VERSION) - 1,
                      strlen(name),
                      (size_t)fl,
                      value ? strlen(value) : 0};
    nova_status st = eval(kv->impl, S_FLAG_SET, &rep, value ? 8 : 7, argv, lens);
    if (st != NOVA_OK)
        return NOVA_UNAVAILABLE;
    st = rep->type == REDIS_REPLY_INTEGER ? NOVA_OK : NOVA_UNAVAILABLE;
    freeReplyObject(rep);
    return st;
}

static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 19)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

static nova_status redis_flag_fetch(nova_kv_t *kv, uint64_t known, uint64_t *version, bool *changed,
                                    kv_flagset_t *out)
{
    char kn[24];
    redisReply *rep;
    int knl = snprintf(kn, sizeof(kn), "%" PRIu64, known);
    const char *argv[6] = {NULL, NULL, "2", FLAGS_HASH, FLAGS_VERSION, kn};
    size_t lens[6] = {0, 0, 1, sizeof(FLAGS_HASH) - 1, sizeof(FLAGS_VERSION) - 1, (size_t)knl};
    nova_status st = eval(kv->impl, S_FLAG_FETCH, &rep, 6, argv, lens);
    if (st != NOVA_OK)
        return NOVA_UNAVAILABLE;
    st = NOVA_UNAVAILABLE;
    *changed = false;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 || rep->elements > 2 ||
        rep->element[0]->type != REDIS_REPLY_STRING ||
        !parse_u64(rep->element[0]->str, rep->element[0]->len, version))
        goto end;
    if (rep->elements == 1) {
        st = NOVA_OK;
        goto end;
    }
    redisReply *all = rep->element[1];
    if (all->type != REDIS_REPLY_ARRAY || all->elements % 2 != 0)
        goto end;
    out->v = calloc(all->elements / 2 + 1, sizeof(kv_flag_t));
    if (out->v == NULL) {
        st = NOVA_NOMEM;
        goto end;
    }
    for (size_t i = 0; i + 1 < all->elements; i += 2) {
        redisReply *n = all->element[i], *v = all->element[i + 1];
        if (n->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            goto end;
        kv_flag_t *f = &out->v[out->n];
        f->name = strndup(n->str, n->len);
        f->value = strndup(v->str, v->len);
        out->n++;
        if (f->name == NULL || f->value == NULL) {
            st = NOVA_NOMEM;
            goto end;
        }
    }
    if (kv_flagset_sort(out) != NOVA_OK)
        goto end;
    *changed = true;
    st = NOVA_OK;
end:
    if (st != NOVA_OK)
        kv_flagset_free(out);
    freeReplyObject(rep);
    return st;
}

/* ---- open and close ---- */

static void redis_close(nova_kv_t *kv)
{
    redis_t *r = kv->impl;
    if (r == NULL)
        return;
    pthread_key_delete(r->key);
    rconn_t *rc = r->conns;
    while (rc != NULL) {
        rconn_t *next = rc->next;
        if (rc->c)
            redisFree(rc->c);
        free(rc);
        rc = next;
    }
    pthread_mutex_destroy(&r->mu);
    free(r->host);
    free(r->user);
    free(r->pass);
    free(r);
    kv->impl = NULL;
}

static const kv_driver_t redis_driver = {
    .name = "redis",
    .close = redis_close,
    .ping = redis_ping,
    .set_nx = redis_set_nx,
    .incr = redis_incr,
    .set = redis_set,
    .get = redis_get,
    .del = redis_del,
    .flag_write = redis_flag_write,
    .flag_fetch = redis_flag_fetch,
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into a new string; NULL on a bad escape or a NUL. */
static char *pct_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
                goto bad;
            char c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            if (c == '\0')
                goto bad;
            *o++ = c;
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
bad:
    free(out);
    return NULL;
}

/* redis://[[user]:password@]host[:port][/db]; host may be [IPv6]. Never echoes the
 * password in err. */
static nova_status parse_url(redis_t *r, const char *url, char *err, size_t errlen)
{
    const char *p = url + 8, *end;
    const char *at = strchr(p, '@');
    const char *slash;

    r->port = 6379;
    if (at != NULL) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon == NULL) {
            snprintf(err, errlen, "redis url: credentials must be [user]:password@");
            return NOVA_INVALID;
        }
        if (colon > p && (r->user = pct_decode(p, (size_t)(colon - p))) == NULL)
            goto bad_cred;
        if ((r->pass = pct_decode(colon + 1, (size_t)(at - colon - 1))) == NULL)
            goto bad_cred;
        p = at + 1;
    }
    slash = strchr(p, '/');
    end = slash ? slash : p + strlen(p);
    const char *hs = p, *he, *port = NULL;
    if (*p == '[') {
        he = memchr(p, ']', (size_t)(end - p));
        if (he == NULL) {
            snprintf(err, errlen, "redis url: unterminated [IPv6] host");
            return NOVA_INVALID;
        }
        hs = p + 1;
        if (he + 1 < end && he[1] == ':')
            port = he + 2;
        else if (he + 1 != end)
            goto bad_host;
    } else {
        he = memchr(p, ':', (size_t)(end - p));
        if (he != NULL)
            port = he + 1;
        else
            he = end;
    }
    if (he == hs)
        goto bad_host;
    r->host = strndup(hs, (size_t)(he - hs));
    if (r->host == NULL)
        return NOVA_NOMEM;
    if (port != NULL) {
        uint64_t v;
        if (!parse_u64(port, (size_t)(end - port), &v) || v < 1 || v > 65535) {
            snprintf(err, errlen, "redis url: bad port");
            return NOVA_INVALID;
        }
        r->port = (int)v;
    }
    if (slash != NULL && slash[1] != '\0') {
        uint64_t v;
        if (!parse_u64(slash + 1, strlen(slash + 1), &v) || v > 1000) {
            snprintf(err, errlen, "redis url: the path must be a database number");
            return NOVA_INVALID;
        }
        r->db = (int)v;
    }
    return NOVA_OK;
bad_cred:
    snprintf(err, errlen, "redis url: bad percent-escape in the credentials");
    return NOVA_INVALID;
bad_host:
    snprintf(err, errlen, "redis url: bad host");
    return NOVA_INVALID;
}

nova_status kv_redis_open(nova_kv_t *kv, const char *url, char *err, size_t errlen)
{
    redis_t *r = calloc(1, sizeof(*r));
    nova_status st;
    char why[256];
    redisContext *c = NULL;

    if (r == NULL)
        return NOVA_NOMEM;
    r->kv = kv;
    r->tv.tv_sec = kv->timeout_ms / 1000;
    r->tv.tv_usec = (long)(kv->timeout_ms % 1000) * 1000;
    pthread_mutex_init(&r->mu, NULL);
    if (pthread_key_create(&r->key, conn_thread_exit) != 0) {
        pthread_mutex_destroy(&r->mu);
        free(r);
        return NOVA_INTERNAL;
    }
    kv->impl = r;
    kv->drv = &redis_driver;
    st = parse_url(r, url, err, errlen);
    if (st != NOVA_OK)
        goto error;
    /* One connection now, so a wrong address or password fails at start; it also loads the
     * scripts and learns their digests. */
    c = conn_open(r, why, sizeof(why));
    if (c == NULL) {
        snprintf(err, errlen, "redis %s:%d: %s", r->host, r->port, why);
        st = NOVA_UNAVAILABLE;
        goto error;
    }
    for (int i = 0; i < S_COUNT; i++) {
        const char *argv[3] = {"SCRIPT", "LOAD", scripts[i]};
        size_t lens[3] = {6, 4, strlen(scripts[i])};
        redisReply *rep = run(c, 3, argv, lens);
        bool ok = rep && rep->type == REDIS_REPLY_STRING && rep->len == 40;
        if (ok)
            memcpy(r->sha[i], rep->str, 41);
        else
            snprintf(err, errlen, "redis %s:%d: SCRIPT LOAD failed%s%s", r->host, r->port,
                     rep && rep->type == REDIS_REPLY_ERROR ? ": " : "",
                     rep && rep->type == REDIS_REPLY_ERROR ? rep->str : "");
        if (rep)
            freeReplyObject(rep);
        if (!ok) {
            st = NOVA_UNAVAILABLE;
            goto error;
        }
    }
    redisFree(c);
    return NOVA_OK;
error:
    if (c)
        redisFree(c);
    /* kv->drv stays set so nova_kv_open's cleanup frees r through redis_close. */
    return st;
}
