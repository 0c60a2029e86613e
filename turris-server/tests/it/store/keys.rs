//! Key management: sealed values name their key, old unversioned values still open, the
//! startup check refuses a wrong key by id (never printing a key), and `rotate-key` re-seals
//! everything under the current key, idempotently and beside a running writer.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use turris_server::crypto::{EncryptionKey, KeyRing, SecretString};
use turris_server::store::sql::Pools;
use turris_server::store::{
    CredentialStore, HubSpotAuth, KeyCheckError, ResealReport, SecretRotation, SqlStore,
    WebhookEndpointStore,
};
use turris_webhooks::{WebhookSecret, WebhookType};

use super::credentials::credentials;
use super::webhooks::endpoint;
use super::{org, t, t0};
use crate::support::db::TestDb;

/// What the server wrote before sealed values carried a key id: `nonce || ciphertext || tag`.
fn seal_unversioned(key_hex: &str, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let key: [u8; 32] = hex::decode(key_hex).unwrap().try_into().unwrap();
    let nonce = [7u8; 12];
    let mut out = nonce.to_vec();
    out.extend(
        Aes256Gcm::new(&key.into())
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .unwrap(),
    );
    out
}

async fn set_webhook_sealed(db: &TestDb, id: uuid::Uuid, sealed: &[u8]) {
    let sql = "UPDATE webhook_endpoints SET secret_sealed = $2 WHERE id = $1";
    match db.database.pools() {
        Pools::Sqlite(pool) => sqlx::query(sql)
            .bind(id)
            .bind(sealed)
            .execute(pool)
            .await
            .map(|_| ()),
        Pools::Postgres(pool) => sqlx::query(sql)
            .bind(id)
            .bind(sealed)
            .execute(pool)
            .await
            .map(|_| ()),
    }
    .unwrap();
}

fn oauth(access: &str) -> HubSpotAuth {
    HubSpotAuth::OAuth {
        access_token: SecretString::new(access),
        refresh_token: SecretString::new("refresh"),
        expires_at: t(1800),
    }
}

async fn rotation_reseals_old_and_unversioned_values_once_and_the_old_key_can_then_go(db: &TestDb) {
    let old = EncryptionKey::generate().unwrap();
    let new = EncryptionKey::generate().unwrap();
    let before = SqlStore::new(db.database.clone(), &old);
    before.check_keys(&KeyRing::new(old.clone())).await.unwrap();
    let acme = org(&before, "acme").await;
    before
        .connect_hubspot(&acme, &credentials(1, oauth("access-1")))
        .await
        .unwrap();
    let versioned = endpoint(WebhookType::ProducerAgreementExecuted);
    before
        .create_webhook(&acme, &versioned, t0())
        .await
        .unwrap();
    let legacy = endpoint(WebhookType::ProducerAgreementExecuted);
    before.create_webhook(&acme, &legacy, t0()).await.unwrap();
    let aad = format!("webhook-secret:{}", legacy.id.0);
    let unversioned = seal_unversioned(&old.to_hex(), legacy.secret.as_bytes(), aad.as_bytes());
    set_webhook_sealed(db, legacy.id.0, &unversioned).await;
    // The old key alone still reads the unversioned value.
    let target = before.delivery_target(legacy.id).await.unwrap().unwrap();
    assert_eq!(target.secret.to_hex(), legacy.secret.to_hex());

    let ring = KeyRing::with_previous(new.clone(), vec![old.clone()]);
    let rotating = SqlStore::with_keys(db.database.clone(), &ring);
    rotating.check_keys(&ring).await.unwrap();
    let report = rotating.reseal_all().await.unwrap();
    assert_eq!(
        report,
        ResealReport {
            resealed: 3,
            current: 0,
            raced: 0
        }
    );
    let again = rotating.reseal_all().await.unwrap();
    assert_eq!(
        again,
        ResealReport {
            resealed: 0,
            current: 3,
            raced: 0
        },
        "idempotent"
    );

    // The new key alone now opens everything, and passes the startup check.
    let after = SqlStore::new(db.database.clone(), &new);
    after.check_keys(&KeyRing::new(new.clone())).await.unwrap();
    for hook in [&versioned, &legacy] {
        let target = after.delivery_target(hook.id).await.unwrap().unwrap();
        assert_eq!(target.secret.to_hex(), hook.secret.to_hex());
    }
    let creds = after.hubspot_credentials(&acme).await.unwrap().unwrap();
    assert!(
        matches!(creds.auth, HubSpotAuth::OAuth { access_token, .. } if access_token.expose() == "access-1")
    );
    // And the old key alone is refused, by id.
    let error = before
        .check_keys(&KeyRing::new(old.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, KeyCheckError::MissingKey { missing, .. } if *missing == new.id()),
        "{error}"
    );
}

