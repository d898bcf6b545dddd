-- 0020_oidc: OIDC federation per tenant (issue 11 item 7, the OIDC half).
-- See migrations/sqlite/0020_oidc.sql; here with row-level security per tenant.
CREATE TABLE people_oidc_idps (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    issuer TEXT NOT NULL,
    config TEXT NOT NULL,
    secret_sealed BYTEA,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX people_oidc_idps_issuer_idx ON people_oidc_idps (tenant_id, issuer);

CREATE TABLE people_oidc_links (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    issuer TEXT NOT NULL,
    sub TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES people_users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, issuer, sub)
);
CREATE INDEX people_oidc_links_user_idx ON people_oidc_links (user_id);

ALTER TABLE people_oidc_idps ENABLE ROW LEVEL SECURITY;
ALTER TABLE people_oidc_idps FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON people_oidc_idps
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');
ALTER TABLE people_oidc_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE people_oidc_links FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON people_oidc_links
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');
