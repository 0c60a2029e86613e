//! Outbound sync's outbox: agencies, agents and agency contacts saved through the records API
//! together with a row asking for their push to HubSpot, in one transaction (the outbox's
//! `record_type` is `agency`, `agent` or `agency_contact`); organizations claimed by one
//! process at a time under a lease (`outbound_leases`, taken with an atomic upsert that only
//! replaces an expired lease), the one served least recently first; rows deleted only when the worker finishes, after it stored
//! what the push produced.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use turris_core::activity::NewActivity;
use turris_core::ids::{AgencyContactId, AgencyId, AgentId, OrganizationId};
use turris_core::planner::RecentWrite;
use turris_core::record::{Agency, AgencyContact, Agent};
use turris_core::store::{Link, TurrisRef};
use uuid::Uuid;

use super::activity::insert_activity_row;
use super::echo::{insert_hubspot_write_row, write_times};
use super::error::{Conflict, DbError, DbResult};
use super::inputs::enum_text;
use super::links::kind_text;
use super::records::{
    agency_columns, agent_columns, contact_columns, insert_agency_contact_row, insert_agency_row,
    insert_agent_row, update_agency_contact_row, update_agency_row, update_agent_row,
};
use super::sql::{Dialect, SqlStore, for_update, from_ns, ns, plus, with_pool, wrote};
use super::*;

/// A queued push of an agency or agent to HubSpot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundPush {
    /// Its row.
    pub id: OutboundPushId,
    /// The agency or agent to push (as it is when pushed, not when queued).
    pub record: TurrisRef,
    /// When it was queued.
    pub queued_at: DateTime<Utc>,
    /// Attempts that failed for a reason worth retrying.
    pub attempts: u32,
    /// Why it was queued.
    pub reason: PushReason,
    /// The record's stored data before the write that queued this push; `None` for a new
    /// record (and a tags push).
    pub previous: Option<String>,
}

/// Why a push was queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushReason {
    /// The record was saved: push its mapped properties (and its tags, while tags are on).
    Record,
    /// Its state changed: push only its tags, while the organization has tags on.
    Tags,
}

/// An organization's due pushes, leased to one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundClaim {
    /// The organization.
    pub organization: OrganizationId,
    /// The lease: nobody else claims the organization's pushes until it expires or is
    /// released by [`OutboundOutboxStore::finish_outbound`].
    pub lease: String,
    /// When the lease expires.
    pub expires_at: DateTime<Utc>,
    /// The pushes, oldest first (one record may appear more than once).
    pub pushes: Vec<OutboundPush>,
}

/// A claimed push to try again later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRetry {
    /// The push.
    pub push: OutboundPushId,
    /// When.
    pub next_attempt_at: DateTime<Utc>,
    /// Why the attempt failed, or why it waits.
    pub error: String,
    /// Whether an attempt failed (counted in [`OutboundPush::attempts`]); `false` when the
    /// push only waits (a paused connection).
    pub failed_attempt: bool,
}

