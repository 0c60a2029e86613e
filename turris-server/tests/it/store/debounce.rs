//! Debounce state survives restarts and each window is flushed once.

use turris_core::ids::{AgencyId, OrganizationId};
use turris_core::record::{Agency, AgencyDraft, StateCode};
use turris_core::store::RecordStore;
use turris_server::store::{
    ComplianceEntity, ComplianceUpdate, DebounceKey, DebounceOutput, DebounceStore, Enqueued,
    NewWebhookEndpoint, OutboxEvent, SqlStore, TurrisInputStore, WebhookEndpointStore,
};
use turris_webhooks::delivery::DeliveryStore;
use turris_webhooks::{
    ComplianceStatus, DebounceConfig, Debouncer, DebouncerState, Envelope, Payload, WebhookType,
};

use super::webhooks::{endpoint, queued};
use super::{org, t, t0};
use crate::support::db::TestDb;

/// The step a delivery worker would run: record the new changes, flush closed windows.
fn step(now: chrono::DateTime<chrono::Utc>) -> turris_server::store::DebounceStep {
    Box::new(move |state: DebouncerState, changes| {
        let mut debouncer = Debouncer::from_state(DebounceConfig::default(), state);
        for change in changes {
            debouncer.record(change);
        }
        let outbox = debouncer
            .flush_due(now)
            .into_iter()
            .map(|batch| OutboxEvent {
                webhook_type: batch.webhook_type,
                body: Envelope::for_payload(
                    batch.organization.clone(),
                    match batch.webhook_type {
                        WebhookType::AgentComplianceStatusChanges => {
                            Payload::AgentComplianceStatusChanges(batch.payload)
                        }
                        _ => Payload::AgencyComplianceStatusChanges(batch.payload),
                    },
                )
                .to_bytes()
                .unwrap()
                .to_vec(),
                created_at: now,
            })
            .collect();
        DebounceOutput {
            next_due: debouncer.next_due(),
            state: debouncer.state().clone(),
            outbox,
            notes: vec![],
        }
    })
}

/// Runs the worker's debounce step at `t(at)`: the events it queued.
async fn advance(store: &SqlStore, key: &DebounceKey, at: i64) -> Vec<Enqueued> {
    store.advance_debounce(key, step(t(at))).await.unwrap()
}

/// An organization with an agency, a webhook for its compliance status changes, and the
/// debounce key of those changes.
async fn watched(store: &SqlStore) -> (OrganizationId, Agency, NewWebhookEndpoint, DebounceKey) {
    let acme = org(store, "acme").await;
    let agency = Agency {
        id: AgencyId::parse("a1").unwrap(),
        data: AgencyDraft::named("Acme"),
    };
    store.insert_agency(&acme, &agency).await.unwrap();
    let hook = endpoint(WebhookType::AgencyComplianceStatusChanges);
    store.create_webhook(&acme, &hook, t0()).await.unwrap();
    let key = DebounceKey {
        organization: acme.clone(),
        webhook_type: WebhookType::AgencyComplianceStatusChanges,
    };
    (acme, agency, hook, key)
}

