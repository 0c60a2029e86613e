//! Health, readiness, request ids, the OpenAPI document, and the error shape for bad input.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::json;

use crate::support::app::{TestApp, assert_error_shape};

api_test!(
    async fn healthz_and_readyz_answer_ok_without_a_token(app) {
        let health = app.call(Method::GET, "/healthz", None, None).await.expect(200);
        assert_eq!(health.body["status"], "ok");
        let ready = app.call(Method::GET, "/readyz", None, None).await.expect(200);
        assert_eq!(ready.body["status"], "ok");
    }
);

api_test!(
    async fn every_answer_carries_a_request_id_and_keeps_the_callers(app) {
        let answer = app.call(Method::GET, "/healthz", None, None).await.expect(200);
        let id = answer.headers["x-request-id"].to_str().unwrap();
        assert_eq!(id.len(), 36, "a uuid: {id}");
        let response = app
            .http
            .get(format!("{}/healthz", app.base))
            .header("x-request-id", "caller-chosen-id")
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["x-request-id"], "caller-chosen-id");
        // The request's log lines carry it too, so a support ticket can quote it.
        let logs = crate::support::app::captured_logs();
        assert!(
            logs.lines().any(|l| l.contains("request_id=caller-chosen-id") && l.contains("/healthz")),
            "the request id is in the logs"
        );
    }
);

api_test!(
    async fn the_openapi_document_lists_every_route_and_nothing_else(app) {
        let doc = app.call(Method::GET, "/api/v1/openapi.json", None, None).await.expect(200);
        let mut documented = BTreeSet::new();
        for (path, item) in doc.body["paths"].as_object().expect("paths") {
            for method in item.as_object().unwrap().keys() {
                if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                    documented.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        let routed: BTreeSet<(String, String)> = turris_server::http::route_table()
            .into_iter()
            .map(|r| (r.method.to_string(), r.path))
            .collect();
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let phantom: Vec<_> = documented.difference(&routed).collect();
        assert!(undocumented.is_empty(), "routes missing from the document: {undocumented:?}");
        assert!(phantom.is_empty(), "documented routes the router lacks: {phantom:?}");
        assert!(routed.len() > 50, "the table is the real one: {}", routed.len());
        // Every error answer is documented with the error shape.
        for (path, item) in doc.body["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                for (status, response) in operation["responses"].as_object().unwrap() {
                    if status.starts_with('4') || status.starts_with('5') {
                        assert_eq!(
                            response["content"]["application/json"]["schema"]["$ref"],
                            "#/components/schemas/ErrorBody",
                            "{method} {path} {status}"
                        );
                    }
                }
            }
        }
        // Every write that takes a body documents it.
        let bodiless = ["/hubspot/connect", "/hubspot/reconnect", "/resend", "/enable"];
        for (path, item) in doc.body["paths"].as_object().unwrap() {
            for method in ["post", "put"] {
                if let Some(operation) = item.get(method)
                    && !bodiless.iter().any(|b| path.ends_with(b))
                {
                    assert!(
                        operation.get("requestBody").is_some(),
                        "{method} {path} documents no request body"
                    );
                }
            }
        }
    }
);

api_test!(
    async fn unknown_routes_and_methods_answer_the_error_shape(app) {
        app.get("/api/v1/nope").await.expect_error(404, "not_found");
        let put = app
            .api(Method::PUT, "/api/v1/webhooks/00000000-0000-0000-0000-000000000000", Some(json!({})))
            .await
            .expect_error(405, "method_not_allowed");
        assert!(put.headers.contains_key("allow"));
        app.api(Method::PATCH, "/api/v1/webhooks/00000000-0000-0000-0000-000000000000", Some(json!({})))
            .await
            .expect_error(405, "method_not_allowed");
    }
);

async fn webhook_count(app: &crate::support::app::TestApp) -> usize {
    app.get("/api/v1/webhooks").await.expect(200).body["webhooks"]
        .as_array()
        .unwrap()
        .len()
}

api_test!(
    async fn malformed_json_is_a_400_with_the_error_shape_and_changes_nothing(app) {
        let answer = app
            .raw(Method::POST, "/api/v1/webhooks", "application/json", "{\"webhook_type\": ")
            .await
            .expect_error(400, "malformed_json");
        assert_error_shape(&answer.body);
        assert_eq!(webhook_count(app).await, 0);
    }
);

api_test!(
    async fn wrong_types_are_a_422_naming_the_field_and_change_nothing(app) {
        let answer = app
            .api(Method::POST, "/api/v1/webhooks", Some(json!({"webhook_type": 5, "url": "https://hooks.example.com/x"})))
            .await
            .expect_error(422, "invalid_body");
        assert_eq!(answer.paths(), ["webhook_type"]);
        assert_eq!(webhook_count(app).await, 0);
    }
);

