//! Contract templates and agency invitations.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use turris_core::ids::{AgencyId, ContractTemplateId, OrganizationId};
use turris_core::notes::NoteKind;
use uuid::Uuid;

use super::error::{DbError, DbResult, foreign_key_is_not_found};
use super::inputs::{enum_from, enum_text};
use super::sql::{Dialect, SqlStore, from_ns, ns, with_pool};
use super::*;

/// A contract (producer agreement) template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ContractTemplate {
    /// Its id (what invitation rules name).
    pub id: ContractTemplateId,
    /// Display name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

pub use turris_core::invitation::InvitationStatus;

/// An agency invitation (created by inbound sync).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Invitation {
    /// Its id.
    pub id: InvitationId,
    /// The invited agency.
    pub agency_id: AgencyId,
    /// The contract, when chosen.
    pub contract_template_id: Option<ContractTemplateId>,
    /// Status.
    pub status: InvitationStatus,
    /// The contact email it was sent to, once sent.
    pub sent_to: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its status last changed.
    pub updated_at: DateTime<Utc>,
}

/// Inserts one invitation over an executor (a pool, or `&mut *tx` inside an inbound sync step,
/// [`super::sync_step`]); evaluates to the `Result` of `execute`.
macro_rules! insert_invitation_row {
    ($exec:expr, $org:expr, $invitation:expr, $status:expr, $created:expr, $updated:expr) => {
        sqlx::query(
            "INSERT INTO invitations (organization_id, id, agency_id, contract_template_id,
             status, sent_to, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind($org.as_str())
        .bind($invitation.id.0)
        .bind($invitation.agency_id.as_str())
        .bind(
            $invitation
                .contract_template_id
                .as_ref()
                .map(|t| t.as_str()),
        )
        .bind($status)
        .bind(&$invitation.sent_to)
        .bind($created)
        .bind($updated)
        .execute($exec)
        .await
    };
}
pub(crate) use insert_invitation_row;

#[derive(sqlx::FromRow)]
struct TemplateRow {
    id: String,
    name: String,
    created_at: i64,
}

impl TemplateRow {
    fn template(self) -> DbResult<ContractTemplate> {
        Ok(ContractTemplate {
            id: ContractTemplateId::parse(&self.id).map_err(DbError::corrupt)?,
            name: self.name,
            created_at: from_ns(self.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
struct InvitationRow {
    id: Uuid,
    agency_id: String,
    contract_template_id: Option<String>,
    status: String,
    sent_to: Option<String>,
    created_at: i64,
    updated_at: i64,
}

const INVITATION_COLUMNS: &str =
    "id, agency_id, contract_template_id, status, sent_to, created_at, updated_at";

impl InvitationRow {
    fn invitation(self) -> DbResult<Invitation> {
        let bad = |e: turris_core::Error| DbError::corrupt(e);
        Ok(Invitation {
            id: InvitationId(self.id),
            agency_id: AgencyId::parse(&self.agency_id).map_err(bad)?,
            contract_template_id: self
                .contract_template_id
                .as_deref()
                .map(ContractTemplateId::parse)
                .transpose()
                .map_err(bad)?,
            status: enum_from(&self.status)?,
            sent_to: self.sent_to,
            created_at: from_ns(self.created_at),
            updated_at: from_ns(self.updated_at),
        })
    }
}

/// Which invitations a page holds.
#[derive(Debug, Clone, Default)]
pub struct InvitationFilter {
    /// Only this agency's.
    pub agency: Option<AgencyId>,
    /// Only those in this status.
    pub status: Option<InvitationStatus>,
}

/// Contract templates, and the invitations auto-invite records.
#[async_trait]
pub trait InvitationStore: Send + Sync {
    /// Creates a template; [`Conflict::ContractTemplate`] when the id exists.
    async fn create_contract_template(
        &self,
        org: &OrganizationId,
        id: &ContractTemplateId,
        name: &str,
        now: DateTime<Utc>,
    ) -> DbResult<ContractTemplate>;

    /// One template.
    async fn contract_template(
        &self,
        org: &OrganizationId,
        id: &ContractTemplateId,
    ) -> DbResult<Option<ContractTemplate>>;

    /// Every template, by id.
    async fn list_contract_templates(
        &self,
        org: &OrganizationId,
    ) -> DbResult<Vec<ContractTemplate>>;

    /// Stores an invitation; [`DbError::NotFound`] when the agency (or a named template) is
    /// not in `org`.
    async fn create_invitation(
        &self,
        org: &OrganizationId,
        invitation: &Invitation,
    ) -> DbResult<()>;

    /// Changes an invitation's status (and where it was sent); [`DbError::NotFound`] if
    /// unknown.
    async fn set_invitation_status(
        &self,
        org: &OrganizationId,
        id: InvitationId,
        status: InvitationStatus,
        sent_to: Option<&str>,
        now: DateTime<Utc>,
    ) -> DbResult<()>;

    /// Gives an invitation that needs attention its contract and its new status (sent or
    /// deferred); [`DbError::NotFound`] when no such invitation waits for a contract.
    async fn assign_invitation_contract(
        &self,
        org: &OrganizationId,
        id: InvitationId,
        template: &ContractTemplateId,
        status: InvitationStatus,
        sent_to: Option<&str>,
        now: DateTime<Utc>,
    ) -> DbResult<()>;

    /// One invitation.
    async fn invitation(
        &self,
        org: &OrganizationId,
        id: InvitationId,
    ) -> DbResult<Option<Invitation>>;

    /// Invitations, newest first; only one agency's when `agency` is given.
    /// A page of an organization's invitations, newest first: of one agency and in one status
    /// when asked, after `after` (the creation time and id of the previous page's last one).
    async fn invitation_page(
        &self,
        org: &OrganizationId,
        filter: &InvitationFilter,
        after: Option<(DateTime<Utc>, InvitationId)>,
        limit: usize,
    ) -> DbResult<Vec<Invitation>>;
    async fn list_invitations(
        &self,
        org: &OrganizationId,
        agency: Option<&AgencyId>,
    ) -> DbResult<Vec<Invitation>>;
}

#[async_trait]
impl InvitationStore for SqlStore {
    async fn create_contract_template(
        &self,
        org: &OrganizationId,
        id: &ContractTemplateId,
        name: &str,
        now: DateTime<Utc>,
    ) -> DbResult<ContractTemplate> {
        let created = ns(now)?;
        with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "INSERT INTO contract_templates (organization_id, id, name, created_at)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(org.as_str())
            .bind(id.as_str())
            .bind(name)
            .bind(created)
            .execute(pool)
            .await
            .map_err(foreign_key_is_not_found)?;
        });
        Ok(ContractTemplate {
            id: id.clone(),
            name: name.to_owned(),
            created_at: from_ns(created),
        })
    }

    async fn contract_template(
        &self,
        org: &OrganizationId,
        id: &ContractTemplateId,
    ) -> DbResult<Option<ContractTemplate>> {
        let row: Option<TemplateRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, created_at FROM contract_templates
                 WHERE organization_id = $1 AND id = $2",
            )
            .bind(org.as_str())
            .bind(id.as_str())
            .fetch_optional(pool)
            .await?
        });
        row.map(TemplateRow::template).transpose()
    }

    async fn list_contract_templates(
        &self,
        org: &OrganizationId,
    ) -> DbResult<Vec<ContractTemplate>> {
        let rows: Vec<TemplateRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, created_at FROM contract_templates WHERE organization_id = $1
                 ORDER BY id",
            )
            .bind(org.as_str())
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(TemplateRow::template).collect()
    }

    async fn create_invitation(
        &self,
        org: &OrganizationId,
        invitation: &Invitation,
    ) -> DbResult<()> {
        let (created, updated) = (ns(invitation.created_at)?, ns(invitation.updated_at)?);
        let status = enum_text(&invitation.status)?;
        let agency = invitation.agency_id.as_str();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            insert_invitation_row!(&mut *tx, org, invitation, &status, created, updated)
                .map_err(foreign_key_is_not_found)?;
            super::tags::queue_agency_tags_pushes!(tx, org, agency, updated);
            tx.commit().await?;
        });
        Ok(())
    }

    async fn set_invitation_status(
        &self,
        org: &OrganizationId,
        id: InvitationId,
        status: InvitationStatus,
        sent_to: Option<&str>,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        let sent = status == InvitationStatus::Sent;
        let status = enum_text(&status)?;
        let updated_at = ns(now)?;
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let changed: Option<(String, Option<String>, Option<String>)> = sqlx::query_as(
                "UPDATE invitations SET status = $3, sent_to = COALESCE($4, sent_to),
                 updated_at = $5 WHERE organization_id = $1 AND id = $2
                 RETURNING agency_id, contract_template_id, sent_to",
            )
            .bind(org.as_str())
            .bind(id.0)
            .bind(&status)
            .bind(sent_to)
            .bind(updated_at)
            .fetch_optional(&mut *tx)
            .await?;
            let (agency, contract, sent_to) = changed.ok_or(DbError::NotFound)?;
            super::tags::queue_agency_tags_pushes!(tx, org, &agency, updated_at);
            if sent {
                let details =
                    super::notes::invitation_details(contract.as_deref(), sent_to.as_deref());
                let (note, at) = (NoteKind::InvitationSent, updated_at);
                super::notes::queue_note!(tx, org, note, "agency", &agency, &details, at, at);
            }
            tx.commit().await?;
        });
        Ok(())
    }

    async fn assign_invitation_contract(
        &self,
        org: &OrganizationId,
        id: InvitationId,
        template: &ContractTemplateId,
        status: InvitationStatus,
        sent_to: Option<&str>,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        let sent = status == InvitationStatus::Sent;
        let (status, waiting) = (
            enum_text(&status)?,
            enum_text(&InvitationStatus::NeedsAttention)?,
        );
        let updated_at = ns(now)?;
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let agency: Option<String> = sqlx::query_scalar(
                "UPDATE invitations SET contract_template_id = $3, status = $4, sent_to = $5,
                 updated_at = $6 WHERE organization_id = $1 AND id = $2 AND status = $7
                 RETURNING agency_id",
            )
            .bind(org.as_str())
            .bind(id.0)
            .bind(template.as_str())
            .bind(&status)
            .bind(sent_to)
            .bind(updated_at)
            .bind(&waiting)
            .fetch_optional(&mut *tx)
            .await?;
            let agency = agency.ok_or(DbError::NotFound)?;
            super::tags::queue_agency_tags_pushes!(tx, org, &agency, updated_at);
            if sent {
                let details = super::notes::invitation_details(Some(template.as_str()), sent_to);
                let (note, at) = (NoteKind::InvitationSent, updated_at);
                super::notes::queue_note!(tx, org, note, "agency", &agency, &details, at, at);
            }
            tx.commit().await?;
        });
        Ok(())
    }

    async fn invitation(
        &self,
        org: &OrganizationId,
        id: InvitationId,
    ) -> DbResult<Option<Invitation>> {
        let sql = format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE organization_id = $1 AND id = $2"
        );
        let row: Option<InvitationRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(org.as_str())
                .bind(id.0)
                .fetch_optional(pool)
                .await?
        });
        row.map(InvitationRow::invitation).transpose()
    }

    async fn list_invitations(
        &self,
        org: &OrganizationId,
        agency: Option<&AgencyId>,
    ) -> DbResult<Vec<Invitation>> {
        let sql = format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations
             WHERE organization_id = $1 AND ($2 IS NULL OR agency_id = $2)
             ORDER BY created_at DESC, id DESC"
        );
        let rows: Vec<InvitationRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(org.as_str())
                .bind(agency.map(|a| a.as_str()))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(InvitationRow::invitation).collect()
    }

    async fn invitation_page(
        &self,
        org: &OrganizationId,
        filter: &InvitationFilter,
        after: Option<(DateTime<Utc>, InvitationId)>,
        limit: usize,
    ) -> DbResult<Vec<Invitation>> {
        let (before_at, before_id) = super::sql::before(after.map(|(at, id)| (at, id.0)))?;
        let status = filter.status.as_ref().map(enum_text).transpose()?;
        let sql = format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations
             WHERE organization_id = $1 AND ($2 IS NULL OR agency_id = $2)
               AND ($3 IS NULL OR status = $3)
               AND (created_at < $4 OR (created_at = $4 AND id < $5))
             ORDER BY created_at DESC, id DESC LIMIT $6"
        );
        let rows: Vec<InvitationRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(org.as_str())
                .bind(filter.agency.as_ref().map(|a| a.as_str()))
                .bind(status.as_deref())
                .bind(before_at)
                .bind(before_id)
                .bind(limit.clamp(1, 1_000) as i64)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(InvitationRow::invitation).collect()
    }
}
