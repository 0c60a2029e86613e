//! `POST /hooks/hubspot`: signature, persistence with deduplication, routing by portal.

use chrono::Utc;
use serde_json::{Value, json};
use turris_hubspot::webhooks::signature::sign_v3;

use super::*;

/// A company property change event of `portal`, as HubSpot sends it.
fn event(app: &TestApp, portal: u64, event_id: u64) -> Value {
    json!({
        "eventId": event_id,
        "subscriptionId": 7,
        "portalId": portal,
        "appId": app.sandbox.app_id(),
        "occurredAt": Utc::now().timestamp_millis(),
        "subscriptionType": "company.propertyChange",
        "attemptNumber": 0,
        "objectId": 9_000_001,
        "propertyName": "city",
        "propertyValue": "Albany",
        "changeSource": "CRM_UI",
        "sourceId": "userId:1"
    })
}

impl TestApp {
    /// Posts a batch to `/hooks/hubspot`, signed with `secret` at `timestamp_ms`.
    async fn post_hook(
        &self,
        body: &Value,
        secret: &str,
        timestamp_ms: i64,
    ) -> reqwest::StatusCode {
        let body = serde_json::to_vec(body).unwrap();
        let url = format!("{}/hooks/hubspot", self.base);
        let timestamp = timestamp_ms.to_string();
        let signature = sign_v3(secret, "POST", &url, &body, &timestamp);
        self.http
            .post(&url)
            .header("content-type", "application/json")
            .header("X-HubSpot-Signature-v3", signature)
            .header("X-HubSpot-Request-Timestamp", timestamp)
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
    }

    async fn stored_events(&self) -> i64 {
        self.count("SELECT COUNT(*) FROM inbound_events").await
    }
}

sync_test!(
    async fn a_signed_batch_is_stored_once_even_when_hubspot_delivers_it_twice(app) {
        let portal = app.sandbox.portal_id();
        let batch = json!([event(app, portal, 1), event(app, portal, 2)]);
        let secret = app.sandbox.client_secret().to_owned();
        let now = Utc::now().timestamp_millis();
        assert_eq!(app.post_hook(&batch, &secret, now).await.as_u16(), 204);
        assert_eq!(app.post_hook(&batch, &secret, now + 1).await.as_u16(), 204);
        assert_eq!(app.stored_events().await, 2);
    }
);

sync_test!(
    async fn a_batch_with_a_wrong_stale_or_missing_signature_is_refused_and_nothing_is_stored(app) {
        let portal = app.sandbox.portal_id();
        let batch = json!([event(app, portal, 1)]);
        let secret = app.sandbox.client_secret().to_owned();
        let now = Utc::now().timestamp_millis();
        assert_eq!(app.post_hook(&batch, "not-the-secret", now).await.as_u16(), 401);
        let six_minutes_ago = now - 6 * 60 * 1000;
        assert_eq!(app.post_hook(&batch, &secret, six_minutes_ago).await.as_u16(), 401);
        let unsigned = app
            .http
            .post(format!("{}/hooks/hubspot", app.base))
            .json(&batch)
            .send()
            .await
            .unwrap();
        assert_eq!(unsigned.status().as_u16(), 401);
        assert_eq!(app.stored_events().await, 0);
    }
);

sync_test!(
    async fn events_of_a_portal_no_organization_connected_are_acknowledged_and_dropped(app) {
        let portal = app.sandbox.portal_id();
        let batch = json!([event(app, 31_337, 1), event(app, portal, 2)]);
        let secret = app.sandbox.client_secret().to_owned();
        let now = Utc::now().timestamp_millis();
        assert_eq!(app.post_hook(&batch, &secret, now).await.as_u16(), 204);
        assert_eq!(app.stored_events().await, 1, "only the connected portal's event");
    }
);

sync_test!(
    async fn a_body_that_is_not_a_batch_of_events_is_a_400_and_nothing_is_stored(app) {
        let secret = app.sandbox.client_secret().to_owned();
        let now = Utc::now().timestamp_millis();
        let status = app.post_hook(&json!({"not": "a batch"}), &secret, now).await;
        assert_eq!(status.as_u16(), 400);
        assert_eq!(app.stored_events().await, 0);
    }
);
