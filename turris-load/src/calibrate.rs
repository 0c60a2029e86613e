//! Same-run yardsticks: the machine's single-core SHA-256 speed, and the harness ceiling (the
//! same receiver fed directly by this tool with turris-webhooks' delivery engine, no server
//! and no database).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use sha2::{Digest, Sha256};
use turris_webhooks::delivery::{DeliveryConfig, DeliveryEngine, DeliveryRequest, EventId};
use turris_webhooks::{UrlPolicy, WebhookSecret, WebhookUrl};

use crate::Error;
use crate::receiver::{self, Arrivals};

/// MB (10^6 bytes) per second SHA-256 hashes on one core: 256 MiB in 1 MiB blocks.
pub fn sha256_mb_per_sec() -> f64 {
    let block = vec![0x5au8; 1 << 20];
    let mut hasher = Sha256::new();
    let start = Instant::now();
    for _ in 0..256 {
        hasher.update(&block);
    }
    let digest = hasher.finalize();
    let elapsed = start.elapsed().as_secs_f64().max(1e-9);
    // Keep the work observable.
    std::hint::black_box(digest);
    (256.0 * (1 << 20) as f64) / 1e6 / elapsed
}

/// The harness ceiling: `events` signed events posted straight to a fresh receiver by
/// `clients` concurrent loops; delivered per second.
pub async fn harness_ceiling(events: usize, clients: usize) -> Result<f64, Error> {
    let arrivals = Arc::new(Arrivals::default());
    let addr = receiver::start(arrivals.clone()).await?;
    let secret = WebhookSecret::generate()?;
    arrivals.trust(&secret.to_hex())?;
    arrivals.expect_up_to(events);
    let policy = UrlPolicy::strict().with_insecure_loopback();
    let url = WebhookUrl::parse(&format!("http://{addr}/hook"), &policy)?;
    let engine = DeliveryEngine::new(DeliveryConfig {
        url_policy: policy,
        timeout: Duration::from_secs(20),
        ..DeliveryConfig::default()
    })?;
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let loops = (0..clients.max(1)).map(|_| {
        let (next, engine, url, secret) = (next.clone(), &engine, &url, &secret);
        async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= events {
                    break;
                }
                let body = Bytes::from(
                    serde_json::json!({"type": "entity.compliance_data_synchronized",
                        "payload": {"error": format!("load {n}")}})
                    .to_string(),
                );
                engine
                    .send(DeliveryRequest {
                        event_id: EventId::new(),
                        url,
                        secret,
                        previous_secret: None,
                        body: &body,
                    })
                    .await;
            }
        }
    });
    futures::future::join_all(loops).await;
    let delivered = arrivals.count(0..events);
    Ok(delivered as f64 / start.elapsed().as_secs_f64().max(1e-9))
}
