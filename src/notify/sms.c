/*
 * sms.c: SMS through Africa's Talking (nova/notify.h): POST <base>/version1/messaging with
 * the form fields username, to (comma-separated E.164 numbers), message and from, the headers
 * `apiKey` and `Accept: application/json`; the reply (201 on success) lists a statusCode per
 * recipient: 100 processed, 101 sent, 102 queued are accepted, the rest refusals
 * (401 RiskHold, 402 InvalidSenderId, 403 InvalidPhoneNumber, 404 UnsupportedNumberType,
 * 405 InsufficientBalance, 406 UserInBlacklist, 407 CouldNotRoute, 409 DoNotDisturbRejection,
 * 500 InternalServerError, 501 GatewayError, 502 RejectedByGateway).
 *
 * The result says per recipient what the provider answered (out->recipients), so the caller
 * can send again to those refused for a reason that may pass and to nobody who accepted it
 * (src/events/recipients.c does). Numbers reach out->result only masked.
 *
 * A reply that names nobody after the provider took the request (a 2xx whose body is not
 * SMSMessageData, or no reply at all once the whole form was sent: a timeout, a reset) does
 * not mean nobody got the message: Africa's Talking may have queued it for every recipient.
 * Sending again would risk each of them getting it twice, so every recipient of such a send
 * is marked NOVA_NOTIFY_SMS_UNKNOWN and the caller sends to none of them again (a replay,
 * someone's decision, does). Only a failure before the form was wholly sent, or an HTTP error
 * status, is retried blindly: then the provider cannot have acted on it.
 *
 * nova_notify_sms_send also dispatches to Twilio (twilio.c).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "internal.h"

bool nova_notify_at_accepted(long code)
{
    return code >= 100 && code <= 102;
}

bool nova_notify_at_transient(long code)
{
    return code == 405 || (code >= 500 && code <= 502);
}

nova_sms_verdict_t nova_notify_sms_verdict(nova_sms_provider_t provider, long code)
{
    if (code == NOVA_NOTIFY_SMS_UNKNOWN)
        return NOVA_SMS_UNKNOWN;
    if (code <= 0)
        return NOVA_SMS_TRANSIENT; /* not in the reply */
    if (provider == NOVA_SMS_TWILIO) {
        if (code >= 200 && code <= 299)
            return NOVA_SMS_ACCEPTED;
        return code == 429 || (code >= 500 && code <= 599) ? NOVA_SMS_TRANSIENT : NOVA_SMS_REFUSED;
    }
    if (nova_notify_at_accepted(code))
        return NOVA_SMS_ACCEPTED;
    return nova_notify_at_transient(code) ? NOVA_SMS_TRANSIENT : NOVA_SMS_REFUSED;
}

nova_status nova_notify_at_parse(const char *body, size_t len, nova_sms_recipient_t *out,
                                 size_t max, size_t *n)
{
    *n = 0;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *data = json_object_get(root, "SMSMessageData");
    json_t *rs = json_object_get(data, "Recipients");
    nova_status st = json_is_array(rs) ? NOVA_OK : NOVA_INVALID;
    for (size_t i = 0; st == NOVA_OK && i < json_array_size(rs); i++) {
        json_t *r = json_array_get(rs, i);
        json_t *code = json_object_get(r, "statusCode");
        json_t *num = json_object_get(r, "number");
        json_t *status = json_object_get(r, "status");
        if (!json_is_integer(code) || !json_is_string(num) ||
            (status != NULL && !json_is_string(status))) {
            st = NOVA_INVALID;
            break;
        }
        if (*n >= max)
            continue;
        nova_sms_recipient_t *o = &out[(*n)++];
        json_int_t c = json_integer_value(code);
        /* Out of range: as if not listed (never NOVA_NOTIFY_SMS_UNKNOWN, which is ours). */
        o->status_code = c <= 0 || c > 9999 ? 0 : (long)c;
        notify_printable(o->number, sizeof(o->number), json_string_value(num),
                         json_string_length(num));
        const char *sv = status ? json_string_value(status) : "";
        notify_printable(o->status, sizeof(o->status), sv, strlen(sv));
    }
    json_decref(root);
    if (st != NOVA_OK)
        *n = 0;
    return st;
}

