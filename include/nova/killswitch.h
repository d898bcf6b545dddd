/*
 * killswitch.h: kill switches per tenant and region for named actions (seed 003 §14, §16.4):
 * "disbursement", "settlement", "cashout", ... The ledger and agent APIs ask
 * nova_killswitch_active before acting. Switches live in the control plane's flags
 * (nova_kv_flag_*), so a change reaches every novad sharing it within 1 s; reads never make a
 * round trip. Flag name: "ks:<tenant>:<region>:<action>", region "_" for every region ("*" in the
 * API).
 */
#ifndef NOVA_KILLSWITCH_H
#define NOVA_KILLSWITCH_H

#include "nova/audit.h"
#include "nova/kv.h"
#include "nova/store.h"

#define NOVA_KILLSWITCH_ALL_REGIONS "*"

/* true when action is 1..40 of [a-z0-9_.-] starting with a letter. */
bool nova_killswitch_action_valid(const char *action);
/* true when region is "*" or 2..8 of [A-Z0-9-] (ISO 3166 codes and the like). */
bool nova_killswitch_region_valid(const char *region);

/* Whether action is switched off for tenant_id in region (a switch for that region or for
 * every region). Fail closed: true when the control plane's copy is stale or unreadable, or
 * when an argument is invalid. region NULL means the deployment's own (NOVA_REGION) is not
 * known: only the every-region switch is consulted then. */
bool nova_killswitch_active(nova_kv_t *kv, const char *tenant_id, const char *region,
                            const char *action);

typedef struct nova_killswitch {
    const char *region;
    const char *action;
    const char *reason;
    const char *set_by; /* actor id */
    int64_t set_at;
} nova_killswitch_t;

/* Turns a switch on (on true; reason 1..200 printable characters) or off, then appends the
 * audit entry "killswitch.set" / "killswitch.clear" (target "killswitch:<region>:<action>")
 * to the tenant's chain. If the entry cannot be written the flag change is undone and the
 * error returned. NOVA_INVALID for a bad action, region or reason; NOVA_UNAVAILABLE when the
 * control plane is down. */
nova_status nova_killswitch_set(nova_kv_t *kv, nova_store_t *s, nova_arena_t *ar,
                                const nova_audit_actor_t *by, const char *tenant_id,
                                const char *region, const char *action, bool on,
                                const char *reason);
/* The tenant's switches that are on, from the local copy (arena). NOVA_UNAVAILABLE when the
 * copy is stale. */
nova_status nova_killswitch_list(nova_kv_t *kv, nova_arena_t *ar, const char *tenant_id,
                                 nova_killswitch_t **out, size_t *n);

#endif
