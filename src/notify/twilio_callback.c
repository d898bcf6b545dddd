/*
 * twilio_callback.c: Twilio's message status callbacks (nova/notify.h). Twilio posts
 * application/x-www-form-urlencoded parameters (MessageSid, MessageStatus, AccountSid,
 * ErrorCode, To, From, ApiVersion, ...) to the StatusCallback URL the message was sent with,
 * and signs each request: X-Twilio-Signature is base64(HMAC-SHA1(auth token, the full URL it
 * posted to, then each POST parameter's name and value, sorted by name, with nothing between
 * them)). Values are signed decoded, as the application reads them.
 *
 * The parser refuses what Nova cannot sign over exactly as Twilio did: a bad escape, a control
 * character or invalid UTF-8 (nova_form_decode), a repeated name (a status callback has none;
 * Twilio's rule for repeats would need the values sorted too), more than
 * NOVA_TWILIO_CALLBACK_MAX parameters. It keeps To and From as given (the signature covers
 * them), but nothing here logs them; a caller keeps only the message's SID and status.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "internal.h"

/* Twilio's message statuses, in the order a message moves through them: a callback may come
 * late, so a status only replaces one of a lower rank. Every final status has the same rank
 * (the first final one reported stays), except read, which follows delivered. */
static const struct {
    const char *name;
    int rank;
} statuses[] = {
    {"accepted", 1},  {"scheduled", 1},   {"queued", 2},
    {"sending", 3},   {"sent", 4},        {"partially_delivered", 5},
    {"delivered", 6}, {"undelivered", 6}, {"failed", 6},
    {"canceled", 6},  {"read", 7},
};

int nova_notify_twilio_status_rank(const char *status)
{
    for (size_t i = 0; status && i < sizeof(statuses) / sizeof(statuses[0]); i++)
        if (strcmp(statuses[i].name, status) == 0)
            return statuses[i].rank;
    return 0;
}

static bool hex32(const char *s)
{
    for (size_t i = 0; i < 32; i++)
        if (strchr("0123456789abcdefABCDEF", s[i]) == NULL || s[i] == '\0')
            return false;
    return s[32] == '\0';
}

bool nova_notify_twilio_sid_valid(const char *s, const char *prefix)
{
    return s && prefix && strlen(prefix) == 2 && strncmp(s, prefix, 2) == 0 && hex32(s + 2);
}

static int by_name(const void *x, const void *y)
{
    const char *const *a = x, *const *b = y;
    return strcmp(a[0], b[0]);
}

const char *nova_notify_twilio_callback_get(const nova_twilio_callback_t *cb, const char *name)
{
    for (size_t i = 0; i < cb->n; i++)
        if (strcmp(cb->param[i][0], name) == 0)
            return cb->param[i][1];
    return NULL;
}

/* One pair of the callback's form: an empty name NOVA_INVALID, a repeated one
 * NOVA_CONFLICT, one past NOVA_TWILIO_CALLBACK_MAX NOVA_TOO_LARGE. */
static nova_status callback_pair(void *ud, char *name, char *value)
{
    nova_twilio_callback_t *out = ud;
    if (*name == '\0')
        return NOVA_INVALID;
    if (nova_notify_twilio_callback_get(out, name))
        return NOVA_CONFLICT;
    if (out->n == NOVA_TWILIO_CALLBACK_MAX)
        return NOVA_TOO_LARGE;
    out->param[out->n][0] = name;
    out->param[out->n][1] = value;
    out->n++;
    return NOVA_OK;
}

nova_status nova_notify_twilio_callback_parse(nova_arena_t *a, const char *body, size_t len,
                                              nova_twilio_callback_t *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    *why = "";
    nova_status st = nova_form_each(a, body, len, callback_pair, out);
    if (st != NOVA_OK) {
        *why = st == NOVA_CONFLICT    ? "a parameter is repeated"
               : st == NOVA_TOO_LARGE ? "too many parameters"
                                      : "a malformed form: a bad escape, a control character, "
                                        "invalid UTF-8 or an empty name";
        return NOVA_INVALID;
    }
    qsort(out->param, out->n, sizeof(out->param[0]), by_name);
    out->message_sid = nova_notify_twilio_callback_get(out, "MessageSid");
    out->message_status = nova_notify_twilio_callback_get(out, "MessageStatus");
    out->account_sid = nova_notify_twilio_callback_get(out, "AccountSid");
    const char *code = nova_notify_twilio_callback_get(out, "ErrorCode");
    if (!nova_notify_twilio_sid_valid(out->message_sid, "SM") &&
        !nova_notify_twilio_sid_valid(out->message_sid, "MM")) {
        *why = "MessageSid: a Twilio message SID (SM or MM and 32 hex digits)";
        return NOVA_INVALID;
    }
    size_t sn = out->message_status ? strlen(out->message_status) : 0;
    if (sn == 0 || sn > 32 || strspn(out->message_status, "abcdefghijklmnopqrstuvwxyz_") != sn) {
        *why = "MessageStatus: a Twilio message status (queued, sent, delivered, ...)";
        return NOVA_INVALID;
    }
    if (!nova_notify_twilio_sid_valid(out->account_sid, "AC")) {
        *why = "AccountSid: a Twilio account SID (AC and 32 hex digits)";
        return NOVA_INVALID;
    }
    if (code && *code) {
        size_t cn = strlen(code);
        if (cn > 6 || strspn(code, "0123456789") != cn) {
            *why = "ErrorCode: Twilio's error code (digits)";
            return NOVA_INVALID;
        }
        out->error_code = strtol(code, NULL, 10);
    }
    return NOVA_OK;
}

nova_status nova_notify_twilio_signature(const char *token, const char *url,
                                         const nova_twilio_callback_t *cb,
                                         char out[NOVA_TWILIO_SIGNATURE_LEN + 1])
{
    out[0] = '\0';
    if (token == NULL || *token == '\0' || url == NULL)
        return NOVA_INVALID;
    nova_status st = NOVA_NOMEM;
    unsigned char mac[EVP_MAX_MD_SIZE];
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *c = m ? EVP_MAC_CTX_new(m) : NULL;
    OSSL_PARAM ps[] = {OSSL_PARAM_construct_utf8_string("digest", "SHA1", 0), OSSL_PARAM_END};
    int ok = c && EVP_MAC_init(c, (const unsigned char *)token, strlen(token), ps) &&
             EVP_MAC_update(c, (const unsigned char *)url, strlen(url));
    for (size_t i = 0; ok && i < cb->n; i++)
        ok = EVP_MAC_update(c, (const unsigned char *)cb->param[i][0], strlen(cb->param[i][0])) &&
             EVP_MAC_update(c, (const unsigned char *)cb->param[i][1], strlen(cb->param[i][1]));
    size_t ml = 0;
    if (ok && EVP_MAC_final(c, mac, &ml, sizeof(mac)) && ml == 20) {
        EVP_EncodeBlock((unsigned char *)out, mac, (int)ml);
        st = NOVA_OK;
    }
    OPENSSL_cleanse(mac, sizeof(mac));
    EVP_MAC_CTX_free(c);
    EVP_MAC_free(m);
    return st;
}

bool nova_notify_twilio_signature_ok(const char *token, const char *url,
                                     const nova_twilio_callback_t *cb, const char *header)
{
    char want[NOVA_TWILIO_SIGNATURE_LEN + 1];
    if (header == NULL || nova_notify_twilio_signature(token, url, cb, want) != NOVA_OK)
        return false;
    bool ok = nova_ct_equal(want, strlen(want), header, strlen(header));
    OPENSSL_cleanse(want, sizeof(want));
    return ok;
}