async fn a_wrong_key_is_refused_at_the_check_by_id_and_never_printed(db: &TestDb) {
    let right = EncryptionKey::generate().unwrap();
    let wrong = EncryptionKey::generate().unwrap();
    let store = SqlStore::new(db.database.clone(), &right);
    store
        .check_keys(&KeyRing::new(right.clone()))
        .await
        .unwrap();
    let acme = org(&store, "acme").await;
    let hook = endpoint(WebhookType::ProducerAgreementExecuted);
    store.create_webhook(&acme, &hook, t0()).await.unwrap();

    let error = SqlStore::new(db.database.clone(), &wrong)
        .check_keys(&KeyRing::new(wrong.clone()))
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains(&right.id().to_string()), "{message}");
    assert!(message.contains(&wrong.id().to_string()), "{message}");
    for key in [&right, &wrong] {
        assert!(
            !message.contains(&key.to_hex()),
            "a key is printed: {message}"
        );
    }

    // A value from before key ids: the check opens it, or says no configured key does.
    let aad = format!("webhook-secret:{}", hook.id.0);
    let unversioned = seal_unversioned(&right.to_hex(), hook.secret.as_bytes(), aad.as_bytes());
    set_webhook_sealed(db, hook.id.0, &unversioned).await;
    store
        .check_keys(&KeyRing::new(right.clone()))
        .await
        .unwrap();
    let error = SqlStore::new(db.database.clone(), &wrong)
        .check_keys(&KeyRing::new(wrong.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(error, KeyCheckError::UnversionedUnreadable { .. }),
        "{error}"
    );
    assert!(error.to_string().contains(&wrong.id().to_string()));
}

async fn rotation_beside_a_running_writer_leaves_every_value_readable(db: &TestDb) {
    let old = EncryptionKey::generate().unwrap();
    let new = EncryptionKey::generate().unwrap();
    let before = SqlStore::new(db.database.clone(), &old);
    let mut orgs = Vec::new();
    for n in 0..20 {
        let id = org(&before, &format!("org-{n}")).await;
        before
            .connect_hubspot(&id, &credentials(100 + n, oauth("access-0")))
            .await
            .unwrap();
        orgs.push(id);
    }
    let ring = KeyRing::with_previous(new.clone(), vec![old.clone()]);
    // A server already on the new ring keeps refreshing tokens while rotate-key runs.
    let server = SqlStore::with_keys(db.database.clone(), &ring);
    let writer = {
        let orgs = orgs.clone();
        tokio::spawn(async move {
            for round in 1..=5 {
                for id in &orgs {
                    server
                        .replace_hubspot_auth(id, &oauth(&format!("access-{round}")), t(round))
                        .await
                        .unwrap();
                }
            }
        })
    };
    let report = SqlStore::with_keys(db.database.clone(), &ring)
        .reseal_all()
        .await
        .unwrap();
    writer.await.unwrap();
    assert_eq!(
        report.resealed + report.current + report.raced,
        20,
        "{report:?}"
    );
    let after = SqlStore::new(db.database.clone(), &new);
    for id in &orgs {
        let creds = after.hubspot_credentials(id).await.unwrap().unwrap();
        assert!(
            matches!(creds.auth, HubSpotAuth::OAuth { access_token, .. } if access_token.expose() == "access-5")
        );
    }
}

