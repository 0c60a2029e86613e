//! The delivery queue as the server reads it beside turris-webhooks' [`DeliveryStore`]
//! (implemented in `delivery`): statistics for `/metrics`, the local enqueue signal and
//! hand-off, and the history reads scoped by organization.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use turris_webhooks::delivery::{
    Attempt, EventCursor, EventId, EventRecord, LeasedDelivery, Page, PageRequest, WebhookId,
};
use uuid::Uuid;

#[cfg(doc)]
use turris_webhooks::delivery::DeliveryStore;

use super::delivery::{AttemptRow, EVENT_COLUMNS, EventRow};
use super::error::DbResult;
use super::fairness::FairLeaseStore;
use super::sql::{SqlStore, with_pool};

/// The delivery queue at a glance (`/metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeliveryQueueStats {
    /// Events waiting for an automatic attempt (leased or not).
    pub pending: u64,
    /// Pending events due now and not leased: the backlog.
    pub due: u64,
    /// Events under a live lease: an attempt in progress, or waiting in a worker's memory
    /// for its endpoint's room.
    pub leased: u64,
    /// Events whose automatic attempts are exhausted.
    pub failed: u64,
}

/// Queue statistics.
#[async_trait]
pub trait DeliveryStatsStore: Send + Sync {
    /// Counts at `now`.
    async fn delivery_queue_stats(&self, now: DateTime<Utc>) -> DbResult<DeliveryQueueStats>;
    /// Notified (`notify_one`) after every commit of this store that queued deliveries, so a
    /// delivery worker of this process wakes at once instead of at its next poll.
    fn enqueue_signal(&self) -> std::sync::Arc<tokio::sync::Notify>;
    /// Due events at `now` per organization, leased or not (each organization's backlog,
    /// whether it waits in the database or in a worker's memory for its endpoint's room): the
    /// `top` largest, largest first.
    async fn due_by_organization(
        &self,
        now: DateTime<Utc>,
        top: usize,
    ) -> DbResult<Vec<(String, u64)>>;
    /// With `Some(terms)`, outbox rows written by this store from now on are leased to this
    /// process's delivery worker for `terms.lease_for` and handed to it through
    /// [`Self::take_handoff`] after the commit (no lease round trip; a crash leaves them to
    /// whoever leases them once the lease expires), as long as fewer than
    /// `terms.max_bytes` of payload wait; the others stay in the database, unleased. `None`
    /// stops it. Off until a worker turns it on.
    fn set_handoff(&self, terms: Option<super::HandoffTerms>);
    /// One event of one of `org`'s webhooks; `None` for another organization's, whatever ids
    /// are given.
    async fn org_event(
        &self,
        org: &turris_core::ids::OrganizationId,
        webhook_id: WebhookId,
        event_id: EventId,
    ) -> DbResult<Option<EventRecord>>;
    /// A page of `org`'s events of one webhook, newest first (as
    /// [`DeliveryStore::list_events`], scoped by organization).
    async fn org_events(
        &self,
        org: &turris_core::ids::OrganizationId,
        webhook_id: WebhookId,
        page: PageRequest,
    ) -> DbResult<Page<EventRecord>>;
    /// A page of an event's attempts, newest first: those numbered below `before` when given.
    /// (The caller checks that the event is its organization's, as [`Self::org_event`].)
    async fn attempt_page(
        &self,
        event_id: EventId,
        before: Option<u32>,
        limit: usize,
    ) -> DbResult<Vec<Attempt>>;
    /// Up to `limit` events handed off since the last call, oldest first, with their leases.
    fn take_handoff(&self, limit: usize) -> Vec<turris_webhooks::delivery::LeasedDelivery>;
    /// Up to `limit` hand-offs for which `room` answers `true` (called once per hand-off
    /// looked at, oldest first): those whose endpoint can start them now. The others stay,
    /// in order, with their leases.
    fn take_handoff_where(
        &self,
        limit: usize,
        room: &mut (dyn FnMut(&LeasedDelivery) -> bool + Send),
    ) -> Vec<LeasedDelivery>;
    /// How many hand-offs wait to be taken.
    fn handoff_waiting(&self) -> usize;
    /// The payload bytes of the hand-offs that wait to be taken.
    fn handoff_bytes(&self) -> usize;
    /// Renews, in one statement fenced per event by its lease id, every waiting hand-off
    /// whose lease ends before `before`, until `until`; a hand-off whose lease was lost
    /// leaves the queue. How many were renewed and how many were lost.
    async fn renew_handoff(
        &self,
        before: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> DbResult<(usize, usize)>;
}

#[derive(sqlx::FromRow)]
struct StatsRow {
    pending: i64,
    due: i64,
    leased: i64,
    failed: i64,
}

#[async_trait]
impl DeliveryStatsStore for SqlStore {
    async fn delivery_queue_stats(&self, now: DateTime<Utc>) -> DbResult<DeliveryQueueStats> {
        let now = super::sql::ns_saturating(now);
        let row: StatsRow = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT
                   COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0) AS pending,
                   COALESCE(SUM(CASE WHEN status = 'pending' AND next_attempt_at <= $1
                     AND (lease_expires_at IS NULL OR lease_expires_at <= $1)
                     THEN 1 ELSE 0 END), 0) AS due,
                   COALESCE(SUM(CASE WHEN lease_expires_at > $1 THEN 1 ELSE 0 END), 0) AS leased,
                   COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) AS failed
                 FROM delivery_events WHERE status <> 'delivered'",
            )
            .bind(now)
            .fetch_one(pool)
            .await?
        });
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(DeliveryQueueStats {
            pending: count(row.pending),
            due: count(row.due),
            leased: count(row.leased),
            failed: count(row.failed),
        })
    }

    fn enqueue_signal(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.enqueued_notify()
    }

    async fn due_by_organization(
        &self,
        now: DateTime<Utc>,
        top: usize,
    ) -> DbResult<Vec<(String, u64)>> {
        let now = super::sql::ns_saturating(now);
        let rows: Vec<(Option<String>, i64)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT organization_id, COUNT(*) AS due FROM delivery_events
                 WHERE status = 'pending' AND next_attempt_at <= $1
                 GROUP BY organization_id ORDER BY due DESC, organization_id LIMIT $2",
            )
            .bind(now)
            .bind(i64::try_from(top).unwrap_or(i64::MAX))
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .filter_map(|(org, n)| Some((org?, u64::try_from(n).unwrap_or(0))))
            .collect())
    }

    fn set_handoff(&self, terms: Option<super::HandoffTerms>) {
        SqlStore::set_handoff(self, terms);
    }

    async fn attempt_page(
        &self,
        event_id: EventId,
        before: Option<u32>,
        limit: usize,
    ) -> DbResult<Vec<Attempt>> {
        let before = before.map_or(i64::MAX, i64::from);
        let rows: Vec<AttemptRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT number, kind, started_at, finished_at, status_code, error, url, success,
                 response_body FROM delivery_attempts WHERE event_id = $1 AND number < $2
                 ORDER BY number DESC LIMIT $3",
            )
            .bind(event_id.0)
            .bind(before)
            .bind(limit.clamp(1, 1_000) as i64)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(AttemptRow::attempt).collect())
    }

    async fn org_event(
        &self,
        org: &turris_core::ids::OrganizationId,
        webhook_id: WebhookId,
        event_id: EventId,
    ) -> DbResult<Option<EventRecord>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM delivery_events
             WHERE organization_id = $1 AND webhook_id = $2 AND event_id = $3"
        );
        let row: Option<EventRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(org.as_str())
                .bind(webhook_id.0)
                .bind(event_id.0)
                .fetch_optional(pool)
                .await?
        });
        row.map(|r| r.record()).transpose()
    }

    async fn org_events(
        &self,
        org: &turris_core::ids::OrganizationId,
        webhook_id: WebhookId,
        page: PageRequest,
    ) -> DbResult<Page<EventRecord>> {
        let limit = page.limit.max(1);
        let (before_at, before_id) = match page.before {
            Some(EventCursor {
                created_at,
                event_id,
            }) => (super::sql::ns_saturating(created_at), event_id.0),
            None => (i64::MAX, Uuid::max()),
        };
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM delivery_events
             WHERE organization_id = $5 AND webhook_id = $1
               AND (created_at < $2 OR (created_at = $2 AND event_id < $3))
             ORDER BY created_at DESC, event_id DESC LIMIT $4"
        );
        let fetch = i64::try_from(limit)
            .unwrap_or(i64::MAX - 1)
            .saturating_add(1);
        let rows: Vec<EventRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(webhook_id.0)
                .bind(before_at)
                .bind(before_id)
                .bind(fetch)
                .bind(org.as_str())
                .fetch_all(pool)
                .await?
        });
        let more = rows.len() > limit;
        let items = rows
            .iter()
            .take(limit)
            .map(EventRow::record)
            .collect::<DbResult<Vec<_>>>()?;
        let next = if more {
            items.last().map(EventCursor::after)
        } else {
            None
        };
        Ok(Page { items, next })
    }

    fn take_handoff(&self, limit: usize) -> Vec<LeasedDelivery> {
        SqlStore::take_handoff(self, limit)
    }

    fn take_handoff_where(
        &self,
        limit: usize,
        room: &mut (dyn FnMut(&LeasedDelivery) -> bool + Send),
    ) -> Vec<LeasedDelivery> {
        SqlStore::take_handoff_where(self, limit, room)
    }

    fn handoff_waiting(&self) -> usize {
        SqlStore::handoff_waiting(self)
    }

    fn handoff_bytes(&self) -> usize {
        SqlStore::handoff_bytes(self)
    }

    async fn renew_handoff(
        &self,
        before: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> DbResult<(usize, usize)> {
        let ending = self.handoff_leases_ending(before);
        if ending.is_empty() {
            return Ok((0, 0));
        }
        let renewed = self.renew_leases(&ending, until).await?;
        self.handoff_renewed(&ending, &renewed, until);
        Ok((renewed.len(), ending.len() - renewed.len()))
    }
}
