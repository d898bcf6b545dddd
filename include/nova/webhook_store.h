/*
 * webhook_store.h: the repository of event notifications (src/store/webhooks.c, tables
 * webhook_endpoints, webhook_events, webhook_deliveries and webhook_attempts, migration 0018;
 * src/store/notify_channels.c, table notification_channels, migration 0024).
 * It keeps what the events domain (nova/events.h) made: sealed secrets and keys, event JSON,
 * the delivery log. It checks no business rule. Strings of returned rows live in the arena the
 * caller passes; every tenant call takes the tenant id and never returns another tenant's row.
 */
#ifndef NOVA_WEBHOOK_STORE_H
#define NOVA_WEBHOOK_STORE_H

#include "nova/audit.h"
#include "nova/store.h"

typedef struct nova_webhook_endpoint_row {
    const char *tenant_id;
    const char *id;
    const char *url;
    const char *events;     /* subscribed types, space-separated */
    const uint8_t *secrets; /* sealed JSON array of whsec_ secrets, newest first */
    size_t secrets_len;
    const char *client_cert;   /* PEM */
    const uint8_t *client_key; /* sealed PEM */
    size_t client_key_len;
    const char *ca;  /* PEM bundle or "" */
    const char *pin; /* "sha256//..." or "" */
    bool enabled;
    const char *created_by;
    int64_t created_at, updated_at;
} nova_webhook_endpoint_row_t;

/* Inserts the endpoint with audit in one transaction. NOVA_CONFLICT when the id exists. */
nova_status nova_store_webhook_endpoint_insert(nova_store_t *s,
                                               const nova_webhook_endpoint_row_t *e,
                                               const nova_audit_entry_t *audit);
nova_status nova_store_webhook_endpoint_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                            const char *id, nova_webhook_endpoint_row_t *out);
/* The tenant's endpoints, oldest first. */
nova_status nova_store_webhook_endpoint_list(nova_store_t *s, nova_arena_t *a,
                                             const char *tenant_id,
                                             nova_webhook_endpoint_row_t **out, size_t *n);
/* Replaces the endpoint's sealed secrets (a rotation), with audit. NOVA_NOT_FOUND. */
nova_status nova_store_webhook_endpoint_secrets(nova_store_t *s, const char *tenant_id,
                                                const char *id, const uint8_t *secrets, size_t len,
                                                int64_t now, const nova_audit_entry_t *audit);

/* Replaces the endpoint's url, events, TLS material (client_cert, client_key, ca, pin) and
 * enabled flag and sets updated_at, with audit, in one transaction; disabling it fails its
 * pending deliveries (nothing more is sent to it until it is enabled again, and then only new
 * events and replays). NOVA_NOT_FOUND. */
nova_status nova_store_webhook_endpoint_update(nova_store_t *s,
                                               const nova_webhook_endpoint_row_t *e,
                                               const nova_audit_entry_t *audit);

/* Deletes the endpoint with audit; its pending deliveries fail (nothing is sent to it again).
 * NOVA_NOT_FOUND. */
nova_status nova_store_webhook_endpoint_delete(nova_store_t *s, const char *tenant_id,
                                               const char *id, int64_t now,
                                               const nova_audit_entry_t *audit);

/* An outbox event. callback_url: a receiver of its own besides the subscribed endpoints
 * (the verification's callback_url; NULL or "" for none). */
typedef struct nova_event_row {
    const char *tenant_id;
    const char *id;
    const char *type;
    const char *subject; /* the verification id */
    const char *payload; /* JSON text */
    const char *callback_url;
    int64_t created_at;
    int64_t max_attempts; /* of each delivery */
} nova_event_row_t;

/* Inside the open write transaction of ev->tenant_id (another repository's call, such as a
 * verification's decision): writes the event and a pending delivery, due at once, for every
 * enabled endpoint and notification channel of the tenant subscribed to its type and for its
 * callback_url. Repository
 * files call it before their commit, so the event commits with the change or not at all. */
nova_status nova_store_event_append_tx(nova_store_t *s, const nova_event_row_t *ev);

nova_status nova_store_event_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                 const char *id, nova_event_row_t *out);
/* A page of the tenant's events, oldest first, after (after_created, after_id) when after_id
 * is set; type NULL for any. */
nova_status nova_store_event_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                  const char *type, int64_t after_created, const char *after_id,
                                  int limit, nova_event_row_t **out, size_t *n);

/* A tenant's email or SMS channel (migration 0024). */
typedef struct nova_notify_channel_row {
    const char *tenant_id;
    const char *id;
    const char *kind;      /* "email" | "sms" */
    const char *target;    /* the SMTP server URL, or the provider's messaging URL */
    const char *settings;  /* JSON text of the settings that may be shown */
    const uint8_t *secret; /* sealed SMTP password or API key; NULL/0: none */
    size_t secret_len;
    const char *events; /* subscribed types, space-separated */
    bool enabled;
    const char *created_by;
    int64_t created_at, updated_at;
} nova_notify_channel_row_t;

/* Inserts the channel with audit in one transaction. NOVA_CONFLICT when the id exists. */
nova_status nova_store_notify_channel_insert(nova_store_t *s, const nova_notify_channel_row_t *c,
                                             const nova_audit_entry_t *audit);
