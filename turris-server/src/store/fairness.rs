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
use turris_webhooks::delivery::{EventId, Lease, LeaseId, LeasedDelivery, WebhookId};
use uuid::Uuid;

use super::delivery::{EVENT_COLUMNS, EventRow};
use super::error::{DbError, DbResult};
use super::sql::{Dialect, Pools, SqlStore, ns, plus, with_pool};
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
    /// Gives leases up in one statement: the events are due again at once for any worker.
    /// Fenced per event by its lease id; how many were still held.
    async fn release_leases(&self, leases: &[(EventId, Lease)]) -> DbResult<u64>;
    /// Extends leases until `until` in one statement, each fenced by its lease id: the
    /// events whose lease was still held (the others were taken over, or are gone).
    async fn renew_leases(
        &self,
        leases: &[(EventId, Lease)],
        until: DateTime<Utc>,
    ) -> DbResult<Vec<EventId>>;
}

/// What a renewal of waiting deliveries' leases ([`FairLeaseStore::renew_leases`]) means for
/// each delivery still waiting in memory: of those asked, the renewed ones now last until
/// `until`, and the others lost their lease (another worker has them) and stop waiting.
pub(crate) struct Renewal {
    asked: std::collections::HashSet<(EventId, LeaseId)>,
    renewed: std::collections::HashSet<EventId>,
    until: DateTime<Utc>,
}

impl Renewal {
    pub(crate) fn new(
        asked: &[(EventId, Lease)],
        renewed: &[EventId],
        until: DateTime<Utc>,
    ) -> Self {
        Self {
            asked: asked.iter().map(|(e, l)| (*e, l.id)).collect(),
            renewed: renewed.iter().copied().collect(),
            until,
        }
    }

    /// Whether `delivery` keeps waiting; its lease's end moves to `until` when renewed.
    pub(crate) fn keep(&self, delivery: &mut LeasedDelivery) -> bool {
        if !self
            .asked
            .contains(&(delivery.event.event_id, delivery.lease.id))
        {
            return true;
        }
        let renewed = self.renewed.contains(&delivery.event.event_id);
        if renewed {
            delivery.lease.expires_at = self.until;
        }
        renewed
    }
}

/// Each `(event, lease)` pair at most once per statement, as `(event_id, lease_id)` columns.
fn pairs(leases: &[(EventId, Lease)]) -> (Vec<Uuid>, Vec<Uuid>) {
    leases.iter().map(|(e, l)| (e.0, l.id.0)).unzip()
}

/// SQLite's `(event_id, lease_id) IN (VALUES ...)` list for `n` pairs from placeholder
/// `$first` on.
fn values(first: usize, n: usize) -> String {
    (0..n)
        .map(|i| format!("(${}, ${})", first + 2 * i, first + 2 * i + 1))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Pairs per SQLite statement, well under its 32,766 variables.
const SQLITE_CHUNK: usize = 1_000;

#[derive(sqlx::FromRow)]
struct DueRow {
    id: Uuid,
    organization_id: String,
    max_in_flight: Option<i32>,
    rate_limit: Option<i32>,
    in_flight: i64,
}

/// The conditions of an unleased due event (`$1` is now).
const DUE: &str = "status = 'pending' AND next_attempt_at <= $1
     AND (lease_expires_at IS NULL OR lease_expires_at <= $1)";

/// SQLite: the unleased due events of endpoint `$p`, oldest first, at most `$p+1` of them.
/// The shares are parameters, so the text depends only on how many endpoints are leased.
fn due_of(placeholder: usize) -> String {
    let limit = placeholder + 1;
    format!(
        "SELECT event_id FROM (SELECT event_id FROM delivery_events
           WHERE webhook_id = ${placeholder} AND {DUE}
           ORDER BY next_attempt_at, event_id LIMIT ${limit}) AS q{placeholder}"
    )
}

/// Leases the events, re-checking each row: on PostgreSQL a row leased by a concurrent
/// transaction that committed first is skipped.
///
/// The events are picked once, in a materialized CTE: as a subquery of `WHERE event_id IN`,
/// PostgreSQL may run it again for rows of the outer scan, and each run's `SKIP LOCKED`
/// passes over what the previous run locked and picks others, so a share of 8 leased 12.
fn lease_sql(events: &str) -> String {
    format!(
        "WITH picked AS MATERIALIZED ({events})
         UPDATE delivery_events
         SET lease_id = $2, lease_kind = 'scheduled', lease_expires_at = $3
         WHERE event_id IN (SELECT event_id FROM picked) AND {DUE}
         RETURNING {EVENT_COLUMNS}"
    )
}

