/*
 * base_test.c: src/base through its public interface. Encoders against the RFC 4648 vectors
 * and every kind of input a strict decoder must refuse, buffers, the arena, identifiers,
 * configuration (defaults, file, environment, derived values), strict JSON request decoding
 * and structured log lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nova/base.h"
#include "nova/config.h"
#include "nova/json.h"
#include "nova/log.h"

/* ---- base64url, base64, hex ---- */

/* RFC 4648 §10. Without padding the url-safe and standard encodings of these are equal. */
static const struct {
    const char *raw, *url, *std;
} rfc4648[] = {
    {"", "", ""},
    {"f", "Zg", "Zg=="},
    {"fo", "Zm8", "Zm8="},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg", "Zm9vYg=="},
    {"fooba", "Zm9vYmE", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};
#define NVEC (sizeof(rfc4648) / sizeof(rfc4648[0]))

static nova_status url_decode(const char *in, uint8_t *out, size_t *n)
{
    return nova_b64url_decode(in, strlen(in), out, n);
}

static nova_status std_decode(const char *in, uint8_t *out, size_t *n)
{
    return nova_b64std_decode(in, strlen(in), out, n);
}

static void test_b64url_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < NVEC; i++) {
        const char *raw = rfc4648[i].raw;
        size_t n = strlen(raw);
        char enc[16];
        assert_int_equal(nova_b64url_encoded_len(n), strlen(rfc4648[i].url));
        assert_int_equal(nova_b64url_encode((const uint8_t *)raw, n, enc), strlen(rfc4648[i].url));
        assert_string_equal(enc, rfc4648[i].url);

        uint8_t dec[16];
        size_t dl = 99;
        assert_true(nova_b64url_decoded_max(strlen(enc)) <= sizeof(dec));
        assert_int_equal(url_decode(rfc4648[i].url, dec, &dl), NOVA_OK);
        assert_int_equal(dl, n);
        assert_memory_equal(dec, raw, n);
    }
}

static void test_b64url_alphabet_and_roundtrip(void **state)
{
    (void)state;
    /* 0xfb 0xff 0xbf is 62 63 62 63 in sextets: the two characters that differ from base64. */
    const uint8_t hi[] = {0xfb, 0xff, 0xbf};
    char enc[8];
    nova_b64url_encode(hi, 3, enc);
    assert_string_equal(enc, "-_-_");
    uint8_t dec[8];
    size_t dl;
    assert_int_equal(url_decode("-_-_", dec, &dl), NOVA_OK);
    assert_int_equal(dl, 3);
    assert_memory_equal(dec, hi, 3);

    /* Every length up to 3 blocks and every byte value survive a round trip, and the decoder
     * never writes past nova_b64url_decoded_max. */
    uint8_t raw[300];
    char text[420];
    for (size_t i = 0; i < sizeof(raw); i++)
        raw[i] = (uint8_t)(i * 7 + 3);
    for (size_t n = 0; n <= sizeof(raw); n++) {
        size_t el = nova_b64url_encode(raw, n, text);
        assert_int_equal(el, nova_b64url_encoded_len(n));
        assert_int_equal(strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                      "0123456789-_"),
                         el);
        uint8_t *out = malloc(nova_b64url_decoded_max(el));
        assert_non_null(out);
        assert_int_equal(nova_b64url_decode(text, el, out, &dl), NOVA_OK);
        assert_int_equal(dl, n);
        if (n)
            assert_memory_equal(out, raw, n);
        free(out);
    }
}

static void test_b64url_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "Zg==",       /* padding */
        "Zm8=",       /* padding */
        "Zg=",        /* padding */
        "Z",          /* length 1 mod 4 */
        "Zm9vY",      /* length 1 mod 4 */
        "Zh",         /* non-canonical: "f" is "Zg", the last 4 bits must be zero */
        "Zm9",        /* non-canonical: "fo" is "Zm8" */
        "Zm+v",       /* standard alphabet */
        "Zm/v",       /* standard alphabet */
        "+/+/",       /* standard alphabet */
        "Zm9v ",      /* whitespace */
        " Zm9v",      /* whitespace */
        "Zm 9v",      /* whitespace */
        "Zm9v\n",     /* whitespace */
        "Zm9v\r\nYg", /* whitespace */
        "Zm\t9v",     /* whitespace */
        "Zm9v.",      /* outside the alphabet */
        "Zm9v\x80",   /* outside ASCII */
    };
    uint8_t out[16];
    size_t n;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (url_decode(bad[i], out, &n) != NOVA_INVALID)
            fail_msg("base64url accepted \"%s\"", bad[i]);
    }
    /* An embedded NUL is just another character outside the alphabet. */
    assert_int_equal(nova_b64url_decode("Zm\0v", 4, out, &n), NOVA_INVALID);
}

static void test_b64std_decode(void **state)
{
    (void)state;
    uint8_t out[16];
    size_t n;
    for (size_t i = 0; i < NVEC; i++) {
        assert_int_equal(std_decode(rfc4648[i].std, out, &n), NOVA_OK);
        assert_int_equal(n, strlen(rfc4648[i].raw));
        assert_memory_equal(out, rfc4648[i].raw, n);
    }
    assert_int_equal(std_decode("+/+/", out, &n), NOVA_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "\xfb\xff\xbf", 3);
    /* HTTP Basic of "cli_x:s%3Acret" */
    assert_int_equal(std_decode("Y2xpX3g6cyUzQWNyZXQ=", out, &n), NOVA_OK);
    assert_int_equal(n, 14);
    assert_memory_equal(out, "cli_x:s%3Acret", 14);

    static const char *const bad[] = {
        "Zg",       /* padding required */
        "Zm8",      /* padding required */
        "Zm9vYg",   /* padding required */
        "Zg=",      /* incomplete padding */
        "Zg===",    /* too much padding */
        "Z===",     /* too much padding */
        "====",     /* nothing but padding */
        "Zg==Zg==", /* padding inside */
        "Zg=a",     /* padding inside */
        "Zh==",     /* non-canonical */
        "Zm9=",     /* non-canonical */
        "-_-_",     /* url alphabet */
        "Zm9v ",    /* whitespace */
        "Zm 9v",    /* whitespace */
        "Zm9v\n",   /* whitespace */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (std_decode(bad[i], out, &n) != NOVA_INVALID)
            fail_msg("base64 accepted \"%s\"", bad[i]);
    }
}

static void test_hex(void **state)
{
    (void)state;
    char out[16];
    const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    nova_hex_encode(in, sizeof(in), out);
    assert_string_equal(out, "00017f80abff");
    memset(out, 'x', sizeof(out));
    nova_hex_encode(in, 0, out);
    assert_string_equal(out, "");
}

/* ---- form decoding ---- */

static void test_form_decode(void **state)
{
    (void)state;
    nova_arena_t a;
    nova_arena_init(&a, 0);
    static const struct {
        const char *in, *out;
    } good[] = {
        {"", ""},
        {"abc", "abc"},
        {"a+b", "a b"},
        {"++", "  "},
        {"%20", " "},
        {"%2B", "+"},
        {"%2b", "+"},
        {"%41%42c", "ABc"},
        {"caf%C3%A9", "caf\xc3\xa9"},
        {"client_credentials", "client_credentials"},
        {"a%3Db%26c", "a=b&c"},
        {"%25", "%"},
        {"%7e~", "~~"},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char *s = nova_form_decode(&a, good[i].in, strlen(good[i].in));
        if (s == NULL)
            fail_msg("form decode refused \"%s\"", good[i].in);
        assert_string_equal(s, good[i].out);
    }
    static const char *const bad[] = {
        "%", "%4", "a%4", "%zz", "%4g", "%g4", "%%41", "%00", "a%00b", "% 4", "%+4", "%-1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (nova_form_decode(&a, bad[i], strlen(bad[i])) != NULL)
            fail_msg("form decode accepted \"%s\"", bad[i]);
    }
    /* Only n bytes are read: an escape cut by the bound is truncated, text after it unseen. */
    assert_null(nova_form_decode(&a, "%41", 2));
    assert_string_equal(nova_form_decode(&a, "%41%zz", 3), "A");
    assert_string_equal(nova_form_decode(&a, "ab&cd", 2), "ab");
    nova_arena_free(&a);
}

/* Finding 5 of issue 5: a NUL (raw or escaped) once cut "SECRET\0junk" to "SECRET". No control
 * character and nothing but UTF-8 comes out of a form value. */
