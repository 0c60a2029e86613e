-- Our recent writes to HubSpot, shared by every replica so an echo is recognised whichever
-- process receives it; and long-running jobs (bulk reconciliation) that resume after a restart.

CREATE TABLE hubspot_writes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    organization_id TEXT NOT NULL,
    object_id TEXT NOT NULL,
    property TEXT NOT NULL,
    value TEXT,
    at BIGINT NOT NULL
);
CREATE INDEX hubspot_writes_object ON hubspot_writes (organization_id, object_id, at);
CREATE INDEX hubspot_writes_at ON hubspot_writes (at);

CREATE TABLE jobs (
    id BLOB NOT NULL PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX jobs_one_running ON jobs (organization_id, kind) WHERE status = 'running';
CREATE INDEX jobs_org_kind ON jobs (organization_id, kind, created_at);
