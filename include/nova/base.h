/*
 * base.h: the lowest layer. Status codes, string slices, growable buffers, the per-request
 * arena, base64url, time and random identifiers. Nothing here knows about HTTP, SQL or JSON.
 */
#ifndef NOVA_BASE_H
#define NOVA_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One status enum returned by every fallible function. NOVA_OK is 0. */
typedef enum nova_status {
    NOVA_OK = 0,
    NOVA_INVALID,      /* bad input from the caller (4xx) */
    NOVA_NOT_FOUND,    /* the thing does not exist (or is not visible to this tenant) */
    NOVA_CONFLICT,     /* it exists already / state does not allow it */
    NOVA_UNAUTHORIZED, /* no or bad credentials */
    NOVA_FORBIDDEN,    /* credentials fine, not allowed */
    NOVA_TOO_LARGE,    /* input over a size limit */
    NOVA_UNAVAILABLE,  /* a dependency (store, ...) cannot be reached */
    NOVA_INTERNAL,     /* a bug or an unexpected failure */
    NOVA_NOMEM,        /* allocation failed */
    NOVA_STATUS_COUNT_
} nova_status;

/* Short stable name of a status ("ok", "invalid", ...). Never NULL. */
const char *nova_status_name(nova_status st);

#define nova_assert(cond)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            nova_panic(__FILE__, __LINE__, #cond);                                                 \
    } while (0)
_Noreturn void nova_panic(const char *file, int line, const char *what);

/* A non-owning string slice. base need not be NUL-terminated. */
typedef struct nova_str {
    const char *base;
    size_t len;
} nova_str_t;

#define NOVA_STR_LIT(s) ((nova_str_t){(s), sizeof(s) - 1})
static inline nova_str_t nova_str(const char *s);
bool nova_str_eq(nova_str_t a, nova_str_t b);
bool nova_str_eq_cstr(nova_str_t a, const char *b);
/* Constant-time comparison of two byte strings (length leaks, content does not). */
bool nova_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Growable byte buffer, always NUL-terminated after its len bytes. Owner frees with
 * nova_buf_free (NULL-safe). Append functions return NOVA_NOMEM on allocation failure. */
typedef struct nova_buf {
    char *data;
    size_t len;
    size_t cap;
} nova_buf_t;

