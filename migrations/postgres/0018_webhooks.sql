-- 0018_webhooks: event notifications of the verification gateway (issue 9 item 6) and the
-- tenant's webhook endpoints.
-- webhook_endpoints: where a tenant receives events, over mTLS only. secrets is the JSON array
-- of its whsec_ secrets (newest first; two during a rotation) and client_key the PEM private
-- key of the client certificate Nova presents, both sealed with the tenant's data key
-- (contexts webhook.secrets, webhook.client_key). ca is the PEM bundle the receiver is
-- verified against, pin a SPKI pin (sha256//...); one of them is set. events: the subscribed
-- types, space-separated.
CREATE TABLE webhook_endpoints (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secrets BYTEA NOT NULL,
    client_cert TEXT NOT NULL,
    client_key BYTEA NOT NULL,
    ca TEXT NOT NULL DEFAULT '',
    pin TEXT NOT NULL DEFAULT '',
    enabled BIGINT NOT NULL DEFAULT 1,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- webhook_events: the outbox. A row is written in the same transaction as the state change
-- that causes it (a verification decided, a review decided), so none is lost across a
-- restart. payload is the JSON sent ({"type", "timestamp", "data"}): ids, statuses and
-- reason codes, never the applicant's data.
CREATE TABLE webhook_events (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX webhook_events_created ON webhook_events (tenant_id, created_at, id);

-- webhook_deliveries: one per (event, receiver): each subscribed endpoint, and the
-- verification's callback_url (sent with the tenant's oldest enabled endpoint's secrets and
-- TLS material; endpoint_id '' when it has none). A dispatcher claims due rows by setting
-- lease_until and lease_owner; a row whose lease ran out may be claimed again. state pending
-- -> delivered (2xx) or failed (max_attempts reached, or nothing to send with).
CREATE TABLE webhook_deliveries (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    url TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    next_at BIGINT NOT NULL,
    lease_until BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT NOT NULL DEFAULT '',
    last_status BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (tenant_id, event_id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_at);

-- webhook_attempts: the delivery log, one row per attempt: the HTTP status (0: none came), how
-- long it took, and what failed. Never the body.
CREATE TABLE webhook_attempts (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    delivery_id TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    status_code BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, delivery_id, attempt)
);
CREATE INDEX webhook_attempts_event ON webhook_attempts (tenant_id, event_id);

ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_endpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_endpoints
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');

ALTER TABLE webhook_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_events
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');

ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_deliveries
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');

ALTER TABLE webhook_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_attempts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_attempts
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');
