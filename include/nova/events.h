/*
 * events.h: event notifications (issue 9 item 6; src/events). The gateway writes an outbox
 * event (nova_event_make) into the transaction of the change that causes it; the dispatcher
 * (nova_events_dispatch, one named job on novad's scheduler, kicked after an event is written
 * and run every second as a fallback) claims due deliveries with a lease, signs each per the
 * Standard Webhooks spec with the endpoint's secrets, POSTs it over mTLS (nova/webhook.h) and
 * records the attempt in the delivery log; a failure is retried with exponential backoff and
 * jitter until NOVA_EVENT_MAX_ATTEMPTS.
 *
 * Endpoints are the tenant's: URL, subscribed types, whsec_ secrets and the client key sealed
 * with the tenant's data key, client certificate and the receiver's CA or pin in clear.
 *
 * Notification channels (migration 0024) are the tenant's too: email over SMTP and SMS
 * through Africa's Talking or Twilio (nova/notify.h), each with its subscribed types, its
 * recipients and its password or API key sealed. The same outbox and dispatcher deliver to them,
 * one delivery per channel per event, with the same retries, log and replay; the message names the
 * event type, its id, the verification (or review) id, status, decision and reason codes: never the
 * applicant's data. A disabled endpoint or channel gets nothing (its pending deliveries fail);
 * enabled again, it gets new events and replays.
 */
#ifndef NOVA_EVENTS_H
#define NOVA_EVENTS_H

#include <jansson.h>

#include "nova/audit.h"
#include "nova/auth.h"
#include "nova/sched.h"
#include "nova/webhook_store.h"

/* Attempts of one delivery before it fails (a replay allows as many again), the first retry's
 * delay (doubling per attempt, capped at NOVA_EVENT_BACKOFF_MAX_S, each drawn from [d/2, d]),
 * an attempt's timeout and the reply's cap. */
#define NOVA_EVENT_MAX_ATTEMPTS 8
#define NOVA_EVENT_BACKOFF_BASE_S 2
#define NOVA_EVENT_BACKOFF_MAX_S 3600
#define NOVA_EVENT_TIMEOUT_MS 5000
#define NOVA_EVENT_REPLY_MAX 16384
/* How long a claimed delivery is leased (well over one attempt's timeout). */
#define NOVA_EVENT_LEASE_S 60
/* Finished events (no delivery pending) older than this are pruned with their deliveries and
 * attempts, by the dispatcher, at most once an hour per process. */
#define NOVA_EVENT_RETENTION_S (30 * 86400)

/* Seal contexts of the data key. */
#define NOVA_EVENT_CTX_SECRETS "webhook.secrets"
#define NOVA_EVENT_CTX_CLIENT_KEY "webhook.client_key"
#define NOVA_EVENT_CTX_CHANNEL_SECRET "notify.secret"

/* Africa's Talking's hosts (a channel's base_url replaces them; username "sandbox" selects
 * the sandbox, as Africa's Talking's own libraries do). */
#define NOVA_EVENT_AT_BASE "https://api.africastalking.com"
#define NOVA_EVENT_AT_SANDBOX "https://api.sandbox.africastalking.com"
/* Twilio's API host (a channel's base_url replaces it). */
#define NOVA_EVENT_TWILIO_BASE "https://api.twilio.com"

typedef struct nova_events_problem {
    const char *field; /* JSON member at fault ("" for the body) */
    const char *why;
} nova_events_problem_t;

/* What the events domain needs: the data keys (auth), the region they are kept in ("" or NULL:
 * "default") and the store every background thread opens. Borrowed; outlives the process's
 * use of it. */
typedef struct nova_events_cfg {
    nova_auth_t *auth;
    const char *region;
    const char *database_url;
} nova_events_cfg_t;

/* verification.completed, verification.failed, verification.review_required, review.decided. */
bool nova_event_type_valid(const char *type);
/* The delay before retry number attempt (1, 2, ...), seconds, with jitter from r in [0, 1). */
int64_t nova_event_backoff(int64_t attempt, double r);

/* An outbox row (strings in a): a fresh evt_ id, payload {"type", "timestamp" (RFC 3339),
 * "data": data} (data borrowed: ids, statuses and codes only, never personal data), due now.
 * callback_url (may be NULL) also receives it. */
