/*
 * verify.c: checking a tenant's chain. The checker is streaming and pure: the caller feeds
 * rows in seq order, with the anchored head and the row count read beforehand, and the first
 * fault is named:
 *
 *   a seq is missing                                  deleted
 *   a row's hash does not match its content           edited, unless the row hashes right at
 *                                                     another position: then it moved, and
 *                                                     the row count against the head says
 *                                                     how (fewer rows: deleted and the rest
 *                                                     renumbered; more: inserted; as many:
 *                                                     reordered)
 *   a row hashes right but does not link to the one   the one before was rewritten (edited)
 *   before
 *   a row beyond the head's count, or a seq twice     inserted
 *   fewer rows than the head counts at the end        truncated
 *   the last hash is not the head's                   edited
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nova/audit.h"

/* How far from its stored position a moved row is looked for. */
#define MOVE_WINDOW 16

static const char *const fault_names[] = {
    [NOVA_AUDIT_INTACT] = "intact",       [NOVA_AUDIT_EDITED] = "edited",
    [NOVA_AUDIT_DELETED] = "deleted",     [NOVA_AUDIT_INSERTED] = "inserted",
    [NOVA_AUDIT_REORDERED] = "reordered", [NOVA_AUDIT_TRUNCATED] = "truncated",
};

const char *nova_audit_fault_name(nova_audit_fault f)
{
    return f <= NOVA_AUDIT_TRUNCATED ? fault_names[f] : "unknown";
}

static bool fault(nova_audit_verifier_t *v, nova_audit_fault f, int64_t seq, const char *id,
                  const char *fmt, ...)
{
    va_list ap;
    v->fault = f;
    v->bad_seq = seq;
    snprintf(v->bad_id, sizeof(v->bad_id), "%s", id ? id : "");
    va_start(ap, fmt);
    vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
    va_end(ap);
    return false;
}

void nova_audit_verify_init(nova_audit_verifier_t *v, int64_t head_count, const char *head_hash,
                            int64_t rows)
{
    memset(v, 0, sizeof(*v));
    v->head_count = head_hash ? head_count : 0;
    snprintf(v->head_hash, sizeof(v->head_hash), "%s", head_hash ? head_hash : "");
    v->rows = rows;
    v->expect_seq = 1;
    memcpy(v->prev, NOVA_AUDIT_GENESIS, sizeof(v->prev));
    if (head_hash == NULL && rows > 0)
        fault(v, NOVA_AUDIT_DELETED, 0, NULL,
              "the chain head (audit_heads row) is missing while the log holds %" PRId64 " entries",
              rows);
}

/* The position other than r->seq at which r's content hashes to its row_hash, or 0. */
static int64_t moved_from(const nova_audit_record_t *r)
{
    char h[65];
    nova_audit_record_t c = *r;
    for (int64_t d = 1; d <= MOVE_WINDOW; d++) {
        for (int sign = -1; sign <= 1; sign += 2) {
            c.seq = r->seq + sign * d;
            if (c.seq < 1)
                continue;
            if (nova_audit_row_hash(&c, h) == NOVA_OK && strcmp(h, r->row_hash) == 0)
                return c.seq;
        }
    }
    return 0;
}

bool nova_audit_verify_next(nova_audit_verifier_t *v, const nova_audit_record_t *r)
{
    char h[65];
    if (v->fault != NOVA_AUDIT_INTACT)
        return false;
    v->seen++;
    if (r->seq > v->head_count)
        return fault(v, NOVA_AUDIT_INSERTED, r->seq, r->id,
                     "entry %" PRId64 " is beyond the chain head, which counts %" PRId64
                     " entries appended",
                     r->seq, v->head_count);
    if (r->seq < v->expect_seq)
        return fault(v, NOVA_AUDIT_INSERTED, r->seq, r->id, "a second entry at position %" PRId64,
                     r->seq);
    if (r->seq > v->expect_seq)
        return fault(v, NOVA_AUDIT_DELETED, v->expect_seq, NULL,
                     "entries %" PRId64 "..%" PRId64
                     " are missing (the next one present is %" PRId64 ")",
                     v->expect_seq, r->seq - 1, r->seq);
    if (nova_audit_row_hash(r, h) != NOVA_OK || strcmp(h, r->row_hash) != 0) {
        int64_t q = r->prev_hash && r->row_hash && strlen(r->row_hash) == 64 ? moved_from(r) : 0;
        if (q == 0)
            return fault(v, NOVA_AUDIT_EDITED, r->seq, r->id,
                         "entry %" PRId64 " does not match its row_hash: its content was changed",
                         r->seq);
        if (v->rows < v->head_count)
            return fault(v, NOVA_AUDIT_DELETED, r->seq, r->id,
                         "an entry before position %" PRId64 " was deleted and the later ones "
                         "renumbered (this one was appended at %" PRId64 ")",
                         r->seq, q);
        if (v->rows > v->head_count)
            return fault(v, NOVA_AUDIT_INSERTED, q, r->seq - 1 == q ? v->prev_id : NULL,
                         "an entry was inserted at position %" PRId64 " and the later ones "
                         "renumbered (entry %" PRId64 " was appended at %" PRId64 ")",
                         q, r->seq, q);
        return fault(v, NOVA_AUDIT_REORDERED, r->seq, r->id,
                     "entry %" PRId64 " was appended at position %" PRId64, r->seq, q);
    }
    if (strcmp(r->prev_hash, v->prev) != 0) {
        if (v->rows > v->head_count)
            return fault(v, NOVA_AUDIT_INSERTED, r->seq - 1, v->prev_id,
                         "entry %" PRId64 " does not follow entry %" PRId64
                         ": an entry was inserted before it",
                         r->seq, r->seq - 1);
        return fault(v, NOVA_AUDIT_EDITED, r->seq - 1, v->prev_id,
                     "entry %" PRId64 " was rewritten with a new row_hash: entry %" PRId64
                     " still names the old one",
                     r->seq - 1, r->seq);
    }
    memcpy(v->prev, r->row_hash, 65);
    snprintf(v->prev_id, sizeof(v->prev_id), "%s", r->id);
    v->expect_seq++;
    return true;
}

nova_audit_fault nova_audit_verify_end(nova_audit_verifier_t *v)
{
    if (v->fault != NOVA_AUDIT_INTACT)
        return v->fault;
    int64_t n = v->expect_seq - 1;
    if (n < v->head_count)
        return fault(v, NOVA_AUDIT_TRUNCATED, n + 1, NULL,
                     "the chain head counts %" PRId64 " entries but the log ends at %" PRId64
                     ": entries %" PRId64 "..%" PRId64 " are gone",
                     v->head_count, n, n + 1, v->head_count),
               v->fault;
    if (n > 0 && strcmp(v->prev, v->head_hash) != 0)
        return fault(v, NOVA_AUDIT_EDITED, n, v->prev_id,
                     "the last entry's row_hash is not the one anchored in the chain head"),
               v->fault;
    return NOVA_AUDIT_INTACT;
}
