-- 0008_api_keys: API keys for machine callers that sign each request with HMAC-SHA-256
-- (seed 003 §6.1, §6.2, §15.1). The id (ak_live_..., ak_test_...) is public; the secret is
-- shown once and kept twice, never in clear: sealed (AES-256-GCM under a key derived from
-- the master key, associated data "id|tenant") because the server needs it to compute the
-- HMAC, and as an argon2id hash (the seed's record). A rotation keeps the previous secret,
-- accepted until prev_valid_until. Lists (scopes, CIDRs) are space-separated text so the
-- table is the same on both stores; the budget is an amount in minor units of a currency
-- per UTC day (budget_currency '' for none) and a number of requests per minute.
CREATE TABLE api_keys (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    mode TEXT NOT NULL CHECK (mode IN ('live', 'test')),
    purpose TEXT NOT NULL,
    scopes TEXT NOT NULL,
    ip_allowlist TEXT NOT NULL DEFAULT '',
    rate_per_minute BIGINT NOT NULL DEFAULT 0,
    budget_daily BIGINT NOT NULL DEFAULT 0,
    budget_currency TEXT NOT NULL DEFAULT '',
    secret_hash TEXT NOT NULL,
    secret_enc BYTEA NOT NULL,
    prev_secret_hash TEXT NOT NULL DEFAULT '',
    prev_secret_enc BYTEA,
    prev_valid_until BIGINT NOT NULL DEFAULT 0,
    version BIGINT NOT NULL DEFAULT 1,
    expires_at BIGINT NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    rotated_at BIGINT NOT NULL DEFAULT 0,
    revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id, created_at, id);

-- What each key has spent per UTC day ('YYYY-MM-DD'), in its budget's currency.
CREATE TABLE api_key_spend (
    key_id TEXT NOT NULL REFERENCES api_keys (id),
    day TEXT NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    currency TEXT NOT NULL,
    spent BIGINT NOT NULL,
    PRIMARY KEY (key_id, day)
);

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_keys
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');

ALTER TABLE api_key_spend ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_key_spend FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_key_spend
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');
