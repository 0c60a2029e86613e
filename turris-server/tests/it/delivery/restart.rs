//! Crashes and restarts: leases expire, events are delivered, ids stay stable.

use std::collections::HashSet;
use std::time::Duration;

use turris_webhooks::delivery::{DeliveryStore, EventId, EventStatus};

use super::harness::{Receiver, Server, config, eventually};
use crate::support::db::TestDb;

async fn a_server_that_crashes_with_deliveries_leased_leaves_them_to_the_next_which_delivers_every_event(
    db: &TestDb,
) {
    let receiver = Receiver::start().await;
    receiver.hold();
    let mut first = config(db);
    first.delivery.lease = Duration::from_secs(1);
    let crashing = Server::start_crashable(first).await;
    let org = crashing.organization().await;
    let webhook = crashing
        .webhook(&org, "entity_compliance_data_synchronized", &receiver)
        .await;
    let agency = crashing.agency(&org, "Acme").await;
    for _ in 0..10 {
        crashing.nipr_sync(&org, &agency).await;
    }
    let events = crashing.event_ids(&org, &webhook).await;
    assert_eq!(events.len(), 10);
    // Attempts are in flight (the receiver holds them), under leases, when the server dies.
    eventually("an attempt reaches the receiver", || async {
        (!receiver.arrivals().is_empty()).then_some(())
    })
    .await;
    crashing.crash();
    let in_flight: HashSet<String> = receiver
        .arrivals()
        .into_iter()
        .map(|a| a.event_id)
        .collect();
    receiver.release();

    let mut second = config(db);
    second.delivery.lease = Duration::from_secs(1);
    let restarted = Server::start(second).await;
    let store = db.store();
    eventually("every event is delivered after the restart", || async {
        let accepted = receiver.accepted();
        let all_in = events.iter().all(|e| accepted.contains_key(e));
        let mut delivered = true;
        for id in &events {
            let event = store
                .event(id.parse::<EventId>().unwrap())
                .await
                .unwrap()
                .unwrap();
            delivered &= event.status == EventStatus::Delivered;
        }
        (all_in && delivered).then_some(())
    })
    .await;

    let accepted = receiver.accepted();
    let mut ids: Vec<&String> = accepted.keys().collect();
    ids.sort();
    assert_eq!(
        ids,
        events.iter().collect::<Vec<_>>(),
        "exactly the stored events arrive"
    );
    for (id, times) in &accepted {
        if *times > 1 {
            assert!(
                in_flight.contains(id),
                "only an attempt cut by the crash is repeated: {id} arrived {times} times"
            );
        }
    }
    // Duplicates are the same event: same id, same body.
    let arrivals = receiver.arrivals();
    for id in &events {
        let bodies: HashSet<String> = arrivals
            .iter()
            .filter(|a| &a.event_id == id)
            .map(|a| a.body.to_string())
            .collect();
        assert_eq!(bodies.len(), 1, "{id} was sent with one body");
    }
    assert_eq!(receiver.bad_signatures(), 0);
    restarted.stop().await;
}

both_databases!(db:
    a_server_that_crashes_with_deliveries_leased_leaves_them_to_the_next_which_delivers_every_event
);
