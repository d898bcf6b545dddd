-- 0024_notify_channels: email and SMS notifications of the gateway's events (issue 9 item 6),
-- beside the webhook endpoints of 0018, delivered from the same outbox.
-- notification_channels: a tenant's email (SMTP) or SMS (Africa's Talking) channel. target is
-- where it sends (the SMTP server's URL, the provider's messaging URL), settings
-- is the JSON of what may be shown (server URL, username, From, recipients, sender id, base
-- URL, CA); secret the SMTP password or the provider's API key, sealed with the tenant's data
-- key (context notify.secret), empty when there is none. events: the subscribed types,
-- space-separated. A disabled channel gets no new delivery and sends none still pending.
CREATE TABLE notification_channels (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('email', 'sms')),
    target TEXT NOT NULL,
    settings TEXT NOT NULL,
    secret BLOB NOT NULL,
    events TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- A delivery goes to a webhook endpoint (channel 'webhook', endpoint_id) or to a notification
-- channel (channel 'email' or 'sms', channel_id; endpoint_id '').
ALTER TABLE webhook_deliveries ADD COLUMN channel TEXT NOT NULL DEFAULT 'webhook';
ALTER TABLE webhook_deliveries ADD COLUMN channel_id TEXT NOT NULL DEFAULT '';
-- What the receiver answered besides a status: the SMTP reply, or the provider's status per
-- recipient ("+254711000001=101 ..."). Never a message body or a secret.
ALTER TABLE webhook_attempts ADD COLUMN result TEXT NOT NULL DEFAULT '';
