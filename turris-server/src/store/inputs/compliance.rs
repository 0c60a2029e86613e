//! Compliance statuses: what they are about, how they are stored, and what a real change
//! writes beside them (the debounce inbox's status change, a tags push).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use turris_core::ids::{AgencyId, AgentId, OrganizationId};
use turris_core::record::{AgencyDraft, AgentDraft, StateCode};
use turris_webhooks::{ComplianceStatus, EntityType, StatusChangeEvent};

use super::enum_from;
use crate::store::error::{DbError, DbResult};
use crate::store::sql::from_ns;

/// An agency or an agent: what compliance and NIPR results are about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "entityType", content = "entityId", rename_all = "snake_case")]
pub enum ComplianceEntity {
    /// An agency.
    Agency(AgencyId),
    /// An agent.
    Agent(AgentId),
}

impl ComplianceEntity {
    /// Agency or agent.
    pub fn entity_type(&self) -> EntityType {
        match self {
            ComplianceEntity::Agency(_) => EntityType::Agency,
            ComplianceEntity::Agent(_) => EntityType::Agent,
        }
    }

    /// The id as text.
    pub fn id(&self) -> &str {
        match self {
            ComplianceEntity::Agency(id) => id.as_str(),
            ComplianceEntity::Agent(id) => id.as_str(),
        }
    }
}

/// A compliance status to set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplianceUpdate {
    /// Agency or agent.
    pub entity: ComplianceEntity,
    /// Product.
    pub product: String,
    /// US state.
    pub state: StateCode,
    /// New status.
    pub status: ComplianceStatus,
}

impl ComplianceUpdate {
    /// The record this update stores.
    pub(super) fn stored_at(&self, updated_at: DateTime<Utc>) -> ComplianceRecord {
        ComplianceRecord {
            entity: self.entity.clone(),
            product: self.product.clone(),
            state: self.state,
            status: self.status,
            updated_at,
        }
    }
}

/// A stored compliance status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ComplianceRecord {
    /// Agency or agent.
    pub entity: ComplianceEntity,
    /// Product.
    pub product: String,
    /// US state.
    pub state: StateCode,
    /// Status.
    pub status: ComplianceStatus,
    /// When it was last set.
    pub updated_at: DateTime<Utc>,
}

/// What one update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplianceTransition {
    /// The status now stored.
    pub record: ComplianceRecord,
    /// The status before; `None` when the pair had none.
    pub previous: Option<ComplianceStatus>,
    /// Whether the status really changed (a first status of `pending` is no change).
    pub changed: bool,
}

pub(crate) fn entity_type_text(entity: &ComplianceEntity) -> &'static str {
    match entity {
        ComplianceEntity::Agency(_) => "agency",
        ComplianceEntity::Agent(_) => "agent",
    }
}

pub(crate) fn entity_from(entity_type: &str, id: &str) -> DbResult<ComplianceEntity> {
    let bad = |e: turris_core::Error| DbError::corrupt(e);
    match entity_type {
        "agency" => Ok(ComplianceEntity::Agency(AgencyId::parse(id).map_err(bad)?)),
        "agent" => Ok(ComplianceEntity::Agent(AgentId::parse(id).map_err(bad)?)),
        other => Err(DbError::corrupt(format!("entity type {other}"))),
    }
}

/// The debounce inbox's record of one real change.
pub(super) fn status_change(
    org: &OrganizationId,
    update: &ComplianceUpdate,
    about: EntitySummary,
    before: ComplianceStatus,
    at: DateTime<Utc>,
) -> StatusChangeEvent {
    StatusChangeEvent {
        organization: org.as_str().to_owned(),
        entity_type: update.entity.entity_type(),
        entity_id: update.entity.id().to_owned(),
        npn: about.npn,
        name: about.name,
        product: update.product.clone(),
        state: update.state.as_str().to_owned(),
        previous_status: before,
        status: update.status,
        at,
    }
}

/// The name and NPN of an entity, as its status-change payload shows them.
pub(super) struct EntitySummary {
    name: String,
    npn: Option<String>,
}