static void test_form_decode_controls_and_utf8(void **state)
{
    (void)state;
    nova_arena_t a;
    nova_arena_init(&a, 0);
    static const struct {
        const char *in;
        size_t n;
    } bad[] = {
        {"SECRET\0junk", 11}, {"\0", 1},        {"a%01", 4},
        {"%1f", 3},           {"%1F", 3},       {"%7f", 3},
        {"a\x01", 2},         {"tab\there", 8}, {"cr\r", 3},
        {"del\x7f", 4},       {"%0a", 3},       {"%0D%0A", 6},
        {"%C3", 3},           {"caf\xc3", 4},   {"%C0%80", 6},
        {"%E0%80%80", 9},     {"%ED%A0%80", 9}, {"%F4%90%80%80", 12},
        {"%F5%80%80%80", 12}, {"\xff", 1},      {"%80", 3},
        {"a%E2%82", 7},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (nova_form_decode(&a, bad[i].in, bad[i].n) != NULL)
            fail_msg("form decode accepted bad[%zu]", i);
    }
    /* Raw UTF-8 and the largest code point pass; a space and '+' are not controls. */
    assert_string_equal(nova_form_decode(&a, "caf\xc3\xa9", 5), "caf\xc3\xa9");
    assert_string_equal(nova_form_decode(&a, "%F4%8F%BF%BF", 12), "\xf4\x8f\xbf\xbf");
    assert_string_equal(nova_form_decode(&a, "a+%20b", 6), "a  b");
    /* Every single escaped byte: controls refused, printable ASCII decoded, bytes >= 0x80
     * alone are not UTF-8. */
    for (int c = 0; c < 256; c++) {
        char in[4];
        snprintf(in, sizeof(in), "%%%02X", c);
        char *out = nova_form_decode(&a, in, 3);
        if (c < 0x20 || c >= 0x7f)
            assert_null(out);
        else
            assert_int_equal((unsigned char)out[0], c);
    }
    nova_arena_free(&a);
}

