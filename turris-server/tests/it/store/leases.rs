//! Delivery leases under concurrency: two pools (two server processes, in effect) leasing at
//! once never get the same delivery.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use turris_core::ids::{AgentId, OrganizationId};
use turris_server::store::{
    Backend, ComplianceEntity, DeliveryStatsStore, FairLeaseStore, HandoffTerms, NiprSyncId,
    NiprSyncResult, OutboxEvent, SqlStore, TurrisInputStore, WebhookEndpointStore,
};
use turris_webhooks::delivery::{
    DeliveryStore, EventId, Lease, LeasedDelivery, NewEvent, NextStep, WebhookId,
};
use turris_webhooks::{SyncKind, SyncOutcome, WebhookType};

use super::webhooks::{attempt_report, body, endpoint, new_event};
use super::{agent_p1, org, t, t0};
use crate::support::db::TestDb;

const EVENTS: usize = 300;

async fn two_pools_leasing_at_once_never_get_the_same_delivery(db: &TestDb) {
    let first = db.store();
    let second = db.second_store().await;
    let webhook = WebhookId::new();
    let events: Vec<NewEvent> = (0..EVENTS)
        .map(|i| NewEvent {
            event_id: EventId::new(),
            webhook_id: webhook,
            webhook_type: WebhookType::ProducerAgreementExecuted,
            body: body(&format!("{{\"n\":{i}}}")),
            created_at: t(0),
        })
        .collect();
    first.enqueue(events.clone()).await.unwrap();

    let mut workers = Vec::new();
    for w in 0..6 {
        let store = if w % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                // Leases far longer than the test: only a double hand-out could repeat an id.
                let leased = store
                    .lease_due(t(1), 7, Duration::from_secs(3600))
                    .await
                    .unwrap();
                if leased.is_empty() {
                    break;
                }
                for delivery in leased {
                    let report = attempt_report(200, 1, 1);
                    let attempt = store
                        .record_attempt(
                            delivery.event.event_id,
                            &delivery.lease,
                            &report,
                            NextStep::Delivered,
                        )
                        .await
                        .expect("the lease holder records its attempt");
                    assert_eq!(attempt.number, 1, "delivered once");
                    mine.push(delivery.event.event_id);
                }
            }
            mine
        }));
    }
    let mut all = Vec::new();
    let mut per_worker = Vec::new();
    for worker in workers {
        let mine = worker.await.unwrap();
        per_worker.push(mine.len());
        all.extend(mine);
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(
        unique.len(),
        all.len(),
        "no delivery was handed to two workers"
    );
    assert_eq!(
        all.len(),
        EVENTS,
        "every delivery was handed out: {per_worker:?}"
    );
    for e in &events {
        assert_eq!(first.list_attempts(e.event_id).await.unwrap().len(), 1);
    }
}

async fn queue_statistics_count_pending_due_leased_and_failed(db: &TestDb) {
    use turris_server::store::{DeliveryQueueStats, DeliveryStatsStore};
    let store = db.store();
    let webhook = WebhookId::new();
    let new = |secs| new_event(webhook, t(secs));
    assert_eq!(
        store.delivery_queue_stats(t(0)).await.unwrap(),
        DeliveryQueueStats::default()
    );
    store
        .enqueue(vec![new(0), new(1), new(2), new(100)])
        .await
        .unwrap();
    let leased = store
        .lease_due(t(10), 2, Duration::from_secs(60))
        .await
        .unwrap();
    let report = attempt_report(500, 10, 11);
    store
        .record_attempt(
            leased[0].event.event_id,
            &leased[0].lease,
            &report,
            NextStep::Exhausted,
        )
        .await
        .unwrap();
    assert_eq!(
        store.delivery_queue_stats(t(20)).await.unwrap(),
        DeliveryQueueStats {
            pending: 3,
            due: 1,
            leased: 1,
            failed: 1
        }
    );
}

fn pairs(leased: &[LeasedDelivery]) -> Vec<(EventId, Lease)> {
    leased.iter().map(|d| (d.event.event_id, d.lease)).collect()
}

fn sorted(mut ids: Vec<EventId>) -> Vec<EventId> {
    ids.sort();
    ids
}

