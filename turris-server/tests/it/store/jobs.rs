//! Jobs: one running per organization and kind, resumable after a restart, leased by one
//! process at a time and taken over when the lease lapses; listed newest first in pages.

use std::time::Duration;

use serde_json::json;
use turris_server::store::{Conflict, DbError, Job, JobLease, JobStatus, JobStore};

use super::{org, t};
use crate::support::db::TestDb;

async fn one_job_of_a_kind_runs_at_a_time_and_resumes_from_its_state(db: &TestDb) {
    let store = db.store();
    let (acme, other) = (org(&store, "acme").await, org(&store, "other").await);
    let job = store
        .create_job(&acme, "reconcile_companies", &json!({"after": null}), t(0))
        .await
        .unwrap();
    let twice = store
        .create_job(&acme, "reconcile_companies", &json!({}), t(1))
        .await;
    assert!(
        matches!(twice, Err(DbError::Conflict(Conflict::JobRunning))),
        "{twice:?}"
    );
    store
        .create_job(&acme, "reconcile_contacts", &json!({}), t(1))
        .await
        .expect("another kind may run");
    store
        .create_job(&other, "reconcile_companies", &json!({}), t(1))
        .await
        .expect("another organization may run");

    store
        .update_job(
            &acme,
            job.id,
            JobStatus::Running,
            &json!({"after": "1500", "paired": 1500}),
            t(5),
        )
        .await
        .unwrap();
    let restarted = db.second_store().await;
    let running = restarted.running_jobs().await.unwrap();
    assert_eq!(running.len(), 3);
    let resumed = running.iter().find(|j| j.id == job.id).unwrap();
    assert_eq!(
        resumed.state["after"], "1500",
        "the cursor survives a restart"
    );
    assert_eq!(resumed.updated_at, t(5));

    restarted
        .update_job(
            &acme,
            job.id,
            JobStatus::Completed,
            &json!({"paired": 2500}),
            t(9),
        )
        .await
        .unwrap();
    assert_eq!(
        restarted.job(&acme, job.id).await.unwrap().unwrap().status,
        JobStatus::Completed
    );
    assert_eq!(
        restarted.job(&other, job.id).await.unwrap(),
        None,
        "isolated"
    );
    assert!(matches!(
        restarted
            .update_job(&other, job.id, JobStatus::Failed, &json!({}), t(9))
            .await,
        Err(DbError::NotFound)
    ));
    let next = store
        .create_job(&acme, "reconcile_companies", &json!({}), t(10))
        .await
        .expect("a finished job frees its kind");
    let listed = store.list_jobs(&acme, "reconcile_companies").await.unwrap();
    assert_eq!(
        listed.iter().map(|j| j.id).collect::<Vec<_>>(),
        [next.id, job.id],
        "newest first"
    );
}

