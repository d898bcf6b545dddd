/*
 * dispatch.c: the outbox dispatcher (nova/events.h). One pass claims due deliveries of every
 * tenant with a lease (so several novads on one PostgreSQL never send the same attempt twice),
 * sends each once and records the attempt: delivered on a 2xx, else pending again after a
 * backoff with jitter, or failed once its attempts are spent. An event's webhook-id stays the
 * same across attempts and replays (receivers deduplicate on it); webhook-timestamp is the
 * attempt's. The log line and the delivery log name ids, status, duration and the error,
 * never the body, a secret or a key.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "internal.h"
#include "nova/log.h"
#include "nova/webhook.h"

#define CLAIM_BATCH 16

/* Delivery metrics (nova_events_metrics), per channel: attempts by outcome, attempts that
 * did not deliver, and the time an attempt took (the send, not the store's record). */
enum { OUT_DELIVERED, OUT_RETRY, OUT_FAILED, OUT_N };
static const char *const outcome_names[OUT_N] = {"delivered", "retry", "failed"};
enum { CH_WEBHOOK, CH_EMAIL, CH_SMS, CH_N };
static const char *const channel_names[CH_N] = {"webhook", "email", "sms"};
static const double buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))
static struct {
    _Atomic uint64_t outcomes[OUT_N];
    _Atomic uint64_t failures;
    _Atomic uint64_t buckets[NBUCKETS + 1]; /* the last: above the largest bound */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us;
} M[CH_N];

/* The metrics slot of a delivery's channel (the column's CHECK allows no other). */
static int channel_index(const char *channel)
{
    for (int i = 0; i < CH_N; i++)
        if (channel && strcmp(channel, channel_names[i]) == 0)
            return i;
    return -1;
}

static void count_attempt(const char *channel, int outcome, uint64_t duration_us)
{
    int c = channel_index(channel);
    if (c < 0)
        return;
    atomic_fetch_add(&M[c].outcomes[outcome], 1);
    if (outcome != OUT_DELIVERED)
        atomic_fetch_add(&M[c].failures, 1);
    size_t b = 0;
    while (b < NBUCKETS && (double)duration_us / 1e6 > buckets[b])
        b++;
    atomic_fetch_add(&M[c].buckets[b], 1);
    atomic_fetch_add(&M[c].count, 1);
    atomic_fetch_add(&M[c].sum_us, duration_us);
}

nova_status nova_events_metrics(nova_buf_t *out)
{
    nova_status st = nova_buf_append_cstr(
        out, "# HELP nova_webhook_attempts_total Delivery attempts made by this process, by "
             "channel (webhook, email, sms) and outcome (retry: failed, another attempt is "
             "scheduled).\n"
             "# TYPE nova_webhook_attempts_total counter\n");
    for (int c = 0; c < CH_N; c++)
        for (int i = 0; st == NOVA_OK && i < OUT_N; i++)
            st = nova_buf_printf(
                out, "nova_webhook_attempts_total{channel=\"%s\",outcome=\"%s\"} %llu\n",
                channel_names[c], outcome_names[i],
                (unsigned long long)atomic_load(&M[c].outcomes[i]));
    if (st == NOVA_OK)
        st = nova_buf_append_cstr(
            out, "# HELP nova_webhook_failures_total Delivery attempts that did not deliver "
                 "(retried or given up), by channel.\n"
                 "# TYPE nova_webhook_failures_total counter\n");
    for (int c = 0; st == NOVA_OK && c < CH_N; c++)
        st = nova_buf_printf(out, "nova_webhook_failures_total{channel=\"%s\"} %llu\n",
                             channel_names[c], (unsigned long long)atomic_load(&M[c].failures));
    if (st == NOVA_OK)
        st = nova_buf_append_cstr(
            out, "# HELP nova_webhook_attempt_duration_seconds Time one delivery attempt took "
                 "(connect, TLS, request, reply), by channel.\n"
                 "# TYPE nova_webhook_attempt_duration_seconds histogram\n");
    for (int c = 0; st == NOVA_OK && c < CH_N; c++) {
        uint64_t cum = 0;
        for (size_t b = 0; st == NOVA_OK && b <= NBUCKETS; b++) {
            cum += atomic_load(&M[c].buckets[b]);
            if (b < NBUCKETS)
                st = nova_buf_printf(
                    out,
                    "nova_webhook_attempt_duration_seconds_bucket{channel=\"%s\",le=\"%g\"} %llu\n",
                    channel_names[c], buckets[b], (unsigned long long)cum);
            else
                st = nova_buf_printf(out,
                                     "nova_webhook_attempt_duration_seconds_bucket{channel=\"%s\","
                                     "le=\"+Inf\"} %llu\n",
                                     channel_names[c], (unsigned long long)cum);
        }
        if (st == NOVA_OK)
            st = nova_buf_printf(
                out,
                "nova_webhook_attempt_duration_seconds_sum{channel=\"%s\"} %.6f\n"
                "nova_webhook_attempt_duration_seconds_count{channel=\"%s\"} %llu\n",
                channel_names[c], (double)atomic_load(&M[c].sum_us) / 1e6, channel_names[c],
                (unsigned long long)atomic_load(&M[c].count));
    }
    if (st == NOVA_OK)
        st = events_sms_metrics(out);
    return st == NOVA_OK ? events_sms_status_metrics(out) : st;
}
#define CLAIM_ROUNDS 8

