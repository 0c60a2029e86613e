//! `/api/v1/webhooks`: create (secret once), list (masked), delete, history, logs, resend.

use reqwest::Method;
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::app::TestApp;

async fn create(app: &TestApp, webhook_type: &str, url: &str) -> Value {
    app.api(
        Method::POST,
        "/api/v1/webhooks",
        Some(json!({"webhook_type": webhook_type, "url": url})),
    )
    .await
    .expect(201)
    .body
}

/// An agency, and a NIPR result about it: one `entity_compliance_data_synchronized` event.
async fn nipr_event(app: &TestApp) -> String {
    let agency = app
        .create_agency(json!({"name": "Acme", "npn": "12345"}))
        .await;
    let id = agency.body["id"].as_str().unwrap().to_owned();
    app.create_nipr_sync(
        json!({"entity_type": "agency", "entity_id": id, "kind": "fetch", "outcome": "success"}),
    )
    .await;
    id
}

api_test!(
    async fn creating_a_webhook_shows_the_secret_once_and_lists_it_masked(app) {
        let created = create(app, "producer_agreement_executed", "https://hooks.example.com/turris").await;
        let secret = created["secret"].as_str().unwrap();
        assert_eq!(secret.len(), 64);
        assert!(secret.chars().all(|c| c.is_ascii_hexdigit()));
        let masked = format!("•••• {}", &secret[60..]);
        assert_eq!(created["client_secret"], masked);
        let list = app.get("/api/v1/webhooks").await.expect(200);
        assert_eq!(list.body["webhooks"][0]["client_secret"], masked);
        assert_eq!(list.body["webhooks"][0]["webhook_type"], "producer_agreement_executed");
        assert_eq!(list.body["webhooks"][0]["url"], "https://hooks.example.com/turris");
        assert!(!list.text.contains(secret));
        let id = created["id"].as_str().unwrap();
        let one = app.get(&format!("/api/v1/webhooks/{id}")).await.expect(200);
        assert!(!one.text.contains(secret));
        assert!(one.body.get("secret").is_none());
    }
);

api_test!(
    async fn a_webhook_needs_a_known_type_and_a_public_https_url(app) {
        let both = app
            .api(
                Method::POST,
                "/api/v1/webhooks",
                Some(json!({"webhook_type": "everything", "url": "http://hooks.example.com/x"})),
            )
            .await
            .expect_error(422, "validation_failed");
        assert_eq!(both.paths(), ["webhook_type", "url"]);
        for url in ["https://10.1.2.3/hook", "https://user:pw@hooks.example.com/", "not a url", "https://169.254.169.254/"] {
            let refused = app
                .api(
                    Method::POST,
                    "/api/v1/webhooks",
                    Some(json!({"webhook_type": "producer_agreement_executed", "url": url})),
                )
                .await
                .expect_error(422, "validation_failed");
            assert_eq!(refused.paths(), ["url"], "{url}");
        }
        app.api(Method::POST, "/api/v1/webhooks", Some(json!({"webhook_type": "producer_agreement_executed"})))
            .await
            .expect_error(422, "invalid_body");
        assert_eq!(app.get("/api/v1/webhooks").await.expect(200).body["webhooks"], json!([]));
    }
);

api_test!(
    async fn deleting_a_webhook_removes_it_and_a_second_delete_is_a_404(app) {
        let created = create(app, "agency_compliance_status_changes", "https://hooks.example.com/a").await;
        let id = created["id"].as_str().unwrap();
        app.api(Method::DELETE, &format!("/api/v1/webhooks/{id}"), None).await.expect(204);
        app.api(Method::DELETE, &format!("/api/v1/webhooks/{id}"), None)
            .await
            .expect_error(404, "not_found");
        app.get(&format!("/api/v1/webhooks/{id}")).await.expect_error(404, "not_found");
        app.get("/api/v1/webhooks/not-a-uuid").await.expect_error(404, "not_found");
        assert_eq!(app.get("/api/v1/webhooks").await.expect(200).body["webhooks"], json!([]));
    }
);

