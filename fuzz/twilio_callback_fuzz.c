/*
 * twilio_callback_fuzz.c: libFuzzer target for Twilio's status callback body (outside input:
 * anyone may post to the public route before the signature is checked) through
 * nova_notify_twilio_callback_parse, then its signature (nova_notify_twilio_signature). An
 * accepted body has at most NOVA_TWILIO_CALLBACK_MAX parameters, sorted by name with no name
 * twice, none empty, no control character in any; MessageSid, MessageStatus and AccountSid
 * of Twilio's shape, ErrorCode in 0..999999; its signature is 28 base64 characters and checks
 * against itself, and the same body with one byte of the token changed does not. A refusal
 * says why. A violation aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nova/notify.h"

static void clean(const char *s)
{
    if (s == NULL)
        abort();
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nova_arena_t a;
    nova_arena_init(&a, 4096);
    nova_twilio_callback_t cb;
    const char *why = NULL;
    nova_status st = nova_notify_twilio_callback_parse(&a, (const char *)data, size, &cb, &why);
    if (st != NOVA_OK) {
        if (st != NOVA_INVALID || why == NULL || *why == '\0')
            abort();
        nova_arena_free(&a);
        return 0;
    }
    if (cb.n > NOVA_TWILIO_CALLBACK_MAX)
        abort();
    for (size_t i = 0; i < cb.n; i++) {
        clean(cb.param[i][0]);
        clean(cb.param[i][1]);
        if (*cb.param[i][0] == '\0' || (i > 0 && strcmp(cb.param[i - 1][0], cb.param[i][0]) >= 0))
            abort();
    }
    if (!(nova_notify_twilio_sid_valid(cb.message_sid, "SM") ||
          nova_notify_twilio_sid_valid(cb.message_sid, "MM")) ||
        !nova_notify_twilio_sid_valid(cb.account_sid, "AC") || cb.message_status == NULL ||
        strlen(cb.message_status) == 0 || strlen(cb.message_status) > 32 || cb.error_code < 0 ||
        cb.error_code > 999999)
        abort();
    (void)nova_notify_twilio_status_rank(cb.message_status);
    char sig[NOVA_TWILIO_SIGNATURE_LEN + 1];
    const char *url = "https://nova.example/webhooks/twilio/status/ten_a/nch_b";
    if (nova_notify_twilio_signature("token", url, &cb, sig) != NOVA_OK ||
        strlen(sig) != NOVA_TWILIO_SIGNATURE_LEN ||
        !nova_notify_twilio_signature_ok("token", url, &cb, sig) ||
        nova_notify_twilio_signature_ok("tokem", url, &cb, sig))
        abort();
    nova_arena_free(&a);
    return 0;
}
