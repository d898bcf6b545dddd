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
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "internal.h"

#define SMS_REPLY_MAX (64u << 10)

bool nova_notify_at_accepted(long code)
{
    return code >= 100 && code <= 102;
}

bool nova_notify_at_transient(long code)
{
    return code == 405 || (code >= 500 && code <= 502);
}

nova_status nova_notify_at_parse(const char *body, size_t len, nova_at_recipient_t *out, size_t max,
                                 size_t *n)
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
        nova_at_recipient_t *o = &out[(*n)++];
        json_int_t c = json_integer_value(code);
        o->status_code = c < 0 || c > 9999 ? -1 : (long)c;
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

/* Appends name=value, value percent-encoded (application/x-www-form-urlencoded). */
static nova_status form_field(nova_buf_t *out, const char *name, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    nova_status st = nova_buf_printf(out, "%s%s=", out->len ? "&" : "", name);
    for (const unsigned char *p = (const unsigned char *)value; st == NOVA_OK && *p; p++) {
        char e[3];
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '*') {
            st = nova_buf_append(out, p, 1);
        } else if (*p == ' ') {
            st = nova_buf_append(out, "+", 1);
        } else {
            e[0] = '%';
            e[1] = hex[*p >> 4];
            e[2] = hex[*p & 15];
            st = nova_buf_append(out, e, 3);
        }
    }
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
        st = form_field(out, "username", m->username);
    if (st == NOVA_OK)
        st = form_field(out, "to", to.data);
    if (st == NOVA_OK)
        st = form_field(out, "message", m->message);
    if (st == NOVA_OK && m->from && *m->from)
        st = form_field(out, "from", m->from);
    nova_buf_free(&to);
    return st;
}

typedef struct sink {
    nova_buf_t *b;
    bool over;
} sink_t;

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    sink_t *k = ud;
    size_t n = size * nmemb;
    if (k->b->len + n > SMS_REPLY_MAX) {
        k->over = true;
        return 0;
    }
    return nova_buf_append(k->b, p, n) == NOVA_OK ? n : 0;
}

/* Judges the provider's reply (HTTP status in out->status). */
static nova_status judge(const nova_buf_t *reply, size_t nto, nova_notify_result_t *out)
{
    if (out->status < 200 || out->status > 299) {
        /* 5xx, 408, 429: the provider may take it later; other 4xx (bad key, bad request)
         * need the channel fixed, then a replay. */
        out->retry = out->status >= 500 || out->status == 408 || out->status == 429;
        snprintf(out->error, sizeof(out->error), "HTTP status %ld", out->status);
        return NOVA_UNAVAILABLE;
    }
    nova_at_recipient_t *rs = out->recipients;
    size_t n = 0;
    if (nova_notify_at_parse(reply->data ? reply->data : "", reply->len, rs,
                             NOVA_NOTIFY_RECIPIENTS_MAX, &n) != NOVA_OK) {
        out->retry = true;
        snprintf(out->error, sizeof(out->error), "the provider's reply is not SMSMessageData");
        return NOVA_UNAVAILABLE;
    }
    out->nrecipients = n;
    size_t accepted = 0, transient = 0, off = 0;
    for (size_t i = 0; i < n; i++) {
        if (nova_notify_at_accepted(rs[i].status_code))
            accepted++;
        else if (nova_notify_at_transient(rs[i].status_code))
            transient++;
        char masked[NOVA_NOTIFY_MASK_MAX];
        nova_notify_phone_mask(rs[i].number, masked);
        int w = snprintf(out->result + off, sizeof(out->result) - off, "%s%s=%ld%s%s", i ? " " : "",
                         masked, rs[i].status_code, *rs[i].status ? ":" : "", rs[i].status);
        if (w > 0 && (size_t)w < sizeof(out->result) - off)
            off += (size_t)w;
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

nova_status nova_notify_sms_send(const nova_notify_sms_t *m, nova_notify_result_t *out)
{
    memset(out, 0, sizeof(*out));
    if (m == NULL || !nova_notify_base_url_valid(m->base_url) || m->api_key == NULL ||
        !*m->api_key || strpbrk(m->api_key, "\r\n") != NULL) {
        snprintf(out->error, sizeof(out->error), "no provider URL or API key");
        return NOVA_INVALID;
    }
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
    sink_t sink = {&reply, false};
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
    SET(CURLOPT_WRITEFUNCTION, on_data);
    SET(CURLOPT_WRITEDATA, &sink);
    SET(CURLOPT_ERRORBUFFER, errbuf);
    SET(CURLOPT_USERAGENT, "Nova-Notify/1");
#undef SET
    if (rc == CURLE_OK)
        rc = notify_curl_perform(c, out);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
        st = judge(&reply, m->nto, out);
    } else if (refused) {
        snprintf(out->error, sizeof(out->error),
                 "the provider's address is not public (NOVA_WEBHOOK_ALLOW_PRIVATE is off)");
        st = NOVA_FORBIDDEN;
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
