-- Round-robin outbound sync: each organization's lease row remembers when the organization was
-- last served, and a step takes the organization served least recently among those with due
-- pushes and a free lease. A finished lease is released in place (lease_id '', expires_at 0)
-- rather than deleted, so the row keeps served_at. Existing rows count as never served (0).
ALTER TABLE outbound_leases ADD COLUMN served_at BIGINT NOT NULL DEFAULT 0;
