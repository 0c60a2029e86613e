//! Fair leasing: the delivery worker leases endpoint by endpoint instead of the globally
//! oldest events, so one endpoint's backlog (a slow or failing receiver) cannot fill every
//! slot.
//!
//! A round is two statements: [`FairLeaseStore::due_endpoints`] lists the enabled, unpaused
//! endpoints with due unleased events and counts each one's live leases (its deliveries in
//! flight, in every process); the worker shares its free slots between them
//! (`delivery::fair`: round-robin across organizations, then across an organization's
//! endpoints, within each endpoint's limits); [`FairLeaseStore::lease_endpoints`] leases each
//! endpoint's oldest due events up to its share, in one `UPDATE` whose inner selects each
//! read one short index range (`FOR UPDATE SKIP LOCKED` on PostgreSQL, as `lease_due`).
//! A disabled or paused endpoint's backlog is never read.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use turris_core::ids::OrganizationId;
use turris_webhooks::delivery::{Lease, LeaseId, LeasedDelivery, WebhookId};
use uuid::Uuid;

use super::delivery::{EVENT_COLUMNS, EventRow};
use super::error::{DbError, DbResult};
use super::sql::{Dialect, SqlStore, ns, plus, skip_locked, with_pool};
use super::webhooks::EndpointLimits;

/// An endpoint with due deliveries, as a leasing round sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueEndpoint {
    /// The endpoint.
    pub webhook_id: WebhookId,
    /// Its organization.
    pub organization: OrganizationId,
    /// Its own limits (`None`: the server's defaults).
    pub limits: EndpointLimits,
    /// Its events under a live lease now, in any process.
    pub in_flight: u32,
}

/// Leasing endpoint by endpoint.
#[async_trait]
pub trait FairLeaseStore: Send + Sync {
    /// The enabled, unpaused endpoints with events due at `now` and not leased, ordered by
    /// organization and id.
    async fn due_endpoints(&self, now: DateTime<Utc>) -> DbResult<Vec<DueEndpoint>>;
    /// Leases up to `share` of each endpoint's oldest due events for `lease_for`, under one
    /// new lease id; the leased events, oldest first.
    async fn lease_endpoints(
        &self,
        now: DateTime<Utc>,
        shares: &[(WebhookId, usize)],
        lease_for: Duration,
    ) -> DbResult<Vec<LeasedDelivery>>;
    /// Gives a lease up: the event is due again at once for any worker. Fenced by the lease
    /// id; `false` when the lease was no longer held.
    async fn release_lease(&self, event_id: Uuid, lease: &Lease) -> DbResult<bool>;
}

#[derive(sqlx::FromRow)]
struct DueRow {
    id: Uuid,
    organization_id: String,
    max_in_flight: Option<i32>,
    rate_limit: Option<i32>,
    in_flight: i64,
}

/// The unleased due events of endpoint `$p`, oldest first (`$1` is now).
fn due_of(placeholder: usize, share: usize, lock: &str) -> String {
    format!(
        "SELECT event_id FROM (SELECT event_id FROM delivery_events
           WHERE webhook_id = ${placeholder} AND status = 'pending' AND next_attempt_at <= $1
             AND (lease_expires_at IS NULL OR lease_expires_at <= $1)
           ORDER BY next_attempt_at, event_id LIMIT {share} {lock}) AS q{placeholder}"
    )
}

#[async_trait]
impl FairLeaseStore for SqlStore {
    async fn due_endpoints(&self, now: DateTime<Utc>) -> DbResult<Vec<DueEndpoint>> {
        let now = ns(now)?;
        let rows: Vec<DueRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT w.id, w.organization_id, w.max_in_flight, w.rate_limit,
                   (SELECT COUNT(*) FROM delivery_events l
                    WHERE l.webhook_id = w.id AND l.lease_id IS NOT NULL
                      AND l.lease_expires_at > $1) AS in_flight
                 FROM webhook_endpoints w
                 WHERE w.disabled_at IS NULL AND (w.paused_until IS NULL OR w.paused_until <= $1)
                   AND EXISTS (SELECT 1 FROM delivery_events e
                       WHERE e.webhook_id = w.id AND e.status = 'pending'
                         AND e.next_attempt_at <= $1
                         AND (e.lease_expires_at IS NULL OR e.lease_expires_at <= $1))
                 ORDER BY w.organization_id, w.id",
            )
            .bind(now)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|row| {
                Ok(DueEndpoint {
                    webhook_id: WebhookId(row.id),
                    organization: OrganizationId::parse(&row.organization_id)
                        .map_err(DbError::corrupt)?,
                    limits: EndpointLimits {
                        max_in_flight: row.max_in_flight.map(|n| n.max(0) as u32),
                        rate_limit: row.rate_limit.map(|n| n.max(0) as u32),
                    },
                    in_flight: u32::try_from(row.in_flight).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }

    async fn lease_endpoints(
        &self,
        now: DateTime<Utc>,
        shares: &[(WebhookId, usize)],
        lease_for: Duration,
    ) -> DbResult<Vec<LeasedDelivery>> {
        let shares: Vec<_> = shares.iter().filter(|(_, n)| *n > 0).collect();
        if shares.is_empty() {
            return Ok(Vec::new());
        }
        let now_ns = ns(now)?;
        let expires = ns(plus(now, lease_for))?;
        let lease_id = LeaseId::new();
        let mut rows: Vec<EventRow> = with_pool!(self, |pool| {
            let lock = skip_locked(pool);
            let inner: Vec<String> = shares
                .iter()
                .enumerate()
                .map(|(i, (_, share))| due_of(i + 4, *share, lock))
                .collect();
            // The outer condition re-checks each row: on PostgreSQL a row leased by a
            // concurrent transaction that committed first is skipped.
            let sql = format!(
                "UPDATE delivery_events
                 SET lease_id = $2, lease_kind = 'scheduled', lease_expires_at = $3
                 WHERE event_id IN ({})
                   AND status = 'pending'
                   AND (lease_expires_at IS NULL OR lease_expires_at <= $1)
                 RETURNING {EVENT_COLUMNS}",
                inner.join(" UNION ALL ")
            );
            let mut query = sqlx::query_as(&sql)
                .bind(now_ns)
                .bind(lease_id.0)
                .bind(expires);
            for (webhook, _) in &shares {
                query = query.bind(webhook.0);
            }
            query.fetch_all(pool).await?
        });
        rows.sort_by_key(|r| (r.next_attempt_at(), r.event_id()));
        rows.iter().map(EventRow::leased).collect()
    }

    async fn release_lease(&self, event_id: Uuid, lease: &Lease) -> DbResult<bool> {
        let released = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "UPDATE delivery_events
                 SET lease_id = NULL, lease_kind = NULL, lease_expires_at = NULL
                 WHERE event_id = $1 AND lease_id = $2",
            )
            .bind(event_id)
            .bind(lease.id.0)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(released > 0)
    }
}
