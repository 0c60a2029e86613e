//! Outbound sync's outbox: records saved with their push, one claimant per organization.

use std::time::Duration;

use turris_core::ids::{AgencyId, AgentId};
use turris_core::record::{Agency, AgencyDraft, Agent, AgentDraft};
use turris_core::store::{RecordStore, TurrisRef};
use turris_server::store::{DbError, OutboundOutboxStore, OutboundRetry};

use super::org;
use crate::support::db::TestDb;

const LEASE: Duration = Duration::from_secs(60);

fn agency(id: &str, name: &str) -> Agency {
    Agency {
        id: AgencyId::parse(id).unwrap(),
        data: AgencyDraft::named(name),
    }
}

async fn a_record_saved_with_its_push_is_stored_and_queued_and_an_unknown_one_changes_nothing(
    db: &TestDb,
) {
    let store = db.store();
    let (acme, other) = (org(&store, "acme").await, org(&store, "other").await);
    let lakeside = agency("a-1", "Lakeside");
    let name_of = async |id: &AgencyId| {
        let stored = store.get_agency(&acme, id).await.unwrap();
        stored.expect("stored").data.name
    };
    store
        .insert_agency_with_push(&acme, &lakeside)
        .await
        .unwrap();
    let grace = Agent {
        id: AgentId::parse("g-1").unwrap(),
        data: AgentDraft::named("Grace", "Hopper"),
    };
    store.insert_agent_with_push(&acme, &grace).await.unwrap();
    store
        .update_agency_with_push(&acme, &agency("a-1", "Lakeside Two"))
        .await
        .unwrap();
    assert_eq!(name_of(&lakeside.id).await, "Lakeside Two");
    assert_eq!(store.pending_outbound(&acme).await.unwrap(), 3);

    // Another organization's id is not found, and queues nothing.
    let refused = store
        .update_agency_with_push(&other, &agency("a-1", "Hijacked"))
        .await;
    assert!(matches!(refused, Err(DbError::NotFound)), "{refused:?}");
    let refused = store.update_agent_with_push(&other, &grace).await;
    assert!(matches!(refused, Err(DbError::NotFound)), "{refused:?}");
    assert_eq!(store.pending_outbound(&other).await.unwrap(), 0);
    assert_eq!(name_of(&lakeside.id).await, "Lakeside Two");
}

async fn an_organization_is_claimed_by_one_process_until_it_finishes_or_its_lease_expires(
    db: &TestDb,
) {
    let store = db.store();
    let replica = db.second_store().await;
    let acme = org(&store, "acme").await;
    for (id, name) in [("a-1", "One"), ("a-2", "Two")] {
        store
            .insert_agency_with_push(&acme, &agency(id, name))
            .await
            .unwrap();
    }
    // A little ahead, so pushes queued during the test are due.
    let now = chrono::Utc::now() + chrono::Duration::seconds(5);
    let claim = store
        .claim_outbound(now, 100, LEASE)
        .await
        .unwrap()
        .expect("due pushes are claimed");
    assert_eq!(claim.organization, acme);
    let records: Vec<TurrisRef> = claim.pushes.iter().map(|p| p.record.clone()).collect();
    assert_eq!(
        records,
        [
            TurrisRef::Agency(AgencyId::parse("a-1").unwrap()),
            TurrisRef::Agency(AgencyId::parse("a-2").unwrap())
        ]
    );
    // A push queued while the claim runs waits for the claimant: nobody races it.
    store
        .update_agency_with_push(&acme, &agency("a-1", "One bis"))
        .await
        .unwrap();
    assert!(
        replica
            .claim_outbound(now, 100, LEASE)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .claim_outbound(now, 100, LEASE)
            .await
            .unwrap()
            .is_none()
    );

    // Finishing deletes what was claimed (one push retried), keeps what came later, and frees
    // the organization.
    let retried = claim.pushes[1].id;
    store
        .finish_outbound(
            &claim,
            &[OutboundRetry {
                push: retried,
                next_attempt_at: now + chrono::Duration::seconds(30),
                error: "HubSpot answered 503".into(),
                failed_attempt: true,
            }],
        )
        .await
        .unwrap();
    assert_eq!(store.pending_outbound(&acme).await.unwrap(), 2);
    let next = replica
        .claim_outbound(now, 100, LEASE)
        .await
        .unwrap()
        .expect("the later push is due");
    assert_eq!(next.pushes.len(), 1, "the retry is not due yet");
    assert_eq!(next.pushes[0].attempts, 0);

    // The replica crashes holding the lease: once it expires, another process takes over, and
    // the crashed one can no longer finish.
    let later = now + chrono::Duration::seconds(61);
    let taken = store
        .claim_outbound(later, 100, LEASE)
        .await
        .unwrap()
        .expect("an expired lease is taken over");
    assert_eq!(
        taken.pushes.len(),
        2,
        "the later push and the retry, now due"
    );
    let retry = taken.pushes.iter().find(|p| p.id == retried).unwrap();
    assert_eq!(retry.attempts, 1);
    assert!(matches!(
        replica.finish_outbound(&next, &[]).await,
        Err(DbError::LeaseLost)
    ));
    store.finish_outbound(&taken, &[]).await.unwrap();
    assert_eq!(store.pending_outbound(&acme).await.unwrap(), 0);
    assert!(
        store
            .claim_outbound(later, 100, LEASE)
            .await
            .unwrap()
            .is_none()
    );
}

