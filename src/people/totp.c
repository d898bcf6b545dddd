/* totp.c: RFC 6238 time-based one-time passwords on RFC 4226's HOTP, with HMAC-SHA-1, -256
 * and -512 (OpenSSL), the otpauth enrolment URI and RFC 4648 base32 for its secret. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "internal.h"

static const struct {
    const char *name;
    const char *md;
} algs[] = {
    [NOVA_TOTP_SHA1] = {"SHA1", "SHA1"},
    [NOVA_TOTP_SHA256] = {"SHA256", "SHA256"},
    [NOVA_TOTP_SHA512] = {"SHA512", "SHA512"},
};

const char *nova_totp_alg_name(nova_totp_alg alg)
{
    return (unsigned)alg < sizeof(algs) / sizeof(algs[0]) ? algs[alg].name : "SHA1";
}

nova_status nova_totp_alg_parse(const char *name, nova_totp_alg *out)
{
    for (size_t i = 0; name && i < sizeof(algs) / sizeof(algs[0]); i++)
        if (strcmp(name, algs[i].name) == 0) {
            *out = (nova_totp_alg)i;
            return NOVA_OK;
        }
    return NOVA_INVALID;
}

uint32_t nova_totp_code(nova_totp_alg alg, const uint8_t *key, size_t klen, uint64_t counter,
                        unsigned digits)
{
    uint8_t msg[8], mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    for (int i = 7; i >= 0; i--) {
        msg[i] = (uint8_t)(counter & 0xff);
        counter >>= 8;
    }
    const EVP_MD *md = EVP_get_digestbyname(algs[(unsigned)alg < 3 ? alg : 0].md);
    if (md == NULL || HMAC(md, key, (int)klen, msg, sizeof(msg), mac, &maclen) == NULL ||
        maclen < 20)
        return UINT32_MAX;
    /* RFC 4226 §5.3 dynamic truncation. */
    unsigned off = mac[maclen - 1] & 0x0f;
    uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
                   ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
    uint32_t mod = 1;
    for (unsigned i = 0; i < digits; i++)
        mod *= 10;
    return bin % mod;
}

nova_status nova_totp_verify(nova_totp_alg alg, const uint8_t *key, size_t klen, unsigned digits,
                             const char *code, int64_t now, int64_t last_step, int64_t *step)
{
    char want[12], got[12];
    *step = 0;
    if (code == NULL || digits < 6 || digits > 8 || strlen(code) != digits || now < 0)
        return NOVA_UNAUTHORIZED;
    for (unsigned i = 0; i < digits; i++)
        if (code[i] < '0' || code[i] > '9')
            return NOVA_UNAUTHORIZED;
    memcpy(got, code, digits);
    int64_t t = now / NOVA_TOTP_STEP;
    bool found = false;
    int64_t matched = 0;
    /* All three steps are computed and compared whatever matches, so the time taken does not
     * say which step (or whether any) matched. */
    for (int64_t s = t - 1; s <= t + 1; s++) {
        if (s < 0)
            continue;
        uint32_t c = nova_totp_code(alg, key, klen, (uint64_t)s, digits);
        snprintf(want, sizeof(want), "%0*u", (int)digits, c);
        bool eq = nova_ct_equal(want, digits, got, digits);
        if (eq && s > last_step && !found) {
            found = true;
            matched = s;
        }
    }
    if (!found)
        return NOVA_UNAUTHORIZED;
    *step = matched;
    return NOVA_OK;
}

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void nova_base32_encode(const uint8_t *in, size_t n, char *out)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = b32[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        out[o++] = b32[(acc << (5 - bits)) & 31];
    out[o] = '\0';
}

nova_status nova_base32_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *outlen)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    *outlen = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        int v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a';
        else if (c >= '2' && c <= '7')
            v = c - '2' + 26;
        else
            return NOVA_INVALID;
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            if (o == cap)
                return NOVA_INVALID;
            out[o++] = (uint8_t)(acc >> (bits - 8));
            bits -= 8;
        }
        acc &= 0xff;
    }
    /* Leftover bits must be zero padding, and fewer than 5 (RFC 4648 §6: no dangling
     * character). */
    if (bits >= 5 || (acc & ((1u << bits) - 1)) != 0)
        return NOVA_INVALID;
    *outlen = o;
    return NOVA_OK;
}

/* Percent-encodes everything but RFC 3986 unreserved characters. */
static void pct(nova_buf_t *b, nova_status *st, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s && *st == NOVA_OK; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            *st = nova_buf_append(b, s, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            *st = nova_buf_append(b, e, 3);
        }
    }
}

char *nova_totp_uri(nova_arena_t *ar, const char *issuer, const char *account, nova_totp_alg alg,
                    unsigned digits, const char *secret_b32)
{
    nova_buf_t b;
    nova_status st = NOVA_OK;
    nova_buf_init(&b);
    st = nova_buf_append_cstr(&b, "otpauth://totp/");
    pct(&b, &st, issuer);
    if (st == NOVA_OK)
        st = nova_buf_append(&b, ":", 1);
    pct(&b, &st, account);
    if (st == NOVA_OK)
        st = nova_buf_printf(&b, "?secret=%s&issuer=", secret_b32);
    pct(&b, &st, issuer);
    if (st == NOVA_OK)
        st = nova_buf_printf(&b, "&algorithm=%s&digits=%u&period=%d", nova_totp_alg_name(alg),
                             digits, NOVA_TOTP_STEP);
    char *out = st == NOVA_OK ? nova_arena_strndup(ar, b.data, b.len) : NULL;
    nova_buf_free(&b);
    return out;
}