nova_status nova_notify_sms_form(const nova_notify_sms_t *m, nova_buf_t *out)
{
    if (m->username == NULL || !*m->username || m->message == NULL || m->nto == 0 ||
        m->nto > NOVA_NOTIFY_RECIPIENTS_MAX)
        return NOVA_INVALID;
    nova_buf_t to;
    nova_buf_init(&to);
    nova_status st = NOVA_OK;
    for (size_t i = 0; st == NOVA_OK && i < m->nto; i++)
        st = nova_notify_phone_valid(m->to[i])
                 ? nova_buf_printf(&to, "%s%s", i ? "," : "", m->to[i])
                 : NOVA_INVALID;
    if (st == NOVA_OK)
        st = nova_buf_append(&to, "", 1);
    if (st == NOVA_OK)
        st = notify_form_field(out, "username", m->username);
    if (st == NOVA_OK)
        st = notify_form_field(out, "to", to.data);
    if (st == NOVA_OK)
        st = notify_form_field(out, "message", m->message);
    if (st == NOVA_OK && m->from && *m->from)
        st = notify_form_field(out, "from", m->from);
    nova_buf_free(&to);
    return st;
}

/* Every recipient of m marked NOVA_NOTIFY_SMS_UNKNOWN: the provider took the request and
 * did not say for whom (see the top of this file). */
static void mark_unknown(const nova_notify_sms_t *m, nova_notify_result_t *out, const char *why)
{
    out->result[0] = '\0';
    out->nrecipients = 0;
    for (size_t i = 0; i < m->nto && i < NOVA_NOTIFY_RECIPIENTS_MAX; i++) {
        nova_sms_recipient_t *r = &out->recipients[out->nrecipients++];
        notify_printable(r->number, sizeof(r->number), m->to[i], strlen(m->to[i]));
        r->status_code = NOVA_NOTIFY_SMS_UNKNOWN;
        snprintf(r->status, sizeof(r->status), "Unknown");
        notify_result_add(out, r);
    }
    out->unknown = out->nrecipients;
    out->retry = false;
    snprintf(out->error, sizeof(out->error),
             "%.80s: the provider took the request, outcome unknown for %zu recipients", why,
             out->unknown);
}

/* Judges the provider's reply (HTTP status in out->status). */
static nova_status judge(const nova_buf_t *reply, const nova_notify_sms_t *m,
                         nova_notify_result_t *out)
{
    if (out->status < 200 || out->status > 299) {
        /* 5xx, 408, 429: the provider may take it later; other 4xx (bad key, bad request)
         * need the channel fixed, then a replay. */
        out->retry = out->status >= 500 || out->status == 408 || out->status == 429;
        snprintf(out->error, sizeof(out->error), "HTTP status %ld", out->status);
        return NOVA_UNAVAILABLE;
    }
    nova_sms_recipient_t *rs = out->recipients;
    size_t n = 0;
    if (nova_notify_at_parse(reply->data ? reply->data : "", reply->len, rs,
                             NOVA_NOTIFY_RECIPIENTS_MAX, &n) != NOVA_OK) {
        mark_unknown(m, out, "the provider's reply is not SMSMessageData");
        return NOVA_UNAVAILABLE;
    }
    size_t nto = m->nto;
    out->nrecipients = n;
    size_t accepted = 0, transient = 0;
    for (size_t i = 0; i < n; i++) {
        if (nova_notify_at_accepted(rs[i].status_code))
            accepted++;
        else if (nova_notify_at_transient(rs[i].status_code))
            transient++;
        notify_result_add(out, &rs[i]);
    }
    if (n > 0 && accepted == n)
        return NOVA_OK;
    if (accepted > 0) {
        out->partial = true;
        snprintf(out->error, sizeof(out->error), "%zu of %zu recipients refused", n - accepted, n);
        return NOVA_OK;
    }
    out->retry = n == 0 || transient > 0;
    snprintf(out->error, sizeof(out->error), "no recipient accepted (%zu listed of %zu)", n, nto);
    return NOVA_UNAVAILABLE;
}

