//! Organizations, roles, users and API tokens.

use turris_core::permissions::{Area, Capability, Grant, Role, SubscriptionState};
use turris_server::crypto::TokenHash;
use turris_server::store::{Backend, Conflict, DbError, NewUser, RoleId, TenantStore, UserId};

use super::{TokenHolder, new_token, org, t, t0, token_holder};
use crate::support::db::TestDb;

fn reader() -> Role {
    Role::new("reader", [Grant::new(Area::Webhooks, Capability::Read)])
}

async fn a_token_authenticates_as_its_user_role_and_organization(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let TokenHolder {
        user, token, info, ..
    } = token_holder(&store, &acme, &reader(), ("ada@acme.test", "Ada"), "ci").await;

    let principal = store
        .authenticate(&token.hash(), t(5))
        .await
        .unwrap()
        .expect("a live token authenticates");
    assert_eq!(principal.organization.id, acme);
    assert_eq!(
        principal.organization.subscription,
        SubscriptionState::Active
    );
    assert_eq!(principal.user, user);
    assert_eq!(principal.role.role, reader());
    assert_eq!(principal.token.id, info.id);
    assert_eq!(principal.token.last_used_at, Some(t(5)), "use is noted");

    assert!(
        store
            .authenticate(&TokenHash::of("trs_not-a-token"), t(5))
            .await
            .unwrap()
            .is_none(),
        "an unknown token is no one"
    );
    store
        .set_subscription(&acme, SubscriptionState::Inactive)
        .await
        .unwrap();
    assert_eq!(
        store
            .authenticate(&token.hash(), t(6))
            .await
            .unwrap()
            .unwrap()
            .organization
            .subscription,
        SubscriptionState::Inactive,
        "the premium gate sees the current subscription"
    );
    assert!(store.revoke_api_token(&acme, info.id, t(10)).await.unwrap());
    assert!(
        !store.revoke_api_token(&acme, info.id, t(11)).await.unwrap(),
        "revoked once"
    );
    assert!(
        store
            .authenticate(&token.hash(), t(12))
            .await
            .unwrap()
            .is_none(),
        "a revoked token is refused"
    );
    let listed = store.list_api_tokens(&acme).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].revoked_at, Some(t(10)));
}

/// Who a token is stays in memory for a moment (the TTL), so another replica's revocation
/// reaches this one's cache only when it lapses; with no TTL, every request reads it.
async fn another_replicas_revocation_reaches_a_cached_token_when_its_ttl_lapses(db: &TestDb) {
    let hour = std::time::Duration::from_secs(3600);
    let here = db.store().with_token_cache(hour);
    let uncached = db.store().with_token_cache(std::time::Duration::ZERO);
    let there = db.store();
    let acme = org(&here, "acme").await;
    let TokenHolder { token, info, .. } =
        token_holder(&here, &acme, &reader(), ("ada@acme.test", "Ada"), "ci").await;
    assert!(
        here.authenticate(&token.hash(), t(5))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        uncached
            .authenticate(&token.hash(), t(5))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        there
            .authenticate(&token.hash(), t(5))
            .await
            .unwrap()
            .is_some()
    );

    assert!(there.revoke_api_token(&acme, info.id, t(6)).await.unwrap());
    let remembered = here.authenticate(&token.hash(), t(7)).await.unwrap();
    assert_eq!(
        remembered.map(|p| p.token.id),
        Some(info.id),
        "within the TTL this replica still knows the token"
    );
    assert!(
        uncached
            .authenticate(&token.hash(), t(7))
            .await
            .unwrap()
            .is_none(),
        "without a cache the revocation is seen at once"
    );
    assert!(
        there
            .authenticate(&token.hash(), t(7))
            .await
            .unwrap()
            .is_none(),
        "the replica that revoked it refuses it at once"
    );
}

