//! A small service built from the crates alone: it reads companies from HubSpot, keeps those
//! the agency identifier filter accepts, maps each to a Turris agency, and sends each a signed
//! `agency_compliance_status_changes` webhook.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use turris_core::mapping::{AgencyField, AgencyMapping, RecordMapping};
use turris_core::record::AgencyDraft;
use turris_core::{IdentifierFilter, PropertyMap};
use turris_hubspot::HubSpotClient;
use turris_hubspot::auth::{PrivateAppToken, Secret};
use turris_hubspot::crm::ObjectType;
use turris_webhooks::delivery::{AttemptReport, DeliveryConfig, DeliveryEngine, DeliveryRequest};
use turris_webhooks::{
    ComplianceStatus, ComplianceStatusChanges, EntityChanges, EntityType, Envelope, EventId,
    Payload, StatusChange, UrlPolicy, WebhookSecret, WebhookUrl,
};

/// The HubSpot properties the service reads.
const PROPERTIES: [&str; 4] = ["name", "type", "city", "state"];

/// One company the filter accepted, as mapped.
#[derive(Debug, Clone)]
pub struct Agency {
    pub company_id: String,
    pub draft: AgencyDraft,
    /// Fields the mapping could not store (an invalid state code, ...).
    pub skipped: Vec<AgencyField>,
}

/// One webhook sent.
#[derive(Debug, Clone)]
pub struct Sent {
    pub agency: Agency,
    pub event_id: EventId,
    pub report: AttemptReport,
}

pub struct AgencyNotifier {
    pub organization: String,
    pub hubspot: HubSpotClient,
    pub mapping: AgencyMapping,
    pub engine: DeliveryEngine,
    pub endpoint: WebhookUrl,
    pub secret: WebhookSecret,
}

impl AgencyNotifier {
    /// A notifier reading HubSpot at `api_base` with a private-app token and sending to
    /// `endpoint` (loopback allowed, for the in-process receiver).
    pub fn new(
        api_base: &str,
        token: String,
        filter: IdentifierFilter,
        endpoint: &str,
        secret: WebhookSecret,
    ) -> Self {
        let hubspot = HubSpotClient::builder(Arc::new(PrivateAppToken::new(Secret::new(token))))
            .api_base(api_base)
            .build()
            .expect("HubSpot client");
        let mut mapping: AgencyMapping = serde_json::from_value(serde_json::json!({
            "name": "name",
            "city": "city",
            "state_code": "state",
        }))
        .expect("agency mapping");
        mapping.identifier = Some(filter);
        let policy = UrlPolicy::strict().with_insecure_loopback();
        let endpoint = WebhookUrl::parse(endpoint, &policy).expect("endpoint URL");
        let engine = DeliveryEngine::new(DeliveryConfig {
            url_policy: policy,
            ..DeliveryConfig::default()
        })
        .expect("delivery engine");
        Self {
            organization: "org_e2e".to_owned(),
            hubspot,
            mapping,
            engine,
            endpoint,
            secret,
        }
    }

    /// Every HubSpot company the identifier filter accepts, mapped to a Turris agency draft.
    pub async fn agencies(&self) -> Vec<Agency> {
        let companies = self
            .hubspot
            .list_objects(&ObjectType::Companies, &PROPERTIES)
            .await
            .expect("companies are listed");
        let filter = self.mapping.identifier.as_ref().expect("a filter");
        let mut agencies = Vec::new();
        for company in companies {
            let properties = PropertyMap::from(company.properties);
            if !filter.evaluate(&properties) {
                continue;
            }
            let mapped = self
                .mapping
                .to_turris(&properties)
                .expect("every agency has a name");
            agencies.push(Agency {
                company_id: company.id,
                draft: mapped.draft,
                skipped: mapped.skipped.iter().map(|s| s.field).collect(),
            });
        }
        agencies
    }

    /// Sends one signed status-change webhook per agency.
    pub async fn notify(&self, now: DateTime<Utc>) -> Vec<Sent> {
        let mut sent = Vec::new();
        for agency in self.agencies().await {
            let payload = Payload::AgencyComplianceStatusChanges(ComplianceStatusChanges {
                window_start: now,
                window_end: now,
                entities: vec![EntityChanges {
                    entity_type: EntityType::Agency,
                    entity_id: format!("hubspot-company-{}", agency.company_id),
                    npn: agency.draft.npn.as_ref().map(|n| n.as_str().to_owned()),
                    name: agency.draft.name.clone(),
                    changes: vec![StatusChange {
                        product: "property_casualty".to_owned(),
                        state: agency
                            .draft
                            .state_code
                            .map_or("NY", |s| s.as_str())
                            .to_owned(),
                        previous_status: ComplianceStatus::Pending,
                        status: ComplianceStatus::Compliant,
                    }],
                }],
            });
            let body = Envelope::for_payload(&self.organization, payload)
                .to_bytes()
                .expect("envelope serializes");
            let event_id = EventId::new();
            let report = self
                .engine
                .send(DeliveryRequest {
                    event_id,
                    url: &self.endpoint,
                    secret: &self.secret,
                    previous_secret: None,
                    body: &body,
                })
                .await;
            sent.push(Sent {
                agency,
                event_id,
                report,
            });
        }
        sent
    }
}
