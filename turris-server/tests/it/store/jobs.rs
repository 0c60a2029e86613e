//! Jobs: one running per organization and kind, resumable after a restart.

use serde_json::json;
use turris_server::store::{Conflict, DbError, JobStatus, JobStore};

use super::{org, t};
use crate::db::{TestDb, on_both_backends};

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

on_both_backends!(one_job_of_a_kind_runs_at_a_time_and_resumes_from_its_state);
