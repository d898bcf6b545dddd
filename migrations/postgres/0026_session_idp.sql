-- 0026_session_idp: the IdP a federated sign-in session came through (issue 11 item 7).
-- idp_id: the people_oidc_idps or people_saml_idps row ('' for a password or passkey
-- sign-in), so that deleting an IdP revokes the sessions it opened; idp_sid: the IdP's own
-- session id (an OIDC ID token's sid claim, '' when it gave none), which a Back-Channel
-- Logout token names.
ALTER TABLE people_sessions ADD COLUMN idp_id TEXT NOT NULL DEFAULT '';
ALTER TABLE people_sessions ADD COLUMN idp_sid TEXT NOT NULL DEFAULT '';
CREATE INDEX people_sessions_idp_idx ON people_sessions (tenant_id, idp_id, idp_sid)
    WHERE idp_id <> '';
