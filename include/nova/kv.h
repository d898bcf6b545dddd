/*
 * kv.h: Nova's control plane. Small, short-lived, shared facts: replay caches (DPoP jti,
 * API-key nonces, private_key_jwt jti), rate-limit counters, sessions, flags and kill
 * switches. One interface, two drivers:
 *   - in-process (default, url NULL, "" or "inproc:"): hash tables behind one lock, expiry
 *     swept lazily on access and in bounded steps on writes. Facts are private to the
 *     process, so several novad instances do NOT share them.
 *   - Redis ("redis://[:password@]host[:port][/db]", NOVA_REDIS_URL): shared by every novad
 *     on that Redis. Each thread owns its own connection (opened on first use, reopened after
 *     a failure); keys live under the prefix "nova:".
 *
 * A nova_kv_t is shared by every thread of a process: all calls are thread-safe.
 *
 * Fail closed: when the driver cannot reach its backend (Redis down, timed out, a reply
 * that makes no sense) every call returns NOVA_UNAVAILABLE and changes nothing the caller
 * can rely on. Callers answer 503 problem+json with Retry-After (NOVA_KV_RETRY_AFTER_S),
 * never an allow. No call blocks longer than the driver's timeout (NOVA_REDIS_TIMEOUT_MS).
 *
 * Keys: 1..NOVA_KV_KEY_MAX bytes, no NUL (any other byte allowed). Callers namespace them
 * ("dpop:jti:<tenant>:<jti>", "rl:token:client:<id>"); the flag and counter spaces are
 * separate from the value space only by the caller's naming. Values: 0..NOVA_KV_VALUE_MAX
 * bytes, binary-safe. TTLs are milliseconds, 1..NOVA_KV_TTL_MAX_MS; a key is gone once its
 * TTL has passed (the in-process driver checks expiry on every read, so a late sweep never
 * shows an expired value). Out-of-range arguments are NOVA_INVALID.
 */
#ifndef NOVA_KV_H
#define NOVA_KV_H

#include "nova/base.h"

typedef struct nova_kv nova_kv_t;

#define NOVA_KV_KEY_MAX 512
#define NOVA_KV_VALUE_MAX 65536
#define NOVA_KV_TTL_MAX_MS (30ull * 24 * 3600 * 1000) /* 30 days */
#define NOVA_KV_FLAG_NAME_MAX 128
#define NOVA_KV_FLAG_VALUE_MAX 1024
/* Seconds a caller puts in Retry-After when a call returned NOVA_UNAVAILABLE. */
#define NOVA_KV_RETRY_AFTER_S 1
/* Flags are fetched from Redis every NOVA_KV_FLAG_POLL_MS; a local cache older than
 * NOVA_KV_FLAG_STALE_MS is not trusted (reads return NOVA_UNAVAILABLE). */
#define NOVA_KV_FLAG_POLL_MS 250
#define NOVA_KV_FLAG_STALE_MS 1000

typedef struct nova_kv_options {
    unsigned timeout_ms; /* connect and per-command timeout (Redis); 0: 500 */
} nova_kv_options_t;

/* Opens the control plane named by url (see above). opts may be NULL. For Redis, one
 * connection is made and pinged at once, so a wrong URL or an unreachable server fails here
 * (NOVA_UNAVAILABLE, reason in err, never the password); later outages are reported per
 * call. Starts the flag poller thread (Redis only). Free with nova_kv_close. */
nova_status nova_kv_open(const char *url, const nova_kv_options_t *opts, nova_kv_t **out, char *err,
                         size_t errlen);
/* Stops the poller, closes every connection the kv made. NULL-safe. No call may be running
 * or start after it. */
void nova_kv_close(nova_kv_t *kv);
/* "inproc" or "redis". */
const char *nova_kv_driver(const nova_kv_t *kv);
/* One round trip (Redis PING): NOVA_OK or NOVA_UNAVAILABLE. Always OK in-process. */
nova_status nova_kv_ping(nova_kv_t *kv);

/* ---- replay caches ---- */

