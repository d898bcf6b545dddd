-- 0017_federation: provisioning from a tenant's identity provider (issue 11 item 8, SCIM 2.0).
-- See migrations/sqlite/0017_federation.sql; here with row-level security per tenant.
CREATE TABLE scim_tokens (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    digest TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX scim_tokens_digest_idx ON scim_tokens (tenant_id, digest);

CREATE TABLE people_scim_users (
    user_id TEXT NOT NULL PRIMARY KEY REFERENCES people_users (id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    external_id TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX people_scim_users_ext_idx ON people_scim_users (tenant_id, external_id);

ALTER TABLE scim_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scim_tokens
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');
ALTER TABLE people_scim_users ENABLE ROW LEVEL SECURITY;
ALTER TABLE people_scim_users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON people_scim_users
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');