api_test!(
    async fn a_new_event_shows_in_the_history_as_pending_with_the_webhook_url(app) {
        let created = create(app, "entity_compliance_data_synchronized", "https://hooks.example.com/n").await;
        let id = created["id"].as_str().unwrap();
        let empty = app.get(&format!("/api/v1/webhooks/{id}/events")).await.expect(200);
        assert_eq!(empty.body["rows"], json!([]));
        assert_eq!(empty.body["url"], "https://hooks.example.com/n");
        nipr_event(app).await;
        let history = app.get(&format!("/api/v1/webhooks/{id}/events")).await.expect(200);
        let rows = history.body["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["status"], "pending");
        assert!(rows[0]["attempt"].is_null());
        assert_eq!(rows[0]["can_resend"], true);
        let event = rows[0]["event_id"].as_str().unwrap();
        let logs = app
            .get(&format!("/api/v1/webhooks/{id}/events/{event}/logs"))
            .await
            .expect(200);
        assert_eq!(logs.body["logs"], json!([]));
    }
);

api_test!(
    async fn resend_records_an_attempt_and_is_refused_once_delivered(app) {
        let receiver = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(503))
            .up_to_n_times(1)
            .mount(&receiver)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&receiver)
            .await;
        let url = format!("{}/hook", receiver.uri());
        let created = create(app, "entity_compliance_data_synchronized", &url).await;
        let id = created["id"].as_str().unwrap();
        nipr_event(app).await;
        let history = app.get(&format!("/api/v1/webhooks/{id}/events")).await.expect(200);
        let event = history.body["rows"][0]["event_id"].as_str().unwrap().to_owned();
        let resend = format!("/api/v1/webhooks/{id}/events/{event}/resend");

        let queued = app.api(Method::POST, &resend, None).await.expect(202);
        assert_eq!(queued.body["message"], "Webhook resend is in progress");
        app.state.background_idle().await;
        let logs = app.get(&format!("/api/v1/webhooks/{id}/events/{event}/logs")).await.expect(200);
        assert_eq!(logs.body["logs"][0]["attempt"], 1);
        assert_eq!(logs.body["logs"][0]["status_code"], 503);
        assert_eq!(logs.body["logs"][0]["success"], false);
        assert_eq!(logs.body["logs"][0]["url"], url);

        app.api(Method::POST, &resend, None).await.expect(202);
        app.state.background_idle().await;
        let history = app.get(&format!("/api/v1/webhooks/{id}/events")).await.expect(200);
        let rows = history.body["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 2, "{}", history.text);
        assert_eq!((rows[0]["attempt"].clone(), rows[0]["status"].clone()), (json!(2), json!("success")));
        assert_eq!((rows[1]["attempt"].clone(), rows[1]["status"].clone()), (json!(1), json!("failed")));
        assert_eq!(rows[0]["can_resend"], false);

        app.api(Method::POST, &resend, None).await.expect_error(409, "already_delivered");
        // The logs come in pages, newest attempt first.
        let logs = format!("/api/v1/webhooks/{id}/events/{event}/logs");
        let newest = app.get(&format!("{logs}?limit=1")).await.expect(200);
        assert_eq!(newest.body["logs"][0]["attempt"], 2);
        let cursor = newest.body["next_cursor"].as_str().unwrap();
        let older = app.get(&format!("{logs}?limit=1&cursor={cursor}")).await.expect(200);
        assert_eq!(older.body["logs"][0]["attempt"], 1);
        app.get(&format!("{logs}?cursor=first")).await.expect_error(400, "invalid_cursor");
        let received = receiver.received_requests().await.unwrap();
        assert_eq!(received.len(), 2);
        let ids: Vec<_> = received.iter().map(|r| r.headers["x-turris-event-id"].clone()).collect();
        assert_eq!(ids[0], ids[1], "the event id is stable across attempts");
        assert_eq!(ids[0].to_str().unwrap(), event);
    }
);

