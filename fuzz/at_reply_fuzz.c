/*
 * at_reply_fuzz.c: libFuzzer target for Africa's Talking's reply to an SMS send (the body its
 * API, or whatever answers at a channel's base_url, sends back: outside input) through
 * nova_notify_at_parse. It returns NOVA_OK or NOVA_INVALID; an accepted reply fills at most
 * max recipients, each number and status printable ASCII and NUL-terminated within its field;
 * each number's masked form (nova_notify_phone_mask, what the delivery log shows) is too, as
 * long as the number or "?", and keeps none of the digits between the country code and the
 * last two.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nova/notify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nova_sms_recipient_t rs[4];
    memset(rs, 0x7f, sizeof(rs));
    size_t n = 99;
    nova_status st = nova_notify_at_parse((const char *)data, size, rs, 4, &n);
    if (st != NOVA_OK && st != NOVA_INVALID)
        abort();
    if (st == NOVA_INVALID && n != 0)
        abort();
    if (n > 4)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (memchr(rs[i].number, 0, sizeof(rs[i].number)) == NULL ||
            memchr(rs[i].status, 0, sizeof(rs[i].status)) == NULL)
            abort();
        for (const char *p = rs[i].number; *p; p++)
            if (*p < 0x20 || *p >= 0x7f)
                abort();
        for (const char *p = rs[i].status; *p; p++)
            if (*p < 0x20 || *p >= 0x7f)
                abort();
        (void)nova_notify_at_accepted(rs[i].status_code);
        /* A provider's code is never our "unknown" (the provider cannot claim it). */
        if (rs[i].status_code == NOVA_NOTIFY_SMS_UNKNOWN ||
            nova_notify_sms_verdict(NOVA_SMS_AFRICASTALKING, rs[i].status_code) == NOVA_SMS_UNKNOWN)
            abort();
        char m[NOVA_NOTIFY_MASK_MAX];
        memset(m, 0x7f, sizeof(m));
        nova_notify_phone_mask(rs[i].number, m);
        if (memchr(m, 0, sizeof(m)) == NULL)
            abort();
        size_t len = strlen(rs[i].number);
        if (strcmp(m, "?") != 0 && strlen(m) != len)
            abort();
        for (size_t k = 0; k < strlen(m); k++)
            if (m[k] < 0x20 || m[k] >= 0x7f ||
                (len >= 2 && k > (len - 1 >= 10 ? 3u : 1u) && k + 2 < len && m[k] != '*'))
                abort();
    }
    return 0;
}
