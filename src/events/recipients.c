/*
 * recipients.c: an SMS delivery recipient by recipient (internal.h). Africa's Talking answers
 * one request with a status per recipient, and Twilio takes one request per recipient, so one
 * attempt may reach some numbers and not others. Each attempt's `result` in the delivery log names
 * every recipient it sent to by a tag (never the number: "+254*******01#<tag>=101:Success"), and
 * the next attempt reads the log of its round first: a recipient the provider accepted is never
 * sent to again (nobody gets the message twice), nor one it refused for a reason that will not pass
 * (an invalid number, a blacklist); the others (insufficient balance, a gateway error, no line for
 * it in the reply) are sent to again after the backoff, alone. A replay starts a new round, which
 * sends to everyone again: that is what a replay asks for.
 *
 * A recipient whose outcome is unknown (NOVA_NOTIFY_SMS_UNKNOWN, "=-1:Unknown": the provider
 * took the request and its reply, if any, did not say) is settled but not accepted: sending
 * again could give it the message twice, and a message that may have arrived is not worth
 * that risk. It is counted (nova_sms_recipients_total{outcome="unknown"}), logged as a
 * warning (the delivery and how many, never a number) and named in the delivery's error;
 * a delivery whose recipients all settled with none accepted and some unknown is failed,
 * with that error, and a replay sends to every recipient again.
 *
 * Codes are read with the channel's provider (nova_notify_sms_verdict): Africa's Talking's
 * statusCode, or the HTTP status of Twilio's reply. A channel's provider cannot change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdatomic.h>

#include "internal.h"
#include "nova/crypto.h"
#include "nova/log.h"
#include "nova/notify.h"

/* nova_sms_recipients_total{provider,outcome}: recipient lines written to the delivery log. */
enum { RC_ACCEPTED, RC_REFUSED, RC_RETRY, RC_UNKNOWN, RC_N };
static const char *const rc_names[RC_N] = {"accepted", "refused", "retry", "unknown"};
static const char *const provider_names[] = {"africastalking", "twilio"};
static _Atomic uint64_t rc_count[2][RC_N];

nova_status events_sms_metrics(nova_buf_t *out)
{
    nova_status st = nova_buf_append_cstr(
        out, "# HELP nova_sms_recipients_total SMS recipients as each delivery attempt of this "
             "process left them, by provider and outcome (retry: sent to again later; unknown: "
             "the provider took the request without saying, not sent to again).\n"
             "# TYPE nova_sms_recipients_total counter\n");
    for (int p = 0; p < 2; p++)
        for (int o = 0; st == NOVA_OK && o < RC_N; o++)
            st = nova_buf_printf(
                out, "nova_sms_recipients_total{provider=\"%s\",outcome=\"%s\"} %llu\n",
                provider_names[p], rc_names[o], (unsigned long long)atomic_load(&rc_count[p][o]));
    return st;
}

nova_status events_recipient_tag(const nova_events_cfg_t *cfg, const char *tenant,
                                 const char *number, char out[EVENTS_TAG_LEN + 1])
{
    static const char label[] = "nova.sms.recipient";
    char msg[256];
    int n = snprintf(msg, sizeof(msg), "%s%c%s%c%s", label, 0, tenant ? tenant : "", 0,
                     number ? number : "");
    if (n < 0 || (size_t)n >= sizeof(msg) || cfg == NULL || cfg->auth == NULL)
        return NOVA_INVALID;
    uint8_t sig[64], digest[32];
    nova_status st = nova_auth_platform_sign(cfg->auth, msg, (size_t)n, sig);
    if (st != NOVA_OK)
        return st;
    nova_sha256(sig, sizeof(sig), digest);
    nova_hex_encode(digest, EVENTS_TAG_LEN / 2, out);
    return NOVA_OK;
}

/* Reads the items of one attempt's result into settled/accepted/unknown. */
static void read_result(nova_sms_provider_t provider, const char *result, const char *const *tags,
                        size_t n, bool *settled, bool *accepted, bool *unknown)
{
    for (const char *p = result ? strchr(result, '#') : NULL; p; p = strchr(p + 1, '#')) {
        const char *tag = p + 1;
        if (strlen(tag) < EVENTS_TAG_LEN + 2 || tag[EVENTS_TAG_LEN] != '=')
            continue;
        char *end = NULL;
        long code = strtol(tag + EVENTS_TAG_LEN + 1, &end, 10);
        if (end == tag + EVENTS_TAG_LEN + 1)
            continue;
        nova_sms_verdict_t v = nova_notify_sms_verdict(provider, code);
        for (size_t i = 0; i < n; i++)
            if (strncmp(tags[i], tag, EVENTS_TAG_LEN) == 0) {
                settled[i] = settled[i] || v != NOVA_SMS_TRANSIENT;
                accepted[i] = accepted[i] || v == NOVA_SMS_ACCEPTED;
                unknown[i] = unknown[i] || v == NOVA_SMS_UNKNOWN;
            }
    }
}