api_test!(
    async fn history_pages_newest_first_with_a_cursor(app) {
        let created = create(app, "entity_compliance_data_synchronized", "https://hooks.example.com/p").await;
        let id = created["id"].as_str().unwrap();
        for _ in 0..3 {
            nipr_event(app).await;
        }
        let first = app.get(&format!("/api/v1/webhooks/{id}/events?limit=2")).await.expect(200);
        assert_eq!(first.body["rows"].as_array().unwrap().len(), 2);
        let a = first.body["rows"][0]["at"].as_str().unwrap().to_owned();
        let b = first.body["rows"][1]["at"].as_str().unwrap().to_owned();
        assert!(a >= b, "newest first: {a} {b}");
        let cursor = first.body["next_cursor"].as_str().unwrap();
        let second = app
            .get(&format!("/api/v1/webhooks/{id}/events?limit=2&cursor={cursor}"))
            .await
            .expect(200);
        assert_eq!(second.body["rows"].as_array().unwrap().len(), 1);
        assert!(second.body["rows"][0]["at"].as_str().unwrap() <= b.as_str());
        app.get(&format!("/api/v1/webhooks/{id}/events?cursor=nonsense"))
            .await
            .expect_error(400, "invalid_cursor");
    }
);

api_test!(
    async fn logs_and_resend_of_an_event_of_another_webhook_are_404(app) {
        let a = create(app, "entity_compliance_data_synchronized", "https://hooks.example.com/a").await;
        let b = create(app, "producer_agreement_executed", "https://hooks.example.com/b").await;
        nipr_event(app).await;
        let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
        let history = app.get(&format!("/api/v1/webhooks/{a}/events")).await.expect(200);
        let event = history.body["rows"][0]["event_id"].as_str().unwrap();
        app.get(&format!("/api/v1/webhooks/{b}/events/{event}/logs"))
            .await
            .expect_error(404, "not_found");
        app.api(Method::POST, &format!("/api/v1/webhooks/{b}/events/{event}/resend"), None)
            .await
            .expect_error(404, "not_found");
        let unknown = uuid::Uuid::now_v7();
        app.get(&format!("/api/v1/webhooks/{a}/events/{unknown}/logs"))
            .await
            .expect_error(404, "not_found");
        assert_eq!(
            app.get(&format!("/api/v1/webhooks/{b}/events")).await.expect(200).body["rows"],
            json!([])
        );
    }
);

/// The `X-Turris-Signature` lines of every request the mock received, in order.
async fn signature_lines(receiver: &MockServer) -> Vec<Vec<String>> {
    receiver
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            r.headers
                .get_all("x-turris-signature")
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

fn verifies_with(secret: &str, request: &wiremock::Request) -> bool {
    let secret = turris_webhooks::WebhookSecret::parse(secret).unwrap();
    turris_webhooks::Verifier::new([secret])
        .verify_now(&request.headers, &request.body)
        .is_ok()
}

api_test!(
    async fn rotating_a_secret_shows_the_new_one_once_and_signs_with_both_until_the_overlap_ends(app) {
        let receiver = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(503)).mount(&receiver).await;
        let created = create(app, "entity_compliance_data_synchronized", &format!("{}/hook", receiver.uri())).await;
        let (id, old) = (created["id"].as_str().unwrap(), created["secret"].as_str().unwrap());
        let rotate = format!("/api/v1/webhooks/{id}/rotate-secret");

        let rotated = app.api(Method::POST, &rotate, Some(json!({}))).await.expect(200);
        let new = rotated.body["secret"].as_str().unwrap().to_owned();
        assert_eq!(new.len(), 64);
        assert_ne!(new, old);
        assert_eq!(rotated.body["client_secret"], format!("•••• {}", &new[60..]));
        assert_eq!(rotated.body["previous_client_secret"], format!("•••• {}", &old[60..]));
        assert!(rotated.body["previous_secret_expires_at"].is_string());
        // Shown once: reads mask both.
        let one = app.get(&format!("/api/v1/webhooks/{id}")).await.expect(200);
        assert!(!one.text.contains(&new) && !one.text.contains(old), "{}", one.text);
        assert_eq!(one.body["previous_client_secret"], rotated.body["previous_client_secret"]);

        // During the overlap a request carries both signatures, the replaced secret's first.
        nipr_event(app).await;
        let history = app.get(&format!("/api/v1/webhooks/{id}/events")).await.expect(200);
        let event = history.body["rows"][0]["event_id"].as_str().unwrap().to_owned();
        let resend = format!("/api/v1/webhooks/{id}/events/{event}/resend");
        app.api(Method::POST, &resend, None).await.expect(202);
        app.state.background_idle().await;
        let requests = receiver.received_requests().await.unwrap();
        assert_eq!(signature_lines(&receiver).await[0].len(), 2);
        assert!(verifies_with(old, &requests[0]), "a receiver still on the old secret accepts");
        assert!(verifies_with(&new, &requests[0]), "a receiver on the new secret accepts");
        let first_line = requests[0].headers["x-turris-signature"].to_str().unwrap();
        let signed_at: i64 = requests[0].headers["x-turris-timestamp"].to_str().unwrap().parse().unwrap();
        let old_secret = turris_webhooks::WebhookSecret::parse(old).unwrap();
        assert_eq!(first_line, turris_webhooks::sign(&old_secret, signed_at, &requests[0].body));

        // Without an overlap the replaced secret stops at once: one signature, the newest.
        let again = app.api(Method::POST, &rotate, Some(json!({"overlap_seconds": 0}))).await.expect(200);
        assert!(again.body["previous_client_secret"].is_null());
        let newest = again.body["secret"].as_str().unwrap().to_owned();
        app.api(Method::POST, &resend, None).await.expect(202);
        app.state.background_idle().await;
        let requests = receiver.received_requests().await.unwrap();
        assert_eq!(signature_lines(&receiver).await[1].len(), 1);
        assert!(verifies_with(&newest, &requests[1]));
        assert!(!verifies_with(&new, &requests[1]));
    }
);

