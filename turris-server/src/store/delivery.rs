//! turris-webhooks' [`DeliveryStore`]: the delivery queue.
//!
//! Leases are columns of the event row (`lease_id`, `lease_kind`, `lease_expires_at`).
//! `lease_due` is one `UPDATE ... WHERE event_id IN (SELECT ... LIMIT n)` statement; on
//! PostgreSQL the inner select takes `FOR UPDATE SKIP LOCKED`, so several server processes
//! lease disjoint events without waiting on each other, and a row leased by a concurrent
//! transaction that committed first is re-checked (its lease is live) and skipped. On SQLite
//! the statement runs under the single writer lock, which gives the same semantics within one
//! process. One lease id is drawn per call and shared by the events it leases: a lease is the
//! pair (event, lease id), and a re-lease after expiry always draws a new id.
//!
//! Events of a disabled endpoint (see `health`) stay pending but are not leased until it is
//! enabled again; those of an endpoint that asked to be left alone (`Retry-After` on 429 or
//! 503) not before `paused_until`. The server's worker leases through `fairness` instead,
//! endpoint by endpoint, which never reads a disabled or paused endpoint's backlog.
//! `lease_due` (turris-webhooks' `Dispatcher` on this store, the conformance suite) walks the
//! due index in time order while no endpoint is held back; while one is, it reads each other
//! webhook's oldest due events (a short range of `delivery_events_webhook_due` each) and
//! leases the oldest of those, so a disabled endpoint's backlog is not scanned on every call
//! (with 200,000 events of a disabled endpoint ahead, the walk took 113 ms per call on
//! PostgreSQL). Past 100 webhooks with pending events it walks the index again.
//!
//! A lease is short and renewed while its attempt runs (`renew_lease`, fenced by the lease id
//! like `record_attempt`), so a crashed worker's event is taken over within a lease.
//!
//! `record_attempt` updates the event only `WHERE lease_id = $lease` and inserts the attempt
//! in the same transaction, so a worker whose lease was replaced records nothing.

use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use chrono::{DateTime, Utc};
use turris_webhooks::WebhookType;
use turris_webhooks::delivery::{
    Attempt, AttemptKind, AttemptReport, DeliveryStore, EventCursor, EventId, EventRecord,
    EventStatus, Lease, LeaseId, LeaseKind, LeasedDelivery, NewEvent, NextStep, Page, PageRequest,
    StoreError, WebhookId,
};
use uuid::Uuid;

use super::error::{DbError, DbResult};
use super::sql::{Dialect, SqlStore, from_ns, ns, plus, skip_locked, with_pool};

/// While some endpoint is held back, `lease_due` reads up to this many other webhooks one by
/// one; past it, it walks the due index (stepping over the held backlogs).
const MAX_ENDPOINTS_APART: usize = 100;

pub(crate) const EVENT_COLUMNS: &str = "event_id, webhook_id, webhook_type, body, created_at, \
     status, attempt_count, automatic_attempts, next_attempt_at, lease_id, lease_kind, \
     lease_expires_at";

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    event_id: Uuid,
    webhook_id: Uuid,
    webhook_type: String,
    body: Vec<u8>,
    created_at: i64,
    status: String,
    attempt_count: i32,
    automatic_attempts: i32,
    next_attempt_at: Option<i64>,
    lease_id: Option<Uuid>,
    lease_kind: Option<String>,
    lease_expires_at: Option<i64>,
}

pub(crate) fn status_text(status: EventStatus) -> &'static str {
    match status {
        EventStatus::Pending => "pending",
        EventStatus::Delivered => "delivered",
        EventStatus::Failed => "failed",
    }
}

pub(super) fn attempt_kind_text(kind: AttemptKind) -> &'static str {
    match kind {
        AttemptKind::Automatic => "automatic",
        AttemptKind::Resend => "resend",
    }
}

pub(crate) fn parse_webhook_type(text: &str) -> DbResult<WebhookType> {
    text.parse()
        .map_err(|_| DbError::corrupt(format!("webhook type {text}")))
}

