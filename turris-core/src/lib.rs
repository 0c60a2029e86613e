//! The Turris integrations domain, with no I/O.
//!
//! Everything here is a pure function of its inputs (time included: callers pass
//! `DateTime<Utc>`), so the server, the examples and the tests share one set of rules:
//!
//! - [`property`]: HubSpot-style property maps and per-object property schemas;
//! - [`ids`]: identifier newtypes; [`error`]: [`Error`] and [`FieldError`];
//! - [`filter`]: the identifier filter and the conditions contract rules reuse;
//! - [`mapping`]: agency and agent field mapping, HubSpot ↔ Turris;
//! - [`record`]: agencies, agents, agency contacts, [`Npn`], [`StateCode`];
//! - [`matching`]: which existing Turris record a HubSpot record is;
//! - [`reconcile`]: bulk reconciliation, pairing many HubSpot records in one pass;
//! - [`matrix`]: the ongoing-sync matrix and its prerequisites;
//! - [`invitation`]: auto-invite modes, contract rules and the invite decision;
//! - [`planner`]: what to do with an inbound HubSpot change, and what to push outbound;
//! - [`integration`]: an organization's stored integration settings;
//! - [`activity`]: the activity log model and its 30-day retention;
//! - [`audit`]: the CRM sync record, the durable trail of every write to HubSpot;
//! - [`notes`]: which events become HubSpot notes, and what each says;
//! - [`permissions`]: areas, capabilities, roles and the premium gate;
//! - [`tags`]: the predefined tag catalog that follows record state into HubSpot;
//! - [`store`]: storage traits, an in-memory store and (feature `conformance`) the suite every
//!   backend must pass.
//!
//! ```
//! use turris_core::{Condition, IdentifierFilter, PropertyMap};
//!
//! let filter = IdentifierFilter::ApplyFilter(Condition::equals("type", "Agency"));
//! let company = PropertyMap::from_pairs([("type", Some("Agency")), ("name", Some("Acme"))]);
//! assert!(filter.evaluate(&company));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod activity;
pub mod audit;
pub mod error;
pub mod filter;
pub mod ids;
pub mod integration;
pub mod invitation;
pub mod mapping;
pub mod matching;
pub mod matrix;
pub mod notes;
#[cfg(feature = "openapi")]
mod openapi;
pub mod permissions;
pub mod planner;
pub mod property;
pub mod reconcile;
pub mod record;
pub mod store;
pub mod tags;

pub use error::{Error, FieldError, Result};
pub use filter::{Condition, IdentifierFilter, Operator};
pub use property::{ObjectSchema, PropertyMap};
pub use record::{Npn, StateCode};
