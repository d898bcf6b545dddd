/*
 * twilio.c: SMS through Twilio's Programmable Messaging API (nova/notify.h), as Twilio speaks
 * it: POST <base>/2010-04-01/Accounts/{AccountSid}/Messages.json with HTTP Basic auth (the
 * account SID and auth token, or an API key SID and its secret), a form body of To, From or
 * MessagingServiceSid, Body and StatusCallback, `Accept: application/json`. A created message
 * is a 201 with {"sid": "SM...", "status": "queued" | "accepted" | "scheduled", ...}; an error
 * is {"code", "message", "more_info", "status"} with the HTTP status: 400 for a refusal of
 * this message (21211 invalid To, 21610 unsubscribed, 21614 not a mobile number, ...), 401
 * and 403 for the credentials or the account (20003, ...), 404 for an unknown account, 429
 * (20429) when too many requests come, 5xx when Twilio fails.
 *
 * Twilio has no batch, so one send is one request per recipient, in order, sharing one
 * connection and one time budget (m->timeout_ms: the dispatcher's lease assumes an attempt
 * takes at most that). Each recipient gets a line with the HTTP status of its own request:
 * 2xx accepted, 429 and 5xx may pass, another 4xx refused for good. A 401/403/404 refuses the
 * channel, not the number: every recipient not yet tried gets that line and no more requests
 * go out. A 429 stops the send (the rest have no line, so are tried again after the backoff);
 * so does a transfer failure, and a recipient whose request was wholly sent but got no reply,
 * or a 2xx that is not a message, is NOVA_NOTIFY_SMS_UNKNOWN (Twilio may have queued it).
 *
 * Twilio's error message names the number ("The 'To' number +1... is not valid"), so it is
 * never kept: only the code reaches the result ("E21211"). A created message's SID is kept in
 * its recipient's line: Twilio's status callbacks name the message by it (twilio_callback.c).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "internal.h"

/* Below this much of the budget left no request starts (its recipient waits for a retry). */
#define TWILIO_MIN_MS 250

nova_status nova_notify_twilio_parse(const char *body, size_t len, nova_twilio_reply_t *out)
{
    memset(out, 0, sizeof(*out));
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *sid = json_object_get(root, "sid");
    json_t *status = json_object_get(root, "status");
    json_t *code = json_object_get(root, "code");
    json_t *msg = json_object_get(root, "message");
    nova_status st = NOVA_INVALID;
    if (json_is_string(sid) && json_is_string(status)) {
        notify_printable(out->sid, sizeof(out->sid), json_string_value(sid),
                         json_string_length(sid));
        notify_printable(out->status, sizeof(out->status), json_string_value(status),
                         json_string_length(status));
        st = out->sid[0] ? NOVA_OK : NOVA_INVALID;
    } else if (json_is_integer(code) && (msg == NULL || json_is_string(msg) || json_is_null(msg))) {
        json_int_t c = json_integer_value(code);
        out->code = c <= 0 || c > 999999 ? 0 : (long)c;
        st = NOVA_OK;
    }
    json_decref(root);
    if (st != NOVA_OK)
        memset(out, 0, sizeof(*out));
    return st;
}

nova_status nova_notify_twilio_form(const nova_notify_sms_t *m, const char *to, nova_buf_t *out)
{
    bool mss = m->messaging_service_sid && *m->messaging_service_sid;
    if (!nova_notify_phone_valid(to) || m->message == NULL || (!mss && (!m->from || !*m->from)))
        return NOVA_INVALID;
    nova_status st = notify_form_field(out, "To", to);
    if (st == NOVA_OK)
        st = mss ? notify_form_field(out, "MessagingServiceSid", m->messaging_service_sid)
                 : notify_form_field(out, "From", m->from);
    if (st == NOVA_OK)
        st = notify_form_field(out, "Body", m->message);
    if (st == NOVA_OK && m->status_callback && *m->status_callback)
        st = notify_form_field(out, "StatusCallback", m->status_callback);
    return st;
}

