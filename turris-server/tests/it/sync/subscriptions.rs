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
    app.set_mapping(agency_mapping()).await;
    app
}

impl TestApp {
    /// The status of one company property's webhook.
    async fn company_webhook(&self, property: &str) -> String {
        let all = self.company_webhooks().await;
        all.into_iter()
            .find(|(p, _)| p == property)
            .map(|(_, s)| s)
            .unwrap()
    }

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

async fn turning_agency_inbound_on_subscribes_every_mapped_property_pending_until_hubspot_confirms(
    backend: Backend,
) {
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
    app.set_sync(json!({"agency": {"inbound": true}})).await;
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

both_databases!(backend: turning_agency_inbound_on_subscribes_every_mapped_property_pending_until_hubspot_confirms);

sync_test!(
    async fn the_project_files_declare_the_subscriptions_the_mapping_needs(app) {
        use clap::Parser;
        use turris_server::config::{Cli, Command};
        let out = tempfile::tempdir().unwrap();
        let cli = Cli::parse_from([
            "turris-server",
            "hubspot-project",
            "--organization",
            &app.org,
            "--out",
            out.path().to_str().unwrap(),
            "--database-url",
            &app.db.url,
            "--encryption-key",
            &app.db.key.to_hex(),
            "--public-base-url",
            "https://turris.example",
        ]);
        let Some(Command::HubspotProject(args)) = cli.command else {
            panic!("hubspot-project parses");
        };
        turris_server::cli::hubspot_project(&cli.config, &args)
            .await
            .unwrap();
        let read = |path: &str| -> Value {
            serde_json::from_slice(&std::fs::read(out.path().join(path)).unwrap()).unwrap()
        };
        assert_eq!(read("hsproject.json")["platformVersion"], "2026.03");
        let app_file = read("src/app/app-hsmeta.json");
        assert_eq!(app_file["config"]["auth"]["type"], "oauth");
        let redirect = app_file["config"]["auth"]["redirectUrls"][0].as_str().unwrap();
        assert!(redirect.starts_with("https://turris.example/"), "{redirect}");
        let hooks = read("src/app/webhooks/webhooks-hsmeta.json");
        assert_eq!(
            hooks["config"]["settings"]["targetUrl"],
            "https://turris.example/hooks/hubspot"
        );
        let subs: Vec<(String, String, Option<String>)> = hooks["config"]["subscriptions"]
            ["crmObjects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["subscriptionType"].as_str().unwrap().to_owned(),
                    s["objectType"].as_str().unwrap().to_owned(),
                    s["propertyName"].as_str().map(str::to_owned),
                )
            })
            .collect();
        let has = |t: &str, p: Option<&str>| {
            subs.iter()
                .any(|(st, o, pn)| st == t && o == "company" && pn.as_deref() == p)
        };
        assert!(has("object.creation", None), "{subs:?}");
        assert!(has("object.deletion", None));
        for property in AGENCY_PROPERTIES {
            assert!(has("object.propertyChange", Some(property)), "{property}: {subs:?}");
        }
        assert!(
            subs.iter().all(|(_, o, _)| o == "company"),
            "only agency inbound is on: {subs:?}"
        );
    }
);

sync_test!(
    async fn a_change_event_turns_a_declared_subscription_live(app) {
        // `synced_app` subscribes the sandbox's app by hand, as a developer declares a
        // project's webhooks; the server has no developer API key, so it cannot confirm them.
        assert_eq!(app.company_webhook("city").await, "managed_in_hubspot");
        let control = app.sandbox.control();
        let acme = control
            .create_record(ObjectKind::Companies, [("name", "Acme"), ("type", "PARTNER")])
            .unwrap();
        control
            .update_record(ObjectKind::Companies, &acme.id, [("city", "Austin")])
            .unwrap();
        control.flush_webhooks().await;
        eventually("city to turn live", || async {
            (app.company_webhook("city").await == "live").then_some(())
        })
        .await;
        assert_eq!(app.company_webhook("zip").await, "managed_in_hubspot", "no zip event yet");
    }
);
