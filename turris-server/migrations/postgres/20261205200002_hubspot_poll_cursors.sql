-- Polling as an inbound mode (Service Keys get no webhooks and cannot read the journal): per
-- organization and object type, the last modification time searched up to, held by one process
-- at a time under a fenced lease.
CREATE TABLE hubspot_poll_cursors (
    organization_id TEXT COLLATE "C" NOT NULL,
    object_type TEXT COLLATE "C" NOT NULL,
    modified_after BIGINT,
    lease_token TEXT,
    leased_until BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (organization_id, object_type)
);
