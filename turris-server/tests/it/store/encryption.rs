//! Tokens and secrets never reach the database in clear, and never print.

use turris_core::permissions::Role;
use turris_server::crypto::{EncryptionKey, SecretString};
use turris_server::store::{
    CredentialStore, DbError, HubSpotAuth, OAuthStateStore, SqlStore, WebhookEndpointStore,
};
use turris_webhooks::WebhookType;

use super::credentials::credentials;
use super::webhooks::endpoint;
use super::{TokenHolder, org, t, t0, token_holder};
use crate::support::db::TestDb;

async fn secrets_and_tokens_are_absent_from_the_raw_database(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let access = "pat-na1-access-3f9a7c0e-SECRET";
    let refresh = "refresh-77b1d2e4-SECRET";
    let auth = HubSpotAuth::OAuth {
        access_token: SecretString::new(access),
        refresh_token: SecretString::new(refresh),
        expires_at: t(1800),
    };
    store
        .connect_hubspot(&acme, &credentials(4242, auth))
        .await
        .unwrap();
    let hook = endpoint(WebhookType::ProducerAgreementExecuted);
    store.create_webhook(&acme, &hook, t0()).await.unwrap();
    let TokenHolder { user, token, .. } =
        token_holder(&store, &acme, &Role::admin(), ("a@a.test", "A"), "x").await;
    let state = store
        .create_oauth_state(&acme, user.id, t0())
        .await
        .unwrap();

    let raw = db.raw_contents().await;
    assert!(
        raw.contains("acme"),
        "the dump sees plain columns, so absence below means something"
    );
    assert!(raw.contains(&hook.url));
    for (what, secret) in [
        ("access token", access.to_owned()),
        ("refresh token", refresh.to_owned()),
        ("webhook secret", hook.secret.to_hex()),
        (
            "webhook secret (upper case)",
            hook.secret.to_hex().to_uppercase(),
        ),
        ("api token", token.expose().to_owned()),
        ("oauth state", state.state.expose().to_owned()),
    ] {
        assert!(!raw.contains(&secret), "{what} is stored in clear");
    }
    // The raw key bytes of the webhook secret are not stored either.
    if let Some(file) = &db.sqlite_file {
        let mut bytes = std::fs::read(file).unwrap();
        bytes.extend(std::fs::read(format!("{}-wal", file.display())).unwrap_or_default());
        assert!(
            !bytes.windows(32).any(|w| w == hook.secret.as_bytes()),
            "webhook secret bytes are stored in clear"
        );
    }
}

async fn secrets_sealed_under_one_key_do_not_open_under_another(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    store
        .connect_hubspot(
            &acme,
            &credentials(
                1,
                HubSpotAuth::PrivateApp {
                    token: SecretString::new("pat"),
                    webhook_secret: None,
                },
            ),
        )
        .await
        .unwrap();
    let hook = endpoint(WebhookType::ProducerAgreementExecuted);
    store.create_webhook(&acme, &hook, t0()).await.unwrap();
    let wrong = SqlStore::new(db.database.clone(), &EncryptionKey::generate().unwrap());
    assert!(matches!(
        wrong.hubspot_credentials(&acme).await,
        Err(DbError::Corrupt(_))
    ));
    assert!(matches!(
        wrong.delivery_target(hook.id).await,
        Err(DbError::Corrupt(_))
    ));
    assert_eq!(
        wrong.list_webhooks(&acme).await.unwrap().len(),
        1,
        "listing needs no key: it only shows the last four characters"
    );
}

async fn types_holding_secrets_print_redacted(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let creds = credentials(
        1,
        HubSpotAuth::OAuth {
            access_token: SecretString::new("access-XYZ"),
            refresh_token: SecretString::new("refresh-XYZ"),
            expires_at: t(1),
        },
    );
    store.connect_hubspot(&acme, &creds).await.unwrap();
    let read = store.hubspot_credentials(&acme).await.unwrap().unwrap();
    let state = store
        .create_oauth_state(&acme, turris_server::store::UserId::new(), t0())
        .await
        .unwrap();
    let hook = endpoint(WebhookType::ProducerAgreementExecuted);
    store.create_webhook(&acme, &hook, t0()).await.unwrap();
    let target = store.delivery_target(hook.id).await.unwrap().unwrap();
    let printed = format!("{read:?} {creds:?} {state:?} {target:?} {hook:?} {store:?}");
    for secret in [
        "access-XYZ",
        "refresh-XYZ",
        state.state.expose(),
        &hook.secret.to_hex(),
    ] {
        assert!(!printed.contains(secret), "Debug shows a secret: {printed}");
    }
    let key = EncryptionKey::generate().unwrap();
    assert!(!format!("{key:?}").contains(&key.to_hex()));
}

both_databases!(db:
    secrets_and_tokens_are_absent_from_the_raw_database,
    secrets_sealed_under_one_key_do_not_open_under_another,
    types_holding_secrets_print_redacted,
);
