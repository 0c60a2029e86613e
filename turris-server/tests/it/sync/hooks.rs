//! `POST /hooks/hubspot`: signature, persistence with deduplication, routing by portal.

use chrono::Utc;
use serde_json::{Value, json};
use turris_hubspot::webhooks::signature::sign_v3;
use turris_server::config::PrivateAppEnv;

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

/// An app connected through a private app whose client secret signs its webhooks.
async fn private_app(backend: Backend) -> TestApp {
    let app = TestApp::spawn(backend).await;
    let body = json!({
        "portal_id": app.sandbox.portal_id(),
        "token": app.sandbox.private_app_token(),
        "webhook_secret": PRIVATE_APP_SECRET,
    });
    app.api(Method::POST, &format!("{H}/private-app"), Some(body))
        .await
        .expect(200);
    app
}

const PRIVATE_APP_SECRET: &str = "private-app-client-secret";

crate::support::both_databases!(
    app(private_app): async fn a_private_apps_batch_signed_with_its_own_secret_is_stored_and_another_apps_secret_is_a_401(app) {
        let portal = app.sandbox.portal_id();
        let now = Utc::now().timestamp_millis();
        let own = json!([event(app, portal, 1)]);
        assert_eq!(app.post_hook(&own, PRIVATE_APP_SECRET, now).await.as_u16(), 204);
        assert_eq!(app.stored_events().await, 1);

        let other = json!([event(app, portal, 2)]);
        let status = app.post_hook(&other, "another-private-apps-secret", now).await;
        assert_eq!(status.as_u16(), 401);
        // The private app's secret speaks for its portal only: a batch naming another portal
        // is not admitted with it.
        let mixed = json!([event(app, portal, 3), event(app, 31_337, 4)]);
        assert_eq!(app.post_hook(&mixed, PRIVATE_APP_SECRET, now).await.as_u16(), 401);
        assert_eq!(app.stored_events().await, 1);
        // The server's own app secret still admits any portal's batch.
        let server = app.sandbox.client_secret().to_owned();
        assert_eq!(app.post_hook(&other, &server, now).await.as_u16(), 204);
        assert_eq!(app.stored_events().await, 2);
    }
);

crate::support::both_databases!(
    app(private_app): async fn reconnecting_a_private_app_without_a_secret_keeps_the_stored_one_and_a_blank_one_is_a_422(app) {
        let token = app.sandbox.private_app_token();
        app.api(
            Method::POST,
            &format!("{H}/private-app/reconnect"),
            Some(json!({"token": token, "webhook_secret": "  "})),
        )
        .await
        .expect_error(422, "validation_failed");
        app.api(Method::POST, &format!("{H}/private-app/reconnect"), Some(json!({"token": token})))
            .await
            .expect(200);
        let portal = app.sandbox.portal_id();
        let now = Utc::now().timestamp_millis();
        let batch = json!([event(app, portal, 1)]);
        assert_eq!(app.post_hook(&batch, PRIVATE_APP_SECRET, now).await.as_u16(), 204);
    }
);

/// A single-tenant deployment's private app from the environment.
fn env_private_app(app: &TestApp, portal: u64, secret: &str) -> PrivateAppEnv {
    PrivateAppEnv {
        portal_id: Some(portal.to_string()),
        token: Some(app.sandbox.private_app_token().to_owned()),
        webhook_secret: Some(secret.to_owned()),
        organization: Some(app.org.clone()),
    }
}

crate::support::both_databases!(
    backend: a_private_app_from_the_environment_connects_its_organization_at_start_up_and_a_portal_mismatch_stops_the_start
);

async fn a_private_app_from_the_environment_connects_its_organization_at_start_up_and_a_portal_mismatch_stops_the_start(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let portal = app.sandbox.portal_id();
    let configured = env_private_app(&app, portal, "env-secret-1");
    let app = app
        .restart_with(|c| c.hubspot.private_app = configured)
        .await;
    let view = app.get(H).await.expect(200);
    assert_eq!(view.body["status"], "connected");
    assert_eq!(view.body["auth"], "private_app");
    assert_eq!(
        view.body["connected_by"],
        "the server's environment (private app)"
    );
    let now = Utc::now().timestamp_millis();
    let batch = json!([event(&app, portal, 1)]);
    assert_eq!(
        app.post_hook(&batch, "env-secret-1", now).await.as_u16(),
        204
    );

    // A new secret in the environment replaces the stored one at the next start.
    let rotated = env_private_app(&app, portal, "env-secret-2");
    let app = app.restart_with(|c| c.hubspot.private_app = rotated).await;
    let batch = json!([event(&app, portal, 2)]);
    assert_eq!(
        app.post_hook(&batch, "env-secret-1", now).await.as_u16(),
        401
    );
    assert_eq!(
        app.post_hook(&batch, "env-secret-2", now).await.as_u16(),
        204
    );

    // Another portal than the connected one is refused before the server serves.
    let mut config = app.config().clone();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.hubspot.private_app = env_private_app(&app, portal + 1, "env-secret-2");
    let Err(e) = turris_server::app::Application::build(config).await else {
        panic!("a portal mismatch must stop the start");
    };
    assert!(e.to_string().contains("TURRIS_HUBSPOT_PORTAL_ID"), "{e}");
    app.finish().await;
}
