/*
 * datakey_store.h: the repository of tenant data keys (src/store/datakeys.c, table
 * tenant_data_keys, migration 0010). Rows hold data keys only wrapped (nova/envelope.h);
 * nothing here sees a key in clear. Every mutation takes its audit entry and appends it in the
 * same transaction (nova/audit_store.h).
 */
#ifndef NOVA_DATAKEY_STORE_H
#define NOVA_DATAKEY_STORE_H

#include "nova/audit.h"
#include "nova/store.h"

typedef struct nova_datakey_row {
    const char *tenant_id;
    const char *region;
    int64_t version;      /* 1, 2, ... per (tenant, region) */
    const char *envelope; /* the driver that wrapped it: nova_envelope_name */
    const uint8_t *wrapped;
    size_t wrapped_len;
    int64_t created_at; /* unix seconds */
    int64_t retired_at; /* when a newer version took over new writes; 0: the newest */
} nova_datakey_row_t;

/* Inserts k (retired_at ignored) and, in the same transaction, marks every older version of
 * (tenant, region) still unretired retired at k->created_at, then appends audit. A version
 * taken already (a concurrent rotation won) is NOVA_CONFLICT and changes nothing. */
nova_status nova_store_datakey_add(nova_store_t *s, const nova_datakey_row_t *k,
                                   const nova_audit_entry_t *audit);

/* One version of (tenant, region); NOVA_NOT_FOUND when absent. Strings and bytes in a. */
nova_status nova_store_datakey_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                   const char *region, int64_t version, nova_datakey_row_t *out);
/* The newest version of (tenant, region); NOVA_NOT_FOUND when the tenant has none there. */
nova_status nova_store_datakey_newest(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                      const char *region, nova_datakey_row_t *out);
/* Every version the tenant has, by region then version; *out an arena array of *n rows
 * (wrapped bytes left out: wrapped NULL). */
nova_status nova_store_datakey_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                    nova_datakey_row_t **out, size_t *n);

#endif
