-- Browser console sessions. A session acts as the API token it was opened with (pasted, or
-- behind a one-time sign-in link), so revoking the token ends its sessions. Only SHA-256
-- hashes of session ids, sign-in codes and OAuth states are stored. A session ends when it is
-- idle too long (last_seen_at), at expires_at, or on sign-out.

CREATE TABLE console_sessions (
    id_hash BYTEA NOT NULL PRIMARY KEY,
    token_hash BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    -- The HubSpot OAuth state this session started: the callback must come back to it.
    oauth_state_hash BYTEA,
    -- A one-time notice for the next page ("kind<TAB>text").
    flash TEXT
);
CREATE INDEX console_sessions_oauth_state ON console_sessions (oauth_state_hash);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

CREATE TABLE console_login_links (
    code_hash BYTEA NOT NULL PRIMARY KEY,
    token_hash BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
