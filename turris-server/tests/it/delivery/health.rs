//! A receiver that answers 410 Gone disables its webhook at once: a notification row, a signed
//! operational webhook, nothing sent while disabled; enabling it delivers what waited.

use reqwest::Method;
use serde_json::Value;
use turris_webhooks::{Verifier, WebhookSecret};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::harness::{Server, config, eventually};
use crate::support::db::TestDb;

async fn a_receiver_answering_410_is_disabled_at_once_and_enabling_it_delivers_what_waited(
    db: &TestDb,
) {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(410))
        .up_to_n_times(1)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let ops = MockServer::start().await;
    Mock::given(path("/ops"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&ops)
        .await;
    let ops_secret = WebhookSecret::generate().unwrap();
    let mut settings = config(db);
    settings.delivery.operational_webhook_url = Some(format!("{}/ops", ops.uri()));
    settings.delivery.operational_webhook_secret = Some(ops_secret.clone());
    settings.delivery.retry_schedule =
        turris_server::delivery::settings::parse_schedule("0s,100ms,100ms,100ms").unwrap();
    let server = Server::start(settings).await;
    let org = server.organization().await;
    let created = server
        .expect(
            201,
            Method::POST,
            "/api/v1/webhooks",
            &org.token,
            Some(serde_json::json!({"webhook_type": "entity_compliance_data_synchronized", "url": format!("{}/hook", receiver.uri())})),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    let webhook = format!("/api/v1/webhooks/{id}");
    let agency = server.agency(&org, "Acme").await;
    server.nipr_sync(&org, &agency).await;

    let disabled = eventually("the 410 disables the webhook", || async {
        let (_, body) = server.call(Method::GET, &webhook, &org.token, None).await;
        (body["status"] == "disabled").then_some(body)
    })
    .await;
    assert_eq!(disabled["disabled_reason"], "gone");
    let notes = server
        .expect(
            200,
            Method::GET,
            &format!("{webhook}/notifications"),
            &org.token,
            None,
        )
        .await;
    assert_eq!(notes["notifications"][0]["kind"], "disabled");
    assert_eq!(notes["notifications"][0]["reason"], "gone");
    let report = eventually("the operational webhook is told", || async {
        ops.received_requests().await.unwrap().into_iter().next()
    })
    .await;
    Verifier::new([ops_secret])
        .verify_now(&report.headers, &report.body)
        .expect("the operational webhook is signed");
    let told: Value = serde_json::from_slice(&report.body).unwrap();
    assert_eq!(told["type"], "webhook.disabled");
    assert_eq!(told["webhookId"], id);
    assert_eq!(told["organizationId"], org.id.as_str());
    assert_eq!(told["reason"], "gone");

    // An event created while disabled waits; enabling delivers both, each attempted once more.
    server.nipr_sync(&org, &agency).await;
    let enabled = server
        .expect(
            200,
            Method::POST,
            &format!("{webhook}/enable"),
            &org.token,
            None,
        )
        .await;
    assert_eq!(enabled["status"], "active");
    assert!(enabled["disabled_reason"].is_null());
    let events = server.event_ids(&org, id).await;
    assert_eq!(events.len(), 2);
    for event in &events {
        let logs = format!("{webhook}/events/{event}/logs");
        let logs = eventually("every waiting event is delivered", || async {
            let (_, body) = server.call(Method::GET, &logs, &org.token, None).await;
            (body["logs"][0]["success"] == true).then_some(body)
        })
        .await;
        let attempts = logs["logs"].as_array().unwrap().len();
        assert!(attempts <= 2, "nothing was sent while disabled: {logs}");
    }
    assert_eq!(receiver.received_requests().await.unwrap().len(), 3);
    let notes = server
        .expect(
            200,
            Method::GET,
            &format!("{webhook}/notifications"),
            &org.token,
            None,
        )
        .await;
    assert_eq!(notes["notifications"][0]["kind"], "enabled");
    server.stop().await;
}

both_databases!(db:
    a_receiver_answering_410_is_disabled_at_once_and_enabling_it_delivers_what_waited
);
