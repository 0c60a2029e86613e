//! The storage suites, each test run on a fresh SQLite database and a fresh PostgreSQL one.

mod conformance;
mod connect;
mod credentials;
mod crm_queue;
mod debounce;
mod echo;
mod encryption;
mod health;
mod inbound;
mod inputs;
mod jobs;
mod keys;
mod leases;
mod nipr;
mod oauth;
mod outbound;
mod retention;
mod sync_step;
mod tenants;
mod turns;
mod webhooks;

use chrono::{DateTime, TimeZone, Utc};
use turris_core::ids::OrganizationId;
use turris_core::permissions::{Role, SubscriptionState};
use turris_server::crypto::ApiToken;
use turris_server::store::{
    ApiTokenInfo, NewApiToken, NewUser, RoleId, SqlStore, StoredRole, TenantStore, User, UserId,
};

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

/// Inserts agent `p1` (Ada L) in `org`, the entity the delivery tests post NIPR results for.
pub async fn agent_p1(store: &SqlStore, org: &OrganizationId) -> turris_core::record::Agent {
    let agent = turris_core::record::Agent {
        id: turris_core::ids::AgentId::parse("p1").unwrap(),
        data: turris_core::record::AgentDraft::named("Ada", "L"),
    };
    turris_core::store::RecordStore::insert_agent(store, org, &agent)
        .await
        .unwrap();
    agent
}

/// Creates a user named `name` with `email` in `org`.
pub async fn user(store: &SqlStore, org: &OrganizationId, email: &str, name: &str) -> User {
    let user = NewUser {
        email: email.into(),
        name: name.into(),
    };
    store.create_user(org, &user, t0()).await.unwrap()
}

/// A fresh API token labelled `label` for `user` with `role`, never expiring.
pub fn new_token(user: UserId, role: RoleId, label: &str) -> (ApiToken, NewApiToken) {
    let token = ApiToken::generate().unwrap();
    let new = NewApiToken {
        hash: token.hash(),
        user,
        role,
        label: label.into(),
        expires_at: None,
    };
    (token, new)
}

/// A role, a user, and an API token of the user with the role.
pub struct TokenHolder {
    pub role: StoredRole,
    pub user: User,
    pub token: ApiToken,
    pub info: ApiTokenInfo,
}

/// Creates `role`, a user with `email` and a token labelled `label` for them in `org`.
pub async fn token_holder(
    store: &SqlStore,
    org: &OrganizationId,
    role: &Role,
    (email, name): (&str, &str),
    label: &str,
) -> TokenHolder {
    let role = store.create_role(org, role, t0()).await.unwrap();
    let user = user(store, org, email, name).await;
    let (token, new) = new_token(user.id, role.id, label);
    let info = store.create_api_token(org, &new, t0()).await.unwrap();
    TokenHolder {
        role,
        user,
        token,
        info,
    }
}
