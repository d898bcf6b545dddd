/*
 * form_fuzz.c: libFuzzer target for the form decoder (nova_form_decode) and the HTTP Basic
 * credential decoder on top of it (nova_basic_decode), the two ways a client id and secret
 * reach the token endpoint. What they hand back must honour base.h: no control character,
 * valid UTF-8, never longer than the input; a decoded value encoded again decodes to itself;
 * and Basic accepts exactly the credentials whose raw bytes hold no control character, a
 * colon, and two parts the form decoder accepts. The input as a whole body goes through
 * nova_form_each too: every pair it hands out is a value as above. A violation aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nova/base.h"

static void check_value(const char *s, size_t max)
{
    if (s == NULL)
        abort();
    size_t n = strlen(s);
    if (n > max || !nova_utf8_valid(s, n))
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            abort();
}

/* Percent-encodes s (everything but unreserved characters) and decodes it again. */
static void check_roundtrip(nova_arena_t *a, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *enc = malloc(3 * n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            enc[o++] = (char)c;
        } else {
            enc[o++] = '%';
            enc[o++] = hex[c >> 4];
            enc[o++] = hex[c & 15];
        }
    }
    char *back = nova_form_decode(a, enc, o);
    if (back == NULL || strcmp(back, s) != 0)
        abort();
    free(enc);
}

static char *b64std(const uint8_t *in, size_t n, size_t *len)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = al[v >> 18];
        out[o++] = al[(v >> 12) & 63];
        out[o++] = i + 1 < n ? al[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? al[v & 63] : '=';
    }
    out[o] = '\0';
    *len = o;
    return out;
}

static void check_basic(nova_arena_t *a, const char *b64, size_t n, const char *raw, size_t rn)
{
    char *u = (char *)a, *p = (char *)a;
    nova_status st = nova_basic_decode(a, b64, n, &u, &p);
    if (st != NOVA_OK) {
        if (st != NOVA_INVALID || u != NULL || p != NULL)
            abort();
    } else {
        check_value(u, n);
        check_value(p, n);
    }
    if (raw == NULL)
        return;
    /* Over the base64 of raw, the answer is determined by raw itself. */
    bool expect = n <= NOVA_BASIC_MAX && rn > 0;
    const char *colon = memchr(raw, ':', rn);
    for (size_t i = 0; expect && i < rn; i++)
        if ((unsigned char)raw[i] < 0x20 || raw[i] == 0x7f)
            expect = false;
    if (expect && colon == NULL)
        expect = false;
    if (expect) {
        size_t ul = (size_t)(colon - raw);
        char *eu = nova_form_decode(a, raw, ul);
        char *ep = nova_form_decode(a, colon + 1, rn - ul - 1);
        expect = eu && ep;
        if (expect && st == NOVA_OK && (strcmp(eu, u) != 0 || strcmp(ep, p) != 0))
            abort();
    }
    if (expect != (st == NOVA_OK))
        abort();
}

static nova_status each_pair(void *ud, char *name, char *value)
{
    size_t max = *(size_t *)ud;
    check_value(name, max);
    check_value(value, max);
    return NOVA_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    nova_arena_t a;
    nova_arena_init(&a, 1024);

    char *s = nova_form_decode(&a, in, size);
    if (s != NULL) {
        check_value(s, size);
        check_roundtrip(&a, s);
    }
    /* The input as the header value, and the input as the credentials it would carry. */
    check_basic(&a, in, size, NULL, 0);
    size_t bl;
    char *b64 = b64std(data, size, &bl);
    check_basic(&a, b64, bl, in, size);
    free(b64);
    size_t max = size;
    nova_status st = nova_form_each(&a, in, size, each_pair, &max);
    if (st != NOVA_OK && st != NOVA_INVALID)
        abort();

    nova_arena_free(&a);
    return 0;
}