/// Outbound sync's outbox: agencies, agents and agency contacts written by the records API with
/// their push queued in the same transaction, drained per organization under a lease.
#[async_trait]
pub trait OutboundOutboxStore: Send + Sync {
    /// Inserts an agency and queues its push, in one transaction.
    async fn insert_agency_with_push(&self, org: &OrganizationId, agency: &Agency) -> DbResult<()>;
    /// Replaces an agency's data and queues its push; [`DbError::NotFound`] if unknown.
    async fn update_agency_with_push(&self, org: &OrganizationId, agency: &Agency) -> DbResult<()>;
    /// Inserts an agent and queues its push, in one transaction.
    async fn insert_agent_with_push(&self, org: &OrganizationId, agent: &Agent) -> DbResult<()>;
    /// Replaces an agent's data and queues its push; [`DbError::NotFound`] if unknown.
    async fn update_agent_with_push(&self, org: &OrganizationId, agent: &Agent) -> DbResult<()>;
    /// Inserts an agency contact and queues its push, in one transaction;
    /// [`DbError::NotFound`] if its agency is unknown.
    async fn insert_agency_contact_with_push(
        &self,
        org: &OrganizationId,
        contact: &AgencyContact,
    ) -> DbResult<()>;
    /// Replaces an agency contact and queues its push; [`DbError::NotFound`] if it or its
    /// agency is unknown.
    async fn update_agency_contact_with_push(
        &self,
        org: &OrganizationId,
        contact: &AgencyContact,
    ) -> DbResult<()>;
    /// Leases one organization whose lease is free (or expired) and that has pushes due at
    /// `now` (the one served least recently first, round-robin), and returns up to `limit` of
    /// them, oldest first; `None` when there is none.
    async fn claim_outbound(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease_for: Duration,
    ) -> DbResult<Option<OutboundClaim>>;
    /// Extends the claim's lease until `now + lease_for`; [`DbError::LeaseLost`] when another
    /// process took the organization over (the lease lapsed first).
    async fn renew_outbound_lease(
        &self,
        claim: &OutboundClaim,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> DbResult<()>;
    /// Deletes the claimed pushes except `retries`, which are postponed, and releases the
    /// lease, in one transaction; [`DbError::LeaseLost`] (nothing changed) when the lease was
    /// lost to another process, which then pushes them again.
    async fn finish_outbound(
        &self,
        claim: &OutboundClaim,
        retries: &[OutboundRetry],
    ) -> DbResult<()>;
    /// Stores what a record's create in HubSpot produced, in one transaction fenced by the
    /// claim's lease: its link (insert-or-get: linking the same pair again is a no-op), the
    /// echo-ledger entries of the values written, and the activity row.
    /// [`DbError::LeaseLost`] when another process took the organization over;
    /// [`DbError::Conflict`] when the record is linked to another HubSpot object. Either way
    /// nothing is written.
    async fn commit_outbound_link(
        &self,
        claim: &OutboundClaim,
        link: &Link,
        writes: &[RecentWrite],
        activity: &NewActivity,
    ) -> DbResult<()>;
    /// How many pushes of the organization are queued.
    async fn pending_outbound(&self, org: &OrganizationId) -> DbResult<u64>;
}

const AGENCY: &str = "agency";
const AGENT: &str = "agent";
const AGENCY_CONTACT: &str = "agency_contact";

#[derive(sqlx::FromRow)]
struct PushRow {
    id: i64,
    record_type: String,
    record_id: String,
    queued_at: i64,
    attempts: i32,
    reason: String,
    previous: Option<String>,
}

impl PushRow {
    fn push(self) -> DbResult<OutboundPush> {
        let corrupt = |e: turris_core::error::Error| DbError::corrupt(e);
        let record = match self.record_type.as_str() {
            AGENCY => TurrisRef::Agency(AgencyId::parse(&self.record_id).map_err(corrupt)?),
            AGENT => TurrisRef::Agent(AgentId::parse(&self.record_id).map_err(corrupt)?),
            AGENCY_CONTACT => {
                TurrisRef::AgencyContact(AgencyContactId::parse(&self.record_id).map_err(corrupt)?)
            }
            other => return Err(DbError::corrupt(format!("outbound push of a {other}"))),
        };
        Ok(OutboundPush {
            id: OutboundPushId(self.id),
            record,
            queued_at: from_ns(self.queued_at),
            attempts: self.attempts.max(0) as u32,
            reason: match self.reason.as_str() {
                "tags" => PushReason::Tags,
                _ => PushReason::Record,
            },
            previous: self.previous,
        })
    }
}

/// Writes the outbox row of `$kind`/`$id` for `$org` inside the transaction `$tx`, with the
/// record's stored data before this write (`$previous`, `None` for a new record).
macro_rules! queue_push {
    ($tx:expr, $org:expr, $kind:expr, $id:expr, $now:expr) => {
        queue_push!($tx, $org, $kind, $id, $now, None::<String>)
    };
    ($tx:expr, $org:expr, $kind:expr, $id:expr, $now:expr, $previous:expr) => {
        sqlx::query(
            "INSERT INTO outbound_pushes (organization_id, record_type, record_id, queued_at,
             next_attempt_at, previous) VALUES ($1, $2, $3, $4, $4, $5)",
        )
        .bind($org.as_str())
        .bind($kind)
        .bind($id)
        .bind($now)
        .bind($previous)
        .execute(&mut *$tx)
        .await?
    };
}

