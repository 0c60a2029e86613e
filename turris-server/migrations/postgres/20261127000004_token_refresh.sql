-- Token refresh across replicas: the process that refreshes an organization's OAuth tokens
-- holds a short lease on its credentials row (refresh_lease_id until refresh_lease_until), so
-- one process calls HubSpot's token endpoint and the others wait and read the tokens it stored.
-- HubSpot may invalidate a refresh token once used, so two refreshes with one token would turn
-- the loser's into a dead-token error.
--
-- HubSpot's DAILY rate limit: after a 429 with policy DAILY, no process calls that portal
-- until daily_limit_until (the next reset); every replica and the integration card read it.

ALTER TABLE hubspot_credentials ADD COLUMN refresh_lease_id UUID;
ALTER TABLE hubspot_credentials ADD COLUMN refresh_lease_until BIGINT;
ALTER TABLE hubspot_credentials ADD COLUMN daily_limit_until BIGINT;
