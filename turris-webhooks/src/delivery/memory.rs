//! An in-memory [`DeliveryStore`], for tests, demos and single-process use.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::store::{
    DeliveryStore, EventCursor, EventRecord, EventStatus, Lease, LeaseKind, LeasedDelivery,
    NewEvent, NextStep, Page, PageRequest, StoreError,
};
use super::{Attempt, AttemptKind, AttemptReport, EventId, LeaseId, WebhookId};

#[derive(Debug)]
struct Entry {
    record: EventRecord,
    lease: Option<Lease>,
    attempts: Vec<Attempt>,
}

/// A [`DeliveryStore`] in a mutex-guarded map. Nothing survives the process.
#[derive(Debug, Default)]
pub struct InMemoryDeliveryStore {
    events: Mutex<HashMap<EventId, Entry>>,
}

impl InMemoryDeliveryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<EventId, Entry>> {
        self.events.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn lease_until(now: DateTime<Utc>, lease_for: Duration) -> DateTime<Utc> {
    crate::clock::saturating_add(now, lease_for)
}

fn lease_live(lease: Option<&Lease>, now: DateTime<Utc>) -> bool {
    lease.is_some_and(|l| l.expires_at > now)
}

#[async_trait]
impl DeliveryStore for InMemoryDeliveryStore {
    async fn enqueue(&self, events: Vec<NewEvent>) -> Result<(), StoreError> {
        let mut map = self.lock();
        let mut seen = std::collections::HashSet::new();
        for e in &events {
            if map.contains_key(&e.event_id) || !seen.insert(e.event_id) {
                return Err(StoreError::Duplicate(e.event_id));
            }
        }
        for e in events {
            let record = EventRecord {
                event_id: e.event_id,
                webhook_id: e.webhook_id,
                webhook_type: e.webhook_type,
                body: e.body,
                created_at: e.created_at,
                status: EventStatus::Pending,
                attempt_count: 0,
                automatic_attempts: 0,
                next_attempt_at: Some(e.created_at),
            };
            map.insert(
                e.event_id,
                Entry {
                    record,
                    lease: None,
                    attempts: Vec::new(),
                },
            );
        }
        Ok(())
    }

    async fn lease_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease_for: Duration,
    ) -> Result<Vec<LeasedDelivery>, StoreError> {
        let mut map = self.lock();
        let mut due: Vec<(DateTime<Utc>, EventId)> = map
            .values()
            .filter(|e| e.record.status == EventStatus::Pending)
            .filter(|e| e.record.next_attempt_at.is_some_and(|t| t <= now))
            .filter(|e| !lease_live(e.lease.as_ref(), now))
            .filter_map(|e| Some((e.record.next_attempt_at?, e.record.event_id)))
            .collect();
        due.sort();
        due.truncate(limit);
        let expires_at = lease_until(now, lease_for);
        let mut leased = Vec::with_capacity(due.len());
        for (_, id) in due {
            let Some(entry) = map.get_mut(&id) else {
                continue;
            };
            let lease = Lease {
                id: LeaseId::new(),
                kind: LeaseKind::Scheduled,
                expires_at,
            };
            entry.lease = Some(lease);
            leased.push(LeasedDelivery {
                event: entry.record.clone(),
                lease,
            });
        }
        Ok(leased)
    }

    async fn lease_for_resend(
        &self,
        event_id: EventId,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> Result<LeasedDelivery, StoreError> {
        let mut map = self.lock();
        let entry = map.get_mut(&event_id).ok_or(StoreError::NotFound)?;
        if entry.record.status == EventStatus::Delivered {
            return Err(StoreError::AlreadyDelivered);
        }
        if lease_live(entry.lease.as_ref(), now) {
            return Err(StoreError::Busy);
        }
        let lease = Lease {
            id: LeaseId::new(),
            kind: LeaseKind::Resend,
            expires_at: lease_until(now, lease_for),
        };
        entry.lease = Some(lease);
        Ok(LeasedDelivery {
            event: entry.record.clone(),
            lease,
        })
    }

    async fn renew_lease(
        &self,
        event_id: EventId,
        lease: &Lease,
        until: DateTime<Utc>,
    ) -> Result<Lease, StoreError> {
        let mut map = self.lock();
        let entry = map.get_mut(&event_id).ok_or(StoreError::NotFound)?;
        match &mut entry.lease {
            Some(held) if held.id == lease.id => {
                held.expires_at = until;
                Ok(*held)
            }
            _ => Err(StoreError::LeaseLost),
        }
    }

    async fn record_attempt(
        &self,
        event_id: EventId,
        lease: &Lease,
        report: &AttemptReport,
        next: NextStep,
    ) -> Result<Attempt, StoreError> {
        let mut map = self.lock();
        let entry = map.get_mut(&event_id).ok_or(StoreError::NotFound)?;
        if entry.lease.map(|l| l.id) != Some(lease.id) {
            return Err(StoreError::LeaseLost);
        }
        entry.lease = None;
        let kind = match lease.kind {
            LeaseKind::Scheduled => {
                entry.record.automatic_attempts += 1;
                AttemptKind::Automatic
            }
            LeaseKind::Resend => AttemptKind::Resend,
        };
        entry.record.attempt_count += 1;
        let attempt = Attempt::from_report(entry.record.attempt_count, kind, report);
        entry.attempts.push(attempt.clone());
        match next {
            NextStep::Delivered => {
                entry.record.status = EventStatus::Delivered;
                entry.record.next_attempt_at = None;
            }
            NextStep::RetryAt(at) => {
                entry.record.status = EventStatus::Pending;
                entry.record.next_attempt_at = Some(at);
            }
            NextStep::Exhausted => {
                entry.record.status = EventStatus::Failed;
                entry.record.next_attempt_at = None;
            }
            NextStep::Unchanged => {}
        }
        Ok(attempt)
    }

    async fn event(&self, event_id: EventId) -> Result<Option<EventRecord>, StoreError> {
        Ok(self.lock().get(&event_id).map(|e| e.record.clone()))
    }

    async fn list_events(
        &self,
        webhook_id: WebhookId,
        page: PageRequest,
    ) -> Result<Page<EventRecord>, StoreError> {
        let map = self.lock();
        let mut events: Vec<&EventRecord> = map
            .values()
            .map(|e| &e.record)
            .filter(|r| r.webhook_id == webhook_id)
            .filter(|r| {
                page.before
                    .is_none_or(|c| (r.created_at, r.event_id) < (c.created_at, c.event_id))
            })
            .collect();
        events.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.event_id)));
        let limit = page.limit.max(1);
        let more = events.len() > limit;
        let items: Vec<EventRecord> = events.into_iter().take(limit).cloned().collect();
        let next = if more {
            items.last().map(EventCursor::after)
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn list_attempts(&self, event_id: EventId) -> Result<Vec<Attempt>, StoreError> {
        Ok(self
            .lock()
            .get(&event_id)
            .map(|e| e.attempts.clone())
            .unwrap_or_default())
    }
}