/* Standard base64 of n bytes of raw, for Basic credentials. */
static char *b64std(const char *raw, size_t n)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc(n / 3 * 4 + 8);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)raw[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(unsigned char)raw[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)raw[i + 2];
        out[o++] = al[v >> 18];
        out[o++] = al[(v >> 12) & 63];
        out[o++] = i + 1 < n ? al[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? al[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static void test_basic_decode(void **state)
{
    (void)state;
    nova_arena_t a;
    nova_arena_init(&a, 0);
    static const struct {
        const char *raw, *user, *pass;
    } good[] = {
        {"id:secret", "id", "secret"},
        {"id:sec:ret", "id", "sec:ret"}, /* RFC 7617: the first colon splits */
        {":", "", ""},
        {"a%3Ab:c%25", "a:b", "c%"}, /* RFC 6749 §2.3.1: both parts form-encoded */
        {"caf\xc3\xa9:p+w", "caf\xc3\xa9", "p w"},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char *b = b64std(good[i].raw, strlen(good[i].raw)), *u = NULL, *p = NULL;
        assert_int_equal(nova_basic_decode(&a, b, strlen(b), &u, &p), NOVA_OK);
        assert_string_equal(u, good[i].user);
        assert_string_equal(p, good[i].pass);
        free(b);
    }
    static const struct {
        const char *raw;
        size_t n;
    } bad[] = {
        {"id:secret\0junk", 14}, {"id\0x:secret", 11},
        {"id:sec\x01", 7},       {"id:sec\x7f", 7},
        {"id:\tsecret", 10},     {"id\r\n:s", 7},
        {"id:%00", 6},           {"id%0A:s", 7},
        {"idsecret", 8},         {"", 0},
        {"id:\xff", 4},          {"id:%zz", 6},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *b = b64std(bad[i].raw, bad[i].n), *u = (char *)&a, *p = (char *)&a;
        if (nova_basic_decode(&a, b, strlen(b), &u, &p) != NOVA_INVALID)
            fail_msg("basic decode accepted bad[%zu]", i);
        assert_null(u);
        assert_null(p);
        free(b);
    }
    /* Not base64, unpadded, too long. */
    char *u, *p;
    assert_int_equal(nova_basic_decode(&a, "aWQ6c2VjcmV0!", 13, &u, &p), NOVA_INVALID);
    assert_int_equal(nova_basic_decode(&a, "aWQ6cw", 6, &u, &p), NOVA_INVALID);
    char big[NOVA_BASIC_MAX + 8];
    memset(big, 'A', sizeof(big));
    assert_int_equal(nova_basic_decode(&a, big, NOVA_BASIC_MAX + 4, &u, &p), NOVA_INVALID);
    nova_arena_free(&a);
}

/* ---- buffers and slices ---- */

static void test_buf_growth(void **state)
{
    (void)state;
    nova_buf_t b;
    nova_buf_init(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(nova_buf_append(&b, "", 0), NOVA_OK);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");

    char expect[10000];
    for (size_t i = 0; i < sizeof(expect); i++) {
        char c = (char)('a' + i % 26);
        expect[i] = c;
        assert_int_equal(nova_buf_append(&b, &c, 1), NOVA_OK);
        assert_true(b.cap > b.len);
        assert_int_equal(b.data[b.len], '\0');
    }
    assert_int_equal(b.len, sizeof(expect));
    assert_memory_equal(b.data, expect, sizeof(expect));

    size_t cap = b.cap;
    nova_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, cap);
    assert_string_equal(b.data, "");
    assert_int_equal(nova_buf_reserve(&b, cap * 3), NOVA_OK);
    assert_true(b.cap >= cap * 3 + 1);
    assert_int_equal(nova_buf_append_cstr(&b, "hello"), NOVA_OK);
    assert_int_equal(nova_buf_append(&b, ", world", 7), NOVA_OK);
    assert_string_equal(b.data, "hello, world");

    char *s = nova_buf_steal(&b);
    assert_string_equal(s, "hello, world");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    free(s);
    s = nova_buf_steal(&b); /* an empty buffer still hands over a string */
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    nova_buf_free(&b);
    nova_buf_free(&b);
    nova_buf_free(NULL);
    /* Asking for more than can exist fails without touching the buffer. */
    assert_int_equal(nova_buf_append(&b, "x", 1), NOVA_OK);
    assert_int_equal(nova_buf_reserve(&b, SIZE_MAX), NOVA_NOMEM);
    assert_int_equal(nova_buf_reserve(&b, SIZE_MAX / 2), NOVA_NOMEM);
    assert_string_equal(b.data, "x");
    nova_buf_free(&b);
}

static void test_buf_printf(void **state)
{
    (void)state;
    nova_buf_t b;
    nova_buf_init(&b);
    assert_int_equal(nova_buf_printf(&b, "%d-%s", 42, "x"), NOVA_OK);
    assert_string_equal(b.data, "42-x");
    /* Past the 256-byte stack buffer the text is formatted a second time, in place. */
    char big[1001];
    memset(big, 'y', 1000);
    big[1000] = '\0';
    assert_int_equal(nova_buf_printf(&b, "[%s|%05d]", big, 7), NOVA_OK);
    assert_int_equal(b.len, 4 + 1 + 1000 + 7);
    assert_memory_equal(b.data, "42-x[", 5);
    assert_memory_equal(b.data + 5, big, 1000);
    assert_string_equal(b.data + 1005, "|00007]");
    /* Exactly 255 and 256 characters: either side of the stack buffer. */
    for (int n = 254; n <= 258; n++) {
        nova_buf_reset(&b);
        assert_int_equal(nova_buf_printf(&b, "%.*s", n, big), NOVA_OK);
        assert_int_equal(b.len, (size_t)n);
        assert_int_equal(strlen(b.data), (size_t)n);
    }
    nova_buf_free(&b);
}

/* XML/HTML text and attribute values: the four characters that end or open markup escaped,
 * everything else (UTF-8 included) as it came. */
static void test_buf_xml(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", ""},
        {"plain", "plain"},
        {"a&b", "a&amp;b"},
        {"<script>\"x\"</script>", "&lt;script&gt;&quot;x&quot;&lt;/script&gt;"},
        {"&&", "&amp;&amp;"},
        {"https://idp.example/slo?a=1&b=\"2\"", "https://idp.example/slo?a=1&amp;b=&quot;2&quot;"},
        {"caf\xc3\xa9 'q'", "caf\xc3\xa9 'q'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        nova_buf_t b;
        nova_buf_init(&b);
        assert_int_equal(nova_buf_append_cstr(&b, "["), NOVA_OK);
        assert_int_equal(nova_buf_append_xml(&b, cases[i].in), NOVA_OK);
        assert_int_equal(nova_buf_append_cstr(&b, "]"), NOVA_OK);
        assert_int_equal(b.len, strlen(cases[i].out) + 2);
        assert_memory_equal(b.data + 1, cases[i].out, strlen(cases[i].out));
        nova_buf_free(&b);
    }
}

static nova_status collect_pair(void *ud, char *name, char *value)
{
    nova_buf_t *b = ud;
    if (strcmp(name, "stop") == 0)
        return NOVA_CONFLICT;
    return nova_buf_printf(b, "[%s|%s]", name, value);
}

/* The form body walk: pairs in order, decoded, empty pairs skipped, a bad escape refused, the
 * callback's own status handed back. */
static void test_form_each(void **state)
{
    (void)state;
    nova_arena_t a;
    nova_arena_init(&a, 1024);
    static const struct {
        const char *in, *out;
        nova_status st;
    } cases[] = {
        {"", "", NOVA_OK},
        {"a=1&b=two+words&&c", "[a|1][b|two words][c|]", NOVA_OK},
        {"x=%41%2B&y=", "[x|A+][y|]", NOVA_OK},
        {"a=1&b=%zz&c=3", "[a|1]", NOVA_INVALID},
        {"a=%00", "", NOVA_INVALID},
        {"a=1&stop=1&c=3", "[a|1]", NOVA_CONFLICT},
        {"=v", "[|v]", NOVA_OK},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        nova_buf_t b;
        nova_buf_init(&b);
        nova_buf_append_cstr(&b, "");
        assert_int_equal(nova_form_each(&a, cases[i].in, strlen(cases[i].in), collect_pair, &b),
                         cases[i].st);
        assert_int_equal(b.len, strlen(cases[i].out));
        if (b.len)
            assert_memory_equal(b.data, cases[i].out, b.len);
        nova_buf_free(&b);
    }
    assert_int_equal(nova_form_each(&a, NULL, 5, collect_pair, NULL), NOVA_OK);
    nova_arena_free(&a);
}

static void test_buf_json_escaped(void **state)
{
    (void)state;
    nova_buf_t b;
    nova_buf_init(&b);
    const char in[] = "a\"b\\c/\n\r\t\b\f\x01\x1f\x7f caf\xc3\xa9";
    assert_int_equal(nova_buf_append_json_escaped(&b, in, sizeof(in) - 1), NOVA_OK);
    assert_string_equal(b.data, "a\\\"b\\\\c/\\n\\r\\t\\u0008\\u000c\\u0001\\u001f\\u007f "
                                "caf\xc3\xa9");
    /* An embedded NUL is escaped, not a terminator. */
    nova_buf_reset(&b);
    assert_int_equal(nova_buf_append_json_escaped(&b, "a\0b", 3), NOVA_OK);
    assert_string_equal(b.data, "a\\u0000b");
    /* The result parses back to the input. */
    nova_buf_reset(&b);
    char all[128];
    for (int i = 1; i < 128; i++)
        all[i - 1] = (char)i;
    nova_buf_append_cstr(&b, "[\"");
    assert_int_equal(nova_buf_append_json_escaped(&b, all, 127), NOVA_OK);
    nova_buf_append_cstr(&b, "\"]");
    json_error_t je;
    json_t *v = json_loads(b.data, 0, &je);
    assert_non_null(v);
    assert_int_equal(json_string_length(json_array_get(v, 0)), 127);
    assert_memory_equal(json_string_value(json_array_get(v, 0)), all, 127);
    json_decref(v);
    nova_buf_free(&b);
}

/* Well-formed UTF-8 per Unicode Table 3-7; everything else is refused. */
static void test_utf8(void **state)
{
    (void)state;
    static const char *const good[] = {
        "",
        "a",
        "\x7f",
        "\xc2\x80",
        "\xdf\xbf",
        "\xe0\xa0\x80",
        "\xed\x9f\xbf",
        "\xee\x80\x80",
        "\xef\xbf\xbf",
        "\xf0\x90\x80\x80",
        "\xf4\x8f\xbf\xbf",
        "caf\xc3\xa9 \xf0\x9f\x98\x80",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!nova_utf8_valid(good[i], strlen(good[i])))
            fail_msg("refused good[%zu]", i);
    static const char *const bad[] = {
        "\x80",             /* stray continuation */
        "\xbf",             /* stray continuation */
        "\xc0\x80",         /* overlong NUL */
        "\xc1\xbf",         /* overlong */
        "\xe0\x80\x80",     /* overlong */
        "\xe0\x9f\xbf",     /* overlong */
        "\xed\xa0\x80",     /* surrogate U+D800 */
        "\xed\xbf\xbf",     /* surrogate U+DFFF */
        "\xf0\x80\x80\x80", /* overlong */
        "\xf0\x8f\xbf\xbf", /* overlong */
        "\xf4\x90\x80\x80", /* U+110000 */
        "\xf5\x80\x80\x80",
        "\xf8\x88\x80\x80\x80",
        "\xfe",
        "\xff",
        "\xc3",         /* truncated */
        "\xe2\x82",     /* truncated */
        "\xf0\x9f\x98", /* truncated */
        "\xc3\x28",     /* bad continuation */
        "\xe2\x28\xa1", /* bad continuation */
        "a\xc3",        /* truncated at the end */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (nova_utf8_valid(bad[i], strlen(bad[i])))
            fail_msg("accepted bad[%zu]", i);
    assert_int_equal(nova_utf8_len("\xf0\x9f\x98\x80", 4), 4);
    assert_int_equal(nova_utf8_len("\xf0\x9f\x98\x80", 3), 0); /* only n bytes are read */
    assert_int_equal(nova_utf8_len("", 0), 0);
}

/* Finding 7 of issue 5: whatever bytes are escaped, the result is a JSON string in UTF-8.
 * Well-formed sequences are kept, each other byte becomes U+FFFD. */
static void test_buf_json_escaped_invalid_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"G\xc3\x89T", "G\xc3\x89T"},
        {"\xff", "\\ufffd"},
        {"G\xffT", "G\\ufffdT"},
        {"\xc0\x80", "\\ufffd\\ufffd"},
        {"\xed\xa0\x80x", "\\ufffd\\ufffd\\ufffdx"},
        {"\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"},
        {"ab\xe2\x82", "ab\\ufffd\\ufffd"},
        {"\xe2\x82\xac\xe2\x82", "\xe2\x82\xac\\ufffd\\ufffd"},
        {"\xf0\x9f\x98\x80\"", "\xf0\x9f\x98\x80\\\""},
    };
    nova_buf_t b;
    nova_buf_init(&b);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        nova_buf_reset(&b);
        assert_int_equal(nova_buf_append_json_escaped(&b, cases[i].in, strlen(cases[i].in)),
                         NOVA_OK);
        assert_string_equal(b.data, cases[i].out);
    }
    /* Every byte value, alone and after a lead byte: always parses, always UTF-8. */
    for (int c = 0; c < 256; c++) {
        for (int lead = 0; lead < 3; lead++) {
            char in[3] = {(char)"\x41\xc3\xf0"[lead], (char)c, 'z'};
            nova_buf_reset(&b);
            nova_buf_append_cstr(&b, "[\"");
            assert_int_equal(nova_buf_append_json_escaped(&b, in, 3), NOVA_OK);
            nova_buf_append_cstr(&b, "\"]");
            assert_true(nova_utf8_valid(b.data, b.len));
            json_error_t je;
            json_t *v = json_loadb(b.data, b.len, JSON_ALLOW_NUL, &je);
            if (v == NULL)
                fail_msg("lead %d byte %02x: %s (%s)", lead, c, je.text, b.data);
            json_decref(v);
        }
    }
    nova_buf_free(&b);
}