nova_status nova_endpoint_post(const nova_events_cfg_t *cfg, nova_store_t *s,
                               const nova_webhook_endpoint_row_t *ep, const char *url,
                               const char *msg_id, const char *body, unsigned timeout_ms,
                               size_t max_reply, nova_webhook_response_t *rs)
{
    memset(rs, 0, sizeof(*rs));
    nova_buf_init(&rs->body);
    char *secrets_text = NULL, *key = NULL;
    nova_status st = events_open(cfg, s, ep->tenant_id, NOVA_EVENT_CTX_SECRETS, ep->secrets,
                                 ep->secrets_len, &secrets_text);
    if (st == NOVA_OK)
        st = events_open(cfg, s, ep->tenant_id, NOVA_EVENT_CTX_CLIENT_KEY, ep->client_key,
                         ep->client_key_len, &key);
    json_t *secrets = st == NOVA_OK ? json_loads(secrets_text, 0, NULL) : NULL;
    const char *list[4];
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(secrets) && n < 4; i++)
        if (json_is_string(json_array_get(secrets, i)))
            list[n++] = json_string_value(json_array_get(secrets, i));
    if (st == NOVA_OK && n == 0)
        st = NOVA_INTERNAL;
    int64_t ts = nova_time_now();
    nova_buf_t sig, h;
    nova_buf_init(&sig);
    nova_buf_init(&h);
    if (st == NOVA_OK)
        st = nova_webhook_sign(list, n, msg_id, ts, body, strlen(body), &sig);
    /* Three header lines in one buffer, NUL-separated. */
    size_t o_id = 0, o_ts = 0, o_sig = 0;
    if (st == NOVA_OK)
        st = nova_buf_printf(&h, "webhook-id: %s", msg_id);
    if (st == NOVA_OK)
        st = nova_buf_append(&h, "", 1);
    o_ts = h.len;
    if (st == NOVA_OK)
        st = nova_buf_printf(&h, "webhook-timestamp: %lld", (long long)ts);
    if (st == NOVA_OK)
        st = nova_buf_append(&h, "", 1);
    o_sig = h.len;
    if (st == NOVA_OK)
        st = nova_buf_printf(&h, "webhook-signature: %.*s", (int)sig.len, sig.data);
    if (st == NOVA_OK)
        st = nova_buf_append(&h, "", 1);
    if (st != NOVA_OK) {
        snprintf(rs->error, sizeof(rs->error), "could not open the endpoint's secrets or sign: %s",
                 nova_status_name(st));
    } else {
        const char *headers[] = {"Content-Type: application/json", h.data + o_id, h.data + o_ts,
                                 h.data + o_sig};
        nova_webhook_tls_t tls = {ep->client_cert, key, ep->ca, ep->pin};
        nova_webhook_request_t rq = {url ? url : ep->url, headers, 4,          body,
                                     strlen(body),        &tls,    timeout_ms, max_reply};
        st = nova_webhook_post(&rq, rs);
    }
    nova_buf_free(&sig);
    nova_buf_free(&h);
    json_decref(secrets);
    events_wipe(secrets_text);
    events_wipe(key);
    return st;
}

nova_status nova_endpoint_default(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                  nova_webhook_endpoint_row_t *out)
{
    nova_webhook_endpoint_row_t *rows = NULL;
    size_t n = 0;
    nova_status st = nova_store_webhook_endpoint_list(s, a, tenant_id, &rows, &n);
    for (size_t i = 0; st == NOVA_OK && i < n; i++)
        if (rows[i].enabled) {
            *out = rows[i];
            return NOVA_OK;
        }
    return st == NOVA_OK ? NOVA_NOT_FOUND : st;
}

/* Sends delivery d of event ev once. */
static void send_one(const nova_events_cfg_t *cfg, nova_store_t *s, nova_arena_t *a,
                     const nova_delivery_row_t *d, const nova_event_row_t *ev, events_outcome_t *o)
{
    memset(o, 0, sizeof(*o));
    if (strcmp(d->channel, "webhook") != 0) {
        events_channel_send(cfg, s, a, d, ev, o);
        return;
    }
    if (*d->endpoint_id == '\0') {
        snprintf(o->error, sizeof(o->error),
                 "no endpoint to sign and connect with (create one: the callback_url uses the "
                 "oldest endpoint's secret and TLS material)");
        o->final = true;
        return;
    }
    nova_webhook_endpoint_row_t ep;
    nova_status st = nova_store_webhook_endpoint_get(s, a, d->tenant_id, d->endpoint_id, &ep);
    if (st != NOVA_OK) {
        snprintf(o->error, sizeof(o->error), "endpoint unreadable: %s", nova_status_name(st));
        o->final = st == NOVA_NOT_FOUND;
        return;
    }
    if (!ep.enabled) {
        snprintf(o->error, sizeof(o->error), "the endpoint is disabled");
        o->final = true;
        return;
    }
    nova_webhook_response_t rs;
    st = nova_endpoint_post(cfg, s, &ep, d->url, ev->id, ev->payload, NOVA_EVENT_TIMEOUT_MS,
                            NOVA_EVENT_REPLY_MAX, &rs);
    o->status = rs.status;
    o->duration_us = rs.duration_us;
    memcpy(o->error, rs.error, sizeof(o->error));
    o->final = st == NOVA_INVALID || st == NOVA_FORBIDDEN;
    nova_buf_free(&rs.body);
    o->ok = st == NOVA_OK && rs.status >= 200 && rs.status <= 299;
    if (st == NOVA_OK && !o->ok)
        snprintf(o->error, sizeof(o->error), "HTTP status %ld", rs.status);
}

