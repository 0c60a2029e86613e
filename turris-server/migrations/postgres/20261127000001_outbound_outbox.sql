-- Outbound sync's outbox: a row per agency or agent created or changed through the records
-- API, written in the same transaction as the record, deleted once the push and its link,
-- activity and echo-ledger rows are stored. Each organization is drained by one process at a
-- time, under a lease in outbound_leases.

CREATE TABLE outbound_pushes (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id TEXT COLLATE "C" NOT NULL,
    -- 'agency' or 'agent'.
    record_type TEXT COLLATE "C" NOT NULL,
    record_id TEXT COLLATE "C" NOT NULL,
    queued_at BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX outbound_pushes_due ON outbound_pushes (next_attempt_at, id);
CREATE INDEX outbound_pushes_org ON outbound_pushes (organization_id, next_attempt_at, id);

CREATE TABLE outbound_leases (
    organization_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    lease_id TEXT COLLATE "C" NOT NULL,
    expires_at BIGINT NOT NULL
);

-- The agency an agent works for (the company its contact is associated with in HubSpot).
ALTER TABLE agents ADD COLUMN agency_id TEXT COLLATE "C";
CREATE INDEX agents_agency ON agents (organization_id, agency_id);
