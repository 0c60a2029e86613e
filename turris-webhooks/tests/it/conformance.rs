use turris_webhooks::delivery::{InMemoryDeliveryStore, conformance};

#[tokio::test]
async fn the_in_memory_store_passes_the_delivery_store_conformance_suite() {
    conformance::run_all(|| async { InMemoryDeliveryStore::new() }).await;
}
