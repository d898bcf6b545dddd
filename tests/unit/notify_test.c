/*
 * notify_test.c: email and SMS notifications without a server (src/notify, src/events
 * channels.c, src/store/notify_channels.c): what addresses, numbers and URLs pass (nothing
 * that could break a header or an SMTP command), the STARTTLS rule, the RFC 5322 message
 * (CRLF line ends, no header injection), the Africa's Talking form and reply, the channel
 * settings (field named on refusal, PATCH keeps what it leaves out, type cannot change), the
 * message text (ids, statuses and codes only), and the repository: a channel's deliveries are
 * written with the event, none when it is disabled, its pending ones fail when disabled or
 * deleted, another tenant sees nothing. SQLite in memory, or NOVA_TEST_PG_URL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/events/internal.h"
#include "../../src/store/internal.h"
#include "nova/auth.h"
#include "nova/events.h"
#include "nova/notify.h"

static void test_addresses(void **state)
{
    (void)state;
    assert_true(nova_notify_email_valid("ops@example.com"));
    assert_true(nova_notify_email_valid("a.b+tag@mail.example.co.ke"));
    assert_false(nova_notify_email_valid("ops@example"));
    assert_false(nova_notify_email_valid("ops"));
    assert_false(nova_notify_email_valid("@example.com"));
    assert_false(nova_notify_email_valid("o ps@example.com"));
    assert_false(nova_notify_email_valid("ops@example.com\r\nBcc: x@y.com"));
    assert_false(nova_notify_email_valid("<ops@example.com>"));
    assert_false(nova_notify_email_valid("ops@-example.com"));
    assert_false(nova_notify_email_valid("a..b@example.com"));
    assert_false(nova_notify_email_valid("a,b@example.com"));
    assert_false(nova_notify_email_valid(NULL));

    assert_true(nova_notify_phone_valid("+254711000001"));
    assert_true(nova_notify_phone_valid("+2348031234567"));
    assert_false(nova_notify_phone_valid("0711000001"));
    assert_false(nova_notify_phone_valid("+0711000001"));
    assert_false(nova_notify_phone_valid("+25471100000a"));
    assert_false(nova_notify_phone_valid("+123456"));
    assert_false(nova_notify_phone_valid("+1234567890123456"));

    bool lo = true;
    assert_true(nova_notify_smtp_url_valid("smtp://mail.example.com:587", &lo));
    assert_false(lo);
    assert_true(nova_notify_smtp_url_valid("smtps://mail.example.com", &lo));
    assert_false(lo);
    assert_true(nova_notify_smtp_url_valid("smtp://127.0.0.1:2525/", &lo));
    assert_true(lo);
    assert_true(nova_notify_smtp_url_valid("smtp://localhost", &lo));
    assert_true(lo);
    assert_true(nova_notify_smtp_url_valid("smtp://[::1]:25", &lo));
    assert_true(lo);
    assert_true(nova_notify_smtp_url_valid("smtp://127.0.0.1.example.com", &lo));
    assert_false(lo);
    assert_false(nova_notify_smtp_url_valid("smtp://u:p@mail.example.com", NULL));
    assert_false(nova_notify_smtp_url_valid("smtp://mail.example.com/x", NULL));
    assert_false(nova_notify_smtp_url_valid("smtp://mail.example.com:0", NULL));
    assert_false(nova_notify_smtp_url_valid("smtp://mail.example.com:70000", NULL));
    assert_false(nova_notify_smtp_url_valid("https://mail.example.com", NULL));
    assert_false(nova_notify_smtp_url_valid("smtp://mail example.com", NULL));

    assert_true(nova_notify_base_url_valid("https://api.africastalking.com"));
    assert_true(nova_notify_base_url_valid("https://gw.example.com:8443/at/"));
    assert_true(nova_notify_base_url_valid("http://127.0.0.1:9000"));
    assert_false(nova_notify_base_url_valid("http://api.africastalking.com"));
    assert_false(nova_notify_base_url_valid("https://gw.example.com/?x=1"));
    assert_false(nova_notify_base_url_valid("https://u@gw.example.com"));
    assert_false(nova_notify_base_url_valid("ftp://gw.example.com"));
}

static void test_email_format(void **state)
{
    (void)state;
    const char *to[] = {"ops@example.com", "risk@example.org"};
    nova_notify_email_t m = {.url = "smtp://127.0.0.1",
                             .from = "nova@example.com",
                             .to = to,
                             .nto = 2,
                             .subject = "Nova: verification.completed vrf_1",
                             .body = "line one\nline two\r\n.dot line\rlast",
                             .message_id = "<evt_1.nch_1@example.com>"};
    nova_buf_t b;
    nova_buf_init(&b);
    assert_int_equal(nova_notify_email_format(&m, 1767225600, &b), NOVA_OK);
    nova_buf_append(&b, "", 1);
    const char *want = "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
                       "From: <nova@example.com>\r\n"
                       "To: <ops@example.com>, <risk@example.org>\r\n"
                       "Subject: Nova: verification.completed vrf_1\r\n"
                       "Message-ID: <evt_1.nch_1@example.com>\r\n"
                       "MIME-Version: 1.0\r\n"
                       "Content-Type: text/plain; charset=utf-8\r\n"
                       "Content-Transfer-Encoding: 8bit\r\n"
                       "Auto-Submitted: auto-generated\r\n"
                       "\r\n"
                       "line one\r\nline two\r\n.dot line\r\nlast\r\n";
    assert_string_equal(b.data, want);
    nova_buf_free(&b);
    /* Nothing that could add a header. */
    nova_notify_email_t bad = m;
    bad.subject = "hi\r\nBcc: thief@example.net";
    nova_buf_init(&b);
    assert_int_equal(nova_notify_email_format(&bad, 0, &b), NOVA_INVALID);
    bad = m;
    const char *evil[] = {"ops@example.com>\r\nBcc: <x@y.com"};
    bad.to = evil;
    bad.nto = 1;
    assert_int_equal(nova_notify_email_format(&bad, 0, &b), NOVA_INVALID);
    bad = m;
    bad.message_id = "no-brackets";
    assert_int_equal(nova_notify_email_format(&bad, 0, &b), NOVA_INVALID);
    bad = m;
    bad.nto = 0;
    assert_int_equal(nova_notify_email_format(&bad, 0, &b), NOVA_INVALID);
    nova_buf_free(&b);
    /* The transport refuses before connecting. */
    nova_notify_result_t r;
    bad = m;
    bad.url = "http://127.0.0.1";
    assert_int_equal(nova_notify_email_send(&bad, &r), NOVA_INVALID);
    assert_string_not_equal(r.error, "");
}

