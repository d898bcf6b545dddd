-- 0011_tenant_security: each tenant's security settings (seed 003 §14, the JSON of §15.1):
-- mfa_required_for_all_users, session_timeout_minutes, allowed_ip_ranges, resident_regions,
-- require_dpop, require_mtls_for_m2m. settings holds the validated settings as one canonical
-- JSON object (every member present); version counts the changes (1 for the first PUT) and is
-- what every novad's cache is checked against (the control-plane flag security:<tenant>). A
-- tenant with no row has the defaults.
CREATE TABLE tenant_security (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id),
    settings TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
