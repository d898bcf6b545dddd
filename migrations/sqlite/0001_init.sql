-- 0001_init: tenants, their signing keys, API clients and revoked access tokens.
-- Times are unix seconds. STRICT tables reject values of the wrong type; the hot lookups
-- (clients by id, revoked_tokens by jti) are WITHOUT ROWID so the primary key is the table.

CREATE TABLE tenants (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX tenants_created_idx ON tenants (created_at, id);

CREATE TABLE signing_keys (
    kid TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    alg TEXT NOT NULL CHECK (alg IN ('EdDSA', 'ES256')),
    public_jwk TEXT NOT NULL,
    private_enc BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    active INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1))
) STRICT;
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
    created_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;
CREATE INDEX clients_tenant_idx ON clients (tenant_id, created_at, id);

CREATE TABLE revoked_tokens (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    jti TEXT NOT NULL PRIMARY KEY,
    exp INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX revoked_tokens_exp_idx ON revoked_tokens (exp);
CREATE INDEX revoked_tokens_tenant_idx ON revoked_tokens (tenant_id);
