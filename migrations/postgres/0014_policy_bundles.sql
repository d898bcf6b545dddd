-- 0014_policy_bundles: the decision point's policy lifecycle (issue 7 items 4, 5).
--
-- policy_bundles: a tenant's policy versions (1, 2, ...), each a bundle document (store and
-- model ids, action map, purposes, rules) written once and never changed, with the SHA-256 of
-- its text and the platform key's Ed25519 signature over "nova policy bundle v1", the tenant,
-- the version and that digest; novad verifies it before it loads a version. policy_state:
-- which version decides (active), the one before it (previous, the rollback target), and a
-- candidate evaluated in the shadow of live decisions (shadow, on shadow_percent of them).
-- policy_drift: the shadowed decisions where the candidate answered differently (no input
-- values: the action, the resource type and both answers with their reasons).
-- Times are unix microseconds.
CREATE TABLE policy_bundles (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    version BIGINT NOT NULL CHECK (version >= 1),
    body TEXT NOT NULL,
    digest TEXT NOT NULL,
    signature TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, version)
);

CREATE TABLE policy_state (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id),
    active_version BIGINT NOT NULL DEFAULT 0,
    previous_version BIGINT NOT NULL DEFAULT 0,
    shadow_version BIGINT NOT NULL DEFAULT 0,
    shadow_percent INTEGER NOT NULL DEFAULT 0 CHECK (shadow_percent BETWEEN 0 AND 100),
    updated_at BIGINT NOT NULL
);

CREATE TABLE policy_drift (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    seq BIGINT NOT NULL,
    shadow_version BIGINT NOT NULL,
    active_version BIGINT NOT NULL,
    action TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    live TEXT NOT NULL,
    shadow TEXT NOT NULL,
    live_reason TEXT NOT NULL,
    shadow_reason TEXT NOT NULL,
    ts BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX policy_drift_version_idx ON policy_drift (tenant_id, shadow_version, seq);

ALTER TABLE policy_bundles ENABLE ROW LEVEL SECURITY;
ALTER TABLE policy_bundles FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON policy_bundles
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');
ALTER TABLE policy_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE policy_state FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON policy_state
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');
ALTER TABLE policy_drift ENABLE ROW LEVEL SECURITY;
ALTER TABLE policy_drift FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON policy_drift
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');
