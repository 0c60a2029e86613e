-- The whole schema. SQLite's copy (migrations/sqlite) differs only in column types and
-- identity columns; constraint and index names match (the store maps them to conflicts).
-- Instants are BIGINT nanoseconds since the Unix epoch. Text keys compare bytewise
-- (COLLATE "C"), like Rust strings and SQLite.

-- Tenants -------------------------------------------------------------------------------

CREATE TABLE organizations (
    id TEXT COLLATE "C" NOT NULL,
    name TEXT NOT NULL,
    subscription_active BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT organizations_pkey PRIMARY KEY (id)
);

CREATE TABLE roles (
    id UUID NOT NULL PRIMARY KEY,
    organization_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT COLLATE "C" NOT NULL,
    grants TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX roles_org_name ON roles (organization_id, name);

CREATE TABLE users (
    id UUID NOT NULL PRIMARY KEY,
    organization_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email TEXT COLLATE "C" NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_org_email ON users (organization_id, email);

CREATE TABLE api_tokens (
    id UUID NOT NULL PRIMARY KEY,
    organization_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id UUID NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    token_hash BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE UNIQUE INDEX api_tokens_hash ON api_tokens (token_hash);
CREATE INDEX api_tokens_org ON api_tokens (organization_id, created_at);

CREATE TABLE oauth_states (
    state_hash BYTEA NOT NULL PRIMARY KEY,
    organization_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id UUID NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT
);

-- HubSpot integration ------------------------------------------------------------------------

CREATE TABLE hubspot_credentials (
    organization_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    portal_id BIGINT NOT NULL,
    app_id BIGINT,
    auth_kind TEXT NOT NULL,
    -- AES-256-GCM of the JSON token set, associated data "hubspot-auth:<organization>".
    auth_sealed BYTEA NOT NULL,
    expires_at BIGINT,
    connected_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT hubspot_credentials_pkey PRIMARY KEY (organization_id)
);
CREATE UNIQUE INDEX hubspot_credentials_portal ON hubspot_credentials (portal_id);

-- Core's settings document, links, activity and records have no foreign key to
-- organizations: turris-core's conformance suite invents organization ids.
CREATE TABLE integration_settings (
    organization_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    document TEXT NOT NULL
);

CREATE TABLE links (
    organization_id TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    turris_id TEXT COLLATE "C" NOT NULL,
    hubspot_id TEXT COLLATE "C" NOT NULL,
    CONSTRAINT links_pkey PRIMARY KEY (organization_id, kind, turris_id)
);
CREATE UNIQUE INDEX links_hubspot ON links (organization_id, kind, hubspot_id);

CREATE TABLE activity (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id TEXT COLLATE "C" NOT NULL,
    at BIGINT NOT NULL,
    entry TEXT NOT NULL
);
CREATE INDEX activity_org_position ON activity (organization_id, at, id);
CREATE INDEX activity_at ON activity (at);

-- Turris records -------------------------------------------------------------------------------

CREATE TABLE agencies (
    organization_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    data TEXT NOT NULL,
    npn TEXT COLLATE "C",
    producer_code TEXT COLLATE "C",
    CONSTRAINT agencies_pkey PRIMARY KEY (organization_id, id)
);
CREATE INDEX agencies_npn ON agencies (organization_id, npn);
CREATE INDEX agencies_producer_code ON agencies (organization_id, producer_code);

CREATE TABLE agents (
    organization_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    data TEXT NOT NULL,
    npn TEXT COLLATE "C",
    -- Trimmed, lower-cased (Rust's Unicode to_lowercase), for name-and-email matching.
    first_name_key TEXT COLLATE "C" NOT NULL,
    last_name_key TEXT COLLATE "C" NOT NULL,
    email_key TEXT COLLATE "C",
    CONSTRAINT agents_pkey PRIMARY KEY (organization_id, id)
);
CREATE INDEX agents_npn ON agents (organization_id, npn);
CREATE INDEX agents_name_email ON agents (organization_id, email_key, first_name_key, last_name_key);

CREATE TABLE agency_contacts (
    organization_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    agency_id TEXT COLLATE "C" NOT NULL,
    data TEXT NOT NULL,
    email_key TEXT COLLATE "C",
    CONSTRAINT agency_contacts_pkey PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, agency_id) REFERENCES agencies (organization_id, id)
);
CREATE INDEX agency_contacts_agency ON agency_contacts (organization_id, agency_id, id);

CREATE TABLE contract_templates (
    organization_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id TEXT COLLATE "C" NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT contract_templates_pkey PRIMARY KEY (organization_id, id)
);

CREATE TABLE invitations (
    organization_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id UUID NOT NULL,
    agency_id TEXT COLLATE "C" NOT NULL,
    contract_template_id TEXT COLLATE "C",
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
    organization_id TEXT COLLATE "C" NOT NULL,
    entity_type TEXT COLLATE "C" NOT NULL,
    entity_id TEXT COLLATE "C" NOT NULL,
    product TEXT COLLATE "C" NOT NULL,
    state TEXT COLLATE "C" NOT NULL,
    status TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT compliance_statuses_pkey
        PRIMARY KEY (organization_id, entity_type, entity_id, product, state)
);

CREATE TABLE nipr_syncs (
    organization_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id UUID NOT NULL,
    entity_type TEXT COLLATE "C" NOT NULL,
    entity_id TEXT COLLATE "C" NOT NULL,
    kind TEXT NOT NULL,
    outcome TEXT NOT NULL,
    error TEXT,
    finished_at BIGINT NOT NULL,
    CONSTRAINT nipr_syncs_pkey PRIMARY KEY (organization_id, id)
);
CREATE INDEX nipr_syncs_entity ON nipr_syncs (organization_id, entity_type, entity_id, finished_at);

CREATE TABLE producer_agreements (
    organization_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id UUID NOT NULL,
    agency_id TEXT COLLATE "C" NOT NULL,
    contract_template_id TEXT COLLATE "C" NOT NULL,
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
    id UUID NOT NULL,
    organization_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    webhook_type TEXT COLLATE "C" NOT NULL,
    url TEXT NOT NULL,
    -- AES-256-GCM of the 32 key bytes, associated data "webhook-secret:<webhook id>".
    secret_sealed BYTEA NOT NULL,
    secret_last4 TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (id)
);
CREATE INDEX webhook_endpoints_org_type ON webhook_endpoints (organization_id, webhook_type);

-- Events reference their webhook by id only: turris-webhooks' conformance suite enqueues for
-- webhooks that were never registered. Deleting an endpoint deletes its events explicitly.
CREATE TABLE delivery_events (
    event_id UUID NOT NULL PRIMARY KEY,
    webhook_id UUID NOT NULL,
    webhook_type TEXT NOT NULL,
    body BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    attempt_count INTEGER NOT NULL DEFAULT 0,
    automatic_attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    lease_id UUID,
    lease_kind TEXT,
    lease_expires_at BIGINT
);
CREATE INDEX delivery_events_due ON delivery_events (next_attempt_at, event_id)
    WHERE status = 'pending';
CREATE INDEX delivery_events_webhook ON delivery_events (webhook_id, created_at, event_id);
CREATE INDEX delivery_events_done ON delivery_events (created_at) WHERE status <> 'pending';

CREATE TABLE delivery_attempts (
    event_id UUID NOT NULL REFERENCES delivery_events (event_id) ON DELETE CASCADE,
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
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id TEXT COLLATE "C" NOT NULL,
    webhook_type TEXT COLLATE "C" NOT NULL,
    change TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    consumed_at BIGINT
);
CREATE INDEX compliance_changes_pending ON compliance_changes (organization_id, webhook_type, id)
    WHERE consumed_at IS NULL;

CREATE TABLE debounce_states (
    organization_id TEXT COLLATE "C" NOT NULL,
    webhook_type TEXT COLLATE "C" NOT NULL,
    state TEXT NOT NULL,
    next_due_at BIGINT,
    CONSTRAINT debounce_states_pkey PRIMARY KEY (organization_id, webhook_type)
);

-- Inbound HubSpot events -----------------------------------------------------------------------

CREATE TABLE inbound_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id TEXT COLLATE "C" NOT NULL,
    hubspot_event_id BIGINT NOT NULL,
    object_id BIGINT NOT NULL,
    occurred_at BIGINT NOT NULL,
    subscription_type TEXT COLLATE "C" NOT NULL,
    property_name TEXT COLLATE "C" NOT NULL,
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
