//! Secrets and tokens never reach the raw database, the logs, or a response after creation.

use reqwest::Method;
use serde_json::json;
use turris_core::ids::OrganizationId;
use turris_server::store::HubSpotAuth;

use crate::support::app::{ADMIN_TOKEN, captured_logs};

api_test!(
    async fn secrets_and_tokens_are_absent_from_the_database_logs_and_later_responses(app) {
        let webhook = app
            .api(
                Method::POST,
                "/api/v1/webhooks",
                Some(json!({"webhook_type": "producer_agreement_executed", "url": "https://hooks.example.com/s"})),
            )
            .await
            .expect(201);
        let webhook_secret = webhook.body["secret"].as_str().unwrap().to_owned();
        let (code, state) = app
            .authorize("/api/v1/integrations/hubspot/connect")
            .await;
        app.callback(&code, &state).await.expect(200);
        // Walk the API as a client would after creation.
        let mut later = String::new();
        for path in [
            "/api/v1/webhooks",
            "/api/v1/integrations",
            "/api/v1/integrations/hubspot",
            "/api/v1/integrations/hubspot/activity",
        ] {
            later.push_str(&app.get(path).await.expect(200).text);
        }
        later.push_str(
            &app.admin(Method::GET, &format!("/api/v1/admin/organizations/{}/tokens", app.org), None)
                .await
                .expect(200)
                .text,
        );
        let credentials = app
            .state
            .db()
            .hubspot_credentials(&OrganizationId::parse(&app.org).unwrap())
            .await
            .unwrap()
            .expect("connected");
        let HubSpotAuth::OAuth { access_token, refresh_token, .. } = credentials.auth else {
            panic!("an oauth connection");
        };
        // The private-app flow goes through another org, so its token is checked as well.
        let other = app.organization("private-app-org", true).await;
        let pat = app.sandbox.private_app_token();
        app.call(
            Method::POST,
            "/api/v1/integrations/hubspot/private-app",
            Some(&other),
            Some(json!({"portal_id": app.sandbox.portal_id(), "token": pat})),
        )
        .await;
        let raw = app.db.raw_contents().await;
        let logs = captured_logs();
        let secrets = [
            ("webhook secret", webhook_secret.clone()),
            ("api token", app.token.clone()),
            ("other api token", other.clone()),
            ("access token", access_token.expose().to_owned()),
            ("refresh token", refresh_token.expose().to_owned()),
            ("private-app token", pat.clone()),
            ("admin token", ADMIN_TOKEN.to_owned()),
            ("oauth state", state.clone()),
        ];
        for (what, secret) in &secrets {
            assert!(secret.len() >= 16, "{what} is a real value");
            assert!(!raw.contains(secret.as_str()), "{what} is in the database in clear");
            assert!(!raw.contains(&hex::encode(secret.as_bytes())), "{what} is in the database as hex");
            assert!(!logs.contains(secret.as_str()), "{what} is in the logs");
            assert!(!later.contains(secret.as_str()), "{what} is in a later response");
        }
        // The one-time code is not logged by us either (only paths are traced).
        assert!(!logs.contains(&format!("code={code}")), "the oauth code is in the logs");
        assert!(raw.len() > 1000, "the database was read");
        assert!(logs.contains("request"), "the logs were captured");
    }
);
