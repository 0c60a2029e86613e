//! HubSpot for Turris: auth, the CRM v3 client, webhooks and the sandbox.
//!
//! The wire types (`crm::*`, `webhooks::*`, `error::ErrorBody`) mirror HubSpot's JSON so the
//! sandbox (feature `sandbox`) can serve exactly what the client reads.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
pub mod client;
pub mod crm;
pub mod error;
pub mod rate_limit;
pub mod webhooks;

pub use client::{
    ApiCall, HubSpotClient, HubSpotClientBuilder, NoopObserver, Observer, RetryConfig,
};
pub use error::{Error, HubSpotError, Result};
pub use rate_limit::{RateLimitConfig, RateLimiter};

#[cfg(feature = "sandbox")]
pub mod sandbox;
