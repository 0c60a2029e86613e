-- Per-endpoint limits: at most max_in_flight deliveries at once and rate_limit per second
-- (NULL: the server's defaults, TURRIS_WEBHOOK_MAX_IN_FLIGHT and TURRIS_WEBHOOK_RATE_LIMIT).
ALTER TABLE webhook_endpoints ADD COLUMN max_in_flight INTEGER;
ALTER TABLE webhook_endpoints ADD COLUMN rate_limit INTEGER;

-- Leasing goes endpoint by endpoint (round-robin): an endpoint's due events, and its live
-- leases (the deliveries in flight), are each one short index range. A disabled or paused
-- endpoint's backlog is never read.
CREATE INDEX delivery_events_webhook_due ON delivery_events (webhook_id, next_attempt_at, event_id)
    WHERE status = 'pending';
CREATE INDEX delivery_events_webhook_leased ON delivery_events (webhook_id, lease_expires_at)
    WHERE lease_id IS NOT NULL;
