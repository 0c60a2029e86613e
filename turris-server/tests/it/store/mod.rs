//! The storage suites, each test run on a fresh SQLite database and a fresh PostgreSQL one.

mod conformance;
mod connect;
mod credentials;
mod debounce;
mod echo;
mod encryption;
mod health;
mod inbound;
mod inputs;
mod jobs;
mod keys;
mod leases;
mod oauth;
mod outbound;
mod retention;
mod sync_step;
mod tenants;
mod webhooks;

use chrono::{DateTime, TimeZone, Utc};
use turris_core::ids::OrganizationId;
use turris_core::permissions::SubscriptionState;
use turris_server::store::{SqlStore, TenantStore};

/// A fixed instant for reproducible tests.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).single().unwrap()
}

/// `t0` plus `secs` seconds.
pub fn t(secs: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(secs)
}

/// Creates an organization with an active subscription.
pub async fn org(store: &SqlStore, id: &str) -> OrganizationId {
    let id = OrganizationId::parse(id).unwrap();
    store
        .create_organization(&id, &format!("{id} Inc."), SubscriptionState::Active, t0())
        .await
        .unwrap();
    id
}