static void test_str_and_ct_equal(void **state)
{
    (void)state;
    nova_str_t a = nova_str("abc"), lit = NOVA_STR_LIT("abc");
    assert_int_equal(a.len, 3);
    assert_true(nova_str_eq(a, lit));
    assert_true(nova_str_eq_cstr(a, "abc"));
    assert_false(nova_str_eq_cstr(a, "abcd"));
    assert_false(nova_str_eq_cstr(a, "abd"));
    assert_true(nova_str_eq(nova_str(NULL), nova_str("")));
    assert_true(nova_str_eq((nova_str_t){NULL, 0}, (nova_str_t){"x", 0}));

    assert_true(nova_ct_equal("secret", 6, "secret", 6));
    assert_false(nova_ct_equal("secret", 6, "secreT", 6));
    assert_false(nova_ct_equal("Secret", 6, "secret", 6));
    assert_false(nova_ct_equal("secret", 6, "secret!", 7));
    assert_false(nova_ct_equal("secret", 6, "secre", 5));
    assert_true(nova_ct_equal("", 0, "", 0));
    assert_true(nova_ct_equal(NULL, 0, NULL, 0));
    assert_true(nova_ct_equal("a\0b", 3, "a\0b", 3));
    assert_false(nova_ct_equal("a\0b", 3, "a\0c", 3));
}

/* ---- arena ---- */

static void test_arena_alignment(void **state)
{
    (void)state;
    nova_arena_t a;
    nova_arena_init(&a, 256);
    for (size_t n = 0; n <= 300; n++) {
        unsigned char *p = nova_arena_alloc(&a, n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        memset(p, 0xa5, n);
    }
    nova_arena_free(&a);
    nova_arena_free(&a); /* twice is fine */
    nova_arena_free(NULL);

    nova_arena_init(&a, 0); /* 0: the default chunk size */
    assert_int_equal(a.chunk_size, 4096);
    assert_int_equal((uintptr_t)nova_arena_alloc(&a, 1) % 16, 0);
    nova_arena_reset(&a);
    assert_null(a.head);
    assert_int_equal((uintptr_t)nova_arena_alloc(&a, 3) % 16, 0);
    nova_arena_free(&a);
}

static void test_arena_many_and_large(void **state)
{
    (void)state;
    nova_arena_t a;
    nova_arena_init(&a, 1024);
    enum { N = 5000 };
    static uint32_t *small[N];
    for (uint32_t i = 0; i < N; i++) {
        small[i] = nova_arena_alloc(&a, 6 * sizeof(uint32_t));
        assert_non_null(small[i]);
        for (int j = 0; j < 6; j++)
            small[i][j] = i * 6 + (uint32_t)j;
        if (i == N / 2) {
            /* A block larger than a chunk, in the middle of small ones. */
            unsigned char *big = nova_arena_alloc(&a, 1 << 20);
            assert_non_null(big);
            assert_int_equal((uintptr_t)big % 16, 0);
            memset(big, 0x5a, 1 << 20);
            assert_int_equal(big[0], 0x5a);
            assert_int_equal(big[(1 << 20) - 1], 0x5a);
        }
    }
    /* Nothing overlapped: every block still holds what was written into it. */
    for (uint32_t i = 0; i < N; i++)
        for (int j = 0; j < 6; j++)
            assert_int_equal(small[i][j], i * 6 + (uint32_t)j);
    nova_arena_free(&a);

    /* A first allocation larger than a chunk, then small ones. */
    nova_arena_init(&a, 64);
    char *big = nova_arena_alloc(&a, 1000);
    assert_non_null(big);
    memset(big, 'b', 1000);
    char *s = nova_arena_alloc(&a, 10);
    assert_non_null(s);
    memset(s, 's', 10);
    assert_int_equal(big[999], 'b');
    nova_arena_free(&a);
}

static void test_arena_strings(void **state)
{
    (void)state;
    nova_arena_t a;
    nova_arena_init(&a, 64);
    assert_string_equal(nova_arena_strdup(&a, "hello"), "hello");
    assert_string_equal(nova_arena_strdup(&a, ""), "");
    assert_null(nova_arena_strdup(&a, NULL));
    assert_string_equal(nova_arena_strndup(&a, "hello world", 5), "hello");
    assert_string_equal(nova_arena_strndup(&a, NULL, 0), "");
    assert_string_equal(nova_arena_printf(&a, "%s-%d-%c", "x", -12, 'z'), "x--12-z");
    assert_string_equal(nova_arena_printf(&a, "%s", ""), "");
    /* Longer than a chunk. */
    char big[5000];
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    char *p = nova_arena_printf(&a, "<%s>", big);
    assert_non_null(p);
    assert_int_equal(strlen(p), sizeof(big) + 1);
    assert_int_equal(p[0], '<');
    assert_int_equal(p[sizeof(big)], '>');
    char *d = nova_arena_strdup(&a, big);
    assert_string_equal(d, big);
    nova_arena_free(&a);
}

/* Sizes whose rounding or chunk header would wrap around SIZE_MAX are refused (NULL), and the
 * whole range up to SIZE_MAX is checked, including SIZE_MAX - 46 .. SIZE_MAX - 15, which once
 * got a tiny malloc that the chunk header then overran. */
static void test_arena_alloc_huge(void **state)
{
    (void)state;
    nova_arena_t a;
    nova_arena_init(&a, 4096);
    assert_non_null(nova_arena_alloc(&a, 8));
    for (size_t k = 0; k < 64; k++)
        assert_null(nova_arena_alloc(&a, SIZE_MAX - k));
    assert_null(nova_arena_strndup(&a, "x", SIZE_MAX - 1));
    /* The arena still works afterwards. */
    assert_non_null(nova_arena_alloc(&a, 100));
    nova_arena_free(&a);
}

/* ---- identifiers, time, status ---- */

static void *seq_ids(void *arg)
{
    char(*ids)[64] = arg;
    for (int i = 0; i < 1000; i++)
        if (nova_id_seq("req", ids[i], 64) != NOVA_OK)
            return NULL;
    return arg;
}

/* Sequenced ids: the format, and no repeats within a thread or across threads. */
static void test_id_seq(void **state)
{
    (void)state;
    static char ids[2][1000][64];
    pthread_t t[2];
    for (int k = 0; k < 2; k++)
        assert_int_equal(pthread_create(&t[k], NULL, seq_ids, ids[k]), 0);
    for (int k = 0; k < 2; k++) {
        void *ret;
        pthread_join(t[k], &ret);
        assert_non_null(ret);
    }
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 1000; i++) {
            assert_int_equal(strlen(ids[k][i]), 4 + 20);
            assert_memory_equal(ids[k][i], "req_", 4);
        }
    for (int a = 0; a < 2000; a++)
        for (int b = a + 1; b < 2000; b++)
            if (strcmp(ids[a / 1000][a % 1000], ids[b / 1000][b % 1000]) == 0)
                fail_msg("duplicate id %s", ids[a / 1000][a % 1000]);
    char small[24];
    assert_int_equal(nova_id_seq("req", small, sizeof(small)), NOVA_INVALID);
}

static void test_id_new(void **state)
{
    (void)state;
    enum { N = 2000 };
    static char ids[N][64];
    for (int i = 0; i < N; i++) {
        assert_int_equal(nova_id_new("cli", ids[i], sizeof(ids[i])), NOVA_OK);
        assert_int_equal(strlen(ids[i]), 4 + 22);
        assert_memory_equal(ids[i], "cli_", 4);
        assert_int_equal(strspn(ids[i] + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                            "0123456789-_"),
                         22);
        /* 128 bits: the last character carries 2 bits, so it is one of AQgw. */
        assert_non_null(strchr("AQgw", ids[i][25]));
        uint8_t raw[18];
        size_t n;
        assert_int_equal(nova_b64url_decode(ids[i] + 4, 22, raw, &n), NOVA_OK);
        assert_int_equal(n, 16);
    }
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            if (strcmp(ids[i], ids[j]) == 0)
                fail_msg("duplicate id %s", ids[i]);
    char small[64];
    assert_int_equal(nova_id_new("ten", small, 27), NOVA_OK); /* "ten_" + 22 + NUL */
    assert_int_equal(strlen(small), 26);
    assert_int_equal(nova_id_new("ten", small, 26), NOVA_INVALID);
    assert_int_equal(nova_id_new("", small, 24), NOVA_OK);
    assert_int_equal(small[0], '_');
}

