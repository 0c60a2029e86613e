//! turris-core's [`RecordStore`]: each record as JSON, beside the columns it is found by.
//! Names and emails are normalised in Rust (`matching::normalize`: Unicode trim and lower
//! case) before they are stored or compared, since SQL's `lower` differs per backend.

use async_trait::async_trait;
use turris_core::ids::{AgencyContactId, AgencyId, AgentId, OrganizationId};
use turris_core::matching::{AgencyKey, AgentKey, normalize};
use turris_core::record::{Agency, AgencyContact, AgencyDraft, Agent, AgentDraft};
use turris_core::store::{RecordStore, StoreResult};

use super::error::{DbError, DbResult};
use super::sql::{SqlStore, limit, with_pool};

#[derive(sqlx::FromRow)]
pub(crate) struct DataRow {
    pub(crate) id: String,
    pub(crate) data: String,
}

pub(crate) fn agency_from_row(row: DataRow) -> DbResult<Agency> {
    Ok(Agency {
        id: AgencyId::parse(&row.id).map_err(DbError::corrupt)?,
        data: serde_json::from_str::<AgencyDraft>(&row.data)?,
    })
}

pub(crate) fn agent_from_row(row: DataRow) -> DbResult<Agent> {
    Ok(Agent {
        id: AgentId::parse(&row.id).map_err(DbError::corrupt)?,
        data: serde_json::from_str::<AgentDraft>(&row.data)?,
    })
}

fn contact_from_row(row: DataRow) -> DbResult<AgencyContact> {
    Ok(serde_json::from_str(&row.data)?)
}

fn email_key(email: Option<&str>) -> Option<String> {
    email.map(normalize).filter(|e| !e.is_empty())
}

pub(crate) struct AgencyColumns {
    pub(crate) data: String,
    pub(crate) npn: Option<String>,
    pub(crate) producer_code: Option<String>,
}

pub(crate) fn agency_columns(agency: &Agency) -> DbResult<AgencyColumns> {
    Ok(AgencyColumns {
        data: serde_json::to_string(&agency.data)?,
        npn: agency.data.npn.as_ref().map(|n| n.as_str().to_owned()),
        producer_code: agency.data.producer_code.clone(),
    })
}

pub(crate) struct AgentColumns {
    pub(crate) data: String,
    pub(crate) npn: Option<String>,
    pub(crate) first: String,
    pub(crate) last: String,
    pub(crate) email: Option<String>,
    pub(crate) agency: Option<String>,
}

pub(crate) fn agent_columns(agent: &Agent) -> DbResult<AgentColumns> {
    Ok(AgentColumns {
        data: serde_json::to_string(&agent.data)?,
        npn: agent.data.npn.as_ref().map(|n| n.as_str().to_owned()),
        first: normalize(&agent.data.first_name),
        last: normalize(&agent.data.last_name),
        email: email_key(agent.data.email.as_deref()),
        agency: agent.data.agency_id.as_ref().map(|a| a.as_str().to_owned()),
    })
}

// The writes of agencies and agents, as macros over an executor (a pool, or `&mut *tx` inside a
// transaction such as outbound sync's outbox, [`super::outbound`]), so both share one query.
// Each evaluates to the `Result` of `execute`; `$c` is the record's columns.

/// Runs `$sql` on `$exec` with an agency's binds: `$1` organization, `$2` id, `$3` data,
/// `$4` NPN, `$5` producer code.
macro_rules! agency_row {
    ($sql:expr, $exec:expr, $org:expr, $agency:expr, $c:expr) => {
        sqlx::query($sql)
            .bind($org.as_str())
            .bind($agency.id.as_str())
            .bind(&$c.data)
            .bind(&$c.npn)
            .bind(&$c.producer_code)
            .execute($exec)
            .await
    };
}
pub(crate) use agency_row;

macro_rules! insert_agency_row {
    ($exec:expr, $org:expr, $agency:expr, $c:expr) => {
        $crate::store::records::agency_row!(
            "INSERT INTO agencies (organization_id, id, data, npn, producer_code)
             VALUES ($1, $2, $3, $4, $5)",
            $exec,
            $org,
            $agency,
            $c
        )
    };
}
pub(crate) use insert_agency_row;

macro_rules! update_agency_row {
    ($exec:expr, $org:expr, $agency:expr, $c:expr) => {
        $crate::store::records::agency_row!(
            "UPDATE agencies SET data = $3, npn = $4, producer_code = $5
             WHERE organization_id = $1 AND id = $2",
            $exec,
            $org,
            $agency,
            $c
        )
    };
}
pub(crate) use update_agency_row;

