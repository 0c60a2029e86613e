//! Recover: every failed event of a webhook in a window is sent again, as one job with
//! progress, and a job survives its process.

use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};
use turris_webhooks::delivery::{DeliveryStore, EventId, EventStatus};

use super::harness::{Org, Receiver, Server, config, eventually};
use crate::support::db::TestDb;

const TYPE: &str = "entity_compliance_data_synchronized";

/// One attempt each: an event fails for good at its first failure.
fn one_attempt(db: &TestDb) -> turris_server::config::Config {
    let mut settings = config(db);
    settings.delivery.retry_schedule =
        turris_server::delivery::settings::parse_schedule("0s").unwrap();
    settings
}

async fn wait_failed(db: &TestDb, events: &[String]) {
    let store = db.store();
    eventually("the events fail", || async {
        for id in events {
            let event = store
                .event(EventId(id.parse().unwrap()))
                .await
                .unwrap()
                .unwrap();
            if event.status != EventStatus::Failed {
                return None;
            }
        }
        Some(())
    })
    .await;
}

async fn job(server: &Server, org: &Org, webhook: &str, job: &Value) -> Value {
    let path = format!(
        "/api/v1/webhooks/{webhook}/recover/{}",
        job["id"].as_str().unwrap()
    );
    server
        .expect(200, Method::GET, &path, &org.token, None)
        .await
}

async fn recover_resends_the_failed_events_of_its_window_once_with_progress(db: &TestDb) {
    let receiver = Receiver::start().await;
    receiver.go_down().await;
    let server = Server::start(one_attempt(db)).await;
    let org = server.organization().await;
    let webhook = server.webhook(&org, TYPE, &receiver).await;
    let agency = server.agency(&org, "Acme").await;
    server.nipr_sync(&org, &agency).await;
    let early = server.event_ids(&org, &webhook).await;
    wait_failed(db, &early).await;
    let since = Utc::now();
    server.nipr_sync(&org, &agency).await;
    server.nipr_sync(&org, &agency).await;
    let all = server.event_ids(&org, &webhook).await;
    let window: Vec<String> = all.iter().filter(|e| !early.contains(e)).cloned().collect();
    assert_eq!(window.len(), 2);
    wait_failed(db, &all).await;

    // Bad windows are refused and start nothing; another organization finds no webhook.
    let recover = format!("/api/v1/webhooks/{webhook}/recover");
    let future = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let refused = server
        .expect(
            422,
            Method::POST,
            &recover,
            &org.token,
            Some(json!({"since": future})),
        )
        .await;
    assert_eq!(refused["details"][0]["path"], "since");
    let stranger = server.organization().await;
    let body = json!({"since": since.to_rfc3339()});
    server
        .expect(
            404,
            Method::POST,
            &recover,
            &stranger.token,
            Some(body.clone()),
        )
        .await;

    receiver.come_up().await;
    let started = server
        .expect(202, Method::POST, &recover, &org.token, Some(body))
        .await;
    assert_eq!(started["total"], 2);
    let finished = eventually("the job is done", || async {
        let now = job(&server, &org, &webhook, &started).await;
        (now["state"] == "done").then_some(now)
    })
    .await;
    assert_eq!(finished["done"], 2);
    eventually("the window's events are delivered", || async {
        let accepted = receiver.accepted();
        window
            .iter()
            .all(|e| accepted.get(e) == Some(&1))
            .then_some(())
    })
    .await;
    assert!(
        !receiver.accepted().contains_key(&early[0]),
        "an event before the window stays failed"
    );
    server.stop().await;
}

async fn a_recover_job_whose_server_crashes_is_finished_by_the_next(db: &TestDb) {
    let receiver = Receiver::start().await;
    receiver.go_down().await;
    let mut settings = one_attempt(db);
    // One event a page: the job is mid-way when its server dies.
    settings.delivery.recover_rate = 1;
    let crashing = Server::start_crashable(settings.clone()).await;
    let org = crashing.organization().await;
    let webhook = crashing.webhook(&org, TYPE, &receiver).await;
    let agency = crashing.agency(&org, "Acme").await;
    let since = Utc::now() - chrono::Duration::seconds(1);
    for _ in 0..4 {
        crashing.nipr_sync(&org, &agency).await;
    }
    let events = crashing.event_ids(&org, &webhook).await;
    wait_failed(db, &events).await;
    receiver.hold();
    receiver.come_up().await;
    let recover = format!("/api/v1/webhooks/{webhook}/recover");
    let started = crashing
        .expect(
            202,
            Method::POST,
            &recover,
            &org.token,
            Some(json!({"since": since.to_rfc3339()})),
        )
        .await;
    assert_eq!(started["total"], 4);
    eventually("the job has re-queued its first page", || async {
        let now = job(&crashing, &org, &webhook, &started).await;
        (now["done"].as_u64() >= Some(1)).then_some(())
    })
    .await;
    crashing.crash();
    receiver.release();

    let restarted = Server::start(settings).await;
    let finished = eventually("the next server finishes the job", || async {
        let now = job(&restarted, &org, &webhook, &started).await;
        (now["state"] == "done").then_some(now)
    })
    .await;
    assert_eq!(
        finished["done"], 4,
        "every event once, none twice: {finished}"
    );
    eventually("every event is delivered", || async {
        let accepted = receiver.accepted();
        events
            .iter()
            .all(|e| accepted.contains_key(e))
            .then_some(())
    })
    .await;
    restarted.stop().await;
}

both_databases!(db:
    recover_resends_the_failed_events_of_its_window_once_with_progress,
    a_recover_job_whose_server_crashes_is_finished_by_the_next
);
