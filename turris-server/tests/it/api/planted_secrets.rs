//! Planted secrets: known values in every place a secret enters the server (the API token, the
//! admin token, HubSpot's access and refresh tokens, the app's client secret, the developer
//! API key, a private-app token, a webhook endpoint's secret, the encryption key), then the
//! server driven through connect, sync both ways, delivery failures and HubSpot errors whose
//! bodies echo those values back. No log line, error string, activity row, delivery log, API
//! response body or clear database column may contain any of them.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use turris_core::ids::OrganizationId;
use turris_hubspot_sandbox::{Fault, ObjectKind, Sandbox};
use turris_server::delivery::settings::parse_schedule;
use turris_server::store::HubSpotAuth;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::app::{ADMIN_TOKEN, Answer, Backend, METRICS_TOKEN, TestApp, captured_logs};
use crate::support::eventually;

const CLIENT_SECRET: &str = "planted-client-secret-6f1c2b9e";
const DEVELOPER_KEY: &str = "planted-developer-key-0d7a4e31";
const PRIVATE_APP_TOKEN: &str = "pat-na1-planted-private-app-8c3b5d27";
const WRONG_PRIVATE_APP_TOKEN: &str = "pat-na1-planted-wrong-token-4a9e1f60";
const H: &str = "/api/v1/integrations/hubspot";

/// Everything the server answered or wrote where people and clients can see it.
#[derive(Default)]
struct Seen {
    /// `(what, text)`.
    texts: Vec<(String, String)>,
}

impl Seen {
    fn keep(&mut self, what: impl Into<String>, answer: &Answer) {
        self.texts.push((what.into(), answer.text.clone()));
    }
}

/// A HubSpot error body that echoes `values` back, as a careless upstream might.
fn echoing(category: &str, values: &[&str]) -> Value {
    json!({
        "status": "error",
        "message": format!("request refused; it carried {}", values.join(" and ")),
        "correlationId": "0b1f6a0e-planted",
        "category": category,
        "errors": [{"message": format!("bad input {}", values.join(","))}],
    })
}