api_test!(
    async fn unknown_fields_are_a_422_naming_the_field_and_change_nothing(app) {
        let answer = app
            .api(
                Method::POST,
                "/api/v1/webhooks",
                Some(json!({"webhook_type": "producer_agreement_executed", "url": "https://hooks.example.com/x", "secret": "mine"})),
            )
            .await
            .expect_error(422, "invalid_body");
        assert_eq!(answer.paths(), ["secret"]);
        assert_eq!(webhook_count(app).await, 0);
        let agency = app
            .api(Method::POST, "/api/v1/agencies", Some(json!({"name": "Acme", "colour": "red"})))
            .await
            .expect_error(422, "invalid_body");
        assert_eq!(agency.paths(), ["colour"]);
        let list = app.get("/api/v1/agencies").await.expect(200);
        assert_eq!(list.body["items"].as_array().unwrap().len(), 0);
    }
);

api_test!(
    async fn oversized_bodies_are_a_413_with_the_error_shape_and_change_nothing(app) {
        // A client announcing a body over the test app's 64 KiB limit is answered 413 before
        // the body is read. The request is written by hand and sends no body: a server that
        // closes a connection with unread bytes makes the kernel reset it, which can swallow
        // the answer, so a test sending the whole body would depend on loopback timing.
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = app.base.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "POST /api/v1/agencies HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            app.token,
            64 * 1024 + 1024
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
        let body: serde_json::Value = serde_json::from_str(body).expect("a JSON error body");
        crate::support::app::assert_error_shape(&body);
        assert_eq!(body["code"], "payload_too_large", "{body}");
        let list = app.get("/api/v1/agencies").await.expect(200);
        assert_eq!(list.body["items"].as_array().unwrap().len(), 0);
    }
);

api_test!(
    async fn a_body_without_a_json_content_type_is_a_415_with_the_error_shape(app) {
        app.raw(Method::POST, "/api/v1/agencies", "text/plain", "{\"name\":\"Acme\"}")
            .await
            .expect_error(415, "unsupported_media_type");
    }
);

api_test!(
    async fn a_bad_query_string_is_a_400_with_the_error_shape(app) {
        app.get("/api/v1/agencies?limit=lots").await.expect_error(400, "invalid_query");
    }
);

mod lifecycle {
    use std::sync::Arc;
    use std::time::Duration;

    use axum::routing::post;
    use reqwest::Method;
    use serde_json::json;
    use tokio::sync::{Notify, mpsc};
    use turris_server::store::Backend;
    use turris_webhooks::delivery::DeliveryStore;

    use crate::support::app::TestApp;

    async fn a_slow_hubspot_call_is_cut_off_with_a_408_in_the_error_shape(backend: Backend) {
        let app = TestApp::spawn_with(backend, |config| config.request_timeout_secs = 1).await;
        app.connect_hubspot().await.expect(200);
        app.sandbox.control().set_latency(Duration::from_secs(30));
        app.get("/api/v1/integrations/hubspot/properties?refresh=true")
            .await
            .expect_error(408, "timeout");
        app.sandbox.control().set_latency(Duration::ZERO);
        app.finish().await;
    }

    both_databases!(backend: a_slow_hubspot_call_is_cut_off_with_a_408_in_the_error_shape);

