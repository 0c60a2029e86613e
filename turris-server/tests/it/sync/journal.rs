//! The webhooks journal as the inbound mode: no webhook reaches the server (the sandbox has no
//! target), and companies made in HubSpot still become agencies; an expired position is an
//! activity row asking for a reconciliation; two replicas read each entry once.

use std::time::Duration;

use turris_server::sync::journal;

use super::*;

/// A connected server with the agency mapping and inbound on, reading the journal only. Its
/// own polling is slow (an hour): each test wakes the worker when it wants a round.
async fn journal_app(backend: Backend) -> TestApp {
    let app = TestApp::spawn_with(backend, |config| {
        config.hubspot.journal_poll = Duration::from_secs(3600);
    })
    .await;
    let control = app.sandbox.control();
    control.set_webhook_target(None);
    create_agency_properties(&control);
    app.connect_hubspot().await.expect(200);
    map_agencies_inbound(&app).await;
    app.api(
        Method::PUT,
        &format!("{H}/inbound-mode"),
        Some(json!({"mode": "journal"})),
    )
    .await
    .expect(200);
    eventually("the journal subscriptions", || async {
        (app.count("SELECT COUNT(*) FROM hubspot_journal_subscriptions")
            .await
            == 1)
            .then_some(())
    })
    .await;
    app
}

fn partner(control: &turris_hubspot_sandbox::Control, name: &str) {
    control
        .create_record(ObjectKind::Companies, [("name", name), ("type", "PARTNER")])
        .unwrap();
}

async fn has_agency(app: &TestApp, name: &str) -> bool {
    app.agencies().await.iter().any(|a| a["name"] == name)
}

crate::support::both_databases!(app(journal_app):
    async fn companies_made_in_hubspot_arrive_through_the_journal_and_a_gap_is_reported(app) {
        let control = app.sandbox.control();
        partner(&control, "Journal One");
        journal::wake(&app.state);
        eventually("Journal One to arrive", || async {
            has_agency(app, "Journal One").await.then_some(())
        })
        .await;
        assert!(control.webhook_attempts().is_empty(), "no webhook was sent");

        // Two companies made while nobody reads, then three days pass: their entries expire.
        partner(&control, "Lost Two");
        partner(&control, "Lost Three");
        control.advance_journal_clock(Duration::from_secs(3 * 24 * 3600 + 60));
        partner(&control, "Journal Four");
        journal::wake(&app.state);
        eventually("Journal Four to arrive", || async {
            has_agency(app, "Journal Four").await.then_some(())
        })
        .await;
        assert!(!has_agency(app, "Lost Two").await && !has_agency(app, "Lost Three").await);
        let gap = app.activity_titled("HubSpot webhooks journal expired").await;
        assert_eq!(gap.len(), 1, "{gap:?}");
        let message = gap[0]["details"]["message"].as_str().unwrap();
        assert!(message.contains("reconciliation"), "{message}");
    }
);

crate::support::both_databases!(app(journal_app):
    async fn two_replicas_read_each_journal_entry_once(app) {
        let replica = app.replica().await;
        let control = app.sandbox.control();
        control.reset_stats();
        for i in 0..6 {
            partner(&control, &format!("Replicated {i}"));
        }
        journal::wake(&app.state);
        journal::wake(&replica.state);
        eventually("every company to arrive", || async {
            let names: Vec<String> = app.agencies().await.iter()
                .filter_map(|a| a["name"].as_str().map(str::to_owned)).collect();
            (0..6).all(|i| names.contains(&format!("Replicated {i}"))).then_some(())
        })
        .await;
        let files = control.stats().calls_to("GET", "/_sandbox/journal/files/{offset}");
        assert_eq!(files, 6, "each entry's file was fetched once");
        assert_eq!(app.agencies().await.len(), 6, "no agency twice");
        replica.stop().await;
    }
);

sync_test!(
    async fn in_mode_both_a_change_seen_by_webhook_is_not_stored_again_from_the_journal(app) {
        app.api(Method::PUT, &format!("{H}/inbound-mode"), Some(json!({"mode": "both"})))
            .await
            .expect(200);
        eventually("the journal subscriptions", || async {
            (app.count("SELECT COUNT(*) FROM hubspot_journal_subscriptions").await == 1)
                .then_some(())
        })
        .await;
        let control = app.sandbox.control();
        let acme = control
            .create_record(ObjectKind::Companies, [("name", "Both Ways"), ("type", "PARTNER")])
            .unwrap();
        control.flush_webhooks().await;
        let rows = format!("SELECT COUNT(*) FROM inbound_events WHERE object_id = {}", acme.id);
        eventually("the webhook events", || async {
            (app.count(&rows).await > 0).then_some(())
        })
        .await;
        let from_webhooks = app.count(&rows).await;
        journal::wake(&app.state);
        eventually("the journal to be read", || async {
            (app.count("SELECT COUNT(*) FROM hubspot_journal WHERE position IS NOT NULL").await
                == 1)
                .then_some(())
        })
        .await;
        assert_eq!(app.count(&rows).await, from_webhooks, "nothing stored twice");
    }
);