async fn names_emails_and_ids_are_unique_and_answer_typed_conflicts(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let again = store
        .create_organization(&acme, "Again", SubscriptionState::Active, t0())
        .await;
    assert!(
        matches!(again, Err(DbError::Conflict(Conflict::Organization))),
        "{again:?}"
    );
    store.create_role(&acme, &reader(), t0()).await.unwrap();
    let role = store.create_role(&acme, &reader(), t0()).await;
    assert!(
        matches!(role, Err(DbError::Conflict(Conflict::RoleName))),
        "{role:?}"
    );
    let ada = NewUser {
        email: "ada@acme.test".into(),
        name: "Ada".into(),
    };
    store.create_user(&acme, &ada, t0()).await.unwrap();
    let user = store.create_user(&acme, &ada, t0()).await;
    assert!(
        matches!(user, Err(DbError::Conflict(Conflict::UserEmail))),
        "{user:?}"
    );

    let other = org(&store, "other").await;
    store
        .create_role(&other, &reader(), t0())
        .await
        .expect("role names are unique per organization");
    store
        .create_user(&other, &ada, t0())
        .await
        .expect("emails are unique per organization");
    let ghost = turris_core::ids::OrganizationId::parse("ghost").unwrap();
    assert!(matches!(
        store.create_role(&ghost, &reader(), t0()).await,
        Err(DbError::NotFound)
    ));
    assert!(matches!(
        store.create_user(&ghost, &ada, t0()).await,
        Err(DbError::NotFound)
    ));
    assert!(matches!(
        store
            .set_subscription(&ghost, SubscriptionState::Active)
            .await,
        Err(DbError::NotFound)
    ));
}

async fn tenants_see_only_their_own_roles_users_and_tokens(db: &TestDb) {
    let store = db.store();
    let (acme, other) = (org(&store, "acme").await, org(&store, "other").await);
    let TokenHolder {
        role, user, info, ..
    } = token_holder(&store, &acme, &Role::admin(), ("a@a.test", "A"), "x").await;

    assert_eq!(store.role(&other, role.id).await.unwrap(), None);
    assert_eq!(store.user(&other, user.id).await.unwrap(), None);
    assert!(store.list_roles(&other).await.unwrap().is_empty());
    assert!(store.list_users(&other).await.unwrap().is_empty());
    assert!(store.list_api_tokens(&other).await.unwrap().is_empty());
    assert!(
        !store.revoke_api_token(&other, info.id, t0()).await.unwrap(),
        "another organization cannot revoke it"
    );
    let (_, stolen) = new_token(user.id, role.id, "stolen");
    let foreign = store.create_api_token(&other, &stolen, t0()).await;
    assert!(
        matches!(foreign, Err(DbError::NotFound)),
        "a token cannot bind another organization's user and role: {foreign:?}"
    );
    let (_, ghost) = new_token(UserId::new(), RoleId::new(), "ghost");
    let unknown = store.create_api_token(&acme, &ghost, t0()).await;
    assert!(matches!(unknown, Err(DbError::NotFound)));
    assert_eq!(store.role(&acme, role.id).await.unwrap(), Some(role));
    assert_eq!(
        store
            .list_organizations()
            .await
            .unwrap()
            .iter()
            .map(|o| o.id.as_str())
            .collect::<Vec<_>>(),
        ["acme", "other"]
    );
}

/// The migration that made records a permission area gives every role that existed before it
/// the records grants (any token could use the records API then), and leaves others alone.
async fn roles_from_before_the_records_area_keep_records_access(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let reader = store.create_role(&acme, &reader(), t0()).await.unwrap();
    let empty = store
        .create_role(&acme, &Role::new("empty", []), t0())
        .await
        .unwrap();
    let scoped = Role::new("scoped", [Grant::new(Area::Records, Capability::Read)]);
    let scoped_id = store.create_role(&acme, &scoped, t0()).await.unwrap().id;
    let sql = match db.backend {
        Backend::Sqlite => {
            include_str!("../../../migrations/sqlite/20261204100001_records_grants.sql")
        }
        Backend::Postgres => {
            include_str!("../../../migrations/postgres/20261204100001_records_grants.sql")
        }
    };
    db.execute(sql).await;
    let records = |role: &Role| {
        Capability::ALL
            .into_iter()
            .filter(|c| role.allows(Area::Records, *c))
            .count()
    };
    let reader = store.role(&acme, reader.id).await.unwrap().unwrap().role;
    assert_eq!(records(&reader), 4);
    assert!(reader.allows(Area::Webhooks, Capability::Read), "kept");
    assert_eq!(reader.grants.len(), 5);
    let empty = store.role(&acme, empty.id).await.unwrap().unwrap().role;
    assert_eq!(records(&empty), 4);
    let scoped_after = store.role(&acme, scoped_id).await.unwrap().unwrap().role;
    assert_eq!(
        scoped_after, scoped,
        "a role that names records grants is left alone"
    );
}

both_databases!(db:
    roles_from_before_the_records_area_keep_records_access,
    a_token_authenticates_as_its_user_role_and_organization,
    another_replicas_revocation_reaches_a_cached_token_when_its_ttl_lapses,
    names_emails_and_ids_are_unique_and_answer_typed_conflicts,
    tenants_see_only_their_own_roles_users_and_tokens,
);
