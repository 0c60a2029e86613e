//! HubSpot for Turris: auth, the CRM v3 client and webhooks.
//!
//! - [`auth`]: OAuth for public apps ([`auth::OAuthClient`], v3 token endpoints through the
//!   `oauth2` crate), private-app tokens ([`auth::PrivateAppToken`]), and the
//!   [`auth::TokenManager`] that refreshes ahead of expiry, single-flight, and hands new tokens
//!   to a [`auth::TokenSink`].
//! - [`client`]: [`HubSpotClient`], the transport every call goes through: base URL, bearer
//!   token, per-portal rate limiting ([`rate_limit`]), retries by policy, one refresh on
//!   `401 EXPIRED_AUTHENTICATION`, and an [`Observer`] that hears every call.
//! - [`crm`]: typed calls and wire types: properties, objects, batch, search, associations v4,
//!   notes, lists, account details.
//! - [`webhooks`]: signature checks (v3, v2, v1), event parsing, app subscriptions.
//! - [`error`]: [`Error`] and [`HubSpotError`] (status, category, correlation id, ...).
//!
//! The wire types (`crm::*`, `webhooks::*`, `error::ErrorBody`) mirror HubSpot's JSON, field for
//! field. A stateful fake HubSpot to run the client against lives in its own crate,
//! `turris-hubspot-sandbox`, so production builds do not compile it.
//!
//! ```no_run
//! use std::sync::Arc;
//! use turris_hubspot::auth::{DiscardTokens, OAuthClient, OAuthConfig, Secret, TokenManager};
//! use turris_hubspot::crm::ObjectType;
//! use turris_hubspot::crm::search::{Filter, FilterGroup, SearchRequest};
//! use turris_hubspot::{HubSpotClient, RateLimiter};
//!
//! # async fn run() -> turris_hubspot::Result<()> {
//! let http = reqwest::Client::new(); // one per process
//! let limiter = RateLimiter::default(); // one per process, keyed by portal
//! let oauth = OAuthClient::new(OAuthConfig::new(
//!     "client-id",
//!     Secret::new("client-secret"),
//!     "https://example.com/cb",
//! ))?;
//! let tokens = oauth.exchange_code("code-from-the-callback").await?;
//! let portal = oauth.introspect(&tokens.access_token).await?.hub_id;
//! let manager = Arc::new(TokenManager::new(oauth, tokens, Arc::new(DiscardTokens)));
//! let client = HubSpotClient::builder(manager)
//!     .http_client(http)
//!     .rate_limiter(limiter)
//!     .portal(portal.unwrap_or_default())
//!     .build()?;
//! let request = SearchRequest {
//!     filter_groups: vec![FilterGroup { filters: vec![Filter::has_property("npn")] }],
//!     properties: vec!["name".into(), "npn".into()],
//!     ..SearchRequest::default()
//! };
//! let agencies = client.search_all(&ObjectType::Companies, &request).await?;
//! println!("{} companies with an NPN", agencies.len());
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
pub mod client;
pub mod crm;
pub mod error;
pub mod project;
pub mod rate_limit;
pub mod version;
pub mod webhooks;

pub use client::{
    ApiCall, HubSpotClient, HubSpotClientBuilder, NoopObserver, Observer, RetryConfig,
};
pub use error::{Error, HubSpotError, Result, ValidationFailure};
pub use rate_limit::{RateLimitConfig, RateLimiter};
pub use version::ApiVersion;
