//! Webhooks: the subscriptions and settings API of the app (`subscriptions`), the events every
//! change produces (`events`), and the background sender that batches (≤ 100), signs (v1 and
//! v3) and retries them (`delivery`).

mod delivery;
mod events;
mod subscriptions;

pub(crate) use delivery::Dispatcher;
pub use delivery::{DeliveryAttempt, WebhookChaos, WebhookRetry};
pub(crate) use events::{Change, ChangeSource};
pub(crate) use subscriptions::{WebhookApp, router};