api_test!(
    async fn a_rotation_with_a_bad_overlap_or_of_an_unknown_webhook_changes_nothing(app) {
        let created = create(app, "producer_agreement_executed", "https://hooks.example.com/r").await;
        let id = created["id"].as_str().unwrap();
        let rotate = format!("/api/v1/webhooks/{id}/rotate-secret");
        let refused = app
            .api(Method::POST, &rotate, Some(json!({"overlap_seconds": 604_801})))
            .await
            .expect_error(422, "validation_failed");
        assert_eq!(refused.paths(), ["overlap_seconds"]);
        app.api(Method::POST, &rotate, Some(json!({"overlap_seconds": -1})))
            .await
            .expect_error(422, "invalid_body");
        app.api(Method::POST, &rotate, Some(json!({"secret": "00"})))
            .await
            .expect_error(422, "invalid_body");
        let unknown = uuid::Uuid::now_v7();
        app.api(Method::POST, &format!("/api/v1/webhooks/{unknown}/rotate-secret"), Some(json!({})))
            .await
            .expect_error(404, "not_found");
        let one = app.get(&format!("/api/v1/webhooks/{id}")).await.expect(200);
        assert_eq!(one.body["client_secret"], created["client_secret"], "the secret is unchanged");
        assert!(one.body["previous_client_secret"].is_null());
    }
);

api_test!(
    async fn a_resend_answered_410_disables_the_webhook_and_enable_is_idempotent_and_scoped(app) {
        let receiver = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(410)).mount(&receiver).await;
        let created = create(app, "entity_compliance_data_synchronized", &format!("{}/hook", receiver.uri())).await;
        assert_eq!(created["status"], "active");
        let id = created["id"].as_str().unwrap();
        let webhook = format!("/api/v1/webhooks/{id}");
        // Enabling an active webhook changes nothing and writes no notification.
        let same = app.api(Method::POST, &format!("{webhook}/enable"), None).await.expect(200);
        assert_eq!(same.body["status"], "active");
        assert_eq!(app.get(&format!("{webhook}/notifications")).await.expect(200).body["notifications"], json!([]));

        nipr_event(app).await;
        let history = app.get(&format!("{webhook}/events")).await.expect(200);
        let event = history.body["rows"][0]["event_id"].as_str().unwrap().to_owned();
        app.api(Method::POST, &format!("{webhook}/events/{event}/resend"), None).await.expect(202);
        app.state.background_idle().await;
        let disabled = app.get(&webhook).await.expect(200);
        assert_eq!(disabled.body["status"], "disabled");
        assert_eq!(disabled.body["disabled_reason"], "gone");
        assert!(disabled.body["disabled_at"].is_string());
        let notes = app.get(&format!("{webhook}/notifications")).await.expect(200);
        assert_eq!(notes.body["notifications"][0]["kind"], "disabled");
        assert!(notes.body["notifications"][0]["message"].as_str().unwrap().contains("410"));

        // Another organization's token and unknown ids find nothing, and change nothing.
        let stranger = app.organization("stranger", true).await;
        app.call(Method::POST, &format!("{webhook}/enable"), Some(&stranger), None)
            .await
            .expect_error(404, "not_found");
        app.call(Method::GET, &format!("{webhook}/notifications"), Some(&stranger), None)
            .await
            .expect_error(404, "not_found");
        let unknown = uuid::Uuid::now_v7();
        app.api(Method::POST, &format!("/api/v1/webhooks/{unknown}/enable"), None)
            .await
            .expect_error(404, "not_found");
        assert_eq!(app.get(&webhook).await.expect(200).body["status"], "disabled");

        let enabled = app.api(Method::POST, &format!("{webhook}/enable"), None).await.expect(200);
        assert_eq!(enabled.body["status"], "active");
        assert!(enabled.body["disabled_at"].is_null());
        let notes = app.get(&format!("{webhook}/notifications")).await.expect(200);
        let kinds: Vec<_> = notes.body["notifications"].as_array().unwrap().iter().map(|n| n["kind"].clone()).collect();
        assert_eq!(kinds, [json!("enabled"), json!("disabled")]);
    }
);

