//! One record's inbound sync step, committed in one transaction: the record (inserted or
//! updated), its link, its activity rows and, for a new agency, its invitation with the row
//! saying what became of it. A crash anywhere leaves all of it or none of it.
//!
//! The link is insert-or-get on the unique `links_hubspot` index (organization, kind,
//! HubSpot id): when another step (a retry after a crash, another replica) already linked the
//! HubSpot object to another record, nothing is written and the step answers
//! [`StepOutcome::AlreadyLinked`] with that link, so one HubSpot object never makes two records.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use turris_core::activity::NewActivity;
use turris_core::ids::{AgencyId, OrganizationId};
use turris_core::notes::NoteKind;
use turris_core::record::{Agency, AgencyContact, AgencyDraft, Agent, AgentDraft};
use turris_core::store::{Link, TurrisRef};

use super::activity::insert_activity_row;
use super::error::{Conflict, DbError, DbResult};
use super::inputs::enum_text;
use super::invitations::insert_invitation_row;
use super::links::{LinkRow, kind_text};
use super::records::{
    agency_columns, agent_columns, contact_columns, insert_agency_contact_row, insert_agency_row,
    insert_agent_row, update_agency_contact_row, update_agency_row, update_agent_row,
};
use super::sql::{Dialect, SqlStore, for_update, ns, with_pool};
use super::*;

/// A Turris record inbound sync writes.
#[derive(Debug, Clone, Copy)]
pub enum SyncedRecord<'a> {
    /// An agency.
    Agency(&'a Agency),
    /// An agent.
    Agent(&'a Agent),
    /// An agency contact.
    AgencyContact(&'a AgencyContact),
}

/// What a step does to its record.
#[derive(Debug, Clone, Copy)]
pub enum RecordWrite<'a> {
    /// Inserts it.
    Insert(SyncedRecord<'a>),
    /// Replaces its data, provided they are still `read`'s (the record as the step read it):
    /// otherwise nothing is written and the step answers [`StepOutcome::Changed`], since a
    /// write made since (an API edit, another replica's step) would be lost.
    /// [`DbError::NotFound`] (nothing written) if it is gone.
    Update {
        /// The record to store.
        record: SyncedRecord<'a>,
        /// The record as the step read it.
        read: SyncedRecord<'a>,
    },
}

/// The invitation of an agency the step creates, and the activity row for each way it goes.
#[derive(Debug, Clone)]
pub struct InvitationWrite {
    /// The invitation.
    pub invitation: Invitation,
    /// The row logged when it is stored.
    pub stored: NewActivity,
    /// The row logged instead when its contract template no longer exists (a person must pick
    /// one).
    pub template_missing: NewActivity,
}

/// One record's inbound create, update, link, or link dropped or moved.
#[derive(Debug, Clone, Default)]
pub struct InboundStep<'a> {
    /// The record's write, if any.
    pub record: Option<RecordWrite<'a>>,
    /// A record whose link is dropped first: its HubSpot object was deleted, or merged into
    /// another (then `link` moves it to the surviving object).
    pub unlink: Option<&'a TurrisRef>,
    /// The link to store (insert-or-get), if any.
    pub link: Option<&'a Link>,
    /// Activity rows, in order.
    pub activity: Vec<NewActivity>,
    /// The invitation of a new agency.
    pub invitation: Option<InvitationWrite>,
    /// When set, an updated record is also pushed back to HubSpot (a user's edit, made at this
    /// time, that our older value may have overwritten there): the push is dated by the edit
    /// and its `previous` is the record's data before the step, so it writes the fields the
    /// step changed.
    pub push_back: Option<DateTime<Utc>>,
    /// With `push_back`, when the step changes nothing (Turris holds the user's edit already):
    /// the record as HubSpot holds it (our older value in the edited field), the push's
    /// `previous` instead of the data before the step, so the push writes that field.
    pub held_in_hubspot: Option<SyncedRecord<'a>>,
}

/// What committing a step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// Everything was written.
    Committed,
    /// The HubSpot object is already linked to another record: nothing was written.
    AlreadyLinked(Link),
    /// The record changed since the step read it: nothing was written; plan again.
    Changed,
}

