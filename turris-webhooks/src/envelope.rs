//! Webhook types and the envelope `{webhookType, upstreamEntityId, payload}`.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::payload::{
    ComplianceStatusChanges, DataSynchronized, Payload, ProducerAgreementExecuted,
};

/// The event category a webhook listens for (snake_case on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WebhookType {
    /// An agency's compliance status changed for a product and state (debounced).
    AgencyComplianceStatusChanges,
    /// An agent's compliance status changed for a product and state (debounced).
    AgentComplianceStatusChanges,
    /// A NIPR fetch or full refresh reached a terminal state (sent immediately).
    EntityComplianceDataSynchronized,
    /// An invited agency signed its producer agreement (sent immediately).
    ProducerAgreementExecuted,
}

impl WebhookType {
    /// All four types.
    pub const ALL: [WebhookType; 4] = [
        Self::AgencyComplianceStatusChanges,
        Self::AgentComplianceStatusChanges,
        Self::EntityComplianceDataSynchronized,
        Self::ProducerAgreementExecuted,
    ];

    /// The wire name, e.g. `agency_compliance_status_changes`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AgencyComplianceStatusChanges => "agency_compliance_status_changes",
            Self::AgentComplianceStatusChanges => "agent_compliance_status_changes",
            Self::EntityComplianceDataSynchronized => "entity_compliance_data_synchronized",
            Self::ProducerAgreementExecuted => "producer_agreement_executed",
        }
    }

    /// Whether events of this type go through the [`crate::Debouncer`].
    pub fn is_debounced(self) -> bool {
        matches!(
            self,
            Self::AgencyComplianceStatusChanges | Self::AgentComplianceStatusChanges
        )
    }
}

impl std::fmt::Display for WebhookType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown webhook type name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown webhook type")]
pub struct UnknownWebhookType;

impl std::str::FromStr for WebhookType {
    type Err = UnknownWebhookType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or(UnknownWebhookType)
    }
}

/// The body of every delivery: `{"webhookType", "upstreamEntityId", "payload"}`.
///
/// `P` is the payload: [`Payload`] when sending, `serde_json::Value` or a payload struct when
/// receiving.
///
/// ```
/// use turris_webhooks::{Envelope, WebhookType};
///
/// let envelope = Envelope::new("org_1", WebhookType::ProducerAgreementExecuted, serde_json::json!({}));
/// let bytes = envelope.to_bytes().unwrap();
/// assert_eq!(
///     &bytes[..],
///     br#"{"webhookType":"producer_agreement_executed","upstreamEntityId":"org_1","payload":{}}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<P = serde_json::Value> {
    /// The event category.
    pub webhook_type: WebhookType,
    /// The receiving organization's identifier.
    pub upstream_entity_id: String,
    /// The event-specific data.
    pub payload: P,
}

/// The envelope could not be serialized or its payload does not fit its type.
#[derive(Debug, thiserror::Error)]
#[error("invalid envelope: {0}")]
pub struct EnvelopeError(#[from] serde_json::Error);

impl<P> Envelope<P> {
    /// An envelope with an explicit type.
    pub fn new(
        upstream_entity_id: impl Into<String>,
        webhook_type: WebhookType,
        payload: P,
    ) -> Self {
        Self {
            webhook_type,
            upstream_entity_id: upstream_entity_id.into(),
            payload,
        }
    }
}

impl<P: Serialize> Envelope<P> {
    /// Serializes once. These exact bytes are signed and sent, on every attempt.
    pub fn to_bytes(&self) -> Result<Bytes, EnvelopeError> {
        Ok(Bytes::from(serde_json::to_vec(self)?))
    }
}

impl Envelope<Payload> {
    /// An envelope whose type is taken from the payload.
    pub fn for_payload(upstream_entity_id: impl Into<String>, payload: Payload) -> Self {
        Self::new(upstream_entity_id, payload.webhook_type(), payload)
    }
}

impl Envelope<serde_json::Value> {
    /// Parses the payload into the struct its `webhookType` names.
    pub fn typed(self) -> Result<Envelope<Payload>, EnvelopeError> {
        let payload = match self.webhook_type {
            WebhookType::AgencyComplianceStatusChanges => {
                Payload::AgencyComplianceStatusChanges(serde_json::from_value::<
                    ComplianceStatusChanges,
                >(self.payload)?)
            }
            WebhookType::AgentComplianceStatusChanges => {
                Payload::AgentComplianceStatusChanges(serde_json::from_value(self.payload)?)
            }
            WebhookType::EntityComplianceDataSynchronized => {
                Payload::EntityComplianceDataSynchronized(
                    serde_json::from_value::<DataSynchronized>(self.payload)?,
                )
            }
            WebhookType::ProducerAgreementExecuted => {
                Payload::ProducerAgreementExecuted(serde_json::from_value::<
                    ProducerAgreementExecuted,
                >(self.payload)?)
            }
        };
        Ok(Envelope {
            webhook_type: self.webhook_type,
            upstream_entity_id: self.upstream_entity_id,
            payload,
        })
    }
}
