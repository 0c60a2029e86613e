-- When the Turris edit a write to HubSpot carried was made (NULL: rows from before, read as
-- the write's own time): a HubSpot edit of the same property is judged against it, so a user's
-- edit newer than our value is applied, not taken for our write's echo.
ALTER TABLE hubspot_writes ADD COLUMN edited_at BIGINT;