/// Inbound sync's steps, each in one transaction.
#[async_trait]
pub trait InboundStepStore: Send + Sync {
    /// Commits `step` in one transaction (see the module's documentation).
    async fn commit_inbound_step(
        &self,
        org: &OrganizationId,
        step: &InboundStep<'_>,
    ) -> DbResult<StepOutcome>;
    /// Marks a deferred invitation sent to `email` and logs `row`, in one transaction;
    /// `false` (nothing written) when it is no longer deferred (another process sent it).
    async fn send_deferred_invitation(
        &self,
        org: &OrganizationId,
        id: InvitationId,
        email: &str,
        row: &NewActivity,
        now: DateTime<Utc>,
    ) -> DbResult<bool>;
    /// Up to `limit` agencies, of any organization, with a deferred invitation and a contact
    /// with an email: invitations a failed release left behind.
    async fn deferred_invitations_ready(
        &self,
        limit: usize,
    ) -> DbResult<Vec<(OrganizationId, AgencyId)>>;
}

/// Writes `$write` for `$org` inside `$tx`; evaluates to the rows affected.
macro_rules! write_record {
    ($tx:expr, $org:expr, $write:expr) => {
        match $write {
            RecordWrite::Insert(SyncedRecord::Agency(a)) => {
                let c = agency_columns(a)?;
                insert_agency_row!(&mut *$tx, $org, a, c)?.rows_affected()
            }
            RecordWrite::Update {
                record: SyncedRecord::Agency(a),
                ..
            } => {
                let c = agency_columns(a)?;
                update_agency_row!(&mut *$tx, $org, a, c)?.rows_affected()
            }
            RecordWrite::Insert(SyncedRecord::Agent(a)) => {
                let c = agent_columns(a)?;
                insert_agent_row!(&mut *$tx, $org, a, c)?.rows_affected()
            }
            RecordWrite::Update {
                record: SyncedRecord::Agent(a),
                ..
            } => {
                let c = agent_columns(a)?;
                update_agent_row!(&mut *$tx, $org, a, c)?.rows_affected()
            }
            RecordWrite::Insert(SyncedRecord::AgencyContact(a)) => {
                let c = contact_columns(a)?;
                insert_agency_contact_row!(&mut *$tx, $org, a, c)?.rows_affected()
            }
            RecordWrite::Update {
                record: SyncedRecord::AgencyContact(a),
                ..
            } => {
                let c = contact_columns(a)?;
                update_agency_contact_row!(&mut *$tx, $org, a, c)?.rows_affected()
            }
        }
    };
}

/// `$read`'s stored data, read inside `$tx` (the row locked until `$tx` ends on PostgreSQL;
/// SQLite's write transaction holds the whole file); `None` when it is gone.
macro_rules! stored_data {
    ($tx:expr, $pool:expr, $org:expr, $read:expr) => {{
        let (table, id) = match $read {
            SyncedRecord::Agency(a) => ("agencies", a.id.as_str()),
            SyncedRecord::Agent(a) => ("agents", a.id.as_str()),
            SyncedRecord::AgencyContact(a) => ("agency_contacts", a.id.as_str()),
        };
        let sql = format!(
            "SELECT data FROM {table} WHERE organization_id = $1 AND id = $2 {}",
            for_update($pool)
        );
        sqlx::query_scalar::<_, String>(&sql)
            .bind($org.as_str())
            .bind(id)
            .fetch_optional(&mut *$tx)
            .await?
    }};
}

/// `record`'s data as its table stores them (a push's `previous` is read back the same way).
fn data_text(record: &SyncedRecord<'_>) -> DbResult<String> {
    Ok(match record {
        SyncedRecord::Agency(a) => serde_json::to_string(&a.data)?,
        SyncedRecord::Agent(a) => serde_json::to_string(&a.data)?,
        SyncedRecord::AgencyContact(a) => serde_json::to_string(a)?,
    })
}

/// Whether the `stored` data are still those of `read`; `true` when the record is gone (the
/// update then finds nothing to write).
fn unchanged(stored: Option<&str>, read: &SyncedRecord<'_>) -> DbResult<bool> {
    Ok(match (stored, read) {
        (None, _) => true,
        (Some(data), SyncedRecord::Agency(a)) => {
            serde_json::from_str::<AgencyDraft>(data)? == a.data
        }
        (Some(data), SyncedRecord::Agent(a)) => serde_json::from_str::<AgentDraft>(data)? == a.data,
        (Some(data), SyncedRecord::AgencyContact(a)) => {
            serde_json::from_str::<AgencyContact>(data)? == **a
        }
    })
}

