-- 0022_idv_documents: document numbers seen by the gateway's authenticity check (issue 9
-- item 4: "a document number already verified for another applicant of the tenant").
-- idv_index_keys: the tenant's key of those digests, 32 random bytes sealed with the tenant's
-- data key (context idv.index_key), made on first use.
CREATE TABLE idv_index_keys (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    region TEXT NOT NULL,
    sealed BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id)
) STRICT;

-- idv_documents: one row per decided verification that read a document number: keyed digests
-- (HMAC-SHA-256 under the index key, hex) of the issuing state and number, and of the
-- applicant (the verification's reference, else the claimed name and date of birth), never
-- the values. A number counts as verified when its verification's decision is approved, so a
-- review decided later counts from then on.
CREATE TABLE idv_documents (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    verification_id TEXT NOT NULL,
    number_digest TEXT NOT NULL,
    applicant_digest TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, verification_id)
) STRICT;
CREATE INDEX idv_documents_number ON idv_documents (tenant_id, number_digest);
