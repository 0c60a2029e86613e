-- An API token may expire: it stops authenticating at this instant (nanoseconds since the
-- epoch, as every timestamp here); NULL never expires.
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
