-- The webhooks journal as an inbound mode: one global read position (the app's journal covers
-- every portal it is installed in), held by one process at a time under a fenced lease, and
-- what each organization's journal subscriptions were last made for.
CREATE TABLE hubspot_journal (
    id TEXT COLLATE "C" PRIMARY KEY,
    position TEXT,
    lease_token TEXT,
    leased_until BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE hubspot_journal_subscriptions (
    organization_id TEXT COLLATE "C" PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- In mode `both`, a change read from the journal is skipped when its webhook was stored.
CREATE INDEX inbound_events_change ON inbound_events (organization_id, object_id, occurred_at);
