//! The behaviour every [`DeliveryStore`] must have (feature `conformance`).
//!
//! Each check is a public async function that takes a fresh, empty store and panics with a
//! message when the store misbehaves. [`run_all`] runs them all, each on a new store:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use turris_webhooks::delivery::{conformance, InMemoryDeliveryStore};
//!
//! conformance::run_all(|| async { InMemoryDeliveryStore::new() }).await;
//! # }
//! ```

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};

use super::store::{
    DeliveryStore, EventCursor, EventRecord, EventStatus, Lease, LeaseKind, NewEvent, NextStep,
    PageRequest, StoreError,
};
use super::{Attempt, AttemptKind, AttemptReport, EventId, WebhookId};
use crate::envelope::WebhookType;

mod leases;

pub use leases::*;

pub(super) const LEASE: Duration = Duration::from_secs(60);

pub(super) fn t(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_767_225_600 + seconds, 0)
        .single()
        .expect("valid time")
}

pub(super) fn new_event(webhook_id: WebhookId, created_at: DateTime<Utc>) -> NewEvent {
    let event_id = EventId::new();
    NewEvent {
        event_id,
        webhook_id,
        webhook_type: WebhookType::ProducerAgreementExecuted,
        body: Bytes::from(format!(
            r#"{{"webhookType":"producer_agreement_executed","upstreamEntityId":"org","payload":{{"n":"{event_id}"}}}}"#
        )),
        created_at,
    }
}

pub(super) fn report(at: DateTime<Utc>, success: bool) -> AttemptReport {
    AttemptReport {
        started_at: at,
        finished_at: at + chrono::Duration::seconds(1),
        status_code: Some(if success { 200 } else { 500 }),
        error: (!success).then(|| "endpoint answered 500 Internal Server Error".to_owned()),
        url: "https://hooks.example.com/turris".to_owned(),
        success,
        response_body: Some("ok".to_owned()),
        retry_after: None,
    }
}

/// Enqueues one event of a new webhook, created at `t(0)`; answers its id.
pub(super) async fn enqueue_one(store: &dyn DeliveryStore) -> EventId {
    let event = new_event(WebhookId::new(), t(0));
    store.enqueue(vec![event.clone()]).await.expect("enqueue");
    event.event_id
}

/// The lease of the first event due at `t(at)`.
pub(super) async fn lease_first(store: &dyn DeliveryStore, at: i64) -> Lease {
    store
        .lease_due(t(at), 10, LEASE)
        .await
        .expect("lease")
        .remove(0)
        .lease
}

/// A resend's lease of `event` at `t(at)`.
pub(super) async fn resend_lease(store: &dyn DeliveryStore, event: EventId, at: i64) -> Lease {
    store
        .lease_for_resend(event, t(at), LEASE)
        .await
        .expect("resend lease")
        .lease
}

/// Records an attempt made at `t(at)` under `lease`, or the store's refusal.
pub(super) async fn try_record(
    store: &dyn DeliveryStore,
    event: EventId,
    lease: &Lease,
    at: i64,
    success: bool,
    next: NextStep,
) -> Result<Attempt, StoreError> {
    store
        .record_attempt(event, lease, &report(t(at), success), next)
        .await
}

/// Records an attempt made at `t(at)` under `lease`.
pub(super) async fn record(
    store: &dyn DeliveryStore,
    event: EventId,
    lease: &Lease,
    at: i64,
    success: bool,
    next: NextStep,
) -> Attempt {
    try_record(store, event, lease, at, success, next)
        .await
        .expect("record")
}

/// The stored event.
pub(super) async fn stored(store: &dyn DeliveryStore, event: EventId) -> EventRecord {
    store.event(event).await.expect("event").expect("stored")
}

/// Whether nothing is due at `t(at)`.
pub(super) async fn nothing_due(store: &dyn DeliveryStore, at: i64) -> bool {
    store
        .lease_due(t(at), 10, LEASE)
        .await
        .expect("lease")
        .is_empty()
}