api_test!(
    async fn a_webhooks_limits_are_set_checked_and_scoped(app) {
        let created = create(app, "producer_agreement_executed", "https://hooks.example.com/l").await;
        assert_eq!(created["limits"], json!({"max_in_flight": null, "rate_limit": null}));
        let webhook = format!("/api/v1/webhooks/{}", created["id"].as_str().unwrap());
        let limits = format!("{webhook}/limits");
        let set = app
            .api(Method::PUT, &limits, Some(json!({"max_in_flight": 2, "rate_limit": 5})))
            .await
            .expect(200);
        assert_eq!(set.body["limits"], json!({"max_in_flight": 2, "rate_limit": 5}));
        assert_eq!(app.get(&webhook).await.expect(200).body["limits"]["max_in_flight"], 2);

        // Out of range: both fields named, nothing changed.
        let refused = app
            .api(Method::PUT, &limits, Some(json!({"max_in_flight": 0, "rate_limit": 10_001})))
            .await
            .expect_error(422, "validation_failed");
        assert_eq!(refused.paths(), ["max_in_flight", "rate_limit"]);
        let stranger = app.organization("stranger", true).await;
        app.call(Method::PUT, &limits, Some(&stranger), Some(json!({"max_in_flight": 9})))
            .await
            .expect_error(404, "not_found");
        assert_eq!(
            app.get(&webhook).await.expect(200).body["limits"],
            json!({"max_in_flight": 2, "rate_limit": 5})
        );

        // `null` (or a missing field) returns to the server's default.
        let reset = app.api(Method::PUT, &limits, Some(json!({"rate_limit": null}))).await.expect(200);
        assert_eq!(reset.body["limits"], json!({"max_in_flight": null, "rate_limit": null}));
    }
);

async fn spawn_with_a_limit_of_two(backend: crate::support::app::Backend) -> TestApp {
    TestApp::spawn_with(backend, |config| {
        config.delivery.webhooks_per_organization = 2
    })
    .await
}

crate::support::both_databases!(app(spawn_with_a_limit_of_two):
    async fn an_organization_at_its_webhook_limit_gets_a_409_and_nothing_is_created(app) {
        create(app, "producer_agreement_executed", "https://hooks.example.com/1").await;
        create(app, "producer_agreement_executed", "https://hooks.example.com/2").await;
        let refused = app
            .api(
                Method::POST,
                "/api/v1/webhooks",
                Some(json!({"webhook_type": "producer_agreement_executed", "url": "https://hooks.example.com/3"})),
            )
            .await
            .expect_error(409, "webhook_limit_reached");
        assert!(refused.body["message"].as_str().unwrap().contains("at most 2"));
        assert_eq!(app.get("/api/v1/webhooks").await.expect(200).body["webhooks"].as_array().unwrap().len(), 2);
        // Deleting one makes room.
        let first = app.get("/api/v1/webhooks").await.expect(200).body["webhooks"][0]["id"].as_str().unwrap().to_owned();
        app.api(Method::DELETE, &format!("/api/v1/webhooks/{first}"), None).await.expect(204);
        create(app, "producer_agreement_executed", "https://hooks.example.com/3").await;
    }
);