nova_status nova_store_notify_channel_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                          const char *id, nova_notify_channel_row_t *out);
/* The tenant's channels, oldest first. */
nova_status nova_store_notify_channel_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                           nova_notify_channel_row_t **out, size_t *n);
/* Replaces target, settings, secret, events and enabled (kind stays), sets updated_at, with
 * audit; disabling fails its pending deliveries. NOVA_NOT_FOUND. */
nova_status nova_store_notify_channel_update(nova_store_t *s, const nova_notify_channel_row_t *c,
                                             const nova_audit_entry_t *audit);
/* Deletes the channel with audit; its pending deliveries fail. NOVA_NOT_FOUND. */
nova_status nova_store_notify_channel_delete(nova_store_t *s, const char *tenant_id, const char *id,
                                             int64_t now, const nova_audit_entry_t *audit);

typedef struct nova_delivery_row {
    const char *tenant_id;
    const char *id;
    const char *event_id;
    const char *endpoint_id; /* "" when there is nothing to send with, or for a channel */
    const char *channel;     /* "webhook" | "email" | "sms" */
    const char *channel_id;  /* the notification channel's id ("" for webhooks) */
    const char *url;
    const char *state; /* pending | delivered | failed */
    int64_t attempts, max_attempts, next_at, last_status, created_at, updated_at;
} nova_delivery_row_t;

typedef struct nova_attempt_row {
    const char *delivery_id;
    int64_t attempt;
    int64_t status_code; /* 0: no HTTP status came back */
    int64_t duration_ms;
    const char *error;
    int64_t created_at;
    const char *result; /* the SMTP reply, or the SMS code per recipient (masked); NULL: "" */
} nova_attempt_row_t;

/* A message Twilio created for one recipient of an SMS delivery (table sms_messages,
 * migration 0028). recipient is the recipient's tag (never the number); status and rank as
 * nova_notify_twilio_status_rank says; error_code Twilio's ErrorCode, 0 if none. */
typedef struct nova_sms_message_row {
    const char *tenant_id;
    const char *message_sid;
    const char *channel_id;
    const char *event_id;
    const char *delivery_id;
    const char *recipient;
    const char *status;
    int64_t rank, error_code, created_at, updated_at;
} nova_sms_message_row_t;

/* Records the n messages one attempt of a delivery got from Twilio, in one transaction of
 * their tenant (every row's tenant_id the same); a MessageSid already recorded is left as it
 * is (the callbacks may have moved it on). Not audited: it is the delivery log, as attempts
 * are. */
nova_status nova_store_sms_message_insert(nova_store_t *s, const nova_sms_message_row_t *rows,
                                          size_t n);
/* The messages of an event's SMS deliveries, by delivery then creation. */
nova_status nova_store_sms_message_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                        const char *event_id, nova_sms_message_row_t **out,
                                        size_t *n);
/* A status callback for message sid of channel channel_id: in one transaction, moves the
 * message to status (rank, error_code, updated_at now) only if rank is above the stored one,
 * appending audit when it does. *out gets the row as it is after the call (strings in a),
 * *changed whether it moved. NOVA_NOT_FOUND when the channel has no message of that SID. */
nova_status nova_store_sms_message_status(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                          const char *channel_id, const char *sid,
                                          const char *status, int64_t rank, int64_t error_code,
                                          int64_t now, const nova_audit_entry_t *audit,
                                          nova_sms_message_row_t *out, bool *changed);

/* The event's deliveries and its delivery log (oldest first). */
nova_status nova_store_delivery_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                     const char *event_id, nova_delivery_row_t **out, size_t *n);
nova_status nova_store_attempt_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                    const char *event_id, nova_attempt_row_t **out, size_t *n);

/* Sends the event again: every delivery of it becomes pending, due at now, with extra more
 * attempts allowed, and a delivery is added for any endpoint or channel subscribed since; with
 * audit, in one transaction. *n gets how many deliveries are pending. NOVA_NOT_FOUND. */
nova_status nova_store_event_replay(nova_store_t *s, const char *tenant_id, const char *id,
                                    int64_t now, int64_t extra, const nova_audit_entry_t *audit,
                                    int64_t *n);

/* Platform level: deletes every tenant's events created before `before` whose deliveries are
 * all finished (delivered or failed), with their deliveries and attempts. *n gets the events
 * deleted. Not audited: it removes the record of finished work past its retention. */
nova_status nova_store_event_prune(nova_store_t *s, int64_t before, int64_t *n);

/* Platform level, for the dispatcher: claims up to limit pending deliveries of any tenant due
 * at now whose lease is free (or ran out), leasing them to owner until lease_until. Two
 * dispatchers on one database never hold the same row (PostgreSQL: FOR UPDATE SKIP LOCKED;
 * SQLite: one writer). */
nova_status nova_store_delivery_claim(nova_store_t *s, nova_arena_t *a, int64_t now,
                                      int64_t lease_until, const char *owner, int limit,
                                      nova_delivery_row_t **out, size_t *n);
/* Records one attempt of a delivery leased to owner: the log row, and the delivery's new
 * state (pending with next_at, delivered or failed), lease released, in one transaction.
 * NOVA_CONFLICT (nothing written) when the lease is no longer owner's. */
nova_status nova_store_delivery_record(nova_store_t *s, const char *tenant_id, const char *owner,
                                       const nova_attempt_row_t *at, const char *state,
                                       int64_t next_at);

#endif
