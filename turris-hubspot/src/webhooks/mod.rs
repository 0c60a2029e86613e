//! Inbound webhooks from HubSpot: signature checks, event parsing, and app subscriptions.

pub mod events;
pub mod signature;
pub mod subscriptions;

pub use events::{EventAction, EventObject, SubscriptionType, WebhookEvent, parse_events};
