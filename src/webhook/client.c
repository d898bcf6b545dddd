/*
 * client.c: the outbound HTTPS POST of webhooks and custom checks (nova/webhook.h), on
 * libcurl. Every transfer is mutual TLS: the caller's client certificate and key are
 * presented, the receiver is verified against the caller's CA bundle alone (the system store
 * is switched off) or its SPKI pin. No redirect is followed, only https is spoken, proxies in
 * the environment are ignored, and the reply is cut off at a cap.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
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

static atomic_bool private_allowed;

void nova_webhook_allow_private(bool allow)
{
    atomic_store(&private_allowed, allow);
}

bool nova_webhook_private_allowed(void)
{
    return atomic_load(&private_allowed);
}

static bool v4_public(const uint8_t a[4])
{
    uint32_t x = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
    static const struct {
        uint32_t net, mask;
    } blocked[] = {
        {0x00000000, 0xff000000}, /* 0/8 "this network" */
        {0x0a000000, 0xff000000}, /* 10/8 */
        {0x64400000, 0xffc00000}, /* 100.64/10 shared */
        {0x7f000000, 0xff000000}, /* 127/8 loopback */
        {0xa9fe0000, 0xffff0000}, /* 169.254/16 link-local */
        {0xac100000, 0xfff00000}, /* 172.16/12 */
        {0xc0000000, 0xffffff00}, /* 192.0.0/24 protocol assignments */
        {0xc0000200, 0xffffff00}, /* 192.0.2/24 documentation */
        {0xc0a80000, 0xffff0000}, /* 192.168/16 */
        {0xc6120000, 0xfffe0000}, /* 198.18/15 benchmarking */
        {0xc6336400, 0xffffff00}, /* 198.51.100/24 documentation */
        {0xcb007100, 0xffffff00}, /* 203.0.113/24 documentation */
        {0xe0000000, 0xe0000000}, /* 224/3: multicast, reserved, broadcast */
    };
    for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++)
        if ((x & blocked[i].mask) == blocked[i].net)
            return false;
    return true;
}

bool nova_webhook_address_public(const char *ip)
{
    uint8_t a[16];
    if (ip == NULL)
        return false;
    if (inet_pton(AF_INET, ip, a) == 1)
        return v4_public(a);
    if (inet_pton(AF_INET6, ip, a) != 1)
        return false;
    /* IPv4 carried in IPv6 is judged as the IPv4 address: mapped, NAT64 (64:ff9b::/96), 6to4
     * (2002::/16, bits 16..47) and the deprecated IPv4-compatible ::a.b.c.d. */
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b};
    static const uint8_t zero[15] = {0};
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
        return v4_public(a + 12);
    if (a[0] == 0x20 && a[1] == 0x02)
        return v4_public(a + 2);
    if (memcmp(a, zero, 15) == 0) /* :: and ::1 */
        return false;
    if (memcmp(a, zero, 12) == 0)
        return v4_public(a + 12);
    if ((a[0] & 0xfe) == 0xfc) /* fc00::/7 unique local (fd00:ec2::254, a metadata address) */
        return false;
    if (a[0] == 0xfe && (a[1] & 0x80) == 0x80) /* fe80::/10 link-local, fec0::/10 site-local */
        return false;
    if (a[0] == 0xff) /* multicast */
        return false;
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8) /* 2001:db8::/32 docs */
        return false;
    static const uint8_t discard[8] = {0x01, 0, 0, 0, 0, 0, 0, 0}; /* 100::/64 */
    if (memcmp(a, discard, 8) == 0)
        return false;
    return true;
}

/* Runs once connected, before the request is sent: refuses a non-public peer. */
static int on_prereq(void *ud, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
    (void)local_ip;
    (void)primary_port;
    (void)local_port;
    bool *refused = ud;
    if (atomic_load(&private_allowed) || nova_webhook_address_public(primary_ip))
        return CURL_PREREQFUNC_OK;
    *refused = true;
    return CURL_PREREQFUNC_ABORT;
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
    bool refused = false;
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
    SET(CURLOPT_PREREQFUNCTION, on_prereq);
    SET(CURLOPT_PREREQDATA, &refused);
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
        if (refused)
            snprintf(out->error, sizeof(out->error),
                     "the receiver's address is not public (NOVA_WEBHOOK_ALLOW_PRIVATE is off)");
        else if (sink.over)
            snprintf(out->error, sizeof(out->error), "reply larger than %zu bytes", cap);
        else
            set_error(out, "%s", *errbuf ? errbuf : curl_easy_strerror(rc));
        out->status = 0;
        st = refused ? NOVA_FORBIDDEN : NOVA_UNAVAILABLE;
    }
end:
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return st;
}