/// Runs `$sql` on `$exec` with an agent's binds: `$1` organization, `$2` id, `$3` data, `$4`
/// NPN, `$5`–`$7` first name, last name and email keys, `$8` agency.
macro_rules! agent_row {
    ($sql:expr, $exec:expr, $org:expr, $agent:expr, $c:expr) => {
        sqlx::query($sql)
            .bind($org.as_str())
            .bind($agent.id.as_str())
            .bind(&$c.data)
            .bind(&$c.npn)
            .bind(&$c.first)
            .bind(&$c.last)
            .bind(&$c.email)
            .bind(&$c.agency)
            .execute($exec)
            .await
    };
}
pub(crate) use agent_row;

macro_rules! insert_agent_row {
    ($exec:expr, $org:expr, $agent:expr, $c:expr) => {
        $crate::store::records::agent_row!(
            "INSERT INTO agents (organization_id, id, data, npn, first_name_key,
             last_name_key, email_key, agency_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            $exec,
            $org,
            $agent,
            $c
        )
    };
}
pub(crate) use insert_agent_row;

macro_rules! update_agent_row {
    ($exec:expr, $org:expr, $agent:expr, $c:expr) => {
        $crate::store::records::agent_row!(
            "UPDATE agents SET data = $3, npn = $4, first_name_key = $5, last_name_key = $6,
             email_key = $7, agency_id = $8 WHERE organization_id = $1 AND id = $2",
            $exec,
            $org,
            $agent,
            $c
        )
    };
}
pub(crate) use update_agent_row;

pub(crate) struct ContactColumns {
    pub(crate) data: String,
    pub(crate) email: Option<String>,
}

pub(crate) fn contact_columns(contact: &AgencyContact) -> DbResult<ContactColumns> {
    Ok(ContactColumns {
        data: serde_json::to_string(contact)?,
        email: email_key(contact.email.as_deref()),
    })
}

// An agency contact is written only while its agency exists in the organization: zero rows
// affected means the agency (or, for an update, the contact) is not found.

/// Runs `$sql` on `$exec` with an agency contact's binds: `$1` organization, `$2` id, `$3`
/// agency, `$4` data, `$5` email key.
macro_rules! agency_contact_row {
    ($sql:expr, $exec:expr, $org:expr, $contact:expr, $c:expr) => {
        sqlx::query($sql)
            .bind($org.as_str())
            .bind($contact.id.as_str())
            .bind($contact.agency_id.as_str())
            .bind(&$c.data)
            .bind(&$c.email)
            .execute($exec)
            .await
    };
}
pub(crate) use agency_contact_row;

macro_rules! insert_agency_contact_row {
    ($exec:expr, $org:expr, $contact:expr, $c:expr) => {
        $crate::store::records::agency_contact_row!(
            "INSERT INTO agency_contacts (organization_id, id, agency_id, data, email_key)
             SELECT $1, $2, $3, $4, $5
             WHERE EXISTS (SELECT 1 FROM agencies WHERE organization_id = $1 AND id = $3)",
            $exec,
            $org,
            $contact,
            $c
        )
    };
}
pub(crate) use insert_agency_contact_row;

macro_rules! update_agency_contact_row {
    ($exec:expr, $org:expr, $contact:expr, $c:expr) => {
        $crate::store::records::agency_contact_row!(
            "UPDATE agency_contacts SET agency_id = $3, data = $4, email_key = $5
             WHERE organization_id = $1 AND id = $2
             AND EXISTS (SELECT 1 FROM agencies WHERE organization_id = $1 AND id = $3)",
            $exec,
            $org,
            $contact,
            $c
        )
    };
}
pub(crate) use update_agency_contact_row;

