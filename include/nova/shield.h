/*
 * shield.h: decrypted field values ("crypto shields", seed 003 §5.3 and §8.2). A value that
 * nova_field_open (nova/datakey.h) decrypted lives in a nova_plain_t and nowhere else:
 *
 *   - the type is opaque and has no char* view: nova_plain_bytes gives `const uint8_t *`, so
 *     `printf("%s", p)` or `nova_log_info("%s", p)` with a nova_plain_t * is a -Wformat error
 *     (and -Werror makes it a build failure; tests/unit/meson.build checks that at configure
 *     time), and a string function needs an explicit cast;
 *   - while it is alive the value is registered with the shield, and the logger (log.c)
 *     withholds any line that contains it (raw or JSON-escaped): the line is replaced by a
 *     fixed notice and counted (nova_shield_withheld). Values shorter than
 *     NOVA_SHIELD_MIN_LEN bytes are too common to match and are covered only by the type;
 *   - nova_plain_free zeroes the bytes (OPENSSL_cleanse) before freeing them.
 *
 * Hold a nova_plain_t for as short a time as the action needs ("decrypt only the columns
 * required for the action"); the check costs one atomic load per log line while none is live.
 */
#ifndef NOVA_SHIELD_H
#define NOVA_SHIELD_H

#include "nova/base.h"

typedef struct nova_plain nova_plain_t;

#define NOVA_SHIELD_MIN_LEN 4

/* Copies n bytes into a new shielded value (n may be 0). The caller frees it with
 * nova_plain_free. */
nova_status nova_plain_new(const void *p, size_t n, nova_plain_t **out);
/* The bytes and their count. Valid until nova_plain_free. Not NUL-terminated. */
const uint8_t *nova_plain_bytes(const nova_plain_t *v, size_t *len);
/* true when the value equals the n bytes at p (constant time in the value's length). */
bool nova_plain_equal(const nova_plain_t *v, const void *p, size_t n);
/* Zeroes, unregisters and frees v. NULL is a no-op. */
void nova_plain_free(nova_plain_t *v);

/* true when the n bytes at text contain a live shielded value (raw or as the JSON escaper
 * writes it). The logger calls it on every line while any value is live. */
bool nova_shield_hit(const char *text, size_t n);
/* Shielded values alive now, and log lines withheld since start. */
size_t nova_shield_live(void);
uint64_t nova_shield_withheld(void);
/* The logger counts a withheld line. */
void nova_shield_count_withheld(void);

#endif