async fn a_window_survives_a_restart_and_is_flushed_exactly_once(db: &TestDb) {
    let store = db.store();
    let (acme, agency, hook, key) = watched(&store).await;
    let set = |status| ComplianceUpdate {
        entity: ComplianceEntity::Agency(agency.id.clone()),
        product: "life".into(),
        state: StateCode::parse("TX").unwrap(),
        status,
    };
    store
        .set_compliance_statuses(&acme, &[set(ComplianceStatus::Compliant)], t(0))
        .await
        .unwrap();
    assert!(advance(&store, &key, 1).await.is_empty(), "window open");
    store
        .set_compliance_statuses(&acme, &[set(ComplianceStatus::NonCompliant)], t(30))
        .await
        .unwrap();

    // A restart: a new pool, the same database.
    let restarted = db.second_store().await;
    assert!(advance(&restarted, &key, 31).await.is_empty());
    let state = restarted
        .load_debounce_state(&key)
        .await
        .unwrap()
        .expect("persisted");
    assert!(!state.is_empty(), "the open window was persisted");
    assert!(
        restarted.debounce_due(t(89)).await.unwrap().is_empty(),
        "not due yet, nothing pending"
    );
    assert_eq!(
        restarted.debounce_due(t(90)).await.unwrap(),
        vec![key.clone()]
    );

    let flushed = advance(&restarted, &key, 90).await;
    assert_eq!(flushed.len(), 1, "one payload for the window");
    assert_eq!(flushed[0].webhook_id, hook.id);
    let event = restarted.event(flushed[0].event_id).await.unwrap().unwrap();
    let body: serde_json::Value = serde_json::from_slice(&event.body).unwrap();
    assert_eq!(
        body["payload"]["entities"][0]["changes"][0]["previousStatus"],
        "pending"
    );
    assert_eq!(
        body["payload"]["entities"][0]["changes"][0]["status"],
        "non_compliant"
    );
    assert!(
        advance(&restarted, &key, 200).await.is_empty(),
        "a flushed window is never sent again"
    );
    assert!(restarted.debounce_due(t(10_000)).await.unwrap().is_empty());
}

async fn debounce_state_is_saved_and_loaded_per_organization_and_type(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let key = |webhook_type| DebounceKey {
        organization: acme.clone(),
        webhook_type,
    };
    let agency = key(WebhookType::AgencyComplianceStatusChanges);
    let agent = key(WebhookType::AgentComplianceStatusChanges);
    assert_eq!(store.load_debounce_state(&agency).await.unwrap(), None);
    let state = DebouncerState::default();
    store
        .save_debounce_state(&agency, &state, Some(t(5)))
        .await
        .unwrap();
    assert_eq!(
        store.load_debounce_state(&agency).await.unwrap(),
        Some(state.clone())
    );
    assert_eq!(
        store.load_debounce_state(&agent).await.unwrap(),
        None,
        "per type"
    );
    assert_eq!(
        store.debounce_due(t(5)).await.unwrap(),
        vec![agency.clone()]
    );
    store
        .save_debounce_state(&agency, &state, None)
        .await
        .unwrap();
    assert!(
        store.debounce_due(t(5)).await.unwrap().is_empty(),
        "saving replaces next_due"
    );
}

async fn two_processes_flushing_one_window_at_once_send_it_once(db: &TestDb) {
    let store = db.store();
    let second = db.second_store().await;
    let (acme, agency, hook, key) = watched(&store).await;
    for (i, state) in ["TX", "CA", "NY", "FL"].into_iter().enumerate() {
        let update = ComplianceUpdate {
            entity: ComplianceEntity::Agency(agency.id.clone()),
            product: "life".into(),
            state: StateCode::parse(state).unwrap(),
            status: ComplianceStatus::Compliant,
        };
        store
            .set_compliance_statuses(&acme, &[update], t(i as i64))
            .await
            .unwrap();
    }
    // Every step runs after the window closed: whoever runs first flushes it.
    let mut tasks = Vec::new();
    for i in 0..6 {
        let (store, key) = (
            if i % 2 == 0 {
                store.clone()
            } else {
                second.clone()
            },
            key.clone(),
        );
        tasks.push(tokio::spawn(async move {
            advance(&store, &key, 1000).await.len()
        }));
    }
    let mut sent = 0;
    for task in tasks {
        sent += task.await.unwrap();
    }
    assert_eq!(
        sent, 1,
        "one payload for the window, whichever process flushed it"
    );
    let events = queued(&store, hook.id).await;
    let body: serde_json::Value = serde_json::from_slice(&events[0].body).unwrap();
    assert_eq!(
        body["payload"]["entities"][0]["changes"]
            .as_array()
            .unwrap()
            .len(),
        4,
        "every change of the window is in it"
    );
}

both_databases!(db:
    a_window_survives_a_restart_and_is_flushed_exactly_once,
    debounce_state_is_saved_and_loaded_per_organization_and_type,
    two_processes_flushing_one_window_at_once_send_it_once,
);
