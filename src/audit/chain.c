/*
 * chain.c: the canonical encoding of an audit entry and its row hash (docs/AUDIT.md), the
 * checks an entry passes before it is written, and the entries-written counter.
 *
 * Pure computation on base and crypto. The store links this file (src/store/meson.build):
 * the hash of an entry depends on the previous one, which is only known under the chain lock
 * inside the store's transaction, so the store computes it there. Nothing here knows SQL.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "nova/audit.h"
#include "nova/crypto.h"

static _Atomic uint64_t written_total;

uint64_t nova_audit_written_total(void)
{
    return atomic_load_explicit(&written_total, memory_order_relaxed);
}

void nova_audit_written_add(uint64_t n)
{
    atomic_fetch_add_explicit(&written_total, n, memory_order_relaxed);
}

/* One field: its length in bytes (decimal), ':', the bytes, '\n'. Length-prefixed, so no
 * byte inside a field can be mistaken for a separator. */
static nova_status field(nova_buf_t *out, const char *p, size_t n)
{
    nova_status st = nova_buf_printf(out, "%zu:", n);
    if (st == NOVA_OK)
        st = nova_buf_append(out, p, n);
    if (st == NOVA_OK)
        st = nova_buf_append(out, "\n", 1);
    return st;
}

static nova_status field_str(nova_buf_t *out, const char *s)
{
    return field(out, s, strlen(s));
}

static nova_status field_int(nova_buf_t *out, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%" PRId64, v);
    return field(out, num, (size_t)n);
}

static bool is_hex64(const char *h)
{
    if (h == NULL || strlen(h) != 64)
        return false;
    for (int i = 0; i < 64; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
            return false;
    return true;
}

nova_status nova_audit_canonical(const nova_audit_record_t *r, nova_buf_t *out)
{
    if (r->id == NULL || r->tenant_id == NULL || r->actor == NULL || r->action == NULL ||
        r->target == NULL || r->decision == NULL || r->attrs == NULL || !is_hex64(r->prev_hash))
        return NOVA_INVALID;
    const char *texts[] = {r->actor, r->action, r->target, r->decision, r->attrs};
    nova_status st = field_str(out, NOVA_AUDIT_ENCODING);
    if (st == NOVA_OK)
        st = field_str(out, r->id);
    if (st == NOVA_OK)
        st = field_int(out, r->seq);
    if (st == NOVA_OK)
        st = field_int(out, r->ts);
    if (st == NOVA_OK)
        st = field_str(out, r->tenant_id);
    for (size_t i = 0; st == NOVA_OK && i < sizeof(texts) / sizeof(texts[0]); i++)
        st = field_str(out, texts[i]);
    if (st == NOVA_OK)
        st = field_str(out, r->prev_hash);
    return st;
}

nova_status nova_audit_row_hash(const nova_audit_record_t *r, char out[65])
{
    nova_buf_t b;
    uint8_t d[32];
    nova_buf_init(&b);
    nova_status st = nova_audit_canonical(r, &b);
    if (st == NOVA_OK) {
        nova_sha256(b.data, b.len, d);
        nova_hex_encode(d, sizeof(d), out);
    }
    nova_buf_free(&b);
    return st;
}

/* Printable ASCII without spaces at either end, 1..max bytes: ids, action names, targets. */
static bool printable(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

#define AUDIT_ATTRS_MAX 8192

nova_status nova_audit_entry_check(const nova_audit_entry_t *e)
{
    if (e == NULL || !printable(e->tenant_id, 64) || !printable(e->actor, 128) ||
        !printable(e->action, 64) || !printable(e->target, 256))
        return NOVA_INVALID;
    if (e->decision && strcmp(e->decision, "allow") != 0 && strcmp(e->decision, "deny") != 0)
        return NOVA_INVALID;
    if (e->attrs) {
        /* nova_audit_attrs writes compact ASCII JSON objects; accept nothing else. */
        size_t n = strlen(e->attrs);
        if (n < 2 || n > AUDIT_ATTRS_MAX || e->attrs[0] != '{' || e->attrs[n - 1] != '}')
            return NOVA_INVALID;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)e->attrs[i] < 0x20 || (unsigned char)e->attrs[i] > 0x7e)
                return NOVA_INVALID;
    }
    return NOVA_OK;
}