/* The line of recipient `to` for an HTTP status and the reply read (or not). */
static void line_for(nova_sms_recipient_t *r, const char *to, long status,
                     const nova_twilio_reply_t *tw, bool parsed)
{
    memset(r, 0, sizeof(*r));
    notify_printable(r->number, sizeof(r->number), to, strlen(to));
    r->status_code = status;
    if (status >= 200 && status <= 299) {
        if (parsed && tw->sid[0]) {
            snprintf(r->status, sizeof(r->status), "%s", tw->status[0] ? tw->status : "-");
            snprintf(r->sid, sizeof(r->sid), "%s", tw->sid);
        } else {
            r->status_code = NOVA_NOTIFY_SMS_UNKNOWN;
            snprintf(r->status, sizeof(r->status), "Unknown");
        }
    } else if (parsed && tw->code > 0) {
        snprintf(r->status, sizeof(r->status), "E%ld", tw->code);
    } else {
        snprintf(r->status, sizeof(r->status), "-");
    }
}

nova_status notify_twilio_send(const nova_notify_sms_t *m, nova_notify_result_t *out)
{
    bool mss = m->messaging_service_sid && *m->messaging_service_sid;
    bool ok = nova_notify_twilio_sid_valid(m->account_sid, "AC") && m->nto > 0 &&
              m->nto <= NOVA_NOTIFY_RECIPIENTS_MAX && m->username && *m->username &&
              strpbrk(m->username, ":\r\n") == NULL && m->message != NULL &&
              (mss ? nova_notify_twilio_sid_valid(m->messaging_service_sid, "MG")
                   : m->from != NULL && *m->from != '\0');
    for (size_t i = 0; ok && i < m->nto; i++)
        ok = nova_notify_phone_valid(m->to[i]);
    if (!ok) {
        snprintf(out->error, sizeof(out->error), "the message cannot be sent: %s",
                 nova_status_name(NOVA_INVALID));
        return NOVA_INVALID;
    }
    nova_buf_t url, form, reply;
    nova_buf_init(&url);
    nova_buf_init(&form);
    nova_buf_init(&reply);
    size_t blen = strlen(m->base_url);
    while (blen > 0 && m->base_url[blen - 1] == '/')
        blen--;
    nova_status st = nova_buf_printf(&url, "%.*s/2010-04-01/Accounts/%s/Messages.json", (int)blen,
                                     m->base_url, m->account_sid);
    unsigned budget = m->timeout_ms ? m->timeout_ms : 10000;
    bool refused = false;
    CURL *c = st == NOVA_OK ? notify_curl_new("http,https", budget, &refused, out) : NULL;
    if (c == NULL) {
        nova_buf_free(&url);
        return st == NOVA_OK ? NOVA_UNAVAILABLE : st;
    }
    struct curl_slist *hl = NULL, *t = NULL;
    const char *lines[] = {"Accept: application/json",
                           "Content-Type: application/x-www-form-urlencoded", "Expect:"};
    for (size_t i = 0; i < 3; i++) {
        t = curl_slist_append(hl, lines[i]);
        if (t == NULL)
            break;
        hl = t;
    }
    notify_sink_t sink = {&reply, false};
    char errbuf[CURL_ERROR_SIZE] = "";
    CURLcode rc = t ? CURLE_OK : CURLE_OUT_OF_MEMORY;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(c, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_URL, url.data);
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_HTTPHEADER, hl);
    SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    SET(CURLOPT_USERNAME, m->username);
    SET(CURLOPT_PASSWORD, m->api_key);
    SET(CURLOPT_WRITEFUNCTION, notify_on_data);
    SET(CURLOPT_WRITEDATA, &sink);
    SET(CURLOPT_ERRORBUFFER, errbuf);
    SET(CURLOPT_USERAGENT, "Nova-Notify/1");
    if (rc != CURLE_OK) {
        snprintf(out->error, sizeof(out->error), "libcurl: %s", curl_easy_strerror(rc));
        st = NOVA_UNAVAILABLE;
        goto end;
    }
    uint64_t t0 = nova_time_mono_ns(), total_us = 0;
    size_t accepted = 0, again = 0, n = 0;
    long channel_refusal = 0; /* a 401/403/404: the credentials or the account */
    nova_twilio_reply_t tw;
    for (size_t i = 0; i < m->nto && st == NOVA_OK; i++) {
        uint64_t spent_ms = (nova_time_mono_ns() - t0) / 1000000;
        if (spent_ms + TWILIO_MIN_MS > budget)
            break;
        nova_sms_recipient_t *r = &out->recipients[n];
        if (channel_refusal) {
            line_for(r, m->to[i], channel_refusal, &tw, true);
            notify_result_add(out, r);
            n++;
            continue;
        }
        form.len = 0;
        reply.len = 0;
        sink.over = false;
        errbuf[0] = '\0';
        st = nova_notify_twilio_form(m, m->to[i], &form);
        SET(CURLOPT_POSTFIELDS, form.data);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)form.len);
        SET(CURLOPT_TIMEOUT_MS, (long)(budget - spent_ms));
        if (st != NOVA_OK || rc != CURLE_OK)
            break;
        rc = notify_curl_perform(c, out);
        total_us += out->duration_us;
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        out->status = status;
        bool two = status >= 200 && status <= 299;
        if (rc == CURLE_OK) {
            bool parsed =
                nova_notify_twilio_parse(reply.data ? reply.data : "", reply.len, &tw) == NOVA_OK;
            line_for(r, m->to[i], status, &tw, parsed);
            if (status == 401 || status == 403 || status == 404)
                channel_refusal = status;
        } else if (refused) {
            break;
        } else if (sink.over ? two : notify_request_sent(c, form.len)) {
            memset(&tw, 0, sizeof(tw));
            line_for(r, m->to[i], 200, &tw, false); /* taken, outcome unknown */
        } else {
            snprintf(out->error, sizeof(out->error), "%.150s",
                     sink.over ? "reply too large"
                     : *errbuf ? errbuf
                               : curl_easy_strerror(rc));
            rc = CURLE_OK;
            break;
        }
        rc = CURLE_OK;
        notify_result_add(out, r);
        n++;
        /* Stop at a 429 (Twilio asks for less), or once Twilio stops answering. */
        if (r->status_code == 429 || r->status_code == NOVA_NOTIFY_SMS_UNKNOWN)
            break;
    }
