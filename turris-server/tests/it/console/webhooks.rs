//! Settings › Webhook over plain HTTP: rotating a secret.

use reqwest::Method;

use super::Console;

api_test!(
    async fn rotating_a_secret_in_the_console_shows_the_new_one_once_and_the_old_one_masked(app) {
        let created = app
            .api(Method::POST, "/api/v1/webhooks", Some(serde_json::json!({"webhook_type": "producer_agreement_executed", "url": "https://hooks.example.com/rot"})))
            .await
            .expect(201);
        let (id, old) = (created.body["id"].as_str().unwrap(), created.body["secret"].as_str().unwrap());
        let console = Console::signed_in(app, &app.token).await;
        let list = console.get("/console/webhooks").await;
        assert!(list.html.contains(&format!("/console/webhooks/{id}/rotate-secret")));
        assert!(list.html.contains("for 24 hours"), "{}", list.html);
        let rotated = console.post("/console/webhooks", &format!("/console/webhooks/{id}/rotate-secret"), &[]).await;
        assert!(rotated.html.contains("Secret Rotated"), "{}", rotated.html);
        let start = rotated.html.find("id=\"webhook-secret\">").unwrap() + "id=\"webhook-secret\">".len();
        let new = &rotated.html[start..start + 64];
        assert_ne!(new, old);
        let api = app.get(&format!("/api/v1/webhooks/{id}")).await.expect(200);
        assert_eq!(api.body["client_secret"], format!("•••• {}", &new[60..]));
        // Afterwards the list shows both masked, never in full.
        let list = console.get("/console/webhooks").await;
        assert!(!list.html.contains(new) && !list.html.contains(old));
        assert!(list.html.contains(&format!("also •••• {}", &old[60..])), "{}", list.html);
        // A viewer may not rotate.
        let viewer_token = app.token_with(&app.org, "viewer", &["webhooks:read".to_owned()]).await;
        let viewer = Console::signed_in(app, &viewer_token).await;
        assert!(!viewer.get("/console/webhooks").await.html.contains("rotate-secret"));
        let forged = viewer.post("/console/webhooks", &format!("/console/webhooks/{id}/rotate-secret"), &[]).await;
        assert!(forged.html.contains("webhooks:update"), "{}", forged.html);
        let api = app.get(&format!("/api/v1/webhooks/{id}")).await.expect(200);
        assert_eq!(api.body["client_secret"], format!("•••• {}", &new[60..]), "nothing changed");
    }
);

api_test!(
    async fn a_disabled_webhook_shows_why_and_can_be_enabled_from_the_console(app) {
        let receiver = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::method("POST"))
            .respond_with(wiremock::ResponseTemplate::new(410))
            .mount(&receiver)
            .await;
        let created = app
            .api(Method::POST, "/api/v1/webhooks", Some(serde_json::json!({"webhook_type": "entity_compliance_data_synchronized", "url": format!("{}/hook", receiver.uri())})))
            .await
            .expect(201);
        let id = created.body["id"].as_str().unwrap();
        let agency = app.create_agency(serde_json::json!({"name": "Acme", "npn": "12345"})).await;
        app.create_nipr_sync(serde_json::json!({"entity_type": "agency", "entity_id": agency.body["id"], "kind": "fetch", "outcome": "success"})).await;
        let history = app.get(&format!("/api/v1/webhooks/{id}/events")).await.expect(200);
        let event = history.body["rows"][0]["event_id"].as_str().unwrap().to_owned();
        app.api(Method::POST, &format!("/api/v1/webhooks/{id}/events/{event}/resend"), None).await.expect(202);
        app.state.background_idle().await;

        let console = Console::signed_in(app, &app.token).await;
        let list = console.get("/console/webhooks").await;
        assert!(list.html.contains("data-disabled"), "{}", list.html);
        assert!(list.html.contains("410 Gone"));
        assert!(list.html.contains(&format!("/console/webhooks/{id}/enable")));
        let enabled = console.post("/console/webhooks", &format!("/console/webhooks/{id}/enable"), &[]).await;
        assert_eq!(enabled.location.as_deref(), Some("/console/webhooks"));
        let list = console.get("/console/webhooks").await;
        assert!(list.html.contains("Webhook enabled"), "{}", list.html);
        assert!(!list.html.contains("data-disabled"));
        assert_eq!(app.get(&format!("/api/v1/webhooks/{id}")).await.expect(200).body["status"], "active");
    }
);
