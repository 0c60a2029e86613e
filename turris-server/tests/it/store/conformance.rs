//! turris-core's and turris-webhooks' conformance suites on the SQL store.

use turris_webhooks::delivery::conformance as delivery;

use crate::support::db::TestDb;

async fn the_store_passes_the_core_conformance_suite(db: &TestDb) {
    turris_core::store::conformance::run_all(&db.store()).await;
}

async fn the_store_passes_the_core_suite_through_a_server_store_trait_object(db: &TestDb) {
    let store: std::sync::Arc<dyn turris_server::store::ServerStore> =
        std::sync::Arc::new(db.store());
    turris_core::store::conformance::records_are_isolated_per_organization(store.as_ref()).await;
}

async fn the_store_passes_the_delivery_conformance_suite(db: &TestDb) {
    // Each check wants an empty store: empty the queue before each one.
    let store = db.store();
    delivery::run_all(|| {
        let store = store.clone();
        async move {
            empty_delivery_tables(&store).await;
            store
        }
    })
    .await;
}

async fn empty_delivery_tables(store: &turris_server::store::SqlStore) {
    use turris_server::store::sql::Pools;
    const SQL: [&str; 2] = [
        "DELETE FROM delivery_attempts",
        "DELETE FROM delivery_events",
    ];
    for sql in SQL {
        match store.database().pools() {
            Pools::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
            Pools::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        }
        .expect("empty the delivery tables");
    }
}

both_databases!(db:
    the_store_passes_the_core_conformance_suite,
    the_store_passes_the_core_suite_through_a_server_store_trait_object,
    the_store_passes_the_delivery_conformance_suite,
);
