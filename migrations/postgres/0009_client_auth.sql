-- 0009_client_auth: how a client authenticates at the token endpoint (RFC 6749 §2.3, RFC 7523,
-- RFC 8705). client_secret: HTTP Basic or the form (the digest in secret_digest);
-- private_key_jwt: a JWT signed by a key of jwks; tls_client_auth: a certificate chaining to
-- NOVA_TLS_CLIENT_CA whose subject is tls_subject_dn; self_signed_tls_client_auth: a
-- certificate whose SHA-256 is that of an x5c certificate in jwks. Such clients get tokens
-- bound to the certificate (cnf.x5t#S256).
ALTER TABLE clients ADD COLUMN auth_method TEXT NOT NULL DEFAULT 'client_secret'
    CHECK (auth_method IN ('client_secret', 'private_key_jwt', 'tls_client_auth',
                           'self_signed_tls_client_auth'));
ALTER TABLE clients ADD COLUMN jwks TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN tls_subject_dn TEXT NOT NULL DEFAULT '';
