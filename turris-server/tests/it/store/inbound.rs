//! Inbound HubSpot events: deduplicated on persist, claimed once, retried or given up.

use std::time::Duration;

use turris_core::ids::OrganizationId;
use turris_hubspot::webhooks::WebhookEvent;
use turris_server::store::{
    Backend, ClaimedInboundEvent, DbError, InboundBatch, InboundEventStore, SqlStore,
};

use super::{org, t};
use crate::support::db::TestDb;

const CLAIM: Duration = Duration::from_secs(60);
/// The workers' claim length.
const LEASE: Duration = Duration::from_secs(15);

fn event(event_id: u64, object_id: u64, property: Option<&str>, attempt: u32) -> WebhookEvent {
    let mut json = serde_json::json!({
        "eventId": event_id,
        "subscriptionId": 9,
        "portalId": 1001,
        "appId": 77,
        "occurredAt": 1_767_225_600_000_i64,
        "subscriptionType": "company.propertyChange",
        "attemptNumber": attempt,
        "objectId": object_id,
        "propertyValue": "Agency",
        "changeSource": "CRM_UI",
    });
    if let Some(p) = property {
        json["propertyName"] = p.into();
    }
    serde_json::from_value(json).unwrap()
}

/// Creates the organization `id` with `count` stored events (event `i` about object `i`).
async fn org_with_events(store: &SqlStore, id: &str, count: u64) -> OrganizationId {
    let org = org(store, id).await;
    let events: Vec<_> = (1..=count).map(|i| event(i, i, None, 0)).collect();
    store
        .persist_inbound_events(&org, &events, t(0))
        .await
        .unwrap();
    org
}

/// Claims up to ten due events at `t(at)` for `claim_for`.
async fn claim_due(store: &SqlStore, at: i64, claim_for: Duration) -> Vec<ClaimedInboundEvent> {
    store
        .claim_inbound_events(t(at), 10, 10, claim_for)
        .await
        .unwrap()
}

async fn redelivered_events_are_stored_once(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let batch = [
        event(1, 10, Some("type"), 0),
        event(1, 10, Some("type"), 1), // a retry: only the attempt differs
        event(1, 10, Some("name"), 0), // another property of the same event
        event(1, 11, Some("type"), 0), // another object
        event(2, 10, None, 0),
    ];
    assert_eq!(
        store
            .persist_inbound_events(&acme, &batch, t(0))
            .await
            .unwrap(),
        InboundBatch {
            stored: 4,
            duplicates: 1
        }
    );
    assert_eq!(
        store
            .persist_inbound_events(&acme, &batch[..2], t(1))
            .await
            .unwrap(),
        InboundBatch {
            stored: 0,
            duplicates: 2
        },
        "HubSpot redelivering a batch stores nothing new"
    );
    let other = org(&store, "other").await;
    assert_eq!(
        store
            .persist_inbound_events(&other, &batch[..1], t(1))
            .await
            .unwrap()
            .stored,
        1,
        "deduplication is per organization"
    );
    let claimed = store
        .claim_inbound_events(t(2), 100, 100, CLAIM)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 5);
    assert_eq!(
        claimed[0].event, batch[0],
        "the event comes back as received"
    );
    assert_eq!(claimed[0].organization, acme);
    assert_eq!(claimed.last().unwrap().organization, other);
    assert!(
        claimed.windows(2).all(|w| w[0].id < w[1].id),
        "oldest first"
    );
}

