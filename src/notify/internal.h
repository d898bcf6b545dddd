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

#endif