    /// A receiver that reports each request and answers only when released.
    async fn held_receiver() -> (String, mpsc::UnboundedReceiver<()>, Arc<Notify>) {
        let (arrived, arrivals) = mpsc::unbounded_channel();
        let release = Arc::new(Notify::new());
        let gate = release.clone();
        let router = axum::Router::new().route(
            "/hook",
            post(move || {
                let arrived = arrived.clone();
                let gate = gate.clone();
                async move {
                    let _ = arrived.send(());
                    gate.notified().await;
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (url, arrivals, release)
    }

    async fn shutdown_waits_for_an_in_flight_resend_and_records_it(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (url, mut arrivals, release) = held_receiver().await;
        let webhook = app
            .api(
                Method::POST,
                "/api/v1/webhooks",
                Some(json!({"webhook_type": "entity_compliance_data_synchronized", "url": url})),
            )
            .await
            .expect(201);
        let id = webhook.body["id"].as_str().unwrap().to_owned();
        let agency = app.create_agency(json!({"name": "Acme"})).await;
        app.create_nipr_sync(json!({"entity_type": "agency", "entity_id": agency.body["id"], "kind": "fetch", "outcome": "success"})).await;
        let history = app
            .get(&format!("/api/v1/webhooks/{id}/events"))
            .await
            .expect(200);
        let event = history.body["rows"][0]["event_id"]
            .as_str()
            .unwrap()
            .to_owned();
        app.api(
            Method::POST,
            &format!("/api/v1/webhooks/{id}/events/{event}/resend"),
            None,
        )
        .await
        .expect(202);
        arrivals
            .recv()
            .await
            .expect("the resend reaches the receiver");
        // Shut down while the delivery is in flight, and let the receiver answer meanwhile:
        // the server only stops once the attempt is recorded.
        tokio::join!(app.shutdown(), async { release.notify_one() });
        let event_id: turris_webhooks::EventId = event.parse().unwrap();
        // The server closed its pool on the way out: read through the test's own.
        let attempts = app.db.store().list_attempts(event_id).await.unwrap();
        assert_eq!(
            attempts.len(),
            1,
            "the in-flight attempt was recorded before exit"
        );
        assert!(attempts[0].success);
        app.finish().await;
    }

    both_databases!(backend: shutdown_waits_for_an_in_flight_resend_and_records_it);
}

api_test!(
    async fn readyz_is_a_503_when_the_database_does_not_answer(app) {
        app.call(Method::GET, "/readyz", None, None).await.expect(200);
        app.state.database().close().await;
        app.call(Method::GET, "/readyz", None, None)
            .await
            .expect_error(503, "not_ready");
        app.call(Method::GET, "/healthz", None, None).await.expect(200);
        // Other endpoints answer a generic 500 without the database's words.
        let answer = app.get("/api/v1/webhooks").await.expect_error(500, "internal");
        assert!(!answer.text.to_lowercase().contains("pool"), "{}", answer.text);
    }
);

/// `TURRIS_WEBHOOK_ALLOW_LOOPBACK` on a server reachable from elsewhere is refused at start,
/// unless forced; either way the escape hatch is logged as a warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loopback_escape_hatch_is_refused_on_a_public_listener_unless_forced() {
    use turris_server::app::Application;
    use turris_server::config::{AllowLoopback, Config};

    crate::support::app::init_logs();
    let db = crate::support::db::TestDb::fresh(turris_server::store::Backend::Sqlite).await;
    let mut config = Config::local("0.0.0.0:0".parse().unwrap(), db.url.clone());
    config.encryption_key = Some(db.key.to_hex());
    config.encryption_key_file = None;
    config.webhook_allow_loopback = AllowLoopback::On;
    let refused = Application::build(config.clone())
        .await
        .err()
        .expect("refused");
    let message = turris_server::error::ErrorChain(&refused).to_string();
    assert!(
        message.contains("TURRIS_WEBHOOK_ALLOW_LOOPBACK") && message.contains("force"),
        "{message}"
    );
    config.webhook_allow_loopback = AllowLoopback::Force;
    let app = Application::build(config.clone()).await.expect("forced");
    app.state().database().close().await;
    let logs = crate::support::app::captured_logs();
    assert!(
        logs.contains("webhook URLs on loopback over plain http are accepted"),
        "warned"
    );
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.webhook_allow_loopback = AllowLoopback::On;
    let app = Application::build(config).await.expect("loopback listener");
    app.state().database().close().await;
}

api_test!(
    async fn metrics_need_the_metrics_token_not_an_api_token(app) {
        use crate::support::app::METRICS_TOKEN;
        app.call(Method::GET, "/metrics", None, None).await.expect_error(401, "unauthorized");
        app.get("/metrics").await.expect_error(401, "unauthorized");
        app.call(Method::GET, "/metrics", Some(crate::support::app::ADMIN_TOKEN), None)
            .await
            .expect_error(401, "unauthorized");
        let metrics = app.call(Method::GET, "/metrics", Some(METRICS_TOKEN), None).await.expect(200);
        assert!(metrics.text.contains("turris_"), "{}", metrics.text);
    }
);

/// Without a metrics token `/metrics` is off on the API's listener; `TURRIS_METRICS_LISTEN`
/// serves it on an address of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_off_on_the_api_listener_without_a_token_and_served_on_their_own_listener() {
    let app = TestApp::spawn_with(crate::support::app::Backend::Sqlite, |config| {
        config.metrics_token = None;
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    app.call(Method::GET, "/metrics", None, None)
        .await
        .expect_error(403, "metrics_disabled");
    let addr = app.metrics_addr.expect("a metrics listener");
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(text.status(), 200);
    assert!(text.text().await.unwrap().contains("turris_"));
    let other = reqwest::get(format!("http://{addr}/api/v1/webhooks"))
        .await
        .unwrap();
    assert_eq!(other.status(), 404, "only /metrics there");
    app.finish().await;
}

/// Each API token has its own budget: over it, 429 in the error shape with `Retry-After`;
/// other tokens, unknown tokens and the admin token are not affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_over_its_rate_gets_429_with_retry_after_and_other_tokens_do_not() {
    let app = TestApp::spawn_with(crate::support::app::Backend::Sqlite, |config| {
        config.rate_limit_per_second = 1;
        config.rate_limit_burst = 3;
    })
    .await;
    let other = app
        .token_with(&app.org, "other", &["webhooks:read".to_owned()])
        .await;
    for _ in 0..3 {
        app.get("/api/v1/webhooks").await.expect(200);
    }
    let limited = app
        .get("/api/v1/webhooks")
        .await
        .expect_error(429, "rate_limited");
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    app.call(Method::GET, "/api/v1/webhooks", Some(&other), None)
        .await
        .expect(200);
    app.call(Method::GET, "/api/v1/webhooks", Some("trs_unknown"), None)
        .await
        .expect_error(401, "unauthorized");
    app.admin(Method::GET, "/api/v1/admin/organizations", None)
        .await
        .expect(200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.get("/api/v1/webhooks").await.expect(200);
    app.finish().await;
}

/// Past `max_in_flight` requests at once, the API answers 429 `overloaded` with `Retry-After`
/// at once instead of queueing and counts it in `/metrics`; health is never refused, and the
/// next request after the load passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_the_in_flight_bound_gets_429_overloaded_and_health_still_answers() {
    let app = TestApp::spawn_with(crate::support::app::Backend::Sqlite, |config| {
        config.api_max_in_flight = 1;
    })
    .await;
    // One request held in flight: a private-app connect waiting on a slow HubSpot.
    let control = app.sandbox.control();
    control.set_latency(std::time::Duration::from_secs(3));
    let body =
        json!({"portal_id": app.sandbox.portal_id(), "token": app.sandbox.private_app_token()});
    let held = {
        let (http, base, token) = (app.http.clone(), app.base.clone(), app.token.clone());
        tokio::spawn(async move {
            http.post(format!("{base}/api/v1/integrations/hubspot/private-app"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    crate::sync::eventually("the held request reaches HubSpot", || async {
        (!control.stats().calls.is_empty()).then_some(())
    })
    .await;
    let refused = app
        .get("/api/v1/webhooks")
        .await
        .expect_error(429, "overloaded");
    assert_eq!(refused.headers["retry-after"], "1");
    app.call(Method::GET, "/readyz", None, None)
        .await
        .expect(200);
    let metrics = app
        .call(
            Method::GET,
            "/metrics",
            Some(crate::support::app::METRICS_TOKEN),
            None,
        )
        .await
        .expect(200);
    assert!(
        metrics.text.contains("\nturris_api_overloaded_total 1\n"),
        "the refusal is counted: {}",
        metrics.text
    );
    assert_eq!(held.await.unwrap(), 200, "the held request finishes");
    control.set_latency(std::time::Duration::ZERO);
    app.get("/api/v1/webhooks").await.expect(200);
    app.finish().await;
}

/// The SQLite database (and SQLite's -wal and -shm files) and the demo's key file are created
/// readable by their owner only, and a previous demo key file's looser mode is not kept.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_files_and_the_demo_key_are_created_with_mode_0600() {
    use std::os::unix::fs::PermissionsExt;
    use turris_server::app::Application;
    use turris_server::config::Config;

    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data/turris.db");
    let mut config = Config::local(
        "127.0.0.1:0".parse().unwrap(),
        format!("sqlite://{}?mode=rwc", file.display()),
    );
    config.encryption_key = Some(
        turris_server::crypto::EncryptionKey::generate()
            .unwrap()
            .to_hex(),
    );
    config.encryption_key_file = None;
    let app = Application::build(config).await.expect("starts");
    let org = turris_core::ids::OrganizationId::parse("acme").unwrap();
    app.state()
        .db()
        .create_organization(
            &org,
            "Acme",
            turris_core::permissions::SubscriptionState::Active,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let mut checked = 0;
    for name in ["turris.db", "turris.db-wal", "turris.db-shm"] {
        let path = dir.path().join("data").join(name);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{name}");
            checked += 1;
        }
    }
    assert!(checked >= 2, "the database and its WAL were checked");
    app.state().database().close().await;

    let demo = dir.path().join("demo");
    std::fs::create_dir_all(&demo).unwrap();
    let key_file = demo.join("encryption-key");
    std::fs::write(&key_file, "old").unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let key = turris_server::demo::prepare_data_dir(&demo).unwrap();
    assert_eq!(mode(&key_file), 0o600);
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), key.to_hex());
}
