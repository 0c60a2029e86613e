//! OAuth `state`: single use, ten minutes, and distinct refusals.

use turris_server::store::{OAUTH_STATE_TTL, OAuthStateStore, StateConsumed};

use super::{org, t, t0, user};
use crate::support::db::TestDb;

async fn a_state_is_valid_once_for_its_organization_and_user(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let user = user(&store, &acme, "a@a.test", "A").await;
    let state = store
        .create_oauth_state(&acme, user.id, t0())
        .await
        .unwrap();
    assert_eq!(state.expires_at, t0() + OAUTH_STATE_TTL);
    assert_eq!(state.state.expose().len(), 43, "256 random bits, URL-safe");
    let other = store
        .create_oauth_state(&acme, user.id, t0())
        .await
        .unwrap();
    assert_ne!(state.state, other.state, "states are random");

    assert_eq!(
        store
            .consume_oauth_state(state.state.expose(), t(599))
            .await
            .unwrap(),
        StateConsumed::Valid {
            organization: acme.clone(),
            user: user.id
        }
    );
    assert_eq!(
        store
            .consume_oauth_state(state.state.expose(), t(600))
            .await
            .unwrap(),
        StateConsumed::AlreadyUsed,
        "a second consume is refused as reused"
    );
}

async fn an_expired_or_unknown_state_is_refused_with_its_reason(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let user = turris_server::store::UserId::new();
    let state = store.create_oauth_state(&acme, user, t0()).await.unwrap();
    assert_eq!(
        store
            .consume_oauth_state(state.state.expose(), t(600))
            .await
            .unwrap(),
        StateConsumed::Expired,
        "valid for ten minutes, not a moment more"
    );
    assert_eq!(
        store
            .consume_oauth_state(state.state.expose(), t(1))
            .await
            .unwrap(),
        StateConsumed::Valid {
            organization: acme,
            user
        },
        "an expired attempt did not use it up"
    );
    assert_eq!(
        store
            .consume_oauth_state("never-issued", t(1))
            .await
            .unwrap(),
        StateConsumed::Unknown
    );
    assert_eq!(
        store.consume_oauth_state("", t(1)).await.unwrap(),
        StateConsumed::Unknown
    );
}

async fn concurrent_callbacks_with_one_state_succeed_once(db: &TestDb) {
    let store = db.store();
    let second = db.second_store().await;
    let acme = org(&store, "acme").await;
    let state = store
        .create_oauth_state(&acme, turris_server::store::UserId::new(), t0())
        .await
        .unwrap();
    let text = state.state.expose().to_owned();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = if i % 2 == 0 {
            store.clone()
        } else {
            second.clone()
        };
        let text = text.clone();
        tasks.push(tokio::spawn(async move {
            store.consume_oauth_state(&text, t(1)).await.unwrap()
        }));
    }
    let mut valid = 0;
    for task in tasks {
        match task.await.unwrap() {
            StateConsumed::Valid { .. } => valid += 1,
            StateConsumed::AlreadyUsed => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(valid, 1, "exactly one callback wins");
}

both_databases!(db:
    a_state_is_valid_once_for_its_organization_and_user,
    an_expired_or_unknown_state_is_refused_with_its_reason,
    concurrent_callbacks_with_one_state_succeed_once,
);