static void test_time_and_random(void **state)
{
    (void)state;
    char out[21];
    nova_time_format(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00Z");
    nova_time_format(1795360568, out);
    assert_string_equal(out, "2026-11-22T15:16:08Z");
    nova_time_set_fake(1000);
    assert_int_equal(nova_time_now(), 1000);
    nova_time_set_fake(0);
    assert_true(nova_time_now() > 1700000000);
    uint64_t t0 = nova_time_mono_ns(), t1 = nova_time_mono_ns();
    assert_true(t1 >= t0);

    uint8_t a[32] = {0}, b[32] = {0}, zero[32] = {0};
    assert_int_equal(nova_random_bytes(a, sizeof(a)), NOVA_OK);
    assert_int_equal(nova_random_bytes(b, sizeof(b)), NOVA_OK);
    assert_memory_not_equal(a, b, 32);
    assert_memory_not_equal(a, zero, 32);
    assert_int_equal(nova_random_bytes(a, 0), NOVA_OK);
}

static void test_status_names(void **state)
{
    (void)state;
    static const char *const names[] = {"ok",           "invalid",   "not_found", "conflict",
                                        "unauthorized", "forbidden", "too_large", "unavailable",
                                        "internal",     "nomem"};
    assert_int_equal(sizeof(names) / sizeof(names[0]), NOVA_STATUS_COUNT_);
    for (int i = 0; i < NOVA_STATUS_COUNT_; i++)
        assert_string_equal(nova_status_name((nova_status)i), names[i]);
    assert_string_equal(nova_status_name(NOVA_STATUS_COUNT_), "unknown");
    assert_string_equal(nova_status_name((nova_status)-1), "unknown");
}

/* ---- configuration ---- */

/* Removes every configuration variable (the names come from the key table itself) so the
 * tests see only what they set. */
static void config_clear_env(void)
{
    nova_buf_t b;
    nova_buf_init(&b);
    assert_int_equal(nova_config_describe(&b), NOVA_OK);
    for (const char *p = b.data; (p = strstr(p, "| `NOVA_")) != NULL;) {
        p += 3;
        size_t n = strcspn(p, "`");
        char name[64];
        assert_true(n < sizeof(name));
        memcpy(name, p, n);
        name[n] = '\0';
        unsetenv(name);
        p += n;
    }
    unsetenv("NOVA_CONFIG");
    nova_buf_free(&b);
}

static int config_setup(void **state)
{
    (void)state;
    config_clear_env();
    return 0;
}

static int config_teardown(void **state)
{
    (void)state;
    config_clear_env();
    return 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_config_defaults(void **state)
{
    (void)state;
    nova_config_t c;
    char err[256] = "";
    assert_int_equal(nova_config_load(&c, NULL, err, sizeof(err)), NOVA_OK);
    assert_string_equal(c.host, "127.0.0.1");
    assert_int_equal(c.port, 8080);
    assert_string_equal(c.data_dir, "./data");
    assert_string_equal(c.database_url, "sqlite:./data/nova.db");
    assert_string_equal(c.master_key, "");
    assert_string_equal(c.master_key_file, "./data/master.key");
    assert_string_equal(c.issuer, "http://127.0.0.1:8080");
    assert_string_equal(c.audience, "nova-api");
    assert_int_equal(c.token_ttl, 300);
    assert_string_equal(c.token_alg, "EdDSA");
    assert_string_equal(c.tls_cert, "");
    assert_int_equal(c.max_body, 1048576);
    assert_int_equal(c.threads, 0);
    assert_string_equal(c.log_level, "info");
    assert_true(c.access_log);
    assert_int_equal(c.shutdown_grace_ms, 10000);
    assert_int_equal(c.connection_timeout, 30);
    assert_false(c.demo);
    assert_int_equal(c.token_cache, 65536);
    nova_config_free(&c);
    assert_null(c.host);
    nova_config_free(&c); /* twice is fine */
    nova_config_free(NULL);

    nova_buf_t b;
    nova_buf_init(&b);
    assert_int_equal(nova_config_describe(&b), NOVA_OK);
    assert_non_null(strstr(b.data, "| `NOVA_TOKEN_TTL` | `300` |"));
    assert_non_null(strstr(b.data, "| `NOVA_DATABASE_URL` |"));
    nova_buf_free(&b);
}

static void test_config_env_and_derived(void **state)
{
    (void)state;
    nova_config_t c;
    char err[256] = "";
    setenv("NOVA_HOST", "127.0.0.2", 1);
    setenv("NOVA_PORT", "9443", 1);
    setenv("NOVA_DATA_DIR", "/var/lib/nova", 1);
    setenv("NOVA_TOKEN_TTL", "600", 1);
    setenv("NOVA_ACCESS_LOG", "off", 1);
    setenv("NOVA_DEMO", "yes", 1);
    setenv("NOVA_TOKEN_ALG", "ES256", 1);
    assert_int_equal(nova_config_load(&c, NULL, err, sizeof(err)), NOVA_OK);
    assert_string_equal(c.host, "127.0.0.2");
    assert_int_equal(c.port, 9443);
    assert_string_equal(c.database_url, "sqlite:/var/lib/nova/nova.db");
    assert_string_equal(c.master_key_file, "/var/lib/nova/master.key");
    assert_string_equal(c.issuer, "http://127.0.0.2:9443");
    assert_int_equal(c.token_ttl, 600);
    assert_false(c.access_log);
    assert_true(c.demo);
    assert_string_equal(c.token_alg, "ES256");
    nova_config_free(&c);

    /* Explicit values are not overwritten by derived ones; TLS makes the issuer https. */
    setenv("NOVA_DATABASE_URL", "postgres://u@db/nova", 1);
    setenv("NOVA_MASTER_KEY_FILE", "/etc/nova/key", 1);
    setenv("NOVA_TLS_CERT", "/etc/nova/cert.pem", 1);
    setenv("NOVA_TLS_KEY", "/etc/nova/key.pem", 1);
    assert_int_equal(nova_config_load(&c, NULL, err, sizeof(err)), NOVA_OK);
    assert_string_equal(c.database_url, "postgres://u@db/nova");
    assert_string_equal(c.master_key_file, "/etc/nova/key");
    assert_string_equal(c.issuer, "https://127.0.0.2:9443");
    nova_config_free(&c);
    setenv("NOVA_ISSUER", "https://id.example.com", 1);
    assert_int_equal(nova_config_load(&c, NULL, err, sizeof(err)), NOVA_OK);
    assert_string_equal(c.issuer, "https://id.example.com");
    nova_config_free(&c);
}

static void test_config_port_zero(void **state)
{
    (void)state;
    nova_config_t c;
    char err[256] = "";
    setenv("NOVA_PORT", "0", 1);
    assert_int_equal(nova_config_load(&c, NULL, err, sizeof(err)), NOVA_OK);
    assert_true(c.port > 0 && c.port <= 65535);
    char want[64];
    snprintf(want, sizeof(want), "http://127.0.0.1:%u", c.port);
    assert_string_equal(c.issuer, want);
    nova_config_free(&c);
}

static void test_config_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/nova-base-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], other[128];
    snprintf(path, sizeof(path), "%s/nova.conf", dir);
    snprintf(other, sizeof(other), "%s/other.conf", dir);
    write_file(path, "# Nova configuration\n"
                     "\n"
                     "   # an indented comment\n"
                     "NOVA_HOST = 127.0.0.3\n"
                     "NOVA_PORT=7000\r\n"
                     "NOVA_AUDIENCE=\"my api\"\n"
                     "NOVA_DATA_DIR='/srv/nova'\n"
                     "\tNOVA_LOG_LEVEL\t=\twarn  \n"
                     "NOVA_ISSUER=\"\"\n"
                     "NOVA_TOKEN_TTL=120\n");
    nova_config_t c;
    char err[256] = "";
    assert_int_equal(nova_config_load(&c, path, err, sizeof(err)), NOVA_OK);
    assert_string_equal(c.host, "127.0.0.3");
    assert_int_equal(c.port, 7000);
    assert_string_equal(c.audience, "my api");
    assert_string_equal(c.data_dir, "/srv/nova");
    assert_string_equal(c.database_url, "sqlite:/srv/nova/nova.db");
    assert_string_equal(c.log_level, "warn");
    assert_string_equal(c.issuer, "http://127.0.0.3:7000");
    assert_int_equal(c.token_ttl, 120);
    nova_config_free(&c);

    /* The environment wins over the file; NOVA_CONFIG names the file when none is passed. */
    setenv("NOVA_CONFIG", path, 1);
    setenv("NOVA_PORT", "7001", 1);
    assert_int_equal(nova_config_load(&c, NULL, err, sizeof(err)), NOVA_OK);
    assert_string_equal(c.host, "127.0.0.3");
    assert_int_equal(c.port, 7001);
    nova_config_free(&c);
    unsetenv("NOVA_CONFIG");
    unsetenv("NOVA_PORT");

    write_file(other, "NOVA_HOST=127.0.0.1\nNOVA_BOGUS=1\n");
    assert_int_equal(nova_config_load(&c, other, err, sizeof(err)), NOVA_INVALID);
    assert_non_null(strstr(err, ":2: unknown key NOVA_BOGUS"));
    assert_null(c.host); /* freed on failure */

    write_file(other, "NOVA_HOST\n");
    assert_int_equal(nova_config_load(&c, other, err, sizeof(err)), NOVA_INVALID);
    assert_non_null(strstr(err, ":1: expected KEY=VALUE"));

    write_file(other, "NOVA_TOKEN_TTL=5\n");
    assert_int_equal(nova_config_load(&c, other, err, sizeof(err)), NOVA_INVALID);
    assert_non_null(strstr(err, "NOVA_TOKEN_TTL"));

    char missing[160];
    snprintf(missing, sizeof(missing), "%s/missing.conf", dir);
    assert_int_equal(nova_config_load(&c, missing, err, sizeof(err)), NOVA_INVALID);
    assert_non_null(strstr(err, "missing.conf"));

    unlink(path);
    unlink(other);
    rmdir(dir);
}

