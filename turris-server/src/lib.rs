//! The Turris integrations reference server: the settings API, HubSpot sync and webhook
//! delivery on SQLite or PostgreSQL.
//!
//! - [`config`]: the command line and `TURRIS_*` settings;
//! - [`app`]: [`app::AppState`], [`app::router`] and [`app::Application`] (`build`, `run`);
//! - [`http`]: one module per API area, merged in [`http::api`], plus the OpenAPI document;
//! - [`auth`]: bearer tokens, the permission matrix, the premium gate, the admin token;
//! - [`error`]: [`error::ApiError`], the one error shape;
//! - [`hubspot`]: HubSpot clients built from an organization's stored credentials;
//! - [`cli`]: `migrate`, `token create` and `demo`; [`demo`]: the one-command demo with the
//!   HubSpot sandbox and a verifying webhook receiver;
//! - [`store`] and [`crypto`]: storage on sqlx and encryption at rest;
//! - [`workers`]: the background workers of [`delivery`] and [`sync`], and their shutdown.
#![forbid(unsafe_code)]

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod console;
pub mod crypto;
pub mod delivery;
#[cfg(feature = "demo")]
pub mod demo;
pub mod error;
pub mod files;
pub mod http;
pub mod hubspot;
pub mod store;
pub mod sync;
pub mod workers;
