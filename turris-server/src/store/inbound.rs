//! Inbound HubSpot events: persisted in one transaction before HubSpot is acknowledged,
//! deduplicated by a unique index on (organization, event id, object id, occurredAt,
//! subscription type, property name) with `ON CONFLICT DO NOTHING`, then claimed by workers
//! with the same lease pattern as deliveries (`FOR UPDATE SKIP LOCKED` on PostgreSQL).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use turris_core::ids::OrganizationId;
use turris_core::store::TurrisRef;
use turris_hubspot::webhooks::WebhookEvent;

use super::error::{DbError, DbResult};
use super::sql::{Dialect, SqlStore, from_ns, ns, plus, skip_locked, with_pool, wrote, xact_lock};
use super::*;

/// What persisting a batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InboundBatch {
    /// Newly stored events.
    pub stored: usize,
    /// Events already stored (HubSpot redelivers), ignored.
    pub duplicates: usize,
}

/// The fencing token of one claim: drawn fresh at each claim, written on the claimed rows, and
/// required by every write that settles them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClaimToken(String);

impl ClaimToken {
    /// A fresh token.
    pub fn new() -> Self {
        ClaimToken(uuid::Uuid::new_v4().to_string())
    }

    /// The token as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ClaimToken {
    fn default() -> Self {
        Self::new()
    }
}

/// An inbound event handed to a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedInboundEvent {
    /// Its id in the store.
    pub id: InboundEventId,
    /// The organization it was routed to.
    pub organization: OrganizationId,
    /// The event as HubSpot sent it.
    pub event: WebhookEvent,
    /// When it was received.
    pub received_at: DateTime<Utc>,
    /// Processing attempts before this one.
    pub attempts: u32,
    /// The claim expires then; renew it or mark the event before.
    pub claimed_until: DateTime<Utc>,
    /// The claim's fencing token (the same for every event of one claim).
    pub claim: ClaimToken,
}

