//! Webhook subscriptions: turning agency inbound on subscribes the app to every mapped company
//! property (plus creation and deletion); each property is `pending` until HubSpot confirms it.

use serde_json::Value;
use turris_hubspot_sandbox::{Fault, ObjectKind};

use super::*;

/// The sandbox's developer API key, read from its control API (the sandbox runs in this
/// process; the config tweak is synchronous, so ask from a thread of its own).
fn developer_api_key(api_base: &str) -> String {
    let url = format!("{api_base}/_sandbox");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let client = reqwest::Client::builder().no_proxy().build().unwrap();
            let ids: Value = client.get(url).send().await.unwrap().json().await.unwrap();
            ids["developerApiKey"].as_str().unwrap().to_owned()
        })
    })
    .join()
    .unwrap()
}

/// A connected server that manages subscriptions itself; the sandbox starts with none.
async fn managing_app(backend: Backend) -> TestApp {
    let app = TestApp::spawn_with(backend, |config| {
        config.hubspot.developer_api_key = Some(developer_api_key(&config.hubspot.api_base));
    })
    .await;
    let control = app.sandbox.control();
    control.set_webhook_target(Some(&format!("{}/hooks/hubspot", app.base)));
    for name in ["npn", "producer_code"] {
        control
            .create_property(
                ObjectKind::Companies,
                json!({"name": name, "label": name, "type": "string", "fieldType": "text"}),
            )
            .unwrap();
    }
    app.connect_hubspot().await.expect(200);
    app.api(Method::PUT, &format!("{H}/mapping"), Some(agency_mapping()))
        .await
        .expect(200);
    app
}

impl TestApp {
    /// `(property, status)` of every company property the status page lists.
    async fn company_webhooks(&self) -> Vec<(String, String)> {
        let page = self.get(&format!("{H}/webhook-status")).await.expect(200);
        page.body["properties"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["object"] == "company")
            .map(|p| {
                (
                    p["property"].as_str().unwrap().to_owned(),
                    p["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

async fn subscriptions_become_live_and_deliver(backend: Backend) {
    let app = managing_app(backend).await;
    let control = app.sandbox.control();
    // HubSpot refuses at first: the properties stay pending.
    control.inject_fault(
        Fault::new(format!(
            "/webhooks/v3/{}/subscriptions*",
            app.sandbox.app_id()
        ))
        .times(1000),
    );
    app.api(
        Method::PUT,
        &format!("{H}/sync"),
        Some(json!({"agency": {"inbound": true}})),
    )
    .await
    .expect(200);
    eventually("a refused subscription call", || async {
        (control.stats().faults_injected > 0).then_some(())
    })
    .await;
    let pending = app.company_webhooks().await;
    assert_eq!(pending.len(), AGENCY_PROPERTIES.len(), "{pending:?}");
    assert!(pending.iter().all(|(_, s)| s == "pending"), "{pending:?}");
    // Once HubSpot answers, every mapped property goes live.
    control.clear_faults();
    eventually("every property to go live", || async {
        let statuses = app.company_webhooks().await;
        statuses.iter().all(|(_, s)| s == "live").then_some(())
    })
    .await;
    // And the subscriptions deliver: a company created as a person would is synced.
    control
        .create_record(
            ObjectKind::Companies,
            [("type", "PARTNER"), ("name", "Subscribed Agency")],
        )
        .unwrap();
    app.settle().await;
    let agencies = app.agencies().await;
    assert_eq!(agencies.len(), 1, "{agencies:#?}");
    assert_eq!(agencies[0]["name"], "Subscribed Agency");
    app.finish().await;
}

mod turning_agency_inbound_on_subscribes_every_mapped_property_pending_until_hubspot_confirms {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_sqlite() {
        subscriptions_become_live_and_deliver(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_postgres() {
        if crate::support::skip_postgres() {
            return;
        }
        subscriptions_become_live_and_deliver(Backend::Postgres).await;
    }
}
