//! Activity notes waiting for HubSpot ([`turris_core::notes`]): queued in the transaction of the
//! event they log ([`queue_note!`]), leased a batch at a time with a fencing token, deleted once
//! written (or dropped), postponed after a failure; deletes and postponements are one statement
//! per batch, fenced per row by its lease.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use turris_core::ids::{AgencyId, AgentId, OrganizationId};
use turris_core::notes::{NoteDetails, NoteKind};
use turris_core::store::TurrisRef;
use uuid::Uuid;

use super::error::{DbError, DbResult};
use super::sql::{Dialect, Pools, SqlStore, from_ns, ns, plus, with_pool};

/// Queues a note of `$kind` (a [`NoteKind`]) about `$record_type`/`$record_id` (`agency` or
/// `agent`) with `$details` (a [`NoteDetails`]) inside the transaction `$tx`: the event
/// happened at `$at`, the note is due at once (both nanoseconds, `$now` for the latter).
///
/// Only when the organization logs notes of that kind and has a HubSpot connection (the
/// settings' `crm_features` and the credentials row, read in the same statement): the notes
/// worker would drop any other note, one statement each.
macro_rules! queue_note {
    ($tx:expr, $org:expr, $kind:expr, $record_type:expr, $record_id:expr, $details:expr, $at:expr, $now:expr) => {{
        let details = serde_json::to_string($details)?;
        sqlx::query(
            "INSERT INTO crm_notes (organization_id, id, kind, record_type, record_id, details,
             occurred_at, next_attempt_at) SELECT $1, $2, $3, $4, $5, $6, $7, $8
             WHERE EXISTS (SELECT 1 FROM integration_settings s JOIN hubspot_credentials c
                 ON c.organization_id = s.organization_id
                 WHERE s.organization_id = $1 AND s.crm_features LIKE '%,' || $3 || ',%')",
        )
        .bind($org.as_str())
        .bind(uuid::Uuid::now_v7().to_string())
        .bind($kind.as_str())
        .bind($record_type)
        .bind($record_id)
        .bind(details)
        .bind($at)
        .bind($now)
        .execute(&mut *$tx)
        .await?
    }};
}
pub(crate) use queue_note;

/// What an invitation-sent note says.
pub(crate) fn invitation_details(contract: Option<&str>, sent_to: Option<&str>) -> NoteDetails {
    NoteDetails {
        contract: contract.map(str::to_owned),
        sent_to: sent_to.map(str::to_owned),
        ..NoteDetails::default()
    }
}

/// A queued note, leased to one worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedNote {
    /// The organization.
    pub organization: OrganizationId,
    /// The note's id (its `turris_note_id` in HubSpot).
    pub id: String,
    /// What it logs.
    pub kind: NoteKind,
    /// The agency or agent it is about.
    pub record: TurrisRef,
    /// The facts its body is written from.
    pub details: NoteDetails,
    /// When the event happened (the note's timestamp in HubSpot).
    pub occurred_at: DateTime<Utc>,
    /// Failed attempts so far.
    pub attempts: u32,
    /// The lease's fencing token.
    pub lease: String,
}

/// A leased note put back after an attempt ([`NoteStore::retry_notes`]).
#[derive(Debug, Clone, Copy)]
pub struct NoteRetry<'a> {
    /// The note, with its lease.
    pub note: &'a QueuedNote,
    /// When it is due again.
    pub next_attempt_at: DateTime<Utc>,
    /// Whether the attempt counts as failed (`false`: nothing was tried, e.g. while the
    /// connection is paused).
    pub failed: bool,
}