/// Inbound HubSpot webhook events: persisted before acknowledging, deduplicated on
/// (event id, object id, occurredAt, subscription type, property name) per organization,
/// then claimed by workers.
#[async_trait]
pub trait InboundEventStore: Send + Sync {
    /// Persists a batch for `org` in one transaction, skipping events already stored.
    async fn persist_inbound_events(
        &self,
        org: &OrganizationId,
        events: &[WebhookEvent],
        received_at: DateTime<Utc>,
    ) -> DbResult<InboundBatch>;
    /// Claims up to `limit` unprocessed events that are due for `claim_for`, all under one
    /// fresh [`ClaimToken`], round-robin across organizations: each organization's oldest
    /// event first, then each one's second, and so on, at most `per_org` of one organization,
    /// so one tenant's backlog never delays another's events. A claimed event is not handed
    /// out again until the claim expires, and no event of an object (organization and HubSpot
    /// object id) is handed out while another live claim holds one of that object's events:
    /// one object's events are processed by one step at a time, across replicas.
    async fn claim_inbound_events(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        per_org: usize,
        claim_for: Duration,
    ) -> DbResult<Vec<ClaimedInboundEvent>>;
    /// Extends the claim's pending events until `now + claim_for`; returns how many it still
    /// holds (0: every event was settled, or the claim was taken over).
    async fn renew_inbound_claim(
        &self,
        claim: &ClaimToken,
        now: DateTime<Utc>,
        claim_for: Duration,
    ) -> DbResult<usize>;
    /// Marks the events of `claim` processed: never claimed again. Returns how many it marked;
    /// an event whose claim was taken over is left to its new holder.
    async fn mark_inbound_processed(
        &self,
        claim: &ClaimToken,
        ids: &[InboundEventId],
        now: DateTime<Utc>,
    ) -> DbResult<usize>;
    /// Records a failed attempt: retried at `retry_at`, or given up when `None`;
    /// [`DbError::LeaseLost`] (nothing written) when `claim` no longer holds the event.
    async fn mark_inbound_failed(
        &self,
        claim: &ClaimToken,
        id: InboundEventId,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> DbResult<()>;
    /// Puts claimed events of `org` back until `until` without counting an attempt (HubSpot's
    /// daily limit: nothing was tried); returns how many `claim` still held.
    async fn postpone_inbound_events(
        &self,
        org: &OrganizationId,
        claim: &ClaimToken,
        ids: &[InboundEventId],
        reason: &str,
        until: DateTime<Utc>,
    ) -> DbResult<usize>;
    /// The Turris edits of `record` not pushed yet, oldest first: when each was made and the
    /// record's stored data before it (`None` for a new record). An inbound change older than
    /// one of them loses to it.
    async fn pending_turris_edits(
        &self,
        org: &OrganizationId,
        record: &TurrisRef,
    ) -> DbResult<Vec<(DateTime<Utc>, Option<String>)>>;
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    id: i64,
    organization_id: String,
    payload: String,
    received_at: i64,
    attempts: i32,
    claimed_until: Option<i64>,
}

/// The key of the lock that makes inbound claims serial across replicas.
const INBOUND_CLAIM_LOCK: i64 = 0x7475_7272_6973_0001;

fn as_i64(value: u64) -> i64 {
    // HubSpot ids fit in 63 bits; a larger one still dedupes (wrapping is injective).
    value as i64
}

#[async_trait]
impl InboundEventStore for SqlStore {
    async fn persist_inbound_events(
        &self,
        org: &OrganizationId,
        events: &[WebhookEvent],
        received_at: DateTime<Utc>,
    ) -> DbResult<InboundBatch> {
        let received = ns(received_at)?;
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let mut batch = InboundBatch::default();
            for event in events {
                let inserted = sqlx::query(
                    "INSERT INTO inbound_events (organization_id, hubspot_event_id, object_id,
                     occurred_at, subscription_type, property_name, payload, received_at, status,
                     next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $8)
                     ON CONFLICT DO NOTHING",
                )
                .bind(org.as_str())
                .bind(as_i64(event.event_id))
                .bind(as_i64(
                    event.object_id.or(event.from_object_id).unwrap_or(0),
                ))
                .bind(event.occurred_at)
                .bind(event.subscription_type.to_string())
                .bind(event.property_name.as_deref().unwrap_or(""))
                .bind(serde_json::to_string(event)?)
                .bind(received)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted > 0 {
                    batch.stored += 1;
                } else {
                    batch.duplicates += 1;
                }
            }
            tx.commit().await?;
            Ok(batch)
        })
    }

    async fn claim_inbound_events(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        per_org: usize,
        claim_for: Duration,
    ) -> DbResult<Vec<ClaimedInboundEvent>> {
        if limit == 0 || per_org == 0 {
            return Ok(Vec::new());
        }
        let now_ns = ns(now)?;
        let until = ns(plus(now, claim_for))?;
        let claim = ClaimToken::new();
        let mut rows: Vec<ClaimRow> = with_pool!(self, |pool| {
            // Claims are serial (a transaction-scoped lock across replicas on PostgreSQL; the
            // write lock on SQLite), so a claim sees every claim before it and never takes an
            // event of an object another live claim holds: one object's events are processed
            // by one step at a time, and a step never commits what it read of HubSpot over a
            // newer read of another replica's step.
            let mut tx = pool.begin_write().await?;
            if let Some(lock) = xact_lock(pool) {
                sqlx::query(lock)
                    .bind(INBOUND_CLAIM_LOCK)
                    .execute(&mut *tx)
                    .await?;
            }
            // Ranked within each organization and taken rank by rank. Row locks cannot sit
            // beside a window function, so the ranking is a query of its own and the level
            // above locks what it chose (`FOR UPDATE SKIP LOCKED` on PostgreSQL).
            let sql = format!(
                "UPDATE inbound_events SET claimed_until = $2, claim_token = $4
                 WHERE id IN (
                     SELECT id FROM inbound_events
                     WHERE id IN (
                         SELECT id FROM (
                             SELECT id, ROW_NUMBER() OVER (
                                 PARTITION BY organization_id ORDER BY id) AS rank
                             FROM inbound_events due
                             WHERE status = 'pending' AND next_attempt_at <= $1
                               AND (claimed_until IS NULL OR claimed_until <= $1)
                               AND NOT EXISTS (
                                   SELECT 1 FROM inbound_events held
                                   WHERE held.organization_id = due.organization_id
                                     AND held.object_id = due.object_id
                                     AND held.status = 'pending' AND held.claimed_until > $1)
                         ) ranked
                         WHERE rank <= $5 ORDER BY rank, id LIMIT $3
                     )
                     AND status = 'pending' AND (claimed_until IS NULL OR claimed_until <= $1)
                     {}
                 )
                 RETURNING id, organization_id, payload, received_at, attempts, claimed_until",
                skip_locked(pool)
            );
            let rows = sqlx::query_as(&sql)
                .bind(now_ns)
                .bind(until)
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .bind(claim.as_str())
                .bind(i64::try_from(per_org).unwrap_or(i64::MAX))
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            rows
        });
        rows.sort_by_key(|r| r.id);
        rows.into_iter()
            .map(|row| {
                Ok(ClaimedInboundEvent {
                    id: InboundEventId(row.id),
                    organization: OrganizationId::parse(&row.organization_id)
                        .map_err(DbError::corrupt)?,
                    event: serde_json::from_str(&row.payload)?,
                    received_at: from_ns(row.received_at),
                    attempts: row.attempts as u32,
                    claimed_until: from_ns(row.claimed_until.unwrap_or(until)),
                    claim: claim.clone(),
                })
            })
            .collect()
    }

    async fn renew_inbound_claim(
        &self,
        claim: &ClaimToken,
        now: DateTime<Utc>,
        claim_for: Duration,
    ) -> DbResult<usize> {
        let until = ns(plus(now, claim_for))?;
        let renewed = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "UPDATE inbound_events SET claimed_until = $2
                 WHERE claim_token = $1 AND status = 'pending'",
            )
            .bind(claim.as_str())
            .bind(until)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(usize::try_from(renewed).unwrap_or(usize::MAX))
    }

    async fn mark_inbound_processed(
        &self,
        claim: &ClaimToken,
        ids: &[InboundEventId],
        now: DateTime<Utc>,
    ) -> DbResult<usize> {
        let now = ns(now)?;
        let marked = with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let mut marked = 0;
            for id in ids {
                marked += sqlx::query(
                    "UPDATE inbound_events SET status = 'processed', processed_at = $2,
                     claimed_until = NULL, claim_token = NULL
                     WHERE id = $1 AND claim_token = $3 AND status = 'pending'",
                )
                .bind(id.0)
                .bind(now)
                .bind(claim.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            tx.commit().await?;
            marked
        });
        Ok(usize::try_from(marked).unwrap_or(usize::MAX))
    }

    async fn mark_inbound_failed(
        &self,
        claim: &ClaimToken,
        id: InboundEventId,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> DbResult<()> {
        let retry_at = retry_at.map(ns).transpose()?;
        let updated = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "UPDATE inbound_events SET attempts = attempts + 1, last_error = $2,
                 claimed_until = NULL, claim_token = NULL,
                 status = CASE WHEN $3 IS NULL THEN 'failed' ELSE 'pending' END,
                 next_attempt_at = COALESCE($3, next_attempt_at)
                 WHERE id = $1 AND claim_token = $4 AND status = 'pending'",
            )
            .bind(id.0)
            .bind(error)
            .bind(retry_at)
            .bind(claim.as_str())
            .execute(pool)
            .await?
            .rows_affected()
        });
        wrote(updated, DbError::LeaseLost)
    }

    async fn postpone_inbound_events(
        &self,
        org: &OrganizationId,
        claim: &ClaimToken,
        ids: &[InboundEventId],
        reason: &str,
        until: DateTime<Utc>,
    ) -> DbResult<usize> {
        let until = ns(until)?;
        let postponed = with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let mut postponed = 0;
            for id in ids {
                postponed += sqlx::query(
                    "UPDATE inbound_events SET last_error = $3, claimed_until = NULL,
                     claim_token = NULL, next_attempt_at = $4
                     WHERE organization_id = $1 AND id = $2 AND claim_token = $5
                       AND status = 'pending'",
                )
                .bind(org.as_str())
                .bind(id.0)
                .bind(reason)
                .bind(until)
                .bind(claim.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            tx.commit().await?;
            postponed
        });
        Ok(usize::try_from(postponed).unwrap_or(usize::MAX))
    }

    async fn pending_turris_edits(
        &self,
        org: &OrganizationId,
        record: &TurrisRef,
    ) -> DbResult<Vec<(DateTime<Utc>, Option<String>)>> {
        let rows: Vec<(i64, Option<String>)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT queued_at, previous FROM outbound_pushes
                 WHERE organization_id = $1 AND record_type = $2 AND record_id = $3
                 AND reason = 'record' ORDER BY queued_at, id",
            )
            .bind(org.as_str())
            .bind(super::links::kind_text(record.kind()))
            .bind(record.id())
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(at, previous)| (from_ns(at), previous))
            .collect())
    }
}