static void test_config_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *key, *value;
    } bad[] = {
        {"NOVA_TOKEN_TTL", "59"},     {"NOVA_TOKEN_TTL", "901"},
        {"NOVA_TOKEN_TTL", "0"},      {"NOVA_TOKEN_TTL", "-300"},
        {"NOVA_TOKEN_TTL", "300s"},   {"NOVA_TOKEN_TTL", ""},
        {"NOVA_TOKEN_TTL", "abc"},    {"NOVA_TOKEN_TTL", "99999999999999999999999"},
        {"NOVA_PORT", "65536"},       {"NOVA_PORT", "-1"},
        {"NOVA_MAX_BODY", "1023"},    {"NOVA_THREADS", "257"},
        {"NOVA_ACCESS_LOG", "maybe"}, {"NOVA_DEMO", "TRUE"},
        {"NOVA_TOKEN_ALG", "RS256"},  {"NOVA_TOKEN_ALG", "none"},
        {"NOVA_TLS_CERT", "/c.pem"},  {"NOVA_CONNECTION_TIMEOUT", "0"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        config_clear_env();
        setenv(bad[i].key, bad[i].value, 1);
        nova_config_t c;
        char err[256] = "";
        if (nova_config_load(&c, NULL, err, sizeof(err)) != NOVA_INVALID)
            fail_msg("%s=\"%s\" was accepted", bad[i].key, bad[i].value);
        if (strstr(err, bad[i].key) == NULL)
            fail_msg("%s=\"%s\": the message does not name the key: %s", bad[i].key, bad[i].value,
                     err);
    }
    /* The bounds themselves are fine. */
    static const char *const ttl_ok[] = {"60", "900", "300"};
    for (size_t i = 0; i < 3; i++) {
        config_clear_env();
        setenv("NOVA_TOKEN_TTL", ttl_ok[i], 1);
        nova_config_t c;
        char err[256] = "";
        assert_int_equal(nova_config_load(&c, NULL, err, sizeof(err)), NOVA_OK);
        assert_int_equal(c.token_ttl, (unsigned)atoi(ttl_ok[i]));
        nova_config_free(&c);
    }
}

/* ---- strict JSON decoding ---- */