static void deliver(const nova_events_cfg_t *cfg, nova_store_t *s, const nova_delivery_row_t *d,
                    const char *owner)
{
    nova_arena_t a;
    nova_arena_init(&a, 8192);
    nova_event_row_t ev;
    events_outcome_t o;
    nova_status st = nova_store_event_get(s, &a, d->tenant_id, d->event_id, &ev);
    if (st == NOVA_OK) {
        send_one(cfg, s, &a, d, &ev, &o);
    } else {
        memset(&o, 0, sizeof(o));
        snprintf(o.error, sizeof(o.error), "event unreadable: %s", nova_status_name(st));
    }
    int64_t now = nova_time_now();
    int64_t attempt = d->attempts + 1;
    bool ok = o.ok;
    const char *state = ok ? "delivered" : "pending";
    int64_t next_at = now;
    if (!ok && (o.final || attempt >= d->max_attempts)) {
        state = "failed";
    } else if (!ok) {
        uint32_t r = 0;
        nova_random_bytes(&r, sizeof(r));
        next_at = now + nova_event_backoff(attempt, (double)r / 4294967296.0);
    }
    nova_attempt_row_t at = {d->id,   attempt, o.status, (int64_t)(o.duration_us / 1000),
                             o.error, now,     o.result};
    st = nova_store_delivery_record(s, d->tenant_id, owner, &at, state, next_at);
    if (st == NOVA_OK)
        count_attempt(d->channel,
                      ok              ? OUT_DELIVERED
                      : *state == 'f' ? OUT_FAILED
                                      : OUT_RETRY,
                      o.duration_us);
    nova_log(ok ? NOVA_LOG_INFO : NOVA_LOG_WARN,
             "%s delivery %s attempt %lld: status %ld in %llu ms, %s%s%s", d->channel, d->id,
             (long long)attempt, o.status, (unsigned long long)(o.duration_us / 1000), state,
             *o.error ? ": " : "", o.error);
    if (st != NOVA_OK)
        nova_log(NOVA_LOG_WARN, "webhook delivery %s: attempt not recorded (%s)", d->id,
                 nova_status_name(st));
    nova_arena_free(&a);
}

nova_status nova_events_dispatch(const nova_events_cfg_t *cfg)
{
    nova_store_t *s = NULL;
    nova_status st = nova_store_thread(cfg->database_url, &s);
    if (st != NOVA_OK)
        return st;
    char owner[64];
    st = nova_id_seq("lease", owner, sizeof(owner));
    if (st != NOVA_OK)
        return st;
    /* Retention: once an hour per process (any process may; the statement is idempotent). */
    static _Atomic int64_t last_prune;
    int64_t t = nova_time_now(), was = atomic_load(&last_prune);
    if (t - was >= 3600 && atomic_compare_exchange_strong(&last_prune, &was, t)) {
        int64_t pruned = 0;
        nova_status ps = nova_store_event_prune(s, t - NOVA_EVENT_RETENTION_S, &pruned);
        if (ps != NOVA_OK)
            nova_log(NOVA_LOG_WARN, "webhook outbox prune: %s", nova_status_name(ps));
        else if (pruned > 0)
            nova_log(NOVA_LOG_INFO, "webhook outbox prune: %lld events", (long long)pruned);
    }
    for (int round = 0; round < CLAIM_ROUNDS; round++) {
        nova_arena_t a;
        nova_arena_init(&a, 8192);
        nova_delivery_row_t *rows = NULL;
        size_t n = 0;
        int64_t now = nova_time_now(), lease_until = now + NOVA_EVENT_LEASE_S;
        st = nova_store_delivery_claim(s, &a, now, lease_until, owner, CLAIM_BATCH, &rows, &n);
        /* Slow receivers can eat the lease: a row is sent only while a whole attempt still fits
         * in it, so no other process can have claimed it meanwhile (the rest wait for their
         * lease to run out and go to whoever claims them then). */
        size_t sent = 0;
        for (; st == NOVA_OK && sent < n; sent++) {
            if (nova_time_now() + NOVA_EVENT_TIMEOUT_MS / 1000 + 5 >= lease_until)
                break;
            deliver(cfg, s, &rows[sent], owner);
        }
        nova_arena_free(&a);
        if (st != NOVA_OK || n < CLAIM_BATCH || sent < n)
            break;
    }
    return st;
}
