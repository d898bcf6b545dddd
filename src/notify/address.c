/* address.c: what the notification transports accept (nova/notify.h): email addresses, E.164
 * numbers, SMTP server URLs and provider base URLs. Deliberately narrower than the RFCs: an
 * address that passes can go into a header or an SMTP command as it is. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static bool label_char(char c)
{
    return isalnum((unsigned char)c) || c == '-';
}

/* A DNS name of dot-separated labels (1..63 of letters, digits, '-', not starting or ending
 * in '-'), n bytes. */
static bool domain_valid(const char *d, size_t n)
{
    if (n == 0 || n > 253)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || d[i] == '.') {
            size_t len = i - start;
            if (len == 0 || len > 63 || d[start] == '-' || d[i - 1] == '-')
                return false;
            start = i + 1;
        } else if (!label_char(d[i])) {
            return false;
        }
    }
    return true;
}

bool nova_notify_email_valid(const char *addr)
{
    if (addr == NULL)
        return false;
    size_t n = strlen(addr);
    const char *at = strrchr(addr, '@');
    if (n == 0 || n > NOVA_NOTIFY_ADDR_MAX || at == NULL || at == addr || at - addr > 64)
        return false;
    for (const char *p = addr; p < at; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c >= 0x7f || strchr("\"(),:;<>@[\\]", c) != NULL)
            return false;
    }
    if (addr[0] == '.' || at[-1] == '.' || strstr(addr, "..") != NULL)
        return false;
    return domain_valid(at + 1, strlen(at + 1)) && strchr(at + 1, '.') != NULL;
}

bool nova_notify_phone_valid(const char *number)
{
    if (number == NULL || number[0] != '+' || number[1] < '1' || number[1] > '9')
        return false;
    size_t digits = strlen(number + 1);
    if (digits < 7 || digits > 15)
        return false;
    for (size_t i = 1; number[i]; i++)
        if (!isdigit((unsigned char)number[i]))
            return false;
    return true;
}

void nova_notify_phone_mask(const char *number, char out[NOVA_NOTIFY_MASK_MAX])
{
    size_t n = number ? strlen(number) : 0;
    if (n < 2 || n >= NOVA_NOTIFY_MASK_MAX) {
        memcpy(out, "?", 2);
        return;
    }
    /* The country code (up to 3 digits, none of a short number) and the last 2 digits. */
    size_t digits = n - 1, lead = digits >= 10 ? 3 : 1, trail = 2;
    for (size_t i = 0; i < n; i++) {
        bool keep = i == 0 || i <= lead || i >= n - trail;
        unsigned char c = (unsigned char)number[i];
        out[i] = !keep ? '*' : (c > 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[n] = '\0';
}

bool notify_host_loopback(const char *host, size_t n)
{
    if ((n == 9 && strncasecmp(host, "localhost", 9) == 0) ||
        (n == 5 && memcmp(host, "[::1]", 5) == 0))
        return true;
    if (n < 9 || n > 15 || strncmp(host, "127.", 4) != 0)
        return false;
    int dots = 0;
    for (size_t i = 0; i < n; i++) {
        if (host[i] == '.')
            dots++;
        else if (!isdigit((unsigned char)host[i]))
            return false;
    }
    return dots == 3;
}

/* scheme://host[:port] then rest; the host is a DNS name, an IPv4 literal or [IPv6]. Sets
 * *host, *hlen and *rest. */
static bool split_authority(const char *url, size_t scheme_len, const char **host, size_t *hlen,
                            const char **rest)
{
    size_t n = strlen(url);
    if (n > 512)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
            return false;
    const char *a = url + scheme_len;
    size_t alen = strcspn(a, "/?#");
    if (alen == 0 || memchr(a, '@', alen) != NULL)
        return false;
    const char *port = NULL;
    size_t h;
    if (a[0] == '[') {
        const char *close = memchr(a, ']', alen);
        if (close == NULL)
            return false;
        h = (size_t)(close - a) + 1;
        for (size_t i = 1; i + 1 < h; i++)
            if (!isxdigit((unsigned char)a[i]) && a[i] != ':' && a[i] != '.')
                return false;
        if (h < 4)
            return false;
    } else {
        h = strcspn(a, ":/?#");
        if (h > alen || !domain_valid(a, h))
            return false;
    }
    if (h < alen) {
        if (a[h] != ':')
            return false;
        port = a + h + 1;
        size_t plen = alen - h - 1;
        if (plen == 0 || plen > 5)
            return false;
        long v = 0;
        for (size_t i = 0; i < plen; i++) {
            if (!isdigit((unsigned char)port[i]))
                return false;
            v = v * 10 + (port[i] - '0');
        }
        if (v < 1 || v > 65535)
            return false;
    }
    *host = a;
    *hlen = h;
    *rest = a + alen;
    return true;
}

bool nova_notify_smtp_url_valid(const char *url, bool *loopback)
{
    if (loopback)
        *loopback = false;
    if (url == NULL)
        return false;
    size_t scheme;
    if (strncasecmp(url, "smtps://", 8) == 0)
        scheme = 8;
    else if (strncasecmp(url, "smtp://", 7) == 0)
        scheme = 7;
    else
        return false;
    const char *host, *rest;
    size_t hlen;
    if (!split_authority(url, scheme, &host, &hlen, &rest))
        return false;
    if (*rest != '\0' && strcmp(rest, "/") != 0)
        return false;
    if (loopback)
        *loopback = notify_host_loopback(host, hlen);
    return true;
}

bool nova_notify_base_url_valid(const char *url)
{
    if (url == NULL)
        return false;
    bool https = strncasecmp(url, "https://", 8) == 0;
    if (!https && strncasecmp(url, "http://", 7) != 0)
        return false;
    const char *host, *rest;
    size_t hlen;
    if (!split_authority(url, https ? 8 : 7, &host, &hlen, &rest))
        return false;
    if (strpbrk(rest, "?#") != NULL)
        return false;
    return https || notify_host_loopback(host, hlen);
}
