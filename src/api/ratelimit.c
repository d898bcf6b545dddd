/*
 * ratelimit.c: the rate limits of the OAuth endpoints, counted in the control plane (kv) so
 * every instance sharing it shares the counts. Each limit is a fixed window
 * (nova_kv_incr): the first request of a window starts it, and it ends window seconds later
 * whatever happens in between.
 *
 *   token-ip              every POST /oauth/token from one source address
 *   token-client          grants per authenticated client
 *   auth-failures-ip      failed client authentications from one address (any client id)
 *   auth-failures-client  failed authentications of one client id from one address
 *
 * The failure limits are checked before the credentials are: once over, every attempt is
 * refused until the window ends, right secret or not, so guessing gains nothing. The client
 * limit is keyed by (client id, address) rather than by client id alone, so nobody can lock
 * a client out by failing in its name from elsewhere; the per-address limit bounds a source
 * that rotates client ids.
 *
 * Refusals are 429 problem+json with Retry-After and the IETF httpapi draft headers
 * (draft-ietf-httpapi-ratelimit-headers: `RateLimit-Policy: "token-ip";q=1200;w=60` and
 * `RateLimit: "token-ip";r=0;t=17`). When the control plane cannot be reached the request
 * is refused 503 with Retry-After (fail closed), never let through uncounted.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nova/crypto.h"

typedef enum { RL_TOKEN_IP, RL_TOKEN_CLIENT, RL_AUTH_IP, RL_AUTH_CLIENT, RL_COUNT } rl_kind;

static const struct {
    const char *name;   /* policy name in the headers and the metric label */
    const char *prefix; /* key prefix in the control plane */
    const char *what;   /* for the problem's detail */
} rl[RL_COUNT] = {
    [RL_TOKEN_IP] = {"token-ip", "rl:tok:ip:", "token requests from this address"},
    [RL_TOKEN_CLIENT] = {"token-client", "rl:tok:client:", "token grants for this client"},
    [RL_AUTH_IP] = {"auth-failures-ip",
                    "rl:authf:ip:", "failed client authentications from this address"},
    [RL_AUTH_CLIENT] = {"auth-failures-client", "rl:authf:client:",
                        "failed authentications of this client from this address"},
};

static _Atomic uint64_t hits[RL_COUNT];
static _Atomic uint64_t unavailable;

static unsigned limit_of(const nova_api_t *api, rl_kind k)
{
    switch (k) {
    case RL_TOKEN_IP:
        return api->limits.token_ip;
    case RL_TOKEN_CLIENT:
        return api->limits.token_client;
    case RL_AUTH_IP:
        return api->limits.auth_failures_ip;
    case RL_AUTH_CLIENT:
        return api->limits.auth_failures_client;
    case RL_COUNT:
        break;
    }
    return 0;
}

static unsigned window_of(const nova_api_t *api, rl_kind k)
{
    return k == RL_TOKEN_IP || k == RL_TOKEN_CLIENT ? api->limits.window_s
                                                    : api->limits.auth_window_s;
}

/* The control-plane key of limit k for subject (an address, a client id, or both). A
 * client id comes from the request, so it is hashed: any length, any bytes, one key size. */
static const char *key_of(nova_req_t *r, rl_kind k, const char *ip, const char *client_id)
{
    if (client_id == NULL)
        return nova_arena_printf(&r->arena, "%s%s", rl[k].prefix, ip ? ip : "");
    uint8_t d[32];
    char hex[65];
    nova_sha256(client_id, strlen(client_id), d);
    nova_hex_encode(d, 16, hex);
    return nova_arena_printf(&r->arena, "%s%s%s%s", rl[k].prefix, hex, ip ? ":" : "", ip ? ip : "");
}

