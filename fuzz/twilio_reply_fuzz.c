/*
 * twilio_reply_fuzz.c: libFuzzer target for Twilio's reply to a message create (the body its
 * Messages resource, or whatever answers at a Twilio channel's base_url, sends back: outside
 * input) through nova_notify_twilio_parse. It returns NOVA_OK or NOVA_INVALID; a refused reply
 * leaves the reply zeroed; an accepted one is a message (a non-empty sid, no code) or an error
 * (a code in 0..999999, no sid), with sid and status printable ASCII and NUL-terminated within
 * their fields. Whatever the reply, the line a recipient gets from it reads as a verdict.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nova/notify.h"

static bool printable(const char *s, size_t cap)
{
    if (memchr(s, 0, cap) == NULL)
        return false;
    for (const char *p = s; *p; p++)
        if (*p < 0x20 || *p >= 0x7f)
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nova_twilio_reply_t tw;
    memset(&tw, 0x7f, sizeof(tw));
    nova_status st = nova_notify_twilio_parse((const char *)data, size, &tw);
    if (st != NOVA_OK && st != NOVA_INVALID)
        abort();
    if (!printable(tw.sid, sizeof(tw.sid)) || !printable(tw.status, sizeof(tw.status)))
        abort();
    if (st == NOVA_INVALID && (tw.sid[0] || tw.status[0] || tw.code != 0))
        abort();
    if (tw.code < 0 || tw.code > 999999 || (tw.sid[0] && tw.code != 0))
        abort();
    /* The HTTP statuses a reply can come with all read as a verdict, none as unknown. */
    for (long status = 100; status < 600; status += 7)
        if (nova_notify_sms_verdict(NOVA_SMS_TWILIO, status) == NOVA_SMS_UNKNOWN)
            abort();
    return 0;
}
