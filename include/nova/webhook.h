/*
 * webhook.h: outbound webhooks (src/webhook). Two pieces, neither knowing a store or a tenant:
 *
 * - Standard Webhooks signing (https://www.standardwebhooks.com): a message is signed as
 *   base64(HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")) and sent in the
 *   `webhook-signature` header as "v1,<signature>"; during a secret rotation the header holds
 *   one space-separated signature per live secret. A secret is "whsec_<base64 of the key>".
 *
 * - An HTTPS POST client on libcurl that never goes out without mutual TLS: it presents the
 *   caller's client certificate and key, verifies the receiver against the caller's CA (only
 *   that CA, never the system store) or a SPKI pin, follows no redirect, speaks only https,
 *   gives up after short timeouts and stops reading a reply past a size cap.
 */
#ifndef NOVA_WEBHOOK_H
#define NOVA_WEBHOOK_H

#include "nova/base.h"

/* Longest secret key in bytes, and the length of a new secret's text ("whsec_" + base64 of 32
 * bytes) with its NUL. */
#define NOVA_WEBHOOK_KEY_MAX 64
#define NOVA_WEBHOOK_SECRET_LEN 51

/* Decodes "whsec_<base64>" (the prefix is optional, as the spec's libraries accept) into key
 * (NOVA_WEBHOOK_KEY_MAX bytes): NOVA_INVALID for bad base64, a key shorter than 24 bytes or
 * longer than NOVA_WEBHOOK_KEY_MAX. */
nova_status nova_webhook_secret_parse(const char *secret, uint8_t *key, size_t *keylen);
/* A fresh secret of 32 random bytes: "whsec_..." into out. */
nova_status nova_webhook_secret_new(char out[NOVA_WEBHOOK_SECRET_LEN]);

/* Appends the webhook-signature header value for (id, timestamp, body) signed with each of
 * the n secrets: "v1,<b64> v1,<b64>". NOVA_INVALID for a bad secret, n 0 or an id holding a
 * '.' or a control character. */
nova_status nova_webhook_sign(const char *const *secrets, size_t n, const char *id,
                              int64_t timestamp, const void *body, size_t len, nova_buf_t *out);
/* Whether one of the "v1,..." signatures in header is the signature of (id, timestamp, body)
 * with secret (compared in constant time). */
bool nova_webhook_verify(const char *secret, const char *id, int64_t timestamp, const void *body,
                         size_t len, const char *header);

/* TLS material for one receiver (PEM text, borrowed). client_cert and client_key are
 * required; at least one of ca (the receiver's CA bundle) and pin ("sha256//<base64>", one
 * or more joined by ';', curl's CURLOPT_PINNEDPUBLICKEY form) is required. With both, the
 * chain and the pin must both hold. */
typedef struct nova_webhook_tls {
    const char *client_cert;
    const char *client_key;
    const char *ca;
    const char *pin;
} nova_webhook_tls_t;

typedef struct nova_webhook_request {
    const char *url;            /* https://... */
    const char *const *headers; /* "Name: value" lines, borrowed */
    size_t nheaders;
    const void *body;
    size_t len;
    const nova_webhook_tls_t *tls;
    unsigned timeout_ms; /* whole exchange (0: 10000); connect gets at most half */
    size_t max_response; /* reply body cap in bytes (0: 65536) */
} nova_webhook_request_t;

/* What came back. body is the caller's (nova_buf_free), also on failure. */
typedef struct nova_webhook_response {
    long status;     /* HTTP status, 0 when none arrived */
    nova_buf_t body; /* the reply, at most max_response bytes */
    uint64_t duration_us;
    char error[160]; /* "" when an HTTP status arrived; else what failed (no secret, no body) */
} nova_webhook_response_t;

/* Whether the TLS material can be used: NOVA_OK, or NOVA_INVALID with the field at fault
 * ("client_certificate", "client_key", "ca_certificate", "pin") and why (static strings). */
nova_status nova_webhook_tls_check(const nova_webhook_tls_t *tls, const char **field,
                                   const char **why);
/* Whether url is one nova_webhook_post would send to: https://host[:port][/...], no user
 * info, no whitespace or control character, at most 2048 bytes. */
bool nova_webhook_url_valid(const char *url);

/* Whether ip (numeric IPv4 or IPv6 text) is a public unicast address: not loopback,
 * unspecified, private (10/8, 172.16/12, 192.168/16, fc00::/7), shared (100.64/10),
 * link-local (169.254/16, fe80::/10), site-local (fec0::/10), benchmarking (198.18/15),
 * documentation (192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32), discard (100::/64),
 * reserved, multicast or broadcast; an IPv4-mapped, NAT64 (64:ff9b::/96), 6to4 (2002::/16)
 * or IPv4-compatible IPv6 address is judged as its IPv4 one. Unparsable: false. OIDC's fetch
 * guard uses it too (nova_oidc_addr_public). */
bool nova_webhook_address_public(const char *ip);
/* Process-wide (NOVA_WEBHOOK_ALLOW_PRIVATE, set once at start): whether nova_webhook_post may
 * talk to an address that is not public. Off (the default), such a receiver is refused once
 * its address is known, after connecting and before the request is sent: NOVA_FORBIDDEN. */
void nova_webhook_allow_private(bool allow);
/* Whether it is allowed (the email and SMS transports of nova/notify.h obey it too). */
bool nova_webhook_private_allowed(void);

/* One POST. NOVA_OK when a status arrived (any status: the caller judges it); NOVA_INVALID for
 * a request that cannot be sent (not https, missing TLS material: nothing leaves the host);
 * NOVA_FORBIDDEN for a receiver whose address is not public while that is not allowed;
 * NOVA_UNAVAILABLE when the exchange failed (connect, TLS handshake, peer not verified,
 * timeout, reply over the cap): out->error says which. out is always initialised. */
nova_status nova_webhook_post(const nova_webhook_request_t *req, nova_webhook_response_t *out);

#endif
