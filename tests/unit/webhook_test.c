/*
 * webhook_test.c: Standard Webhooks signing (src/webhook/sign.c) against the spec's published
 * test vector, rotation (one signature per live secret), verification, secret parsing and
 * generation; the mTLS client's refusals that happen before anything leaves the host (not
 * https, user info in the URL, no client certificate, nothing to verify the receiver with) and
 * its judgement of which addresses are public.
 * The client's real exchanges (a 500 then a 200, a wrong CA, a receiver that wants another
 * certificate) are driven end to end by tests/integration/webhooks.test.mjs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "nova/webhook.h"

/* The Standard Webhooks specification's test vector (spec/standard-webhooks.md and every
 * reference library's tests). */
static const char *const SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
static const char *const SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek";
static const int64_t SPEC_TS = 1614265330;
static const char *const SPEC_BODY = "{\"test\": 2432232314}";
static const char *const SPEC_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

static void test_spec_vector(void **state)
{
    (void)state;
    nova_buf_t b;
    nova_buf_init(&b);
    assert_int_equal(
        nova_webhook_sign(&SPEC_SECRET, 1, SPEC_ID, SPEC_TS, SPEC_BODY, strlen(SPEC_BODY), &b),
        NOVA_OK);
    assert_int_equal(b.len, strlen(SPEC_SIG));
    assert_memory_equal(b.data, SPEC_SIG, b.len);
    nova_buf_free(&b);
    /* The prefix is optional on input, as in the reference libraries. */
    const char *bare = SPEC_SECRET + 6;
    nova_buf_init(&b);
    assert_int_equal(
        nova_webhook_sign(&bare, 1, SPEC_ID, SPEC_TS, SPEC_BODY, strlen(SPEC_BODY), &b), NOVA_OK);
    assert_memory_equal(b.data, SPEC_SIG, b.len);
    nova_buf_free(&b);
}