nova_status nova_event_make(nova_arena_t *a, const char *tenant_id, const char *type,
                            const char *subject, json_t *data, const char *callback_url,
                            nova_event_row_t *out);

/* The dispatcher's job, set once by the API's register (NULL: none, events wait for the
 * periodic run of another process). nova_events_kick makes it due now (any thread). */
void nova_events_set_job(nova_sched_job_t *job);
void nova_events_kick(void);
/* One pass of the dispatcher: claims due deliveries (bounded) and sends each once. */
nova_status nova_events_dispatch(const nova_events_cfg_t *cfg);

/* Signs body per Standard Webhooks with the endpoint's secrets (webhook-id msg_id,
 * webhook-timestamp now) and POSTs it to url (NULL: the endpoint's own) over mTLS with the
 * endpoint's client certificate and key and its CA or pin. Opens the sealed secrets and key
 * for the call only. Returns as nova_webhook_post (*rs always initialised; the caller frees
 * rs->body); NOVA_UNAUTHORIZED/NOT_FOUND with rs->error set when the material does not open. */
struct nova_webhook_response;
nova_status nova_endpoint_post(const nova_events_cfg_t *cfg, nova_store_t *s,
                               const nova_webhook_endpoint_row_t *ep, const char *url,
                               const char *msg_id, const char *body, unsigned timeout_ms,
                               size_t max_reply, struct nova_webhook_response *rs);
/* The tenant's oldest enabled endpoint (strings in a): the one whose material signs and
 * connects for receivers that have no endpoint of their own (a verification's callback_url,
 * a custom check's url). NOVA_NOT_FOUND when it has none. */
nova_status nova_endpoint_default(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                  nova_webhook_endpoint_row_t *out);

/* novactl `channel list|show|create|update|delete` (verb) for tenant_id: the calls the HTTP
 * routes of /v1/notifications/channels make, audited as theirs with the actor "novactl".
 * args: show ID; create FILE; update ID FILE; delete ID; list none (FILE: a JSON body as the
 * route takes, "-" standard input). Prints the channel(s) on success (JSON with json_out,
 * else one line each: id, type, state, event types; never a secret). Returns NOVA_OK, or the
 * status with nothing printed: NOVA_INVALID with pb naming the field and why (strings in a),
 * NOVA_NOT_FOUND for an id not the tenant's, or the store's status. */
nova_status nova_events_ctl_channel(const nova_events_cfg_t *cfg, nova_store_t *s, nova_arena_t *a,
                                    const char *verb, const char *tenant_id,
                                    const char *const *args, bool json_out,
                                    nova_events_problem_t *pb);

/* Appends this process's delivery metrics (Prometheus text), each with a channel label
 * ("webhook", "email", "sms"): nova_webhook_attempts_total{channel,outcome} (outcome
 * "delivered", "retry", "failed"), nova_webhook_failures_total{channel} (attempts that did
 * not deliver) and the histogram nova_webhook_attempt_duration_seconds{channel}. */
nova_status nova_events_metrics(nova_buf_t *out);

/* A validated endpoint request: borrowed from the JSON body it was read from. */
typedef struct nova_endpoint_in {
    const char *url;
    const char *events; /* arena: space-separated, deduplicated */
    const char *client_cert, *client_key, *ca, *pin;
    const char *secret; /* NULL: a fresh one is made */
} nova_endpoint_in_t;
/* Reads and checks {"url", "events": [...], "client_certificate", "client_key",
 * "ca_certificate"?, "pin"?, "secret"?}: NOVA_INVALID with pb naming the field. Pure (the
 * endpoint fuzz target drives it). */
nova_status nova_endpoint_parse(nova_arena_t *a, json_t *body, nova_endpoint_in_t *in,
                                nova_events_problem_t *pb);
/* Creates the tenant's endpoint (audited "webhook.endpoint.create"); *out (new reference) is
 * its JSON with the secret, shown this once. */
nova_status nova_endpoint_create(const nova_events_cfg_t *cfg, nova_store_t *s, nova_arena_t *a,
                                 const nova_audit_actor_t *by, const char *tenant_id, json_t *body,
                                 json_t **out, nova_events_problem_t *pb);
/* A new secret that signs from now on; with keep_previous the newest old one keeps signing
 * beside it (receivers switch at leisure), older ones are dropped. Audited
 * "webhook.endpoint.rotate". *out: {"id", "secret", "secrets": n}. NOVA_NOT_FOUND. */
