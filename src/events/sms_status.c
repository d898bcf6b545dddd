/*
 * sms_status.c: Twilio's message status callbacks (nova/events.h), for the messages a
 * Twilio channel sent (recipients.c records each MessageSid Twilio returns, table
 * sms_messages).
 *
 * Which URL is signed: Twilio signs the URL it posted to, which is the StatusCallback the
 * message was sent with, i.e. the channel's status_callback setting, byte for byte. Nova
 * checks against that string, not a URL rebuilt from the request (behind a load balancer or
 * a TLS terminator the scheme, host and port the request shows are not the ones Twilio
 * used), and asks only that its path end with the path of the request that came (a channel
 * whose status_callback points elsewhere has no callbacks here).
 *
 * Which key: Twilio signs with the account's auth token. A channel that sends with an API
 * key (api_key_sid and its secret) has no auth token, so its callbacks cannot be checked and
 * are refused (403 twilio_auth_token_required): such a channel should not set
 * status_callback, or should send with the auth token.
 *
 * A status only moves forward (nova_notify_twilio_status_rank): Twilio may post "sent" after
 * "delivered", and a duplicate is one change; a status Nova does not know is counted and
 * answered 200 without a change. Nothing of the callback but the SID, the status and the
 * error code is kept: To and From (numbers) are signed over and dropped.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "nova/log.h"
#include "nova/notify.h"

static const char *const fail_names[NOVA_SMS_CB_N] = {
    [NOVA_SMS_CB_OK] = "ok",
    [NOVA_SMS_CB_MALFORMED] = "malformed",
    [NOVA_SMS_CB_UNKNOWN_CHANNEL] = "unknown_channel",
    [NOVA_SMS_CB_NOT_THIS_ROUTE] = "not_this_route",
    [NOVA_SMS_CB_NO_AUTH_TOKEN] = "no_auth_token",
    [NOVA_SMS_CB_SIGNATURE] = "signature",
    [NOVA_SMS_CB_ACCOUNT] = "account",
    [NOVA_SMS_CB_UNKNOWN_MESSAGE] = "unknown_message",
    [NOVA_SMS_CB_UNAVAILABLE] = "unavailable",
};

const char *nova_sms_cb_fail_name(nova_sms_cb_fail f)
{
    return (unsigned)f < NOVA_SMS_CB_N ? fail_names[f] : "unknown";
}

/* nova_sms_status_callbacks_total{provider="twilio",status}: callbacks taken, by the status
 * they reported ("other": one Nova does not know); refusals by reason. */
static const char *const cb_statuses[] = {
    "accepted",  "scheduled",   "queued", "sending",  "sent", "partially_delivered",
    "delivered", "undelivered", "failed", "canceled", "read", "other"};
#define CB_STATUSES (sizeof(cb_statuses) / sizeof(cb_statuses[0]))
static _Atomic uint64_t cb_taken[CB_STATUSES];
static _Atomic uint64_t cb_refused[NOVA_SMS_CB_N];

nova_status events_sms_status_metrics(nova_buf_t *out)
{
    nova_status st = nova_buf_append_cstr(
        out, "# HELP nova_sms_status_callbacks_total Provider status callbacks this process "
             "took (signature checked), by the status they reported.\n"
             "# TYPE nova_sms_status_callbacks_total counter\n");
    for (size_t i = 0; st == NOVA_OK && i < CB_STATUSES; i++)
        st = nova_buf_printf(out,
                             "nova_sms_status_callbacks_total{provider=\"twilio\",status=\"%s\"} "
                             "%llu\n",
                             cb_statuses[i], (unsigned long long)atomic_load(&cb_taken[i]));
    if (st == NOVA_OK)
        st = nova_buf_append_cstr(
            out, "# HELP nova_sms_status_callback_refusals_total Provider status callbacks "
                 "this process refused, by reason.\n"
                 "# TYPE nova_sms_status_callback_refusals_total counter\n");
    for (int f = 1; st == NOVA_OK && f < NOVA_SMS_CB_N; f++)
        st = nova_buf_printf(
            out,
            "nova_sms_status_callback_refusals_total{provider=\"twilio\",reason=\"%s\"} %llu\n",
            fail_names[f], (unsigned long long)atomic_load(&cb_refused[f]));
    return st;
}

static void refuse(nova_sms_cb_result_t *out, nova_sms_cb_fail f, const char *why)
{
    out->fail = f;
    out->why = why;
    atomic_fetch_add(&cb_refused[f], 1);
}

/* The path of an http(s) URL ("/" when it has none). */
static const char *url_path(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    return p ? p : "/";
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return m <= n && strcmp(s + n - m, suffix) == 0;
}

