/* buf.c: growable, always NUL-terminated byte buffers and string slice helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nova/base.h"

void nova_buf_init(nova_buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void nova_buf_free(nova_buf_t *b)
{
    if (b == NULL)
        return;
    free(b->data);
    nova_buf_init(b);
}

void nova_buf_reset(nova_buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

nova_status nova_buf_reserve(nova_buf_t *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - b->len)
        return NOVA_NOMEM;
    size_t need = b->len + extra + 1; /* room for the NUL */
    if (need <= b->cap)
        return NOVA_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (p == NULL)
        return NOVA_NOMEM;
    b->data = p;
    b->cap = cap;
    return NOVA_OK;
}

nova_status nova_buf_append(nova_buf_t *b, const void *data, size_t len)
{
    if (nova_buf_reserve(b, len) != NOVA_OK)
        return NOVA_NOMEM;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return NOVA_OK;
}

nova_status nova_buf_append_cstr(nova_buf_t *b, const char *s)
{
    return nova_buf_append(b, s, strlen(s));
}

nova_status nova_buf_append_xml(nova_buf_t *b, const char *s)
{
    nova_status st = NOVA_OK;
    while (st == NOVA_OK && *s) {
        size_t n = strcspn(s, "&<>\"");
        st = nova_buf_append(b, s, n);
        s += n;
        if (st != NOVA_OK || *s == '\0')
            break;
        st = nova_buf_append_cstr(b, *s == '&'   ? "&amp;"
                                     : *s == '<' ? "&lt;"
                                     : *s == '>' ? "&gt;"
                                                 : "&quot;");
        s++;
    }
    return st;
}

nova_status nova_buf_vprintf(nova_buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NOVA_INTERNAL;
    if ((size_t)n < sizeof(small))
        return nova_buf_append(b, small, (size_t)n);
    if (nova_buf_reserve(b, (size_t)n) != NOVA_OK)
        return NOVA_NOMEM;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return NOVA_OK;
}

nova_status nova_buf_printf(nova_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    nova_status st = nova_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return st;
}

nova_status nova_buf_append_json_escaped(nova_buf_t *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (nova_buf_reserve(b, len + 8) != NOVA_OK)
        return NOVA_NOMEM;
    size_t i = 0;
    while (i < len) {
        /* A run of bytes that go out as they are: printable ASCII and whole UTF-8 sequences. */
        size_t run = i;
        while (run < len) {
            unsigned char c = (unsigned char)s[run];
            size_t k = c >= 0x80 ? nova_utf8_len(s + run, len - run)
                       : c < 0x20 || c == '"' || c == '\\' || c == 0x7f ? 0
                                                                        : 1;
            if (k == 0)
                break;
            run += k;
        }
        if (run > i && nova_buf_append(b, s + i, run - i) != NOVA_OK)
            return NOVA_NOMEM;
        i = run;
        if (i == len)
            break;
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        size_t n;
        /* The two-character escapes, \u00XX for the other control characters, and U+FFFD for
         * a byte that starts no well-formed UTF-8 sequence (one per byte, so the output
         * length stays within 6 * len). */
        const char *two = c == '"'    ? "\\\""
                          : c == '\\' ? "\\\\"
                          : c == '\n' ? "\\n"
                          : c == '\r' ? "\\r"
                          : c == '\t' ? "\\t"
                                      : NULL;
        if (two) {
            memcpy(esc, two, 2);
            n = 2;
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        } else {
            memcpy(esc, "\\ufffd", 6);
            n = 6;
        }
        if (nova_buf_append(b, esc, n) != NOVA_OK)
            return NOVA_NOMEM;
        i++;
    }
    return NOVA_OK;
}

char *nova_buf_steal(nova_buf_t *b)
{
    char *p = b->data;
    if (p == NULL)
        p = calloc(1, 1);
    nova_buf_init(b);
    return p;
}

bool nova_str_eq(nova_str_t a, nova_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.base, b.base, a.len) == 0);
}

bool nova_str_eq_cstr(nova_str_t a, const char *b)
{
    return nova_str_eq(a, nova_str(b));
}

bool nova_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return false;
    const volatile unsigned char *x = a, *y = b;
    unsigned char acc = 0;
    for (size_t i = 0; i < alen; i++)
        acc |= x[i] ^ y[i];
    return acc == 0;
}
