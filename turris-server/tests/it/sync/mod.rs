//! HubSpot ↔ Turris sync end to end, against the HubSpot sandbox.
