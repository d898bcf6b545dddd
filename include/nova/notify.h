/*
 * notify.h: outbound email and SMS (src/notify), the transports of the events domain's
 * notification channels (nova/events.h). Neither knows a store or a tenant:
 *
 * - Email over SMTP through libcurl: smtps:// (TLS from the first byte) or smtp:// with
 *   STARTTLS required, except to a loopback host, where STARTTLS is used when the server
 *   offers it; the server is verified against the caller's CA bundle, or the system's when
 *   none is given; AUTH when a username is given.
 * - SMS through an HTTP provider adapter: Africa's Talking (a form-encoded POST to
 *   <base>/version1/messaging with the `apiKey` header, one request for every recipient, its
 *   JSON reply read per recipient) or Twilio's Programmable Messaging (a form-encoded POST to
 *   <base>/2010-04-01/Accounts/{AccountSid}/Messages.json with HTTP Basic auth, one message
 *   per recipient, each JSON reply read).
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

/* The SMS providers a channel may name. */
typedef enum nova_sms_provider {
    NOVA_SMS_AFRICASTALKING = 0,
    NOVA_SMS_TWILIO = 1,
} nova_sms_provider_t;

/* A recipient's code meaning "the provider took the request, and what it did with it is not
 * known" (a 2xx whose body does not say, or no reply after the whole request was sent).
 * Such a recipient is never sent to again by a retry: it may already have the message. */
#define NOVA_NOTIFY_SMS_UNKNOWN (-1)

/* One recipient's line of the provider's reply. */
typedef struct nova_sms_recipient {
    char number[24];
    /* Africa's Talking: its statusCode (100 processed, 101 sent, 102 queued; 4xx/5xx
     * refused). Twilio: the HTTP status of the recipient's own request (201 created; 400 a
     * refusal such as 21211, 429, 5xx). NOVA_NOTIFY_SMS_UNKNOWN: see above. */
    long status_code;
    char status[32]; /* "Success", "InvalidPhoneNumber"; Twilio "queued", "E21211", ...
                        (printable ASCII, cut) */
    char sid[40];    /* Twilio: the SID ("SM...") of the message it created; "" otherwise */
} nova_sms_recipient_t;

/* What a recipient's code comes to: accepted, refused for good, refused for a reason that
 * may pass (send again later; also code 0, a recipient the reply does not list), or unknown
 * (NOVA_NOTIFY_SMS_UNKNOWN: not sent again). */
typedef enum nova_sms_verdict {
    NOVA_SMS_ACCEPTED,
    NOVA_SMS_REFUSED,
    NOVA_SMS_TRANSIENT,
    NOVA_SMS_UNKNOWN,
} nova_sms_verdict_t;
nova_sms_verdict_t nova_notify_sms_verdict(nova_sms_provider_t provider, long status_code);

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
    nova_sms_recipient_t recipients[NOVA_NOTIFY_RECIPIENTS_MAX];
    size_t nrecipients;
    size_t unknown; /* SMS: recipients whose outcome is NOVA_NOTIFY_SMS_UNKNOWN */
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
nova_status nova_notify_at_parse(const char *body, size_t len, nova_sms_recipient_t *out,
                                 size_t max, size_t *n);
/* Whether an Africa's Talking statusCode is an accepted message (100, 101, 102), and whether
 * a refusal may pass on a later attempt (405 insufficient balance, 500-502 provider errors). */
bool nova_notify_at_accepted(long status_code);
bool nova_notify_at_transient(long status_code);

/* One recipient's reply from Twilio's Messages resource: a created message ({"sid", "status",
 * ...}) or an error ({"code", "message", "more_info", "status"}). */
typedef struct nova_twilio_reply {
    char sid[40];     /* "SM..." of a created message; "" for an error */
    char status[24];  /* the message's status ("queued", "accepted", "scheduled", ...) */
    long code;        /* the error's code (21211 invalid To, 20003 authentication, ...); 0 */
    char message[96]; /* the error's message, printable ASCII, cut */
} nova_twilio_reply_t;
/* Reads a Twilio Messages reply: NOVA_OK for a message (a string "sid" and "status") or an
 * error (an integer "code", a string "message" when present); NOVA_INVALID for anything else
 * (out then zeroed). Pure; the twilio_reply fuzz target drives it. */
nova_status nova_notify_twilio_parse(const char *body, size_t len, nova_twilio_reply_t *out);

