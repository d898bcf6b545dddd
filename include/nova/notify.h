/*
 * notify.h: outbound email and SMS (src/notify), the transports of the events domain's
 * notification channels (nova/events.h). Neither knows a store or a tenant:
 *
 * - Email over SMTP through libcurl: smtps:// (TLS from the first byte) or smtp:// with
 *   STARTTLS required, except to a loopback host, where STARTTLS is used when the server
 *   offers it; the server is verified against the caller's CA bundle, or the system's when
 *   none is given; AUTH when a username is given.
 * - SMS through an HTTP provider adapter, Africa's Talking's first: a form-encoded POST to
 *   <base>/version1/messaging with the `apiKey` header, its JSON reply read per recipient.
 *
 * Both refuse, before connecting, an address that is not public unless the process allows it
 * (nova_webhook_allow_private, NOVA_WEBHOOK_ALLOW_PRIVATE), follow no redirect, use no proxy
 * and give up after a timeout. Errors and results name codes and statuses, never a password,
 * an API key or a message body.
 */
#ifndef NOVA_NOTIFY_H
#define NOVA_NOTIFY_H

#include "nova/base.h"

#define NOVA_NOTIFY_ADDR_MAX 254
#define NOVA_NOTIFY_RECIPIENTS_MAX 10

/* Whether addr is an email address Nova sends to or from: local@domain, printable ASCII
 * without spaces, quotes, angle brackets, commas, semicolons or backslashes, a domain of
 * dot-separated labels of letters, digits and '-', at most NOVA_NOTIFY_ADDR_MAX bytes (so
 * nothing can be smuggled into a header or an SMTP command). */
bool nova_notify_email_valid(const char *addr);
/* Whether number is an E.164 phone number: '+', a non-zero digit, 7 to 15 digits in all. */
bool nova_notify_phone_valid(const char *number);
/* The form of a number a delivery log may show: '+', the country code (3 digits of a number
 * of 10 digits or more, else 1) and the last 2 digits, the rest '*' (+254711000001 ->
 * +254*******01); "?" for a string too long to be one. Never the number itself. */
#define NOVA_NOTIFY_MASK_MAX 24
void nova_notify_phone_mask(const char *number, char out[NOVA_NOTIFY_MASK_MAX]);

/* Whether url is an SMTP server URL Nova connects to: smtp:// or smtps://, a host (name, IPv4
 * or [IPv6]) and an optional port, no user info, no path beyond "/", no query, at most 512
 * bytes. *loopback (may be NULL) gets whether the host is localhost, 127.0.0.0/8 or [::1]. */
bool nova_notify_smtp_url_valid(const char *url, bool *loopback);
/* Whether url is an SMS provider base URL: https://host[:port][/path] without user info, or
 * http:// to a loopback host (a stand-in on this machine), at most 512 bytes, no query. */
bool nova_notify_base_url_valid(const char *url);

/* One recipient's line of Africa's Talking's reply. */
typedef struct nova_at_recipient {
    char number[24];
    long status_code; /* 100 processed, 101 sent, 102 queued; 4xx/5xx refused */
    char status[32];  /* "Success", "InvalidPhoneNumber", ... (printable ASCII, cut) */
} nova_at_recipient_t;

/* What one send came to. */
typedef struct nova_notify_result {
    long status;  /* the last SMTP reply code, or the HTTP status; 0 when none came */
    bool retry;   /* the failure may pass (no reply, 4xx SMTP, 5xx HTTP, provider busy) */
    bool partial; /* SMS: some recipients accepted, some refused (see recipients) */
    uint64_t duration_us;
    char error[160];  /* "" on success; else what failed (no secret, no body, no address) */
    char result[512]; /* the SMTP server's last reply line, or "+254*******01=101:Success ..."
                         (numbers masked, nova_notify_phone_mask) */
    /* SMS: the provider's line for each recipient when its reply was read (nrecipients 0
     * otherwise: nothing is known of any recipient), so a caller can send again to those
     * refused for a reason that may pass, and never to one accepted. */
    nova_at_recipient_t recipients[NOVA_NOTIFY_RECIPIENTS_MAX];
    size_t nrecipients;
} nova_notify_result_t;

typedef struct nova_notify_email {
    const char *url;      /* smtp:// or smtps:// (nova_notify_smtp_url_valid) */
    const char *username; /* NULL or "": no AUTH */
    const char *password;
    const char *ca; /* PEM bundle the server is verified against; NULL or "": the system's */
    const char *from;
    const char *const *to;
    size_t nto;
    const char *subject;    /* printable ASCII, one line */
    const char *body;       /* text; lines end in \n or \r\n */
    const char *message_id; /* "<...@...>" */
    unsigned timeout_ms;    /* whole exchange (0: 10000) */
} nova_notify_email_t;

/* Appends the RFC 5322 message of m (Date, From, To, Subject, Message-ID, MIME-Version,
 * Content-Type text/plain UTF-8, then the body with CRLF line ends). NOVA_INVALID for an
 * address, subject or id that could break a header. Pure (the unit tests drive it). */
nova_status nova_notify_email_format(const nova_notify_email_t *m, int64_t now, nova_buf_t *out);
/* Sends m once. NOVA_OK when the server accepted the message (out->status 250);
 * NOVA_INVALID for a message that cannot be sent (nothing leaves the host); NOVA_FORBIDDEN
 * for a server whose address is not public while that is not allowed; NOVA_UNAVAILABLE
 * otherwise (out->error and out->retry say what and whether to try again). out is always
 * initialised. */
nova_status nova_notify_email_send(const nova_notify_email_t *m, nova_notify_result_t *out);

/* Reads {"SMSMessageData": {"Message": ..., "Recipients": [{"statusCode", "number",
 * "status", ...}, ...]}}: up to max recipients into out, *n of them. NOVA_INVALID when the
 * text is not that shape (a recipient without a numeric statusCode or a string number).
 * Pure; the at_reply fuzz target drives it. */
nova_status nova_notify_at_parse(const char *body, size_t len, nova_at_recipient_t *out, size_t max,
                                 size_t *n);
/* Whether an Africa's Talking statusCode is an accepted message (100, 101, 102), and whether
 * a refusal may pass on a later attempt (405 insufficient balance, 500-502 provider errors). */
bool nova_notify_at_accepted(long status_code);
bool nova_notify_at_transient(long status_code);

typedef struct nova_notify_sms {
    const char *base_url; /* nova_notify_base_url_valid; "/version1/messaging" is appended */
    const char *username;
    const char *api_key;
    const char *from; /* sender id or short code; NULL or "": the provider's default */
    const char *const *to;
    size_t nto;
    const char *message;
    unsigned timeout_ms; /* 0: 10000 */
} nova_notify_sms_t;

/* Appends the form body of m (username, to (comma-separated), message, from when set),
 * percent-encoded. Pure. */
nova_status nova_notify_sms_form(const nova_notify_sms_t *m, nova_buf_t *out);
/* Sends m once to Africa's Talking. NOVA_OK when every recipient was accepted (out->partial
 * when only some were); NOVA_INVALID, NOVA_FORBIDDEN, NOVA_UNAVAILABLE as for email (no
 * recipient accepted: out->retry when one was refused for a reason that may pass).
 * out->recipients holds the reply's line per recipient; out->result lists them, masked. */
nova_status nova_notify_sms_send(const nova_notify_sms_t *m, nova_notify_result_t *out);

#endif
