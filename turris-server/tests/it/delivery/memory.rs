//! What the delivery worker holds in memory is bounded by payload bytes: past its budget,
//! events wait in the database, and every one is still delivered.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use super::harness::{Receiver, Server, config, eventually};
use crate::support::db::TestDb;

const TYPE: &str = "entity_compliance_data_synchronized";
/// The worker's budget: 1,000 bytes of hand-offs and 1,000 deferred, a few events' payloads.
const BUDGET: u64 = 2_000;
const EVENTS: usize = 20;

async fn with_a_small_memory_budget_the_worker_holds_at_most_it_and_delivers_everything(
    db: &TestDb,
) {
    let receiver = Receiver::start().await;
    receiver.hold();
    let mut settings = config(db);
    settings.delivery.waiting_bytes = BUDGET as usize;
    let server = Server::start(settings).await;
    let org = server.organization().await;
    let webhook = server.webhook(&org, TYPE, &receiver).await;
    server.limit_in_flight(&org, &webhook, 1).await;
    let agency = server.agency(&org, "Acme").await;
    // One attempt hangs at the receiver; the other events wait, in memory or in the database.
    for _ in 0..EVENTS {
        server.nipr_sync(&org, &agency).await;
    }
    let metrics = server.state.delivery_metrics().clone();
    eventually("the worker sees what waits", || async {
        (receiver.arrivals().len() == 1 && metrics.waiting_bytes.load(Ordering::Relaxed) > 0)
            .then_some(())
    })
    .await;
    let most = metrics.waiting_bytes_max.load(Ordering::Relaxed);
    assert!(most <= BUDGET, "{most} bytes waited in memory");

    receiver.release();
    let events: HashSet<String> = server.event_ids(&org, &webhook).await.into_iter().collect();
    assert_eq!(events.len(), EVENTS);
    eventually("every event is delivered", || async {
        let accepted = receiver.accepted();
        events
            .iter()
            .all(|e| accepted.contains_key(e))
            .then_some(())
    })
    .await;
    let most = metrics.waiting_bytes_max.load(Ordering::Relaxed);
    assert!(most <= BUDGET, "{most} bytes waited in memory");
    assert_eq!(receiver.max_in_flight(), 1);
    assert_eq!(receiver.bad_signatures(), 0);
    server.stop().await;
}

both_databases!(db:
    with_a_small_memory_budget_the_worker_holds_at_most_it_and_delivers_everything
);
