/*
 * security.h: tenant security settings (seed 003 §14, the JSON of §15.1) and where they are
 * enforced:
 *   mfa_required_for_all_users  stored for the user sign-in flows (none yet: Nova's callers
 *                               are machine clients and SDK sessions)
 *   session_timeout_minutes     5..1440: SDK sessions minted for the tenant live no longer
 *   allowed_ip_ranges           IPv4/IPv6 CIDRs (nova_cidr_parse), empty: any address; every
 *                               authenticated request and token grant of the tenant
 *   resident_regions            region codes ("KE", "NG"), empty: any; a novad whose
 *                               NOVA_REGION is not one of them refuses the tenant's requests
 *   require_dpop                token grants need a DPoP proof (RFC 9449)
 *   require_mtls_for_m2m        client_credentials grants need a certificate-authenticated
 *                               client (tls_client_auth, self_signed_tls_client_auth)
 *
 * The store keeps them as canonical JSON with a version (nova/security_store.h). Every novad
 * keeps a cache of each tenant's settings, checked on every read against the control plane's
 * flag "security:<tenant>" (the version, set by every change), so a change reaches every novad
 * sharing the control plane within 1 s while a request costs no store read. An entry is also
 * re-read from the store after NOVA_SECURITY_CACHE_TTL_MS, a bound for the case where the
 * flag could not be written.
 */
#ifndef NOVA_SECURITY_H
#define NOVA_SECURITY_H

#include "nova/apikey.h"
#include "nova/audit.h"
#include "nova/kv.h"
#include "nova/store.h"

#define NOVA_SECURITY_LIST_MAX 32
#define NOVA_SECURITY_CIDR_TEXT 44 /* "ffff:...:ffff/128" and its NUL */
#define NOVA_SECURITY_REGION_TEXT 9
#define NOVA_SECURITY_TIMEOUT_MIN 5
#define NOVA_SECURITY_TIMEOUT_MAX 1440
#define NOVA_SECURITY_CACHE_TTL_MS 60000

typedef struct nova_security_settings {
    bool mfa_required_for_all_users;
    int session_timeout_minutes;
    size_t n_ranges;
    nova_cidr_t ranges[NOVA_SECURITY_LIST_MAX];
    char range_text[NOVA_SECURITY_LIST_MAX][NOVA_SECURITY_CIDR_TEXT];
    size_t n_regions;
    char regions[NOVA_SECURITY_LIST_MAX][NOVA_SECURITY_REGION_TEXT];
    bool require_dpop;
    bool require_mtls_for_m2m;
} nova_security_settings_t;

/* The settings of a tenant that never changed them: nothing required, any address, any
 * region, sessions up to 1440 minutes (the SDK session maximum). */
void nova_security_defaults(nova_security_settings_t *out);

/* Reads settings from obj, a JSON object whose members are the six names above (unknown
 * members are the caller's to refuse); an absent member keeps its default. NOVA_INVALID with
 * *why, a static sentence that starts with the member's name, for a wrong type or value. */
nova_status nova_security_from_json(const json_t *obj, nova_security_settings_t *out,
                                    const char **why);
/* The six members as a new JSON object (the caller owns it); NULL when out of memory. */
json_t *nova_security_to_json(const nova_security_settings_t *set);

/* true when ip (as nova_req_peer_ip gives it) is allowed: no ranges, or inside one. */
bool nova_security_ip_allowed(const nova_security_settings_t *set, const char *ip);
/* true when a novad in region (NULL or "": none configured) may serve the tenant: no
 * resident regions, or region is one of them. */
bool nova_security_region_allowed(const nova_security_settings_t *set, const char *region);

/* The per-process cache. Thread-safe; one per novad. */
typedef struct nova_security_cache nova_security_cache_t;

nova_status nova_security_cache_new(nova_security_cache_t **out);
/* NULL-safe. */
void nova_security_cache_free(nova_security_cache_t *c);

/* The tenant's settings into *out (*version: 0 for the defaults). Fail closed:
 * NOVA_UNAVAILABLE when the control plane's flag copy is stale or the store cannot be read,
 * never the defaults in their place. */
nova_status nova_security_get(nova_security_cache_t *c, nova_kv_t *kv, nova_store_t *s,
                              const char *tenant_id, nova_security_settings_t *out,
                              int64_t *version);

/* Stores set as the tenant's settings (audited "tenant_security.update" by `by`, target
 * "tenant:<id>", the new settings as attributes), then sets the flag to the new version and
 * updates this process's cache. *version gets the new version. NOVA_UNAVAILABLE when the
 * flag could not be set: the settings are stored, and every novad re-reads them within
 * NOVA_SECURITY_CACHE_TTL_MS; the caller asks for a retry. */
nova_status nova_security_put(nova_security_cache_t *c, nova_kv_t *kv, nova_store_t *s,
                              nova_arena_t *ar, const nova_audit_actor_t *by, const char *tenant_id,
                              const nova_security_settings_t *set, int64_t *version);

#endif
