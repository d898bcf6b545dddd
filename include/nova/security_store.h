/*
 * security_store.h: the repository of tenant security settings (src/store/security.c, table
 * tenant_security, migration 0011). The store keeps the settings as the canonical JSON text
 * the domain (nova/security.h) made; it neither parses nor checks them. A tenant with no row
 * has the defaults.
 */
#ifndef NOVA_SECURITY_STORE_H
#define NOVA_SECURITY_STORE_H

#include "nova/audit.h"
#include "nova/store.h"

typedef struct nova_security_row {
    const char *tenant_id;
    const char *settings; /* canonical JSON object text */
    int64_t version;      /* 1 for the first change, +1 for each later one */
    int64_t updated_at;   /* unix seconds */
} nova_security_row_t;

/* The tenant's row (strings in a). NOVA_NOT_FOUND when the tenant never changed its settings. */
nova_status nova_store_security_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                    nova_security_row_t *out);

/* Replaces the tenant's settings with `settings` (a JSON object text) and bumps the version,
 * appending audit (whose tenant must be tenant_id) in the same transaction. *version gets the
 * new version. The tenant must exist (NOVA_INVALID otherwise, as the row references it). */
nova_status nova_store_security_put(nova_store_t *s, const char *tenant_id, const char *settings,
                                    int64_t now, const nova_audit_entry_t *audit, int64_t *version);

#endif
