use axum::Router;
use axum::routing::post;
use chrono::Utc;
use turris_webhooks::{Envelope, SignedHeaders, VerifiedTurrisWebhook, Verifier, WebhookSecret};

async fn handler(webhook: VerifiedTurrisWebhook) -> String {
    format!(
        "{} {} {}",
        webhook.envelope.webhook_type,
        webhook.envelope.upstream_entity_id,
        webhook.event_id.unwrap_or_default()
    )
}

async fn spawn(verifier: Verifier) -> String {
    let app = Router::new()
        .route("/hook", post(handler))
        .with_state(verifier);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/hook")
}

async fn post_signed(
    url: &str,
    secret: &WebhookSecret,
    body: &[u8],
    timestamp: i64,
) -> (u16, String) {
    let signed = SignedHeaders::new(secret, "evt_42", timestamp, body);
    let response = client()
        .post(url)
        .headers(signed.to_header_map())
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn envelope_bytes() -> Vec<u8> {
    Envelope::new(
        "org_7",
        turris_webhooks::WebhookType::ProducerAgreementExecuted,
        serde_json::json!({}),
    )
    .to_bytes()
    .unwrap()
    .to_vec()
}

#[tokio::test]
async fn the_extractor_accepts_a_signed_request_and_parses_the_envelope() {
    let secret = WebhookSecret::generate().unwrap();
    let url = spawn(Verifier::new([secret.clone()])).await;
    let got = post_signed(&url, &secret, &envelope_bytes(), Utc::now().timestamp()).await;
    assert_eq!(
        got,
        (200, "producer_agreement_executed org_7 evt_42".to_owned())
    );
}

#[tokio::test]
async fn the_extractor_answers_401_with_the_reason_for_signature_problems() {
    let secret = WebhookSecret::generate().unwrap();
    let url = spawn(Verifier::new([secret.clone()])).await;
    let stranger = WebhookSecret::generate().unwrap();
    assert_eq!(
        post_signed(&url, &stranger, &envelope_bytes(), Utc::now().timestamp()).await,
        (
            401,
            "invalid webhook signature: signature mismatch".to_owned()
        )
    );
    assert_eq!(
        post_signed(
            &url,
            &secret,
            &envelope_bytes(),
            Utc::now().timestamp() - 3600
        )
        .await,
        (
            401,
            "invalid webhook signature: timestamp too old".to_owned()
        )
    );
    let unsigned = client()
        .post(&url)
        .body(envelope_bytes())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status().as_u16(), 401);
    assert_eq!(
        unsigned.text().await.unwrap(),
        "invalid webhook signature: missing header X-Turris-Signature"
    );
}

#[tokio::test]
async fn the_extractor_answers_400_for_a_signed_body_that_is_not_an_envelope() {
    let secret = WebhookSecret::generate().unwrap();
    let url = spawn(Verifier::new([secret.clone()])).await;
    let (status, message) = post_signed(
        &url,
        &secret,
        br#"{"hello":"world"}"#,
        Utc::now().timestamp(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        message.starts_with("invalid webhook body: missing field `webhookType`"),
        "{message}"
    );
}

/// A client that talks to 127.0.0.1 directly, whatever proxy the environment sets.
fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}
