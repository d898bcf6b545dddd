/*
 * notify_channel_fuzz.c: libFuzzer target for a tenant's email or SMS channel settings (a
 * POST or PATCH body, outside input) through nova_channel_parse, on its own and as a PATCH of
 * a stored email channel and of a stored Twilio channel. It returns NOVA_OK or NOVA_INVALID
 * (with a field and a reason); an accepted channel has a kind, a target of its kind and
 * provider (a Twilio channel stays one), settings that are JSON without a secret member and known
 * event types; an accepted message built for it names only safe characters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nova/events.h"

static void check(nova_status st, const nova_channel_in_t *in, const nova_events_problem_t *pb,
                  bool twilio_old)
{
    if (st == NOVA_INVALID) {
        if (pb->field == NULL || pb->why == NULL || *pb->why == '\0')
            abort();
        return;
    }
    if (st != NOVA_OK)
        return; /* NOVA_NOMEM under the fuzzer's limits */
    bool email = strcmp(in->kind, "email") == 0;
    if (!email && strcmp(in->kind, "sms") != 0)
        abort();
    /* URL schemes are case-insensitive (RFC 3986 §3.1), as address.c and email.c read them */
    bool twilio = strstr(in->target, "/2010-04-01/Accounts/AC") != NULL &&
                  strlen(in->target) > 14 &&
                  strcmp(in->target + strlen(in->target) - 14, "/Messages.json") == 0;
    if (email ? strncasecmp(in->target, "smtp", 4) != 0
              : !twilio && strstr(in->target, "/version1/messaging") == NULL)
        abort();
    if (twilio_old && !twilio)
        abort();
    json_t *s = json_loads(in->settings, 0, NULL);
    if (!json_is_object(s) || in->events == NULL || *in->events == '\0')
        abort();
    const char *p = json_string_value(json_object_get(s, "provider"));
    if (!email && (p == NULL || (strcmp(p, "twilio") == 0) != twilio))
        abort();
    /* No secret member is kept in the clear settings. */
    static const char *const secrets[] = {"password", "api_key", "auth_token", "api_key_secret"};
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
        if (json_object_get(s, secrets[i]) != NULL)
            abort();
    json_decref(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = json_loadb((const char *)data, size, 0, NULL);
    if (body == NULL)
        return 0;
    nova_arena_t a;
    nova_arena_init(&a, 4096);
    nova_channel_in_t in;
    nova_events_problem_t pb;
    check(nova_channel_parse(&a, body, NULL, &in, &pb), &in, &pb, false);
    static const uint8_t sealed[] = {1, 2, 3};
    nova_notify_channel_row_t old = {
        .tenant_id = "ten_f",
        .id = "nch_f",
        .kind = "email",
        .target = "smtp://mail.example.com",
        .settings = "{\"from\":\"n@example.com\",\"smtp_url\":\"smtp://mail.example.com\","
                    "\"to\":[\"a@example.com\"],\"username\":\"u\"}",
        .secret = sealed,
        .secret_len = sizeof(sealed),
        .events = "verification.completed",
        .enabled = true,
    };
    check(nova_channel_parse(&a, body, &old, &in, &pb), &in, &pb, false);
    nova_notify_channel_row_t tw = old;
    tw.kind = "sms";
    tw.target = "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/"
                "Messages.json";
    tw.settings = "{\"provider\":\"twilio\",\"account_sid\":\"AC0123456789abcdef0123456789abcdef\","
                  "\"from\":\"+15005550006\",\"to\":[\"+254711000001\"]}";
    check(nova_channel_parse(&a, body, &tw, &in, &pb), &in, &pb, true);
    /* The message of a payload taken from the input. */
    const char *subject = NULL, *text = NULL;
    char *payload = json_dumps(body, JSON_COMPACT);
    if (payload &&
        nova_channel_message(&a, "email", "evt_f", payload, &subject, &text) == NOVA_OK) {
        for (const char *p = subject; *p; p++)
            if (*p == '\r' || *p == '\n')
                abort();
    }
    free(payload);
    json_decref(body);
    nova_arena_free(&a);
    return 0;
}