nova_status nova_endpoint_rotate(const nova_events_cfg_t *cfg, nova_store_t *s, nova_arena_t *a,
                                 const nova_audit_actor_t *by, const char *tenant_id,
                                 const char *id, bool keep_previous, json_t **out);
/* Changes the tenant's endpoint: any of url, events, enabled, client_certificate,
 * client_key, ca_certificate, pin (null clears ca_certificate or pin; one must remain), the
 * result checked whole as nova_endpoint_parse does (NOVA_INVALID with pb naming the field).
 * Audited "webhook.endpoint.update" with the names of the members changed. Disabling fails
 * its pending deliveries. *out (new reference) as nova_endpoint_json. NOVA_NOT_FOUND. */
nova_status nova_endpoint_update(const nova_events_cfg_t *cfg, nova_store_t *s, nova_arena_t *a,
                                 const nova_audit_actor_t *by, const char *tenant_id,
                                 const char *id, json_t *body, json_t **out,
                                 nova_events_problem_t *pb);
/* Deletes the tenant's endpoint (audited "webhook.endpoint.delete"); its pending deliveries
 * fail. NOVA_NOT_FOUND. */
nova_status nova_endpoint_delete(nova_store_t *s, nova_arena_t *a, const nova_audit_actor_t *by,
                                 const char *tenant_id, const char *id);
/* An endpoint as the API shows it: no secret, no key (new reference). */
json_t *nova_endpoint_json(const nova_webhook_endpoint_row_t *e);
/* Every member a channel body may have (NULL-terminated), for the route's and novactl's
 * first check; nova_channel_parse then refuses those the channel's type and provider lack. */
extern const char *const nova_channel_members[];
/* A validated channel: strings in the arena but secret, borrowed from the body (so the clear
 * password or API key is never copied). settings is the JSON text kept in clear, target
 * where it sends; secret NULL: none, or for an update, keep the sealed one unless
 * clear_secret. */
typedef struct nova_channel_in {
    const char *kind; /* "email" | "sms" */
    const char *target;
    const char *settings;
    const char *events;
    bool enabled;
    const char *secret;
    bool clear_secret;
} nova_channel_in_t;
/* Reads and checks a channel body. Email: {"type": "email", "smtp_url", "from", "to": [...],
 * "username"?, "password"?, "ca_certificate"?, "events": [...], "enabled"?}. SMS: {"type":
 * "sms", "provider": "africastalking", "username", "api_key", "to": ["+E.164", ...],
 * "sender_id"?, "base_url"?, "events", "enabled"?}. Twilio: {"type": "sms", "provider":
 * "twilio", "account_sid": "AC...", "auth_token" (or "api_key_sid": "SK..." and
 * "api_key_secret"), "from" (E.164 or a sender id) or "messaging_service_sid": "MG...", "to",
 * "status_callback"?, "base_url"?, "events", "enabled"?}; the provider cannot change. With old (a
 * PATCH), old's settings, events and enabled stand for the members body leaves out, old_has_secret
 * says whether a sealed secret is kept, and the type cannot change. NOVA_INVALID with pb naming the
 * field (pb->field may point into body: a member the channel's type does not have). Pure (the
 * channel fuzz target drives it). */
nova_status nova_channel_parse(nova_arena_t *a, json_t *body, const nova_notify_channel_row_t *old,
                               nova_channel_in_t *in, nova_events_problem_t *pb);
/* Creates the tenant's channel (audited "notify.channel.create"); *out (new reference) is
 * its JSON (nova_channel_json). */
nova_status nova_channel_create(const nova_events_cfg_t *cfg, nova_store_t *s, nova_arena_t *a,
                                const nova_audit_actor_t *by, const char *tenant_id, json_t *body,
                                json_t **out, nova_events_problem_t *pb);
/* Changes it (audited "notify.channel.update" with the names of the members changed);
 * disabling fails its pending deliveries. NOVA_NOT_FOUND. */
nova_status nova_channel_update(const nova_events_cfg_t *cfg, nova_store_t *s, nova_arena_t *a,
                                const nova_audit_actor_t *by, const char *tenant_id, const char *id,
                                json_t *body, json_t **out, nova_events_problem_t *pb);