async fn a_job_is_leased_by_one_process_until_its_lease_lapses_then_taken_over(db: &TestDb) {
    let (a, b) = (db.store(), db.second_store().await);
    let acme = org(&a, "acme").await;
    let minute = Duration::from_secs(60);
    let job = a
        .create_job(&acme, "reconcile_contacts", &json!({"pages": 0}), t(0))
        .await
        .unwrap();
    a.create_job(&acme, "reconcile_companies", &json!({}), t(0))
        .await
        .unwrap();

    let claimed = a
        .claim_jobs("reconcile_contacts", t(1), minute, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "only jobs of the kind asked for");
    let (_, lease_a) = claimed[0].clone();
    assert_eq!(lease_a.expires_at, t(61));
    assert!(
        b.claim_jobs("reconcile_contacts", t(30), minute, 10)
            .await
            .unwrap()
            .is_empty(),
        "a live lease keeps the job with its holder"
    );
    // Saving progress renews the lease until t(90).
    assert!(
        a.save_leased_job(
            &job,
            &lease_a,
            JobStatus::Running,
            &json!({"pages": 1}),
            Some(t(90)),
            t(30)
        )
        .await
        .unwrap()
    );
    assert!(
        b.claim_jobs("reconcile_contacts", t(70), minute, 10)
            .await
            .unwrap()
            .is_empty(),
        "renewed"
    );

    // The holder stops renewing (a crash): the lease lapses and another process takes over,
    // from the saved state, under a new lease.
    let taken = b
        .claim_jobs("reconcile_contacts", t(90), minute, 10)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    let (resumed, lease_b) = taken[0].clone();
    assert_eq!(resumed.state, json!({"pages": 1}));
    assert_ne!(lease_b.id, lease_a.id);
    assert!(
        !a.save_leased_job(
            &job,
            &lease_a,
            JobStatus::Running,
            &json!({"pages": 9}),
            Some(t(150)),
            t(91)
        )
        .await
        .unwrap(),
        "the former holder can no longer save"
    );
    assert!(
        b.save_leased_job(
            &job,
            &lease_b,
            JobStatus::Completed,
            &json!({"pages": 2}),
            None,
            t(95)
        )
        .await
        .unwrap()
    );
    let done = a.job(&acme, job.id).await.unwrap().unwrap();
    assert_eq!(
        (done.status, done.state),
        (JobStatus::Completed, json!({"pages": 2}))
    );
    assert!(
        a.claim_jobs("reconcile_contacts", t(500), minute, 10)
            .await
            .unwrap()
            .is_empty(),
        "a finished job is never claimed"
    );

    // Released (a clean shutdown): claimable at once.
    let (companies, lease) = a
        .claim_jobs("reconcile_companies", t(100), minute, 10)
        .await
        .unwrap()
        .remove(0);
    assert!(
        a.save_leased_job(
            &companies,
            &lease,
            JobStatus::Running,
            &json!({}),
            None,
            t(101)
        )
        .await
        .unwrap()
    );
    assert_eq!(
        b.claim_jobs("reconcile_companies", t(102), minute, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn concurrent_claims_hand_a_job_to_exactly_one_process(db: &TestDb) {
    let acme = org(&db.store(), "acme").await;
    for round in 0..10 {
        let job = db
            .store()
            .create_job(&acme, "reconcile_companies", &json!({}), t(round * 1000))
            .await
            .unwrap();
        let (a, b) = (db.second_store().await, db.second_store().await);
        let now = t(round * 1000 + 1);
        let (x, y) = tokio::join!(
            a.claim_jobs("reconcile_companies", now, Duration::from_secs(60), 10),
            b.claim_jobs("reconcile_companies", now, Duration::from_secs(60), 10)
        );
        let claims = x.unwrap().len() + y.unwrap().len();
        assert_eq!(claims, 1, "round {round}");
        db.store()
            .update_job(&acme, job.id, JobStatus::Completed, &json!({}), now)
            .await
            .unwrap();
    }
}

async fn jobs_are_listed_newest_first_by_kind_in_pages_within_their_organization(db: &TestDb) {
    let store = db.store();
    let (acme, other) = (org(&store, "acme").await, org(&store, "other").await);
    let mut ids = Vec::new();
    for (i, kind) in [
        "reconcile_companies",
        "reconcile_contacts",
        "reconcile_companies",
        "export",
    ]
    .iter()
    .enumerate()
    {
        let job = store
            .create_job(&acme, kind, &json!({}), t(i as i64))
            .await
            .unwrap();
        store
            .update_job(&acme, job.id, JobStatus::Completed, &json!({}), t(i as i64))
            .await
            .unwrap();
        ids.push(job.id);
    }
    store
        .create_job(&other, "reconcile_companies", &json!({}), t(9))
        .await
        .unwrap();
    let kinds = ["reconcile_companies", "reconcile_contacts"];
    let first = store.job_page(&acme, &kinds, None, 2).await.unwrap();
    assert_eq!(
        first.iter().map(|j| j.id).collect::<Vec<_>>(),
        [ids[2], ids[1]]
    );
    let last = first.last().unwrap();
    let rest = store
        .job_page(&acme, &kinds, Some((last.created_at, last.id)), 2)
        .await
        .unwrap();
    assert_eq!(rest.iter().map(|j| j.id).collect::<Vec<_>>(), [ids[0]]);
}

/// A claim takes the oldest jobs up to its limit and no more (on PostgreSQL the jobs are
/// picked once: a `LIMIT ... SKIP LOCKED` subquery run again would pick others).
async fn a_claim_takes_at_most_its_limit_of_jobs_oldest_first(db: &TestDb) {
    let store = db.store();
    let minute = Duration::from_secs(60);
    let mut created = Vec::new();
    for i in 0..5 {
        let org = org(&store, &format!("org{i}")).await;
        let job = store
            .create_job(&org, "reconcile_contacts", &json!({}), t(i))
            .await
            .unwrap();
        created.push(job.id);
    }
    let ids =
        |claimed: Vec<(Job, JobLease)>| -> Vec<_> { claimed.iter().map(|(j, _)| j.id).collect() };
    let first = store
        .claim_jobs("reconcile_contacts", t(10), minute, 2)
        .await
        .unwrap();
    assert_eq!(ids(first), created[..2]);
    let second = store
        .claim_jobs("reconcile_contacts", t(10), minute, 2)
        .await
        .unwrap();
    assert_eq!(ids(second), created[2..4]);
    let last = store
        .claim_jobs("reconcile_contacts", t(10), minute, 2)
        .await
        .unwrap();
    assert_eq!(ids(last), created[4..]);
}

both_databases!(db:
    a_claim_takes_at_most_its_limit_of_jobs_oldest_first,
    one_job_of_a_kind_runs_at_a_time_and_resumes_from_its_state,
    a_job_is_leased_by_one_process_until_its_lease_lapses_then_taken_over,
    concurrent_claims_hand_a_job_to_exactly_one_process,
    jobs_are_listed_newest_first_by_kind_in_pages_within_their_organization,
);
