-- The whole schema. PostgreSQL's copy (migrations/postgres) differs only in column types and
-- identity columns; constraint and index names match (the store maps them to conflicts).
-- Instants are BIGINT nanoseconds since the Unix epoch. Text keys compare bytewise
-- (BINARY collation), like Rust strings and SQLite.

-- Tenants -------------------------------------------------------------------------------

CREATE TABLE organizations (
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    subscription_active BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT organizations_pkey PRIMARY KEY (id)
);

CREATE TABLE roles (
    id BLOB NOT NULL PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    grants TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX roles_org_name ON roles (organization_id, name);

CREATE TABLE users (
    id BLOB NOT NULL PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_org_email ON users (organization_id, email);

CREATE TABLE api_tokens (
    id BLOB NOT NULL PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id BLOB NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    token_hash BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE UNIQUE INDEX api_tokens_hash ON api_tokens (token_hash);
CREATE INDEX api_tokens_org ON api_tokens (organization_id, created_at);

CREATE TABLE oauth_states (
    state_hash BLOB NOT NULL PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT
);

-- HubSpot integration ------------------------------------------------------------------------

CREATE TABLE hubspot_credentials (
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    portal_id BIGINT NOT NULL,
    app_id BIGINT,
    auth_kind TEXT NOT NULL,
    -- AES-256-GCM of the JSON token set, associated data "hubspot-auth:<organization>".
    auth_sealed BLOB NOT NULL,
    expires_at BIGINT,
    connected_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT hubspot_credentials_pkey PRIMARY KEY (organization_id)
);
CREATE UNIQUE INDEX hubspot_credentials_portal ON hubspot_credentials (portal_id);

-- Core's settings document, links, activity and records have no foreign key to
-- organizations: turris-core's conformance suite invents organization ids.
CREATE TABLE integration_settings (
    organization_id TEXT NOT NULL PRIMARY KEY,
    document TEXT NOT NULL
);

CREATE TABLE links (
    organization_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    turris_id TEXT NOT NULL,
    hubspot_id TEXT NOT NULL,
    CONSTRAINT links_pkey PRIMARY KEY (organization_id, kind, turris_id)
);
CREATE UNIQUE INDEX links_hubspot ON links (organization_id, kind, hubspot_id);

CREATE TABLE activity (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    organization_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    entry TEXT NOT NULL
);
CREATE INDEX activity_org_position ON activity (organization_id, at, id);
CREATE INDEX activity_at ON activity (at);

-- Turris records -------------------------------------------------------------------------------

CREATE TABLE agencies (
    organization_id TEXT NOT NULL,
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    npn TEXT,
    producer_code TEXT,
    CONSTRAINT agencies_pkey PRIMARY KEY (organization_id, id)
);
CREATE INDEX agencies_npn ON agencies (organization_id, npn);
CREATE INDEX agencies_producer_code ON agencies (organization_id, producer_code);

CREATE TABLE agents (
    organization_id TEXT NOT NULL,
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    npn TEXT,
    -- Trimmed, lower-cased (Rust's Unicode to_lowercase), for name-and-email matching.
    first_name_key TEXT NOT NULL,
    last_name_key TEXT NOT NULL,
    email_key TEXT,
    CONSTRAINT agents_pkey PRIMARY KEY (organization_id, id)
);
CREATE INDEX agents_npn ON agents (organization_id, npn);
CREATE INDEX agents_name_email ON agents (organization_id, email_key, first_name_key, last_name_key);

CREATE TABLE agency_contacts (
    organization_id TEXT NOT NULL,
    id TEXT NOT NULL,
    agency_id TEXT NOT NULL,
    data TEXT NOT NULL,
    email_key TEXT,
    CONSTRAINT agency_contacts_pkey PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, agency_id) REFERENCES agencies (organization_id, id)
);
CREATE INDEX agency_contacts_agency ON agency_contacts (organization_id, agency_id, id);

CREATE TABLE contract_templates (
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT contract_templates_pkey PRIMARY KEY (organization_id, id)
);

CREATE TABLE invitations (
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id BLOB NOT NULL,
    agency_id TEXT NOT NULL,
    contract_template_id TEXT,
    status TEXT NOT NULL,
    sent_to TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT invitations_pkey PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, agency_id) REFERENCES agencies (organization_id, id),
    FOREIGN KEY (organization_id, contract_template_id)
        REFERENCES contract_templates (organization_id, id)
);
CREATE INDEX invitations_agency ON invitations (organization_id, agency_id, created_at);

CREATE TABLE compliance_statuses (
    organization_id TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    product TEXT NOT NULL,
    state TEXT NOT NULL,
    status TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT compliance_statuses_pkey
        PRIMARY KEY (organization_id, entity_type, entity_id, product, state)
);

CREATE TABLE nipr_syncs (
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id BLOB NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    outcome TEXT NOT NULL,
    error TEXT,
    finished_at BIGINT NOT NULL,
    CONSTRAINT nipr_syncs_pkey PRIMARY KEY (organization_id, id)
);
CREATE INDEX nipr_syncs_entity ON nipr_syncs (organization_id, entity_type, entity_id, finished_at);

CREATE TABLE producer_agreements (
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id BLOB NOT NULL,
    agency_id TEXT NOT NULL,
    contract_template_id TEXT NOT NULL,
    executed_at BIGINT NOT NULL,
    signers TEXT NOT NULL,
    CONSTRAINT producer_agreements_pkey PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, agency_id) REFERENCES agencies (organization_id, id),
    FOREIGN KEY (organization_id, contract_template_id)
        REFERENCES contract_templates (organization_id, id)
);
CREATE INDEX producer_agreements_agency ON producer_agreements (organization_id, agency_id, executed_at);

-- Outbound webhooks ----------------------------------------------------------------------------

CREATE TABLE webhook_endpoints (
    id BLOB NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    webhook_type TEXT NOT NULL,
    url TEXT NOT NULL,
    -- AES-256-GCM of the 32 key bytes, associated data "webhook-secret:<webhook id>".
    secret_sealed BLOB NOT NULL,
    secret_last4 TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (id)
);
CREATE INDEX webhook_endpoints_org_type ON webhook_endpoints (organization_id, webhook_type);

-- Events reference their webhook by id only: turris-webhooks' conformance suite enqueues for
-- webhooks that were never registered. Deleting an endpoint deletes its events explicitly.
CREATE TABLE delivery_events (
    event_id BLOB NOT NULL PRIMARY KEY,
    webhook_id BLOB NOT NULL,
    webhook_type TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    attempt_count INTEGER NOT NULL DEFAULT 0,
    automatic_attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    lease_id BLOB,
    lease_kind TEXT,
    lease_expires_at BIGINT
);
CREATE INDEX delivery_events_due ON delivery_events (next_attempt_at, event_id)
    WHERE status = 'pending';
CREATE INDEX delivery_events_webhook ON delivery_events (webhook_id, created_at, event_id);
CREATE INDEX delivery_events_done ON delivery_events (created_at) WHERE status <> 'pending';

CREATE TABLE delivery_attempts (
    event_id BLOB NOT NULL REFERENCES delivery_events (event_id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    kind TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    status_code INTEGER,
    error TEXT,
    url TEXT NOT NULL,
    success BOOLEAN NOT NULL,
    response_body TEXT,
    CONSTRAINT delivery_attempts_pkey PRIMARY KEY (event_id, number)
);

-- Debounce: the inbox of compliance status changes (written with the status change) and each
-- debouncer's persisted state.
CREATE TABLE compliance_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    organization_id TEXT NOT NULL,
    webhook_type TEXT NOT NULL,
    change TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    consumed_at BIGINT
);
CREATE INDEX compliance_changes_pending ON compliance_changes (organization_id, webhook_type, id)
    WHERE consumed_at IS NULL;

CREATE TABLE debounce_states (
    organization_id TEXT NOT NULL,
    webhook_type TEXT NOT NULL,
    state TEXT NOT NULL,
    next_due_at BIGINT,
    CONSTRAINT debounce_states_pkey PRIMARY KEY (organization_id, webhook_type)
);

-- Inbound HubSpot events -----------------------------------------------------------------------

CREATE TABLE inbound_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    organization_id TEXT NOT NULL,
    hubspot_event_id BIGINT NOT NULL,
    object_id BIGINT NOT NULL,
    occurred_at BIGINT NOT NULL,
    subscription_type TEXT NOT NULL,
    property_name TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT,
    last_error TEXT,
    processed_at BIGINT
);
CREATE UNIQUE INDEX inbound_events_dedupe ON inbound_events
    (organization_id, hubspot_event_id, object_id, occurred_at, subscription_type, property_name);
CREATE INDEX inbound_events_due ON inbound_events (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX inbound_events_done ON inbound_events (received_at) WHERE status <> 'pending';