/// Runs every check, each on a store from `new_store`.
pub async fn run_all<S, F, Fut>(mut new_store: F)
where
    S: DeliveryStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    enqueued_events_are_due_at_creation_with_their_exact_bytes(&new_store().await).await;
    enqueue_with_a_duplicate_id_stores_nothing(&new_store().await).await;
    lease_due_hands_out_oldest_first_up_to_the_limit(&new_store().await).await;
    a_leased_event_is_not_handed_out_again_until_its_lease_expires(&new_store().await).await;
    concurrent_leases_never_hand_out_the_same_event_twice(&new_store().await).await;
    a_failed_attempt_is_numbered_and_scheduled_for_retry(&new_store().await).await;
    a_delivered_event_is_never_leased_again_and_refuses_resend(&new_store().await).await;
    exhausted_events_are_failed_and_a_failed_resend_changes_nothing_else(&new_store().await).await;
    a_successful_resend_delivers_a_pending_event_and_cancels_its_retry(&new_store().await).await;
    a_resend_is_refused_while_an_attempt_is_in_progress(&new_store().await).await;
    a_lease_replaced_after_expiry_cannot_record(&new_store().await).await;
    a_renewed_lease_outlives_its_first_expiry_and_only_its_holder_renews(&new_store().await).await;
    unknown_events_are_not_found(&new_store().await).await;
    events_are_listed_per_webhook_newest_first_with_pagination(&new_store().await).await;
}

/// A new event is pending, due at its creation time, and keeps its bytes.
pub async fn enqueued_events_are_due_at_creation_with_their_exact_bytes(store: &dyn DeliveryStore) {
    let webhook = WebhookId::new();
    let event = new_event(webhook, t(0));
    store.enqueue(vec![event.clone()]).await.expect("enqueue");
    let stored = stored(store, event.event_id).await;
    assert_eq!(stored.body, event.body, "body must be stored byte for byte");
    assert_eq!(stored.status, EventStatus::Pending);
    assert_eq!(stored.attempt_count, 0);
    assert_eq!(stored.next_attempt_at, Some(t(0)));
    assert!(nothing_due(store, -1).await, "not due before creation");
    let leased = store.lease_due(t(0), 10, LEASE).await.expect("lease");
    assert_eq!(leased.len(), 1);
    assert_eq!(leased[0].event.event_id, event.event_id);
    assert_eq!(leased[0].lease.kind, LeaseKind::Scheduled);
    assert_eq!(leased[0].lease.expires_at, t(60));
}

/// A batch with an id already stored is refused whole.
pub async fn enqueue_with_a_duplicate_id_stores_nothing(store: &dyn DeliveryStore) {
    let webhook = WebhookId::new();
    let first = new_event(webhook, t(0));
    store.enqueue(vec![first.clone()]).await.expect("enqueue");
    let fresh = new_event(webhook, t(1));
    let result = store.enqueue(vec![fresh.clone(), first.clone()]).await;
    assert_eq!(result, Err(StoreError::Duplicate(first.event_id)));
    assert_eq!(
        store.event(fresh.event_id).await.expect("event"),
        None,
        "all or nothing"
    );
}

/// Due events come oldest due first, at most `limit` of them.
pub async fn lease_due_hands_out_oldest_first_up_to_the_limit(store: &dyn DeliveryStore) {
    let webhook = WebhookId::new();
    let events: Vec<NewEvent> = (0..5).rev().map(|i| new_event(webhook, t(i))).collect();
    store.enqueue(events.clone()).await.expect("enqueue");
    let leased = store.lease_due(t(10), 3, LEASE).await.expect("lease");
    let created: Vec<_> = leased.iter().map(|l| l.event.created_at).collect();
    assert_eq!(created, vec![t(0), t(1), t(2)]);
    let rest = store.lease_due(t(10), 10, LEASE).await.expect("lease");
    assert_eq!(rest.len(), 2);
}

