-- Every delivery event names its organization, so the server's reads of the delivery history
-- are scoped by the caller's organization like every other query. Events are backfilled from
-- their webhook; events of webhooks that were never registered (turris-webhooks' conformance
-- suite) have none.
ALTER TABLE delivery_events ADD COLUMN organization_id TEXT;
UPDATE delivery_events
SET organization_id = (
    SELECT w.organization_id FROM webhook_endpoints w WHERE w.id = delivery_events.webhook_id
)
WHERE organization_id IS NULL;
CREATE INDEX delivery_events_org_webhook
    ON delivery_events (organization_id, webhook_id, created_at, event_id);
