/* utf8.c: well-formed UTF-8 (RFC 3629, Unicode Table 3-7). What Nova writes into JSON must be
 * UTF-8, and what it takes from forms and credentials is checked with the same rule. */
#include "nova/base.h"

size_t nova_utf8_len(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    if (n == 0)
        return 0;
    unsigned char c = u[0];
    if (c < 0x80)
        return 1;
    /* The lead byte fixes the length and the range of the second byte; the narrowed ranges
     * are what exclude overlong forms (E0, F0), surrogates (ED) and code points above
     * U+10FFFF (F4). C0, C1 and F5..FF never occur. */
    size_t k;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        k = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        k = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        k = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (n < k || u[1] < lo || u[1] > hi)
        return 0;
    for (size_t i = 2; i < k; i++)
        if (u[i] < 0x80 || u[i] > 0xbf)
            return 0;
    return k;
}

bool nova_utf8_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = nova_utf8_len(s + i, n - i);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}
