-- One known value sealed under each key that has been current, so a start with a wrong key is
-- refused even before the database holds any secret (see store/sealed.rs).
CREATE TABLE encryption_key_checks (
    key_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    sealed BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
