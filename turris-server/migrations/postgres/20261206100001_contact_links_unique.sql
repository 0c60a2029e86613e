-- One HubSpot contact is linked to one Turris record, an agent or an agency contact, never both
-- (links_hubspot is unique per kind only). Where both exist already, the agent keeps the link
-- (an agent was chosen by the agent filter, the more specific rule); the agency contact stays
-- in Turris, unlinked.
DELETE FROM links
WHERE kind = 'agency_contact'
  AND EXISTS (
      SELECT 1 FROM links AS agent
      WHERE agent.organization_id = links.organization_id
        AND agent.kind = 'agent'
        AND agent.hubspot_id = links.hubspot_id
  );
CREATE UNIQUE INDEX links_contact ON links (organization_id, hubspot_id)
    WHERE kind IN ('agent', 'agency_contact');
