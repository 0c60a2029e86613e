//! The webhooks journal client against wiremock: the app token, empty answers, expired
//! offsets, no rate-limit budget spent, and journal events turned into webhook events.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use turris_hubspot::auth::{AppTokenSource, OAuthClient, OAuthConfig, Secret};
use turris_hubspot::rate_limit::Budget;
use turris_hubspot::webhooks::journal::{JournalClient, JournalEvent, JournalNext};
use turris_hubspot::webhooks::{EventAction, EventObject};
use turris_hubspot::{HubSpotClient, RateLimitConfig, RateLimiter};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn journal(server: &MockServer) -> JournalClient {
    Mock::given(method("POST"))
        .and(path("/oauth/2026-03/token"))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("developer.webhooks_journal.read"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"token_type": "bearer", "access_token": "app-token", "expires_in": 1800}),
        ))
        .expect(1)
        .mount(server)
        .await;
    let config = OAuthConfig::new("client-123", Secret::new("secret"), "https://x.test/cb")
        .with_api_base(server.uri());
    let oauth = OAuthClient::new(config).unwrap();
    // One general request per hour: journal calls must not need it.
    let limiter = RateLimiter::new(RateLimitConfig::new(
        Budget::new(1, Duration::from_secs(3600)),
        Budget::new(1, Duration::from_secs(3600)),
    ));
    let tokens = AppTokenSource::new(oauth, turris_hubspot::auth::oauth::JOURNAL_SCOPES);
    let client = HubSpotClient::builder(Arc::new(tokens))
        .api_base(server.uri())
        .rate_limiter(limiter)
        .build()
        .unwrap();
    JournalClient::new(client)
}

#[tokio::test]
async fn reads_entries_with_the_app_token_and_tells_empty_from_expired() {
    let server = MockServer::start().await;
    let journal = journal(&server).await;
    Mock::given(method("GET"))
        .and(path("/webhooks-journal/journal/2026-03/earliest"))
        .and(header("authorization", "Bearer app-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "currentOffset": "17", "expiresAt": "2026-12-07T10:00:00Z",
            "url": format!("{}/files/17?sig=abc", server.uri()),
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/webhooks-journal/journal/2026-03/offset/17/next"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/webhooks-journal/journal/2026-03/offset/3/next"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"status": "error", "message": "offset expired", "category": "OBJECT_NOT_FOUND"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/files/17"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "offset": "17", "publishedAt": "2026-12-04T10:00:00Z",
            "journalEvents": [{"portalId": 62515, "occurredAt": 1, "objectTypeId": "0-2",
                "objectId": 9, "action": "UPDATE",
                "propertyChanges": [{"propertyName": "name", "newValue": "Acme"}]}],
        })))
        .mount(&server)
        .await;
    let page = journal.earliest().await.unwrap().expect("an entry");
    assert_eq!(page.current_offset, "17");
    let file = journal.fetch(&page).await.unwrap();
    assert_eq!(file.journal_events.len(), 1);
    assert_eq!(
        journal.next_after("17").await.unwrap(),
        JournalNext::UpToDate
    );
    assert_eq!(journal.next_after("3").await.unwrap(), JournalNext::Expired);
    // Four journal calls and a file on a one-per-hour budget: none waited for it.
    let requests = server.received_requests().await.unwrap();
    let file_request = requests
        .iter()
        .find(|r| r.url.path() == "/files/17")
        .unwrap();
    assert!(
        file_request.headers.get("authorization").is_none(),
        "no token to the file URL"
    );
}

#[test]
fn journal_events_become_the_webhook_events_they_stand_for() {
    let event = |action: &str, extra: serde_json::Value| -> JournalEvent {
        let mut e = json!({"portalId": 1, "occurredAt": 5, "objectTypeId": "0-1",
            "objectId": 7, "action": action,
            "propertyChanges": [{"propertyName": "email", "newValue": "a@b.test"}]});
        e.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(e).unwrap()
    };
    let created = event("CREATE", json!({})).to_webhook_events(1);
    let kinds: Vec<_> = created
        .iter()
        .map(|e| e.subscription_type.action_kind())
        .collect();
    assert_eq!(kinds, [EventAction::Creation, EventAction::PropertyChange]);
    assert_eq!(created[1].property_value.as_deref(), Some("a@b.test"));
    assert_eq!(
        created[0].subscription_type.object_kind(),
        EventObject::Contact
    );
    let merged = event("MERGE", json!({"mergedObjectIds": [7, 8]})).to_webhook_events(2);
    assert_eq!(merged[0].merged_object_ids, [7, 8]);
    let linked = event("ASSOCIATION_REMOVED", json!({"toObjectId": 3})).to_webhook_events(3);
    assert_eq!(linked[0].from_object_id, Some(7));
    assert_eq!(linked[0].association_removed, Some(true));
    let mut deal = event("CREATE", json!({}));
    deal.object_type_id = "0-3".into();
    assert!(
        deal.to_webhook_events(4).is_empty(),
        "only contacts and companies"
    );
}
