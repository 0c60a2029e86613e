-- Why a push is queued: 'record' (the record was saved: push its mapped properties) or 'tags'
-- (its state changed: push only its tags, and only while the organization has tags on). Tag
-- pushes are queued in the same transaction as the change, for linked records only.
ALTER TABLE outbound_pushes ADD COLUMN reason TEXT NOT NULL DEFAULT 'record';