async fn rotate_key_reseals_a_replaced_webhook_secret_kept_for_its_overlap(db: &TestDb) {
    let old = EncryptionKey::generate().unwrap();
    let new = EncryptionKey::generate().unwrap();
    let before = SqlStore::new(db.database.clone(), &old);
    let acme = org(&before, "acme").await;
    let hook = endpoint(WebhookType::ProducerAgreementExecuted);
    before.create_webhook(&acme, &hook, t0()).await.unwrap();
    let rotation = SecretRotation {
        secret: WebhookSecret::generate().unwrap(),
        previous_until: Some(t(86_400)),
    };
    before
        .rotate_webhook_secret(&acme, hook.id, &rotation, t(1))
        .await
        .unwrap()
        .unwrap();

    let ring = KeyRing::with_previous(new.clone(), vec![old.clone()]);
    let report = SqlStore::with_keys(db.database.clone(), &ring)
        .reseal_all()
        .await
        .unwrap();
    assert_eq!(report.resealed, 2, "the current and the replaced secret");
    // The new key alone opens both, and the old key is no longer needed.
    let after = SqlStore::new(db.database.clone(), &new);
    after.check_keys(&KeyRing::new(new.clone())).await.unwrap();
    let target = after.delivery_target(hook.id).await.unwrap().unwrap();
    assert_eq!(target.secret, rotation.secret);
    assert_eq!(target.previous_secret_at(t(2)), Some(&hook.secret));
}

both_databases!(db:
    rotate_key_reseals_a_replaced_webhook_secret_kept_for_its_overlap,
    rotation_reseals_old_and_unversioned_values_once_and_the_old_key_can_then_go,
    a_wrong_key_is_refused_at_the_check_by_id_and_never_printed,
    rotation_beside_a_running_writer_leaves_every_value_readable,
);

/// The server reads its keys from a key file, refuses to start with a wrong one (naming it by
/// id, never printing it), and `rotate-key` moves the database to the file's first key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_starts_from_a_key_file_and_rotate_key_moves_it_to_a_new_key() {
    use turris_server::app::Application;
    use turris_server::config::Config;
    use turris_server::error::ErrorChain;

    let db = TestDb::fresh(turris_server::store::Backend::Sqlite).await;
    let store = db.store();
    let acme = org(&store, "acme").await;
    let hook = endpoint(WebhookType::ProducerAgreementExecuted);
    store.create_webhook(&acme, &hook, t0()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys");
    let mut config = Config::local("127.0.0.1:0".parse().unwrap(), db.url.clone());
    config.encryption_key = None;
    config.encryption_key_file = Some(file.clone());
    let start = |config: Config| async move {
        match Application::build(config).await {
            Ok(app) => {
                app.state().database().close().await;
                Ok(())
            }
            Err(e) => Err(ErrorChain(&e).to_string()),
        }
    };

    std::fs::write(
        &file,
        format!("# the database's key\n{}\n", db.key.to_hex()),
    )
    .unwrap();
    start(config.clone()).await.expect("the right key starts");

    let new = EncryptionKey::generate().unwrap();
    std::fs::write(&file, format!("{}\n", new.to_hex())).unwrap();
    let error = start(config.clone())
        .await
        .expect_err("a wrong key does not start");
    assert!(error.contains(&db.key.id().to_string()), "{error}");
    assert!(error.contains(&new.id().to_string()), "{error}");
    assert!(
        !error.contains(&new.to_hex()) && !error.contains(&db.key.to_hex()),
        "{error}"
    );

    std::fs::write(&file, format!("{}\n{}\n", new.to_hex(), db.key.to_hex())).unwrap();
    let report = turris_server::cli::rotate_key(&config).await.unwrap();
    assert_eq!(report.resealed, 1);
    std::fs::write(&file, format!("{}\n", new.to_hex())).unwrap();
    start(config.clone())
        .await
        .expect("after rotate-key the new key alone starts");
    let target = SqlStore::new(db.database.clone(), &new)
        .delivery_target(hook.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(target.secret.to_hex(), hook.secret.to_hex());
}
