//! Webhook subscriptions of an app, authenticated with the developer API key (`hapikey`).

use serde_json::json;
use turris_hubspot::auth::Secret;
use turris_hubspot::webhooks::subscriptions::{
    SubscriptionBatchUpdateRequest, SubscriptionCreateRequest, Subscriptions,
};
use wiremock::matchers::{body_json, method, path, query_param};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

use crate::support::client_with;

struct NoAuthorizationHeader;

impl Match for NoAuthorizationHeader {
    fn matches(&self, request: &Request) -> bool {
        !request.headers.contains_key("authorization")
    }
}

fn subscription(id: u64, event: &str, property: Option<&str>, active: bool) -> serde_json::Value {
    json!({
        "id": id, "eventType": event, "propertyName": property, "active": active,
        "createdAt": "2025-01-01T00:00:00Z", "updatedAt": "2025-01-02T00:00:00Z"
    })
}

#[tokio::test]
async fn subscriptions_are_listed_with_the_developer_api_key_and_no_bearer() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/webhooks/v3/456/subscriptions"))
        .and(query_param("hapikey", "dev-key"))
        .and(NoAuthorizationHeader)
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [
            subscription(1, "contact.propertyChange", Some("email"), true),
            subscription(2, "company.creation", None, false)
        ]})))
        .expect(1)
        .mount(&server)
        .await;
    let (client, recorder) = client_with(&server, 2);
    let subs = Subscriptions::new(client, 456, Secret::new("dev-key"));
    let list = subs.list().await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].id, "1");
    assert_eq!(list[0].property_name.as_deref(), Some("email"));
    assert!(!list[1].active);
    let calls = recorder.calls();
    assert_eq!(calls[0].path, "/webhooks/v3/456/subscriptions");
    assert!(
        !format!("{calls:?}").contains("dev-key"),
        "the api key never reaches the observer"
    );
}

#[tokio::test]
async fn a_property_change_subscription_is_created_per_property() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/webhooks/v3/456/subscriptions"))
        .and(query_param("hapikey", "dev-key"))
        .and(body_json(
            json!({"eventType": "contact.propertyChange", "propertyName": "npn", "active": true}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(subscription(
            3,
            "contact.propertyChange",
            Some("npn"),
            true,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let subs = Subscriptions::new(client_with(&server, 2).0, 456, Secret::new("dev-key"));
    let created = subs
        .create(&SubscriptionCreateRequest {
            event_type: "contact.propertyChange".to_owned(),
            property_name: Some("npn".to_owned()),
            active: true,
        })
        .await
        .unwrap();
    assert_eq!(created.id, "3");
}

#[tokio::test]
async fn a_subscription_is_deleted_by_id() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/webhooks/v3/456/subscriptions/3"))
        .and(query_param("hapikey", "dev-key"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let subs = Subscriptions::new(client_with(&server, 2).0, 456, Secret::new("dev-key"));
    subs.delete("3").await.unwrap();
}

#[tokio::test]
async fn subscriptions_are_activated_in_batch() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/webhooks/v3/456/subscriptions/batch/update"))
        .and(query_param("hapikey", "dev-key"))
        .and(body_json(
            json!({"inputs": [{"id": 1, "active": true}, {"id": 2, "active": false}]}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "COMPLETE",
            "results": [
                subscription(1, "contact.propertyChange", Some("email"), true),
                subscription(2, "company.creation", None, false)
            ],
            "startedAt": "2025-01-01T00:00:00Z", "completedAt": "2025-01-01T00:00:01Z"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let subs = Subscriptions::new(client_with(&server, 2).0, 456, Secret::new("dev-key"));
    let answer = subs
        .batch_update(&[
            SubscriptionBatchUpdateRequest {
                id: 1,
                active: true,
            },
            SubscriptionBatchUpdateRequest {
                id: 2,
                active: false,
            },
        ])
        .await
        .unwrap();
    assert_eq!(answer.results.len(), 2);
    assert!(answer.results[0].active);
}
