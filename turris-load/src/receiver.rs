//! The in-process webhook receiver: verifies every signature and notes when each event
//! arrived.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use turris_webhooks::{Verifier, WebhookSecret};

/// What the receiver saw.
#[derive(Default)]
pub struct Arrivals {
    verifier: RwLock<Option<Verifier>>,
    /// Arrival time of event `n` (its sequence number in the payload), first arrival only.
    times: Mutex<Vec<Option<Instant>>>,
    /// Requests received, duplicates included.
    pub received: AtomicU64,
    /// Requests whose signature did not verify (answered 401).
    pub bad_signatures: AtomicU64,
    /// Events that arrived more than once.
    pub duplicates: AtomicU64,
    /// Bodies that did not carry a sequence number.
    pub unknown: AtomicU64,
}

impl Arrivals {
    /// Verifies with `secret` from now on.
    pub fn trust(&self, secret: &str) -> Result<(), String> {
        let secret = WebhookSecret::parse(secret).map_err(|e| e.to_string())?;
        *self.verifier.write().unwrap_or_else(|e| e.into_inner()) = Some(Verifier::new([secret]));
        Ok(())
    }

    /// Room for events `0..n`.
    pub fn expect_up_to(&self, n: usize) {
        let mut times = self.times.lock().unwrap_or_else(|e| e.into_inner());
        if times.len() < n {
            times.resize(n, None);
        }
    }

    /// When event `n` first arrived.
    pub fn arrival(&self, n: usize) -> Option<Instant> {
        self.times
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(n)
            .copied()
            .flatten()
    }

    /// How many of events `range` have arrived.
    pub fn count(&self, range: std::ops::Range<usize>) -> usize {
        let times = self.times.lock().unwrap_or_else(|e| e.into_inner());
        times
            .get(range)
            .map(|slice| slice.iter().filter(|t| t.is_some()).count())
            .unwrap_or(0)
    }
}

/// Starts the receiver on loopback; returns its address.
pub async fn start(arrivals: Arc<Arrivals>) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(arrivals);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}

async fn receive(
    State(arrivals): State<Arc<Arrivals>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let now = Instant::now();
    arrivals.received.fetch_add(1, Ordering::Relaxed);
    let verified = arrivals
        .verifier
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .is_some_and(|v| v.verify_now(&headers, &body).is_ok());
    if !verified {
        arrivals.bad_signatures.fetch_add(1, Ordering::Relaxed);
        return StatusCode::UNAUTHORIZED;
    }
    let Some(n) = sequence(&body) else {
        arrivals.unknown.fetch_add(1, Ordering::Relaxed);
        return StatusCode::NO_CONTENT;
    };
    let mut times = arrivals.times.lock().unwrap_or_else(|e| e.into_inner());
    if times.len() <= n {
        times.resize(n + 1, None);
    }
    match times[n] {
        Some(_) => {
            arrivals.duplicates.fetch_add(1, Ordering::Relaxed);
        }
        None => times[n] = Some(now),
    }
    StatusCode::NO_CONTENT
}

/// The sequence number the load tool put in the NIPR result's error text (`load 123`).
fn sequence(body: &[u8]) -> Option<usize> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value["payload"]["error"]
        .as_str()?
        .strip_prefix("load ")?
        .parse()
        .ok()
}
