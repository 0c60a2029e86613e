-- Activity notes waiting to be written to HubSpot: one row per event, queued in the event's
-- own transaction, leased (fenced by its token) while a worker writes it, deleted once HubSpot
-- has it. The id is the note's turris_note_id in HubSpot (the key of the upsert).
CREATE TABLE crm_notes (
    organization_id TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    record_type TEXT NOT NULL,
    record_id TEXT NOT NULL,
    details TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_token TEXT,
    leased_until BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX crm_notes_due ON crm_notes (next_attempt_at);
