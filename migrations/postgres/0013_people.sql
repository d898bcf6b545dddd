-- 0013_people: human principals (issue 11, seed 003 §3, §15.1). Personal data is sealed with
-- the tenant's data key (nova_field_seal, contexts "user.email" and "user.name"); email_index
-- is a blind index, hex(HMAC-SHA-256(tenant's people index key, lower-cased email)), so
-- sign-in finds a user without the email in clear. pii_region names the data-key region the
-- sealed columns were sealed in. password_hash is argon2id ('' for none); the TOTP secret is
-- sealed too ("user.totp_secret"), totp_last_step is the last step accepted (a code is used
-- once).
CREATE TABLE people_users (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    status TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    roles TEXT NOT NULL DEFAULT '',
    email_index TEXT NOT NULL,
    email_sealed BYTEA NOT NULL,
    name_sealed BYTEA,
    pii_region TEXT NOT NULL,
    password_hash TEXT NOT NULL DEFAULT '',
    totp_sealed BYTEA,
    totp_alg TEXT NOT NULL DEFAULT 'SHA1',
    totp_digits BIGINT NOT NULL DEFAULT 6,
    totp_state TEXT NOT NULL DEFAULT 'none' CHECK (totp_state IN ('none', 'pending', 'active')),
    totp_last_step BIGINT NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX people_users_email_idx ON people_users (tenant_id, email_index);
CREATE INDEX people_users_tenant_idx ON people_users (tenant_id, created_at, id);

-- Single-use recovery codes, as SHA-256 digests bound to the user (src/people/recovery.c).
CREATE TABLE people_recovery_codes (
    user_id TEXT NOT NULL REFERENCES people_users (id) ON DELETE CASCADE,
    digest TEXT NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, digest)
);

-- The people module's own per-tenant keys, each sealed with the tenant's data key:
-- 'index' (32 random bytes, the email blind index) and 'token' (Ed25519 PKCS#8: user access
-- tokens and step-up challenges). kid names the token key in JWS headers.
CREATE TABLE people_keys (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL CHECK (name IN ('index', 'token')),
    kid TEXT NOT NULL,
    region TEXT NOT NULL,
    sealed BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- Sign-in sessions (§3.2, §15.1 sessions): one refresh-token family each. The control plane
-- holds the hot copy (last_seen, idle deadline); this row is the durable record and the list.
CREATE TABLE people_sessions (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    user_id TEXT NOT NULL,
    aal BIGINT NOT NULL,
    amr TEXT NOT NULL,
    device TEXT NOT NULL DEFAULT '',
    ip TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL DEFAULT 0,
    revoked_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX people_sessions_user_idx ON people_sessions (tenant_id, user_id, created_at);

CREATE TABLE people_refresh_tokens (
    digest TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    session_id TEXT NOT NULL REFERENCES people_sessions (id),
    created_at BIGINT NOT NULL,
    used_at BIGINT NOT NULL DEFAULT 0
);

-- WebAuthn credentials (passkeys): the COSE public key, its algorithm, the last signature
-- counter seen; flagged_at marks a counter that went backwards (a cloned authenticator).
CREATE TABLE people_webauthn_credentials (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    user_id TEXT NOT NULL REFERENCES people_users (id) ON DELETE CASCADE,
    public_key BYTEA NOT NULL,
    alg BIGINT NOT NULL,
    sign_count BIGINT NOT NULL,
    aaguid TEXT NOT NULL,
    attestation TEXT NOT NULL,
    user_verified BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL DEFAULT 0,
    flagged_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX people_webauthn_user_idx ON people_webauthn_credentials (tenant_id, user_id);

ALTER TABLE people_users ENABLE ROW LEVEL SECURITY;
ALTER TABLE people_users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON people_users
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');

ALTER TABLE people_recovery_codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE people_recovery_codes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON people_recovery_codes
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');

ALTER TABLE people_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE people_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON people_keys
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');

ALTER TABLE people_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE people_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON people_sessions
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');

ALTER TABLE people_refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE people_refresh_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON people_refresh_tokens
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');

ALTER TABLE people_webauthn_credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE people_webauthn_credentials FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON people_webauthn_credentials
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');

-- Continuous access evaluation per tenant (src/people/cae.c): what IP drift, a device change
-- and impossible travel do to a session, the speed that counts as impossible, and the
-- tenant's IP-range location table; canonical JSON, every member present.
CREATE TABLE people_settings (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id),
    settings TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

ALTER TABLE people_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE people_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON people_settings
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');

-- Just-in-time access and break-glass (src/people/access.c): a user asks for a role for a time
-- box with a reason and a ticket; approvers (other users holding access-approver) approve it,
-- one for just-in-time access, two for break-glass; approvals is their ids, space-separated;
-- once approved it expires_at approved_at + duration_s.
CREATE TABLE people_access_requests (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    requester TEXT NOT NULL,
    role TEXT NOT NULL,
    reason TEXT NOT NULL,
    ticket TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('jit', 'break_glass')),
    required_approvals BIGINT NOT NULL,
    approvals TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved')),
    duration_s BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    approved_at BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX people_access_requests_idx ON people_access_requests (tenant_id, created_at);

ALTER TABLE people_access_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE people_access_requests FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON people_access_requests
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');
