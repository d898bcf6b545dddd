/*
 * email.c: email over SMTP through libcurl (nova/notify.h). smtps:// speaks TLS from the
 * first byte; smtp:// requires STARTTLS (CURLUSESSL_ALL: curl gives up before MAIL FROM, and
 * before AUTH, when the server does not offer it), except to a loopback host, where it is
 * used when offered. The server's certificate is verified (against the channel's CA bundle
 * when it has one, else the system's). The server's reply lines reach the header callback;
 * the last one is kept as the attempt's result.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "internal.h"

/* Printable ASCII, no CR/LF, at most max bytes. */
static bool header_safe(const char *s, size_t max)
{
    if (s == NULL || strlen(s) > max)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

nova_status nova_notify_email_format(const nova_notify_email_t *m, int64_t now, nova_buf_t *out)
{
    if (!nova_notify_email_valid(m->from) || m->nto == 0 || m->nto > NOVA_NOTIFY_RECIPIENTS_MAX ||
        !header_safe(m->subject, 200) || !header_safe(m->message_id, 200) || m->body == NULL ||
        m->message_id[0] != '<')
        return NOVA_INVALID;
    for (size_t i = 0; i < m->nto; i++)
        if (!nova_notify_email_valid(m->to[i]))
            return NOVA_INVALID;
    time_t t = (time_t)now;
    struct tm tm;
    char date[64];
    if (gmtime_r(&t, &tm) == NULL ||
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
        return NOVA_INVALID;
    nova_status st = nova_buf_printf(out, "Date: %s\r\nFrom: <%s>\r\nTo: ", date, m->from);
    for (size_t i = 0; st == NOVA_OK && i < m->nto; i++)
        st = nova_buf_printf(out, "%s<%s>", i ? ", " : "", m->to[i]);
    if (st == NOVA_OK)
        st = nova_buf_printf(out,
                             "\r\nSubject: %s\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n"
                             "Content-Type: text/plain; charset=utf-8\r\n"
                             "Content-Transfer-Encoding: 8bit\r\n"
                             "Auto-Submitted: auto-generated\r\n\r\n",
                             m->subject, m->message_id);
    /* The body's lines end in CRLF; a bare CR or LF never reaches the wire. */
    for (const char *p = m->body; st == NOVA_OK && *p;) {
        size_t n = strcspn(p, "\r\n");
        st = nova_buf_append(out, p, n);
        if (st == NOVA_OK)
            st = nova_buf_append(out, "\r\n", 2);
        p += n;
        if (*p == '\r' && p[1] == '\n')
            p += 2;
        else if (*p)
            p++;
    }
    return st;
}

typedef struct reader {
    const char *data;
    size_t len, off;
} reader_t;

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
    reader_t *r = ud;
    size_t room = size * nitems, left = r->len - r->off;
    size_t n = left < room ? left : room;
    memcpy(buf, r->data + r->off, n);
    r->off += n;
    return n;
}

/* Keeps the last reply line the server sent during the transfer (not the QUIT that closing
 * the connection may read later). */
typedef struct replies {
    nova_notify_result_t *out;
    bool done;
} replies_t;

static size_t on_reply(char *p, size_t size, size_t nitems, void *ud)
{
    replies_t *r = ud;
    size_t n = size * nitems;
    if (n > 0 && !r->done)
        notify_printable(r->out->result, sizeof(r->out->result), p, n);
    return n;
}

nova_status nova_notify_email_send(const nova_notify_email_t *m, nova_notify_result_t *out)
{
    memset(out, 0, sizeof(*out));
    bool loopback = false;
    if (m == NULL || !nova_notify_smtp_url_valid(m->url, &loopback)) {
        snprintf(out->error, sizeof(out->error), "the url is not an smtp:// or smtps:// URL");
        return NOVA_INVALID;
    }
    nova_buf_t msg;
    nova_buf_init(&msg);
    nova_status st = nova_notify_email_format(m, nova_time_now(), &msg);
    if (st != NOVA_OK) {
        nova_buf_free(&msg);
        snprintf(out->error, sizeof(out->error), "the message cannot be sent: %s",
                 st == NOVA_INVALID ? "a bad address, subject or id" : nova_status_name(st));
        return st;
    }
    bool refused = false;
    CURL *c = notify_curl_new("smtp,smtps", m->timeout_ms, &refused, out);
    if (c == NULL) {
        nova_buf_free(&msg);
        return NOVA_UNAVAILABLE;
    }
    char from[NOVA_NOTIFY_ADDR_MAX + 3];
    snprintf(from, sizeof(from), "<%s>", m->from);
    struct curl_slist *rcpt = NULL;
    for (size_t i = 0; i < m->nto && st == NOVA_OK; i++) {
        char to[NOVA_NOTIFY_ADDR_MAX + 3];
        snprintf(to, sizeof(to), "<%s>", m->to[i]);
        struct curl_slist *t = curl_slist_append(rcpt, to);
        if (t == NULL)
            st = NOVA_NOMEM;
        else
            rcpt = t;
    }
    reader_t rd = {msg.data, msg.len, 0};
    replies_t rp = {out, false};
    bool has_ca = m->ca && *m->ca;
    struct curl_blob ca = {(void *)(has_ca ? m->ca : ""), has_ca ? strlen(m->ca) : 0,
                           CURL_BLOB_COPY};
    bool smtps = strncasecmp(m->url, "smtps://", 8) == 0;
    CURLcode rc = st == NOVA_OK ? CURLE_OK : CURLE_OUT_OF_MEMORY;
    char errbuf[CURL_ERROR_SIZE] = "";
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(c, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_URL, m->url);
    SET(CURLOPT_USE_SSL, (long)(smtps || !loopback ? CURLUSESSL_ALL : CURLUSESSL_TRY));
    if (has_ca) {
        SET(CURLOPT_CAINFO, (char *)NULL);
        SET(CURLOPT_CAPATH, (char *)NULL);
        SET(CURLOPT_CAINFO_BLOB, &ca);
    }
    SET(CURLOPT_MAIL_FROM, from);
    SET(CURLOPT_MAIL_RCPT, rcpt);
    SET(CURLOPT_UPLOAD, 1L);
    SET(CURLOPT_READFUNCTION, on_read);
    SET(CURLOPT_READDATA, &rd);
    SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)msg.len);
    SET(CURLOPT_HEADERFUNCTION, on_reply);
    SET(CURLOPT_HEADERDATA, &rp);
    SET(CURLOPT_ERRORBUFFER, errbuf);
    if (m->username && *m->username) {
        SET(CURLOPT_USERNAME, m->username);
        SET(CURLOPT_PASSWORD, m->password ? m->password : "");
    }
