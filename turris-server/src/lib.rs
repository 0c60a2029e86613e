//! The Turris integrations reference server: the settings API, HubSpot sync and webhook
//! delivery on SQLite or PostgreSQL.
#![forbid(unsafe_code)]

pub mod crypto;
pub mod store;
