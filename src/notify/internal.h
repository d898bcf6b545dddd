/* internal.h: what the files of src/notify share (not for other modules). */
#ifndef NOVA_NOTIFY_INTERNAL_H
#define NOVA_NOTIFY_INTERNAL_H

#include <curl/curl.h>

#include "nova/notify.h"

/* Whether host (n bytes, as in a URL) is localhost, 127.0.0.0/8 or [::1]. */
bool notify_host_loopback(const char *host, size_t n);

/* A libcurl handle set up the way every notification transfer is: no proxy, no redirect, no
 * signal, the protocols given (curl's CURLOPT_PROTOCOLS_STR), the timeouts, and a socket
 * callback that refuses a non-public address before connecting (unless allowed) and sets
 * *refused. NULL when libcurl cannot be had (out->error set). */
CURL *notify_curl_new(const char *protocols, unsigned timeout_ms, bool *refused,
                      nova_notify_result_t *out);
/* Runs the transfer, timing it into out->duration_us. */
CURLcode notify_curl_perform(CURL *c, nova_notify_result_t *out);

/* Copies the printable ASCII of src (n bytes) into dst (cap bytes, NUL-terminated), other
 * bytes as '?', trailing CR/LF and spaces dropped. */
void notify_printable(char *dst, size_t cap, const char *src, size_t n);

/* Appends name=value to a form body ('&' first unless out is empty), value percent-encoded
 * (application/x-www-form-urlencoded). */
nova_status notify_form_field(nova_buf_t *out, const char *name, const char *value);

/* A reply body collected up to NOTIFY_REPLY_MAX bytes (over: the transfer stops, over set);
 * notify_on_data is its CURLOPT_WRITEFUNCTION. */
#define NOTIFY_REPLY_MAX (64u << 10)
typedef struct notify_sink {
    nova_buf_t *b;
    bool over;
} notify_sink_t;
size_t notify_on_data(char *p, size_t size, size_t nmemb, void *ud);

/* Whether the transfer on c sent the whole request body of len bytes: a failure after that
 * (a timeout, a reset) leaves the provider perhaps holding the message. */
bool notify_request_sent(CURL *c, size_t len);

/* Appends " <masked number>=<code>:<status>" for recipient r to out->result. */
void notify_result_add(nova_notify_result_t *out, const nova_sms_recipient_t *r);

/* Sends m once to Twilio (twilio.c), one request per recipient. */
nova_status notify_twilio_send(const nova_notify_sms_t *m, nova_notify_result_t *out);

#endif