#undef SET
    if (rc != CURLE_OK) {
        snprintf(out->error, sizeof(out->error), "libcurl: %s", curl_easy_strerror(rc));
        st = rc == CURLE_OUT_OF_MEMORY ? NOVA_NOMEM : NOVA_INTERNAL;
        goto end;
    }
    rc = notify_curl_perform(c, out);
    rp.done = true;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    if (rc == CURLE_OK) {
        st = NOVA_OK;
    } else if (refused) {
        snprintf(out->error, sizeof(out->error),
                 "the SMTP server's address is not public (NOVA_WEBHOOK_ALLOW_PRIVATE is off)");
        st = NOVA_FORBIDDEN;
    } else {
        /* A 5xx reply is the server's final word; no reply, or 4xx, may pass. */
        out->retry = !(out->status >= 500 && out->status <= 599) && rc != CURLE_USE_SSL_FAILED &&
                     rc != CURLE_LOGIN_DENIED;
        if (rc == CURLE_USE_SSL_FAILED)
            snprintf(out->error, sizeof(out->error),
                     "STARTTLS required: the server does not offer it (nothing was sent)");
        else if (out->status >= 400 && *out->result)
            snprintf(out->error, sizeof(out->error), "the SMTP server answered %.130s",
                     out->result);
        else
            snprintf(out->error, sizeof(out->error), "%.130s%s",
                     *errbuf ? errbuf : curl_easy_strerror(rc),
                     rc == CURLE_PEER_FAILED_VERIFICATION ? " (server certificate)" : "");
        st = NOVA_UNAVAILABLE;
    }
end:
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(c);
    nova_buf_free(&msg);
    return st;
}
