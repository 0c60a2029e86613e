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
        for chunk in events.chunks(5_000) {
            db.persist_inbound_events(&busy, chunk, chrono::Utc::now()).await.unwrap();
        }
        // The quiet tenant's one event comes right after the backlog: a partner company's
        // creation, stored as the webhook handler stores it.
        let company = app
            .sandbox
            .control()
            .create_record(ObjectKind::Companies, [("type", "PARTNER"), ("name", "Quiet Agency")])
            .unwrap();
        let quiet_event: WebhookEvent = serde_json::from_value(json!({
            "eventId": 777_777,
            "portalId": app.sandbox.portal_id(),
            "occurredAt": chrono::Utc::now().timestamp_millis(),
            "subscriptionType": "company.creation",
            "objectId": company.id.parse::<u64>().unwrap(),
            "changeSource": "CRM_UI",
        }))
        .unwrap();
        let org = OrganizationId::parse(&app.org).unwrap();
        db.persist_inbound_events(&org, &[quiet_event], chrono::Utc::now()).await.unwrap();
        turris_server::sync::inbound::wake(&app.state);
        let agency = eventually("the quiet tenant's agency", || async {
            app.agencies().await.into_iter().find(|a| a["name"] == "Quiet Agency")
        })
        .await;
        assert_eq!(agency["name"], "Quiet Agency");
        let of_quiet = |column: &str| {
            format!(
                "SELECT {column} FROM inbound_events \
                 WHERE organization_id = '{}' AND hubspot_event_id = 777777",
                app.org
            )
        };
        let arrived = app.count(&of_quiet("received_at")).await;
        let processed = app.count(&of_quiet("processed_at")).await;
        let busy_done = "SELECT COUNT(*) FROM inbound_events \
                         WHERE organization_id = 'busy-tenant' AND status = 'processed'";
        let before = app.count(&format!("{busy_done} AND processed_at <= {arrived}")).await;
        let overtaking = app.count(&format!("{busy_done} AND processed_at <= {processed}")).await;
        // Meaningful only if an oldest-first queue would have made it wait for several steps.
        assert!(
            BACKLOG as i64 - before >= 3 * PER_ORG,
            "the backlog drained before the quiet event came ({before} processed)"
        );
        // The busy tenant's events processed after it arrived and before it was: at most the
        // step in flight and its own step's share.
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