/// Inserts `$link` inside `$tx` unless the HubSpot object or the record is linked already;
/// evaluates to `None` when it inserted it, else the link holding the HubSpot object (which
/// is `$link` itself when the pair was linked already), and fails with
/// [`Conflict::TurrisLinked`] when the record is linked to another HubSpot object.
/// Queues the outbound push of `$record` inside `$tx`, before the step writes it, with its
/// stored data now (`$previous`) as the push's `previous`.
macro_rules! push_back {
    ($tx:expr, $org:expr, $record:expr, $previous:expr, $now:expr) => {{
        let (kind, id) = match $record {
            SyncedRecord::Agency(a) => ("agency", a.id.as_str()),
            SyncedRecord::Agent(a) => ("agent", a.id.as_str()),
            SyncedRecord::AgencyContact(a) => ("agency_contact", a.id.as_str()),
        };
        sqlx::query(
            "INSERT INTO outbound_pushes (organization_id, record_type, record_id, queued_at,
             next_attempt_at, previous) VALUES ($1, $2, $3, $4, $4, $5)",
        )
        .bind($org.as_str())
        .bind(kind)
        .bind(id)
        .bind($now)
        .bind($previous)
        .execute(&mut *$tx)
        .await?;
    }};
}

macro_rules! insert_link_or_get_holder {
    ($tx:expr, $org:expr, $link:expr) => {{
        let inserted = sqlx::query(
            "INSERT INTO links (organization_id, kind, turris_id, hubspot_id)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind($org.as_str())
        .bind(kind_text($link.turris.kind()))
        .bind($link.turris.id())
        .bind($link.hubspot_id.as_str())
        .execute(&mut *$tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            // The holder: of the same kind, or for a contact of either contact kind (one
            // contact is an agent or an agency contact, never both: `links_contact`).
            let holder: Option<LinkRow> = sqlx::query_as(
                "SELECT kind, turris_id, hubspot_id FROM links
                 WHERE organization_id = $1 AND hubspot_id = $3
                   AND (kind = $2 OR (kind IN ('agent', 'agency_contact')
                                      AND $2 IN ('agent', 'agency_contact')))",
            )
            .bind($org.as_str())
            .bind(kind_text($link.turris.kind()))
            .bind($link.hubspot_id.as_str())
            .fetch_optional(&mut *$tx)
            .await?;
            // No holder of the HubSpot object: the record is linked to another one.
            Some(holder.ok_or(DbError::Conflict(Conflict::TurrisLinked))?)
        } else {
            None
        }
    }};
}

/// An activity row's columns.
fn activity_columns(row: &NewActivity) -> DbResult<(i64, String, String)> {
    Ok((
        ns(row.at)?,
        serde_json::to_string(row)?,
        enum_text(&row.outcome)?,
    ))
}

/// Writes a new agency's invitation inside `$tx` when its contract template exists (with the
/// agency's tags pushes, and the "invitation sent" note when it went out); evaluates to the
/// activity row to write: `$stored`, or `$missing` when the template is gone.
macro_rules! write_step_invitation {
    ($tx:expr, $org:expr, $write:expr, $status:expr, $created:expr, $updated:expr, $stored:expr, $missing:expr) => {{
        let (org, write, status, created, updated) = ($org, $write, $status, $created, $updated);
        let template_exists = match &write.invitation.contract_template_id {
            Some(template) => {
                sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM contract_templates
                 WHERE organization_id = $1 AND id = $2",
                )
                .bind(org.as_str())
                .bind(template.as_str())
                .fetch_one(&mut *$tx)
                .await?
                    > 0
            }
            None => true,
        };
        if template_exists {
            insert_invitation_row!(&mut *$tx, org, &write.invitation, status, created, updated)?;
            let agency = write.invitation.agency_id.as_str();
            super::tags::queue_agency_tags_pushes!($tx, org, agency, *updated);
            if write.invitation.status == InvitationStatus::Sent {
                let invitation = &write.invitation;
                let details = super::notes::invitation_details(
                    invitation.contract_template_id.as_ref().map(|t| t.as_str()),
                    invitation.sent_to.as_deref(),
                );
                let note = NoteKind::InvitationSent;
                let at = *updated;
                super::notes::queue_note!($tx, org, note, "agency", agency, &details, at, at);
            }
            $stored
        } else {
            $missing
        }
    }};
}

