//! The Turris-side inputs of the records API that produce webhooks (compliance statuses, NIPR
//! results, producer agreements), each written in one transaction with its outbox rows.

mod compliance;
mod events;
mod group;
mod outbox;
mod results;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use turris_core::ids::{AgencyId, ContractTemplateId, OrganizationId};
use turris_core::notes::{NoteDetails, NoteKind};

use turris_webhooks::{SyncKind, SyncOutcome};
use uuid::Uuid;

use super::error::{DbError, DbResult, foreign_key_is_not_found};
use super::sql::{Dialect, SqlStore, from_ns, ns, with_pool};
use serde::{Deserialize, Serialize};
use turris_webhooks::AgreementSigner;

use super::*;
pub use compliance::{ComplianceEntity, ComplianceRecord, ComplianceTransition, ComplianceUpdate};
use compliance::{
    ComplianceRow, record_compliance_change, status_change, summary, upsert_compliance_status,
};
pub(crate) use compliance::{entity_from, entity_table, entity_type_text};
pub(crate) use group::GroupCommit;
pub use group::{NiprOutbox, NiprWrite};
pub use outbox::{Enqueued, OutboxEvent};
pub(crate) use outbox::{commit_with_outbox, write_outbox};

/// A NIPR fetch or full refresh that reached a terminal state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NiprSyncResult {
    /// Its id.
    pub id: NiprSyncId,
    /// Agency or agent.
    pub entity: ComplianceEntity,
    /// Fetch or full refresh.
    pub kind: SyncKind,
    /// Success or error.
    pub outcome: SyncOutcome,
    /// The error, on failure.
    pub error: Option<String>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
}

/// An executed producer agreement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProducerAgreement {
    /// Its id.
    pub id: AgreementId,
    /// The agency that signed.
    pub agency_id: AgencyId,
    /// The contract template signed.
    pub contract_template_id: ContractTemplateId,
    /// When it was executed.
    pub executed_at: DateTime<Utc>,
    /// Who signed.
    pub signers: Vec<AgreementSigner>,
}

/// The Turris-side inputs of the records API that produce webhooks: compliance statuses, NIPR
/// results and producer agreements, each written in one transaction with its outbox rows.
#[async_trait]
pub trait TurrisInputStore: Send + Sync {
    /// Sets compliance statuses in one transaction. Every entity must exist in `org`
    /// ([`DbError::NotFound`], nothing written). Each real change is also written, in the same
    /// transaction, as a [`StatusChangeEvent`] to the debounce inbox of its type (see
    /// [`DebounceStore`]); a first status counts as a change from `pending`.
    async fn set_compliance_statuses(
        &self,
        org: &OrganizationId,
        updates: &[ComplianceUpdate],
        now: DateTime<Utc>,
    ) -> DbResult<Vec<ComplianceTransition>>;
    /// An entity's statuses, by product then state.
    async fn compliance_statuses(
        &self,
        org: &OrganizationId,
        entity: &ComplianceEntity,
    ) -> DbResult<Vec<ComplianceRecord>>;

