/* encode.c: base64url (JOSE), standard base64 (HTTP Basic), hex and form-urlencoding.
 * Decoders are strict: anything a conforming encoder would not produce is rejected. */
#include <string.h>

#include "nova/base.h"

static const char b64url_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char b64std_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t nova_b64url_encoded_len(size_t n)
{
    return (n / 3) * 4 + (n % 3 ? n % 3 + 1 : 0);
}

size_t nova_b64url_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64url_alpha[v >> 18];
        out[o++] = b64url_alpha[(v >> 12) & 63];
        out[o++] = b64url_alpha[(v >> 6) & 63];
        out[o++] = b64url_alpha[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64url_alpha[v >> 18];
        out[o++] = b64url_alpha[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64url_alpha[v >> 18];
        out[o++] = b64url_alpha[(v >> 12) & 63];
        out[o++] = b64url_alpha[(v >> 6) & 63];
    }
    out[o] = '\0';
    return o;
}

size_t nova_b64url_decoded_max(size_t n)
{
    return (n / 4) * 3 + 3;
}

static int b64_val(const char *alpha, char c)
{
    /* Branchy but table-free; correctness over speed for these short inputs. */
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == alpha[62])
        return 62;
    if (c == alpha[63])
        return 63;
    return -1;
}

static nova_status b64_decode(const char *alpha, const char *in, size_t n, uint8_t *out,
                              size_t *out_len)
{
    if (n % 4 == 1)
        return NOVA_INVALID;
    size_t o = 0, i = 0;
    for (; i + 4 <= n; i += 4) {
        int a = b64_val(alpha, in[i]), b = b64_val(alpha, in[i + 1]);
        int c = b64_val(alpha, in[i + 2]), d = b64_val(alpha, in[i + 3]);
        if ((a | b | c | d) < 0)
            return NOVA_INVALID;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    size_t rest = n - i;
    if (rest >= 2) {
        int a = b64_val(alpha, in[i]), b = b64_val(alpha, in[i + 1]);
        int c = rest == 3 ? b64_val(alpha, in[i + 2]) : 0;
        if ((a | b | c) < 0)
            return NOVA_INVALID;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
        /* Canonical form: the unused low bits must be zero. */
        if (rest == 2 && (v & 0xffff))
            return NOVA_INVALID;
        if (rest == 3 && (v & 0xff))
            return NOVA_INVALID;
        out[o++] = (uint8_t)(v >> 16);
        if (rest == 3)
            out[o++] = (uint8_t)(v >> 8);
    }
    *out_len = o;
    return NOVA_OK;
}

nova_status nova_b64url_decode(const char *in, size_t n, uint8_t *out, size_t *out_len)
{
    return b64_decode(b64url_alpha, in, n, out, out_len);
}

nova_status nova_b64std_decode(const char *in, size_t n, uint8_t *out, size_t *out_len)
{
    /* Padding is required by RFC 7617's base64; strip up to two '=' at the end only. */
    if (n % 4 != 0)
        return NOVA_INVALID;
    size_t pad = 0;
    while (pad < 2 && n > pad && in[n - 1 - pad] == '=')
        pad++;
    if (pad && (n - pad) % 4 == 1)
        return NOVA_INVALID;
    return b64_decode(b64std_alpha, in, n - pad, out, out_len);
}

void nova_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

char *nova_form_decode(nova_arena_t *a, const char *s, size_t n)
{
    char *out = nova_arena_alloc(a, n + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= n)
                return NULL;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0)
                return NULL;
            c = (char)(h << 4 | l);
            i += 2;
        }
        /* Raw or escaped, a NUL would truncate the value silently downstream, and no form
         * field Nova reads (RFC 6749 Appendix A: VSCHAR, NQCHAR, URI) allows any control. */
        if (is_control((unsigned char)c))
            return NULL;
        out[o++] = c;
    }
    out[o] = '\0';
    return nova_utf8_valid(out, o) ? out : NULL;
}

nova_status nova_form_each(nova_arena_t *a, const char *body, size_t len, nova_form_pair_fn fn,
                           void *ud)
{
    const char *p = body ? body : "", *end = p + (body ? len : 0);
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if (stop > p) {
            const char *eq = memchr(p, '=', (size_t)(stop - p));
            const char *nend = eq ? eq : stop;
            char *name = nova_form_decode(a, p, (size_t)(nend - p));
            char *value = eq ? nova_form_decode(a, eq + 1, (size_t)(stop - eq - 1))
                             : nova_form_decode(a, "", 0);
            if (name == NULL || value == NULL)
                return NOVA_INVALID;
            nova_status st = fn(ud, name, value);
            if (st != NOVA_OK)
                return st;
        }
        p = stop + 1;
    }
    return NOVA_OK;
}

nova_status nova_basic_decode(nova_arena_t *a, const char *b64, size_t n, char **user,
                              char **password)
{
    *user = *password = NULL;
    if (n == 0 || n > NOVA_BASIC_MAX)
        return NOVA_INVALID;
    uint8_t raw[(NOVA_BASIC_MAX / 4) * 3 + 3];
    size_t rl = 0;
    if (nova_b64std_decode(b64, n, raw, &rl) != NOVA_OK)
        return NOVA_INVALID;
    /* RFC 7617 §2: user-id and password contain no control characters; a NUL in particular
     * would let "id:secret\0junk" pass as "secret". Checked on the raw bytes, before the
     * form decoding below, which checks what its escapes produce. */
    for (size_t i = 0; i < rl; i++)
        if (is_control(raw[i]))
            return NOVA_INVALID;
    const uint8_t *colon = memchr(raw, ':', rl);
    if (colon == NULL)
        return NOVA_INVALID;
    size_t ul = (size_t)(colon - raw);
    char *u = nova_form_decode(a, (const char *)raw, ul);
    char *p = u ? nova_form_decode(a, (const char *)colon + 1, rl - ul - 1) : NULL;
    if (u == NULL || p == NULL)
        return NOVA_INVALID;
    *user = u;
    *password = p;
    return NOVA_OK;
}
