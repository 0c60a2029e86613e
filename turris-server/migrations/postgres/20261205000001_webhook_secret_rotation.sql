-- Secret rotation with overlap: the secret a rotation replaced stays valid until
-- previous_secret_expires_at, and deliveries carry its signature beside the new one meanwhile.
-- Sealed like secret_sealed, under associated data "webhook-previous-secret:<webhook id>" (so
-- it cannot be swapped with the current one); its last four hex characters in clear.
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret_sealed BYTEA;
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret_last4 TEXT;
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret_expires_at BIGINT;