void events_sms_settled(nova_sms_provider_t provider, const char *const *tags, size_t n,
                        const nova_attempt_row_t *at, size_t nat, const char *delivery_id,
                        int64_t from_attempt, bool *settled, bool *accepted, bool *unknown)
{
    for (size_t i = 0; i < n; i++)
        settled[i] = accepted[i] = unknown[i] = false;
    for (size_t k = 0; k < nat; k++)
        if (at[k].delivery_id && strcmp(at[k].delivery_id, delivery_id) == 0 &&
            at[k].attempt > from_attempt)
            read_result(provider, at[k].result, tags, n, settled, accepted, unknown);
}

/* The digits of a number, for a reply that writes it without the '+'. */
static bool same_number(const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return true;
    while (*a || *b) {
        while (*a == '+' || *a == ' ')
            a++;
        while (*b == '+' || *b == ' ')
            b++;
        if (*a != *b)
            return false;
        if (*a) {
            a++;
            b++;
        }
    }
    return true;
}

void events_sms_send(const nova_events_cfg_t *cfg, nova_store_t *s, nova_arena_t *a,
                     const nova_delivery_row_t *d, const nova_notify_sms_t *base,
                     events_outcome_t *o)
{
    size_t nto = base->nto;
    char tags[NOVA_NOTIFY_RECIPIENTS_MAX][EVENTS_TAG_LEN + 1];
    const char *tagp[NOVA_NOTIFY_RECIPIENTS_MAX];
    bool settled[NOVA_NOTIFY_RECIPIENTS_MAX], accepted[NOVA_NOTIFY_RECIPIENTS_MAX],
        unknown[NOVA_NOTIFY_RECIPIENTS_MAX];
    nova_sms_provider_t provider =
        base->provider == NOVA_SMS_TWILIO ? NOVA_SMS_TWILIO : NOVA_SMS_AFRICASTALKING;
    nova_status st = nto > 0 && nto <= NOVA_NOTIFY_RECIPIENTS_MAX ? NOVA_OK : NOVA_INVALID;
    for (size_t i = 0; st == NOVA_OK && i < nto; i++) {
        st = events_recipient_tag(cfg, d->tenant_id, base->to[i], tags[i]);
        tagp[i] = tags[i];
    }
    if (st != NOVA_OK) {
        snprintf(o->error, sizeof(o->error), "the channel's recipients cannot be named: %s",
                 nova_status_name(st));
        o->final = st == NOVA_INVALID;
        return;
    }
    nova_attempt_row_t *at = NULL;
    size_t nat = 0;
    if (d->attempts > 0)
        st = nova_store_attempt_list(s, a, d->tenant_id, d->event_id, &at, &nat);
    if (st != NOVA_OK) {
        snprintf(o->error, sizeof(o->error), "the delivery log is unreadable: %s",
                 nova_status_name(st));
        return;
    }
    /* A replay grants NOVA_EVENT_MAX_ATTEMPTS more attempts and starts a new round. */
    int64_t round = d->max_attempts - NOVA_EVENT_MAX_ATTEMPTS;
    events_sms_settled(provider, tagp, nto, at, nat, d->id, round < 0 ? 0 : round, settled,
                       accepted, unknown);
    const char *to[NOVA_NOTIFY_RECIPIENTS_MAX];
    size_t idx[NOVA_NOTIFY_RECIPIENTS_MAX], ns = 0;
    for (size_t i = 0; i < nto; i++)
        if (!settled[i]) {
            to[ns] = base->to[i];
            idx[ns++] = i;
        }
    if (ns > 0) {
        nova_notify_sms_t m = *base;
        m.to = to;
        m.nto = ns;
        nova_notify_result_t r;
        st = nova_notify_sms_send(&m, &r);
        o->status = r.status;
        o->duration_us = r.duration_us;
        if (r.nrecipients == 0) {
            /* Nothing is known of any recipient: the whole send failed. */
            memcpy(o->error, r.error, sizeof(o->error));
            memcpy(o->result, r.result, sizeof(o->result));
            o->final = !r.retry;
            return;
        }
        size_t off = 0, now_unknown = 0, nmsg = 0;
        nova_sms_message_row_t msgs[NOVA_NOTIFY_RECIPIENTS_MAX];
        int64_t now = nova_time_now();
        for (size_t k = 0; k < ns; k++) {
            const nova_sms_recipient_t *line = NULL;
            for (size_t j = 0; j < r.nrecipients && line == NULL; j++)
                if (same_number(r.recipients[j].number, to[k]))
                    line = &r.recipients[j];
            long code = line ? line->status_code : 0;
            size_t i = idx[k];
            nova_sms_verdict_t v = nova_notify_sms_verdict(provider, code);
            settled[i] = v != NOVA_SMS_TRANSIENT;
            accepted[i] = v == NOVA_SMS_ACCEPTED;
            unknown[i] = v == NOVA_SMS_UNKNOWN;
            now_unknown += unknown[i];
            int slot = v == NOVA_SMS_ACCEPTED  ? RC_ACCEPTED
                       : v == NOVA_SMS_REFUSED ? RC_REFUSED
                       : v == NOVA_SMS_UNKNOWN ? RC_UNKNOWN
                                               : RC_RETRY;
            atomic_fetch_add(&rc_count[provider][slot], 1);
            /* The message Twilio created: its status callbacks find it by this SID (one not
             * of Twilio's shape could never be named by a callback, so is not kept). */
            if (line && v == NOVA_SMS_ACCEPTED &&
                (nova_notify_twilio_sid_valid(line->sid, "SM") ||
                 nova_notify_twilio_sid_valid(line->sid, "MM")))
                msgs[nmsg++] =
                    (nova_sms_message_row_t){d->tenant_id,
                                             nova_arena_strdup(a, line->sid),
                                             d->channel_id,
                                             d->event_id,
                                             d->id,
                                             nova_arena_strdup(a, tags[i]),
                                             nova_arena_strdup(a, line->status),
                                             nova_notify_twilio_status_rank(line->status),
                                             0,
                                             now,
                                             now};
            char masked[NOVA_NOTIFY_MASK_MAX];
            nova_notify_phone_mask(to[k], masked);
            int w = snprintf(o->result + off, sizeof(o->result) - off, "%s%s#%s=%ld:%s",
                             k ? " " : "", masked, tags[i], code,
                             line ? (*line->status ? line->status : "-") : "NotListed");
            if (w > 0 && (size_t)w < sizeof(o->result) - off)
                off += (size_t)w;
        }
        /* Best effort: the messages went out whatever the store says; a callback for one not
         * recorded is answered 404 (unknown_message) and the delivery log still shows it. */
        nova_status ms = nova_store_sms_message_insert(s, msgs, nmsg);
        if (ms != NOVA_OK)
            nova_log(NOVA_LOG_WARN, "sms delivery %s: %zu Twilio message ids not recorded: %s",
                     d->id, nmsg, nova_status_name(ms));
        if (now_unknown > 0)
            nova_log(NOVA_LOG_WARN,
                     "sms delivery %s: the provider took the request, outcome unknown for %zu "
                     "recipients (not sent to again; a replay would)",
                     d->id, now_unknown);
    }
    size_t nsettled = 0, naccepted = 0, nunknown = 0;
    for (size_t i = 0; i < nto; i++) {
        nsettled += settled[i];
        naccepted += accepted[i];
        nunknown += unknown[i];
    }
    char unk[32] = "";
    if (nunknown > 0)
        snprintf(unk, sizeof(unk), ", %zu unknown", nunknown);
    if (nsettled < nto) {
        snprintf(o->error, sizeof(o->error),
                 "%zu of %zu recipients accepted, %zu refused for now (sent to again later)%s",
                 naccepted, nto, nto - nsettled, unk);
    } else if (naccepted == 0 && nunknown > 0) {
        snprintf(o->error, sizeof(o->error),
                 "outcome unknown for %zu of %zu recipients (the provider took the request "
                 "without saying; not sent to again, a replay would)",
                 nunknown, nto);
        o->final = true;
    } else if (naccepted == 0) {
        snprintf(o->error, sizeof(o->error), "every recipient refused (%zu)", nto);
        o->final = true;
    } else {
        o->ok = true;
        if (naccepted < nto)
            snprintf(o->error, sizeof(o->error), "%zu of %zu recipients refused%s",
                     nto - naccepted - nunknown, nto, unk);
    }
}
