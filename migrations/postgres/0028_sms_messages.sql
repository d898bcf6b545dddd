-- 0028_sms_messages: what became of each SMS a Twilio channel sent (issue 9 item 6).
-- sms_messages: one row per message Twilio created (its MessageSid, from the reply to the
-- send), tied to the delivery and the recipient it was sent for. recipient is the recipient's
-- tag in the delivery log (src/events/recipients.c: a keyed digest), never the number.
-- status is Twilio's last status reported for it (the reply to the send, then its status
-- callbacks, POST /webhooks/twilio/status/{tenant}/{channel}); rank orders the statuses so a
-- late callback never moves a message back (a "sent" arriving after "delivered" changes
-- nothing); error_code is Twilio's ErrorCode of an undelivered or failed message, 0 if none.
CREATE TABLE sms_messages (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    message_sid TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    status TEXT NOT NULL,
    rank BIGINT NOT NULL,
    error_code BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, message_sid)
);
CREATE INDEX sms_messages_event ON sms_messages (tenant_id, event_id);

ALTER TABLE sms_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE sms_messages FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sms_messages
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');