void nova_events_twilio_status(const nova_events_cfg_t *cfg, nova_store_t *s, nova_arena_t *a,
                               const char *req_id, const char *tenant_id, const char *channel_id,
                               const char *path, const char *signature, const char *body,
                               size_t len, nova_sms_cb_result_t *out)
{
    memset(out, 0, sizeof(*out));
    out->why = "";
    nova_notify_channel_row_t c;
    nova_status st = nova_store_notify_channel_get(s, a, tenant_id, channel_id, &c);
    json_t *set = st == NOVA_OK ? json_loads(c.settings, 0, NULL) : NULL;
    const char *prov = json_string_value(json_object_get(set, "provider"));
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID ||
        (st == NOVA_OK &&
         (strcmp(c.kind, "sms") != 0 || prov == NULL || strcmp(prov, "twilio") != 0))) {
        refuse(out, NOVA_SMS_CB_UNKNOWN_CHANNEL,
               "no Twilio SMS channel of this tenant has this id");
        goto end;
    }
    if (st != NOVA_OK || !json_is_object(set)) {
        refuse(out, NOVA_SMS_CB_UNAVAILABLE, "the channel cannot be read");
        goto end;
    }
    const char *url = json_string_value(json_object_get(set, "status_callback"));
    if (url == NULL || path == NULL || !ends_with(url_path(url), path)) {
        refuse(out, NOVA_SMS_CB_NOT_THIS_ROUTE,
               "the channel's status_callback is not this route (set it to this URL as Twilio "
               "reaches it)");
        goto end;
    }
    nova_twilio_callback_t cb;
    const char *why = "";
    if (nova_notify_twilio_callback_parse(a, body, len, &cb, &why) != NOVA_OK) {
        refuse(out, NOVA_SMS_CB_MALFORMED, why);
        goto end;
    }
    if (json_object_get(set, "api_key_sid") != NULL || c.secret_len == 0) {
        refuse(out, NOVA_SMS_CB_NO_AUTH_TOKEN,
               "the channel sends with an API key: Twilio signs callbacks with the account's "
               "auth token, which Nova does not hold, so they cannot be verified");
        goto end;
    }
    char *token = NULL;
    st = events_open(cfg, s, c.tenant_id, NOVA_EVENT_CTX_CHANNEL_SECRET, c.secret, c.secret_len,
                     &token);
    if (st != NOVA_OK) {
        refuse(out, NOVA_SMS_CB_UNAVAILABLE, "the channel's secret cannot be opened");
        goto end;
    }
    bool ok = nova_notify_twilio_signature_ok(token, url, &cb, signature);
    events_wipe(token);
    if (!ok) {
        refuse(out, NOVA_SMS_CB_SIGNATURE,
               signature ? "X-Twilio-Signature is not Twilio's signature of this request"
                         : "X-Twilio-Signature is missing");
        goto end;
    }
    const char *acct = json_string_value(json_object_get(set, "account_sid"));
    if (acct == NULL || strcmp(acct, cb.account_sid) != 0) {
        refuse(out, NOVA_SMS_CB_ACCOUNT, "AccountSid is not the channel's account");
        goto end;
    }
    int rank = nova_notify_twilio_status_rank(cb.message_status);
    size_t slot = CB_STATUSES - 1;
    for (size_t i = 0; i + 1 < CB_STATUSES; i++)
        if (strcmp(cb_statuses[i], cb.message_status) == 0)
            slot = i;
    const char *status = rank > 0 ? cb.message_status : NULL;
    nova_audit_actor_t by = {"twilio", req_id};
    nova_audit_entry_t e;
    json_t *attrs = json_pack("{s:s, s:s, s:I}", "channel_id", channel_id, "status",
                              status ? status : "other", "error_code", (json_int_t)cb.error_code);
    st = nova_audit_entry_make(&e, a, &by, tenant_id, "sms.status", "sms_message", cb.message_sid,
                               attrs);
    /* An unknown status moves nothing (rank 0 is below every stored one), but the message
     * must still be the channel's. */
    if (st == NOVA_OK)
        st = nova_store_sms_message_status(s, a, tenant_id, channel_id, cb.message_sid,
                                           status ? status : "", rank, cb.error_code,
                                           nova_time_now(), &e, &out->msg, &out->changed);
    if (st == NOVA_NOT_FOUND) {
        refuse(out, NOVA_SMS_CB_UNKNOWN_MESSAGE, "this channel sent no message of this MessageSid");
        goto end;
    }
    if (st != NOVA_OK) {
        refuse(out, NOVA_SMS_CB_UNAVAILABLE, "the store is unavailable");
        goto end;
    }
    atomic_fetch_add(&cb_taken[slot], 1);
    out->status = cb.message_status;
end:
    json_decref(set);
}

json_t *nova_sms_messages_json(const nova_sms_message_row_t *m, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "delivery_id", m[i].delivery_id,
                           "message_sid", m[i].message_sid, "recipient", m[i].recipient, "status",
                           m[i].status, "error_code", (json_int_t)m[i].error_code, "created_at",
                           (json_int_t)m[i].created_at, "updated_at", (json_int_t)m[i].updated_at));
    return arr;
}
