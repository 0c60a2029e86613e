//! Short delivery leases, renewed while the attempt runs: a long attempt keeps its delivery
//! from every other worker, and a crashed worker's delivery is taken over once its short lease
//! lapses, long before the attempt's own timeout.

use std::time::Duration;

use turris_server::store::sql::Pools;
use turris_webhooks::delivery::{DeliveryStore, EventId, EventStatus};

use super::harness::{Receiver, Server, config, eventually};
use crate::support::db::TestDb;

const LEASE: Duration = Duration::from_secs(1);

/// The event's lease: its token and when it expires (nanoseconds), if leased.
async fn lease_of(db: &TestDb, event: &str) -> Option<(uuid::Uuid, i64)> {
    let id: uuid::Uuid = event.parse().unwrap();
    let sql = "SELECT lease_id, lease_expires_at FROM delivery_events WHERE event_id = $1";
    let row: (Option<uuid::Uuid>, Option<i64>) = match db.database.pools() {
        Pools::Sqlite(pool) => sqlx::query_as(sql).bind(id).fetch_one(pool).await,
        Pools::Postgres(pool) => sqlx::query_as(sql).bind(id).fetch_one(pool).await,
    }
    .unwrap();
    row.0.zip(row.1)
}

async fn a_long_attempt_renews_its_short_lease_so_no_other_worker_sends_it_again(db: &TestDb) {
    let receiver = Receiver::start().await;
    receiver.hold();
    let mut settings = config(db);
    settings.delivery.lease = LEASE;
    let first = Server::start(settings.clone()).await;
    let second = Server::start(settings).await;
    let org = first.organization().await;
    let webhook = first
        .webhook(&org, "entity_compliance_data_synchronized", &receiver)
        .await;
    let agency = first.agency(&org, "Acme").await;
    first.nipr_sync(&org, &agency).await;
    let event = first.event_ids(&org, &webhook).await.remove(0);
    eventually("the attempt reaches the receiver", || async {
        (!receiver.arrivals().is_empty()).then_some(())
    })
    .await;
    // The renewals are the clock: the same token's expiry moves forward again and again,
    // five leases' worth, while the receiver holds the request.
    let (token, mut expiry) = lease_of(db, &event).await.expect("leased");
    for _ in 0..5 {
        expiry = eventually("the lease is renewed", || async {
            let (now_token, now_expiry) = lease_of(db, &event).await?;
            assert_eq!(now_token, token, "the same holder keeps the lease");
            (now_expiry > expiry).then_some(now_expiry)
        })
        .await;
    }
    assert_eq!(
        receiver.arrivals().len(),
        1,
        "no other worker sent it while it was being delivered"
    );
    receiver.release();
    let store = db.store();
    eventually("the event is delivered", || async {
        let record = store
            .event(event.parse::<EventId>().unwrap())
            .await
            .ok()??;
        (record.status == EventStatus::Delivered).then_some(())
    })
    .await;
    let record = store.event(event.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(record.attempt_count, 1);
    assert_eq!(receiver.accepted()[&event], 1);
    first.stop().await;
    second.stop().await;
}

async fn a_crashed_worker_s_delivery_is_retried_once_its_short_lease_lapses(db: &TestDb) {
    let receiver = Receiver::start().await;
    receiver.hold();
    let mut settings = config(db);
    settings.delivery.lease = LEASE;
    // The attempt's own timeout is far away: only the lease can hand the delivery over.
    settings.delivery.timeout = Duration::from_secs(600);
    let crashing = Server::start_crashable(settings.clone()).await;
    let org = crashing.organization().await;
    let webhook = crashing
        .webhook(&org, "entity_compliance_data_synchronized", &receiver)
        .await;
    let agency = crashing.agency(&org, "Acme").await;
    crashing.nipr_sync(&org, &agency).await;
    let event = crashing.event_ids(&org, &webhook).await.remove(0);
    eventually("the attempt reaches the receiver", || async {
        (!receiver.arrivals().is_empty()).then_some(())
    })
    .await;
    let (dead_token, _) = lease_of(db, &event).await.expect("leased");
    crashing.crash();

    let survivor = Server::start(settings).await;
    // The survivor leases it under a new token and sends it again; the held first request
    // is answered later and can record nothing (its worker is gone, its token replaced).
    eventually("another worker takes the delivery over", || async {
        let (token, _) = lease_of(db, &event).await?;
        (token != dead_token && receiver.arrivals().len() == 2).then_some(())
    })
    .await;
    receiver.release();
    let store = db.store();
    eventually("the event is delivered", || async {
        let record = store
            .event(event.parse::<EventId>().unwrap())
            .await
            .ok()??;
        (record.status == EventStatus::Delivered).then_some(())
    })
    .await;
    let attempts = store.list_attempts(event.parse().unwrap()).await.unwrap();
    assert_eq!(attempts.len(), 1, "only the survivor's attempt is recorded");
    survivor.stop().await;
}

async fn a_manual_resend_takes_a_short_lease_and_renews_it_while_its_attempt_runs(db: &TestDb) {
    let receiver = Receiver::start().await;
    receiver.go_down().await;
    let mut settings = config(db);
    settings.delivery.lease = LEASE;
    settings.delivery.retry_schedule =
        turris_server::delivery::settings::parse_schedule("0s").unwrap();
    let server = Server::start(settings).await;
    let org = server.organization().await;
    let webhook = server
        .webhook(&org, "entity_compliance_data_synchronized", &receiver)
        .await;
    let agency = server.agency(&org, "Acme").await;
    server.nipr_sync(&org, &agency).await;
    let event = server.event_ids(&org, &webhook).await.remove(0);
    let store = db.store();
    eventually("the event fails", || async {
        let record = store.event(event.parse().unwrap()).await.ok()??;
        (record.status == EventStatus::Failed).then_some(())
    })
    .await;
    receiver.hold();
    receiver.come_up().await;
    server
        .expect(
            202,
            reqwest::Method::POST,
            &format!("/api/v1/webhooks/{webhook}/events/{event}/resend"),
            &org.token,
            None,
        )
        .await;
    eventually("the resend reaches the receiver", || async {
        (!receiver.arrivals().is_empty()).then_some(())
    })
    .await;
    // A lease of one second, not a minute: its expiry moves forward under one token.
    let (token, mut expiry) = lease_of(db, &event).await.expect("leased");
    for _ in 0..3 {
        expiry = eventually("the resend's lease is renewed", || async {
            let (now_token, now_expiry) = lease_of(db, &event).await?;
            assert_eq!(now_token, token, "the same holder keeps the lease");
            (now_expiry > expiry).then_some(now_expiry)
        })
        .await;
    }
    let leased_for = expiry - chrono::Utc::now().timestamp_nanos_opt().unwrap();
    assert!(
        leased_for <= 2 * LEASE.as_nanos() as i64,
        "each renewal extends by one short lease"
    );
    receiver.release();
    eventually("the resend is recorded", || async {
        let record = store.event(event.parse().unwrap()).await.ok()??;
        (record.status == EventStatus::Delivered).then_some(())
    })
    .await;
    server.stop().await;
}

both_databases!(db:
    a_long_attempt_renews_its_short_lease_so_no_other_worker_sends_it_again,
    a_crashed_worker_s_delivery_is_retried_once_its_short_lease_lapses,
    a_manual_resend_takes_a_short_lease_and_renews_it_while_its_attempt_runs,
);