/* Deletes it (audited "notify.channel.delete"); its pending deliveries fail. NOVA_NOT_FOUND. */
nova_status nova_channel_delete(nova_store_t *s, nova_arena_t *a, const nova_audit_actor_t *by,
                                const char *tenant_id, const char *id);
/* A channel as the API shows it: its settings, "password"/"api_key" only as whether one is
 * set (new reference). */
json_t *nova_channel_json(const nova_notify_channel_row_t *c);
/* The text a channel sends for an event's payload (JSON text): *subject (email) and *text
 * (the email body, or the SMS) in a. Only the event type and id, the verification id,
 * status, decision, reason codes and time, each kept to [A-Za-z0-9_.:+-]. NOVA_INVALID for a
 * payload that is not an event. Pure. */
nova_status nova_channel_message(nova_arena_t *a, const char *kind, const char *event_id,
                                 const char *payload, const char **subject, const char **text);

/* Why a Twilio status callback was refused (or NOVA_SMS_CB_OK). */
typedef enum nova_sms_cb_fail {
    NOVA_SMS_CB_OK = 0,
    NOVA_SMS_CB_MALFORMED,       /* 400: the form, or a parameter not Twilio's shape */
    NOVA_SMS_CB_UNKNOWN_CHANNEL, /* 404: no Twilio SMS channel of that tenant has that id */
    NOVA_SMS_CB_NOT_THIS_ROUTE,  /* 404: the channel's status_callback is not this route */
    NOVA_SMS_CB_NO_AUTH_TOKEN,   /* 403: an API-key channel: no auth token to check with */
    NOVA_SMS_CB_SIGNATURE,       /* 403: X-Twilio-Signature missing or wrong */
    NOVA_SMS_CB_ACCOUNT,         /* 403: AccountSid is not the channel's */
    NOVA_SMS_CB_UNKNOWN_MESSAGE, /* 404: the channel sent no message of that MessageSid */
    NOVA_SMS_CB_UNAVAILABLE,     /* 503: the store or the data key failed */
    NOVA_SMS_CB_N
} nova_sms_cb_fail;
/* The reason's name ("malformed", "signature", ...), for metrics and problem details. */
const char *nova_sms_cb_fail_name(nova_sms_cb_fail f);

/* What a status callback came to. */
typedef struct nova_sms_cb_result {
    nova_sms_cb_fail fail;
    const char *why;            /* for the problem's detail (no value of the callback) */
    nova_sms_message_row_t msg; /* the message after the call (fail == NOVA_SMS_CB_OK) */
    bool changed;               /* whether the status moved (else a duplicate or late one) */
    const char *status;         /* the callback's MessageStatus (fail == NOVA_SMS_CB_OK) */
} nova_sms_cb_result_t;

/* Twilio's status callback for channel channel_id of tenant tenant_id, posted to path (the
 * request's path, as sent) with the form body and X-Twilio-Signature header (may be NULL).
 * The signature is checked over the channel's status_callback setting (the URL Nova sends
 * each message with, so exactly the URL Twilio posts to and signs; its path must end with
 * path) with the channel's auth token, in constant time; AccountSid must be the channel's;
 * then the message of that MessageSid moves forward to MessageStatus (never back; the same
 * callback twice is one change), audited (action "sms.status", actor "twilio", by actor's
 * request id req_id) in the same transaction. Every refusal is counted
 * (nova_sms_status_callback_refusals_total{provider,reason}), every callback taken
 * (nova_sms_status_callbacks_total{provider,status}). Strings of out in a. */
void nova_events_twilio_status(const nova_events_cfg_t *cfg, nova_store_t *s, nova_arena_t *a,
                               const char *req_id, const char *tenant_id, const char *channel_id,
                               const char *path, const char *signature, const char *body,
                               size_t len, nova_sms_cb_result_t *out);
/* The messages of an event's SMS deliveries as JSON (new reference): [{"delivery_id",
 * "message_sid", "recipient" (the log's tag), "status", "error_code", "updated_at"}]. */
json_t *nova_sms_messages_json(const nova_sms_message_row_t *m, size_t n);

/* An event with (when deliveries is not NULL) its deliveries and their attempts. */
json_t *nova_event_json(const nova_event_row_t *e, const nova_delivery_row_t *deliveries, size_t nd,
                        const nova_attempt_row_t *attempts, size_t na);

#endif
