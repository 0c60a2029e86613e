-- The CRM sync record: every write Turris makes to HubSpot, kept for the configured retention
-- (400 days by default) and listed by admins with filters, newest first by (at, id). The entry
-- is core's `CrmSyncEntry` as JSON; the filter columns repeat its fields.
CREATE TABLE crm_sync_records (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id TEXT COLLATE "C" NOT NULL,
    at BIGINT NOT NULL,
    object_type TEXT COLLATE "C" NOT NULL,
    object_id TEXT COLLATE "C",
    operation TEXT COLLATE "C" NOT NULL,
    turris_id TEXT COLLATE "C",
    outcome TEXT COLLATE "C" NOT NULL,
    entry TEXT NOT NULL
);
CREATE INDEX crm_sync_records_org_position ON crm_sync_records (organization_id, at, id);
CREATE INDEX crm_sync_records_org_object ON crm_sync_records (organization_id, object_id);
CREATE INDEX crm_sync_records_org_turris ON crm_sync_records (organization_id, turris_id);
CREATE INDEX crm_sync_records_at ON crm_sync_records (at);
