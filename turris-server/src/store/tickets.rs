//! Support tickets: a minimal record about an agent or an agency. Creating one and each status
//! change queue a support-ticket note ([`super::notes`]) in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use turris_core::ids::OrganizationId;
use turris_core::notes::{NoteDetails, NoteKind, TicketFacts};
use utoipa::ToSchema;

use super::error::{DbError, DbResult, foreign_key_is_not_found};
use super::inputs::{ComplianceEntity, entity_table, entity_type_text, enum_from, enum_text};
use super::sql::{Dialect, SqlStore, from_ns, ns, with_pool};

/// Where a ticket stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// Waiting for support.
    Open,
    /// Waiting for the customer.
    Pending,
    /// Answered.
    Solved,
    /// Closed for good.
    Closed,
}

/// A support ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SupportTicket {
    /// Its id.
    pub id: String,
    /// Its number, unique in the organization (the help desk's).
    pub number: String,
    /// What it is about.
    pub subject: String,
    /// Where it stands.
    pub status: TicketStatus,
    /// Where it is (the help desk's page).
    pub link: String,
    /// The agent or agency it is about.
    #[serde(flatten)]
    pub about: ComplianceEntity,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl SupportTicket {
    fn facts(&self, previous: Option<TicketStatus>) -> DbResult<NoteDetails> {
        Ok(NoteDetails {
            ticket: Some(TicketFacts {
                number: self.number.clone(),
                subject: self.subject.clone(),
                status: enum_text(&self.status)?,
                previous_status: previous.as_ref().map(enum_text).transpose()?,
                link: self.link.clone(),
            }),
            ..NoteDetails::default()
        })
    }
}

/// Support tickets.
#[async_trait]
pub trait TicketStore: Send + Sync {
    /// Stores a ticket and queues its note; [`DbError::NotFound`] when the agent or agency is
    /// not in `org`, a conflict when the number is taken.
    async fn create_ticket(&self, org: &OrganizationId, ticket: &SupportTicket) -> DbResult<()>;
    /// Sets a ticket's status, queueing a note when it changed; the ticket as it is now, or
    /// `None` for an unknown id.
    async fn set_ticket_status(
        &self,
        org: &OrganizationId,
        id: &str,
        status: TicketStatus,
        now: DateTime<Utc>,
    ) -> DbResult<Option<SupportTicket>>;
    /// One ticket.
    async fn ticket(&self, org: &OrganizationId, id: &str) -> DbResult<Option<SupportTicket>>;
    /// A page of tickets by ascending id, after `after`.
    async fn list_tickets(
        &self,
        org: &OrganizationId,
        after: Option<&str>,
        limit: usize,
    ) -> DbResult<Vec<SupportTicket>>;
}

const COLUMNS: &str =
    "id, number, subject, status, link, about_type, about_id, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct TicketRow {
    id: String,
    number: String,
    subject: String,
    status: String,
    link: String,
    about_type: String,
    about_id: String,
    created_at: i64,
    updated_at: i64,
}

impl TicketRow {
    fn ticket(self) -> DbResult<SupportTicket> {
        Ok(SupportTicket {
            about: super::inputs::entity_from(&self.about_type, &self.about_id)?,
            id: self.id,
            number: self.number,
            subject: self.subject,
            status: enum_from(&self.status)?,
            link: self.link,
            created_at: from_ns(self.created_at),
            updated_at: from_ns(self.updated_at),
        })
    }
}

#[async_trait]
impl TicketStore for SqlStore {
    async fn create_ticket(&self, org: &OrganizationId, ticket: &SupportTicket) -> DbResult<()> {
        let (created, updated) = (ns(ticket.created_at)?, ns(ticket.updated_at)?);
        let status = enum_text(&ticket.status)?;
        let about_type = entity_type_text(&ticket.about);
        let details = ticket.facts(None)?;
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let inserted = sqlx::query(&format!(
                "INSERT INTO support_tickets (organization_id, id, number, subject, status, link,
                 about_type, about_id, created_at, updated_at)
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10
                 WHERE EXISTS (SELECT 1 FROM {} WHERE organization_id = $1 AND id = $8)",
                entity_table(&ticket.about)
            ))
            .bind(org.as_str())
            .bind(&ticket.id)
            .bind(&ticket.number)
            .bind(&ticket.subject)
            .bind(&status)
            .bind(&ticket.link)
            .bind(about_type)
            .bind(ticket.about.id())
            .bind(created)
            .bind(updated)
            .execute(&mut *tx)
            .await
            .map_err(foreign_key_is_not_found)?
            .rows_affected();
            if inserted == 0 {
                return Err(DbError::NotFound);
            }
            let (note, about) = (NoteKind::SupportTicket, ticket.about.id());
            super::notes::queue_note!(tx, org, note, about_type, about, &details, created, created);
            tx.commit().await?;
        });
        Ok(())
    }

    async fn set_ticket_status(
        &self,
        org: &OrganizationId,
        id: &str,
        status: TicketStatus,
        now: DateTime<Utc>,
    ) -> DbResult<Option<SupportTicket>> {
        let now = ns(now)?;
        let text = enum_text(&status)?;
        with_pool!(self, |pool| {
            let select = format!(
                "SELECT {COLUMNS} FROM support_tickets WHERE organization_id = $1 AND id = $2 {}",
                super::sql::for_update(pool)
            );
            let mut tx = pool.begin_write().await?;
            let row: Option<TicketRow> = sqlx::query_as(&select)
                .bind(org.as_str())
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(mut ticket) = row.map(TicketRow::ticket).transpose()? else {
                return Ok(None);
            };
            if ticket.status == status {
                return Ok(Some(ticket));
            }
            sqlx::query(
                "UPDATE support_tickets SET status = $3, updated_at = $4
                 WHERE organization_id = $1 AND id = $2",
            )
            .bind(org.as_str())
            .bind(id)
            .bind(&text)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let previous = ticket.status;
            ticket.status = status;
            ticket.updated_at = from_ns(now);
            let details = ticket.facts(Some(previous))?;
            let about_type = entity_type_text(&ticket.about);
            let (note, about) = (NoteKind::SupportTicket, ticket.about.id());
            super::notes::queue_note!(tx, org, note, about_type, about, &details, now, now);
            tx.commit().await?;
            Ok(Some(ticket))
        })
    }

    async fn ticket(&self, org: &OrganizationId, id: &str) -> DbResult<Option<SupportTicket>> {
        let sql =
            format!("SELECT {COLUMNS} FROM support_tickets WHERE organization_id = $1 AND id = $2");
        let row: Option<TicketRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(org.as_str())
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(TicketRow::ticket).transpose()
    }

    async fn list_tickets(
        &self,
        org: &OrganizationId,
        after: Option<&str>,
        limit: usize,
    ) -> DbResult<Vec<SupportTicket>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM support_tickets WHERE organization_id = $1 AND id > $2
             ORDER BY id LIMIT $3"
        );
        let rows: Vec<TicketRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(org.as_str())
                .bind(after.unwrap_or(""))
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(TicketRow::ticket).collect()
    }
}
