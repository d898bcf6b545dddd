/* internal.h: what the files of src/events share (not for other modules). */
#ifndef NOVA_EVENTS_INTERNAL_H
#define NOVA_EVENTS_INTERNAL_H

#include "nova/events.h"
#include "nova/notify.h"

/* The region the data keys are kept in ("default" when cfg has none). */
const char *events_region(const nova_events_cfg_t *cfg);
/* Seals text with the tenant's data key under ctx; out gets nova_sealed_encode's bytes. */
nova_status events_seal(const nova_events_cfg_t *cfg, nova_store_t *s, nova_arena_t *a,
                        const char *tenant, const char *ctx, const char *text, nova_buf_t *out);
/* Opens a sealed column into a NUL-terminated malloc'd copy; the caller wipes and frees it
 * with events_wipe. */
nova_status events_open(const nova_events_cfg_t *cfg, nova_store_t *s, const char *tenant,
                        const char *ctx, const uint8_t *blob, size_t len, char **out);
void events_wipe(char *p);

/* Reads "events" (a list of 1..16 known event types) into a space-separated, deduplicated
 * arena string: NOVA_INVALID with pb naming "events". */
nova_status events_types_parse(nova_arena_t *a, json_t *list, const char **out,
                               nova_events_problem_t *pb);
/* The JSON list of a space-separated types string (new reference). */
json_t *events_types_json(const char *types);

/* What one delivery attempt came to, for the dispatcher's log and state. */
typedef struct events_outcome {
    bool ok;     /* delivered (a 2xx from a webhook, a message the server or provider took) */
    long status; /* HTTP status, or the SMTP reply code */
    uint64_t duration_us;
    char error[160];
    char result[1024]; /* an SMS's ten recipients fit: masked number, tag, code, status each */
    bool final;        /* no point in retrying */
} events_outcome_t;

/* The tag that names an SMS recipient in the delivery log: 16 hex digits of SHA-256 over the
 * platform key's signature (Ed25519, deterministic, under the master key) of
 * "nova.sms.recipient", the tenant and the number. The same number has the same tag in every
 * attempt and every novad of the deployment; without the master key nobody can tell which
 * number a tag stands for (a plain digest of a phone number is reversed by trying them all). */
#define EVENTS_TAG_LEN 16
nova_status events_recipient_tag(const nova_events_cfg_t *cfg, const char *tenant,
                                 const char *number, char out[EVENTS_TAG_LEN + 1]);

/* What the delivery log says of each of n recipients (by tag) of an SMS delivery: reads the
 * results of the attempts in at (nat of them) of delivery_id numbered above from_attempt (the
 * current round: a replay starts a new one), whose items are "<masked>#<tag>=<code>[:status]",
 * codes read as provider's (nova_notify_sms_verdict). settled[i]: recipient i needs no more
 * sending (the provider accepted it, refused it for a reason that will not pass, or took it
 * without saying); accepted[i]: it was accepted; unknown[i]: its outcome is unknown. Pure. */
void events_sms_settled(nova_sms_provider_t provider, const char *const *tags, size_t n,
                        const nova_attempt_row_t *at, size_t nat, const char *delivery_id,
                        int64_t from_attempt, bool *settled, bool *accepted, bool *unknown);
/* Appends nova_sms_recipients_total{provider,outcome} (Prometheus text). */
nova_status events_sms_metrics(nova_buf_t *out);
/* Appends nova_sms_status_callbacks_total{provider,status} and
 * nova_sms_status_callback_refusals_total{provider,reason} (sms_status.c). */
nova_status events_sms_status_metrics(nova_buf_t *out);

/* One attempt of SMS delivery d: m as the channel would send it (every recipient), sent to
 * those of its recipients the delivery log of this round does not show settled
 * (events_sms_settled); o->result names each one sent to with its tag and the provider's
 * code. Delivered (o->ok) once every recipient is settled and one accepted it; failed for
 * good when every one settled without one accepted (refused for good, or unknown); else
 * retried. */
void events_sms_send(const nova_events_cfg_t *cfg, nova_store_t *s, nova_arena_t *a,
                     const nova_delivery_row_t *d, const nova_notify_sms_t *m, events_outcome_t *o);

/* Sends event ev once through the notification channel of delivery d (email or SMS). */
void events_channel_send(const nova_events_cfg_t *cfg, nova_store_t *s, nova_arena_t *a,
                         const nova_delivery_row_t *d, const nova_event_row_t *ev,
                         events_outcome_t *o);

#endif