static void test_sms_form_and_reply(void **state)
{
    (void)state;
    const char *to[] = {"+254711000001", "+254722000002"};
    nova_notify_sms_t m = {.base_url = "http://127.0.0.1:1",
                           .username = "sandbox",
                           .api_key = "k",
                           .from = "NOVA",
                           .to = to,
                           .nto = 2,
                           .message = "Nova a&b=c 100%"};
    nova_buf_t b;
    nova_buf_init(&b);
    assert_int_equal(nova_notify_sms_form(&m, &b), NOVA_OK);
    nova_buf_append(&b, "", 1);
    assert_string_equal(b.data, "username=sandbox&to=%2B254711000001%2C%2B254722000002&message="
                                "Nova+a%26b%3Dc+100%25&from=NOVA");
    nova_buf_free(&b);
    const char *bad_to[] = {"0711000001"};
    m.to = bad_to;
    m.nto = 1;
    nova_buf_init(&b);
    assert_int_equal(nova_notify_sms_form(&m, &b), NOVA_INVALID);
    nova_buf_free(&b);

    const char *reply =
        "{\"SMSMessageData\":{\"Message\":\"Sent to 1/2 Total Cost: KES 0.8000\",\"Recipients\":["
        "{\"statusCode\":101,\"number\":\"+254711000001\",\"status\":\"Success\",\"cost\":\"KES "
        "0.8000\",\"messageId\":\"ATXid_1\"},{\"statusCode\":403,\"number\":\"+254722000002\","
        "\"status\":\"InvalidPhoneNumber\",\"cost\":\"0\",\"messageId\":\"None\"}]}}";
    nova_sms_recipient_t rs[4];
    size_t n = 0;
    assert_int_equal(nova_notify_at_parse(reply, strlen(reply), rs, 4, &n), NOVA_OK);
    assert_int_equal(n, 2);
    assert_string_equal(rs[0].number, "+254711000001");
    assert_int_equal(rs[0].status_code, 101);
    assert_string_equal(rs[1].status, "InvalidPhoneNumber");
    assert_true(nova_notify_at_accepted(rs[0].status_code));
    assert_false(nova_notify_at_accepted(rs[1].status_code));
    assert_false(nova_notify_at_transient(403));
    assert_true(nova_notify_at_transient(500));
    assert_true(nova_notify_at_transient(405));
    /* Only what is recipients-shaped passes; at most max are kept. */
    assert_int_equal(nova_notify_at_parse(reply, strlen(reply), rs, 1, &n), NOVA_OK);
    assert_int_equal(n, 1);
    const char *bad[] = {"",
                         "{}",
                         "[]",
                         "{\"SMSMessageData\":{}}",
                         "{\"SMSMessageData\":{\"Recipients\":[{\"number\":\"+1\"}]}}",
                         ("{\"SMSMessageData\":{\"Recipients\":[{\"statusCode\":\"101\","
                          "\"number\":\"+1\"}]}}")};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(nova_notify_at_parse(bad[i], strlen(bad[i]), rs, 4, &n), NOVA_INVALID);
        assert_int_equal(n, 0);
    }
    /* Control characters from the provider do not reach the log. */
    const char *ctl = "{\"SMSMessageData\":{\"Recipients\":[{\"statusCode\":101,\"number\":"
                      "\"+1\\r\\nX\",\"status\":\"Su\\u0007ccess\"}]}}";
    assert_int_equal(nova_notify_at_parse(ctl, strlen(ctl), rs, 4, &n), NOVA_OK);
    assert_string_equal(rs[0].number, "+1??X");
    assert_string_equal(rs[0].status, "Su?ccess");
}

/* An SMS delivery recipient by recipient: numbers masked for the log, tags stable under one
 * master key and different under another, and what the log of a round settles. */