async fn claimed_events_go_to_one_worker_until_processed_or_the_claim_expires(db: &TestDb) {
    let store = db.store();
    org_with_events(&store, "acme", 3).await;

    let first = store.claim_inbound_events(t(0), 2, 2, CLAIM).await.unwrap();
    assert_eq!(first.len(), 2, "at most the limit");
    assert_eq!(first[0].claimed_until, t(60));
    let second = claim_due(&store, 1, CLAIM).await;
    assert_eq!(second.len(), 1, "claimed events are not handed out again");
    assert_ne!(second[0].id, first[0].id);

    let claim = &first[0].claim;
    assert_ne!(claim, &second[0].claim, "each claim draws its own token");
    store
        .mark_inbound_processed(claim, &[first[0].id], t(2))
        .await
        .unwrap();
    store
        .mark_inbound_failed(claim, first[1].id, "hubspot 502", Some(t(30)))
        .await
        .unwrap();
    store
        .mark_inbound_failed(&second[0].claim, second[0].id, "not a company", None)
        .await
        .unwrap();
    assert!(claim_due(&store, 29, CLAIM).await.is_empty());
    let retried = claim_due(&store, 30, CLAIM).await;
    assert_eq!(retried.len(), 1, "the failed event is retried at its time");
    assert_eq!((retried[0].id, retried[0].attempts), (first[1].id, 1));
    assert!(
        claim_due(&store, 89, CLAIM).await.is_empty(),
        "the retry's claim is live until t(90)"
    );
    let expired = claim_due(&store, 90, CLAIM).await;
    assert_eq!(expired.len(), 1, "an expired claim is handed out again");
    assert_eq!(expired[0].id, first[1].id);
    store
        .mark_inbound_processed(&expired[0].claim, &[expired[0].id], t(91))
        .await
        .unwrap();
    assert!(
        claim_due(&store, 10_000, CLAIM).await.is_empty(),
        "processed and given-up events are never claimed"
    );
    assert!(
        matches!(
            store
                .mark_inbound_failed(claim, first[0].id, "late", None)
                .await,
            Err(DbError::LeaseLost)
        ),
        "processed stays processed"
    );
}

async fn two_workers_claiming_at_once_never_get_the_same_event(db: &TestDb) {
    let store = db.store();
    let second = db.second_store().await;
    org_with_events(&store, "acme", 120).await;
    let mut workers = Vec::new();
    for w in 0..4 {
        let store = if w % 2 == 0 {
            store.clone()
        } else {
            second.clone()
        };
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let claimed = store.claim_inbound_events(t(1), 5, 5, CLAIM).await.unwrap();
                if claimed.is_empty() {
                    break mine;
                }
                let ids: Vec<_> = claimed.iter().map(|c| c.id).collect();
                let marked = store
                    .mark_inbound_processed(&claimed[0].claim, &ids, t(1))
                    .await
                    .unwrap();
                assert_eq!(marked, ids.len());
                mine.extend(ids);
            }
        }));
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    let unique: std::collections::HashSet<_> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "no event was claimed twice");
    assert_eq!(all.len(), 120, "every event was claimed");
}

async fn a_claim_taken_over_after_it_lapsed_settles_nothing_for_its_first_holder(db: &TestDb) {
    let store = db.store();
    let replica = db.second_store().await;
    let acme = org_with_events(&store, "acme", 3).await;
    let stale = claim_due(&store, 0, LEASE).await;
    assert_eq!(stale.len(), 3);
    // The first holder stalls past its lease; the replica takes the events over.
    let fresh = claim_due(&replica, 16, LEASE).await;
    assert_eq!(fresh.len(), 3, "a lapsed claim is handed out again");
    let (old, new) = (&stale[0].claim, &fresh[0].claim);
    let ids: Vec<_> = stale.iter().map(|e| e.id).collect();

    assert_eq!(
        store.renew_inbound_claim(old, t(17), LEASE).await.unwrap(),
        0,
        "a lost claim cannot be renewed"
    );
    assert_eq!(
        store
            .mark_inbound_processed(old, &ids, t(17))
            .await
            .unwrap(),
        0,
        "the stale holder marks nothing processed"
    );
    assert!(matches!(
        store.mark_inbound_failed(old, ids[0], "late", None).await,
        Err(DbError::LeaseLost)
    ));
    assert_eq!(
        store
            .postpone_inbound_events(&acme, old, &ids, "late", t(10_000))
            .await
            .unwrap(),
        0
    );
    assert!(
        claim_due(&store, 30, LEASE).await.is_empty(),
        "the replica's claim is untouched by the stale writes"
    );

    // The new holder settles them: one failed (retried later), the others processed.
    replica
        .mark_inbound_failed(new, ids[0], "hubspot 502", Some(t(100)))
        .await
        .unwrap();
    assert_eq!(
        replica
            .mark_inbound_processed(new, &ids[1..], t(31))
            .await
            .unwrap(),
        2
    );
    let retried = claim_due(&store, 100, LEASE).await;
    assert_eq!(retried.len(), 1);
    assert_eq!(
        (retried[0].id, retried[0].attempts),
        (ids[0], 1),
        "one failed attempt counted, none from the stale holder"
    );
}

