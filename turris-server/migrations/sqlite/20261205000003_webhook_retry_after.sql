-- An endpoint that answered 429 or 503 with Retry-After is left alone until paused_until (at
-- most an hour ahead): none of its events is leased before then, whichever event was answered.
ALTER TABLE webhook_endpoints ADD COLUMN paused_until BIGINT;