#undef SET
    out->duration_us = total_us;
    out->nrecipients = n;
    for (size_t i = 0; i < n; i++) {
        nova_sms_verdict_t v =
            nova_notify_sms_verdict(NOVA_SMS_TWILIO, out->recipients[i].status_code);
        accepted += v == NOVA_SMS_ACCEPTED;
        again += v == NOVA_SMS_TRANSIENT;
        out->unknown += v == NOVA_SMS_UNKNOWN;
    }
    again += m->nto - n; /* not tried: sent to again later */
    if (st != NOVA_OK) {
        snprintf(out->error, sizeof(out->error), "the message cannot be sent: %s",
                 nova_status_name(st));
    } else if (refused && n == 0) {
        snprintf(out->error, sizeof(out->error),
                 "the provider's address is not public (NOVA_WEBHOOK_ALLOW_PRIVATE is off)");
        st = NOVA_FORBIDDEN;
    } else if (accepted == m->nto) {
        st = NOVA_OK;
    } else if (accepted > 0) {
        out->partial = true;
        snprintf(out->error, sizeof(out->error), "%zu of %zu recipients not accepted",
                 m->nto - accepted, m->nto);
    } else {
        out->retry = again > 0;
        if (channel_refusal)
            snprintf(out->error, sizeof(out->error),
                     "Twilio refused the credentials or the account (HTTP %ld)", channel_refusal);
        else if (!*out->error)
            snprintf(out->error, sizeof(out->error), "no recipient accepted (%zu answered of %zu)",
                     n, m->nto);
        st = NOVA_UNAVAILABLE;
    }
end:
    curl_easy_setopt(c, CURLOPT_PASSWORD, "");
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    nova_buf_free(&url);
    if (form.data)
        OPENSSL_cleanse(form.data, form.len);
    nova_buf_free(&form);
    nova_buf_free(&reply);
    return st;
}
