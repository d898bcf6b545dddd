-- 0006_key_rotation: signing-key states (seed 003 §10).
--   active   signs the tenant's new tokens and verifies them; one per tenant (the unique
--            index on `active`, which stays true exactly when state = 'active')
--   grace    signs nothing, still verifies tokens it signed until grace_until (unix seconds,
--            at most 24 h after it stopped signing), and is published in the JWKS until then
--   retired  verifies nothing and is not published; kept so a token's kid and the audit trail
--            still name a row (retired_at: when)
-- Verification checks the state in the store with every request's liveness read, so a retired
-- key's tokens fail on every instance at once whatever the instance has cached.
ALTER TABLE signing_keys ADD COLUMN state TEXT NOT NULL DEFAULT 'active'
    CHECK (state IN ('active', 'grace', 'retired'));
ALTER TABLE signing_keys ADD COLUMN grace_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE signing_keys ADD COLUMN retired_at INTEGER NOT NULL DEFAULT 0;
UPDATE signing_keys SET state = 'retired' WHERE NOT active;
CREATE INDEX signing_keys_state_idx ON signing_keys (state, created_at);