static void test_json_parse_object(void **state)
{
    (void)state;
    json_t *o = NULL;
    char err[160];
    const char *ok = "{\"name\":\"x\",\"scopes\":[\"a\"],\"n\":{\"m\":null}}";
    assert_int_equal(nova_json_parse_object(ok, strlen(ok), &o, err, sizeof(err)), NOVA_OK);
    assert_true(json_is_object(o));
    assert_string_equal(json_string_value(json_object_get(o, "name")), "x");
    json_decref(o);
    /* Only n bytes are read. */
    assert_int_equal(nova_json_parse_object("{}trailing", 2, &o, err, sizeof(err)), NOVA_OK);
    json_decref(o);

    static const struct {
        const char *in, *msg;
    } bad[] = {
        {"{\"a\":1,\"a\":2}", "malformed JSON"},
        {"{\"a\":{\"b\":1,\"b\":1}}", "malformed JSON"},
        {"[1,2]", "must be a JSON object"},
        {"[]", "must be a JSON object"},
        {"1", ""},
        {"\"str\"", ""},
        {"null", ""},
        {"", "malformed JSON"},
        {"{", "malformed JSON"},
        {"{\"name\": \"x\", ", "malformed JSON"},
        {"{\"a\":1}{}", "malformed JSON"},
        {"{\"a\":1,}", "malformed JSON"},
        {"{'a':1}", "malformed JSON"},
        {"{\"a\":\"\\u0000\"}", "malformed JSON"},
        {"{\"a\":\"\xff\"}", "malformed JSON"},
        {"{\"a\":NaN}", "malformed JSON"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        o = (json_t *)&err; /* must be reset to NULL */
        if (nova_json_parse_object(bad[i].in, strlen(bad[i].in), &o, err, sizeof(err)) !=
            NOVA_INVALID)
            fail_msg("accepted %s", bad[i].in);
        assert_null(o);
        if (err[0] == '\0' || strstr(err, bad[i].msg) == NULL)
            fail_msg("%s: message \"%s\", expected \"%s\"", bad[i].in, err, bad[i].msg);
    }
}

/* An object whose member "a" holds depth-1 nested arrays: depth levels in all. */
static char *nested(int depth)
{
    char *s = malloc((size_t)depth * 2 + 16);
    assert_non_null(s);
    strcpy(s, "{\"a\":");
    size_t n = strlen(s);
    for (int i = 1; i < depth; i++)
        s[n++] = '[';
    for (int i = 1; i < depth; i++)
        s[n++] = ']';
    s[n++] = '}';
    s[n] = '\0';
    return s;
}

static void test_json_depth(void **state)
{
    (void)state;
    json_t *o;
    char err[160];
    char *s = nested(NOVA_JSON_MAX_DEPTH);
    assert_int_equal(nova_json_parse_object(s, strlen(s), &o, err, sizeof(err)), NOVA_OK);
    json_decref(o);
    free(s);
    for (int d = NOVA_JSON_MAX_DEPTH + 1; d <= 5000; d = d * 3) {
        s = nested(d);
        assert_int_equal(nova_json_parse_object(s, strlen(s), &o, err, sizeof(err)), NOVA_INVALID);
        assert_null(o);
        assert_non_null(strstr(err, "nested deeper than 32"));
        free(s);
    }
    /* Brackets inside strings do not count; escaped quotes do not end a string. */
    const char *str = "{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[\"}";
    assert_int_equal(nova_json_parse_object(str, strlen(str), &o, err, sizeof(err)), NOVA_OK);
    json_decref(o);
}

static void test_json_only_members(void **state)
{
    (void)state;
    static const char *const allowed[] = {"name", "scopes", NULL};
    static const char *const none[] = {NULL};
    char err[160];
    json_t *o = json_pack("{s:s, s:[]}", "name", "x", "scopes");
    assert_int_equal(nova_json_only_members(o, allowed, err, sizeof(err)), NOVA_OK);
    json_object_set_new(o, "admin", json_true());
    assert_int_equal(nova_json_only_members(o, allowed, err, sizeof(err)), NOVA_INVALID);
    assert_string_equal(err, "unknown member \"admin\"");
    assert_int_equal(nova_json_only_members(o, none, err, sizeof(err)), NOVA_INVALID);
    json_decref(o);
    o = json_object();
    assert_int_equal(nova_json_only_members(o, none, err, sizeof(err)), NOVA_OK);
    /* Names are compared exactly. */
    json_object_set_new(o, "Name", json_string("x"));
    assert_int_equal(nova_json_only_members(o, allowed, err, sizeof(err)), NOVA_INVALID);
    json_decref(o);
}

/* A body of n empty objects in member "name": "{"name":[{},{},...]}". */
static char *empty_objects(const char *member, size_t n, size_t *len)
{
    char *s = malloc(n * 3 + 32);
    assert_non_null(s);
    size_t o = (size_t)sprintf(s, "{\"%s\":[", member);
    for (size_t i = 0; i < n; i++) {
        memcpy(s + o, i ? ",{}" : "{}", i ? 3 : 2);
        o += i ? 3 : 2;
    }
    memcpy(s + o, "]}", 3);
    *len = o + 2;
    return s;
}

/* Finding 4 of issue 5: a 1 MiB body of 349k empty objects took 80 MB to decode. The decode
 * may ask for at most NOVA_JSON_BUDGET(len) bytes; past it the body is NOVA_TOO_LARGE. */
static void test_json_budget(void **state)
{
    (void)state;
    static const char *const allowed[] = {"name", "scopes", NULL};
    char err[160];
    json_t *o;
    size_t len;
    char *s = empty_objects("scopes", 349000, &len);
    assert_true(len > 1000000);
    o = (json_t *)&err;
    assert_int_equal(nova_json_parse_body(s, len, allowed, &o, err, sizeof(err)), NOVA_TOO_LARGE);
    assert_null(o);
    assert_non_null(strstr(err, "16 times its size"));
    free(s);
    /* The same shape, small: within the constant part of the budget. */
    s = empty_objects("scopes", 20, &len);
    assert_int_equal(nova_json_parse_body(s, len, allowed, &o, err, sizeof(err)), NOVA_OK);
    assert_int_equal(json_array_size(json_object_get(o, "scopes")), 20);
    json_decref(o);
    free(s);
    /* A large body of the shapes routes take: a long string, and many short strings. */
    size_t n = 1 << 20;
    s = malloc(n + 64);
    o = NULL;
    len = (size_t)sprintf(s, "{\"name\":\"");
    memset(s + len, 'x', n);
    len += n;
    len += (size_t)sprintf(s + len, "\"}");
    assert_int_equal(nova_json_parse_body(s, len, allowed, &o, err, sizeof(err)), NOVA_OK);
    assert_int_equal(json_string_length(json_object_get(o, "name")), n);
    json_decref(o);
    len = (size_t)sprintf(s, "{\"scopes\":[");
    for (int i = 0; i < 20000; i++)
        len += (size_t)sprintf(s + len, "%s\"clients:%d\"", i ? "," : "", i);
    len += (size_t)sprintf(s + len, "]}");
    assert_int_equal(nova_json_parse_body(s, len, allowed, &o, err, sizeof(err)), NOVA_OK);
    assert_int_equal(json_array_size(json_object_get(o, "scopes")), 20000);
    json_decref(o);
    free(s);
    /* The budget binds only the decode: jansson allocates freely after it. */
    o = json_pack("{s:s}", "k", "v");
    assert_non_null(o);
    json_decref(o);
    /* Token claims and other callers of nova_json_parse_object are bounded the same way. */
    s = empty_objects("x", 100000, &len);
    assert_int_equal(nova_json_parse_object(s, len, &o, err, sizeof(err)), NOVA_TOO_LARGE);
    free(s);
}

/* The members of the top-level object are checked as the text is scanned: the first unknown
 * one refuses the body before anything is built, whatever follows it. */
static void test_json_unknown_member_first(void **state)
{
    (void)state;
    static const char *const allowed[] = {"name", "scopes", NULL};
    char err[160];
    json_t *o = NULL;
    size_t len;
    /* 349k empty objects under an unknown member: refused as unknown, not as too costly. */
    char *s = empty_objects("evil", 349000, &len);
    assert_int_equal(nova_json_parse_body(s, len, allowed, &o, err, sizeof(err)), NOVA_INVALID);
    assert_string_equal(err, "unknown member \"evil\"");
    free(s);
    /* The text after the unknown member is never parsed: it is not even JSON here. */
    const char *t = "{\"name\":\"x\",\"admin\":true, this is not JSON";
    assert_int_equal(nova_json_parse_body(t, strlen(t), allowed, &o, err, sizeof(err)),
                     NOVA_INVALID);
    assert_string_equal(err, "unknown member \"admin\"");
    /* Names inside values and nested objects are not members of the body. */
    t = "{\"name\":\"admin\",\"scopes\":[{\"admin\":1},\"x\"]}";
    assert_int_equal(nova_json_parse_body(t, strlen(t), allowed, &o, err, sizeof(err)), NOVA_OK);
    json_decref(o);
    t = " { \"scopes\" : [ ] , \"name\" : \"a,\\\"b\" } ";
    assert_int_equal(nova_json_parse_body(t, strlen(t), allowed, &o, err, sizeof(err)), NOVA_OK);
    json_decref(o);
    /* A name written with escapes is checked after the parse, with the same result. */
    t = "{\"n\\u0061me\":\"x\"}";
    assert_int_equal(nova_json_parse_body(t, strlen(t), allowed, &o, err, sizeof(err)), NOVA_OK);
    json_decref(o);
    t = "{\"\\u0061dmin\":true}";
    assert_int_equal(nova_json_parse_body(t, strlen(t), allowed, &o, err, sizeof(err)),
                     NOVA_INVALID);
    assert_string_equal(err, "unknown member \"admin\"");
    /* A long unknown name is shown cut to 64 bytes; the message stays short. */
    t = "{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":"
        "1}";
    assert_int_equal(nova_json_parse_body(t, strlen(t), allowed, &o, err, sizeof(err)),
                     NOVA_INVALID);
    assert_int_equal(strlen(err), strlen("unknown member \"\"") + 64);
}

static void test_json_get_string(void **state)
{
    (void)state;
    char err[160];
    const char *s = "untouched";
    json_t *o = json_pack("{s:s, s:s, s:i, s:n, s:s, s:s, s:s}", "name", "worker", "empty", "",
                          "num", 7, "nul", "tab", "a\tb", "del", "a\x7f", "utf8", "caf\xc3\xa9");
    json_object_set_new(o, "nulbyte", json_stringn("a\0b", 3));

    assert_int_equal(nova_json_get_string(o, "name", true, 1, 128, &s, err, sizeof(err)), NOVA_OK);
    assert_string_equal(s, "worker");
    /* Bounds are inclusive. */
    assert_int_equal(nova_json_get_string(o, "name", true, 6, 6, &s, err, sizeof(err)), NOVA_OK);
    assert_int_equal(nova_json_get_string(o, "name", true, 7, 128, &s, err, sizeof(err)),
                     NOVA_INVALID);
    assert_null(s);
    assert_string_equal(err, "\"name\" must be 7 to 128 characters long");
    assert_int_equal(nova_json_get_string(o, "name", true, 1, 5, &s, err, sizeof(err)),
                     NOVA_INVALID);
    assert_int_equal(nova_json_get_string(o, "empty", true, 1, 5, &s, err, sizeof(err)),
                     NOVA_INVALID);
    assert_int_equal(nova_json_get_string(o, "empty", true, 0, 5, &s, err, sizeof(err)), NOVA_OK);
    assert_string_equal(s, "");
    /* Lengths are bytes of UTF-8. */
    assert_int_equal(nova_json_get_string(o, "utf8", true, 1, 5, &s, err, sizeof(err)), NOVA_OK);
    assert_int_equal(nova_json_get_string(o, "utf8", true, 1, 4, &s, err, sizeof(err)),
                     NOVA_INVALID);

    /* Missing (or null): fine unless required. */
    s = "untouched";
    assert_int_equal(nova_json_get_string(o, "missing", false, 1, 5, &s, err, sizeof(err)),
                     NOVA_OK);
    assert_null(s);
    assert_int_equal(nova_json_get_string(o, "nul", false, 1, 5, &s, err, sizeof(err)), NOVA_OK);
    assert_null(s);
    assert_int_equal(nova_json_get_string(o, "missing", true, 1, 5, &s, err, sizeof(err)),
                     NOVA_INVALID);
    assert_string_equal(err, "\"missing\" is required");
    assert_int_equal(nova_json_get_string(o, "nul", true, 1, 5, &s, err, sizeof(err)),
                     NOVA_INVALID);

    assert_int_equal(nova_json_get_string(o, "num", false, 0, 5, &s, err, sizeof(err)),
                     NOVA_INVALID);
    assert_string_equal(err, "\"num\" must be a string");
    static const char *const controls[] = {"tab", "del", "nulbyte"};
    for (int i = 0; i < 3; i++) {
        s = "untouched";
        assert_int_equal(nova_json_get_string(o, controls[i], true, 0, 64, &s, err, sizeof(err)),
                         NOVA_INVALID);
        assert_null(s);
        assert_non_null(strstr(err, "control characters"));
    }
    json_decref(o);
}

static void test_json_get_words(void **state)
{
    (void)state;
    nova_arena_t a;
    nova_arena_init(&a, 0);
    char err[200];
    const char *w = "untouched";
    json_t *o = json_pack("{s:[s,s,s], s:[], s:s, s:[s,i], s:[s], s:[s], s:[s], s:[s], s:[s], "
                          "s:[s,s,s], s:n}",
                          "scopes", "clients:read", "clients:write", "caf\xc3\xa9", "empty", "str",
                          "a b", "mixed", "a", 1, "blank", "", "space", "a b", "quote", "a\"b",
                          "bslash", "a\\b", "ctl", "a\x7f", "three", "a", "b", "c", "nul");

    assert_int_equal(nova_json_get_words(o, "scopes", true, 16, 64, &a, &w, err, sizeof(err)),
                     NOVA_OK);
    assert_string_equal(w, "clients:read clients:write caf\xc3\xa9");
    assert_int_equal(nova_json_get_words(o, "empty", true, 16, 64, &a, &w, err, sizeof(err)),
                     NOVA_OK);
    assert_string_equal(w, "");
    w = "untouched";
    assert_int_equal(nova_json_get_words(o, "missing", false, 16, 64, &a, &w, err, sizeof(err)),
                     NOVA_OK);
    assert_null(w);
    assert_int_equal(nova_json_get_words(o, "nul", false, 16, 64, &a, &w, err, sizeof(err)),
                     NOVA_OK);
    assert_null(w);
    assert_int_equal(nova_json_get_words(o, "missing", true, 16, 64, &a, &w, err, sizeof(err)),
                     NOVA_INVALID);
    assert_string_equal(err, "\"missing\" is required");

    /* At most max_items, each at most maxlen bytes. */
    assert_int_equal(nova_json_get_words(o, "three", true, 3, 1, &a, &w, err, sizeof(err)),
                     NOVA_OK);
    assert_string_equal(w, "a b c");
    assert_int_equal(nova_json_get_words(o, "three", true, 2, 1, &a, &w, err, sizeof(err)),
                     NOVA_INVALID);
    assert_string_equal(err, "\"three\" must be an array of at most 2 strings");
    assert_int_equal(nova_json_get_words(o, "scopes", true, 16, 12, &a, &w, err, sizeof(err)),
                     NOVA_INVALID);
    assert_non_null(strstr(err, "\"scopes\"[1]"));

    static const char *const bad[] = {"str", "mixed", "blank", "space", "quote", "bslash", "ctl"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        w = "untouched";
        if (nova_json_get_words(o, bad[i], true, 16, 64, &a, &w, err, sizeof(err)) != NOVA_INVALID)
            fail_msg("\"%s\" was accepted", bad[i]);
        assert_null(w);
        assert_non_null(strstr(err, bad[i]));
    }
    json_decref(o);
    nova_arena_free(&a);
}

/* ---- log lines ---- */

static void test_log_lines(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    nova_log_level old = nova_log_get_level();
    nova_log_set_fd(fds[1]);
    nova_log_set_level(NOVA_LOG_INFO);

    nova_log_json(NOVA_LOG_WARN, "quote \" and\nnewline", "\"k\":1,\"s\":\"v\"");
    nova_log(NOVA_LOG_DEBUG, "below the level");
    nova_log_info("n=%d", 5);
    nova_log_set_level(NOVA_LOG_OFF);
    nova_log_error("silenced");
    nova_log_json(NOVA_LOG_OFF, "never", NULL);

    char buf[2048];
    ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
    nova_log_set_fd(2);
    nova_log_set_level(old);
    close(fds[0]);
    close(fds[1]);
    assert_true(n > 0);
    buf[n] = '\0';

    char *second = strchr(buf, '\n');
    assert_non_null(second);
    *second++ = '\0';
    char *end = strchr(second, '\n');
    assert_non_null(end);
    *end = '\0';
    assert_string_equal(end + 1, ""); /* two lines, nothing else */

    json_error_t je;
    json_t *l1 = json_loads(buf, 0, &je), *l2 = json_loads(second, 0, &je);
    assert_non_null(l1);
    assert_non_null(l2);
    assert_string_equal(json_string_value(json_object_get(l1, "level")), "warn");
    assert_string_equal(json_string_value(json_object_get(l1, "msg")), "quote \" and\nnewline");
    assert_int_equal(json_integer_value(json_object_get(l1, "k")), 1);
    assert_string_equal(json_string_value(json_object_get(l1, "s")), "v");
    const char *ts = json_string_value(json_object_get(l1, "ts"));
    assert_non_null(ts);
    assert_int_equal(strlen(ts), strlen("2026-11-22T15:16:08.123Z"));
    assert_int_equal(ts[strlen(ts) - 1], 'Z');
    assert_string_equal(json_string_value(json_object_get(l2, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(l2, "msg")), "n=5");
    json_decref(l1);
    json_decref(l2);

    nova_log_level lvl;
    static const char *const names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(nova_log_parse_level(names[i], &lvl), NOVA_OK);
        assert_int_equal(lvl, i);
    }
    assert_int_equal(nova_log_parse_level("INFO", &lvl), NOVA_INVALID);
    assert_int_equal(nova_log_parse_level("", &lvl), NOVA_INVALID);
    assert_int_equal(nova_log_parse_level("warning", &lvl), NOVA_INVALID);
}

/* Finding 7 of issue 5: a method byte >= 0x80 reached the access log raw. Invalid UTF-8 in a
 * message or in fields rendered with the escaper still gives one line of valid JSON. */
static void test_log_invalid_utf8(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    nova_log_level old = nova_log_get_level();
    nova_log_set_fd(fds[1]);
    nova_log_set_level(NOVA_LOG_INFO);
    nova_buf_t f;
    nova_buf_init(&f);
    nova_buf_append_cstr(&f, "\"method\":\"");
    nova_buf_append_json_escaped(&f, "G\xff\xc0\x80T\x01", 6);
    nova_buf_append_cstr(&f, "\"");
    nova_log_json(NOVA_LOG_INFO, "bad \xed\xa0\x80 bytes \xf4\x90\x80\x80", f.data);
    nova_buf_free(&f);
    char buf[1024];
    ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
    nova_log_set_fd(2);
    nova_log_set_level(old);
    close(fds[0]);
    close(fds[1]);
    assert_true(n > 0);
    assert_true(nova_utf8_valid(buf, (size_t)n));
    json_error_t je;
    json_t *l = json_loadb(buf, (size_t)n, 0, &je);
    assert_non_null(l);
    assert_string_equal(json_string_value(json_object_get(l, "method")),
                        "G\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdT\x01");
    assert_string_equal(json_string_value(json_object_get(l, "msg")),
                        "bad \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd bytes "
                        "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    json_decref(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64url_rfc4648_vectors),
        cmocka_unit_test(test_b64url_alphabet_and_roundtrip),
        cmocka_unit_test(test_b64url_rejects),
        cmocka_unit_test(test_b64std_decode),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_form_decode),
        cmocka_unit_test(test_form_decode_controls_and_utf8),
        cmocka_unit_test(test_basic_decode),
        cmocka_unit_test(test_buf_growth),
        cmocka_unit_test(test_buf_xml),
        cmocka_unit_test(test_form_each),
        cmocka_unit_test(test_buf_printf),
        cmocka_unit_test(test_buf_json_escaped),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_buf_json_escaped_invalid_utf8),
        cmocka_unit_test(test_str_and_ct_equal),
        cmocka_unit_test(test_arena_alignment),
        cmocka_unit_test(test_arena_many_and_large),
        cmocka_unit_test(test_arena_strings),
        cmocka_unit_test(test_arena_alloc_huge),
        cmocka_unit_test(test_id_new),
        cmocka_unit_test(test_id_seq),
        cmocka_unit_test(test_time_and_random),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test_setup_teardown(test_config_defaults, config_setup, config_teardown),
        cmocka_unit_test_setup_teardown(test_config_env_and_derived, config_setup, config_teardown),
        cmocka_unit_test_setup_teardown(test_config_port_zero, config_setup, config_teardown),
        cmocka_unit_test_setup_teardown(test_config_file, config_setup, config_teardown),
        cmocka_unit_test_setup_teardown(test_config_rejects, config_setup, config_teardown),
        cmocka_unit_test(test_json_parse_object),
        cmocka_unit_test(test_json_depth),
        cmocka_unit_test(test_json_only_members),
        cmocka_unit_test(test_json_budget),
        cmocka_unit_test(test_json_unknown_member_first),
        cmocka_unit_test(test_json_get_string),
        cmocka_unit_test(test_json_get_words),
        cmocka_unit_test(test_log_lines),
        cmocka_unit_test(test_log_invalid_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
