//! Connecting and migrating.

use turris_server::store::sql::Pools;
use turris_server::store::{Backend, Database};

use crate::support::db::TestDb;

async fn migrations_run_again_without_changing_anything(db: &TestDb) {
    db.database
        .migrate()
        .await
        .expect("a second run is a no-op");
    let again = Database::connect(&db.url).await.unwrap();
    again
        .migrate()
        .await
        .expect("another process migrating finds nothing to do");
    again.ping().await.unwrap();
    assert_eq!(again.backend(), db.backend);
}

both_databases!(db: migrations_run_again_without_changing_anything);

#[tokio::test]
async fn a_plain_sqlite_path_creates_its_folder_and_runs_with_wal_and_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("data").join("turris.db");
    let db = Database::connect(path.to_str().unwrap()).await.unwrap();
    db.migrate().await.unwrap();
    assert_eq!(db.backend(), Backend::Sqlite);
    assert!(path.exists(), "the file and its folders were created");
    let Pools::Sqlite(pool) = db.pools() else {
        panic!("a plain path is SQLite");
    };
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(journal, "wal");
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(foreign_keys, 1);
    db.close().await;
}

#[tokio::test]
async fn an_in_memory_sqlite_database_keeps_its_data_across_queries() {
    use turris_server::store::{SqlStore, TenantStore};
    let db = Database::connect("sqlite::memory:").await.unwrap();
    db.migrate()
        .await
        .expect("the schema lives on the one connection");
    let store = SqlStore::new(
        db,
        &turris_server::crypto::EncryptionKey::generate().unwrap(),
    );
    let id = turris_core::ids::OrganizationId::parse("acme").unwrap();
    store
        .create_organization(
            &id,
            "Acme",
            turris_core::permissions::SubscriptionState::Active,
            super::t0(),
        )
        .await
        .unwrap();
    assert_eq!(
        store.organization(&id).await.unwrap().map(|o| o.name),
        Some("Acme".to_owned())
    );
}