async fn leases_are_renewed_and_given_back_in_one_call_each_fenced_by_their_ids(db: &TestDb) {
    let store = db.store();
    let webhook = WebhookId::new();
    let events: Vec<NewEvent> = (0..3).map(|i| new_event(webhook, t(i))).collect();
    store.enqueue(events).await.unwrap();
    let lease = Duration::from_secs(10);
    let held = store.lease_due(t(5), 10, lease).await.unwrap();
    assert_eq!(held.len(), 3);
    // The lease lapses and another worker takes the oldest event.
    let taken = store.lease_due(t(20), 1, lease).await.unwrap();
    assert_eq!(taken.len(), 1);
    let stolen = taken[0].event.event_id;

    let renewed = store.renew_leases(&pairs(&held), t(100)).await.unwrap();
    let still_held: Vec<EventId> = held
        .iter()
        .map(|d| d.event.event_id)
        .filter(|e| *e != stolen)
        .collect();
    assert_eq!(
        sorted(renewed),
        sorted(still_held.clone()),
        "the two leases still held, in one call"
    );
    // The renewed leases hold past their first end; the other worker's lapsed.
    let due = store.lease_due(t(50), 10, lease).await.unwrap();
    assert_eq!(
        due.iter().map(|d| d.event.event_id).collect::<Vec<_>>(),
        vec![stolen]
    );

    // Given back in one call, only where the lease still holds: due at once, for anyone.
    assert_eq!(store.release_leases(&pairs(&held)).await.unwrap(), 2);
    let due = store.lease_due(t(51), 10, lease).await.unwrap();
    assert_eq!(
        sorted(due.iter().map(|d| d.event.event_id).collect()),
        sorted(still_held)
    );
    assert_eq!(store.release_leases(&[]).await.unwrap(), 0);
    assert!(store.renew_leases(&[], t(1)).await.unwrap().is_empty());
}