static void test_sms_recipients(void **state)
{
    (void)state;
    char m[NOVA_NOTIFY_MASK_MAX];
    nova_notify_phone_mask("+254711000001", m);
    assert_string_equal(m, "+254*******01");
    nova_notify_phone_mask("+2348031234567", m);
    assert_string_equal(m, "+234********67");
    nova_notify_phone_mask("+1234567", m);
    assert_string_equal(m, "+1****67");
    nova_notify_phone_mask("+1\r\n", m);
    assert_string_equal(m, "+1??");
    nova_notify_phone_mask("+1234567890123456789012345", m);
    assert_string_equal(m, "?");
    nova_notify_phone_mask(NULL, m);
    assert_string_equal(m, "?");

    nova_auth_config_t ac = {.issuer = "https://nova.test",
                             .audience = "nova-api",
                             .token_ttl = 300,
                             .alg = NOVA_JWS_EDDSA};
    memset(ac.master_key, 7, sizeof(ac.master_key));
    nova_auth_t *auth = NULL, *other = NULL;
    assert_int_equal(nova_auth_new(&ac, &auth), NOVA_OK);
    memset(ac.master_key, 8, sizeof(ac.master_key));
    assert_int_equal(nova_auth_new(&ac, &other), NOVA_OK);
    nova_events_cfg_t cfg = {auth, NULL, NULL}, ocfg = {other, NULL, NULL};
    char ta[EVENTS_TAG_LEN + 1], tb[EVENTS_TAG_LEN + 1], ta2[EVENTS_TAG_LEN + 1],
        tx[EVENTS_TAG_LEN + 1], to[EVENTS_TAG_LEN + 1];
    assert_int_equal(events_recipient_tag(&cfg, "ten_1", "+254711000001", ta), NOVA_OK);
    assert_int_equal(events_recipient_tag(&cfg, "ten_1", "+254722000002", tb), NOVA_OK);
    assert_int_equal(events_recipient_tag(&cfg, "ten_1", "+254711000001", ta2), NOVA_OK);
    assert_int_equal(events_recipient_tag(&cfg, "ten_2", "+254711000001", tx), NOVA_OK);
    assert_int_equal(events_recipient_tag(&ocfg, "ten_1", "+254711000001", to), NOVA_OK);
    assert_int_equal(strlen(ta), EVENTS_TAG_LEN);
    assert_string_equal(ta, ta2);
    assert_string_not_equal(ta, tb);
    assert_string_not_equal(ta, tx);
    assert_string_not_equal(ta, to);
    assert_null(strstr(ta, "254711"));
    nova_auth_free(auth);
    nova_auth_free(other);

    /* Four recipients; the log of delivery d: attempt 1 (an earlier round), 2 and 3. */
    const char *tags[] = {"aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "cccccccccccccccc",
                          "dddddddddddddddd"};
    char r1[160], r2[200], r3[160];
    snprintf(r1, sizeof(r1), "+254*******01#%s=101:Success +254*******02#%s=101:Success", tags[0],
             tags[1]);
    snprintf(r2, sizeof(r2),
             "+254*******01#%s=101:Success +254*******02#%s=405:InsufficientBalance "
             "+254*******03#%s=403:InvalidPhoneNumber +254*******04#%s=0:NotListed",
             tags[0], tags[1], tags[2], tags[3]);
    snprintf(r3, sizeof(r3), "+254*******02#%s=502:RejectedByGateway", tags[1]);
    nova_attempt_row_t at[] = {
        {"evt_1:nch_1", 1, 201, 10, "", 0, r1},
        {"evt_1:nch_1", 2, 201, 10, "", 0, r2},
        {"evt_1:nch_2", 2, 201, 10, "", 0, r1}, /* another delivery's */
        {"evt_1:nch_1", 3, 201, 10, "", 0, r3},
        {"evt_1:nch_1", 4, 500, 10, "HTTP status 500", 0, ""},
        {"evt_1:nch_1", 5, 201, 10, "", 0, "+254*******04#dddddddddddd=101:Success x#"},
    };
    bool settled[4], accepted[4], unknown[4];
    events_sms_settled(NOVA_SMS_AFRICASTALKING, tags, 4, at, 6, "evt_1:nch_1", 1, settled, accepted,
                       unknown);
    assert_true(settled[0] && accepted[0]);  /* accepted in this round */
    assert_false(settled[1] || accepted[1]); /* refused twice, for reasons that may pass */
    assert_true(settled[2] && !accepted[2]); /* an invalid number: not sent again */
    assert_false(settled[3] || accepted[3]); /* no line for it; a cut tag names nobody */
    /* From the first round on, B was accepted in attempt 1 already. */
    events_sms_settled(NOVA_SMS_AFRICASTALKING, tags, 4, at, 6, "evt_1:nch_1", 0, settled, accepted,
                       unknown);
    assert_true(settled[1] && accepted[1]);
    /* A new round (a replay after attempt 5): nothing settled. */
    events_sms_settled(NOVA_SMS_AFRICASTALKING, tags, 4, at, 6, "evt_1:nch_1", 5, settled, accepted,
                       unknown);
    for (size_t i = 0; i < 4; i++)
        assert_false(settled[i] || accepted[i] || unknown[i]);

    /* Unknown (the provider took the request, its reply did not say): settled, not accepted,
     * whatever the provider; Twilio's codes are HTTP statuses of each recipient's request. */
    char u1[200], t1[260];
    snprintf(u1, sizeof(u1), "+254*******01#%s=-1:Unknown +254*******02#%s=-1:Unknown", tags[0],
             tags[1]);
    snprintf(t1, sizeof(t1),
             "+254*******01#%s=201:queued +254*******02#%s=400:E21211 +254*******03#%s=429:E20429 "
             "+254*******04#%s=500:-",
             tags[0], tags[1], tags[2], tags[3]);
    nova_attempt_row_t ua[] = {{"evt_2:nch_1", 1, 201, 10, "", 0, u1}};
    nova_attempt_row_t ta_[] = {{"evt_3:nch_1", 1, 500, 10, "", 0, t1}};
    events_sms_settled(NOVA_SMS_AFRICASTALKING, tags, 4, ua, 1, "evt_2:nch_1", 0, settled, accepted,
                       unknown);
    assert_true(settled[0] && unknown[0] && !accepted[0]);
    assert_true(settled[1] && unknown[1] && !accepted[1]);
    assert_false(settled[2] || unknown[2]);
    events_sms_settled(NOVA_SMS_TWILIO, tags, 4, ta_, 1, "evt_3:nch_1", 0, settled, accepted,
                       unknown);
    assert_true(settled[0] && accepted[0] && !unknown[0]); /* 201 */
    assert_true(settled[1] && !accepted[1]);               /* 400 21211: for good */
    assert_false(settled[2] || settled[3]);                /* 429, 500: again later */
    /* Read as Africa's Talking's codes, 201 and 429 would be refusals for good, 400 too. */
    events_sms_settled(NOVA_SMS_AFRICASTALKING, tags, 4, ta_, 1, "evt_3:nch_1", 0, settled,
                       accepted, unknown);
    assert_false(accepted[0]);
}

/* Twilio's status callbacks: the form read and sorted, Twilio's published signature example
 * reproduced, a changed parameter or URL or token refused, statuses ranked. */
