//! On SQLite a process's writers take turns at the file's one write lock: statements written
//! outside a transaction wait for the turn too, rather than in SQLite's busy handler.

use std::time::Duration;

use turris_core::ids::OrganizationId;
use turris_core::permissions::SubscriptionState;
use turris_server::store::{
    Backend, DebounceKey, DebounceStore, EchoLedgerStore, FairLeaseStore, JobStore, RetentionStore,
    TenantStore,
};
use turris_webhooks::delivery::{DeliveryStore, WebhookId};
use turris_webhooks::{DebouncerState, WebhookType};

use super::webhooks::new_event;
use super::{org, t, t0};
use crate::support::db::TestDb;

/// Leasing deliveries (both ways), creating an organization or a job, saving a debouncer and
/// pruning: each waits while the turn is held elsewhere, then goes ahead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_outside_a_transaction_wait_for_the_process_write_turn_on_sqlite() {
    let db = TestDb::fresh(Backend::Sqlite).await;
    let store = db.store();
    let acme = org(&store, "acme").await;
    let (first, second) = (WebhookId::new(), WebhookId::new());
    let events = [first, first, second, second].map(|w| new_event(w, t(0)));
    store.enqueue(events.to_vec()).await.unwrap();

    let turn = db
        .database
        .hold_write_turn()
        .await
        .expect("SQLite writers take turns");
    let mut writers = Vec::new();
    let mut spawn = |name: &'static str, write: tokio::task::JoinHandle<()>| {
        writers.push((name, write));
    };
    let s = store.clone();
    spawn(
        "lease_due",
        tokio::spawn(async move {
            let leased = s.lease_due(t(1), 1, Duration::from_secs(60)).await;
            assert_eq!(leased.unwrap().len(), 1, "one of four");
        }),
    );
    let s = store.clone();
    spawn(
        "lease_endpoints",
        tokio::spawn(async move {
            let shares = [(first, 1), (second, 1)];
            let leased = s.lease_endpoints(t(1), &shares, Duration::from_secs(60));
            assert!(
                !leased.await.unwrap().is_empty(),
                "one of each endpoint's two left"
            );
        }),
    );
    let s = store.clone();
    spawn(
        "create_organization",
        tokio::spawn(async move {
            let zeta = OrganizationId::parse("zeta").unwrap();
            let created = s.create_organization(&zeta, "Zeta", SubscriptionState::Active, t0());
            created.await.unwrap();
        }),
    );
    let (s, org) = (store.clone(), acme.clone());
    spawn(
        "create_job",
        tokio::spawn(async move {
            let state = serde_json::json!({});
            s.create_job(&org, "reconcile", &state, t0()).await.unwrap();
        }),
    );
    let (s, org) = (store.clone(), acme.clone());
    spawn(
        "save_debounce_state",
        tokio::spawn(async move {
            let key = DebounceKey {
                organization: org,
                webhook_type: WebhookType::AgentComplianceStatusChanges,
            };
            let state = DebouncerState::default();
            s.save_debounce_state(&key, &state, None).await.unwrap();
        }),
    );
    let s = store.clone();
    spawn(
        "prune",
        tokio::spawn(async move {
            s.prune_activity_before(t0()).await.unwrap();
            s.prune_deliveries_before(t0()).await.unwrap();
            s.prune_hubspot_writes_before(t0()).await.unwrap();
        }),
    );

    // Not a measure of speed: without the queue every write is done long before this.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let done: Vec<_> = writers
        .iter()
        .filter(|(_, write)| write.is_finished())
        .map(|(name, _)| *name)
        .collect();
    assert!(done.is_empty(), "wrote without the turn: {done:?}");
    drop(turn);
    for (name, write) in writers {
        write.await.unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