    /// Stores a NIPR result and its outbox events in one transaction; [`DbError::NotFound`]
    /// when the entity is not in `org`.
    async fn record_nipr_sync(
        &self,
        org: &OrganizationId,
        result: &NiprSyncResult,
        outbox: &[OutboxEvent],
    ) -> DbResult<Vec<Enqueued>>;
    /// Stores a NIPR result and its `entity_compliance_data_synchronized` event, created at
    /// `at` and carrying the entity's NPN as the same transaction reads it (nothing needs to
    /// read the entity first); [`DbError::NotFound`] when the entity is not in `org`.
    async fn record_nipr_result(
        &self,
        org: &OrganizationId,
        result: &NiprSyncResult,
        at: DateTime<Utc>,
    ) -> DbResult<Vec<Enqueued>>;
    /// A page of an entity's NIPR results, newest first, after `after` (the finish time and
    /// id of the previous page's last one).
    async fn list_nipr_syncs(
        &self,
        org: &OrganizationId,
        entity: &ComplianceEntity,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> DbResult<Vec<NiprSyncResult>>;

    /// Stores an executed agreement and its outbox events in one transaction;
    /// [`DbError::NotFound`] when the agency or template is not in `org`.
    async fn record_producer_agreement(
        &self,
        org: &OrganizationId,
        agreement: &ProducerAgreement,
        outbox: &[OutboxEvent],
    ) -> DbResult<Vec<Enqueued>>;
    /// One agreement.
    async fn producer_agreement(
        &self,
        org: &OrganizationId,
        id: AgreementId,
    ) -> DbResult<Option<ProducerAgreement>>;
    /// A page of agreements, newest first, after `after` (the execution time and id of the
    /// previous page's last one); only one agency's when `agency` is given.
    async fn list_producer_agreements(
        &self,
        org: &OrganizationId,
        agency: Option<&AgencyId>,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> DbResult<Vec<ProducerAgreement>>;

    /// Writes outbox events alone (for changes with no row of their own, e.g. a flushed
    /// debounce window): one delivery event per webhook of the type.
    async fn enqueue_outbox(
        &self,
        org: &OrganizationId,
        outbox: &[OutboxEvent],
    ) -> DbResult<Vec<Enqueued>>;
}

pub(crate) fn enum_text<T: serde::Serialize>(value: &T) -> DbResult<String> {
    match serde_json::to_value(value)? {
        serde_json::Value::String(s) => Ok(s),
        other => Err(DbError::corrupt(format!("not a unit enum: {other}"))),
    }
}

pub(crate) fn enum_from<T: serde::de::DeserializeOwned>(text: &str) -> DbResult<T> {
    Ok(serde_json::from_value(serde_json::Value::String(
        text.to_owned(),
    ))?)
}
#[derive(sqlx::FromRow)]
struct NiprRow {
    id: Uuid,
    entity_type: String,
    entity_id: String,
    kind: String,
    outcome: String,
    error: Option<String>,
    finished_at: i64,
}

impl NiprRow {
    fn result(self) -> DbResult<NiprSyncResult> {
        Ok(NiprSyncResult {
            id: NiprSyncId(self.id),
            entity: entity_from(&self.entity_type, &self.entity_id)?,
            kind: enum_from::<SyncKind>(&self.kind)?,
            outcome: enum_from::<SyncOutcome>(&self.outcome)?,
            error: self.error,
            finished_at: from_ns(self.finished_at),
        })
    }
}

#[derive(sqlx::FromRow)]
struct AgreementRow {
    id: Uuid,
    agency_id: String,
    contract_template_id: String,
    executed_at: i64,
    signers: String,
}

const AGREEMENT_COLUMNS: &str = "id, agency_id, contract_template_id, executed_at, signers";

impl AgreementRow {
    fn agreement(self) -> DbResult<ProducerAgreement> {
        let bad = |e: turris_core::Error| DbError::corrupt(e);
        Ok(ProducerAgreement {
            id: AgreementId(self.id),
            agency_id: AgencyId::parse(&self.agency_id).map_err(bad)?,
            contract_template_id: ContractTemplateId::parse(&self.contract_template_id)
                .map_err(bad)?,
            executed_at: from_ns(self.executed_at),
            signers: serde_json::from_str(&self.signers)?,
        })
    }
}

#[async_trait]
impl TurrisInputStore for SqlStore {
    async fn set_compliance_statuses(
        &self,
        org: &OrganizationId,
        updates: &[ComplianceUpdate],
        now: DateTime<Utc>,
    ) -> DbResult<Vec<ComplianceTransition>> {
        let now_ns = ns(now)?;
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let mut transitions = Vec::with_capacity(updates.len());
            // Each linked entity's tags follow its statuses: one tags push per entity.
            let mut tagged: Vec<(&str, String)> = Vec::new();
            for update in updates {
                let entity_type = entity_type_text(&update.entity);
                let (data, previous) = upsert_compliance_status!(tx, pool, org, update, now_ns);
                let changed_from = update.status.changed_from(previous);
                let retagged = (entity_type, update.entity.id().to_owned());
                if (changed_from.is_some() || previous.is_none()) && !tagged.contains(&retagged) {
                    super::tags::queue_tags_push!(tx, org, entity_type, &retagged.1, now_ns);
                    tagged.push(retagged);
                }
                if let Some(before) = changed_from {
                    let change =
                        status_change(org, update, summary(&update.entity, &data)?, before, now);
                    record_compliance_change!(tx, org, &change, now_ns);
                }
                transitions.push(ComplianceTransition {
                    record: update.stored_at(from_ns(now_ns)),
                    previous,
                    changed: changed_from.is_some(),
                });
            }
            tx.commit().await?;
            Ok(transitions)
        })
    }

