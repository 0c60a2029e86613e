-- Static HubSpot lists mirroring tags: the list of each mirrored tag and object, found by its
-- fixed name or made on first use, and forgotten when HubSpot says it is gone.
CREATE TABLE crm_tag_lists (
    organization_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    object_type TEXT NOT NULL,
    list_id TEXT NOT NULL,
    PRIMARY KEY (organization_id, tag, object_type)
);

-- Each tagged HubSpot record: the tags Turris last wrote to it (every successful write of
-- turris_tags bumps version) and the tags whose lists hold it as far as Turris made them
-- (listed, up to date at done_version). A row whose version is ahead is due for the lists
-- worker, which leases it with a fencing token.
CREATE TABLE crm_list_members (
    organization_id TEXT NOT NULL,
    object_type TEXT NOT NULL,
    hubspot_id TEXT NOT NULL,
    tags TEXT NOT NULL,
    listed TEXT NOT NULL DEFAULT '',
    version BIGINT NOT NULL,
    done_version BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_token TEXT,
    leased_until BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (organization_id, object_type, hubspot_id)
);
CREATE INDEX crm_list_members_due ON crm_list_members (next_attempt_at);