#[async_trait]
impl InboundStepStore for SqlStore {
    async fn commit_inbound_step(
        &self,
        org: &OrganizationId,
        step: &InboundStep<'_>,
    ) -> DbResult<StepOutcome> {
        let rows = step
            .activity
            .iter()
            .map(activity_columns)
            .collect::<DbResult<Vec<_>>>()?;
        let invitation = match &step.invitation {
            Some(write) => Some((
                write,
                enum_text(&write.invitation.status)?,
                ns(write.invitation.created_at)?,
                ns(write.invitation.updated_at)?,
                activity_columns(&write.stored)?,
                activity_columns(&write.template_missing)?,
            )),
            None => None,
        };
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            if let Some(RecordWrite::Update { record, read }) = &step.record {
                let stored = stored_data!(tx, pool, org, read);
                if !unchanged(stored.as_deref(), read)? {
                    tx.rollback().await?;
                    return Ok(StepOutcome::Changed);
                }
                if let Some(at) = step.push_back {
                    let previous = match &step.held_in_hubspot {
                        Some(held) => Some(data_text(held)?),
                        None => stored,
                    };
                    push_back!(tx, org, record, previous, ns(at)?);
                }
            }
            if let Some(write) = &step.record
                && write_record!(tx, org, write) == 0
            {
                return Err(DbError::NotFound);
            }
            if let Some(turris) = step.unlink {
                sqlx::query(
                    "DELETE FROM links
                     WHERE organization_id = $1 AND kind = $2 AND turris_id = $3",
                )
                .bind(org.as_str())
                .bind(kind_text(turris.kind()))
                .bind(turris.id())
                .execute(&mut *tx)
                .await?;
            }
            // Linked already to this very record: nothing more to link.
            if let Some(link) = step.link
                && let Some(holder) = insert_link_or_get_holder!(tx, org, link)
                && holder.turris_id != link.turris.id()
            {
                tx.rollback().await?;
                return Ok(StepOutcome::AlreadyLinked(holder.into_link()?));
            }
            for (at, entry, outcome) in &rows {
                insert_activity_row!(&mut *tx, org, at, entry, outcome)?;
            }
            if let Some((write, status, created, updated, stored, missing)) = &invitation {
                let (at, entry, outcome) = write_step_invitation!(
                    tx, org, write, status, created, updated, stored, missing
                );
                insert_activity_row!(&mut *tx, org, at, entry, outcome)?;
            }
            tx.commit().await?;
            Ok(StepOutcome::Committed)
        })
    }

    async fn send_deferred_invitation(
        &self,
        org: &OrganizationId,
        id: InvitationId,
        email: &str,
        row: &NewActivity,
        now: DateTime<Utc>,
    ) -> DbResult<bool> {
        let (at, entry, outcome) = activity_columns(row)?;
        let (sent, deferred) = (
            enum_text(&InvitationStatus::Sent)?,
            enum_text(&InvitationStatus::Deferred)?,
        );
        let now = ns(now)?;
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let sent: Option<(String, Option<String>)> = sqlx::query_as(
                "UPDATE invitations SET status = $3, sent_to = $4, updated_at = $5
                 WHERE organization_id = $1 AND id = $2 AND status = $6
                 RETURNING agency_id, contract_template_id",
            )
            .bind(org.as_str())
            .bind(id.0)
            .bind(&sent)
            .bind(email)
            .bind(now)
            .bind(&deferred)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((agency, contract)) = sent else {
                return Ok(false);
            };
            super::tags::queue_agency_tags_pushes!(tx, org, &agency, now);
            let details = super::notes::invitation_details(contract.as_deref(), Some(email));
            let note = NoteKind::InvitationSent;
            super::notes::queue_note!(tx, org, note, "agency", &agency, &details, now, now);
            insert_activity_row!(&mut *tx, org, at, &entry, &outcome)?;
            tx.commit().await?;
            Ok(true)
        })
    }

    async fn deferred_invitations_ready(
        &self,
        limit: usize,
    ) -> DbResult<Vec<(OrganizationId, AgencyId)>> {
        let deferred = enum_text(&InvitationStatus::Deferred)?;
        let rows: Vec<(String, String)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT DISTINCT i.organization_id, i.agency_id FROM invitations i
                 WHERE i.status = $1 AND EXISTS (
                     SELECT 1 FROM agency_contacts c WHERE c.organization_id = i.organization_id
                       AND c.agency_id = i.agency_id AND c.email_key IS NOT NULL)
                 ORDER BY i.organization_id, i.agency_id LIMIT $2",
            )
            .bind(&deferred)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(org, agency)| {
                Ok((
                    OrganizationId::parse(&org).map_err(DbError::corrupt)?,
                    AgencyId::parse(&agency).map_err(DbError::corrupt)?,
                ))
            })
            .collect()
    }
}
