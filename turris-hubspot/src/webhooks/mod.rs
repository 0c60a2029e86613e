//! Inbound webhooks from HubSpot: signature checks, event parsing, app subscriptions, and the
//! webhooks journal (polling instead of receiving).

pub mod events;
pub mod journal;
pub mod signature;
pub mod subscriptions;

pub use events::{EventAction, EventObject, SubscriptionType, WebhookEvent, parse_events};