typedef struct nova_notify_sms {
    nova_sms_provider_t provider;
    /* nova_notify_base_url_valid; Africa's Talking: "/version1/messaging" is appended;
     * Twilio: "/2010-04-01/Accounts/<account_sid>/Messages.json" */
    const char *base_url;
    /* Africa's Talking: its username. Twilio: the Basic auth user, the account SID or an API
     * key SID. */
    const char *username;
    /* Africa's Talking: the API key. Twilio: the auth token, or the API key's secret. */
    const char *api_key;
    /* Africa's Talking: a sender id or short code. Twilio: the From number or sender id
     * (NULL: messaging_service_sid instead). NULL or "": the provider's default. */
    const char *from;
    const char *account_sid;           /* Twilio: AC... */
    const char *messaging_service_sid; /* Twilio: MG..., instead of from */
    const char *status_callback;       /* Twilio: StatusCallback URL; NULL: none */
    const char *const *to;
    size_t nto;
    const char *message;
    /* The whole send: with Twilio every recipient's request shares it (0: 10000) */
    unsigned timeout_ms;
} nova_notify_sms_t;

/* Appends the Africa's Talking form body of m (username, to (comma-separated), message, from
 * when set), percent-encoded. Pure. */
nova_status nova_notify_sms_form(const nova_notify_sms_t *m, nova_buf_t *out);
/* Appends the Twilio form body of one message of m to the number to (To, From or
 * MessagingServiceSid, Body, StatusCallback when set), percent-encoded. Pure. */
nova_status nova_notify_twilio_form(const nova_notify_sms_t *m, const char *to, nova_buf_t *out);
/* Twilio's status callbacks (twilio_callback.c). Twilio posts a form of MessageSid,
 * MessageStatus, AccountSid, ErrorCode (when it failed), To, From, ApiVersion, ... to the
 * StatusCallback URL a message was sent with, signed in X-Twilio-Signature:
 * base64(HMAC-SHA1(the account's auth token, that URL, then every parameter's name and value
 * sorted by name)). Only the auth token signs: an API key's secret cannot check it. */
#define NOVA_TWILIO_CALLBACK_MAX 64
#define NOVA_TWILIO_SIGNATURE_LEN 28 /* base64 of the 20 bytes of HMAC-SHA1 */
typedef struct nova_twilio_callback {
    const char *param[NOVA_TWILIO_CALLBACK_MAX][2]; /* name, value (decoded), sorted by name */
    size_t n;
    const char *message_sid;    /* SM... or MM... (32 hex digits) */
    const char *message_status; /* 1 to 32 of a-z and '_' (nova_notify_twilio_status_rank) */
    const char *account_sid;    /* AC... */
    long error_code;            /* ErrorCode; 0 when absent or empty */
} nova_twilio_callback_t;
/* Reads a status callback's form body: the parameters into out (arena strings), sorted for
 * the signature. NOVA_INVALID, *why saying what, for a malformed form (nova_form_decode's
 * rules, an empty or repeated name, more than NOVA_TWILIO_CALLBACK_MAX parameters) or a
 * MessageSid, MessageStatus, AccountSid or ErrorCode that is missing or not Twilio's shape.
 * Pure; the twilio_callback fuzz target drives it. */
nova_status nova_notify_twilio_callback_parse(nova_arena_t *a, const char *body, size_t len,
                                              nova_twilio_callback_t *out, const char **why);
/* The value of a parameter of cb, or NULL. */
const char *nova_notify_twilio_callback_get(const nova_twilio_callback_t *cb, const char *name);
/* Twilio's signature of cb posted to url under token (base64, NUL-terminated). */
nova_status nova_notify_twilio_signature(const char *token, const char *url,
                                         const nova_twilio_callback_t *cb,
                                         char out[NOVA_TWILIO_SIGNATURE_LEN + 1]);
/* Whether header is Twilio's signature of cb posted to url under token (compared in constant
 * time; false for a NULL header or token). */
bool nova_notify_twilio_signature_ok(const char *token, const char *url,
                                     const nova_twilio_callback_t *cb, const char *header);
/* The rank of a Twilio message status: accepted and scheduled 1, queued 2, sending 3, sent 4,
 * partially_delivered 5, delivered, undelivered, failed and canceled 6, read 7; 0 for one
 * Nova does not know. A message's status only moves to a higher rank (callbacks come out of
 * order: a late "sent" never replaces "delivered"). */
int nova_notify_twilio_status_rank(const char *status);
/* Whether s is a Twilio SID: the two-letter prefix and 32 hex digits. */
bool nova_notify_twilio_sid_valid(const char *s, const char *prefix);

/* Sends m once through its provider. NOVA_OK when every recipient was accepted (out->partial
 * when only some were); NOVA_INVALID, NOVA_FORBIDDEN, NOVA_UNAVAILABLE as for email (no
 * recipient accepted: out->retry when one was refused for a reason that may pass).
 * out->recipients holds a line per recipient the provider's replies speak of (a Twilio send
 * stops at a 429, or when the time is spent: the rest have no line); a recipient whose
 * request the provider took without saying what it did has NOVA_NOTIFY_SMS_UNKNOWN (then
 * out->unknown counts them). out->result lists them, masked. */
nova_status nova_notify_sms_send(const nova_notify_sms_t *m, nova_notify_result_t *out);

#endif