/// The stored data of `$table`'s record `$id`, read inside `$tx` before it is replaced.
macro_rules! stored_data {
    ($tx:expr, $org:expr, $table:literal, $id:expr) => {
        sqlx::query_scalar::<_, String>(concat!(
            "SELECT data FROM ",
            $table,
            " WHERE organization_id = $1 AND id = $2"
        ))
        .bind($org.as_str())
        .bind($id)
        .fetch_optional(&mut *$tx)
        .await?
    };
}

/// Writes a record with `$write` (evaluating to the rows it affected: none is
/// [`DbError::NotFound`]) and its outbox row in one transaction; with `previous $table`, the
/// outbox row keeps the record's stored data from before the write.
macro_rules! write_with_push {
    ($self:expr, $org:expr, $kind:expr, $id:expr, |$tx:ident| $write:expr) => {
        write_with_push!($self, $org, $kind, $id, None::<String>, |$tx| $write)
    };
    ($self:expr, $org:expr, $kind:expr, $id:expr, previous $table:literal, |$tx:ident| $write:expr) => {
        write_with_push!(
            $self,
            $org,
            $kind,
            $id,
            stored_data!($tx, $org, $table, $id),
            |$tx| $write
        )
    };
    ($self:expr, $org:expr, $kind:expr, $id:expr, $previous:expr, |$tx:ident| $write:expr) => {{
        let now = ns(Utc::now())?;
        with_pool!($self, |pool| {
            let mut $tx = pool.begin_write().await?;
            let previous = $previous;
            if $write == 0 {
                return Err(DbError::NotFound);
            }
            queue_push!($tx, $org, $kind, $id, now, previous);
            $tx.commit().await?;
        });
        Ok(())
    }};
}

#[async_trait]
impl OutboundOutboxStore for SqlStore {
    async fn insert_agency_with_push(&self, org: &OrganizationId, agency: &Agency) -> DbResult<()> {
        let c = agency_columns(agency)?;
        write_with_push!(self, org, AGENCY, agency.id.as_str(), |tx| {
            insert_agency_row!(&mut *tx, org, agency, c)?.rows_affected()
        })
    }

    async fn update_agency_with_push(&self, org: &OrganizationId, agency: &Agency) -> DbResult<()> {
        let c = agency_columns(agency)?;
        let id = agency.id.as_str();
        write_with_push!(self, org, AGENCY, id, previous "agencies", |tx| {
            update_agency_row!(&mut *tx, org, agency, c)?.rows_affected()
        })
    }

    async fn insert_agent_with_push(&self, org: &OrganizationId, agent: &Agent) -> DbResult<()> {
        let c = agent_columns(agent)?;
        write_with_push!(self, org, AGENT, agent.id.as_str(), |tx| {
            insert_agent_row!(&mut *tx, org, agent, c)?.rows_affected()
        })
    }

    async fn update_agent_with_push(&self, org: &OrganizationId, agent: &Agent) -> DbResult<()> {
        let c = agent_columns(agent)?;
        let id = agent.id.as_str();
        write_with_push!(self, org, AGENT, id, previous "agents", |tx| {
            update_agent_row!(&mut *tx, org, agent, c)?.rows_affected()
        })
    }

    async fn insert_agency_contact_with_push(
        &self,
        org: &OrganizationId,
        contact: &AgencyContact,
    ) -> DbResult<()> {
        let c = contact_columns(contact)?;
        write_with_push!(self, org, AGENCY_CONTACT, contact.id.as_str(), |tx| {
            insert_agency_contact_row!(&mut *tx, org, contact, c)?.rows_affected()
        })
    }