void nova_buf_init(nova_buf_t *b);
void nova_buf_free(nova_buf_t *b);
void nova_buf_reset(nova_buf_t *b);
nova_status nova_buf_reserve(nova_buf_t *b, size_t extra);
nova_status nova_buf_append(nova_buf_t *b, const void *data, size_t len);
nova_status nova_buf_append_cstr(nova_buf_t *b, const char *s);
nova_status nova_buf_printf(nova_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
nova_status nova_buf_vprintf(nova_buf_t *b, const char *fmt, va_list ap);
/* Appends s as XML or HTML text or attribute value: & < > " escaped, every other byte copied
 * (the caller hands in UTF-8). */
nova_status nova_buf_append_xml(nova_buf_t *b, const char *s);
/* Appends s as the inside of a JSON string: quotes, backslash and control characters (C0,
 * DEL) escaped, well-formed UTF-8 copied, and every byte that does not start a well-formed
 * UTF-8 sequence (overlong, surrogate, above U+10FFFF, truncated, stray) written as \ufffd.
 * The result is always valid JSON string content in valid UTF-8, whatever s holds. */
nova_status nova_buf_append_json_escaped(nova_buf_t *b, const char *s, size_t len);
/* Hands the data to the caller (who frees it with free()) and resets b. */
char *nova_buf_steal(nova_buf_t *b);

/* Arena: bump allocator for data that lives as long as one request. Everything allocated
 * from it is released at once by nova_arena_free/reset; never free() arena memory. */
typedef struct nova_arena_chunk nova_arena_chunk_t;
typedef struct nova_arena {
    nova_arena_chunk_t *head;
    size_t chunk_size;
} nova_arena_t;

void nova_arena_init(nova_arena_t *a, size_t chunk_size);
void nova_arena_reset(nova_arena_t *a); /* frees all but keeps nothing */
void nova_arena_free(nova_arena_t *a);
/* Returns 16-byte aligned memory or NULL when out of memory. */
void *nova_arena_alloc(nova_arena_t *a, size_t n);
char *nova_arena_strndup(nova_arena_t *a, const char *s, size_t n);
char *nova_arena_strdup(nova_arena_t *a, const char *s);
char *nova_arena_printf(nova_arena_t *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* base64url without padding (RFC 4648 §5, as used by JOSE).
 * encode: out must hold nova_b64url_encoded_len(n)+1 bytes; writes a NUL; returns length. */
size_t nova_b64url_encoded_len(size_t n);
size_t nova_b64url_encode(const uint8_t *in, size_t n, char *out);
/* decode: rejects padding, whitespace and any character outside the url-safe alphabet, and
 * non-canonical trailing bits. out must hold nova_b64url_decoded_max(n) bytes. */
size_t nova_b64url_decoded_max(size_t n);
nova_status nova_b64url_decode(const char *in, size_t n, uint8_t *out, size_t *out_len);
/* Standard base64 with padding (RFC 4648 §4), for HTTP Basic. Same contract as above. */
nova_status nova_b64std_decode(const char *in, size_t n, uint8_t *out, size_t *out_len);

/* UTF-8 (RFC 3629). nova_utf8_len: length (1-4) of the well-formed sequence s starts with,
 * or 0 when it starts with none (overlong, surrogate, above U+10FFFF, truncated, stray
 * continuation byte) or n is 0. nova_utf8_valid: all n bytes are well-formed UTF-8. */
size_t nova_utf8_len(const char *s, size_t n);
bool nova_utf8_valid(const char *s, size_t n);

/* Lower-case hex. out must hold 2n+1 bytes. */
void nova_hex_encode(const uint8_t *in, size_t n, char *out);

/* Wall clock, seconds since the epoch, and a monotonic clock in nanoseconds. */
int64_t nova_time_now(void);
uint64_t nova_time_mono_ns(void);
/* The widest range of times (seconds since the epoch) taken from outside input, such as a
 * token's iat and exp: [0, 2^40], up to about the year 36812. Checked before any arithmetic:
 * the sum or difference of two such times, or of one and any configured TTL, cannot
 * overflow int64_t, which two arbitrary int64_t values can. */
#define NOVA_TIME_MAX ((int64_t)1 << 40)
static inline bool nova_time_in_range(int64_t t)
{
    return t >= 0 && t <= NOVA_TIME_MAX;
}
/* Test hook: when non-zero, nova_time_now() returns this instead of the clock. */
void nova_time_set_fake(int64_t now);
/* RFC 3339 UTC ("2026-11-22T15:00:00Z"); out must hold 21 bytes. */
void nova_time_format(int64_t t, char out[21]);

/* Fills buf with n bytes from the CSPRNG (OpenSSL RAND_bytes). Fails closed. */
nova_status nova_random_bytes(void *buf, size_t n);
/* A random identifier "<prefix>_<22 base64url chars>" (128 bits). out holds >= 64 bytes. */
nova_status nova_id_new(const char *prefix, char *out, size_t out_size);

/* A cheap unique identifier "<prefix>_<20 base64url chars>" for things that need uniqueness,
 * not secrecy (request ids): a per-thread random 72-bit seed from the CSPRNG plus a per-thread
 * counter. out holds >= 64 bytes. */
nova_status nova_id_seq(const char *prefix, char *out, size_t out_size);

/* Percent-decodes an application/x-www-form-urlencoded component ('+' is a space).
 * Returns an arena string, or NULL on a bad escape, on a control character (C0 or DEL, raw or
 * escaped: a NUL would truncate the value downstream) or when the decoded bytes are not
 * UTF-8, or when out of memory. */
char *nova_form_decode(nova_arena_t *a, const char *s, size_t n);
/* Walks an application/x-www-form-urlencoded body: fn gets each name=value pair (a name
 * without '=' has value ""), both decoded by nova_form_decode into a, in order; empty pairs
 * (&&) are skipped. Stops at the first pair that does not decode (NOVA_INVALID, fn not called
 * for it) or the first status fn returns that is not NOVA_OK (returned as it is). */
typedef nova_status (*nova_form_pair_fn)(void *ud, char *name, char *value);
nova_status nova_form_each(nova_arena_t *a, const char *body, size_t len, nova_form_pair_fn fn,
                           void *ud);

/* Decodes HTTP Basic credentials (the base64 after "Basic "): standard base64 with padding
 * to "user-id:password" (RFC 7617 §2: split at the first colon, neither part may contain a
 * control character), then each part form-decoded as above (RFC 6749 §2.3.1). At most
 * NOVA_BASIC_MAX encoded bytes. *user and *password are arena strings; NOVA_INVALID on any
 * malformed input (and when the arena is out of memory, which nova_form_decode does not tell
 * apart). */
#define NOVA_BASIC_MAX 1024
nova_status nova_basic_decode(nova_arena_t *a, const char *b64, size_t n, char **user,
                              char **password);

static inline nova_str_t nova_str(const char *s)
{
    nova_str_t r = {s, 0};
    if (s)
        while (s[r.len])
            r.len++;
    return r;
}

#endif
