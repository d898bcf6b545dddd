-- 0005_sessions: sessions and their rotating refresh tokens (seed 003 §3.2, seed 000 "SDKs
-- use refresh tokens"). A session is one token family: every refresh token it ever had points
-- at it, and revoking it (revoked_at) ends them all and every access token that names it
-- (sid). kind: 'sdk' (minted by a tenant backend for one applicant; people sessions later).
-- Refresh tokens are stored only as their keyed digest; used_at marks a rotated one, whose
-- second presentation is a theft signal that revokes the family.
CREATE TABLE sessions (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    kind TEXT NOT NULL CHECK (kind IN ('sdk')),
    client_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    scope TEXT NOT NULL,
    audience TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL DEFAULT 0,
    revoked_reason TEXT NOT NULL DEFAULT ''
) STRICT, WITHOUT ROWID;
CREATE INDEX sessions_tenant_idx ON sessions (tenant_id, created_at, id);

CREATE TABLE refresh_tokens (
    digest TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    session_id TEXT NOT NULL REFERENCES sessions (id),
    created_at INTEGER NOT NULL,
    used_at INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);