/* Stores key = val for ttl_ms unless key is present. NOVA_OK: stored now (first sight);
 * NOVA_CONFLICT: key already present and unexpired (a replay), nothing changed. Atomic: of
 * concurrent callers with one key, across all instances sharing the backend, exactly one
 * gets NOVA_OK. val may be NULL when len is 0. */
nova_status nova_kv_set_nx(nova_kv_t *kv, const char *key, const void *val, size_t len,
                           uint64_t ttl_ms);

/* ---- counters (rate limits, budgets) ---- */

/* Adds delta to the counter key and returns the new value in *count. A fixed window: the
 * counter is created at 0 with a TTL of window_ms by the first call that finds it absent,
 * and later calls do not extend it. *reset_ms (may be NULL) gets the time left in the
 * window. Atomic across instances (Redis: one Lua script). delta may be 0 (read; starts a
 * window when none runs) or negative (refund). A key holding a non-counter value is
 * NOVA_CONFLICT. */
nova_status nova_kv_incr(nova_kv_t *kv, const char *key, int64_t delta, uint64_t window_ms,
                         int64_t *count, uint64_t *reset_ms);

/* ---- small values (sessions) ---- */

/* Stores key = val for ttl_ms, replacing any value (and its TTL). */
nova_status nova_kv_set(nova_kv_t *kv, const char *key, const void *val, size_t len,
                        uint64_t ttl_ms);
/* Copies the value into the arena: *val is NUL-terminated after its *len bytes and lives as
 * long as a. NOVA_NOT_FOUND when absent or expired. len may be NULL. */
nova_status nova_kv_get(nova_kv_t *kv, const char *key, nova_arena_t *a, char **val, size_t *len);
/* Atomically reads and removes key (single-use facts: challenges, one-time codes): of
 * concurrent callers exactly one gets NOVA_OK with the value, the others NOVA_NOT_FOUND. */
nova_status nova_kv_take(nova_kv_t *kv, const char *key, nova_arena_t *a, char **val, size_t *len);
/* Removes key. NOVA_OK when it was there, NOVA_NOT_FOUND when it was not (both leave it
 * absent). */
nova_status nova_kv_del(nova_kv_t *kv, const char *key);

/* ---- flags and kill switches ----
 * A flag is a name (1..NOVA_KV_FLAG_NAME_MAX bytes of [A-Za-z0-9._:/-]) with a text value
 * (1..NOVA_KV_FLAG_VALUE_MAX bytes, no NUL). Flags do not expire. Every instance keeps a
 * local copy, refreshed within NOVA_KV_FLAG_POLL_MS (Redis: a version counter polled by one
 * thread, the whole set fetched when it moved), so a change on one instance is seen by every
 * other within about 300 ms and always within 1 s; reads never make a round trip. */

/* Sets (value non-NULL) or clears (value NULL) a flag on the backend, then in this
 * instance's copy, so this instance sees its own change at once. */
nova_status nova_kv_flag_set(nova_kv_t *kv, const char *name, const char *value);
/* Reads a flag from the local copy: NOVA_OK with *value (arena copy), NOVA_NOT_FOUND when
 * unset, NOVA_UNAVAILABLE when the copy is older than NOVA_KV_FLAG_STALE_MS (the backend
 * has been unreachable: a kill switch must not read as off then). */
nova_status nova_kv_flag_get(nova_kv_t *kv, const char *name, nova_arena_t *a, char **value);
/* Every flag whose name starts with prefix ("" for all), from the local copy, sorted by
 * name: *names and *values are arena arrays of *n arena strings. Staleness as above. */
nova_status nova_kv_flag_list(nova_kv_t *kv, const char *prefix, nova_arena_t *a, char ***names,
                              char ***values, size_t *n);

/* ---- health ---- */

typedef struct nova_kv_stats {
    uint64_t errors;        /* calls that returned NOVA_UNAVAILABLE */
    uint64_t reconnects;    /* connections (re)opened after the first */
    uint64_t flags_version; /* the version of the local flag copy */
    int64_t flags_age_ms;   /* since the copy was last confirmed current (0 in-process) */
} nova_kv_stats_t;

/* Counters for /metrics and /v1/ready (lock-free reads). */
void nova_kv_stats(nova_kv_t *kv, nova_kv_stats_t *out);

#endif
