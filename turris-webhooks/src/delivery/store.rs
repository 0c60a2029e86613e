//! The storage a delivery needs, as a trait the server implements on its database.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Attempt, AttemptReport, EventId, LeaseId, WebhookId};
use crate::envelope::WebhookType;

/// A store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No event with that id.
    #[error("event not found")]
    NotFound,
    /// The event was already delivered: a resend is refused (the API answers 409).
    #[error("event already delivered")]
    AlreadyDelivered,
    /// An attempt for the event is in progress (it is leased).
    #[error("event is being delivered")]
    Busy,
    /// The lease was replaced by another (it expired and the event was leased again).
    #[error("lease lost")]
    LeaseLost,
    /// An event with that id already exists.
    #[error("duplicate event id {0}")]
    Duplicate(EventId),
    /// The backend failed.
    #[error("store backend: {0}")]
    Backend(String),
}

/// An event to deliver to one webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Stable id (`X-Turris-Event-Id`).
    pub event_id: EventId,
    /// The webhook it goes to.
    pub webhook_id: WebhookId,
    /// Its type.
    pub webhook_type: WebhookType,
    /// The serialized envelope: signed and sent unchanged on every attempt.
    pub body: Bytes,
    /// When it was created; the first attempt is due then.
    pub created_at: DateTime<Utc>,
}

/// Where an event stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// Waiting for its next automatic attempt.
    Pending,
    /// An attempt succeeded.
    Delivered,
    /// Automatic attempts are exhausted (a resend may still succeed).
    Failed,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// Stable id.
    pub event_id: EventId,
    /// The webhook it goes to.
    pub webhook_id: WebhookId,
    /// Its type.
    pub webhook_type: WebhookType,
    /// The exact bytes to send.
    pub body: Bytes,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Pending, delivered or failed.
    pub status: EventStatus,
    /// Attempts made, resends included (the last attempt's number).
    pub attempt_count: u32,
    /// Automatic attempts made (what the retry policy counts).
    pub automatic_attempts: u32,
    /// When the next automatic attempt is due (pending events only).
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// Why a lease was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaseKind {
    /// A due automatic attempt.
    Scheduled,
    /// A manual resend.
    Resend,
}

/// The right to make one attempt for an event until `expires_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// Identifies this lease.
    pub id: LeaseId,
    /// Scheduled or resend.
    pub kind: LeaseKind,
    /// After this the event may be leased again.
    pub expires_at: DateTime<Utc>,
}

/// An event with a lease on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeasedDelivery {
    /// The event as it was when leased.
    pub event: EventRecord,
    /// The lease to present to [`DeliveryStore::record_attempt`].
    pub lease: Lease,
}

/// What happens to the event after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// It succeeded: delivered, never attempted again.
    Delivered,
    /// Try again automatically at this time (stays pending).
    RetryAt(DateTime<Utc>),
    /// Automatic attempts exhausted: failed.
    Exhausted,
    /// Keep status and schedule as they were (a failed resend).
    Unchanged,
}

/// Where a page of events starts: after this (created_at, event_id), newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventCursor {
    /// Creation time of the last event of the previous page.
    pub created_at: DateTime<Utc>,
    /// Its id (breaks ties).
    pub event_id: EventId,
}

impl EventCursor {
    /// The cursor that follows `event`.
    pub fn after(event: &EventRecord) -> Self {
        Self {
            created_at: event.created_at,
            event_id: event.event_id,
        }
    }
}

/// A page request: at most `limit` events, older than `before` when given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Page size (at least 1 is used).
    pub limit: usize,
    /// Continue after this event.
    pub before: Option<EventCursor>,
}

impl PageRequest {
    /// The first page.
    pub fn first(limit: usize) -> Self {
        Self {
            limit,
            before: None,
        }
    }
}

/// A page of results and the cursor of the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items, newest first.
    pub items: Vec<T>,
    /// Present when more items follow.
    pub next: Option<EventCursor>,
}

/// Durable state of deliveries. Implemented in memory here and on SQL by the server; every
/// implementation must pass [`crate::delivery::conformance`] (feature `conformance`).
///
/// Ordering of events is `(created_at, event_id)`; "newest first" is the reverse.
#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Stores events, each due at its `created_at`. All or nothing: a duplicate id stores none
    /// and answers [`StoreError::Duplicate`].
    async fn enqueue(&self, events: Vec<NewEvent>) -> Result<(), StoreError>;

    /// Leases up to `limit` pending events due at `now` (oldest due first) for `lease_for`.
    /// A leased event is not handed out again until its lease expires or an attempt is
    /// recorded with it.
    async fn lease_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease_for: Duration,
    ) -> Result<Vec<LeasedDelivery>, StoreError>;

    /// Leases one event for a manual resend, whatever its schedule. Refused with
    /// [`StoreError::AlreadyDelivered`] for a delivered event, [`StoreError::Busy`] while
    /// another lease is live, [`StoreError::NotFound`] for an unknown id.
    async fn lease_for_resend(
        &self,
        event_id: EventId,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> Result<LeasedDelivery, StoreError>;

    /// Extends `lease` to `until` while an attempt runs, so a lease can be short (a crashed
    /// worker's event is taken over soon) yet outlive a long attempt. Fenced by the lease id:
    /// only its holder renews, and [`StoreError::LeaseLost`] answers once the event was leased
    /// again or its attempt recorded ([`StoreError::NotFound`] for an unknown event). A lease
    /// that expired but was not replaced is still its holder's and renews.
    async fn renew_lease(
        &self,
        event_id: EventId,
        lease: &Lease,
        until: DateTime<Utc>,
    ) -> Result<Lease, StoreError>;

    /// Records an attempt made under `lease` with the next number, applies `next`, and ends
    /// the lease, atomically. Scheduled leases count toward `automatic_attempts`.
    /// [`StoreError::LeaseLost`] when the event has been leased again since.
    async fn record_attempt(
        &self,
        event_id: EventId,
        lease: &Lease,
        report: &AttemptReport,
        next: NextStep,
    ) -> Result<Attempt, StoreError>;

    /// One event.
    async fn event(&self, event_id: EventId) -> Result<Option<EventRecord>, StoreError>;

    /// Events of a webhook, newest first.
    async fn list_events(
        &self,
        webhook_id: WebhookId,
        page: PageRequest,
    ) -> Result<Page<EventRecord>, StoreError>;

    /// Attempts of an event, in order (empty for an unknown event).
    async fn list_attempts(&self, event_id: EventId) -> Result<Vec<Attempt>, StoreError>;
}