/// Notes waiting for HubSpot.
#[async_trait]
pub trait NoteStore: Send + Sync {
    /// Leases up to `limit` due notes (oldest first) until `now + lease_for`.
    async fn claim_notes(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease_for: Duration,
    ) -> DbResult<Vec<QueuedNote>>;
    /// Deletes written (or dropped) notes in one statement, each only while its lease holds
    /// (fenced by its token); how many were deleted (fewer when another worker leased some
    /// meanwhile).
    async fn finish_notes(&self, notes: &[QueuedNote]) -> DbResult<u64>;
    /// Postpones notes in one statement, each to its own time and counting a failed attempt
    /// where it says so, each only while its lease holds (fenced by its token); how many were
    /// postponed (fewer when another worker leased some meanwhile).
    async fn retry_notes(&self, retries: &[NoteRetry<'_>]) -> DbResult<u64>;
    /// How many notes of `org` wait.
    async fn pending_notes(&self, org: &OrganizationId) -> DbResult<u64>;
}

#[derive(sqlx::FromRow)]
struct NoteRow {
    organization_id: String,
    id: String,
    kind: String,
    record_type: String,
    record_id: String,
    details: String,
    occurred_at: i64,
    attempts: i32,
}

impl NoteRow {
    fn note(self, lease: &str) -> DbResult<QueuedNote> {
        let corrupt = |e: turris_core::Error| DbError::corrupt(e);
        let record = match self.record_type.as_str() {
            "agency" => TurrisRef::Agency(AgencyId::parse(&self.record_id).map_err(corrupt)?),
            "agent" => TurrisRef::Agent(AgentId::parse(&self.record_id).map_err(corrupt)?),
            other => return Err(DbError::corrupt(format!("a note about a {other}"))),
        };
        Ok(QueuedNote {
            organization: OrganizationId::parse(&self.organization_id).map_err(corrupt)?,
            kind: NoteKind::parse(&self.kind)
                .ok_or_else(|| DbError::corrupt(format!("note kind {}", self.kind)))?,
            id: self.id,
            record,
            details: serde_json::from_str(&self.details)?,
            occurred_at: from_ns(self.occurred_at),
            attempts: self.attempts.max(0) as u32,
            lease: lease.to_owned(),
        })
    }
}

#[async_trait]
impl NoteStore for SqlStore {
    async fn claim_notes(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease_for: Duration,
    ) -> DbResult<Vec<QueuedNote>> {
        let now_ns = ns(now)?;
        let until = ns(plus(now, lease_for))?;
        let lease = Uuid::now_v7().to_string();
        let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        // The outer `leased_until` check is re-evaluated on the locked row, so two workers
        // that picked the same rows cannot both take them.
        let rows: Vec<NoteRow> = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query_as(
                "UPDATE crm_notes SET lease_token = $1, leased_until = $2
                 WHERE leased_until <= $3 AND (organization_id, id) IN (
                     SELECT organization_id, id FROM crm_notes
                     WHERE next_attempt_at <= $3 AND leased_until <= $3
                     ORDER BY next_attempt_at LIMIT $4)
                 RETURNING organization_id, id, kind, record_type, record_id, details,
                           occurred_at, attempts",
            )
            .bind(&lease)
            .bind(until)
            .bind(now_ns)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(|r| r.note(&lease)).collect()
    }

    async fn finish_notes(&self, notes: &[QueuedNote]) -> DbResult<u64> {
        if notes.is_empty() {
            return Ok(0);
        }
        match self.pools() {
            Pools::Sqlite(pool) => {
                let _turn = pool.turn().await;
                let mut deleted = 0;
                // Well under SQLite's 32,766 variables per statement.
                for chunk in notes.chunks(1_000) {
                    let rows: Vec<String> = (0..chunk.len())
                        .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
                        .collect();
                    let sql = format!(
                        "DELETE FROM crm_notes WHERE (organization_id, id, lease_token)
                         IN (VALUES {})",
                        rows.join(", ")
                    );
                    let mut query = sqlx::query(&sql);
                    for note in chunk {
                        query = query
                            .bind(note.organization.as_str())
                            .bind(&note.id)
                            .bind(&note.lease);
                    }
                    deleted += query.execute(pool).await?.rows_affected();
                }
                Ok(deleted)
            }
            Pools::Postgres(pool) => {
                let column =
                    |f: fn(&QueuedNote) -> &str| -> Vec<&str> { notes.iter().map(f).collect() };
                Ok(sqlx::query(
                    "DELETE FROM crm_notes n
                     USING UNNEST($1::text[], $2::text[], $3::text[]) AS u(o, i, l)
                     WHERE n.organization_id = u.o AND n.id = u.i AND n.lease_token = u.l",
                )
                .bind(column(|n| n.organization.as_str()))
                .bind(column(|n| n.id.as_str()))
                .bind(column(|n| n.lease.as_str()))
                .execute(pool)
                .await?
                .rows_affected())
            }
        }
    }

    async fn retry_notes(&self, retries: &[NoteRetry<'_>]) -> DbResult<u64> {
        if retries.is_empty() {
            return Ok(0);
        }
        let due: Vec<i64> = retries
            .iter()
            .map(|r| ns(r.next_attempt_at))
            .collect::<DbResult<_>>()?;
        const SET: &str = "UPDATE crm_notes SET next_attempt_at = u.due,
             attempts = crm_notes.attempts + u.failed, lease_token = NULL, leased_until = 0";
        const FENCE: &str = "WHERE crm_notes.organization_id = u.o AND crm_notes.id = u.i
             AND crm_notes.lease_token = u.l";
        match self.pools() {
            Pools::Sqlite(pool) => {
                let _turn = pool.turn().await;
                let mut postponed = 0;
                // Five variables a row: well under SQLite's 32,766 per statement.
                for (chunk, due) in retries.chunks(1_000).zip(due.chunks(1_000)) {
                    let rows: Vec<String> = (0..chunk.len())
                        .map(|i| {
                            let v: Vec<String> =
                                (1..=5).map(|k| format!("${}", 5 * i + k)).collect();
                            format!("({})", v.join(", "))
                        })
                        .collect();
                    let sql = format!(
                        "WITH u(o, i, l, due, failed) AS (VALUES {}) {SET} FROM u {FENCE}",
                        rows.join(", ")
                    );
                    let mut query = sqlx::query(&sql);
                    for (retry, due) in chunk.iter().zip(due) {
                        query = query
                            .bind(retry.note.organization.as_str())
                            .bind(&retry.note.id)
                            .bind(&retry.note.lease)
                            .bind(*due)
                            .bind(i32::from(retry.failed));
                    }
                    postponed += query.execute(pool).await?.rows_affected();
                }
                Ok(postponed)
            }
            Pools::Postgres(pool) => {
                let notes: Vec<&QueuedNote> = retries.iter().map(|r| r.note).collect();
                let column = |f: fn(&QueuedNote) -> &str| -> Vec<&str> {
                    notes.iter().map(|n| f(n)).collect()
                };
                let failed: Vec<i32> = retries.iter().map(|r| i32::from(r.failed)).collect();
                Ok(sqlx::query(&format!(
                    "{SET} FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[],
                     $5::int[]) AS u(o, i, l, due, failed) {FENCE}"
                ))
                .bind(column(|n| n.organization.as_str()))
                .bind(column(|n| n.id.as_str()))
                .bind(column(|n| n.lease.as_str()))
                .bind(due)
                .bind(failed)
                .execute(pool)
                .await?
                .rows_affected())
            }
        }
    }

    async fn pending_notes(&self, org: &OrganizationId) -> DbResult<u64> {
        let count: i64 = with_pool!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM crm_notes WHERE organization_id = $1")
                .bind(org.as_str())
                .fetch_one(pool)
                .await?
        });
        Ok(count.max(0) as u64)
    }
}