static void headers(nova_req_t *r, rl_kind k, unsigned q, unsigned w, int64_t used,
                    uint64_t reset_ms)
{
    int64_t left = (int64_t)q - used;
    unsigned long long t = (reset_ms + 999) / 1000;
    nova_resp_header(r, "RateLimit-Policy",
                     nova_arena_printf(&r->arena, "\"%s\";q=%u;w=%u", rl[k].name, q, w));
    nova_resp_header(r, "RateLimit",
                     nova_arena_printf(&r->arena, "\"%s\";r=%lld;t=%llu", rl[k].name,
                                       (long long)(left > 0 ? left : 0), t));
}

static void refuse(nova_req_t *r, const nova_api_t *api, rl_kind k, int64_t used, uint64_t reset_ms)
{
    unsigned q = limit_of(api, k), w = window_of(api, k);
    unsigned long long retry = (reset_ms + 999) / 1000;
    if (retry == 0)
        retry = 1;
    atomic_fetch_add_explicit(&hits[k], 1, memory_order_relaxed);
    nova_resp_problem(r, 429, "rate_limited", "Too Many Requests",
                      nova_arena_printf(&r->arena, "more than %u %s in %u s; retry after %llu s", q,
                                        rl[k].what, w, retry));
    nova_resp_header(r, "Retry-After", nova_arena_printf(&r->arena, "%llu", retry));
    headers(r, k, q, w, used, reset_ms);
}

void api_kv_unavailable(nova_req_t *r)
{
    atomic_fetch_add_explicit(&unavailable, 1, memory_order_relaxed);
    nova_resp_problem(r, 503, "control_plane_unavailable", "Service Unavailable",
                      "the control plane (rate limits, replay caches) cannot be reached; "
                      "nothing was done");
    nova_resp_header(r, "Retry-After", nova_arena_printf(&r->arena, "%d", NOVA_KV_RETRY_AFTER_S));
}

/* Counts one against limit k; false (reply written) when over it or unreachable. */
static bool count(nova_req_t *r, nova_api_t *api, rl_kind k, const char *key, bool tell)
{
    unsigned q = limit_of(api, k);
    int64_t used = 0;
    uint64_t reset_ms = 0;
    if (q == 0)
        return true;
    if (key == NULL) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return false;
    }
    nova_status st =
        nova_kv_incr(api->kv, key, 1, (uint64_t)window_of(api, k) * 1000, &used, &reset_ms);
    if (st == NOVA_UNAVAILABLE) {
        api_kv_unavailable(r);
        return false;
    }
    if (st != NOVA_OK) {
        nova_resp_status(r, st, "rate limit counter");
        return false;
    }
    if (used > (int64_t)q) {
        refuse(r, api, k, used, reset_ms);
        return false;
    }
    if (tell)
        headers(r, k, q, window_of(api, k), used, reset_ms);
    return true;
}

/* Whether failure limit k is exhausted, without counting (a plain read creates nothing). */
static bool failures_ok(nova_req_t *r, nova_api_t *api, rl_kind k, const char *key)
{
    unsigned q = limit_of(api, k);
    char *v;
    if (q == 0)
        return true;
    if (key == NULL) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return false;
    }
    nova_status st = nova_kv_get(api->kv, key, &r->arena, &v, NULL);
    if (st == NOVA_NOT_FOUND)
        return true;
    if (st == NOVA_UNAVAILABLE) {
        api_kv_unavailable(r);
        return false;
    }
    if (st != NOVA_OK) {
        nova_resp_status(r, st, "rate limit counter");
        return false;
    }
    long long n = strtoll(v, NULL, 10);
    if (n < (long long)q)
        return true;
    /* Over: the window's end, for Retry-After (adding 0 changes nothing). */
    int64_t used = n;
    uint64_t reset_ms = 0;
    st = nova_kv_incr(api->kv, key, 0, (uint64_t)window_of(api, k) * 1000, &used, &reset_ms);
    if (st == NOVA_UNAVAILABLE) {
        api_kv_unavailable(r);
        return false;
    }
    refuse(r, api, k, used + 1, reset_ms);
    return false;
}

