-- Recover: one job re-queues every failed event of a webhook created in [since, until), a page
-- at a time (at most TURRIS_WEBHOOK_RECOVER_RATE events a second), after the cursor
-- (created_at, event_id) of the last page. A job runs under a short fenced lease (lease_id,
-- lease_expires_at) renewed by each page, so after a restart another process goes on where the
-- last committed page ended.
CREATE TABLE webhook_recover_jobs (
    id BLOB NOT NULL PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    webhook_id BLOB NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    since BIGINT NOT NULL,
    until BIGINT NOT NULL,
    state TEXT NOT NULL,
    total BIGINT NOT NULL,
    done BIGINT NOT NULL DEFAULT 0,
    cursor_created_at BIGINT,
    cursor_event_id BLOB,
    created_at BIGINT NOT NULL,
    finished_at BIGINT,
    lease_id BLOB,
    lease_expires_at BIGINT
);
CREATE INDEX webhook_recover_jobs_running ON webhook_recover_jobs (state, lease_expires_at);
CREATE INDEX webhook_recover_jobs_webhook ON webhook_recover_jobs (webhook_id, created_at);
-- The failed events of a webhook by creation time (a recover's pages).
CREATE INDEX delivery_events_webhook_failed ON delivery_events (webhook_id, created_at, event_id)
    WHERE status = 'failed';
