//! Fair inbound scheduling end to end: a tenant's large backlog does not hold back another
//! tenant's single event. Measured in claim rounds (how many of the busy tenant's events were
//! processed between the quiet tenant's event arriving and being processed), never in time.

use turris_core::ids::OrganizationId;
use turris_core::permissions::SubscriptionState;
use turris_hubspot::webhooks::WebhookEvent;

use super::*;

/// The busy tenant's backlog.
const BACKLOG: u64 = 20_000;
/// At most one organization's events in one step (the inbound worker's `PER_ORG`).
const PER_ORG: i64 = 1_000;

fn backlog_event(n: u64) -> WebhookEvent {
    serde_json::from_value(json!({
        "eventId": n,
        "portalId": 99,
        "occurredAt": 1_767_225_600_000_i64,
        "subscriptionType": "company.propertyChange",
        "objectId": n,
        "propertyName": "name",
        "propertyValue": "Backlog",
        "changeSource": "CRM_UI",
    }))
    .unwrap()
}

sync_test!(
    async fn a_tenants_single_event_is_processed_within_two_steps_of_another_tenants_backlog(app) {
        let db = app.state.db();
        let busy = OrganizationId::parse("busy-tenant").unwrap();
        db.create_organization(&busy, "Busy Inc.", SubscriptionState::Active, chrono::Utc::now())
            .await
            .unwrap();
        let events: Vec<WebhookEvent> = (1..=BACKLOG).map(backlog_event).collect();
        for chunk in events.chunks(2_000) {
            db.persist_inbound_events(&busy, chunk, chrono::Utc::now()).await.unwrap();
        }
        let busy_done = "SELECT COUNT(*) FROM inbound_events \
                         WHERE organization_id = 'busy-tenant' AND status = 'processed'";
        let before = app.count(busy_done).await;
        assert!(
            before <= BACKLOG as i64 - 5 * PER_ORG,
            "most of the backlog is still waiting when the quiet tenant's event comes ({before})"
        );
        app.sandbox
            .control()
            .create_record(ObjectKind::Companies, [("type", "PARTNER"), ("name", "Quiet Agency")])
            .unwrap();
        app.sandbox.control().flush_webhooks().await;
        let agency = eventually("the quiet tenant's agency", || async {
            app.agencies().await.into_iter().find(|a| a["name"] == "Quiet Agency")
        })
        .await;
        assert_eq!(agency["name"], "Quiet Agency");
        // The busy tenant's events processed no later than the quiet tenant's event: those
        // done before it arrived, plus at most the step in flight and its own step's share.
        let quiet = format!(
            "SELECT MAX(processed_at) FROM inbound_events WHERE organization_id = '{}'",
            app.org
        );
        let quiet_done: i64 = app.count(&quiet).await;
        let overtaking = app
            .count(&format!("{busy_done} AND processed_at <= {quiet_done}"))
            .await;
        assert!(
            overtaking - before <= 2 * PER_ORG,
            "{} of the busy tenant's events were processed between the quiet event's arrival \
             and its processing; at most two steps' share ({}) may be",
            overtaking - before,
            2 * PER_ORG
        );
        // The backlog itself is all processed in the end.
        eventually("the backlog to drain", || async {
            (app.count(busy_done).await == BACKLOG as i64).then_some(())
        })
        .await;
    }
);
