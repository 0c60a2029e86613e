-- A running job belongs to the process that leased it until the lease expires, so several
-- replicas never run one reconciliation at once; a lapsed lease (a crashed process) is taken
-- over by whichever process claims it next. A fresh lease id is drawn at every claim.

ALTER TABLE jobs ADD COLUMN lease_id UUID;
ALTER TABLE jobs ADD COLUMN lease_expires_at BIGINT;
CREATE INDEX jobs_org_created ON jobs (organization_id, created_at, id);
