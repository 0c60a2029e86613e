//! End-to-end tests across the Turris crates, without the server: a small service reads
//! companies from the HubSpot sandbox with the HubSpot client, decides with turris-core which
//! are agencies and what they map to, and sends each a signed webhook with turris-webhooks to
//! an in-process receiver that verifies it.

mod agencies;
mod receiver;
mod service;
mod verify_only;