async fn a_renewed_lease_holds_and_a_lost_one_neither_renews_nor_finishes(db: &TestDb) {
    let store = db.store();
    let replica = db.second_store().await;
    let acme = org(&store, "acme").await;
    store
        .insert_agency_with_push(&acme, &agency("a-1", "One"))
        .await
        .unwrap();
    let short = Duration::from_secs(15);
    let now = chrono::Utc::now() + chrono::Duration::seconds(5);
    let at = |secs: i64| now + chrono::Duration::seconds(secs);
    let claim = store
        .claim_outbound(now, 100, short)
        .await
        .unwrap()
        .unwrap();
    // Renewed every 5 s, the lease outlives its first 15 s: nobody takes the organization.
    for secs in [5, 10, 15, 20] {
        store
            .renew_outbound_lease(&claim, at(secs), short)
            .await
            .unwrap();
        assert!(
            replica
                .claim_outbound(at(secs + 14), 100, short)
                .await
                .unwrap()
                .is_none(),
            "held at t+{}",
            secs + 14
        );
    }
    // Left to lapse, it is taken over; the first holder can neither renew nor finish.
    let taken = replica
        .claim_outbound(at(35), 100, short)
        .await
        .unwrap()
        .expect("a lapsed lease is taken over");
    assert!(matches!(
        store.renew_outbound_lease(&claim, at(36), short).await,
        Err(DbError::LeaseLost)
    ));
    assert!(matches!(
        store.finish_outbound(&claim, &[]).await,
        Err(DbError::LeaseLost)
    ));
    assert_eq!(
        store.pending_outbound(&acme).await.unwrap(),
        1,
        "the stale finish deleted nothing"
    );
    replica.finish_outbound(&taken, &[]).await.unwrap();
    assert_eq!(store.pending_outbound(&acme).await.unwrap(), 0);
}