static void test_verify(void **state)
{
    (void)state;
    size_t n = strlen(SPEC_BODY);
    assert_true(nova_webhook_verify(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY, n, SPEC_SIG));
    /* Any change to id, timestamp, body or signature fails. */
    assert_false(nova_webhook_verify(SPEC_SECRET, "msg_other", SPEC_TS, SPEC_BODY, n, SPEC_SIG));
    assert_false(nova_webhook_verify(SPEC_SECRET, SPEC_ID, SPEC_TS + 1, SPEC_BODY, n, SPEC_SIG));
    assert_false(nova_webhook_verify(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY, n - 1, SPEC_SIG));
    assert_false(nova_webhook_verify(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY, n,
                                     "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF="));
    assert_false(nova_webhook_verify(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY, n,
                                     "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
    /* One good signature among several is enough. */
    assert_true(nova_webhook_verify(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY, n,
                                    "v1,AAAA v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
}

static void test_rotation(void **state)
{
    (void)state;
    char fresh[NOVA_WEBHOOK_SECRET_LEN];
    assert_int_equal(nova_webhook_secret_new(fresh), NOVA_OK);
    assert_int_equal(strlen(fresh), NOVA_WEBHOOK_SECRET_LEN - 1);
    assert_memory_equal(fresh, "whsec_", 6);
    uint8_t key[NOVA_WEBHOOK_KEY_MAX];
    size_t klen = 0;
    assert_int_equal(nova_webhook_secret_parse(fresh, key, &klen), NOVA_OK);
    assert_int_equal(klen, 32);

    const char *both[] = {fresh, SPEC_SECRET};
    nova_buf_t b;
    nova_buf_init(&b);
    size_t n = strlen(SPEC_BODY);
    assert_int_equal(nova_webhook_sign(both, 2, SPEC_ID, SPEC_TS, SPEC_BODY, n, &b), NOVA_OK);
    assert_int_equal(nova_buf_append(&b, "", 1), NOVA_OK);
    /* Two signatures, the old secret's is the spec's, and each secret verifies the header. */
    assert_non_null(strchr(b.data, ' '));
    assert_non_null(strstr(b.data, SPEC_SIG));
    assert_true(nova_webhook_verify(fresh, SPEC_ID, SPEC_TS, SPEC_BODY, n, b.data));
    assert_true(nova_webhook_verify(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY, n, b.data));
    char other[NOVA_WEBHOOK_SECRET_LEN];
    assert_int_equal(nova_webhook_secret_new(other), NOVA_OK);
    assert_string_not_equal(other, fresh);
    assert_false(nova_webhook_verify(other, SPEC_ID, SPEC_TS, SPEC_BODY, n, b.data));
    nova_buf_free(&b);
}

static void test_bad_inputs(void **state)
{
    (void)state;
    uint8_t key[NOVA_WEBHOOK_KEY_MAX];
    size_t klen;
    assert_int_equal(nova_webhook_secret_parse("whsec_", key, &klen), NOVA_INVALID);
    assert_int_equal(nova_webhook_secret_parse("whsec_c2hvcnQ=", key, &klen), NOVA_INVALID);
    assert_int_equal(nova_webhook_secret_parse("whsec_not base64!!", key, &klen), NOVA_INVALID);
    assert_int_equal(nova_webhook_secret_parse(NULL, key, &klen), NOVA_INVALID);
    nova_buf_t b;
    nova_buf_init(&b);
    assert_int_equal(nova_webhook_sign(&SPEC_SECRET, 0, SPEC_ID, 1, "x", 1, &b), NOVA_INVALID);
    assert_int_equal(nova_webhook_sign(&SPEC_SECRET, 1, "a.b", 1, "x", 1, &b), NOVA_INVALID);
    assert_int_equal(nova_webhook_sign(&SPEC_SECRET, 1, "a\nb", 1, "x", 1, &b), NOVA_INVALID);
    const char *bad = "whsec_%%%";
    assert_int_equal(nova_webhook_sign(&bad, 1, SPEC_ID, 1, "x", 1, &b), NOVA_INVALID);
    nova_buf_free(&b);
}

static void test_client_refusals(void **state)
{
    (void)state;
    nova_webhook_tls_t tls = {"-----BEGIN CERTIFICATE-----", "-----BEGIN PRIVATE KEY-----",
                              "-----BEGIN CERTIFICATE-----", NULL};
    nova_webhook_request_t rq = {"http://127.0.0.1:1/", NULL, 0, "{}", 2, &tls, 1000, 0};
    nova_webhook_response_t out;
    assert_int_equal(nova_webhook_post(&rq, &out), NOVA_INVALID);
    assert_int_equal(out.status, 0);
    assert_non_null(strstr(out.error, "https"));
    nova_buf_free(&out.body);

    rq.url = "https://user:pw@127.0.0.1:1/";
    assert_int_equal(nova_webhook_post(&rq, &out), NOVA_INVALID);
    nova_buf_free(&out.body);

    rq.url = "https://127.0.0.1:1/";
    nova_webhook_tls_t nocert = {NULL, "k", "ca", NULL};
    rq.tls = &nocert;
    assert_int_equal(nova_webhook_post(&rq, &out), NOVA_INVALID);
    assert_non_null(strstr(out.error, "mTLS"));
    nova_buf_free(&out.body);

    nova_webhook_tls_t noverify = {"c", "k", NULL, ""};
    rq.tls = &noverify;
    assert_int_equal(nova_webhook_post(&rq, &out), NOVA_INVALID);
    assert_non_null(strstr(out.error, "CA"));
    nova_buf_free(&out.body);

    rq.tls = NULL;
    assert_int_equal(nova_webhook_post(&rq, &out), NOVA_INVALID);
    nova_buf_free(&out.body);
}

static void test_address_public(void **state)
{
    (void)state;
    static const char *const blocked[] = {
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "198.18.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fc00::1",
        "fd12::1",
        "fe80::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::a9fe:a9fe", /* NAT64 of the metadata address */
        "2002:c0a8:101::1",   /* 6to4 of 192.168.1.1 */
        "fec0::1",
        "192.0.2.1",
        "2001:db8::1",
        "localhost",
        "",
        "1.2.3",
    };
    for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++)
        assert_false(nova_webhook_address_public(blocked[i]));
    assert_false(nova_webhook_address_public(NULL));
    static const char *const open[] = {"1.1.1.1",
                                       "8.8.8.8",
                                       "172.32.0.1",
                                       "192.169.0.1",
                                       "2001:4860:4860::8888",
                                       "::ffff:8.8.8.8",
                                       "100.128.0.1",
                                       "64:ff9b::808:808",
                                       "2002:808:808::1"};
    for (size_t i = 0; i < sizeof(open) / sizeof(open[0]); i++)
        assert_true(nova_webhook_address_public(open[i]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_vector),     cmocka_unit_test(test_verify),
        cmocka_unit_test(test_rotation),        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_client_refusals), cmocka_unit_test(test_address_public),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
