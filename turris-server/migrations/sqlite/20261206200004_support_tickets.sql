-- Support tickets (seed 002's ticket notes): a minimal record about an agent or an agency, its
-- number unique in the organization; creating one and each status change log a note in HubSpot.
CREATE TABLE support_tickets (
    organization_id TEXT NOT NULL,
    id TEXT NOT NULL,
    number TEXT NOT NULL,
    subject TEXT NOT NULL,
    status TEXT NOT NULL,
    link TEXT NOT NULL,
    about_type TEXT NOT NULL,
    about_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (organization_id, id)
);
CREATE UNIQUE INDEX support_tickets_number ON support_tickets (organization_id, number);