    async fn compliance_statuses(
        &self,
        org: &OrganizationId,
        entity: &ComplianceEntity,
    ) -> DbResult<Vec<ComplianceRecord>> {
        let rows: Vec<ComplianceRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT entity_type, entity_id, product, state, status, updated_at
                 FROM compliance_statuses
                 WHERE organization_id = $1 AND entity_type = $2 AND entity_id = $3
                 ORDER BY product, state",
            )
            .bind(org.as_str())
            .bind(entity_type_text(entity))
            .bind(entity.id())
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(ComplianceRow::record).collect()
    }

    async fn record_nipr_sync(
        &self,
        org: &OrganizationId,
        result: &NiprSyncResult,
        outbox: &[OutboxEvent],
    ) -> DbResult<Vec<Enqueued>> {
        // Concurrent results share one transaction (see `group`).
        self.record_nipr_grouped(NiprWrite {
            org: org.clone(),
            result: result.clone(),
            outbox: NiprOutbox::Events(outbox.to_vec()),
        })
        .await
    }

    async fn record_nipr_result(
        &self,
        org: &OrganizationId,
        result: &NiprSyncResult,
        at: DateTime<Utc>,
    ) -> DbResult<Vec<Enqueued>> {
        self.record_nipr_grouped(NiprWrite {
            org: org.clone(),
            result: result.clone(),
            outbox: NiprOutbox::Synchronized(at),
        })
        .await
    }

    async fn list_nipr_syncs(
        &self,
        org: &OrganizationId,
        entity: &ComplianceEntity,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> DbResult<Vec<NiprSyncResult>> {
        let (before_at, before_id) = super::sql::before(after)?;
        let rows: Vec<NiprRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, entity_type, entity_id, kind, outcome, error, finished_at
                 FROM nipr_syncs WHERE organization_id = $1 AND entity_type = $2
                 AND entity_id = $3 AND (finished_at < $4 OR (finished_at = $4 AND id < $5))
                 ORDER BY finished_at DESC, id DESC LIMIT $6",
            )
            .bind(org.as_str())
            .bind(entity_type_text(entity))
            .bind(entity.id())
            .bind(before_at)
            .bind(before_id)
            .bind(limit.clamp(1, 1_000) as i64)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(NiprRow::result).collect()
    }

    async fn record_producer_agreement(
        &self,
        org: &OrganizationId,
        agreement: &ProducerAgreement,
        outbox: &[OutboxEvent],
    ) -> DbResult<Vec<Enqueued>> {
        let executed = ns(agreement.executed_at)?;
        let signers = serde_json::to_string(&agreement.signers)?;
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO producer_agreements (organization_id, id, agency_id,
                 contract_template_id, executed_at, signers) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(org.as_str())
            .bind(agreement.id.0)
            .bind(agreement.agency_id.as_str())
            .bind(agreement.contract_template_id.as_str())
            .bind(executed)
            .bind(&signers)
            .execute(&mut *tx)
            .await
            .map_err(foreign_key_is_not_found)?;
            let agency = agreement.agency_id.as_str();
            super::tags::queue_agency_tags_pushes!(tx, org, agency, executed);
            let details = NoteDetails {
                contract: Some(agreement.contract_template_id.to_string()),
                signers: agreement
                    .signers
                    .iter()
                    .map(|s| format!("{} <{}>", s.name, s.email))
                    .collect(),
                ..NoteDetails::default()
            };
            let (note, now) = (NoteKind::AgreementExecuted, ns(Utc::now())?);
            super::notes::queue_note!(tx, org, note, "agency", agency, &details, executed, now);
            Ok(commit_with_outbox!(self, tx, org, outbox))
        })
    }

    async fn producer_agreement(
        &self,
        org: &OrganizationId,
        id: AgreementId,
    ) -> DbResult<Option<ProducerAgreement>> {
        let sql = format!(
            "SELECT {AGREEMENT_COLUMNS} FROM producer_agreements
             WHERE organization_id = $1 AND id = $2"
        );
        let row: Option<AgreementRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(org.as_str())
                .bind(id.0)
                .fetch_optional(pool)
                .await?
        });
        row.map(AgreementRow::agreement).transpose()
    }

    async fn list_producer_agreements(
        &self,
        org: &OrganizationId,
        agency: Option<&AgencyId>,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> DbResult<Vec<ProducerAgreement>> {
        let (before_at, before_id) = super::sql::before(after)?;
        let sql = format!(
            "SELECT {AGREEMENT_COLUMNS} FROM producer_agreements
             WHERE organization_id = $1 AND ($2 IS NULL OR agency_id = $2)
               AND (executed_at < $3 OR (executed_at = $3 AND id < $4))
             ORDER BY executed_at DESC, id DESC LIMIT $5"
        );
        let rows: Vec<AgreementRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(org.as_str())
                .bind(agency.map(|a| a.as_str()))
                .bind(before_at)
                .bind(before_id)
                .bind(limit.clamp(1, 1_000) as i64)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(AgreementRow::agreement).collect()
    }

    async fn enqueue_outbox(
        &self,
        org: &OrganizationId,
        outbox: &[OutboxEvent],
    ) -> DbResult<Vec<Enqueued>> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            Ok(commit_with_outbox!(self, tx, org, outbox))
        })
    }
}
