/*
 * client.c: the outbound HTTPS POST of webhooks and custom checks (nova/webhook.h), on
 * libcurl. Every transfer is mutual TLS: the caller's client certificate and key are
 * presented, the receiver is verified against the caller's CA bundle alone (the system store
 * is switched off) or its SPKI pin. No redirect is followed, only https is spoken, proxies in
 * the environment are ignored, and the reply is cut off at a cap.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "nova/webhook.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

typedef struct sink {
    nova_buf_t *b;
    size_t cap;
    bool over;
} sink_t;

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    sink_t *k = ud;
    size_t n = size * nmemb;
    if (k->b->len + n > k->cap) {
        k->over = true;
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    return nova_buf_append(k->b, p, n) == NOVA_OK ? n : 0;
}

/* https://host[:port][/path], no user info, no whitespace or control characters. */
bool nova_webhook_url_valid(const char *url)
{
    if (url == NULL || strncasecmp(url, "https://", 8) != 0)
        return false;
    size_t n = strlen(url);
    if (n <= 8 || n > 2048)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f)
            return false;
    const char *auth = url + 8;
    size_t alen = strcspn(auth, "/?#");
    if (alen == 0 || memchr(auth, '@', alen) != NULL)
        return false;
    return true;
}

static void set_error(nova_webhook_response_t *out, const char *fmt, const char *detail)
{
    snprintf(out->error, sizeof(out->error), fmt, detail ? detail : "");
}

nova_status nova_webhook_post(const nova_webhook_request_t *req, nova_webhook_response_t *out)
{
    memset(out, 0, sizeof(*out));
    nova_buf_init(&out->body);
    const nova_webhook_tls_t *tls = req ? req->tls : NULL;
    if (req == NULL || !nova_webhook_url_valid(req->url)) {
        set_error(out, "the url is not an https URL%s", NULL);
        return NOVA_INVALID;
    }
    if (tls == NULL || tls->client_cert == NULL || !*tls->client_cert || tls->client_key == NULL ||
        !*tls->client_key) {
        set_error(out, "no client certificate and key: mTLS is required%s", NULL);
        return NOVA_INVALID;
    }
    bool has_ca = tls->ca && *tls->ca, has_pin = tls->pin && *tls->pin;
    if (!has_ca && !has_pin) {
        set_error(out, "no CA and no pin to verify the receiver%s", NULL);
        return NOVA_INVALID;
    }
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        set_error(out, "libcurl did not initialise%s", NULL);
        return NOVA_UNAVAILABLE;
    }
    CURL *c = curl_easy_init();
    if (c == NULL) {
        set_error(out, "libcurl: no handle%s", NULL);
        return NOVA_NOMEM;
    }
    nova_status st = NOVA_OK;
    struct curl_slist *hl = NULL, *tmp = NULL;
    for (size_t i = 0; i < req->nheaders && st == NOVA_OK; i++) {
        tmp = curl_slist_append(hl, req->headers[i]);
        if (tmp == NULL)
            st = NOVA_NOMEM;
        else
            hl = tmp;
    }
    /* No "Expect: 100-continue" round trip on a short POST. */
    if (st == NOVA_OK && (tmp = curl_slist_append(hl, "Expect:")) != NULL)
        hl = tmp;
    if (st != NOVA_OK) {
        curl_slist_free_all(hl);
        curl_easy_cleanup(c);
        set_error(out, "out of memory%s", NULL);
        return st;
    }
    unsigned timeout = req->timeout_ms ? req->timeout_ms : 10000;
    size_t cap = req->max_response ? req->max_response : 65536;
    sink_t sink = {&out->body, cap, false};
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_blob cert = {(void *)tls->client_cert, strlen(tls->client_cert), CURL_BLOB_COPY};
    struct curl_blob key = {(void *)tls->client_key, strlen(tls->client_key), CURL_BLOB_COPY};
    struct curl_blob ca = {(void *)(has_ca ? tls->ca : ""), has_ca ? strlen(tls->ca) : 0,
                           CURL_BLOB_COPY};

    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(c, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_URL, req->url);
    SET(CURLOPT_PROTOCOLS_STR, "https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROXY, "");
    SET(CURLOPT_NOPROXY, "*");
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_TIMEOUT_MS, (long)timeout);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout / 2 ? timeout / 2 : 1));
    SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    SET(CURLOPT_SSLCERTTYPE, "PEM");
    SET(CURLOPT_SSLCERT_BLOB, &cert);
    SET(CURLOPT_SSLKEYTYPE, "PEM");
    SET(CURLOPT_SSLKEY_BLOB, &key);
    /* The tenant's CA and nothing else: no system bundle, no directory. */
    SET(CURLOPT_CAINFO, (char *)NULL);
    SET(CURLOPT_CAPATH, (char *)NULL);
    if (has_ca) {
        SET(CURLOPT_CAINFO_BLOB, &ca);
        SET(CURLOPT_SSL_VERIFYPEER, 1L);
        SET(CURLOPT_SSL_VERIFYHOST, 2L);
    } else {
        /* Pin only: the chain is not judged, the receiver's key is (curl checks the pin
         * whatever VERIFYPEER says). */
        SET(CURLOPT_SSL_VERIFYPEER, 0L);
        SET(CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (has_pin)
        SET(CURLOPT_PINNEDPUBLICKEY, tls->pin);
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_POSTFIELDS, req->len ? (const char *)req->body : "");
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->len);
    SET(CURLOPT_HTTPHEADER, hl);
    SET(CURLOPT_WRITEFUNCTION, on_data);
    SET(CURLOPT_WRITEDATA, &sink);
    SET(CURLOPT_ERRORBUFFER, errbuf);
    SET(CURLOPT_USERAGENT, "Nova-Webhooks/1");
#undef SET
    if (rc != CURLE_OK) {
        set_error(out, "libcurl: %s", curl_easy_strerror(rc));
        st = NOVA_INTERNAL;
        goto end;
    }
    uint64_t t0 = nova_time_mono_ns();
    rc = curl_easy_perform(c);
    out->duration_us = (nova_time_mono_ns() - t0) / 1000;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
        st = NOVA_OK;
    } else {
        if (sink.over)
            snprintf(out->error, sizeof(out->error), "reply larger than %zu bytes", cap);
        else
            set_error(out, "%s", *errbuf ? errbuf : curl_easy_strerror(rc));
        out->status = 0;
        st = NOVA_UNAVAILABLE;
    }
end:
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return st;
}
