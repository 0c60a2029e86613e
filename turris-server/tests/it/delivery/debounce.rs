//! Debounced compliance status changes across a restart.

use std::time::Duration;

use chrono::Utc;
use reqwest::Method;
use serde_json::json;
use turris_core::ids::{AgencyId, OrganizationId};
use turris_server::store::{
    ComplianceEntity, ComplianceUpdate, DebounceKey, DebounceStore as _, TurrisInputStore as _,
};
use turris_webhooks::{ComplianceStatus, WebhookType};

use super::harness::{Receiver, Server, config, eventually};
use crate::support::db::TestDb;

async fn a_window_open_at_a_restart_is_flushed_once_by_the_next_server_with_every_change(
    db: &TestDb,
) {
    let receiver = Receiver::start().await;
    // The first server collects changes into a window that would stay open for an hour.
    let mut first = config(db);
    first.delivery.debounce_quiet = Duration::from_secs(3600);
    first.delivery.debounce_max_wait = Duration::from_secs(7200);
    let server = Server::start(first).await;
    let org = server.organization().await;
    server
        .webhook(&org, "agency_compliance_status_changes", &receiver)
        .await;
    let agency = server.agency(&org, "Acme").await;
    let set = server
        .expect(
            200,
            Method::POST,
            "/api/v1/compliance-statuses",
            &org.token,
            Some(
                json!({"updates": [{"entity_type": "agency", "entity_id": agency,
                "product": "life", "state": "TX", "status": "compliant"}]}),
            ),
        )
        .await;
    // When the first change happened: the second one follows it by a millisecond, well inside
    // any quiet period, whenever the test gets to it.
    let first_at: chrono::DateTime<Utc> =
        serde_json::from_value(set[0]["record"]["updated_at"].clone()).unwrap();
    let store = db.store();
    let key = DebounceKey {
        organization: OrganizationId::parse(&org.id).unwrap(),
        webhook_type: WebhookType::AgencyComplianceStatusChanges,
    };
    eventually("the change is in the persisted window", || async {
        let state = store.load_debounce_state(&key).await.unwrap();
        let due = store.debounce_due(Utc::now()).await.unwrap();
        (state.is_some_and(|s| !s.is_empty()) && due.is_empty()).then_some(())
    })
    .await;
    server.stop().await;
    // While no server runs, another change is committed to the inbox.
    store
        .set_compliance_statuses(
            &key.organization,
            &[ComplianceUpdate {
                entity: ComplianceEntity::Agency(AgencyId::parse(&agency).unwrap()),
                product: "life".into(),
                state: turris_core::record::StateCode::parse("CA").unwrap(),
                status: ComplianceStatus::NonCompliant,
            }],
            first_at + chrono::Duration::milliseconds(1),
        )
        .await
        .unwrap();
    assert!(
        receiver.arrivals().is_empty(),
        "nothing was sent before the restart"
    );

    let mut second = config(db);
    second.delivery.debounce_quiet = Duration::from_millis(200);
    second.delivery.debounce_max_wait = Duration::from_secs(2);
    let server = Server::start(second).await;
    eventually("the window is flushed and delivered", || async {
        let state = store.load_debounce_state(&key).await.unwrap();
        let closed = state.is_some_and(|s| s.is_empty());
        (closed && receiver.accepted().len() == 1).then_some(())
    })
    .await;
    server.stop().await;

    let arrivals = receiver.arrivals();
    assert_eq!(arrivals.len(), 1, "one window, one event");
    let body = &arrivals[0].body;
    assert_eq!(body["webhookType"], "agency_compliance_status_changes");
    assert_eq!(body["upstreamEntityId"], org.id);
    let entities = body["payload"]["entities"].as_array().unwrap();
    assert_eq!(entities.len(), 1);
    assert_eq!(entities[0]["entityId"], agency);
    let mut changes: Vec<(String, String, String)> = entities[0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["state"].as_str().unwrap().to_owned(),
                c["previousStatus"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    changes.sort();
    assert_eq!(
        changes,
        [
            ("CA".into(), "pending".into(), "non_compliant".into()),
            ("TX".into(), "pending".into(), "compliant".into()),
        ]
    );
}

both_databases!(db: a_window_open_at_a_restart_is_flushed_once_by_the_next_server_with_every_change);
