//! The payload of each webhook type (camelCase fields, RFC 3339 UTC times).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::envelope::WebhookType;

/// Any payload, tagged by the type it belongs to. Serializes as the inner struct alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
#[non_exhaustive]
pub enum Payload {
    /// `agency_compliance_status_changes`.
    AgencyComplianceStatusChanges(ComplianceStatusChanges),
    /// `agent_compliance_status_changes`.
    AgentComplianceStatusChanges(ComplianceStatusChanges),
    /// `entity_compliance_data_synchronized`.
    EntityComplianceDataSynchronized(DataSynchronized),
    /// `producer_agreement_executed`.
    ProducerAgreementExecuted(ProducerAgreementExecuted),
}

impl Payload {
    /// The webhook type this payload is sent as.
    pub fn webhook_type(&self) -> WebhookType {
        match self {
            Self::AgencyComplianceStatusChanges(_) => WebhookType::AgencyComplianceStatusChanges,
            Self::AgentComplianceStatusChanges(_) => WebhookType::AgentComplianceStatusChanges,
            Self::EntityComplianceDataSynchronized(_) => {
                WebhookType::EntityComplianceDataSynchronized
            }
            Self::ProducerAgreementExecuted(_) => WebhookType::ProducerAgreementExecuted,
        }
    }
}

/// A compliance status for one product in one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ComplianceStatus {
    /// Compliant.
    Compliant,
    /// Not compliant.
    NonCompliant,
    /// Waiting on data or review.
    Pending,
    /// No requirement applies.
    NotRequired,
}

impl ComplianceStatus {
    /// What setting `self` over `previous` reports: the status the change is from, or `None`
    /// when nothing changed. An entity with no status yet is `Pending`, so a first `pending`
    /// is no change and a first `compliant` is a change from `pending`.
    ///
    /// ```
    /// use turris_webhooks::ComplianceStatus::{Compliant, NonCompliant, Pending};
    ///
    /// assert_eq!(Compliant.changed_from(None), Some(Pending));
    /// assert_eq!(Pending.changed_from(None), None);
    /// assert_eq!(NonCompliant.changed_from(Some(Compliant)), Some(Compliant));
    /// assert_eq!(Compliant.changed_from(Some(Compliant)), None);
    /// ```
    pub fn changed_from(self, previous: Option<ComplianceStatus>) -> Option<ComplianceStatus> {
        let before = previous.unwrap_or(ComplianceStatus::Pending);
        (before != self).then_some(before)
    }
}

/// Whether an entity is an agency or an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EntityType {
    /// An agency.
    Agency,
    /// An individual agent.
    Agent,
}

impl EntityType {
    /// The status-change webhook type for this kind of entity.
    pub fn status_change_type(self) -> WebhookType {
        match self {
            Self::Agency => WebhookType::AgencyComplianceStatusChanges,
            Self::Agent => WebhookType::AgentComplianceStatusChanges,
        }
    }
}

/// Payload of both status-change types: every entity with the pairs that really changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ComplianceStatusChanges {
    /// When the debounce window opened (first change).
    pub window_start: DateTime<Utc>,
    /// When the debounce window closed.
    pub window_end: DateTime<Utc>,
    /// Affected entities, each with at least one change.
    pub entities: Vec<EntityChanges>,
}

/// One entity and its changed product/state pairs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EntityChanges {
    /// Agency or agent.
    pub entity_type: EntityType,
    /// The Turris id.
    pub entity_id: String,
    /// National Producer Number, when known.
    pub npn: Option<String>,
    /// Display name.
    pub name: String,
    /// Pairs whose status differs between window start and end.
    pub changes: Vec<StatusChange>,
}

/// A status change of one product in one state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StatusChange {
    /// Product name or code.
    pub product: String,
    /// Two-letter state code.
    pub state: String,
    /// Status at window start.
    pub previous_status: ComplianceStatus,
    /// Status at window end.
    pub status: ComplianceStatus,
}

/// Which NIPR synchronization finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SyncKind {
    /// A data fetch.
    Fetch,
    /// A full refresh.
    FullRefresh,
}

/// How a synchronization ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SyncOutcome {
    /// It succeeded.
    Success,
    /// It failed; `error` says why.
    Error,
}

/// Payload of `entity_compliance_data_synchronized`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DataSynchronized {
    /// Agency or agent.
    pub entity_type: EntityType,
    /// The Turris id.
    pub entity_id: String,
    /// National Producer Number, when known.
    pub npn: Option<String>,
    /// Fetch or full refresh.
    pub kind: SyncKind,
    /// Success or error.
    pub outcome: SyncOutcome,
    /// The error, when `outcome` is `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the synchronization finished.
    pub finished_at: DateTime<Utc>,
}

/// Payload of `producer_agreement_executed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProducerAgreementExecuted {
    /// The agency's Turris id.
    pub agency_id: String,
    /// The agreement's id.
    pub agreement_id: String,
    /// The contract template it was made from.
    pub contract_template_id: String,
    /// When the last signer signed.
    pub executed_at: DateTime<Utc>,
    /// Who signed.
    pub signers: Vec<AgreementSigner>,
}

/// A person who signed an agreement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgreementSigner {
    /// Full name.
    pub name: String,
    /// Email address.
    pub email: String,
}