    async fn update_agency_contact_with_push(
        &self,
        org: &OrganizationId,
        contact: &AgencyContact,
    ) -> DbResult<()> {
        let c = contact_columns(contact)?;
        let id = contact.id.as_str();
        write_with_push!(self, org, AGENCY_CONTACT, id, previous "agency_contacts", |tx| {
            update_agency_contact_row!(&mut *tx, org, contact, c)?.rows_affected()
        })
    }

    async fn claim_outbound(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease_for: Duration,
    ) -> DbResult<Option<OutboundClaim>> {
        let now_ns = ns(now)?;
        let expires_at = plus(now, lease_for);
        let expires = ns(expires_at)?;
        let lease = Uuid::now_v7().to_string();
        let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        with_pool!(self, |pool| {
            // Organizations with due pushes and a free lease, the one served least recently
            // first (never served: first of all), then the one waiting longest: round-robin, so
            // one tenant's backlog never holds another's pushes back by more than a step.
            // Concurrent claimers may pick the same organization: the lease settles it.
            let mut tx = pool.begin_write().await?;
            let candidates: Vec<String> = sqlx::query_scalar(
                "SELECT p.organization_id FROM outbound_pushes p
                 LEFT JOIN outbound_leases l ON l.organization_id = p.organization_id
                 WHERE p.next_attempt_at <= $1 AND (l.expires_at IS NULL OR l.expires_at <= $1)
                 GROUP BY p.organization_id
                 ORDER BY MIN(COALESCE(l.served_at, 0)), MIN(p.id)
                 LIMIT 32",
            )
            .bind(now_ns)
            .fetch_all(&mut *tx)
            .await?;
            for org in candidates {
                // Taken only when nobody holds it or the holder's lease expired.
                let taken: Option<String> = sqlx::query_scalar(
                    "INSERT INTO outbound_leases (organization_id, lease_id, expires_at, served_at)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (organization_id) DO UPDATE
                     SET lease_id = excluded.lease_id, expires_at = excluded.expires_at,
                         served_at = excluded.served_at
                     WHERE outbound_leases.expires_at <= $4
                     RETURNING lease_id",
                )
                .bind(&org)
                .bind(&lease)
                .bind(expires)
                .bind(now_ns)
                .fetch_optional(&mut *tx)
                .await?;
                if taken.is_none() {
                    continue;
                }
                let rows: Vec<PushRow> = sqlx::query_as(
                    "SELECT id, record_type, record_id, queued_at, attempts, reason, previous
                     FROM outbound_pushes
                     WHERE organization_id = $1 AND next_attempt_at <= $2 ORDER BY id LIMIT $3",
                )
                .bind(&org)
                .bind(now_ns)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                let organization = OrganizationId::parse(&org).map_err(DbError::corrupt)?;
                let pushes = rows
                    .into_iter()
                    .map(PushRow::push)
                    .collect::<DbResult<Vec<_>>>()?;
                return Ok(Some(OutboundClaim {
                    organization,
                    lease,
                    expires_at,
                    pushes,
                }));
            }
            tx.commit().await?;
            Ok(None)
        })
    }