impl EventRow {
    pub(super) fn record(&self) -> DbResult<EventRecord> {
        Ok(EventRecord {
            event_id: EventId(self.event_id),
            webhook_id: WebhookId(self.webhook_id),
            webhook_type: parse_webhook_type(&self.webhook_type)?,
            body: Bytes::from(self.body.clone()),
            created_at: from_ns(self.created_at),
            status: match self.status.as_str() {
                "pending" => EventStatus::Pending,
                "delivered" => EventStatus::Delivered,
                "failed" => EventStatus::Failed,
                other => return Err(DbError::corrupt(format!("event status {other}"))),
            },
            attempt_count: self.attempt_count as u32,
            automatic_attempts: self.automatic_attempts as u32,
            next_attempt_at: self.next_attempt_at.map(from_ns),
        })
    }

    pub(super) fn next_attempt_at(&self) -> Option<i64> {
        self.next_attempt_at
    }

    pub(super) fn event_id(&self) -> Uuid {
        self.event_id
    }

    pub(super) fn leased(&self) -> DbResult<LeasedDelivery> {
        let (Some(id), Some(kind), Some(expires)) = (
            self.lease_id,
            self.lease_kind.as_deref(),
            self.lease_expires_at,
        ) else {
            return Err(DbError::corrupt("leased event without a lease"));
        };
        Ok(LeasedDelivery {
            event: self.record()?,
            lease: Lease {
                id: LeaseId(id),
                kind: match kind {
                    "resend" => LeaseKind::Resend,
                    _ => LeaseKind::Scheduled,
                },
                expires_at: from_ns(expires),
            },
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AttemptRow {
    number: i32,
    kind: String,
    started_at: i64,
    finished_at: i64,
    status_code: Option<i32>,
    error: Option<String>,
    url: String,
    success: bool,
    response_body: Option<String>,
}

impl AttemptRow {
    pub(super) fn attempt(self) -> Attempt {
        Attempt {
            number: self.number as u32,
            kind: if self.kind == "resend" {
                AttemptKind::Resend
            } else {
                AttemptKind::Automatic
            },
            started_at: from_ns(self.started_at),
            finished_at: from_ns(self.finished_at),
            status_code: self.status_code.map(|c| c as u16),
            error: self.error,
            url: self.url,
            success: self.success,
            response_body: self.response_body,
        }
    }
}

pub(super) fn backend(error: impl Into<DbError>) -> StoreError {
    StoreError::from(error.into())
}

/// Inserts delivery events inside an open transaction `$tx` (on pool `$pool`'s backend).
/// A duplicate id fails the statement; the caller's transaction then rolls back.
macro_rules! insert_events {
    ($tx:expr, $events:expr) => {{
        let mut result: Result<(), sqlx::Error> = Ok(());
        for e in $events {
            let created = $crate::store::sql::ns(e.created_at)?;
            if let Err(error) = sqlx::query(
                "INSERT INTO delivery_events (event_id, webhook_id, webhook_type, body, created_at,
                 status, next_attempt_at, organization_id)
                 VALUES ($1, $2, $3, $4, $5, 'pending', $5,
                         (SELECT organization_id FROM webhook_endpoints WHERE id = $2))",
            )
            .bind(e.event_id.0)
            .bind(e.webhook_id.0)
            .bind(e.webhook_type.as_str())
            .bind(&e.body[..])
            .bind(created)
            .execute(&mut *$tx)
            .await
            {
                result = Err(error);
                break;
            }
        }
        result
    }};
}

impl SqlStore {
    async fn enqueue_events(&self, events: &[NewEvent]) -> DbResult<Result<(), EventId>> {
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = events.iter().find(|e| !seen.insert(e.event_id)) {
            return Ok(Err(dup.event_id));
        }
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            match insert_events!(tx, events) {
                Ok(()) => {
                    tx.commit().await?;
                    Ok(Ok(()))
                }
                Err(error) => {
                    drop(tx);
                    if super::error::constraint_conflict(&error).is_none() {
                        return Err(error.into());
                    }
                    // Name the first id that already exists.
                    for e in events {
                        let exists: Option<i32> =
                            sqlx::query_scalar("SELECT 1 FROM delivery_events WHERE event_id = $1")
                                .bind(e.event_id.0)
                                .fetch_optional(pool)
                                .await?;
                        if exists.is_some() {
                            return Ok(Err(e.event_id));
                        }
                    }
                    Err(error.into())
                }
            }
        })
    }

    /// Whether some endpoint is disabled or paused at `now_ns`.
    async fn any_endpoint_held(&self, now_ns: i64) -> DbResult<bool> {
        let held: Option<i32> = with_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT 1 FROM webhook_endpoints
                 WHERE disabled_at IS NOT NULL OR paused_until > $1 LIMIT 1",
            )
            .bind(now_ns)
            .fetch_optional(pool)
            .await?
        });
        Ok(held.is_some())
    }

    /// The webhooks with pending events, but those held back at `now_ns`; found by skipping
    /// through `delivery_events_webhook_due` one webhook at a time (a few index probes per
    /// webhook, whatever its backlog). Webhooks with no endpoint row (never registered) count.
    async fn pending_webhooks_not_held(&self, now_ns: i64) -> DbResult<Vec<Uuid>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar(
                "WITH RECURSIVE hooks(id) AS (
                     SELECT (SELECT webhook_id FROM delivery_events WHERE status = 'pending'
                             ORDER BY webhook_id LIMIT 1)
                     UNION ALL
                     SELECT (SELECT e.webhook_id FROM delivery_events e
                             WHERE e.status = 'pending' AND e.webhook_id > hooks.id
                             ORDER BY e.webhook_id LIMIT 1)
                     FROM hooks WHERE hooks.id IS NOT NULL
                 )
                 SELECT h.id FROM hooks h
                 WHERE h.id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM webhook_endpoints w
                     WHERE w.id = h.id AND (w.disabled_at IS NOT NULL OR w.paused_until > $1))",
            )
            .bind(now_ns)
            .fetch_all(pool)
            .await?
        }))
    }

    async fn fetch_event(&self, event_id: EventId) -> DbResult<Option<EventRow>> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM delivery_events WHERE event_id = $1");
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(event_id.0)
                .fetch_optional(pool)
                .await?
        }))
    }
}

