//! The verify-only receiver (this package's library, on turris-webhooks without default
//! features) against what the delivery engine sends, and what it refuses.

use chrono::{Duration, Utc};
use turris_tests::{ReceiveError, receive};
use turris_webhooks::delivery::{DeliveryConfig, DeliveryEngine, DeliveryRequest};
use turris_webhooks::{
    Envelope, EventId, Payload, ProducerAgreementExecuted, SignedHeaders, UrlPolicy, Verifier,
    VerifyError, WebhookSecret, WebhookUrl,
};

use crate::receiver::Receiver;

fn agreement() -> Envelope<Payload> {
    Envelope::for_payload(
        "org_e2e",
        Payload::ProducerAgreementExecuted(ProducerAgreementExecuted {
            agency_id: "agency_1".to_owned(),
            agreement_id: "agreement_1".to_owned(),
            contract_template_id: "template_1".to_owned(),
            executed_at: Utc::now(),
            signers: Vec::new(),
        }),
    )
}

#[tokio::test]
async fn the_verify_only_receiver_accepts_what_the_delivery_engine_sends() {
    let secret = WebhookSecret::generate().expect("secret");
    let receiver = Receiver::start(Verifier::new([secret.clone()])).await;
    let policy = UrlPolicy::strict().with_insecure_loopback();
    let url = WebhookUrl::parse(&receiver.plain_url(), &policy).expect("url");
    let engine = DeliveryEngine::new(DeliveryConfig {
        url_policy: policy,
        ..DeliveryConfig::default()
    })
    .expect("engine");
    let envelope = agreement();
    let body = envelope.to_bytes().expect("bytes");
    let event_id = EventId::new();

    let report = engine
        .send(DeliveryRequest {
            event_id,
            url: &url,
            secret: &secret,
            previous_secret: None,
            body: &body,
        })
        .await;

    assert!(report.success, "{report:#?}");
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].event_id, event_id.to_string());
    assert_eq!(received[0].envelope, envelope);
    receiver.stop().await;
}

#[test]
fn the_verify_only_receiver_refuses_a_body_changed_after_signing() {
    let secret = WebhookSecret::generate().expect("secret");
    let body = agreement().to_bytes().expect("bytes");
    let now = Utc::now();
    let headers = SignedHeaders::new(&secret, "evt_1", now.timestamp(), &body).to_header_map();
    let mut changed = body.to_vec();
    changed.extend_from_slice(b" ");

    let verifier = Verifier::new([secret]);
    assert!(receive(&verifier, &headers, &body, now).is_ok());
    assert!(matches!(
        receive(&verifier, &headers, &changed, now),
        Err(ReceiveError::Verify(VerifyError::Mismatch))
    ));
}

#[test]
fn the_verify_only_receiver_refuses_a_request_signed_more_than_five_minutes_ago() {
    let secret = WebhookSecret::generate().expect("secret");
    let body = agreement().to_bytes().expect("bytes");
    let signed_at = Utc::now();
    let headers =
        SignedHeaders::new(&secret, "evt_1", signed_at.timestamp(), &body).to_header_map();

    let verifier = Verifier::new([secret]);
    let later = signed_at + Duration::seconds(301);
    assert!(matches!(
        receive(&verifier, &headers, &body, later),
        Err(ReceiveError::Verify(VerifyError::TooOld))
    ));
}

#[test]
fn the_verify_only_receiver_depends_on_neither_reqwest_nor_tokio() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let output = std::process::Command::new(cargo)
        .args(["tree", "--offline", "--manifest-path", manifest])
        .args(["--package", "turris-tests", "--edges", "normal"])
        .args(["--prefix", "none", "--format", "{p}"])
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8(output.stdout).expect("utf-8");
    assert!(
        tree.lines().any(|l| l.starts_with("turris-webhooks ")),
        "{tree}"
    );
    let io: Vec<&str> = tree
        .lines()
        .filter(|l| l.starts_with("reqwest ") || l.starts_with("tokio "))
        .collect();
    assert!(io.is_empty(), "{io:?}");
}