async fn a_renewed_claim_is_not_handed_out_and_one_left_to_lapse_is(db: &TestDb) {
    let store = db.store();
    org_with_events(&store, "acme", 1).await;
    let claimed = claim_due(&store, 0, LEASE).await;
    let claim = &claimed[0].claim;
    for at in [5, 10, 15, 20] {
        assert_eq!(
            store
                .renew_inbound_claim(claim, t(at), LEASE)
                .await
                .unwrap(),
            1,
            "renewed at t({at})"
        );
        assert!(
            claim_due(&store, at + 14, LEASE).await.is_empty(),
            "held until t({})",
            at + 15
        );
    }
    let taken = claim_due(&store, 35, LEASE).await;
    assert_eq!(taken.len(), 1, "15 s after the last renewal it is free");
    assert_eq!(
        store
            .mark_inbound_processed(&taken[0].claim, &[taken[0].id], t(36))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .renew_inbound_claim(&taken[0].claim, t(37), LEASE)
            .await
            .unwrap(),
        0,
        "a settled claim holds nothing"
    );
}

async fn one_event_of_a_quiet_tenant_is_claimed_in_the_first_step_despite_a_backlog(db: &TestDb) {
    let store = db.store();
    let busy = org(&store, "busy").await;
    let quiet = org(&store, "quiet").await;
    let backlog: Vec<_> = (1..=3_000).map(|i| event(i, i, None, 0)).collect();
    for chunk in backlog.chunks(500) {
        store
            .persist_inbound_events(&busy, chunk, t(0))
            .await
            .unwrap();
    }
    // The quiet tenant's event arrives after the whole backlog.
    store
        .persist_inbound_events(&quiet, &[event(9, 9, None, 0)], t(1))
        .await
        .unwrap();
    let (limit, per_org) = (1_000, 200);
    let first = store
        .claim_inbound_events(t(2), limit, per_org, LEASE)
        .await
        .unwrap();
    assert!(
        first.iter().any(|e| e.organization == quiet),
        "the quiet tenant's event is in the first step"
    );
    let of_busy = first.iter().filter(|e| e.organization == busy).count();
    assert_eq!(
        of_busy, per_org,
        "the busy tenant gets its share, not the whole step"
    );
    assert!(
        first
            .iter()
            .filter(|e| e.organization == busy)
            .all(|e| e.event.event_id <= 200),
        "each tenant's oldest events first"
    );
    // Steps go on through the backlog, never claiming an event twice.
    let mut steps = 1;
    let mut seen: std::collections::HashSet<_> = first.iter().map(|e| e.id).collect();
    loop {
        let next = store
            .claim_inbound_events(t(2), limit, per_org, LEASE)
            .await
            .unwrap();
        if next.is_empty() {
            break;
        }
        steps += 1;
        assert!(next.iter().all(|e| seen.insert(e.id)));
    }
    assert_eq!(seen.len(), 3_001);
    assert_eq!(steps, 15, "200 of the busy tenant per step");
}

async fn an_objects_events_wait_while_another_claim_holds_one_of_them(db: &TestDb) {
    let store = db.store();
    let replica = db.second_store().await;
    let acme = org(&store, "acme").await;
    let persist = |events: Vec<WebhookEvent>| {
        let (store, acme) = (store.clone(), acme.clone());
        async move {
            store
                .persist_inbound_events(&acme, &events, t(0))
                .await
                .unwrap()
        }
    };
    persist(vec![event(1, 5, None, 0)]).await;
    let first = claim_due(&store, 0, LEASE).await;
    assert_eq!(first.len(), 1);
    // A later change of the same object, and one of another object.
    persist(vec![event(2, 5, Some("name"), 0), event(3, 6, None, 0)]).await;
    let objects = |claimed: &[ClaimedInboundEvent]| -> Vec<_> {
        claimed.iter().map(|e| e.event.object_id).collect()
    };
    let second = claim_due(&replica, 1, LEASE).await;
    assert_eq!(
        objects(&second),
        vec![Some(6)],
        "object 5 is held by the first claim: only object 6's event is handed out"
    );
    replica
        .mark_inbound_processed(&second[0].claim, &[second[0].id], t(2))
        .await
        .unwrap();
    // Once the first claim lapses, its event and the later one go together.
    let after_lapse = claim_due(&replica, 20, LEASE).await;
    assert_eq!(objects(&after_lapse), vec![Some(5), Some(5)]);
    let ids: Vec<_> = after_lapse.iter().map(|e| e.id).collect();
    store
        .mark_inbound_processed(&after_lapse[0].claim, &ids, t(21))
        .await
        .unwrap();
    persist(vec![event(4, 5, Some("phone"), 0)]).await;
    assert_eq!(
        objects(&claim_due(&store, 22, LEASE).await),
        vec![Some(5)],
        "settled events hold nothing"
    );
}

