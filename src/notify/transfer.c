/* transfer.c: the libcurl set-up the email and SMS transports share (internal.h): one global
 * init, no proxy or redirect, and the address check before a socket is connected. The check
 * is made on the resolved address in the socket callback, so a name that resolves to a
 * private address is refused before any byte (an SMTP greeting, AUTH, a form) is exchanged. */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"
#include "nova/webhook.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static curl_socket_t open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *addr)
{
    bool *refused = ud;
    (void)purpose;
    char ip[INET6_ADDRSTRLEN] = "";
    if (addr->family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&addr->addr)->sin_addr, ip, sizeof(ip));
    else if (addr->family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&addr->addr)->sin6_addr, ip, sizeof(ip));
    if (!nova_webhook_private_allowed() && !nova_webhook_address_public(ip)) {
        *refused = true;
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype, addr->protocol);
}

CURL *notify_curl_new(const char *protocols, unsigned timeout_ms, bool *refused,
                      nova_notify_result_t *out)
{
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        snprintf(out->error, sizeof(out->error), "libcurl did not initialise");
        return NULL;
    }
    CURL *c = curl_easy_init();
    if (c == NULL) {
        snprintf(out->error, sizeof(out->error), "libcurl: no handle");
        return NULL;
    }
    unsigned timeout = timeout_ms ? timeout_ms : 10000;
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(c, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_PROTOCOLS_STR, protocols);
    SET(CURLOPT_REDIR_PROTOCOLS_STR, protocols);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROXY, "");
    SET(CURLOPT_NOPROXY, "*");
    SET(CURLOPT_TIMEOUT_MS, (long)timeout);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout / 2 ? timeout / 2 : 1));
    SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
    SET(CURLOPT_OPENSOCKETDATA, refused);
#undef SET
    if (rc != CURLE_OK) {
        snprintf(out->error, sizeof(out->error), "libcurl: %s", curl_easy_strerror(rc));
        curl_easy_cleanup(c);
        return NULL;
    }
    return c;
}

CURLcode notify_curl_perform(CURL *c, nova_notify_result_t *out)
{
    uint64_t t0 = nova_time_mono_ns();
    CURLcode rc = curl_easy_perform(c);
    out->duration_us = (nova_time_mono_ns() - t0) / 1000;
    return rc;
}

void notify_printable(char *dst, size_t cap, const char *src, size_t n)
{
    if (cap == 0)
        return;
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    while (k > 0 && (dst[k - 1] == ' ' || dst[k - 1] == '?'))
        k--;
    dst[k] = '\0';
}

nova_status notify_form_field(nova_buf_t *out, const char *name, const char *value)
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

size_t notify_on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    notify_sink_t *k = ud;
    size_t n = size * nmemb;
    if (k->b->len + n > NOTIFY_REPLY_MAX) {
        k->over = true;
        return 0;
    }
    return nova_buf_append(k->b, p, n) == NOVA_OK ? n : 0;
}

bool notify_request_sent(CURL *c, size_t len)
{
    curl_off_t up = 0;
    if (curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &up) != CURLE_OK)
        return false;
    return len > 0 && up >= (curl_off_t)len;
}

void notify_result_add(nova_notify_result_t *out, const nova_sms_recipient_t *r)
{
    size_t off = strlen(out->result);
    char masked[NOVA_NOTIFY_MASK_MAX];
    nova_notify_phone_mask(r->number, masked);
    int w = snprintf(out->result + off, sizeof(out->result) - off, "%s%s=%ld%s%s", off ? " " : "",
                     masked, r->status_code, *r->status ? ":" : "", r->status);
    if (w < 0 || (size_t)w >= sizeof(out->result) - off)
        out->result[off] = '\0';
}