static void test_twilio_callback(void **state)
{
    (void)state;
    nova_arena_t a;
    nova_arena_init(&a, 4096);
    /* Twilio's own example (webhooks security docs): token 12345, this URL and these
     * parameters sign to 0/KCTR6DLpKmkAf8muzZqo1nDgQ=. */
    nova_twilio_callback_t ex = {.n = 5};
    const char *kv[5][2] = {{"CallSid", "CA1234567890ABCDE"},
                            {"Caller", "+12349013030"},
                            {"Digits", "1234"},
                            {"From", "+12349013030"},
                            {"To", "+18005551212"}};
    for (size_t i = 0; i < 5; i++) {
        ex.param[i][0] = kv[i][0];
        ex.param[i][1] = kv[i][1];
    }
    char sig[NOVA_TWILIO_SIGNATURE_LEN + 1];
    const char *exurl = "https://mycompany.com/myapp.php?foo=1&bar=2";
    assert_int_equal(nova_notify_twilio_signature("12345", exurl, &ex, sig), NOVA_OK);
    assert_string_equal(sig, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
    assert_true(
        nova_notify_twilio_signature_ok("12345", exurl, &ex, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
    assert_false(nova_notify_twilio_signature_ok("12346", exurl, &ex, sig));
    assert_false(
        nova_notify_twilio_signature_ok("12345", "https://mycompany.com/myapp.php", &ex, sig));
    assert_false(nova_notify_twilio_signature_ok("12345", exurl, &ex, NULL));
    assert_false(nova_notify_twilio_signature_ok("12345", exurl, &ex, ""));
    assert_int_equal(nova_notify_twilio_signature("", exurl, &ex, sig), NOVA_INVALID);

    /* A status callback, parameters in Twilio's order (not sorted), read sorted. */
    const char *body = "SmsSid=SM0123456789abcdef0123456789abcdef&SmsStatus=undelivered&"
                       "MessageStatus=undelivered&To=%2B254711000001&ErrorCode=30003&"
                       "MessageSid=SM0123456789abcdef0123456789abcdef&"
                       "AccountSid=AC0123456789abcdef0123456789abcdef&From=NOVA+Alerts&"
                       "ApiVersion=2010-04-01";
    nova_twilio_callback_t cb;
    const char *why = NULL;
    assert_int_equal(nova_notify_twilio_callback_parse(&a, body, strlen(body), &cb, &why), NOVA_OK);
    assert_int_equal(cb.n, 9);
    assert_string_equal(cb.param[0][0], "AccountSid");
    assert_string_equal(cb.param[8][0], "To");
    assert_string_equal(cb.param[8][1], "+254711000001");
    assert_string_equal(nova_notify_twilio_callback_get(&cb, "From"), "NOVA Alerts");
    assert_string_equal(cb.message_status, "undelivered");
    assert_int_equal(cb.error_code, 30003);
    const char *url = "https://nova.example/webhooks/twilio/status/ten_a/nch_b";
    assert_int_equal(nova_notify_twilio_signature("tok", url, &cb, sig), NOVA_OK);
    assert_true(nova_notify_twilio_signature_ok("tok", url, &cb, sig));
    cb.param[8][1] = "+254711000002"; /* the To changed: another signature */
    assert_false(nova_notify_twilio_signature_ok("tok", url, &cb, sig));

    const char *bad[] = {
        "MessageSid=SM0123456789abcdef0123456789abcdef&MessageStatus=sent", /* no AccountSid */
        "MessageSid=SM01&MessageStatus=sent&AccountSid=AC0123456789abcdef0123456789abcdef",
        "MessageSid=SM0123456789abcdef0123456789abcdef&MessageStatus=Sent&"
        "AccountSid=AC0123456789abcdef0123456789abcdef",
        "MessageSid=SM0123456789abcdef0123456789abcdef&MessageStatus=sent&"
        "AccountSid=AC0123456789abcdef0123456789abcdef&ErrorCode=3x",
        "MessageSid=SM0123456789abcdef0123456789abcdef&MessageStatus=sent&"
        "AccountSid=AC0123456789abcdef0123456789abcdef&To=%zz",
        "MessageSid=SM0123456789abcdef0123456789abcdef&MessageStatus=sent&"
        "AccountSid=AC0123456789abcdef0123456789abcdef&To=a&To=b",
        "MessageSid=SM0123456789abcdef0123456789abcdef&MessageStatus=sent&"
        "AccountSid=AC0123456789abcdef0123456789abcdef&=x",
        "MessageSid=SM0123456789abcdef0123456789abcdef&MessageStatus=sent&"
        "AccountSid=AC0123456789abcdef0123456789abcdef&Body=%0A",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        assert_int_equal(nova_notify_twilio_callback_parse(&a, bad[i], strlen(bad[i]), &cb, &why),
                         NOVA_INVALID);
        assert_non_null(why);
        assert_true(*why != '\0');
    }
    assert_true(nova_notify_twilio_status_rank("delivered") >
                nova_notify_twilio_status_rank("sent"));
    assert_true(nova_notify_twilio_status_rank("sent") > nova_notify_twilio_status_rank("queued"));
    assert_int_equal(nova_notify_twilio_status_rank("failed"),
                     nova_notify_twilio_status_rank("delivered"));
    assert_true(nova_notify_twilio_status_rank("read") >
                nova_notify_twilio_status_rank("delivered"));
    assert_int_equal(nova_notify_twilio_status_rank("receiving"), 0);
    nova_arena_free(&a);
}

/* Twilio's replies, its form body and what each provider's codes come to. */
static void test_twilio(void **state)
{
    (void)state;
    nova_twilio_reply_t tw;
    const char *created =
        "{\"account_sid\":\"AC00000000000000000000000000000000\",\"api_version\":\"2010-04-01\","
        "\"body\":\"hi\",\"error_code\":null,\"error_message\":null,\"num_segments\":\"1\","
        "\"sid\":\"SM0123456789abcdef0123456789abcdef\",\"status\":\"queued\",\"to\":\"+"
        "14155550100\"}";
    assert_int_equal(nova_notify_twilio_parse(created, strlen(created), &tw), NOVA_OK);
    assert_string_equal(tw.sid, "SM0123456789abcdef0123456789abcdef");
    assert_string_equal(tw.status, "queued");
    assert_int_equal(tw.code, 0);
    const char *refused = "{\"code\":21211,\"message\":\"The 'To' number +15005550001 is not a "
                          "valid phone number.\",\"more_info\":\"https://www.twilio.com/docs/"
                          "errors/21211\",\"status\":400}";
    assert_int_equal(nova_notify_twilio_parse(refused, strlen(refused), &tw), NOVA_OK);
    assert_int_equal(tw.code, 21211);
    assert_string_equal(tw.sid, "");
    /* The error's message (which names the number) is not kept anywhere in the reply. */
    assert_null(memchr(&tw, '+', sizeof(tw)));
    const char *bad[] = {"",
                         "{}",
                         "[]",
                         "<html>busy</html>",
                         "{\"sid\":\"\",\"status\":\"queued\"}",
                         "{\"sid\":\"SM1\"}",
                         "{\"sid\":1,\"status\":\"queued\"}",
                         "{\"code\":\"21211\",\"status\":400}",
                         "{\"code\":21211,\"message\":7}",
                         "{\"sid\":\"SM1\",\"status\":\"queued\",\"sid\":\"SM2\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&tw, 0x41, sizeof(tw));
        assert_int_equal(nova_notify_twilio_parse(bad[i], strlen(bad[i]), &tw), NOVA_INVALID);
        assert_string_equal(tw.sid, "");
        assert_int_equal(tw.code, 0);
    }
    const char *ctl = "{\"sid\":\"SM\\r\\nX\",\"status\":\"que\\u0007ued\"}";
    assert_int_equal(nova_notify_twilio_parse(ctl, strlen(ctl), &tw), NOVA_OK);
    assert_string_equal(tw.sid, "SM??X");
    assert_string_equal(tw.status, "que?ued");

    const char *to[] = {"+254711000001"};
    nova_notify_sms_t m = {.provider = NOVA_SMS_TWILIO,
                           .base_url = "http://127.0.0.1:1",
                           .username = "AC00000000000000000000000000000000",
                           .api_key = "t",
                           .from = "+15005550006",
                           .account_sid = "AC00000000000000000000000000000000",
                           .status_callback = "https://hooks.example.com/sms",
                           .to = to,
                           .nto = 1,
                           .message = "Nova a&b=c"};
    nova_buf_t b;
    nova_buf_init(&b);
    assert_int_equal(nova_notify_twilio_form(&m, to[0], &b), NOVA_OK);
    nova_buf_append(&b, "", 1);
    assert_string_equal(b.data, "To=%2B254711000001&From=%2B15005550006&Body=Nova+a%26b%3Dc&"
                                "StatusCallback=https%3A%2F%2Fhooks.example.com%2Fsms");
    b.len = 0;
    m.messaging_service_sid = "MG00000000000000000000000000000000";
    m.status_callback = NULL;
    assert_int_equal(nova_notify_twilio_form(&m, to[0], &b), NOVA_OK);
    nova_buf_append(&b, "", 1);
    assert_string_equal(b.data,
                        "To=%2B254711000001&MessagingServiceSid=MG00000000000000000000000000000000&"
                        "Body=Nova+a%26b%3Dc");
    b.len = 0;
    assert_int_equal(nova_notify_twilio_form(&m, "0711000001", &b), NOVA_INVALID);
    nova_buf_free(&b);
    /* Refused before any connection: a bad account SID, a bad number. */
    nova_notify_result_t r;
    m.account_sid = "AC1";
    assert_int_equal(nova_notify_sms_send(&m, &r), NOVA_INVALID);
    m.account_sid = "AC00000000000000000000000000000000";
    const char *bad_to[] = {"+254711000001", "12"};
    m.to = bad_to;
    m.nto = 2;
    assert_int_equal(nova_notify_sms_send(&m, &r), NOVA_INVALID);
    m.base_url = "http://twilio.example.com";
    assert_int_equal(nova_notify_sms_send(&m, &r), NOVA_INVALID);

    static const struct {
        nova_sms_provider_t p;
        long code;
        nova_sms_verdict_t v;
    } verdicts[] = {
        {NOVA_SMS_TWILIO, 201, NOVA_SMS_ACCEPTED},
        {NOVA_SMS_TWILIO, 200, NOVA_SMS_ACCEPTED},
        {NOVA_SMS_TWILIO, 400, NOVA_SMS_REFUSED},
        {NOVA_SMS_TWILIO, 401, NOVA_SMS_REFUSED},
        {NOVA_SMS_TWILIO, 404, NOVA_SMS_REFUSED},
        {NOVA_SMS_TWILIO, 405, NOVA_SMS_REFUSED},
        {NOVA_SMS_TWILIO, 429, NOVA_SMS_TRANSIENT},
        {NOVA_SMS_TWILIO, 500, NOVA_SMS_TRANSIENT},
        {NOVA_SMS_TWILIO, 503, NOVA_SMS_TRANSIENT},
        {NOVA_SMS_TWILIO, 101, NOVA_SMS_REFUSED},
        {NOVA_SMS_TWILIO, 0, NOVA_SMS_TRANSIENT},
        {NOVA_SMS_TWILIO, NOVA_NOTIFY_SMS_UNKNOWN, NOVA_SMS_UNKNOWN},
        {NOVA_SMS_AFRICASTALKING, 101, NOVA_SMS_ACCEPTED},
        {NOVA_SMS_AFRICASTALKING, 102, NOVA_SMS_ACCEPTED},
        {NOVA_SMS_AFRICASTALKING, 201, NOVA_SMS_REFUSED},
        {NOVA_SMS_AFRICASTALKING, 403, NOVA_SMS_REFUSED},
        {NOVA_SMS_AFRICASTALKING, 405, NOVA_SMS_TRANSIENT},
        {NOVA_SMS_AFRICASTALKING, 502, NOVA_SMS_TRANSIENT},
        {NOVA_SMS_AFRICASTALKING, 0, NOVA_SMS_TRANSIENT},
        {NOVA_SMS_AFRICASTALKING, -7, NOVA_SMS_TRANSIENT},
        {NOVA_SMS_AFRICASTALKING, NOVA_NOTIFY_SMS_UNKNOWN, NOVA_SMS_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++)
        assert_int_equal(nova_notify_sms_verdict(verdicts[i].p, verdicts[i].code), verdicts[i].v);
    /* An Africa's Talking code out of range is "not listed", never our "unknown". */
    const char *odd = "{\"SMSMessageData\":{\"Recipients\":[{\"statusCode\":-1,\"number\":"
                      "\"+254711000001\"}]}}";
    nova_sms_recipient_t rs[1];
    size_t n = 0;
    assert_int_equal(nova_notify_at_parse(odd, strlen(odd), rs, 1, &n), NOVA_OK);
    assert_int_equal(rs[0].status_code, 0);
}

/* The bodies parsed (in->secret is borrowed from its body), freed at the end of a test. */
static json_t *bodies[64];
static size_t nbodies;

static void bodies_free(void)
{
    while (nbodies > 0)
        json_decref(bodies[--nbodies]);
}

/* Parses text as a channel body (old: a PATCH of it) and returns the status; *field the
 * field named on refusal. */
static nova_status parse(nova_arena_t *a, const char *text, const nova_notify_channel_row_t *old,
                         nova_channel_in_t *in, const char **field)
{
    json_t *body = json_loads(text, 0, NULL);
    assert_non_null(body);
    nova_events_problem_t pb = {"", ""};
    nova_status st = nova_channel_parse(a, body, old, in, &pb);
    *field = pb.field;
    assert_true(nbodies < 64);
    bodies[nbodies++] = body;
    return st;
}

static void test_channel_parse(void **state)
{
    (void)state;
    nova_arena_t a;
    nova_arena_init(&a, 4096);
    nova_channel_in_t in;
    const char *field = NULL;
    assert_int_equal(parse(&a,
                           "{\"type\":\"email\",\"smtp_url\":\"smtp://mail.example.com:587\","
                           "\"username\":\"u\",\"password\":\"pw\",\"from\":\"nova@example.com\","
                           "\"to\":[\"ops@example.com\"],\"events\":[\"verification.completed\","
                           "\"verification.completed\",\"review.decided\"]}",
                           NULL, &in, &field),
                     NOVA_OK);
    assert_string_equal(in.kind, "email");
    assert_string_equal(in.target, "smtp://mail.example.com:587");
    assert_string_equal(in.events, "verification.completed review.decided");
    assert_string_equal(in.secret, "pw");
    assert_true(in.enabled);
    assert_null(strstr(in.settings, "pw"));

    assert_int_equal(parse(&a,
                           "{\"type\":\"sms\",\"username\":\"sandbox\",\"api_key\":\"k\",\"to\":"
                           "[\"+254711000001\"],\"events\":[\"verification.failed\"],"
                           "\"enabled\":false}",
                           NULL, &in, &field),
                     NOVA_OK);
    assert_string_equal(in.target, NOVA_EVENT_AT_SANDBOX "/version1/messaging");
    assert_false(in.enabled);
    assert_non_null(strstr(in.settings, "\"provider\":\"africastalking\""));
    assert_null(strstr(in.settings, "\"k\""));
    assert_int_equal(parse(&a,
                           "{\"type\":\"sms\",\"username\":\"acme\",\"api_key\":\"k\",\"to\":"
                           "[\"+254711000001\"],\"events\":[\"verification.failed\"],"
                           "\"base_url\":\"https://gw.example.com/\"}",
                           NULL, &in, &field),
                     NOVA_OK);
    assert_string_equal(in.target, "https://gw.example.com/version1/messaging");

    static const struct {
        const char *body, *field;
    } bad[] = {
        {"{\"type\":\"pager\"}", "type"},
        {"{\"type\":\"email\",\"smtp_url\":\"smtp://h.example.com\",\"from\":\"n@example.com\","
         "\"to\":[\"o@example.com\"],\"events\":[\"x\"]}",
         "events"},
        {"{\"type\":\"email\",\"smtp_url\":\"smtp://h.example.com\",\"from\":\"n@example.com\","
         "\"to\":[\"o@example.com\"],\"password\":\"p\",\"events\":[\"review.decided\"]}",
         "username"},
        {"{\"type\":\"email\",\"smtp_url\":\"smtp://h.example.com\",\"from\":\"n@example.com\","
         "\"to\":[\"o@example.com\"],\"sender_id\":\"X\",\"events\":[\"review.decided\"]}",
         "sender_id"},
        {"{\"type\":\"sms\",\"username\":\"u\",\"to\":[\"+254711000001\"],\"events\":[\"review."
         "decided\"]}",
         "api_key"},
        {"{\"type\":\"sms\",\"username\":\"u\",\"api_key\":\"k k\",\"to\":[\"+254711000001\"],"
         "\"events\":[\"review.decided\"]}",
         "api_key"},
        {"{\"type\":\"sms\",\"username\":\"u\",\"api_key\":\"k\",\"to\":[\"+254711000001\"],"
         "\"base_url\":\"http://gw.example.com\",\"events\":[\"review.decided\"]}",
         "base_url"},
        {"{\"type\":\"sms\",\"username\":\"u\",\"api_key\":\"k\",\"to\":[\"+254711000001\"],"
         "\"events\":[\"review.decided\"],\"enabled\":1}",
         "enabled"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(&a, bad[i].body, NULL, &in, &field), NOVA_INVALID);
        assert_string_equal(field, bad[i].field);
    }

    /* A PATCH keeps what it leaves out, the secret included; the type stays. */
    static const uint8_t sealed[] = {1, 2, 3};
    nova_notify_channel_row_t old = {.tenant_id = "ten_x",
                                     .id = "nch_x",
                                     .kind = "sms",
                                     .target = "x",
                                     .settings = "{\"provider\":\"africastalking\",\"username\":"
                                                 "\"acme\",\"to\":[\"+254711000001\"]}",
                                     .secret = sealed,
                                     .secret_len = sizeof(sealed),
                                     .events = "review.decided",
                                     .enabled = true};
    assert_int_equal(parse(&a, "{\"enabled\":false,\"sender_id\":\"NOVA\"}", &old, &in, &field),
                     NOVA_OK);
    assert_false(in.enabled);
    assert_null(in.secret);
    assert_false(in.clear_secret);
    assert_string_equal(in.events, "review.decided");
    assert_non_null(strstr(in.settings, "\"sender_id\":\"NOVA\""));
    assert_non_null(strstr(in.settings, "\"username\":\"acme\""));
    assert_string_equal(in.target, NOVA_EVENT_AT_BASE "/version1/messaging");
    assert_int_equal(parse(&a, "{\"type\":\"email\"}", &old, &in, &field), NOVA_INVALID);
    assert_string_equal(field, "type");
    assert_int_equal(parse(&a, "{\"api_key\":null}", &old, &in, &field), NOVA_INVALID);
    assert_string_equal(field, "api_key");
    assert_int_equal(parse(&a, "{\"sender_id\":null}", &old, &in, &field), NOVA_OK);
    assert_null(strstr(in.settings, "sender_id"));

    /* Twilio: the account's Messages resource; the auth token, or an API key's secret. */
#define AC "\"account_sid\":\"AC0123456789abcdef0123456789abcdef\""
#define TW "{\"type\":\"sms\",\"provider\":\"twilio\"," AC ",\"to\":[\"+254711000001\"],"
    assert_int_equal(parse(&a,
                           TW "\"auth_token\":\"tok\",\"from\":\"+15005550006\",\"events\":["
                              "\"review.decided\"]}",
                           NULL, &in, &field),
                     NOVA_OK);
    assert_string_equal(in.target, "https://api.twilio.com/2010-04-01/Accounts/"
                                   "AC0123456789abcdef0123456789abcdef/Messages.json");
    assert_string_equal(in.secret, "tok");
    assert_null(strstr(in.settings, "tok"));
    assert_non_null(strstr(in.settings, "\"provider\":\"twilio\""));
    assert_int_equal(parse(&a,
                           TW "\"api_key_sid\":\"SK0123456789abcdef0123456789abcdef\","
                              "\"api_key_secret\":\"sec\",\"messaging_service_sid\":"
                              "\"MG0123456789abcdef0123456789abcdef\",\"base_url\":"
                              "\"http://127.0.0.1:9/\",\"status_callback\":\"https://cb.example."
                              "com/s\",\"events\":[\"review.decided\"]}",
                           NULL, &in, &field),
                     NOVA_OK);
    assert_string_equal(in.target, "http://127.0.0.1:9/2010-04-01/Accounts/"
                                   "AC0123456789abcdef0123456789abcdef/Messages.json");
    assert_string_equal(in.secret, "sec");
    static const struct {
        const char *body, *field;
    } tbad[] = {
        {"{\"type\":\"sms\",\"provider\":\"twilio\",\"account_sid\":\"AC1\",\"auth_token\":\"t\","
         "\"from\":\"+15005550006\",\"to\":[\"+254711000001\"],\"events\":[\"review.decided\"]}",
         "account_sid"},
        {TW "\"from\":\"+15005550006\",\"events\":[\"review.decided\"]}", "auth_token"},
        {TW "\"auth_token\":\"t t\",\"from\":\"+15005550006\",\"events\":[\"review.decided\"]}",
         "auth_token"},
        {TW "\"api_key_secret\":\"s\",\"from\":\"+15005550006\",\"events\":[\"review.decided\"]}",
         "api_key_secret"},
        {TW "\"api_key_sid\":\"SK0123456789abcdef0123456789abcdef\",\"auth_token\":\"t\","
            "\"from\":\"+15005550006\",\"events\":[\"review.decided\"]}",
         "auth_token"},
        {TW "\"api_key_sid\":\"SKx\",\"api_key_secret\":\"s\",\"from\":\"+15005550006\","
            "\"events\":[\"review.decided\"]}",
         "api_key_sid"},
        {TW "\"auth_token\":\"t\",\"api_key_secret\":\"s\",\"from\":\"+15005550006\",\"events\":["
            "\"review.decided\"]}",
         "api_key_secret"},
        {TW "\"auth_token\":\"t\",\"events\":[\"review.decided\"]}", "from"},
        {TW "\"auth_token\":\"t\",\"from\":\"Nova Alerts Ltd\",\"events\":[\"review.decided\"]}",
         "from"},
        {TW "\"auth_token\":\"t\",\"from\":\"+15005550006\",\"messaging_service_sid\":"
            "\"MG0123456789abcdef0123456789abcdef\",\"events\":[\"review.decided\"]}",
         "messaging_service_sid"},
        {TW "\"auth_token\":\"t\",\"messaging_service_sid\":\"MG1\",\"events\":[\"review."
            "decided\"]}",
         "messaging_service_sid"},
        {TW "\"auth_token\":\"t\",\"from\":\"+15005550006\",\"status_callback\":\"http://cb."
            "example.com\",\"events\":[\"review.decided\"]}",
         "status_callback"},
        {TW "\"auth_token\":\"t\",\"from\":\"+15005550006\",\"base_url\":\"http://api.twilio."
            "com\",\"events\":[\"review.decided\"]}",
         "base_url"},
        {TW "\"auth_token\":\"t\",\"from\":\"+15005550006\",\"username\":\"u\",\"events\":["
            "\"review.decided\"]}",
         "username"},
        {TW "\"api_key\":\"k\",\"from\":\"+15005550006\",\"events\":[\"review.decided\"]}",
         "api_key"},
        {"{\"type\":\"sms\",\"provider\":\"sinch\"}", "provider"},
    };
    for (size_t i = 0; i < sizeof(tbad) / sizeof(tbad[0]); i++) {
        assert_int_equal(parse(&a, tbad[i].body, NULL, &in, &field), NOVA_INVALID);
        assert_string_equal(field, tbad[i].field);
    }
    /* Africa's Talking's channel does not become Twilio's, nor the reverse. */
    assert_int_equal(parse(&a, "{\"provider\":\"twilio\"}", &old, &in, &field), NOVA_INVALID);
    assert_string_equal(field, "provider");
    nova_notify_channel_row_t told = old;
    told.settings = "{\"provider\":\"twilio\"," AC ",\"from\":\"Nova\",\"to\":[\"+254711000001\"]}";
    assert_int_equal(parse(&a, "{\"provider\":\"africastalking\"}", &told, &in, &field),
                     NOVA_INVALID);
    assert_string_equal(field, "provider");
    assert_int_equal(parse(&a, "{\"from\":\"+15005550006\"}", &told, &in, &field), NOVA_OK);
    assert_null(in.secret);
    assert_non_null(strstr(in.settings, "\"from\":\"+15005550006\""));
    /* Switching to an API key wants its secret; the sealed one is the auth token. */
    assert_int_equal(
        parse(&a, "{\"api_key_sid\":\"SK0123456789abcdef0123456789abcdef\"}", &told, &in, &field),
        NOVA_INVALID);
    assert_string_equal(field, "api_key_secret");
    assert_int_equal(parse(&a,
                           "{\"api_key_sid\":\"SK0123456789abcdef0123456789abcdef\","
                           "\"api_key_secret\":\"s2\"}",
                           &told, &in, &field),
                     NOVA_OK);
    assert_string_equal(in.secret, "s2");
    nova_notify_channel_row_t shown = told;
    shown.settings = in.settings;
    json_t *j = nova_channel_json(&shown);
    assert_true(json_is_true(json_object_get(j, "api_key_secret")));
    assert_null(json_object_get(j, "auth_token"));
    json_decref(j);
#undef TW
#undef AC
    bodies_free();
    nova_arena_free(&a);
}

static void test_channel_message(void **state)
{
    (void)state;
    nova_arena_t a;
    nova_arena_init(&a, 4096);
    const char *payload =
        "{\"type\":\"verification.review_required\",\"timestamp\":\"2026-01-01T00:00:00Z\","
        "\"data\":{\"verification_id\":\"vrf_1\",\"reference\":\"Jane Doe\",\"status\":"
        "\"completed\",\"decision\":\"review_required\",\"reasons\":[\"mrz.mismatch\","
        "\"x\\r\\nBcc: y\"],\"name\":\"Jane Doe\"}}";
    const char *subject, *text;
    assert_int_equal(nova_channel_message(&a, "email", "evt_1", payload, &subject, &text), NOVA_OK);
    assert_string_equal(subject, "Nova: verification.review_required vrf_1");
    assert_string_equal(text, "Event: verification.review_required\nEvent id: evt_1\n"
                              "Verification: vrf_1\nStatus: completed\nDecision: review_required\n"
                              "Reasons: mrz.mismatch, x__Bcc:_y\nTime: 2026-01-01T00:00:00Z\n\n"
                              "This message carries no personal data. The details are at GET "
                              "/v1/verifications/vrf_1.\n");
    assert_null(strstr(text, "Jane"));
    assert_int_equal(nova_channel_message(&a, "sms", "evt_1", payload, &subject, &text), NOVA_OK);
    assert_string_equal(
        text, "Nova verification.review_required: verification vrf_1, decision review_required "
              "(evt_1)");
    assert_int_equal(
        nova_channel_message(&a, "sms", "evt_1", "{\"type\":\"x\",\"data\":{}}", &subject, &text),
        NOVA_INVALID);
    assert_int_equal(nova_channel_message(&a, "sms", "evt_1", "not json", &subject, &text),
                     NOVA_INVALID);
    nova_arena_free(&a);
}

/* ---- the repository ---- */

static const nova_audit_actor_t by = {.id = "test"};

static nova_store_t *open_store(void)
{
    const char *pg = getenv("NOVA_TEST_PG_URL");
    nova_store_t *s = NULL;
    char err[256];
    assert_int_equal(nova_store_open(pg && *pg ? pg : "sqlite::memory:", &s, err, sizeof(err)),
                     NOVA_OK);
    assert_int_equal(nova_store_migrate(s, NULL, NULL), NOVA_OK);
    return s;
}

static const char *tenant(nova_auth_t *auth, nova_store_t *s, nova_arena_t *a, const char *name)
{
    nova_tenant_t t;
    char unique[64];
    snprintf(unique, sizeof(unique), "%s-%lld-%d", name, (long long)nova_time_now(), rand());
    assert_int_equal(nova_auth_tenant_create(auth, s, a, &by, unique, &t), NOVA_OK);
    return t.id;
}

static nova_audit_entry_t audit(nova_arena_t *a, const char *tenant_id, const char *action)
{
    nova_audit_entry_t e;
    assert_int_equal(nova_audit_entry_make(&e, a, &by, tenant_id, action, "test", "x", NULL),
                     NOVA_OK);
    return e;
}

static void append(nova_store_t *s, nova_arena_t *a, const char *tenant_id, nova_event_row_t *ev)
{
    json_t *data = json_pack("{s:s}", "verification_id", "vrf_t");
    assert_int_equal(
        nova_event_make(a, tenant_id, "verification.completed", "vrf_t", data, NULL, ev), NOVA_OK);
    json_decref(data);
    assert_int_equal(nova_store_tx_begin(s, tenant_id), NOVA_OK);
    assert_int_equal(nova_store_event_append_tx(s, ev), NOVA_OK);
    assert_int_equal(nova_store_tx_commit(s), NOVA_OK);
}

static void test_store(void **state)
{
    (void)state;
    nova_store_t *s = open_store();
    nova_auth_config_t ac = {.issuer = "https://nova.test",
                             .audience = "nova-api",
                             .token_ttl = 300,
                             .alg = NOVA_JWS_EDDSA};
    memset(ac.master_key, 7, sizeof(ac.master_key));
    nova_auth_t *auth = NULL;
    assert_int_equal(nova_auth_new(&ac, &auth), NOVA_OK);
    nova_arena_t a;
    nova_arena_init(&a, 8192);
    const char *t1 = tenant(auth, s, &a, "notify-1"), *t2 = tenant(auth, s, &a, "notify-2");
    int64_t now = nova_time_now();
    static const uint8_t sealed[] = {9, 9, 9};
    nova_notify_channel_row_t c = {t1,
                                   "nch_a",
                                   "sms",
                                   "https://api.africastalking.com/version1/messaging",
                                   "{\"to\":[\"+254711000001\"]}",
                                   sealed,
                                   sizeof(sealed),
                                   "verification.completed review.decided",
                                   true,
                                   "test",
                                   now,
                                   now};
    nova_audit_entry_t e = audit(&a, t1, "notify.channel.create");
    assert_int_equal(nova_store_notify_channel_insert(s, &c, &e), NOVA_OK);
    e = audit(&a, t1, "notify.channel.create");
    assert_int_equal(nova_store_notify_channel_insert(s, &c, &e), NOVA_CONFLICT);
    nova_notify_channel_row_t got;
    assert_int_equal(nova_store_notify_channel_get(s, &a, t1, "nch_a", &got), NOVA_OK);
    assert_int_equal(got.secret_len, sizeof(sealed));
    assert_memory_equal(got.secret, sealed, sizeof(sealed));
    assert_int_equal(nova_store_notify_channel_get(s, &a, t2, "nch_a", &got), NOVA_NOT_FOUND);

    /* An event gets a delivery to the channel, with its kind and target. */
    nova_event_row_t ev;
    append(s, &a, t1, &ev);
    nova_delivery_row_t *d = NULL;
    size_t n = 0;
    assert_int_equal(nova_store_delivery_list(s, &a, t1, ev.id, &d, &n), NOVA_OK);
    assert_int_equal(n, 1);
    assert_string_equal(d[0].channel, "sms");
    assert_string_equal(d[0].channel_id, "nch_a");
    assert_string_equal(d[0].endpoint_id, "");
    assert_string_equal(d[0].url, c.target);
    assert_string_equal(d[0].state, "pending");

    /* Disabled: the pending delivery fails, a new event gets none. */
    c.enabled = false;
    c.secret = NULL;
    c.secret_len = 0;
    c.updated_at = now + 1;
    e = audit(&a, t1, "notify.channel.update");
    assert_int_equal(nova_store_notify_channel_update(s, &c, &e), NOVA_OK);
    assert_int_equal(nova_store_delivery_list(s, &a, t1, ev.id, &d, &n), NOVA_OK);
    assert_string_equal(d[0].state, "failed");
    assert_int_equal(nova_store_notify_channel_get(s, &a, t1, "nch_a", &got), NOVA_OK);
    assert_int_equal(got.secret_len, 0);
    assert_false(got.enabled);
    nova_event_row_t ev2;
    append(s, &a, t1, &ev2);
    assert_int_equal(nova_store_delivery_list(s, &a, t1, ev2.id, &d, &n), NOVA_OK);
    assert_int_equal(n, 0);
    /* Enabled again: a replay of the later event adds its delivery. */
    c.enabled = true;
    e = audit(&a, t1, "notify.channel.update");
    assert_int_equal(nova_store_notify_channel_update(s, &c, &e), NOVA_OK);
    e = audit(&a, t1, "event.replay");
    int64_t pending = 0;
    assert_int_equal(nova_store_event_replay(s, t1, ev2.id, now + 2, 8, &e, &pending), NOVA_OK);
    assert_int_equal(pending, 1);
    /* Another tenant can neither change nor delete it; deleting fails the pending delivery. */
    nova_notify_channel_row_t other = c;
    other.tenant_id = t2;
    e = audit(&a, t2, "notify.channel.update");
    assert_int_equal(nova_store_notify_channel_update(s, &other, &e), NOVA_NOT_FOUND);
    e = audit(&a, t2, "notify.channel.delete");
    assert_int_equal(nova_store_notify_channel_delete(s, t2, "nch_a", now, &e), NOVA_NOT_FOUND);
    e = audit(&a, t1, "notify.channel.delete");
    assert_int_equal(nova_store_notify_channel_delete(s, t1, "nch_a", now + 3, &e), NOVA_OK);
    assert_int_equal(nova_store_delivery_list(s, &a, t1, ev2.id, &d, &n), NOVA_OK);
    assert_string_equal(d[0].state, "failed");
    nova_notify_channel_row_t *list = NULL;
    assert_int_equal(nova_store_notify_channel_list(s, &a, t1, &list, &n), NOVA_OK);
    assert_int_equal(n, 0);

    nova_arena_free(&a);
    nova_auth_free(auth);
    nova_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_email_format),
        cmocka_unit_test(test_sms_form_and_reply),
        cmocka_unit_test(test_sms_recipients),
        cmocka_unit_test(test_twilio),
        cmocka_unit_test(test_twilio_callback),
        cmocka_unit_test(test_channel_parse),
        cmocka_unit_test(test_channel_message),
        cmocka_unit_test(test_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
