//! HubSpot ↔ Turris sync end to end, against the HubSpot sandbox: the real server on
//! `127.0.0.1:0`, the sandbox's webhook target pointed at its `/hooks/hubspot`.

mod agents;
mod contacts;
mod crash;
mod daily_limit;
mod fairness;
mod hooks;
mod inbound;
mod invites;
mod journal;
mod notes;
mod outbound;
mod polling;
mod pruning;
mod races;
mod reconcile;
mod reconcile_turns;
mod subscriptions;
mod sync_records;
mod tags;
mod tokens;

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use turris_hubspot_sandbox::ObjectKind;

pub use crate::support::app::{Backend, TestApp};
pub use crate::support::eventually;

/// The integration's API.
pub const H: &str = "/api/v1/integrations/hubspot";

/// Runs a test body against a fresh synced app on SQLite and on PostgreSQL:
/// `sync_test!(async fn a_sentence(app) {...})`.
macro_rules! sync_test {
    ($($test:tt)*) => {
        $crate::support::both_databases!(app($crate::sync::synced_app): $($test)*);
    };
}
pub(crate) use sync_test;

/// The agency mapping of the suite: companies of type `PARTNER` are agencies; `npn` and
/// `producer_code` are custom properties, the rest are HubSpot's standard ones.
pub fn agency_mapping() -> Value {
    json!({
        "agency": {
            "identifier": {"mode": "apply_filter", "property": "type", "operator": "equals", "value": "PARTNER"},
            "name": "name",
            "npn": "npn",
            "producer_code": "producer_code",
            "website": "website",
            "phone": "phone",
            "street_address": "address",
            "city": "city",
            "state_code": "state",
            "zip": "zip",
            "country": "country"
        }
    })
}

/// Every property [`agency_mapping`] reads.
pub const AGENCY_PROPERTIES: &[&str] = &[
    "type",
    "name",
    "npn",
    "producer_code",
    "website",
    "phone",
    "address",
    "city",
    "state",
    "zip",
    "country",
];

/// The custom company properties [`agency_mapping`] reads, made in the sandbox as a portal
/// admin would.
pub fn create_agency_properties(control: &turris_hubspot_sandbox::Control) {
    for (name, label) in [("npn", "Agency NPN"), ("producer_code", "Producer code")] {
        control
            .create_property(
                ObjectKind::Companies,
                json!({"name": name, "label": label, "type": "string", "fieldType": "text"}),
            )
            .unwrap();
    }
}

/// Maps agencies with [`agency_mapping`] and turns agency inbound sync on.
pub async fn map_agencies_inbound(app: &TestApp) {
    app.set_mapping(agency_mapping()).await;
    app.set_sync(json!({"agency": {"inbound": true}})).await;
}

/// A server whose sandbox delivers webhooks to it, connected through OAuth, with the agency
/// mapping saved and agency inbound sync on. The sandbox's subscriptions are made here, as the
/// app's developer would, until the server manages them.
pub async fn synced_app(backend: Backend) -> TestApp {
    let app = TestApp::spawn(backend).await;
    let control = app.sandbox.control();
    control.set_webhook_target(Some(&format!("{}/hooks/hubspot", app.base)));
    create_agency_properties(&control);
    control.subscribe("company.creation", None).unwrap();
    control.subscribe("company.deletion", None).unwrap();
    control.subscribe("company.merge", None).unwrap();
    for property in AGENCY_PROPERTIES {
        control
            .subscribe("company.propertyChange", Some(property))
            .unwrap();
    }
    app.connect_hubspot().await.expect(200);
    map_agencies_inbound(&app).await;
    app
}

impl TestApp {
    /// Every agency of the organization.
    pub async fn agencies(&self) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/agencies?limit=100&cursor={c}"),
                None => "/api/v1/agencies?limit=100".to_owned(),
            };
            let page = self.get(&path).await.expect(200);
            all.extend(page.body["items"].as_array().unwrap().iter().cloned());
            match page.body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return all,
            }
        }
    }

    /// The newest activity rows (up to 100), newest first.
    pub async fn activity(&self) -> Vec<Value> {
        let page = self
            .get(&format!("{H}/activity?limit=100"))
            .await
            .expect(200);
        page.body["entries"]
            .as_array()
            .unwrap_or_else(|| panic!("activity page: {}", page.text))
            .clone()
    }

    /// Waits until the sandbox's webhooks were delivered and every persisted event was
    /// processed by the inbound worker.
    pub async fn settle(&self) {
        self.sandbox.control().flush_webhooks().await;
        eventually("the inbound worker to process every event", || async {
            (self.pending_inbound_events().await == 0).then_some(())
        })
        .await;
    }

    /// Inbound events not processed yet, read straight from the database.
    pub async fn pending_inbound_events(&self) -> i64 {
        self.count("SELECT COUNT(*) FROM inbound_events WHERE status = 'pending'")
            .await
    }

    /// A `SELECT COUNT(*) ...` straight on the database.
    pub async fn count(&self, sql: &str) -> i64 {
        if self.db.url.starts_with("sqlite") {
            let pool = sqlx::SqlitePool::connect(&self.db.url).await.unwrap();
            let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&pool).await.unwrap();
            pool.close().await;
            n
        } else {
            let pool = sqlx::PgPool::connect(&self.db.url).await.unwrap();
            let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&pool).await.unwrap();
            pool.close().await;
            n
        }
    }

    /// Activity rows with this title, newest first.
    pub async fn activity_titled(&self, title: &str) -> Vec<Value> {
        self.activity()
            .await
            .into_iter()
            .filter(|a| a["title"] == title)
            .collect()
    }
}