fn share_limit(share: usize) -> i64 {
    i64::try_from(share).unwrap_or(i64::MAX)
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
        let mut rows: Vec<EventRow> = match self.pools() {
            Pools::Sqlite(pool) => {
                let _turn = pool.turn().await;
                let inner: Vec<String> = (0..shares.len()).map(|i| due_of(4 + 2 * i)).collect();
                let sql = lease_sql(&inner.join(" UNION ALL "));
                let mut query = sqlx::query_as(&sql)
                    .bind(now_ns)
                    .bind(lease_id.0)
                    .bind(expires);
                for (webhook, share) in &shares {
                    query = query.bind(webhook.0).bind(share_limit(*share));
                }
                query.fetch_all(pool).await?
            }
            Pools::Postgres(pool) => {
                // One text for any number of endpoints: each endpoint's share as a lateral
                // subquery over the arrays.
                let sql = lease_sql(&format!(
                    "SELECT q.event_id FROM UNNEST($4::uuid[], $5::bigint[]) AS s(webhook, share)
                     CROSS JOIN LATERAL (SELECT event_id FROM delivery_events
                       WHERE webhook_id = s.webhook AND {DUE}
                       ORDER BY next_attempt_at, event_id LIMIT s.share
                       FOR UPDATE SKIP LOCKED) AS q"
                ));
                let (webhooks, limits): (Vec<Uuid>, Vec<i64>) = shares
                    .iter()
                    .map(|(webhook, share)| (webhook.0, share_limit(*share)))
                    .unzip();
                sqlx::query_as(&sql)
                    .bind(now_ns)
                    .bind(lease_id.0)
                    .bind(expires)
                    .bind(webhooks)
                    .bind(limits)
                    .fetch_all(pool)
                    .await?
            }
        };
        rows.sort_by_key(|r| (r.next_attempt_at(), r.event_id()));
        rows.iter().map(EventRow::leased).collect()
    }

    async fn release_leases(&self, leases: &[(EventId, Lease)]) -> DbResult<u64> {
        if leases.is_empty() {
            return Ok(0);
        }
        const SET: &str = "UPDATE delivery_events
             SET lease_id = NULL, lease_kind = NULL, lease_expires_at = NULL";
        match self.pools() {
            Pools::Sqlite(pool) => {
                // Through this process's writers' queue: waiting in SQLite's busy handler
                // behind the group commit took seconds.
                let _turn = pool.turn().await;
                let mut released = 0;
                for chunk in leases.chunks(SQLITE_CHUNK) {
                    let sql = format!(
                        "{SET} WHERE (event_id, lease_id) IN (VALUES {})",
                        values(1, chunk.len())
                    );
                    let mut query = sqlx::query(&sql);
                    for (event, lease) in chunk {
                        query = query.bind(event.0).bind(lease.id.0);
                    }
                    released += query.execute(pool).await?.rows_affected();
                }
                Ok(released)
            }
            Pools::Postgres(pool) => {
                let (events, ids) = pairs(leases);
                Ok(sqlx::query(&format!(
                    "{SET} FROM UNNEST($1::uuid[], $2::uuid[]) AS u(e, l)
                     WHERE event_id = u.e AND lease_id = u.l"
                ))
                .bind(events)
                .bind(ids)
                .execute(pool)
                .await?
                .rows_affected())
            }
        }
    }

    async fn renew_leases(
        &self,
        leases: &[(EventId, Lease)],
        until: DateTime<Utc>,
    ) -> DbResult<Vec<EventId>> {
        if leases.is_empty() {
            return Ok(Vec::new());
        }
        let until = ns(until)?;
        let renewed: Vec<Uuid> = match self.pools() {
            Pools::Sqlite(pool) => {
                let _turn = pool.turn().await;
                let mut renewed = Vec::with_capacity(leases.len());
                for chunk in leases.chunks(SQLITE_CHUNK) {
                    let sql = format!(
                        "UPDATE delivery_events SET lease_expires_at = $1
                         WHERE (event_id, lease_id) IN (VALUES {}) RETURNING event_id",
                        values(2, chunk.len())
                    );
                    let mut query = sqlx::query_scalar::<_, Uuid>(&sql).bind(until);
                    for (event, lease) in chunk {
                        query = query.bind(event.0).bind(lease.id.0);
                    }
                    renewed.extend(query.fetch_all(pool).await?);
                }
                renewed
            }
            Pools::Postgres(pool) => {
                let (events, ids) = pairs(leases);
                sqlx::query_scalar(
                    "UPDATE delivery_events SET lease_expires_at = $1
                     FROM UNNEST($2::uuid[], $3::uuid[]) AS u(e, l)
                     WHERE event_id = u.e AND lease_id = u.l RETURNING event_id",
                )
                .bind(until)
                .bind(events)
                .bind(ids)
                .fetch_all(pool)
                .await?
            }
        };
        Ok(renewed.into_iter().map(EventId).collect())
    }
}
