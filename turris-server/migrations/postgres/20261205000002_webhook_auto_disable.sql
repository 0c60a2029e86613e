-- Auto-disable: failing_since is the end of the first failed attempt of an endpoint's current
-- run of failures (NULL after a success); an endpoint failing for the configured period, or
-- answering 410 Gone, gets disabled_at and disabled_reason ('gone' or 'failing'). A disabled
-- endpoint's events stay pending and are not leased until it is enabled again.
ALTER TABLE webhook_endpoints ADD COLUMN failing_since BIGINT;
ALTER TABLE webhook_endpoints ADD COLUMN disabled_at BIGINT;
ALTER TABLE webhook_endpoints ADD COLUMN disabled_reason TEXT;

-- What happened to an endpoint (disabled, enabled), for its owner: written in the transaction
-- that disables or enables it. Deleting the endpoint deletes its notifications.
CREATE TABLE webhook_notifications (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    webhook_id UUID NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    reason TEXT,
    message TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX webhook_notifications_webhook ON webhook_notifications (webhook_id, at);
