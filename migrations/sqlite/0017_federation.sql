-- 0017_federation: provisioning from a tenant's identity provider (issue 11 item 8, SCIM 2.0).
-- scim_tokens: the per-tenant bearer tokens an IdP's SCIM client presents, as
-- hex(SHA-256(token)); the token itself is shown once. people_scim_users: the IdP's externalId
-- of a user the IdP provisioned (an identifier of the IdP's, not personal data of the user).
CREATE TABLE scim_tokens (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    digest TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX scim_tokens_digest_idx ON scim_tokens (tenant_id, digest);

CREATE TABLE people_scim_users (
    user_id TEXT NOT NULL PRIMARY KEY REFERENCES people_users (id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    external_id TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX people_scim_users_ext_idx ON people_scim_users (tenant_id, external_id);