async fn an_outbound_link_is_stored_with_its_echo_and_row_only_under_the_lease(db: &TestDb) {
    use turris_core::activity::{ActivityKind, NewActivity};
    use turris_core::ids::HubSpotId;
    use turris_core::planner::RecentWrite;
    use turris_core::store::{ActivityStore, Link, LinkStore};
    use turris_server::store::{Conflict, EchoLedgerStore};

    let store = db.store();
    let replica = db.second_store().await;
    let acme = org(&store, "acme").await;
    let one = agency("a-1", "One");
    store.insert_agency_with_push(&acme, &one).await.unwrap();
    let short = Duration::from_secs(15);
    let now = chrono::Utc::now() + chrono::Duration::seconds(5);
    let claim = store
        .claim_outbound(now, 100, short)
        .await
        .unwrap()
        .unwrap();
    let hubspot = HubSpotId::parse("500").unwrap();
    let link = Link {
        turris: TurrisRef::Agency(one.id.clone()),
        hubspot_id: hubspot.clone(),
    };
    let writes = [RecentWrite {
        object_id: hubspot.clone(),
        property: "name".into(),
        value: Some("One".into()),
        at: now,
        edited_at: now,
    }];
    let row = NewActivity::success(ActivityKind::CreateCompany, now).message("created");
    let rows = |store: turris_server::store::SqlStore| {
        let acme = acme.clone();
        async move {
            store
                .activity_page(&acme, None, None, 100)
                .await
                .unwrap()
                .entries
                .len()
        }
    };
    store
        .commit_outbound_link(&claim, &link, &writes, &row)
        .await
        .unwrap();
    assert_eq!(
        store.link_by_turris(&acme, &link.turris).await.unwrap(),
        Some(link.clone())
    );
    let since = now - chrono::Duration::minutes(1);
    let ledger = store
        .recent_hubspot_writes(&acme, std::slice::from_ref(&hubspot), since)
        .await
        .unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(rows(store.clone()).await, 1);
    // The same link again (a retried write) is a no-op link with its row.
    store
        .commit_outbound_link(&claim, &link, &writes, &row)
        .await
        .unwrap();
    // Another HubSpot object for a linked record: a conflict, nothing written.
    let other = Link {
        hubspot_id: HubSpotId::parse("501").unwrap(),
        ..link.clone()
    };
    assert!(matches!(
        store
            .commit_outbound_link(&claim, &other, &writes, &row)
            .await,
        Err(DbError::Conflict(Conflict::TurrisLinked))
    ));
    assert_eq!(rows(store.clone()).await, 2);
    // Once another process took the organization over, the first holder writes nothing.
    let later = now + chrono::Duration::seconds(16);
    let _taken = replica
        .claim_outbound(later, 100, short)
        .await
        .unwrap()
        .unwrap();
    let two = agency("a-2", "Two");
    store.insert_agency_with_push(&acme, &two).await.unwrap();
    let stale = Link {
        turris: TurrisRef::Agency(two.id.clone()),
        hubspot_id: HubSpotId::parse("502").unwrap(),
    };
    assert!(matches!(
        store
            .commit_outbound_link(&claim, &stale, &writes, &row)
            .await,
        Err(DbError::LeaseLost)
    ));
    assert_eq!(
        store.link_by_turris(&acme, &stale.turris).await.unwrap(),
        None
    );
    assert_eq!(rows(store.clone()).await, 2);
}

async fn organizations_take_turns_so_a_backlog_never_holds_back_another_tenants_push(db: &TestDb) {
    let store = db.store();
    let replica = db.second_store().await;
    let busy = org(&store, "busy").await;
    let quiet = org(&store, "quiet").await;
    for i in 0..250 {
        store
            .insert_agency_with_push(&busy, &agency(&format!("b-{i:03}"), "Busy"))
            .await
            .unwrap();
    }
    // The quiet tenant's one push comes after the whole backlog.
    store
        .insert_agency_with_push(&quiet, &agency("q-1", "Quiet"))
        .await
        .unwrap();
    let now = chrono::Utc::now() + chrono::Duration::seconds(5);
    let limit = 100;
    // Step 1: the busy tenant waited longest.
    let first = store
        .claim_outbound(now, limit, LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((&first.organization, first.pushes.len()), (&busy, limit));
    // While the busy tenant's lease is held, its backlog hides nobody: another process takes
    // the quiet tenant at once.
    let at = |secs: i64| now + chrono::Duration::seconds(secs);
    let meanwhile = replica
        .claim_outbound(at(1), limit, LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(meanwhile.organization, quiet);
    replica.finish_outbound(&meanwhile, &[]).await.unwrap();
    store.finish_outbound(&first, &[]).await.unwrap();

    // Both now have pushes due, the busy tenant's older: they take turns, so the quiet
    // tenant's new push goes in the second step, not after the backlog.
    for i in 2..=3 {
        store
            .insert_agency_with_push(&quiet, &agency(&format!("q-{i}"), "Quiet"))
            .await
            .unwrap();
    }
    let mut order = Vec::new();
    let mut secs = 2;
    while let Some(claim) = store.claim_outbound(at(secs), limit, LEASE).await.unwrap() {
        order.push((claim.organization.to_string(), claim.pushes.len()));
        store.finish_outbound(&claim, &[]).await.unwrap();
        secs += 1;
    }
    assert_eq!(
        order,
        [
            ("busy".to_owned(), 100),
            ("quiet".to_owned(), 2),
            ("busy".to_owned(), 50)
        ],
        "served in turns"
    );
}

both_databases!(db:
    organizations_take_turns_so_a_backlog_never_holds_back_another_tenants_push,
    an_outbound_link_is_stored_with_its_echo_and_row_only_under_the_lease,
    a_renewed_lease_holds_and_a_lost_one_neither_renews_nor_finishes,
    a_record_saved_with_its_push_is_stored_and_queued_and_an_unknown_one_changes_nothing,
    an_organization_is_claimed_by_one_process_until_it_finishes_or_its_lease_expires,
);
