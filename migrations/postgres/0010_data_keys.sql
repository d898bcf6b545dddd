-- 0010_data_keys: per-tenant data keys for field-level encryption (seed 003 §5.3). A data key
-- is 32 random bytes, stored only wrapped by the region's key (nova/envelope.h; envelope names
-- the driver that wrapped it, "derived-v1" for the key derived from the master key) under
-- associated data "<tenant>|<version>|<region>". Versions count up per (tenant, region): the
-- newest seals new values, older ones (retired_at set when the next one was made) still open
-- what they sealed, so a row is never deleted.
CREATE TABLE tenant_data_keys (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    region TEXT NOT NULL,
    version BIGINT NOT NULL CHECK (version >= 1),
    envelope TEXT NOT NULL,
    wrapped_key BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, region, version)
);

ALTER TABLE tenant_data_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_data_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_data_keys
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');