    async fn finish_outbound(
        &self,
        claim: &OutboundClaim,
        retries: &[OutboundRetry],
    ) -> DbResult<()> {
        let retry_ids: Vec<i64> = retries.iter().map(|r| r.push.0).collect();
        let schedule = retries
            .iter()
            .map(|r| {
                let counted = i32::from(r.failed_attempt);
                Ok((r.push.0, ns(r.next_attempt_at)?, r.error.as_str(), counted))
            })
            .collect::<DbResult<Vec<_>>>()?;
        let org = claim.organization.as_str();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            // Releasing the lease first is the fence: the row is locked until the commit, so
            // no other process takes the organization over between this check and the writes.
            // Released in place, keeping when the organization was served (round-robin).
            let released = sqlx::query(
                "UPDATE outbound_leases SET lease_id = '', expires_at = 0
                 WHERE organization_id = $1 AND lease_id = $2",
            )
            .bind(org)
            .bind(&claim.lease)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if released == 0 {
                // Another process took the organization over: it pushes these rows again.
                return Err(DbError::LeaseLost);
            }
            for push in &claim.pushes {
                if retry_ids.contains(&push.id.0) {
                    continue;
                }
                sqlx::query("DELETE FROM outbound_pushes WHERE organization_id = $1 AND id = $2")
                    .bind(org)
                    .bind(push.id.0)
                    .execute(&mut *tx)
                    .await?;
            }
            for (id, next_attempt_at, error, counted) in &schedule {
                sqlx::query(
                    "UPDATE outbound_pushes SET attempts = attempts + $5, next_attempt_at = $3,
                     last_error = $4 WHERE organization_id = $1 AND id = $2",
                )
                .bind(org)
                .bind(id)
                .bind(next_attempt_at)
                .bind(error)
                .bind(counted)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    async fn renew_outbound_lease(
        &self,
        claim: &OutboundClaim,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> DbResult<()> {
        let expires = ns(plus(now, lease_for))?;
        let renewed = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "UPDATE outbound_leases SET expires_at = $3
                 WHERE organization_id = $1 AND lease_id = $2",
            )
            .bind(claim.organization.as_str())
            .bind(&claim.lease)
            .bind(expires)
            .execute(pool)
            .await?
            .rows_affected()
        });
        wrote(renewed, DbError::LeaseLost)
    }

    async fn pending_outbound(&self, org: &OrganizationId) -> DbResult<u64> {
        let n: i64 = with_pool!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM outbound_pushes WHERE organization_id = $1")
                .bind(org.as_str())
                .fetch_one(pool)
                .await?
        });
        Ok(n.max(0) as u64)
    }

    async fn commit_outbound_link(
        &self,
        claim: &OutboundClaim,
        link: &Link,
        writes: &[RecentWrite],
        activity: &NewActivity,
    ) -> DbResult<()> {
        let org = &claim.organization;
        let at = writes
            .iter()
            .map(write_times)
            .collect::<DbResult<Vec<_>>>()?;
        let (row_at, entry, outcome) = (
            ns(activity.at)?,
            serde_json::to_string(activity)?,
            enum_text(&activity.outcome)?,
        );
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let sql = format!(
                "SELECT lease_id FROM outbound_leases
                 WHERE organization_id = $1 AND lease_id = $2 {}",
                for_update(pool)
            );
            let held: Option<String> = sqlx::query_scalar(&sql)
                .bind(org.as_str())
                .bind(&claim.lease)
                .fetch_optional(&mut *tx)
                .await?;
            if held.is_none() {
                return Err(DbError::LeaseLost);
            }
            let inserted = sqlx::query(
                "INSERT INTO links (organization_id, kind, turris_id, hubspot_id)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(org.as_str())
            .bind(kind_text(link.turris.kind()))
            .bind(link.turris.id())
            .bind(link.hubspot_id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                let same: Option<String> = sqlx::query_scalar(
                    "SELECT hubspot_id FROM links
                     WHERE organization_id = $1 AND kind = $2 AND turris_id = $3",
                )
                .bind(org.as_str())
                .bind(kind_text(link.turris.kind()))
                .bind(link.turris.id())
                .fetch_optional(&mut *tx)
                .await?;
                if same.as_deref() != Some(link.hubspot_id.as_str()) {
                    return Err(DbError::Conflict(match same {
                        Some(_) => Conflict::TurrisLinked,
                        None => Conflict::HubSpotLinked,
                    }));
                }
            }
            for (write, at) in writes.iter().zip(&at) {
                insert_hubspot_write_row!(&mut *tx, org, write, at)?;
            }
            insert_activity_row!(&mut *tx, org, row_at, &entry, &outcome)?;
            tx.commit().await?;
            Ok(())
        })
    }
}
