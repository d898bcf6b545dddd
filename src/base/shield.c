/* shield.c: decrypted values that the logger refuses to print (nova/shield.h).
 *
 * Every live value is on one list behind one mutex. The logger asks nova_shield_hit about
 * each line only while the list is non-empty (an atomic count read without the lock), so a
 * process that decrypts nothing pays one load per line. A value whose JSON escaping differs
 * from its bytes (quotes, controls, invalid UTF-8) also keeps its escaped form, since that is
 * what a log line would hold. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "nova/shield.h"

struct nova_plain {
    struct nova_plain *prev, *next;
    uint8_t *esc; /* JSON-escaped form when it differs from the bytes, else NULL */
    size_t esc_len;
    size_t len;
    uint8_t bytes[];
};

static pthread_mutex_t shield_lock = PTHREAD_MUTEX_INITIALIZER;
static nova_plain_t *shield_head;
static _Atomic size_t shield_count;
static _Atomic uint64_t shield_withheld;

nova_status nova_plain_new(const void *p, size_t n, nova_plain_t **out)
{
    *out = NULL;
    if (n > SIZE_MAX / 2 - sizeof(nova_plain_t) || (n > 0 && p == NULL))
        return NOVA_INVALID;
    nova_plain_t *v = calloc(1, sizeof(*v) + n + 1);
    if (v == NULL)
        return NOVA_NOMEM;
    if (n)
        memcpy(v->bytes, p, n);
    v->len = n;
    if (n >= NOVA_SHIELD_MIN_LEN) {
        nova_buf_t b;
        nova_buf_init(&b);
        if (nova_buf_append_json_escaped(&b, (const char *)v->bytes, n) != NOVA_OK) {
            nova_buf_free(&b);
            OPENSSL_cleanse(v->bytes, n);
            free(v);
            return NOVA_NOMEM;
        }
        if (b.len != n || memcmp(b.data, v->bytes, n) != 0) {
            v->esc = (uint8_t *)b.data; /* ownership moves to v */
            v->esc_len = b.len;
        } else {
            OPENSSL_cleanse(b.data, b.len);
            nova_buf_free(&b);
        }
    }
    pthread_mutex_lock(&shield_lock);
    v->next = shield_head;
    if (shield_head)
        shield_head->prev = v;
    shield_head = v;
    atomic_fetch_add(&shield_count, 1);
    pthread_mutex_unlock(&shield_lock);
    *out = v;
    return NOVA_OK;
}

const uint8_t *nova_plain_bytes(const nova_plain_t *v, size_t *len)
{
    *len = v ? v->len : 0;
    return v ? v->bytes : NULL;
}

bool nova_plain_equal(const nova_plain_t *v, const void *p, size_t n)
{
    if (v == NULL || v->len != n)
        return false;
    return n == 0 || CRYPTO_memcmp(v->bytes, p, n) == 0;
}

void nova_plain_free(nova_plain_t *v)
{
    if (v == NULL)
        return;
    pthread_mutex_lock(&shield_lock);
    if (v->prev)
        v->prev->next = v->next;
    else
        shield_head = v->next;
    if (v->next)
        v->next->prev = v->prev;
    atomic_fetch_sub(&shield_count, 1);
    pthread_mutex_unlock(&shield_lock);
    if (v->esc) {
        OPENSSL_cleanse(v->esc, v->esc_len);
        free(v->esc);
    }
    OPENSSL_cleanse(v->bytes, v->len);
    free(v);
}

bool nova_shield_hit(const char *text, size_t n)
{
    if (atomic_load_explicit(&shield_count, memory_order_acquire) == 0 || text == NULL)
        return false;
    bool hit = false;
    pthread_mutex_lock(&shield_lock);
    for (const nova_plain_t *v = shield_head; v && !hit; v = v->next) {
        if (v->len < NOVA_SHIELD_MIN_LEN)
            continue;
        hit = memmem(text, n, v->bytes, v->len) != NULL ||
              (v->esc && memmem(text, n, v->esc, v->esc_len) != NULL);
    }
    pthread_mutex_unlock(&shield_lock);
    return hit;
}

size_t nova_shield_live(void)
{
    return atomic_load(&shield_count);
}

uint64_t nova_shield_withheld(void)
{
    return atomic_load(&shield_withheld);
}

void nova_shield_count_withheld(void)
{
    atomic_fetch_add(&shield_withheld, 1);
}
