-- The activity list filters by outcome (`?status=failure`) in the database, so a page of
-- failures is one indexed query however much success surrounds them.

ALTER TABLE activity ADD COLUMN outcome TEXT;
UPDATE activity SET outcome = json_extract(entry, '$.outcome');
CREATE INDEX activity_org_outcome_position ON activity (organization_id, outcome, at, id);