/// A failed attempt gets number 1 and the event waits for its retry time.
pub async fn a_failed_attempt_is_numbered_and_scheduled_for_retry(store: &dyn DeliveryStore) {
    let event = enqueue_one(store).await;
    let lease = lease_first(store, 0).await;
    let attempt = record(store, event, &lease, 0, false, NextStep::RetryAt(t(60))).await;
    assert_eq!(attempt.number, 1);
    assert_eq!(attempt.kind, AttemptKind::Automatic);
    assert!(!attempt.success);
    assert_eq!(attempt.status_code, Some(500));
    let stored = stored(store, event).await;
    assert_eq!(stored.status, EventStatus::Pending);
    assert_eq!((stored.attempt_count, stored.automatic_attempts), (1, 1));
    assert_eq!(stored.next_attempt_at, Some(t(60)));
    assert!(nothing_due(store, 59).await, "not due yet");
    let second = store.lease_due(t(60), 10, LEASE).await.expect("lease");
    assert_eq!(
        second.len(),
        1,
        "recording ended the lease and the retry is due"
    );
    let attempt = record(
        store,
        event,
        &second[0].lease,
        60,
        true,
        NextStep::Delivered,
    )
    .await;
    assert_eq!(attempt.number, 2);
    let attempts = store.list_attempts(event).await.expect("attempts");
    assert_eq!(
        attempts.iter().map(|a| a.number).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(attempts[0].url, "https://hooks.example.com/turris");
    assert_eq!(attempts[1].finished_at, t(61));
}

/// Once delivered, an event is done: no lease, and a resend is refused.
pub async fn a_delivered_event_is_never_leased_again_and_refuses_resend(store: &dyn DeliveryStore) {
    let event = enqueue_one(store).await;
    let lease = lease_first(store, 0).await;
    record(store, event, &lease, 0, true, NextStep::Delivered).await;
    let stored = stored(store, event).await;
    assert_eq!(stored.status, EventStatus::Delivered);
    assert_eq!(stored.next_attempt_at, None);
    assert!(nothing_due(store, 100_000).await);
    assert_eq!(
        store
            .lease_for_resend(event, t(10), LEASE)
            .await
            .map(|l| l.lease.id),
        Err(StoreError::AlreadyDelivered)
    );
}

/// Exhaustion marks the event failed; a failed resend adds an attempt and nothing else.
pub async fn exhausted_events_are_failed_and_a_failed_resend_changes_nothing_else(
    store: &dyn DeliveryStore,
) {
    let event = enqueue_one(store).await;
    let lease = lease_first(store, 0).await;
    record(store, event, &lease, 0, false, NextStep::Exhausted).await;
    let stored_event = stored(store, event).await;
    assert_eq!(stored_event.status, EventStatus::Failed);
    assert_eq!(stored_event.next_attempt_at, None);
    assert!(nothing_due(store, 100_000).await);

    let resend = resend_lease(store, event, 100).await;
    assert_eq!(resend.kind, LeaseKind::Resend);
    let attempt = record(store, event, &resend, 100, false, NextStep::Unchanged).await;
    assert_eq!((attempt.number, attempt.kind), (2, AttemptKind::Resend));
    let stored_event = stored(store, event).await;
    assert_eq!(stored_event.status, EventStatus::Failed);
    assert_eq!(
        (stored_event.attempt_count, stored_event.automatic_attempts),
        (2, 1),
        "resends are not automatic"
    );
    assert_eq!(
        stored_event.next_attempt_at, None,
        "a failed resend schedules nothing"
    );
    assert!(nothing_due(store, 100_000).await);

    let resend = resend_lease(store, event, 200).await;
    record(store, event, &resend, 200, true, NextStep::Delivered).await;
    let stored_event = stored(store, event).await;
    assert_eq!(stored_event.status, EventStatus::Delivered);
    assert_eq!(stored_event.attempt_count, 3);
}

/// A pending event resent successfully is delivered and its retry is dropped.
pub async fn a_successful_resend_delivers_a_pending_event_and_cancels_its_retry(
    store: &dyn DeliveryStore,
) {
    let event = enqueue_one(store).await;
    let lease = lease_first(store, 0).await;
    record(store, event, &lease, 0, false, NextStep::RetryAt(t(3600))).await;
    let resend = resend_lease(store, event, 10).await;
    record(store, event, &resend, 10, false, NextStep::Unchanged).await;
    let stored = stored(store, event).await;
    assert_eq!(stored.status, EventStatus::Pending);
    assert_eq!(
        stored.next_attempt_at,
        Some(t(3600)),
        "a failed resend keeps the schedule"
    );
    let resend = resend_lease(store, event, 20).await;
    record(store, event, &resend, 20, true, NextStep::Delivered).await;
    assert!(nothing_due(store, 3600).await);
    let numbers: Vec<u32> = store
        .list_attempts(event)
        .await
        .expect("attempts")
        .iter()
        .map(|a| a.number)
        .collect();
    assert_eq!(numbers, vec![1, 2, 3]);
}

/// While a lease is live, a resend answers busy.
pub async fn a_resend_is_refused_while_an_attempt_is_in_progress(store: &dyn DeliveryStore) {
    let event = enqueue_one(store).await;
    let _lease = lease_first(store, 0).await;
    assert_eq!(
        store
            .lease_for_resend(event, t(1), LEASE)
            .await
            .map(|l| l.lease.id),
        Err(StoreError::Busy)
    );
    assert!(
        store.lease_for_resend(event, t(60), LEASE).await.is_ok(),
        "expired lease"
    );
    assert!(nothing_due(store, 61).await, "resend lease is live");
}

/// Operations on an unknown id say so.
pub async fn unknown_events_are_not_found(store: &dyn DeliveryStore) {
    let id = EventId::new();
    assert_eq!(store.event(id).await.expect("event"), None);
    assert_eq!(store.list_attempts(id).await.expect("attempts"), vec![]);
    assert_eq!(
        store
            .lease_for_resend(id, t(0), LEASE)
            .await
            .map(|l| l.lease.id),
        Err(StoreError::NotFound)
    );
}

/// Listing is per webhook, newest first, and pages with a cursor.
pub async fn events_are_listed_per_webhook_newest_first_with_pagination(store: &dyn DeliveryStore) {
    let webhook = WebhookId::new();
    let other = WebhookId::new();
    let mut mine: Vec<NewEvent> = (0..5).map(|i| new_event(webhook, t(i * 10))).collect();
    // Two events created at the same instant are ordered by id.
    mine.push(new_event(webhook, t(40)));
    store.enqueue(mine.clone()).await.expect("enqueue");
    store
        .enqueue(vec![new_event(other, t(100))])
        .await
        .expect("enqueue");

    let mut expected: Vec<(DateTime<Utc>, EventId)> =
        mine.iter().map(|e| (e.created_at, e.event_id)).collect();
    expected.sort();
    expected.reverse();

    let mut seen = Vec::new();
    let mut page = PageRequest::first(4);
    loop {
        let result = store.list_events(webhook, page).await.expect("list");
        assert!(result.items.len() <= 4);
        seen.extend(result.items.iter().map(|e| (e.created_at, e.event_id)));
        match result.next {
            Some(cursor) => {
                let last = result.items.last().expect("a page with a cursor has items");
                assert_eq!(cursor, EventCursor::after(last));
                page = PageRequest {
                    limit: 4,
                    before: Some(cursor),
                };
            }
            None => break,
        }
    }
    assert_eq!(
        seen, expected,
        "every event once, newest first, none of the other webhook's"
    );
    let exact = store
        .list_events(webhook, PageRequest::first(6))
        .await
        .expect("list");
    assert_eq!(
        (exact.items.len(), exact.next),
        (6, None),
        "no cursor when nothing follows"
    );
}
