/* internal.h: what the files of src/events share (not for other modules). */
#ifndef NOVA_EVENTS_INTERNAL_H
#define NOVA_EVENTS_INTERNAL_H

#include "nova/events.h"

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
    char result[512];
    bool final; /* no point in retrying */
} events_outcome_t;

/* Sends event ev once through the notification channel of delivery d (email or SMS). */
void events_channel_send(const nova_events_cfg_t *cfg, nova_store_t *s, nova_arena_t *a,
                         const nova_delivery_row_t *d, const nova_event_row_t *ev,
                         events_outcome_t *o);

#endif