async fn run(backend: Backend) {
    let sandbox = Sandbox::builder()
        .client_secret(CLIENT_SECRET)
        .developer_api_key(DEVELOPER_KEY)
        .private_app_token(PRIVATE_APP_TOKEN);
    let app = TestApp::spawn_with_sandbox(backend, sandbox, |config| {
        config.hubspot.developer_api_key = Some(DEVELOPER_KEY.to_owned());
        config.delivery.workers = true;
        config.delivery.poll_interval = Duration::from_millis(50);
        config.delivery.retry_schedule = parse_schedule("0s,100ms,200ms").unwrap();
    })
    .await;
    let mut seen = Seen::default();
    let control = app.sandbox.control();

    // Connect through OAuth; the sandbox then delivers HubSpot's webhooks to us.
    control.set_webhook_target(Some(&format!("{}/hooks/hubspot", app.base)));
    control.subscribe("company.creation", None).unwrap();
    control
        .subscribe("company.propertyChange", Some("name"))
        .unwrap();
    control
        .subscribe("company.propertyChange", Some("type"))
        .unwrap();
    seen.keep("connect", &app.connect_hubspot().await.expect(200));
    let mapping = json!({"agency": {
        "identifier": {"mode": "apply_filter", "property": "type", "operator": "equals", "value": "PARTNER"},
        "name": "name"
    }});
    seen.keep("mapping", &app.set_mapping(mapping).await);
    let sync = json!({"agency": {"inbound": true, "outbound": true}});
    seen.keep("sync", &app.set_sync(sync).await);
    let org = OrganizationId::parse(&app.org).unwrap();
    let HubSpotAuth::OAuth {
        access_token,
        refresh_token,
        ..
    } = app
        .state
        .db()
        .hubspot_credentials(&org)
        .await
        .unwrap()
        .unwrap()
        .auth
    else {
        panic!("an OAuth connection");
    };
    let (access, refresh) = (
        access_token.expose().to_owned(),
        refresh_token.expose().to_owned(),
    );

    // A webhook whose endpoint fails, and one nobody listens on.
    let failing = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500).set_body_string("endpoint down"))
        .mount(&failing)
        .await;
    let created = app
        .api(Method::POST, "/api/v1/webhooks", Some(json!({"webhook_type": "entity_compliance_data_synchronized", "url": format!("{}/hook", failing.uri())})))
        .await
        .expect(201);
    let webhook_secret = created.body["secret"].as_str().unwrap().to_owned();
    let webhook = created.body["id"].as_str().unwrap().to_owned();
    let refused = app
        .api(Method::POST, "/api/v1/webhooks", Some(json!({"webhook_type": "entity_compliance_data_synchronized", "url": "http://127.0.0.1:9/closed"})))
        .await
        .expect(201);
    let closed = refused.body["id"].as_str().unwrap().to_owned();

    // Outbound: a 500 and a validation refusal from HubSpot, each echoing secrets.
    control.inject_fault(
        Fault::new("/crm/v3/objects/companies/batch/*")
            .status(500)
            .body(echoing("INTERNAL", &[&access, CLIENT_SECRET])),
    );
    let agency = app
        .create_agency(json!({"name": "Planted One", "npn": "1001"}))
        .await;
    seen.keep("agency", &agency);
    let agency_id = agency.body["id"].as_str().unwrap().to_owned();
    eventually("the agency to reach HubSpot after a 500", || async {
        control
            .find_record(ObjectKind::Companies, "name", "Planted One")
            .map(|_| ())
    })
    .await;
    control.inject_fault(
        Fault::new("/crm/v3/objects/companies/batch/*")
            .status(400)
            .body(echoing("VALIDATION_ERROR", &[&refresh, DEVELOPER_KEY])),
    );
    seen.keep(
        "refused agency",
        &app.create_agency(json!({"name": "Planted Two"})).await,
    );
    eventually("HubSpot's refusal in the activity", || async {
        let page = app.get(&format!("{H}/activity?limit=100")).await;
        page.text.contains("VALIDATION_ERROR").then_some(())
    })
    .await;

    // Inbound: a company made in HubSpot becomes an agency.
    control
        .create_record(
            ObjectKind::Companies,
            [("name", "Planted Inbound"), ("type", "PARTNER")],
        )
        .unwrap();
    control.flush_webhooks().await;
    eventually("the inbound agency", || async {
        let page = app.get("/api/v1/agencies?limit=100").await;
        page.text.contains("Planted Inbound").then_some(())
    })
    .await;

    // Deliveries that fail: a 500 and a refused connection.
    seen.keep(
        "nipr sync",
        &app.create_nipr_sync(json!({"entity_type": "agency", "entity_id": agency_id, "kind": "fetch", "outcome": "success"})).await,
    );
    for id in [&webhook, &closed] {
        eventually("a failed delivery", || async {
            let events = app.get(&format!("/api/v1/webhooks/{id}/events")).await;
            events.text.contains("\"failed\"").then_some(())
        })
        .await;
    }

    // The token expires and its refresh is refused with an echo of the secrets.
    control.expire_access_tokens();
    control.inject_fault(
        Fault::new("/oauth/v3/token")
            .status(400)
            .body(json!({"status": "BAD_REFRESH_TOKEN", "message": format!("refresh token {refresh} is not valid for client secret {CLIENT_SECRET}")})),
    );
    seen.keep(
        "agency after expiry",
        &app.create_agency(json!({"name": "Planted Three"})).await,
    );
    seen.keep("properties", &app.get(&format!("{H}/properties")).await);
    eventually("the refused refresh and one after it", || async {
        (control.stats().calls_to("POST", "/oauth/v3/token") >= 2).then_some(())
    })
    .await;

    // A private app with a wrong token in another organization, then the right one.
    let other = app.organization("planted-other", true).await;
    for token in [WRONG_PRIVATE_APP_TOKEN, PRIVATE_APP_TOKEN] {
        let answer = app
            .call(
                Method::POST,
                &format!("{H}/private-app"),
                Some(&other),
                Some(json!({"portal_id": app.sandbox.portal_id(), "token": token})),
            )
            .await;
        seen.keep("private app connect", &answer);
    }
    // Wrong tokens in every place a token is read.
    for token in [WRONG_PRIVATE_APP_TOKEN, CLIENT_SECRET] {
        seen.keep(
            "bad token",
            &app.call(Method::GET, "/api/v1/webhooks", Some(token), None)
                .await,
        );
        seen.keep(
            "bad admin",
            &app.call(
                Method::GET,
                "/api/v1/admin/organizations",
                Some(token),
                None,
            )
            .await,
        );
    }

    // Everything a client can read afterwards.
    let mut reads = vec![
        "/api/v1/integrations".to_owned(),
        H.to_owned(),
        format!("{H}/activity?limit=100"),
        format!("{H}/webhook-status"),
        format!("{H}/mapping"),
        format!("{H}/sync"),
        "/api/v1/webhooks".to_owned(),
        "/api/v1/agencies?limit=100".to_owned(),
        "/api/v1/invitations".to_owned(),
        "/api/v1/nipr-syncs".to_owned(),
        "/readyz".to_owned(),
    ];
    for id in [&webhook, &closed] {
        let events = app
            .get(&format!("/api/v1/webhooks/{id}/events"))
            .await
            .expect(200);
        for row in events.body["rows"].as_array().into_iter().flatten() {
            let event_id = row["event_id"].as_str().unwrap();
            let logs = format!("/api/v1/webhooks/{id}/events/{event_id}/logs");
            if !reads.contains(&logs) {
                reads.push(logs);
            }
        }
        seen.keep("history", &events);
    }
    for path in &reads {
        seen.keep(path.clone(), &app.get(path).await);
    }
    seen.keep(
        "metrics",
        &app.call(Method::GET, "/metrics", Some(METRICS_TOKEN), None)
            .await
            .expect(200),
    );
    let other_card = app.call(Method::GET, H, Some(&other), None).await;
    seen.keep("other card", &other_card);
    for org in [app.org.as_str(), "planted-other"] {
        seen.keep(
            "admin tokens",
            &app.admin(
                Method::GET,
                &format!("/api/v1/admin/organizations/{org}/tokens"),
                None,
            )
            .await,
        );
    }
    let logs_read = seen
        .texts
        .iter()
        .filter(|(w, _)| w.ends_with("/logs"))
        .count();
    assert!(logs_read >= 2, "delivery logs were read: {logs_read}");
    seen.texts.push(("logs".into(), captured_logs()));
    seen.texts
        .push(("database".into(), app.db.raw_contents().await));

    let key = app.db.key.to_hex();
    let planted = [
        ("api token", app.token.clone()),
        ("other api token", other.clone()),
        ("admin token", ADMIN_TOKEN.to_owned()),
        ("metrics token", METRICS_TOKEN.to_owned()),
        ("access token", access),
        ("refresh token", refresh),
        ("client secret", CLIENT_SECRET.to_owned()),
        ("developer api key", DEVELOPER_KEY.to_owned()),
        ("private-app token", PRIVATE_APP_TOKEN.to_owned()),
        (
            "wrong private-app token",
            WRONG_PRIVATE_APP_TOKEN.to_owned(),
        ),
        ("webhook secret", webhook_secret.clone()),
        ("encryption key", key.clone()),
        ("encryption key (upper case)", key.to_uppercase()),
    ];
    let mut leaks = Vec::new();
    for (what, value) in &planted {
        assert!(value.len() >= 16, "{what} is a real value");
        for (place, text) in &seen.texts {
            if text.contains(value.as_str()) {
                let at = text.find(value.as_str()).unwrap();
                let start = text[..at]
                    .char_indices()
                    .rev()
                    .nth(200)
                    .map_or(0, |(i, _)| i);
                let end = (at + value.len() + 200).min(text.len());
                let end = (end..=text.len())
                    .find(|i| text.is_char_boundary(*i))
                    .unwrap();
                leaks.push(format!("{what} in {place}: …{}…", &text[start..end]));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "planted secrets leaked:\n{}",
        leaks.join("\n\n")
    );
    // The paths ran: HubSpot's refusal, the refused refresh and the failed deliveries.
    let logs = captured_logs();
    assert!(
        logs.contains("refresh token is invalid or revoked"),
        "the refresh was refused"
    );
    assert!(
        seen.texts
            .iter()
            .any(|(w, t)| w.contains("activity") && t.contains("VALIDATION_ERROR"))
    );
    assert!(
        seen.texts
            .iter()
            .any(|(w, t)| w.ends_with("/logs") && t.contains("Connection refused"))
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_secrets_never_reach_logs_errors_activity_deliveries_or_responses_on_sqlite() {
    run(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_secrets_never_reach_logs_errors_activity_deliveries_or_responses_on_postgres() {
    if crate::support::skip_postgres() {
        return;
    }
    run(Backend::Postgres).await;
}
