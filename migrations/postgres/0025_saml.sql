-- 0025_saml: SAML 2.0 federation per tenant (issue 11 item 7, the SAML half).
-- See migrations/sqlite/0025_saml.sql; here with row-level security per tenant.
CREATE TABLE people_saml_idps (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    entity_id TEXT NOT NULL,
    config TEXT NOT NULL,
    key_sealed BYTEA,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX people_saml_idps_entity_idx ON people_saml_idps (tenant_id, entity_id);

CREATE TABLE people_saml_links (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    entity_id TEXT NOT NULL,
    name_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES people_users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, entity_id, name_id)
);
CREATE INDEX people_saml_links_user_idx ON people_saml_links (user_id);

ALTER TABLE people_saml_idps ENABLE ROW LEVEL SECURITY;
ALTER TABLE people_saml_idps FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON people_saml_idps
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');
ALTER TABLE people_saml_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE people_saml_links FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON people_saml_links
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');
