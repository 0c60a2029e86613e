//! Delivery: the retry policy, the store trait with an in-memory store, and (feature
//! `delivery`, on by default) the HTTP engine and the dispatcher that drives it.
//!
//! The ids, attempts, retry policy and store trait do no I/O, so a crate that only records or
//! shows deliveries can use them without reqwest or tokio.

#[cfg(feature = "delivery")]
mod dispatcher;
#[cfg(feature = "delivery")]
mod engine;
mod health;
mod memory;
#[cfg(feature = "delivery")]
mod renew;
mod retry;
mod store;

#[cfg(feature = "conformance")]
pub mod conformance;

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "delivery")]
pub use dispatcher::{
    Dispatcher, DispatcherConfig, Endpoint, EndpointDirectory, PendingResend, StaticEndpoints,
};
#[cfg(feature = "delivery")]
pub use engine::{DeliveryConfig, DeliveryEngine, DeliveryRequest, EngineError, parse_retry_after};
pub use health::{DisableReason, HealthVerdict, MAX_RETRY_AFTER, judge, requested_pause};
pub use memory::InMemoryDeliveryStore;
#[cfg(feature = "delivery")]
pub use renew::{DEFAULT_LEASE, renewing};
pub use retry::RetryPolicy;
pub use store::{
    DeliveryStore, EventCursor, EventRecord, EventStatus, Lease, LeaseKind, LeasedDelivery,
    NewEvent, NextStep, Page, PageRequest, StoreError,
};

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered (v7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// An event's id: `X-Turris-Event-Id`, stable across retries and resends.
    EventId
);
uuid_id!(
    /// A registered webhook (one URL, one type, one secret).
    WebhookId
);
uuid_id!(
    /// A lease on a delivery, handed out by [`DeliveryStore::lease_due`].
    LeaseId
);

/// Whether an attempt was scheduled automatically or asked for by a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptKind {
    /// Part of the automatic retry schedule.
    Automatic,
    /// A manual resend.
    Resend,
}

/// What one HTTP attempt did, before the store numbers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptReport {
    /// When the request started.
    pub started_at: DateTime<Utc>,
    /// When the response ended or the attempt gave up.
    pub finished_at: DateTime<Utc>,
    /// The endpoint's HTTP status, if it answered.
    pub status_code: Option<u16>,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// The URL the request was sent to.
    pub url: String,
    /// A 2xx within the timeout.
    pub success: bool,
    /// The start of the response body (bounded), for the log.
    pub response_body: Option<String>,
    /// The endpoint's `Retry-After`, as a delay from `finished_at`.
    pub retry_after: Option<std::time::Duration>,
}

/// One recorded attempt: a row of an event's delivery history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// 1, 2, 3, ...: automatic retries and resends share the counter.
    pub number: u32,
    /// Automatic or resend.
    pub kind: AttemptKind,
    /// When the request started.
    pub started_at: DateTime<Utc>,
    /// When the response ended or the attempt gave up.
    pub finished_at: DateTime<Utc>,
    /// The endpoint's HTTP status, if it answered.
    pub status_code: Option<u16>,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// The URL the request was sent to.
    pub url: String,
    /// A 2xx within the timeout.
    pub success: bool,
    /// The start of the response body (bounded).
    pub response_body: Option<String>,
}

impl Attempt {
    /// Numbers a report.
    pub fn from_report(number: u32, kind: AttemptKind, report: &AttemptReport) -> Self {
        Self {
            number,
            kind,
            started_at: report.started_at,
            finished_at: report.finished_at,
            status_code: report.status_code,
            error: report.error.clone(),
            url: report.url.clone(),
            success: report.success,
            response_body: report.response_body.clone(),
        }
    }
}
