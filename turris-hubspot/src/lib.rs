//! HubSpot for Turris: auth, the CRM v3 client, webhooks and the sandbox.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "sandbox")]
pub mod sandbox;
