//! Per-endpoint limits and fair leasing: a slow endpoint with a backlog holds at most its own
//! limit of the worker's slots, and another organization's fast endpoint is served meanwhile.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::json;

use super::harness::{Receiver, Server, config, eventually};
use crate::support::db::TestDb;

const TYPE: &str = "entity_compliance_data_synchronized";

async fn a_slow_endpoint_with_a_backlog_never_exceeds_its_limit_nor_starves_a_fast_one(
    db: &TestDb,
) {
    let slow = Receiver::start().await;
    let fast = Receiver::start().await;
    slow.hold();
    let mut settings = config(db);
    // Four slots in all: without per-endpoint limits the slow backlog would take every one.
    settings.delivery.concurrency = 4;
    settings.delivery.batch = 4;
    let server = Server::start(settings).await;
    let busy = server.organization().await;
    let slow_webhook = server.webhook(&busy, TYPE, &slow).await;
    server
        .expect(
            200,
            Method::PUT,
            &format!("/api/v1/webhooks/{slow_webhook}/limits"),
            &busy.token,
            Some(json!({"max_in_flight": 2})),
        )
        .await;
    let agency = server.agency(&busy, "Slow").await;
    for _ in 0..8 {
        server.nipr_sync(&busy, &agency).await;
    }
    eventually("the slow endpoint holds two requests", || async {
        (slow.arrivals().len() >= 2).then_some(())
    })
    .await;

    // Another organization's events go out while the slow endpoint still holds its two.
    let other = server.organization().await;
    server.webhook(&other, TYPE, &fast).await;
    let agency = server.agency(&other, "Fast").await;
    for _ in 0..6 {
        server.nipr_sync(&other, &agency).await;
    }
    eventually("the fast endpoint receives all six", || async {
        (fast.accepted().len() == 6).then_some(())
    })
    .await;
    assert_eq!(
        slow.arrivals().len(),
        2,
        "the slow endpoint got no more than its limit while it held them"
    );

    slow.release();
    let events: HashSet<String> = server
        .event_ids(&busy, &slow_webhook)
        .await
        .into_iter()
        .collect();
    assert_eq!(events.len(), 8);
    eventually("the backlog drains once the endpoint answers", || async {
        let accepted = slow.accepted();
        events
            .iter()
            .all(|e| accepted.contains_key(e))
            .then_some(())
    })
    .await;
    assert_eq!(slow.max_in_flight(), 2, "never more than two at once");
    assert_eq!(slow.bad_signatures() + fast.bad_signatures(), 0);
    server.stop().await;
}

both_databases!(db:
    a_slow_endpoint_with_a_backlog_never_exceeds_its_limit_nor_starves_a_fast_one
);
