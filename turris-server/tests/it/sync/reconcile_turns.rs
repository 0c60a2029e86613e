//! Reconciliation shared fairly between organizations in one process: a job of one
//! organization at a time, and pages taking turns, so a large job yields after every page.
//! Asserted on the order pages finish in, never on time: on the scheduler itself, and end to
//! end with two tenants connected to two HubSpot portals.

use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, oneshot};
use turris_core::ids::OrganizationId;
use turris_hubspot_sandbox::{ObjectKind, Sandbox};
use turris_server::sync::reconcile::fair::Turns;

use super::*;

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

/// `count` `PARTNER` companies with NPNs from `first` in the portal of `control`.
fn partner_companies(control: &turris_hubspot_sandbox::Control, first: usize, count: usize) {
    create_agency_properties(control);
    for i in first..first + count {
        let (name, npn) = (format!("Company {i}"), (10_000 + i).to_string());
        let properties = [
            ("type", "PARTNER"),
            ("name", name.as_str()),
            ("npn", npn.as_str()),
        ];
        control
            .create_record(ObjectKind::Companies, properties)
            .unwrap();
    }
}

/// A reconciliation of agencies started for the organization of `token`: its API path.
async fn reconcile_agencies(app: &TestApp, token: &str) -> String {
    const R: &str = "/api/v1/integrations/hubspot/reconciliations";
    let body = json!({"object": "agencies", "create_missing_in_turris": true});
    let started = app
        .call(Method::POST, R, Some(token), Some(body))
        .await
        .expect(202);
    format!("{R}/{}", started.body["id"].as_str().unwrap())
}

async fn job_state(app: &TestApp, token: &str, job: &str) -> Value {
    app.call(Method::GET, job, Some(token), None)
        .await
        .expect(200)
        .body
}

both_databases!(backend: a_small_tenants_reconciliation_waits_for_a_page_of_a_large_one_not_for_all_of_it);

async fn a_small_tenants_reconciliation_waits_for_a_page_of_a_large_one_not_for_all_of_it(
    backend: Backend,
) {
    const SMALL_PORTAL: u64 = 7_700_001;
    let app = TestApp::spawn_with_sandbox(
        backend,
        Sandbox::builder().extra_portal(SMALL_PORTAL),
        |c| {
            c.reconcile.pages_at_once = 1;
        },
    )
    .await;
    // The large tenant: 1,200 companies, 12 pages, in the default portal.
    let large = app.sandbox.control();
    partner_companies(&large, 0, 1_200);
    app.connect_hubspot().await.expect(200);
    app.set_mapping(agency_mapping()).await;
    // The small tenant: another organization on another portal, 30 companies, one page.
    let small = app.sandbox.control_for(SMALL_PORTAL);
    partner_companies(&small, 5_000, 30);
    let small_token = app.organization("small-tenant", true).await;
    let connect = json!({"portal_id": SMALL_PORTAL, "token": small.private_app_token().unwrap()});
    app.call(
        Method::POST,
        "/api/v1/integrations/hubspot/private-app",
        Some(&small_token),
        Some(connect),
    )
    .await
    .expect(200);
    app.call(
        Method::PUT,
        "/api/v1/integrations/hubspot/mapping",
        Some(&small_token),
        Some(agency_mapping()),
    )
    .await
    .expect(200);
    // Every HubSpot call takes a while, so the large job is still paging when the small
    // one starts.
    large.set_latency(Duration::from_millis(40));
    let large_job = reconcile_agencies(&app, &app.token).await;
    let pages_then = eventually("the large job's first page", || async {
        let p = job_state(&app, &app.token, &large_job).await["progress"]["pages"].as_u64();
        p.filter(|p| *p >= 1)
    })
    .await;
    let small_job = reconcile_agencies(&app, &small_token).await;
    let small_done = eventually("the small job to finish", || async {
        let job = job_state(&app, &small_token, &small_job).await;
        (job["status"] != "running").then_some(job)
    })
    .await;
    let large_now = job_state(&app, &app.token, &large_job).await;
    assert_eq!(small_done["status"], "completed", "{small_done}");
    assert_eq!(small_done["progress"]["created"], 30, "{small_done}");
    let pages_now = large_now["progress"]["pages"].as_u64().unwrap();
    assert!(
        large_now["status"] == "running" && pages_now - pages_then <= 3,
        "the small job waited for a page or two of the large one ({pages_then} → {pages_now} of 12), not for all of it: {large_now}"
    );
    let large_done = eventually("the large job to finish", || async {
        let job = job_state(&app, &app.token, &large_job).await;
        (job["status"] != "running").then_some(job)
    })
    .await;
    assert_eq!(large_done["progress"]["created"], 1_200, "{large_done}");
    app.finish().await;
}
