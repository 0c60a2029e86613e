-- The webhooks journal as an inbound mode: one global read position (the app's journal covers
-- every portal it is installed in), held by one process at a time under a fenced lease, and
-- what each organization's journal subscriptions were last made for.
CREATE TABLE hubspot_journal (
    id TEXT PRIMARY KEY,
    position TEXT,
    lease_token TEXT,
    leased_until INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE hubspot_journal_subscriptions (
    organization_id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
-- In mode `both`, a change read from the journal is skipped when its webhook was stored.
CREATE INDEX inbound_events_change ON inbound_events (organization_id, object_id, occurred_at);
