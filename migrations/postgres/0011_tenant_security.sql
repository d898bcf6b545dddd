-- 0011_tenant_security: each tenant's security settings (seed 003 §14, the JSON of §15.1):
-- mfa_required_for_all_users, session_timeout_minutes, allowed_ip_ranges, resident_regions,
-- require_dpop, require_mtls_for_m2m. settings holds the validated settings as one canonical
-- JSON object (every member present); version counts the changes (1 for the first PUT) and is
-- what every novad's cache is checked against (the control-plane flag security:<tenant>). A
-- tenant with no row has the defaults.
CREATE TABLE tenant_security (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id),
    settings TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

ALTER TABLE tenant_security ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_security FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_security
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');