pub(super) fn summary(entity: &ComplianceEntity, data: &str) -> DbResult<EntitySummary> {
    Ok(match entity {
        ComplianceEntity::Agency(_) => {
            let d: AgencyDraft = serde_json::from_str(data)?;
            EntitySummary {
                name: d.name,
                npn: d.npn.map(|n| n.as_str().to_owned()),
            }
        }
        ComplianceEntity::Agent(_) => {
            let d: AgentDraft = serde_json::from_str(data)?;
            EntitySummary {
                name: format!("{} {}", d.first_name, d.last_name)
                    .trim()
                    .to_owned(),
                npn: d.npn.map(|n| n.as_str().to_owned()),
            }
        }
    })
}

pub(crate) fn entity_table(entity: &ComplianceEntity) -> &'static str {
    match entity {
        ComplianceEntity::Agency(_) => "agencies",
        ComplianceEntity::Agent(_) => "agents",
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ComplianceRow {
    entity_type: String,
    entity_id: String,
    product: String,
    state: String,
    status: String,
    updated_at: i64,
}

impl ComplianceRow {
    pub(super) fn record(self) -> DbResult<ComplianceRecord> {
        Ok(ComplianceRecord {
            entity: entity_from(&self.entity_type, &self.entity_id)?,
            product: self.product,
            state: StateCode::parse(&self.state).map_err(DbError::corrupt)?,
            status: enum_from(&self.status)?,
            updated_at: from_ns(self.updated_at),
        })
    }
}

/// Stores `$update`'s status for `$org` inside the open transaction `$tx` and evaluates to the
/// entity's stored data and the status it replaced, `(String, Option<ComplianceStatus>)`;
/// [`DbError::NotFound`] (through `?`) when the entity is not in `$org`.
macro_rules! upsert_compliance_status {
    ($tx:expr, $pool:expr, $org:expr, $update:expr, $now_ns:expr) => {{
        let update: &$crate::store::ComplianceUpdate = $update;
        let entity_type = $crate::store::inputs::entity_type_text(&update.entity);
        let data: Option<String> = sqlx::query_scalar(&format!(
            "SELECT data FROM {} WHERE organization_id = $1 AND id = $2",
            $crate::store::inputs::entity_table(&update.entity)
        ))
        .bind($org.as_str())
        .bind(update.entity.id())
        .fetch_optional(&mut *$tx)
        .await?;
        let Some(data) = data else {
            return Err($crate::store::DbError::NotFound);
        };
        let previous: Option<String> = sqlx::query_scalar(&format!(
            "SELECT status FROM compliance_statuses WHERE organization_id = $1
             AND entity_type = $2 AND entity_id = $3 AND product = $4 AND state = $5 {}",
            $crate::store::sql::for_update($pool)
        ))
        .bind($org.as_str())
        .bind(entity_type)
        .bind(update.entity.id())
        .bind(&update.product)
        .bind(update.state.as_str())
        .fetch_optional(&mut *$tx)
        .await?;
        let previous: Option<turris_webhooks::ComplianceStatus> = previous
            .as_deref()
            .map($crate::store::inputs::enum_from)
            .transpose()?;
        sqlx::query(
            "INSERT INTO compliance_statuses (organization_id, entity_type, entity_id,
             product, state, status, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (organization_id, entity_type, entity_id, product, state)
             DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at",
        )
        .bind($org.as_str())
        .bind(entity_type)
        .bind(update.entity.id())
        .bind(&update.product)
        .bind(update.state.as_str())
        .bind($crate::store::inputs::enum_text(&update.status)?)
        .bind($now_ns)
        .execute(&mut *$tx)
        .await?;
        (data, previous)
    }};
}
pub(super) use upsert_compliance_status;

/// Writes `$change` (a [`StatusChangeEvent`]) to the debounce inbox of its type inside the
/// open transaction `$tx`.
macro_rules! record_compliance_change {
    ($tx:expr, $org:expr, $change:expr, $now_ns:expr) => {{
        let change: &turris_webhooks::StatusChangeEvent = $change;
        sqlx::query(
            "INSERT INTO compliance_changes (organization_id, webhook_type, change,
             recorded_at) VALUES ($1, $2, $3, $4)",
        )
        .bind($org.as_str())
        .bind(change.entity_type.status_change_type().as_str())
        .bind(serde_json::to_string(change)?)
        .bind($now_ns)
        .execute(&mut *$tx)
        .await?;
    }};
}
pub(super) use record_compliance_change;
