//! HubSpot ↔ Turris sync end to end, against the HubSpot sandbox: the real server on
//! `127.0.0.1:0`, the sandbox's webhook target pointed at its `/hooks/hubspot`.

// The API suite's `TestApp` (real server, fresh database, sandbox, organization and token),
// compiled again here because `api::helpers` is private to the API suite.
#[allow(dead_code, unused_macros, unused_imports, clippy::duplicate_mod)]
#[path = "../api/helpers.rs"]
mod helpers;

mod hooks;

use reqwest::Method;
use serde_json::{Value, json};
use turris_hubspot::sandbox::ObjectKind;

pub use helpers::{Backend, TestApp};

/// The integration's API.
pub const H: &str = "/api/v1/integrations/hubspot";

/// Runs a test body on SQLite and on PostgreSQL: `sync_test!(async fn a_sentence(app) {...})`.
macro_rules! sync_test {
    ($(#[$meta:meta])* async fn $name:ident($app:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: &$crate::sync::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                let app = $crate::sync::synced_app($crate::sync::Backend::Sqlite).await;
                run(&app).await;
                app.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                let app = $crate::sync::synced_app($crate::sync::Backend::Postgres).await;
                run(&app).await;
                app.finish().await;
            }
        }
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

/// A server whose sandbox delivers webhooks to it, connected through OAuth, with the agency
/// mapping saved and agency inbound sync on. The sandbox's subscriptions are made here, as the
/// app's developer would, until the server manages them.
pub async fn synced_app(backend: Backend) -> TestApp {
    let app = TestApp::spawn(backend).await;
    let control = app.sandbox.control();
    control.set_webhook_target(Some(&format!("{}/hooks/hubspot", app.base)));
    for (name, label) in [("npn", "Agency NPN"), ("producer_code", "Producer code")] {
        control
            .create_property(
                ObjectKind::Companies,
                json!({"name": name, "label": label, "type": "string", "fieldType": "text"}),
            )
            .unwrap();
    }
    control.subscribe("company.creation", None).unwrap();
    control.subscribe("company.deletion", None).unwrap();
    for property in AGENCY_PROPERTIES {
        control
            .subscribe("company.propertyChange", Some(property))
            .unwrap();
    }
    app.connect_hubspot().await.expect(200);
    app.api(Method::PUT, &format!("{H}/mapping"), Some(agency_mapping()))
        .await
        .expect(200);
    app.api(
        Method::PUT,
        &format!("{H}/sync"),
        Some(json!({"agency": {"inbound": true}})),
    )
    .await
    .expect(200);
    app
}

impl TestApp {
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
}