#[async_trait]
impl DeliveryStore for SqlStore {
    async fn enqueue(&self, events: Vec<NewEvent>) -> Result<(), StoreError> {
        match self.enqueue_events(&events).await.map_err(backend)? {
            Ok(()) => {
                self.signal_enqueued(events.len());
                Ok(())
            }
            Err(duplicate) => Err(StoreError::Duplicate(duplicate)),
        }
    }

    async fn lease_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease_for: Duration,
    ) -> Result<Vec<LeasedDelivery>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let now_ns = ns(now).map_err(backend)?;
        let expires = ns(plus(now, lease_for)).map_err(backend)?;
        let lease_id = LeaseId::new();
        // While an endpoint is held back (disabled or paused), walking the due index in time
        // order would step over its whole backlog on every call: take each other endpoint's
        // oldest due events instead (a short index range each), then the oldest of those.
        let held = self.any_endpoint_held(now_ns).await.map_err(backend)?;
        let endpoints = if held {
            let webhooks = self
                .pending_webhooks_not_held(now_ns)
                .await
                .map_err(backend)?;
            if webhooks.is_empty() {
                return Ok(Vec::new());
            }
            (webhooks.len() <= MAX_ENDPOINTS_APART).then_some(webhooks)
        } else {
            None
        };
        let mut rows: Vec<EventRow> = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            let lock = skip_locked(pool);
            let due = match &endpoints {
                Some(endpoints) => {
                    let each: Vec<String> = (0..endpoints.len())
                        .map(|i| {
                            format!(
                                "SELECT event_id, next_attempt_at FROM (
                                   SELECT event_id, next_attempt_at FROM delivery_events
                                   WHERE webhook_id = ${p} AND status = 'pending'
                                     AND next_attempt_at <= $1
                                     AND (lease_expires_at IS NULL OR lease_expires_at <= $1)
                                   ORDER BY next_attempt_at, event_id LIMIT $2 {lock}) AS q{p}",
                                p = i + 5
                            )
                        })
                        .collect();
                    format!(
                        "SELECT event_id FROM ({}) AS due
                         ORDER BY next_attempt_at, event_id LIMIT $2",
                        each.join(" UNION ALL ")
                    )
                }
                None => format!(
                    "SELECT event_id FROM delivery_events
                     WHERE status = 'pending' AND next_attempt_at <= $1
                       AND (lease_expires_at IS NULL OR lease_expires_at <= $1)
                       AND NOT EXISTS (SELECT 1 FROM webhook_endpoints w
                           WHERE w.id = delivery_events.webhook_id
                             AND (w.disabled_at IS NOT NULL OR w.paused_until > $1))
                     ORDER BY next_attempt_at, event_id
                     LIMIT $2 {lock}"
                ),
            };
            // No condition beside the `IN`: with one, PostgreSQL may drive the update from
            // the due index and run the `LIMIT ... SKIP LOCKED` select once per row, each run
            // skipping the rows the last one locked, and so lease more than the limit.
            let sql = format!(
                "UPDATE delivery_events
                 SET lease_id = $3, lease_kind = 'scheduled', lease_expires_at = $4
                 WHERE event_id IN ({due})
                 RETURNING {EVENT_COLUMNS}"
            );
            let mut query = sqlx::query_as(&sql)
                .bind(now_ns)
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .bind(lease_id.0)
                .bind(expires);
            for webhook in endpoints.iter().flatten() {
                query = query.bind(*webhook);
            }
            query.fetch_all(pool).await.map_err(backend)?
        });
        rows.sort_by_key(|r| (r.next_attempt_at, r.event_id));
        rows.iter().map(|r| r.leased().map_err(backend)).collect()
    }

    async fn lease_for_resend(
        &self,
        event_id: EventId,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> Result<LeasedDelivery, StoreError> {
        let now_ns = ns(now).map_err(backend)?;
        let expires = ns(plus(now, lease_for)).map_err(backend)?;
        let sql = format!(
            "UPDATE delivery_events
             SET lease_id = $2, lease_kind = 'resend', lease_expires_at = $3
             WHERE event_id = $1 AND status <> 'delivered'
               AND (lease_expires_at IS NULL OR lease_expires_at <= $4)
             RETURNING {EVENT_COLUMNS}"
        );
        let row: Option<EventRow> = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query_as(&sql)
                .bind(event_id.0)
                .bind(LeaseId::new().0)
                .bind(expires)
                .bind(now_ns)
                .fetch_optional(pool)
                .await
                .map_err(backend)?
        });
        if let Some(row) = row {
            return row.leased().map_err(backend);
        }
        // Refused: say why.
        match self.fetch_event(event_id).await.map_err(backend)? {
            None => Err(StoreError::NotFound),
            Some(row) if row.status == status_text(EventStatus::Delivered) => {
                Err(StoreError::AlreadyDelivered)
            }
            Some(_) => Err(StoreError::Busy),
        }
    }

    async fn renew_lease(
        &self,
        event_id: EventId,
        lease: &Lease,
        until: DateTime<Utc>,
    ) -> Result<Lease, StoreError> {
        let until_ns = ns(until).map_err(backend)?;
        // Fenced: only the row still holding this lease id is extended.
        let renewed: Option<i64> = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query_scalar(
                "UPDATE delivery_events SET lease_expires_at = $3
                 WHERE event_id = $1 AND lease_id = $2
                 RETURNING lease_expires_at",
            )
            .bind(event_id.0)
            .bind(lease.id.0)
            .bind(until_ns)
            .fetch_optional(pool)
            .await
            .map_err(backend)?
        });
        match renewed {
            Some(expires) => Ok(Lease {
                expires_at: from_ns(expires),
                ..*lease
            }),
            None => match self.fetch_event(event_id).await.map_err(backend)? {
                None => Err(StoreError::NotFound),
                Some(_) => Err(StoreError::LeaseLost),
            },
        }
    }

    async fn record_attempt(
        &self,
        event_id: EventId,
        lease: &Lease,
        report: &AttemptReport,
        next: NextStep,
    ) -> Result<Attempt, StoreError> {
        let (kind, automatic) = match lease.kind {
            LeaseKind::Scheduled => (AttemptKind::Automatic, 1i32),
            LeaseKind::Resend => (AttemptKind::Resend, 0i32),
        };
        // (new status or keep, replace the schedule?, new schedule)
        let (status, set_next, next_at): (Option<&str>, bool, Option<i64>) = match next {
            NextStep::Delivered => (Some("delivered"), true, None),
            NextStep::RetryAt(at) => (Some("pending"), true, Some(ns(at).map_err(backend)?)),
            NextStep::Exhausted => (Some("failed"), true, None),
            NextStep::Unchanged => (None, false, None),
        };
        let started = ns(report.started_at).map_err(backend)?;
        let finished = ns(report.finished_at).map_err(backend)?;
        let number: Option<i32> = with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(backend)?;
            let number: Option<i32> = sqlx::query_scalar(super::attempts::UPDATE_ONE)
                .bind(event_id.0)
                .bind(lease.id.0)
                .bind(automatic)
                .bind(status)
                .bind(set_next)
                .bind(next_at)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
            if let Some(number) = number {
                sqlx::query(super::attempts::INSERT_ONE)
                    .bind(event_id.0)
                    .bind(number)
                    .bind(attempt_kind_text(kind))
                    .bind(started)
                    .bind(finished)
                    .bind(report.status_code.map(i32::from))
                    .bind(&report.error)
                    .bind(&report.url)
                    .bind(report.success)
                    .bind(&report.response_body)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                tx.commit().await.map_err(backend)?;
            }
            number
        });
        match number {
            Some(number) => Ok(Attempt::from_report(number as u32, kind, report)),
            None => match self.fetch_event(event_id).await.map_err(backend)? {
                None => Err(StoreError::NotFound),
                Some(_) => Err(StoreError::LeaseLost),
            },
        }
    }

    async fn event(&self, event_id: EventId) -> Result<Option<EventRecord>, StoreError> {
        self.fetch_event(event_id)
            .await
            .map_err(backend)?
            .map(|row| row.record().map_err(backend))
            .transpose()
    }

    async fn list_events(
        &self,
        webhook_id: WebhookId,
        page: PageRequest,
    ) -> Result<Page<EventRecord>, StoreError> {
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
             WHERE webhook_id = $1 AND (created_at < $2 OR (created_at = $2 AND event_id < $3))
             ORDER BY created_at DESC, event_id DESC LIMIT $4"
        );
        let rows: Vec<EventRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(webhook_id.0)
                .bind(before_at)
                .bind(before_id)
                .bind(
                    i64::try_from(limit)
                        .unwrap_or(i64::MAX - 1)
                        .saturating_add(1),
                )
                .fetch_all(pool)
                .await
                .map_err(backend)?
        });
        let more = rows.len() > limit;
        let items = rows
            .iter()
            .take(limit)
            .map(|r| r.record().map_err(backend))
            .collect::<Result<Vec<_>, _>>()?;
        let next = if more {
            items.last().map(EventCursor::after)
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn list_attempts(&self, event_id: EventId) -> Result<Vec<Attempt>, StoreError> {
        let rows: Vec<AttemptRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT number, kind, started_at, finished_at, status_code, error, url, success,
                 response_body FROM delivery_attempts WHERE event_id = $1 ORDER BY number",
            )
            .bind(event_id.0)
            .fetch_all(pool)
            .await
            .map_err(backend)?
        });
        Ok(rows.into_iter().map(AttemptRow::attempt).collect())
    }
}
