-- Fencing for inbound claims: every claim writes a fresh token beside its expiry, and every
-- write that settles a claimed event (processed, failed, postponed) or renews the claim checks
-- it, so a process whose claim lapsed and was taken over changes nothing.
ALTER TABLE inbound_events ADD COLUMN claim_token TEXT;
CREATE INDEX inbound_events_claim ON inbound_events (claim_token) WHERE claim_token IS NOT NULL;
