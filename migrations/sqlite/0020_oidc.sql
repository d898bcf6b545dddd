-- 0020_oidc: OIDC federation per tenant (issue 11 item 7, the OIDC half).
-- people_oidc_idps: a tenant's OpenID Providers. config is the JSON the API shows (issuer,
-- client_id, redirect_uris, scopes, group_claim, role mappings with their valid_until);
-- the client secret is sealed with the tenant's data key (nova_sealed_encode bytes) and
-- never shown again. people_oidc_links: which user an IdP's subject is, by (issuer, sub),
-- made when the user is provisioned just in time.
CREATE TABLE people_oidc_idps (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    issuer TEXT NOT NULL,
    config TEXT NOT NULL,
    secret_sealed BLOB,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX people_oidc_idps_issuer_idx ON people_oidc_idps (tenant_id, issuer);

CREATE TABLE people_oidc_links (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    issuer TEXT NOT NULL,
    sub TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES people_users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, issuer, sub)
) STRICT, WITHOUT ROWID;
CREATE INDEX people_oidc_links_user_idx ON people_oidc_links (user_id);
