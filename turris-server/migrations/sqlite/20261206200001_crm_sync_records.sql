-- The CRM sync record: every write Turris makes to HubSpot, kept for the configured retention
-- (400 days by default) and listed by admins with filters, newest first by (at, id). The entry
-- is core's `CrmSyncEntry` as JSON; the filter columns repeat its fields.
CREATE TABLE crm_sync_records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    organization_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT,
    operation TEXT NOT NULL,
    turris_id TEXT,
    outcome TEXT NOT NULL,
    entry TEXT NOT NULL
);
CREATE INDEX crm_sync_records_org_position ON crm_sync_records (organization_id, at, id);
CREATE INDEX crm_sync_records_org_object ON crm_sync_records (organization_id, object_id);
CREATE INDEX crm_sync_records_org_turris ON crm_sync_records (organization_id, turris_id);
CREATE INDEX crm_sync_records_at ON crm_sync_records (at);
