-- 0015_idv: the identity-verification gateway (issue 9, seed 000).
-- idv_workflows: a tenant's workflows as data, every version kept (an update inserts the next
-- version; a verification names the version it ran). definition is the validated JSON text.
CREATE TABLE idv_workflows (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id, version)
) STRICT;

-- idv_verifications: one row per verification. status queued -> running -> completed (with
-- decision approved, rejected or review_required) or failed. applicant is the claimed data
-- sealed with the tenant's data key (context idv.applicant), never in clear. result is the
-- decision's JSON (score, reasons). idempotency_key + request_digest make a retried POST
-- return the first answer.
CREATE TABLE idv_verifications (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    workflow_version INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    mode TEXT NOT NULL CHECK (mode IN ('sync', 'async')),
    reference TEXT NOT NULL DEFAULT '',
    decision TEXT NOT NULL DEFAULT '',
    result TEXT NOT NULL DEFAULT '{}',
    trace_id TEXT NOT NULL,
    callback_url TEXT NOT NULL DEFAULT '',
    applicant BLOB,
    idempotency_key TEXT,
    request_digest TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    completed_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE UNIQUE INDEX idv_verifications_idem ON idv_verifications (tenant_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX idv_verifications_created ON idv_verifications (tenant_id, created_at, id);

-- idv_steps: each step's result, written when the step finishes, so a redelivered job skips
-- what is done. result is the step's JSON (check, status, score, reasons, extracted,
-- duration_ms) sealed with the tenant's data key (context idv.step): extracted fields are
-- personal data.
CREATE TABLE idv_steps (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    verification_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    step_id TEXT NOT NULL,
    check_name TEXT NOT NULL,
    status TEXT NOT NULL,
    result BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, verification_id, idx)
) STRICT;

-- idv_jobs: the accepted work, until its verification is decided: the images sealed with the
-- tenant's data key (context idv.job). The queue carries only the ids; a job whose message was
-- lost with an in-process queue is published again at start. expires_at bounds how long the
-- sealed images of a verification waiting for review are kept.
CREATE TABLE idv_jobs (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    verification_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, verification_id)
) STRICT;

-- idv_usage: billing units, one row per executed check of a verification (the primary key
-- makes a redelivered job unable to bill a step twice).
CREATE TABLE idv_usage (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    verification_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    check_name TEXT NOT NULL,
    units INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, verification_id, idx)
) STRICT;
CREATE INDEX idv_usage_created ON idv_usage (tenant_id, created_at);