/* Sends m once to Africa's Talking (checked by nova_notify_sms_send). */
static nova_status at_send(const nova_notify_sms_t *m, nova_notify_result_t *out)
{
    nova_buf_t form, url, key, reply;
    nova_buf_init(&form);
    nova_buf_init(&url);
    nova_buf_init(&key);
    nova_buf_init(&reply);
    size_t blen = strlen(m->base_url);
    while (blen > 0 && m->base_url[blen - 1] == '/')
        blen--;
    nova_status st = nova_notify_sms_form(m, &form);
    if (st == NOVA_OK)
        st = nova_buf_printf(&url, "%.*s/version1/messaging", (int)blen, m->base_url);
    if (st == NOVA_OK)
        st = nova_buf_printf(&key, "apiKey: %s", m->api_key);
    if (st != NOVA_OK) {
        snprintf(out->error, sizeof(out->error), "the message cannot be sent: %s",
                 nova_status_name(st));
        goto end;
    }
    bool refused = false;
    CURL *c = notify_curl_new("http,https", m->timeout_ms, &refused, out);
    if (c == NULL) {
        st = NOVA_UNAVAILABLE;
        goto end;
    }
    struct curl_slist *hl = NULL, *t = NULL;
    const char *lines[] = {"Accept: application/json",
                           "Content-Type: application/x-www-form-urlencoded", "Expect:", key.data};
    for (size_t i = 0; i < 4; i++) {
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
    SET(CURLOPT_POSTFIELDS, form.data);
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)form.len);
    SET(CURLOPT_HTTPHEADER, hl);
    SET(CURLOPT_WRITEFUNCTION, notify_on_data);
    SET(CURLOPT_WRITEDATA, &sink);
    SET(CURLOPT_ERRORBUFFER, errbuf);
    SET(CURLOPT_USERAGENT, "Nova-Notify/1");
#undef SET
    if (rc == CURLE_OK)
        rc = notify_curl_perform(c, out);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    /* Failed after the provider took the form: a 2xx too large to read, or no reply. */
    bool taken =
        sink.over ? out->status >= 200 && out->status <= 299 : notify_request_sent(c, form.len);
    if (rc == CURLE_OK) {
        st = judge(&reply, m, out);
    } else if (refused) {
        snprintf(out->error, sizeof(out->error),
                 "the provider's address is not public (NOVA_WEBHOOK_ALLOW_PRIVATE is off)");
        st = NOVA_FORBIDDEN;
    } else if (taken) {
        mark_unknown(m, out,
                     sink.over ? "reply too large"
                     : *errbuf ? errbuf
                               : curl_easy_strerror(rc));
        st = NOVA_UNAVAILABLE;
    } else {
        out->retry = true;
        snprintf(out->error, sizeof(out->error), "%.150s",
                 sink.over ? "reply too large"
                 : *errbuf ? errbuf
                           : curl_easy_strerror(rc));
        st = NOVA_UNAVAILABLE;
    }
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
end:
    if (key.data)
        OPENSSL_cleanse(key.data, key.len);
    nova_buf_free(&form);
    nova_buf_free(&url);
    nova_buf_free(&key);
    nova_buf_free(&reply);
    return st;
}

nova_status nova_notify_sms_send(const nova_notify_sms_t *m, nova_notify_result_t *out)
{
    memset(out, 0, sizeof(*out));
    if (m == NULL || !nova_notify_base_url_valid(m->base_url) || m->api_key == NULL ||
        !*m->api_key || strpbrk(m->api_key, "\r\n") != NULL) {
        snprintf(out->error, sizeof(out->error), "no provider URL or API key");
        return NOVA_INVALID;
    }
    return m->provider == NOVA_SMS_TWILIO ? notify_twilio_send(m, out) : at_send(m, out);
}
