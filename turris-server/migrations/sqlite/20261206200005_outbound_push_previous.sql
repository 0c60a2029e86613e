-- A record's stored data before the API edit that queued its push (NULL for a new record):
-- the push then writes only the fields that edit changed, so a retried push never overwrites
-- a newer HubSpot edit of a field Turris did not change.
ALTER TABLE outbound_pushes ADD COLUMN previous TEXT;
