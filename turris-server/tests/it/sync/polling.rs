//! Polling as the inbound mode (a Service Key's connection: no webhooks, no journal): records
//! modified in HubSpot are found by search and synced, none twice.

use std::time::Duration;

use turris_server::sync::polling;

use super::*;

/// A static-token connection with the agency mapping and inbound on, polling; the worker's own
/// interval is an hour, so each test runs rounds itself.
async fn polling_app(backend: Backend) -> TestApp {
    let app = TestApp::spawn_with(backend, |config| {
        config.hubspot.poll_interval = Duration::from_secs(3600);
    })
    .await;
    let control = app.sandbox.control();
    control.set_webhook_target(None);
    create_agency_properties(&control);
    // A Service Key connects like a private-app token.
    let key = json!({"portal_id": app.sandbox.portal_id(), "token": control.create_service_key()});
    app.api(Method::POST, &format!("{H}/private-app"), Some(key))
        .await
        .expect(200);
    map_agencies_inbound(&app).await;
    app.api(
        Method::PUT,
        &format!("{H}/inbound-mode"),
        Some(json!({"mode": "polling"})),
    )
    .await
    .expect(200);
    app
}

crate::support::both_databases!(app(polling_app):
    async fn records_modified_in_hubspot_are_found_by_search_and_synced_once(app) {
        let control = app.sandbox.control();
        control.reset_stats();
        // The first round only sets the cursors: what existed before is a reconciliation's.
        control
            .create_record(ObjectKind::Companies, [("name", "Before"), ("type", "PARTNER")])
            .unwrap();
        polling::round(&app.state).await.unwrap();
        assert_eq!(app.count("SELECT COUNT(*) FROM inbound_events").await, 0);
        tokio::time::sleep(Duration::from_millis(5)).await;
        let acme = control
            .create_record(ObjectKind::Companies, [("name", "Polled"), ("type", "PARTNER")])
            .unwrap();
        polling::round(&app.state).await.unwrap();
        eventually("the polled company to arrive", || async {
            app.agencies().await.iter().any(|a| a["name"] == "Polled").then_some(())
        })
        .await;
        let stored = app.count("SELECT COUNT(*) FROM inbound_events").await;
        assert!(stored > 0);
        // The next search overlaps (>= the newest time seen): nothing is stored twice.
        polling::round(&app.state).await.unwrap();
        assert_eq!(app.count("SELECT COUNT(*) FROM inbound_events").await, stored);
        control
            .update_record(ObjectKind::Companies, &acme.id, [("city", "Austin")])
            .unwrap();
        polling::round(&app.state).await.unwrap();
        eventually("the edit to arrive", || async {
            app.agencies()
                .await
                .iter()
                .any(|a| a["name"] == "Polled" && a["city"] == "Austin")
                .then_some(())
        })
        .await;
        assert!(!app.agencies().await.iter().any(|a| a["name"] == "Before"));
        assert!(control.webhook_attempts().is_empty(), "no webhook was sent");
        // One search per round that searched (the first only set the cursor), nothing throttled.
        let stats = control.stats();
        assert_eq!(stats.calls_to("POST", "/crm/v3/objects/companies/search"), 3);
        assert_eq!(stats.rate_limited, 0);
    }
);