async fn concurrent_claims_never_hold_one_object_at_once(db: &TestDb) {
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};
    let store = db.store();
    let second = db.second_store().await;
    let acme = org(&store, "acme").await;
    // 200 events about 8 objects: every claim of 3 meets objects others may hold.
    let events: Vec<_> = (1..=200).map(|i| event(i, i % 8, None, 0)).collect();
    store
        .persist_inbound_events(&acme, &events, t(0))
        .await
        .unwrap();
    let held: Arc<Mutex<HashSet<u64>>> = Arc::default();
    let mut workers = Vec::new();
    for w in 0..4 {
        let store = if w % 2 == 0 {
            store.clone()
        } else {
            second.clone()
        };
        let held = held.clone();
        workers.push(tokio::spawn(async move {
            let mut claimed_events = 0;
            loop {
                let claimed = store.claim_inbound_events(t(1), 3, 3, CLAIM).await.unwrap();
                if claimed.is_empty() {
                    break claimed_events;
                }
                let mine: HashSet<u64> = claimed.iter().filter_map(|e| e.event.object_id).collect();
                {
                    let mut held = held.lock().unwrap();
                    assert!(
                        held.is_disjoint(&mine),
                        "an object held by two claims at once"
                    );
                    held.extend(&mine);
                }
                // Hold the objects while the other workers claim.
                tokio::time::sleep(Duration::from_millis(10)).await;
                held.lock().unwrap().retain(|o| !mine.contains(o));
                let ids: Vec<_> = claimed.iter().map(|c| c.id).collect();
                store
                    .mark_inbound_processed(&claimed[0].claim, &ids, t(1))
                    .await
                    .unwrap();
                claimed_events += ids.len();
            }
        }));
    }
    let mut total = 0;
    for worker in workers {
        total += worker.await.unwrap();
    }
    assert_eq!(total, 200, "every event was processed");
}

/// On SQLite, claiming inbound events, renewing a claim and recording a failure take this
/// process's turn at the write lock (rather than waiting in SQLite's busy handler behind the
/// group commit): held elsewhere, they wait for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_claims_renewals_and_failures_wait_for_the_process_write_turn_on_sqlite() {
    let db = TestDb::fresh(Backend::Sqlite).await;
    let store = db.store();
    org_with_events(&store, "acme", 2).await;
    let claimed = claim_due(&store, 0, LEASE).await;
    let (claim, first) = (claimed[0].claim.clone(), claimed[0].id);
    org_with_events(&store, "zeta", 1).await;
    for write in ["claim", "renew", "fail"] {
        let turn = db
            .database
            .hold_write_turn()
            .await
            .expect("SQLite writers take turns");
        let writer = {
            let (store, claim) = (store.clone(), claim.clone());
            tokio::spawn(async move {
                match write {
                    "claim" => claim_due(&store, 1, LEASE).await.len(),
                    "renew" => store
                        .renew_inbound_claim(&claim, t(2), LEASE)
                        .await
                        .unwrap(),
                    _ => {
                        let failed = store.mark_inbound_failed(&claim, first, "502", None).await;
                        usize::from(failed.is_ok())
                    }
                }
            })
        };
        // Not a measure of speed: without the queue the write is done long before this.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!writer.is_finished(), "{write} waits for the turn");
        drop(turn);
        let expected = if write == "renew" { 2 } else { 1 };
        assert_eq!(writer.await.unwrap(), expected, "{write} then goes ahead");
    }
}

both_databases!(db:
    an_objects_events_wait_while_another_claim_holds_one_of_them,
    concurrent_claims_never_hold_one_object_at_once,
    one_event_of_a_quiet_tenant_is_claimed_in_the_first_step_despite_a_backlog,
    a_claim_taken_over_after_it_lapsed_settles_nothing_for_its_first_holder,
    a_renewed_claim_is_not_handed_out_and_one_left_to_lapse_is,
    redelivered_events_are_stored_once,
    claimed_events_go_to_one_worker_until_processed_or_the_claim_expires,
    two_workers_claiming_at_once_never_get_the_same_event,
);
