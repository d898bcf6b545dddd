-- 0001_init: tenants, their signing keys, API clients and revoked access tokens.
-- Times are unix seconds.
--
-- Row-level security: every tenant-owned table admits only the rows of the tenant named by
-- the transaction-local setting nova.tenant_id, or every row when it is '*' (platform-level
-- lookups: client by id at the token endpoint, the JWKS listing, pruning). With no setting
-- nothing is visible. FORCE makes the policy bind the table owner too, which is the role the
-- application connects as. Foreign-key checks bypass policies by design.

CREATE TABLE tenants (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX tenants_created_idx ON tenants (created_at, id);

CREATE TABLE signing_keys (
    kid TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    alg TEXT NOT NULL CHECK (alg IN ('EdDSA', 'ES256')),
    public_jwk TEXT NOT NULL,
    private_enc BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX signing_keys_tenant_idx ON signing_keys (tenant_id, created_at);
CREATE INDEX signing_keys_created_idx ON signing_keys (created_at, kid);
-- At most one active key per tenant.
CREATE UNIQUE INDEX signing_keys_active_idx ON signing_keys (tenant_id) WHERE active;

CREATE TABLE clients (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL,
    secret_digest TEXT NOT NULL,
    scopes TEXT NOT NULL DEFAULT '',
    audiences TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX clients_tenant_idx ON clients (tenant_id, created_at, id);

CREATE TABLE revoked_tokens (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    jti TEXT NOT NULL PRIMARY KEY,
    exp BIGINT NOT NULL
);
CREATE INDEX revoked_tokens_exp_idx ON revoked_tokens (exp);
CREATE INDEX revoked_tokens_tenant_idx ON revoked_tokens (tenant_id);

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
    USING (id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');

ALTER TABLE signing_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE signing_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON signing_keys
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');

ALTER TABLE clients ENABLE ROW LEVEL SECURITY;
ALTER TABLE clients FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON clients
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');

ALTER TABLE revoked_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE revoked_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON revoked_tokens
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');
