//! Per-endpoint limits and fair leasing: a slow endpoint with a backlog holds at most its own
//! limit of the worker's slots, and another organization's fast endpoint is served meanwhile.

use std::collections::HashSet;

use super::harness::{Receiver, Server, config, eventually};
use turris_server::store::sql::Pools;

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
    server.limit_in_flight(&busy, &slow_webhook, 2).await;
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

/// An endpoint's slot bounds the requests its receiver answers at once; an attempt waiting for
/// its commit (a batch shared with other attempts) is no load on the receiver and holds no
/// slot. A lock on the attempts table stalls every commit while the receiver, limited to one
/// request at a time, still gets all three events one after another; once the lock goes, all
/// three are recorded as delivered.
async fn an_attempt_waiting_for_its_commit_frees_its_endpoint_for_the_next(db: &TestDb) {
    let receiver = Receiver::start().await;
    receiver.hold();
    let server = Server::start(config(db)).await;
    let org = server.organization().await;
    let webhook = server.webhook(&org, TYPE, &receiver).await;
    server.limit_in_flight(&org, &webhook, 1).await;
    let agency = server.agency(&org, "Acme").await;
    for _ in 0..3 {
        server.nipr_sync(&org, &agency).await;
    }
    eventually("the first request arrives and is held", || async {
        (!receiver.arrivals().is_empty()).then_some(())
    })
    .await;

    let Pools::Postgres(pool) = db.database.pools() else {
        unreachable!("PostgreSQL only");
    };
    let mut lock = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE delivery_attempts IN EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    receiver.release();
    eventually(
        "all three arrive while no attempt can be recorded",
        || async { (receiver.accepted().len() == 3).then_some(()) },
    )
    .await;
    let unrecorded = server.history(&org, &webhook).await;
    assert!(
        unrecorded["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "pending"),
        "nothing recorded while the lock holds: {unrecorded}"
    );
    lock.rollback().await.unwrap();

    eventually("all three are recorded as delivered", || async {
        let history = server.history(&org, &webhook).await;
        let rows = history["rows"].as_array().unwrap().clone();
        (rows.len() == 3 && rows.iter().all(|r| r["status"] == "success")).then_some(())
    })
    .await;
    assert_eq!(receiver.max_in_flight(), 1, "never more than one at once");
    assert_eq!(receiver.accepted().values().sum::<usize>(), 3, "each once");
    server.stop().await;
}

/// The events of `webhook` leased now (by any worker).
async fn leased(db: &TestDb, webhook: &str) -> i64 {
    let id: uuid::Uuid = webhook.parse().unwrap();
    let sql = "SELECT COUNT(*) FROM delivery_events WHERE webhook_id = $1 AND lease_id IS NOT NULL";
    match db.database.pools() {
        Pools::Sqlite(pool) => sqlx::query_scalar(sql).bind(id).fetch_one(pool).await,
        Pools::Postgres(pool) => sqlx::query_scalar(sql).bind(id).fetch_one(pool).await,
    }
    .unwrap()
}

/// A backlog in the database (written by a replica that runs no delivery worker, so nothing
/// was handed off) is leased ahead of its endpoint's limit, four times it, and what is leased
/// beyond the free slots waits in memory for one: the receiver never holds more than the
/// limit, and a round's worth of events is not capped at the limit (which made a backlog in
/// the database drain at 16 per round).
async fn a_backlog_in_the_database_is_leased_ahead_of_its_endpoints_limit(db: &TestDb) {
    let receiver = Receiver::start().await;
    receiver.hold();
    let mut api_only = config(db);
    api_only.delivery.workers = false;
    let api = Server::start(api_only).await;
    let org = api.organization().await;
    let webhook = api.webhook(&org, TYPE, &receiver).await;
    api.limit_in_flight(&org, &webhook, 2).await;
    let agency = api.agency(&org, "Acme").await;
    for _ in 0..12 {
        api.nipr_sync(&org, &agency).await;
    }
    assert_eq!(leased(db, &webhook).await, 0, "nothing handed off");

    let worker = Server::start(config(db)).await;
    eventually("the receiver holds two", || async {
        (receiver.arrivals().len() >= 2).then_some(())
    })
    .await;
    eventually("the worker leases four times the limit", || async {
        (leased(db, &webhook).await == 8).then_some(())
    })
    .await;
    assert_eq!(
        receiver.arrivals().len(),
        2,
        "no more than the limit arrive"
    );
    receiver.release();
    eventually("all twelve arrive", || async {
        (receiver.accepted().len() == 12).then_some(())
    })
    .await;
    assert_eq!(receiver.max_in_flight(), 2, "never more than two at once");
    worker.stop().await;
    api.stop().await;
}

both_databases!(db:
    a_slow_endpoint_with_a_backlog_never_exceeds_its_limit_nor_starves_a_fast_one,
    a_backlog_in_the_database_is_leased_ahead_of_its_endpoints_limit
);

mod postgres_only {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_attempt_waiting_for_its_commit_frees_its_endpoint_for_the_next() {
        if crate::support::skip_postgres() {
            return;
        }
        let db = crate::support::db::TestDb::fresh(turris_server::store::Backend::Postgres).await;
        super::an_attempt_waiting_for_its_commit_frees_its_endpoint_for_the_next(&db).await;
    }
}