impl SqlStore {
    /// One record of `table` (`agencies`, `agents` or `agency_contacts`) by organization and
    /// id, as stored.
    async fn data_row(
        &self,
        table: &str,
        org: &OrganizationId,
        id: &str,
    ) -> DbResult<Option<DataRow>> {
        let sql = format!("SELECT id, data FROM {table} WHERE organization_id = $1 AND id = $2");
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(org.as_str())
                .bind(id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// The first record of `table` (by id) whose `column` is `value`.
    async fn first_row_by(
        &self,
        table: &str,
        org: &OrganizationId,
        column: &str,
        value: &str,
    ) -> DbResult<Option<DataRow>> {
        let sql = format!(
            "SELECT id, data FROM {table} WHERE organization_id = $1 AND {column} = $2
             ORDER BY id LIMIT 1"
        );
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(org.as_str())
                .bind(value)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// A page of `table`'s records by ascending id, after `after`.
    async fn data_page(
        &self,
        table: &str,
        org: &OrganizationId,
        after: Option<&str>,
        page: usize,
    ) -> DbResult<Vec<DataRow>> {
        let sql = format!(
            "SELECT id, data FROM {table} WHERE organization_id = $1 AND id > $2
             ORDER BY id LIMIT $3"
        );
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(org.as_str())
                .bind(after.unwrap_or(""))
                .bind(limit(page))
                .fetch_all(pool)
                .await?
        }))
    }
}

/// An update or a conditional insert that wrote no row: the record (or its agency) is not
/// found.
fn written(rows: u64) -> StoreResult<()> {
    if rows == 0 {
        return Err(DbError::NotFound.into());
    }
    Ok(())
}

#[async_trait]
impl RecordStore for SqlStore {
    async fn insert_agency(&self, org: &OrganizationId, agency: &Agency) -> StoreResult<()> {
        let c = agency_columns(agency)?;
        with_pool!(self, |pool| {
            insert_agency_row!(pool, org, agency, c).map_err(DbError::from)?;
        });
        Ok(())
    }

    async fn get_agency(&self, org: &OrganizationId, id: &AgencyId) -> StoreResult<Option<Agency>> {
        let row = self.data_row("agencies", org, id.as_str()).await?;
        Ok(row.map(agency_from_row).transpose()?)
    }

    async fn update_agency(&self, org: &OrganizationId, agency: &Agency) -> StoreResult<()> {
        let c = agency_columns(agency)?;
        let updated = with_pool!(self, |pool| {
            update_agency_row!(pool, org, agency, c)
                .map_err(DbError::from)?
                .rows_affected()
        });
        written(updated)
    }

    async fn find_agency(
        &self,
        org: &OrganizationId,
        key: &AgencyKey,
    ) -> StoreResult<Option<Agency>> {
        let (column, value) = match key {
            AgencyKey::Npn(npn) => ("npn", npn.as_str()),
            AgencyKey::ProducerCode(code) => ("producer_code", code.as_str()),
        };
        let row = self.first_row_by("agencies", org, column, value).await?;
        Ok(row.map(agency_from_row).transpose()?)
    }

    async fn insert_agent(&self, org: &OrganizationId, agent: &Agent) -> StoreResult<()> {
        let c = agent_columns(agent)?;
        with_pool!(self, |pool| {
            insert_agent_row!(pool, org, agent, c).map_err(DbError::from)?;
        });
        Ok(())
    }

    async fn get_agent(&self, org: &OrganizationId, id: &AgentId) -> StoreResult<Option<Agent>> {
        let row = self.data_row("agents", org, id.as_str()).await?;
        Ok(row.map(agent_from_row).transpose()?)
    }

    async fn update_agent(&self, org: &OrganizationId, agent: &Agent) -> StoreResult<()> {
        let c = agent_columns(agent)?;
        let updated = with_pool!(self, |pool| {
            update_agent_row!(pool, org, agent, c)
                .map_err(DbError::from)?
                .rows_affected()
        });
        written(updated)
    }

    async fn find_agent(&self, org: &OrganizationId, key: &AgentKey) -> StoreResult<Option<Agent>> {
        let row: Option<DataRow> = match key {
            AgentKey::Npn { npn } => {
                self.first_row_by("agents", org, "npn", npn.as_str())
                    .await?
            }
            AgentKey::NameAndEmail {
                first_name,
                last_name,
                email,
            } => with_pool!(self, |pool| {
                sqlx::query_as(
                    "SELECT id, data FROM agents WHERE organization_id = $1 AND email_key = $2
                     AND first_name_key = $3 AND last_name_key = $4 ORDER BY id LIMIT 1",
                )
                .bind(org.as_str())
                .bind(email)
                .bind(first_name)
                .bind(last_name)
                .fetch_optional(pool)
                .await
                .map_err(DbError::from)?
            }),
        };
        Ok(row.map(agent_from_row).transpose()?)
    }

    async fn insert_agency_contact(
        &self,
        org: &OrganizationId,
        contact: &AgencyContact,
    ) -> StoreResult<()> {
        let c = contact_columns(contact)?;
        let inserted = with_pool!(self, |pool| {
            insert_agency_contact_row!(pool, org, contact, c)
                .map_err(DbError::from)?
                .rows_affected()
        });
        written(inserted)
    }

