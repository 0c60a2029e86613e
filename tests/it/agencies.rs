//! Companies read from the sandbox, filtered and mapped by core, sent signed by
//! turris-webhooks, and verified by the `VerifiedTurrisWebhook` extractor.

use chrono::Utc;
use turris_core::IdentifierFilter;
use turris_core::mapping::AgencyField;
use turris_hubspot_sandbox::{ObjectKind, RateLimits, Sandbox};
use turris_webhooks::{EntityType, Verifier, WebhookSecret, WebhookType};

use crate::receiver::Receiver;
use crate::service::{AgencyNotifier, Sent};

/// A sandbox with three partner companies (one with a state that is not a state code) and a
/// vendor.
async fn sandbox_with_companies() -> Sandbox {
    let sandbox = Sandbox::builder()
        .rate_limits(RateLimits::disabled())
        .start()
        .await
        .expect("sandbox starts");
    let control = sandbox.control();
    for props in [
        [
            ("name", "Acme Insurance"),
            ("type", "PARTNER"),
            ("city", "Albany"),
            ("state", "NY"),
        ],
        [
            ("name", "Lone Star Brokers"),
            ("type", "PARTNER"),
            ("city", "Austin"),
            ("state", "Texas"),
        ],
        [
            ("name", "Harbor Risk"),
            ("type", "PARTNER"),
            ("city", "Boston"),
            ("state", "MA"),
        ],
        [
            ("name", "Paper Supplies"),
            ("type", "VENDOR"),
            ("city", "Dayton"),
            ("state", "OH"),
        ],
    ] {
        control
            .create_record(ObjectKind::Companies, props)
            .expect("company is created");
    }
    sandbox
}

fn partners() -> IdentifierFilter {
    serde_json::from_value(serde_json::json!({
        "mode": "apply_filter",
        "property": "type",
        "operator": "equals",
        "value": "PARTNER",
    }))
    .expect("filter")
}

fn notifier(sandbox: &Sandbox, receiver: &Receiver, secret: WebhookSecret) -> AgencyNotifier {
    AgencyNotifier::new(
        sandbox.base_url(),
        sandbox.private_app_token(),
        partners(),
        &receiver.extractor_url(),
        secret,
    )
}

/// The agencies of [`sandbox_with_companies`] sent, signed with `signing`, to a receiver that
/// knows `known`: what was sent, and the sandbox and receiver to stop.
struct Run {
    sandbox: Sandbox,
    receiver: Receiver,
    sent: Vec<Sent>,
}

impl Run {
    async fn start(known: WebhookSecret, signing: WebhookSecret) -> Self {
        let sandbox = sandbox_with_companies().await;
        let receiver = Receiver::start(Verifier::new([known])).await;
        let sent = notifier(&sandbox, &receiver, signing)
            .notify(Utc::now())
            .await;
        Self {
            sandbox,
            receiver,
            sent,
        }
    }

    /// Signed with the secret the receiver knows.
    async fn verified() -> Self {
        let secret = WebhookSecret::generate().expect("secret");
        Self::start(secret.clone(), secret).await
    }

    async fn stop(self) {
        self.receiver.stop().await;
        self.sandbox.shutdown().await;
    }
}

#[tokio::test]
async fn every_agency_read_from_hubspot_reaches_the_receiver_signed_and_verified() {
    let run = Run::verified().await;
    let (sent, receiver) = (&run.sent, &run.receiver);
    let mut names: Vec<&str> = sent.iter().map(|s| s.agency.draft.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["Acme Insurance", "Harbor Risk", "Lone Star Brokers"]
    );
    assert!(
        sent.iter()
            .all(|s| s.report.success && s.report.status_code == Some(204)),
        "{sent:#?}"
    );
    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), sent.len());
    for (sent, accepted) in sent.iter().zip(&accepted) {
        let event_id = sent.event_id.to_string();
        assert_eq!(accepted.event_id.as_deref(), Some(event_id.as_str()));
        assert_eq!(
            accepted.envelope.webhook_type,
            WebhookType::AgencyComplianceStatusChanges
        );
        assert_eq!(accepted.envelope.upstream_entity_id, "org_e2e");
        let [entity] = accepted.envelope.payload.entities.as_slice() else {
            panic!("one entity per webhook: {accepted:#?}");
        };
        assert_eq!(entity.entity_type, EntityType::Agency);
        assert_eq!(entity.name, sent.agency.draft.name);
        assert_eq!(
            entity.entity_id,
            format!("hubspot-company-{}", sent.agency.company_id)
        );
    }
    run.stop().await;
}

#[tokio::test]
async fn a_company_the_identifier_filter_refuses_is_not_sent() {
    let run = Run::verified().await;
    let receiver = &run.receiver;
    let names: Vec<String> = receiver
        .accepted()
        .iter()
        .flat_map(|a| a.envelope.payload.entities.iter().map(|e| e.name.clone()))
        .collect();
    assert_eq!(names.len(), 3);
    assert!(!names.iter().any(|n| n == "Paper Supplies"), "{names:?}");
    run.stop().await;
}

#[tokio::test]
async fn a_state_the_mapping_cannot_store_is_skipped_and_the_agency_is_still_sent() {
    let run = Run::verified().await;
    let sent = &run.sent;
    let texas = sent
        .iter()
        .find(|s| s.agency.draft.name == "Lone Star Brokers")
        .expect("the agency with state Texas is sent");
    assert_eq!(texas.agency.skipped, [AgencyField::StateCode]);
    assert_eq!(texas.agency.draft.state_code, None);
    assert_eq!(texas.agency.draft.city.as_deref(), Some("Austin"));
    let acme = sent
        .iter()
        .find(|s| s.agency.draft.name == "Acme Insurance")
        .expect("Acme is sent");
    assert!(acme.agency.skipped.is_empty());
    assert_eq!(acme.agency.draft.state_code.map(|s| s.as_str()), Some("NY"));
    assert!(texas.report.success && acme.report.success);
    run.stop().await;
}

#[tokio::test]
async fn a_webhook_signed_with_a_secret_the_receiver_does_not_know_is_refused() {
    let known = WebhookSecret::generate().expect("secret");
    let unknown = WebhookSecret::generate().expect("secret");
    let run = Run::start(known, unknown).await;
    let (sent, receiver) = (&run.sent, &run.receiver);
    assert_eq!(sent.len(), 3);
    for s in sent {
        assert!(!s.report.success);
        assert_eq!(s.report.status_code, Some(401), "{s:#?}");
    }
    assert!(receiver.accepted().is_empty());
    run.stop().await;
}