static const char *peer(nova_req_t *r)
{
    const char *ip = nova_req_peer_ip(r);
    return ip ? ip : "unknown";
}

bool api_ratelimit_token_ip(nova_req_t *r, nova_api_t *api)
{
    return count(r, api, RL_TOKEN_IP, key_of(r, RL_TOKEN_IP, peer(r), NULL), false);
}

bool api_ratelimit_token_client(nova_req_t *r, nova_api_t *api, const char *client_id)
{
    return count(r, api, RL_TOKEN_CLIENT, key_of(r, RL_TOKEN_CLIENT, NULL, client_id), true);
}

bool api_ratelimit_auth_allowed(nova_req_t *r, nova_api_t *api, const char *client_id)
{
    const char *ip = peer(r);
    if (!failures_ok(r, api, RL_AUTH_IP, key_of(r, RL_AUTH_IP, ip, NULL)))
        return false;
    return client_id == NULL ||
           failures_ok(r, api, RL_AUTH_CLIENT, key_of(r, RL_AUTH_CLIENT, ip, client_id));
}

void api_ratelimit_auth_failed(nova_req_t *r, nova_api_t *api, const char *client_id)
{
    const char *ip = peer(r);
    int64_t c;
    /* Best effort: the request is refused anyway; an unreachable control plane shows on the
     * next request's check. */
    if (api->limits.auth_failures_ip)
        (void)nova_kv_incr(api->kv, key_of(r, RL_AUTH_IP, ip, NULL), 1,
                           (uint64_t)api->limits.auth_window_s * 1000, &c, NULL);
    if (api->limits.auth_failures_client && client_id != NULL)
        (void)nova_kv_incr(api->kv, key_of(r, RL_AUTH_CLIENT, ip, client_id), 1,
                           (uint64_t)api->limits.auth_window_s * 1000, &c, NULL);
}

nova_status api_ratelimit_metrics(nova_api_t *api, nova_buf_t *out)
{
    nova_status st = nova_buf_append_cstr(
        out, "# HELP nova_ratelimit_hits_total Requests refused 429 by a rate limit.\n"
             "# TYPE nova_ratelimit_hits_total counter\n");
    for (int k = 0; st == NOVA_OK && k < RL_COUNT; k++)
        st = nova_buf_printf(out, "nova_ratelimit_hits_total{limit=\"%s\"} %" PRIu64 "\n",
                             rl[k].name, atomic_load_explicit(&hits[k], memory_order_relaxed));
    nova_kv_stats_t s;
    nova_kv_stats(api->kv, &s);
    if (st == NOVA_OK)
        st = nova_buf_printf(
            out,
            "# HELP nova_kv_unavailable_refusals_total Requests refused 503 because the control "
            "plane could not be reached.\n"
            "# TYPE nova_kv_unavailable_refusals_total counter\n"
            "nova_kv_unavailable_refusals_total %" PRIu64 "\n"
            "# HELP nova_kv_errors_total Control-plane calls that failed to reach the backend.\n"
            "# TYPE nova_kv_errors_total counter\n"
            "nova_kv_errors_total{driver=\"%s\"} %" PRIu64 "\n"
            "# HELP nova_kv_reconnects_total Control-plane connections reopened after a "
            "failure.\n"
            "# TYPE nova_kv_reconnects_total counter\n"
            "nova_kv_reconnects_total{driver=\"%s\"} %" PRIu64 "\n"
            "# HELP nova_kv_flags_age_seconds Age of this instance's copy of the flags.\n"
            "# TYPE nova_kv_flags_age_seconds gauge\n"
            "nova_kv_flags_age_seconds %.3f\n",
            atomic_load_explicit(&unavailable, memory_order_relaxed), nova_kv_driver(api->kv),
            s.errors, nova_kv_driver(api->kv), s.reconnects,
            s.flags_age_ms < 0 ? -1.0 : (double)s.flags_age_ms / 1000.0);
    return st;
}
