/*
 * recipients.c: an SMS delivery recipient by recipient (internal.h). Africa's Talking answers
 * one request with a status per recipient, so one attempt may reach some numbers and not
 * others. Each attempt's `result` in the delivery log names every recipient it sent to by a
 * tag (never the number: "+254*******01#<tag>=101:Success"), and the next attempt reads the
 * log of its round first: a recipient the provider accepted is never sent to again (nobody
 * gets the message twice), nor one it refused for a reason that will not pass (an invalid
 * number, a blacklist); the others (insufficient balance, a gateway error, no line for it in
 * the reply) are sent to again after the backoff, alone. A replay starts a new round, which
 * sends to everyone again: that is what a replay asks for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nova/crypto.h"
#include "nova/notify.h"

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

/* Reads the items of one attempt's result into settled/accepted. */
static void read_result(const char *result, const char *const *tags, size_t n, bool *settled,
                        bool *accepted)
{
    for (const char *p = result ? strchr(result, '#') : NULL; p; p = strchr(p + 1, '#')) {
        const char *tag = p + 1;
        if (strlen(tag) < EVENTS_TAG_LEN + 2 || tag[EVENTS_TAG_LEN] != '=')
            continue;
        char *end = NULL;
        long code = strtol(tag + EVENTS_TAG_LEN + 1, &end, 10);
        if (end == tag + EVENTS_TAG_LEN + 1)
            continue;
        bool ok = nova_notify_at_accepted(code);
        bool final = ok || (code > 0 && !nova_notify_at_transient(code));
        for (size_t i = 0; i < n; i++)
            if (strncmp(tags[i], tag, EVENTS_TAG_LEN) == 0) {
                settled[i] = settled[i] || final;
                accepted[i] = accepted[i] || ok;
            }
    }
}

void events_sms_settled(const char *const *tags, size_t n, const nova_attempt_row_t *at, size_t nat,
                        const char *delivery_id, int64_t from_attempt, bool *settled,
                        bool *accepted)
{
    for (size_t i = 0; i < n; i++)
        settled[i] = accepted[i] = false;
    for (size_t k = 0; k < nat; k++)
        if (at[k].delivery_id && strcmp(at[k].delivery_id, delivery_id) == 0 &&
            at[k].attempt > from_attempt)
            read_result(at[k].result, tags, n, settled, accepted);
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
    bool settled[NOVA_NOTIFY_RECIPIENTS_MAX], accepted[NOVA_NOTIFY_RECIPIENTS_MAX];
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
    events_sms_settled(tagp, nto, at, nat, d->id, round < 0 ? 0 : round, settled, accepted);
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
        size_t off = 0;
        for (size_t k = 0; k < ns; k++) {
            const nova_at_recipient_t *line = NULL;
            for (size_t j = 0; j < r.nrecipients && line == NULL; j++)
                if (same_number(r.recipients[j].number, to[k]))
                    line = &r.recipients[j];
            long code = line ? line->status_code : 0;
            size_t i = idx[k];
            if (nova_notify_at_accepted(code))
                settled[i] = accepted[i] = true;
            else if (code > 0 && !nova_notify_at_transient(code))
                settled[i] = true;
            char masked[NOVA_NOTIFY_MASK_MAX];
            nova_notify_phone_mask(to[k], masked);
            int w = snprintf(o->result + off, sizeof(o->result) - off, "%s%s#%s=%ld:%s",
                             k ? " " : "", masked, tags[i], code,
                             line ? (*line->status ? line->status : "-") : "NotListed");
            if (w > 0 && (size_t)w < sizeof(o->result) - off)
                off += (size_t)w;
        }
    }
    size_t nsettled = 0, naccepted = 0;
    for (size_t i = 0; i < nto; i++) {
        nsettled += settled[i];
        naccepted += accepted[i];
    }
    if (nsettled < nto) {
        snprintf(o->error, sizeof(o->error),
                 "%zu of %zu recipients accepted, %zu refused for now (sent to again later)",
                 naccepted, nto, nto - nsettled);
    } else if (naccepted == 0) {
        snprintf(o->error, sizeof(o->error), "every recipient refused (%zu)", nto);
        o->final = true;
    } else {
        o->ok = true;
        if (naccepted < nto)
            snprintf(o->error, sizeof(o->error), "%zu of %zu recipients refused", nto - naccepted,
                     nto);
    }
}
