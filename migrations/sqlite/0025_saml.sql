-- 0025_saml: SAML 2.0 federation per tenant (issue 11 item 7, the SAML half).
-- people_saml_idps: a tenant's SAML Identity Providers, by the IdP's entity ID. config is the
-- JSON the API shows (the IdP's metadata XML or the URL it was fetched from, the SP entity
-- ID, the SP certificate, the group attribute and the role mappings with their valid_until);
-- the SP's private key (PEM, made by novad per IdP) is sealed with the tenant's data key
-- (nova_sealed_encode bytes) and never shown. people_saml_links: which user an IdP's subject
-- (its NameID) is, made when the user is provisioned just in time.
CREATE TABLE people_saml_idps (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    entity_id TEXT NOT NULL,
    config TEXT NOT NULL,
    key_sealed BLOB,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX people_saml_idps_entity_idx ON people_saml_idps (tenant_id, entity_id);

CREATE TABLE people_saml_links (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    entity_id TEXT NOT NULL,
    name_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES people_users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, entity_id, name_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX people_saml_links_user_idx ON people_saml_links (user_id);