async fn hand_offs_wait_for_room_and_their_leases_are_renewed_in_one_call(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let agent = agent_p1(&store, &acme).await;
    let hooks = [
        endpoint(WebhookType::EntityComplianceDataSynchronized),
        endpoint(WebhookType::EntityComplianceDataSynchronized),
    ];
    for hook in &hooks {
        store.create_webhook(&acme, hook, t0()).await.unwrap();
    }
    let (open, full) = (hooks[0].id, hooks[1].id);
    store.set_handoff(Some(HandoffTerms {
        lease_for: Duration::from_secs(10),
        max_bytes: usize::MAX,
    }));
    for _ in 0..2 {
        let result = NiprSyncResult {
            id: NiprSyncId::new(),
            entity: ComplianceEntity::Agent(agent.id.clone()),
            kind: SyncKind::Fetch,
            outcome: SyncOutcome::Success,
            error: None,
            finished_at: Utc::now(),
        };
        let outbox = OutboxEvent {
            webhook_type: WebhookType::EntityComplianceDataSynchronized,
            body: b"{}".to_vec(),
            created_at: Utc::now(),
        };
        store
            .record_nipr_sync(&acme, &result, &[outbox])
            .await
            .unwrap();
    }
    assert_eq!(
        store.handoff_waiting(),
        4,
        "two events per endpoint, leased"
    );

    // Only the endpoint with room gets its hand-offs; the others keep waiting, leased.
    let taken = store.take_handoff_where(10, &mut |d| d.event.webhook_id == open);
    assert_eq!(taken.len(), 2);
    assert!(taken.iter().all(|d| d.event.webhook_id == open));
    assert_eq!(store.handoff_waiting(), 2);

    let now = Utc::now();
    let hour = now + chrono::Duration::hours(1);
    assert_eq!(
        store.renew_handoff(now, hour).await.unwrap(),
        (0, 0),
        "none ends before now"
    );
    assert_eq!(
        store.renew_handoff(hour, hour).await.unwrap(),
        (2, 0),
        "both waiting hand-offs, in one call"
    );
    // Past their first lease, the waiting hand-offs are still leased; the taken ones are not.
    let due = store
        .lease_due(
            now + chrono::Duration::seconds(30),
            10,
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(due.len(), 2);
    assert!(due.iter().all(|d| d.event.webhook_id == open));
    let rest = store.take_handoff(10);
    assert_eq!(rest.len(), 2);
    assert!(
        rest.iter()
            .all(|d| d.event.webhook_id == full && d.lease.expires_at == hour)
    );
}

/// Records a NIPR result of `agent` in `org` with `events` outbox events of 100 bytes each.
async fn nipr_result_with(store: &SqlStore, org: &OrganizationId, agent: &AgentId, events: usize) {
    let result = NiprSyncResult {
        id: NiprSyncId::new(),
        entity: ComplianceEntity::Agent(agent.clone()),
        kind: SyncKind::Fetch,
        outcome: SyncOutcome::Success,
        error: None,
        finished_at: Utc::now(),
    };
    let outbox: Vec<_> = (0..events)
        .map(|_| OutboxEvent {
            webhook_type: WebhookType::EntityComplianceDataSynchronized,
            body: vec![b'x'; 100],
            created_at: Utc::now(),
        })
        .collect();
    store.record_nipr_sync(org, &result, &outbox).await.unwrap();
}

async fn hand_offs_beyond_their_bytes_stay_in_the_database_due_for_any_worker(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let agent = agent_p1(&store, &acme).await.id;
    let hook = endpoint(WebhookType::EntityComplianceDataSynchronized);
    store.create_webhook(&acme, &hook, t0()).await.unwrap();
    // Room for two payloads of 100 bytes, leased for longer than the test.
    store.set_handoff(Some(HandoffTerms {
        lease_for: Duration::from_secs(3600),
        max_bytes: 250,
    }));
    nipr_result_with(&store, &acme, &agent, 1).await;
    // Of a commit's two events, the second would take the queue to 300 bytes: given back.
    nipr_result_with(&store, &acme, &agent, 2).await;
    // Past the budget, the next commit's event is written without a lease.
    nipr_result_with(&store, &acme, &agent, 1).await;
    assert_eq!((store.handoff_waiting(), store.handoff_bytes()), (2, 200));
    let due = store
        .lease_due(Utc::now(), 10, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(due.len(), 2, "the given back and the unleased one are due");
    assert!(due.iter().all(|d| d.event.webhook_id == hook.id));

    // Once the worker takes one, events are handed off again.
    assert_eq!(store.take_handoff(1).len(), 1);
    assert_eq!(store.handoff_bytes(), 100);
    nipr_result_with(&store, &acme, &agent, 1).await;
    assert_eq!((store.handoff_waiting(), store.handoff_bytes()), (2, 200));
    assert!(
        store
            .lease_due(Utc::now(), 10, Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty(),
        "nothing else is due: the new event waits in memory, leased"
    );
}

/// On SQLite, a lease's renewal and give-back take this process's turn at the write lock
/// (rather than waiting in SQLite's busy handler): held elsewhere, they wait for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_renewals_and_give_backs_wait_for_the_process_write_turn_on_sqlite() {
    let db = TestDb::fresh(Backend::Sqlite).await;
    let store = db.store();
    let webhook = WebhookId::new();
    store.enqueue(vec![new_event(webhook, t(0))]).await.unwrap();
    let held = pairs(
        &store
            .lease_due(t(1), 1, Duration::from_secs(10))
            .await
            .unwrap(),
    );
    for give_back in [false, true] {
        let turn = db
            .database
            .hold_write_turn()
            .await
            .expect("SQLite writers take turns");
        let writer = {
            let (store, held) = (store.clone(), held.clone());
            tokio::spawn(async move {
                if give_back {
                    store.release_leases(&held).await.unwrap() as usize
                } else {
                    store.renew_leases(&held, t(100)).await.unwrap().len()
                }
            })
        };
        // Not a measure of speed: without the queue the write is done long before this.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !writer.is_finished(),
            "it waits for the turn (give back: {give_back})"
        );
        drop(turn);
        assert_eq!(writer.await.unwrap(), 1);
    }
}

/// A leasing round leases each endpoint's share and no more: on PostgreSQL the events are
/// picked once (a subquery of `IN` run again skipped what it had locked and picked others).
async fn a_leasing_round_leases_each_endpoints_share_and_no_more(db: &TestDb) {
    let store = db.store();
    let (first, second) = (WebhookId::new(), WebhookId::new());
    let mut events: Vec<NewEvent> = (0..12).map(|_| new_event(first, t(0))).collect();
    events.extend((0..5).map(|_| new_event(second, t(0))));
    store.enqueue(events).await.unwrap();
    let shares = [(first, 8), (second, 3)];
    let leased = store
        .lease_endpoints(t(1), &shares, Duration::from_secs(60))
        .await
        .unwrap();
    let of = |w: WebhookId| leased.iter().filter(|d| d.event.webhook_id == w).count();
    assert_eq!((of(first), of(second)), (8, 3));
    let again = store
        .lease_endpoints(t(1), &shares, Duration::from_secs(60))
        .await
        .unwrap();
    let of = |w: WebhookId| again.iter().filter(|d| d.event.webhook_id == w).count();
    assert_eq!((of(first), of(second)), (4, 2), "what was left");
}

both_databases!(db:
    a_leasing_round_leases_each_endpoints_share_and_no_more,
    two_pools_leasing_at_once_never_get_the_same_delivery,
    queue_statistics_count_pending_due_leased_and_failed,
    leases_are_renewed_and_given_back_in_one_call_each_fenced_by_their_ids,
    hand_offs_wait_for_room_and_their_leases_are_renewed_in_one_call,
    hand_offs_beyond_their_bytes_stay_in_the_database_due_for_any_worker,
);
