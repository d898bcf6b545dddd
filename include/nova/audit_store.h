/*
 * audit_store.h: the audit log's repository (src/store/audit.c). Tables audit_log (the
 * entries) and audit_heads (per tenant: entries appended and the last row_hash), migration
 * 0004.
 *
 * Writing. A mutation never calls an append of its own: every mutating nova_store_* call
 * takes a `const nova_audit_entry_t *audit` (never NULL) and appends it inside the same
 * transaction as the change, so an entry exists exactly when the change does. Repository
 * files inside src/store do that with nova_store_audit_append_tx (src/store/internal.h).
 * nova_store_audit_append below is for events that change nothing else.
 *
 * The chain never forks: the append locks the tenant's head row (PostgreSQL: SELECT ... FOR
 * UPDATE after an INSERT ... ON CONFLICT DO NOTHING that creates it; SQLite: the write
 * transaction is BEGIN IMMEDIATE, one writer per database), reads (count, last hash), writes
 * row count+1 with prev_hash = last hash, and moves the head, all before COMMIT. A UNIQUE
 * (tenant_id, seq) index is the backstop.
 */
#ifndef NOVA_AUDIT_STORE_H
#define NOVA_AUDIT_STORE_H

#include "nova/audit.h"
#include "nova/store.h"

/* Appends e in a transaction of its own. out (may be NULL) gets the stored entry, strings in
 * ar (ar may be NULL when out is). NOVA_INVALID when nova_audit_entry_check refuses e. */
nova_status nova_store_audit_append(nova_store_t *s, nova_arena_t *ar, const nova_audit_entry_t *e,
                                    nova_audit_record_t *out);

/* The tenant's anchored chain head: entries appended and the last row_hash (arena).
 * NOVA_NOT_FOUND when the tenant has no chain yet. */
nova_status nova_store_audit_head(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                  int64_t *count, const char **last_hash);
/* Rows audit_log holds for the tenant (counted, not taken from the head). */
nova_status nova_store_audit_rows(nova_store_t *s, const char *tenant_id, int64_t *rows);

/* A page of one tenant's entries in chain order (seq ascending), seq > after_seq. NULL
 * filters match everything; ts filters are unix microseconds, from inclusive, to exclusive
 * (0: no bound). limit 1..1000. */
typedef struct nova_audit_query {
    const char *tenant_id;
    const char *action;
    const char *actor;
    const char *target;
    int64_t from_ts;
    int64_t to_ts;
    int64_t after_seq;
    size_t limit;
} nova_audit_query_t;

nova_status nova_store_audit_list(nova_store_t *s, nova_arena_t *ar, const nova_audit_query_t *q,
                                  nova_audit_record_t **out, size_t *n);

/* Every tenant id that has a chain head or audit rows (platform level: novactl audit verify),
 * sorted. *ids is an arena array of *n strings. */
nova_status nova_store_audit_tenants(nova_store_t *s, nova_arena_t *ar, const char ***ids,
                                     size_t *n);

#endif
