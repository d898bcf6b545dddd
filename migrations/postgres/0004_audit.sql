-- 0004_audit: the tamper-evident audit log (seed 003 §8.1), one hash chain per tenant.
--
-- audit_log holds the entries; row_hash = SHA-256 of the entry's canonical encoding, which
-- covers id, seq, ts, tenant_id, actor, action, target, decision, attrs and prev_hash (the
-- previous entry's row_hash, 64 zeros for seq 1): docs/AUDIT.md. attrs is TEXT, not jsonb,
-- so the bytes that were hashed are the bytes that are stored (jsonb would reformat them).
--
-- audit_heads anchors each chain apart from its rows: entries appended and the last
-- row_hash. A deleted tail leaves the head ahead of the rows. An append locks its tenant's
-- head row (SELECT ... FOR UPDATE) for the rest of its transaction, so two writers never take
-- the same seq; the unique index is the backstop.
-- No foreign key to tenants: an audit trail outlives what it describes.
CREATE TABLE audit_log (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    seq BIGINT NOT NULL CHECK (seq >= 1),
    ts BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    decision TEXT NOT NULL,
    attrs TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL
);
CREATE UNIQUE INDEX audit_log_chain_idx ON audit_log (tenant_id, seq);
CREATE INDEX audit_log_ts_idx ON audit_log (tenant_id, ts);

CREATE TABLE audit_heads (
    tenant_id TEXT NOT NULL PRIMARY KEY,
    count BIGINT NOT NULL CHECK (count >= 0),
    last_hash TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');

ALTER TABLE audit_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_heads
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');
