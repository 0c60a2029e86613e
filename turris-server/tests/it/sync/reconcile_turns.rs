//! Reconciliation shared fairly between organizations in one process: a job of one
//! organization at a time, and pages taking turns, so a large job yields after every page.
//! Asserted on the order pages finish in, never on time.

use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, oneshot};
use turris_core::ids::OrganizationId;
use turris_server::sync::reconcile::fair::Turns;

fn org(name: &str) -> OrganizationId {
    OrganizationId::parse(name).unwrap()
}

/// Runs a job of `pages` pages for `name`'s organization, logging each page as it finishes;
/// the first page waits for `go` once it holds its turn (and says so on `started`).
async fn job(
    name: &'static str,
    pages: usize,
    turns: Arc<Turns>,
    log: Arc<Mutex<Vec<(&'static str, usize)>>>,
    hold_first: Option<(oneshot::Sender<()>, Arc<Notify>)>,
) {
    let _job = turns
        .start_job(&org(name))
        .expect("the organization's first job runs");
    let mut hold_first = hold_first;
    for page in 1..=pages {
        let _turn = turns.page().await;
        if let Some((started, go)) = hold_first.take() {
            started.send(()).unwrap();
            go.notified().await;
        }
        tokio::task::yield_now().await;
        log.lock().unwrap().push((name, page));
    }
}

#[tokio::test]
async fn a_small_tenants_job_behind_a_large_one_finishes_before_the_large_one_has_done_its_pages() {
    let turns = Turns::new(1, 1);
    let log = Arc::new(Mutex::new(Vec::new()));
    let (started, has_started) = oneshot::channel();
    let go = Arc::new(Notify::new());
    let big = tokio::spawn(job(
        "big-tenant",
        10,
        Arc::clone(&turns),
        Arc::clone(&log),
        Some((started, Arc::clone(&go))),
    ));
    has_started.await.unwrap();
    // The small tenant's job asks for its page while the big one's first page runs.
    let small = tokio::spawn(job(
        "small-tenant",
        1,
        Arc::clone(&turns),
        Arc::clone(&log),
        None,
    ));
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    go.notify_one();
    small.await.unwrap();
    let big_pages_then = log
        .lock()
        .unwrap()
        .iter()
        .filter(|(name, _)| *name == "big-tenant")
        .count();
    big.await.unwrap();
    assert_eq!(
        big_pages_then,
        1,
        "the small job waited for one page of the big one: {:?}",
        log.lock().unwrap()
    );
    assert_eq!(log.lock().unwrap().len(), 11);
}

#[test]
fn an_organization_runs_one_job_at_a_time_and_others_are_not_held_back_by_it() {
    let turns = Turns::new(4, 1);
    let first = turns.start_job(&org("busy")).expect("a first job runs");
    assert!(
        turns.start_job(&org("busy")).is_none(),
        "a second job of the same organization waits"
    );
    assert!(
        turns.start_job(&org("quiet")).is_some(),
        "another organization's job runs"
    );
    drop(first);
    assert!(
        turns.start_job(&org("busy")).is_some(),
        "once the first ends, the next one runs"
    );
}