    async fn get_agency_contact(
        &self,
        org: &OrganizationId,
        id: &AgencyContactId,
    ) -> StoreResult<Option<AgencyContact>> {
        let row = self.data_row("agency_contacts", org, id.as_str()).await?;
        Ok(row.map(contact_from_row).transpose()?)
    }

    async fn update_agency_contact(
        &self,
        org: &OrganizationId,
        contact: &AgencyContact,
    ) -> StoreResult<()> {
        let c = contact_columns(contact)?;
        let updated = with_pool!(self, |pool| {
            update_agency_contact_row!(pool, org, contact, c)
                .map_err(DbError::from)?
                .rows_affected()
        });
        written(updated)
    }

    async fn list_agency_contacts(
        &self,
        org: &OrganizationId,
        agency: &AgencyId,
    ) -> StoreResult<Vec<AgencyContact>> {
        let rows: Vec<DataRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, data FROM agency_contacts WHERE organization_id = $1 AND agency_id = $2
                 ORDER BY id",
            )
            .bind(org.as_str())
            .bind(agency.as_str())
            .fetch_all(pool)
            .await
            .map_err(DbError::from)?
        });
        Ok(rows
            .into_iter()
            .map(contact_from_row)
            .collect::<DbResult<_>>()?)
    }

    async fn find_agency_contact_by_email(
        &self,
        org: &OrganizationId,
        agency: &AgencyId,
        email: &str,
    ) -> StoreResult<Option<AgencyContact>> {
        let Some(email) = email_key(Some(email)) else {
            return Ok(None);
        };
        let row: Option<DataRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, data FROM agency_contacts
                 WHERE organization_id = $1 AND agency_id = $2 AND email_key = $3
                 ORDER BY id LIMIT 1",
            )
            .bind(org.as_str())
            .bind(agency.as_str())
            .bind(&email)
            .fetch_optional(pool)
            .await
            .map_err(DbError::from)?
        });
        Ok(row.map(contact_from_row).transpose()?)
    }
}

/// Records page by page, for the records API and reconciliation.
#[async_trait]
pub trait RecordPageStore: Send + Sync {
    /// Lists agencies by ascending id, after `after`, at most `limit` (clamped to 1..=100).
    async fn list_agencies(
        &self,
        org: &OrganizationId,
        after: Option<&AgencyId>,
        limit: usize,
    ) -> DbResult<Vec<Agency>>;

    /// Lists agents by ascending id, after `after`, at most `limit` (clamped to 1..=100).
    async fn list_agents(
        &self,
        org: &OrganizationId,
        after: Option<&AgentId>,
        limit: usize,
    ) -> DbResult<Vec<Agent>>;

    /// Lists an agency's contacts by ascending id, after `after`, at most `limit` (clamped to
    /// 1..=100).
    async fn list_agency_contacts_page(
        &self,
        org: &OrganizationId,
        agency: &AgencyId,
        after: Option<&AgencyContactId>,
        limit: usize,
    ) -> DbResult<Vec<AgencyContact>>;
}

#[async_trait]
impl RecordPageStore for SqlStore {
    async fn list_agencies(
        &self,
        org: &OrganizationId,
        after: Option<&AgencyId>,
        page: usize,
    ) -> DbResult<Vec<Agency>> {
        let rows = self
            .data_page("agencies", org, after.map(|a| a.as_str()), page)
            .await?;
        rows.into_iter().map(agency_from_row).collect()
    }

    async fn list_agents(
        &self,
        org: &OrganizationId,
        after: Option<&AgentId>,
        page: usize,
    ) -> DbResult<Vec<Agent>> {
        let rows = self
            .data_page("agents", org, after.map(|a| a.as_str()), page)
            .await?;
        rows.into_iter().map(agent_from_row).collect()
    }

    async fn list_agency_contacts_page(
        &self,
        org: &OrganizationId,
        agency: &AgencyId,
        after: Option<&AgencyContactId>,
        page: usize,
    ) -> DbResult<Vec<AgencyContact>> {
        let rows: Vec<DataRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, data FROM agency_contacts WHERE organization_id = $1
                 AND agency_id = $2 AND id > $3 ORDER BY id LIMIT $4",
            )
            .bind(org.as_str())
            .bind(agency.as_str())
            .bind(after.map_or("", |a| a.as_str()))
            .bind(limit(page))
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(contact_from_row).collect()
    }
}
