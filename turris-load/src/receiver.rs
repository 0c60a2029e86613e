//! The in-process webhook receiver: verifies every signature and notes when each event
//! arrived.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, StatusCode};
use turris_webhooks::{Verifier, WebhookSecret};

/// How the receiver checks signatures.
enum Trust {
    /// `X-Turris-Signature`, with turris-webhooks' verifier.
    Turris(Verifier),
    /// Standard Webhooks (Svix's scheme, under `svix-*` or `webhook-*` headers), with the
    /// `standardwebhooks` crate.
    Standard(standardwebhooks::Webhook),
}

impl Trust {
    fn verifies(&self, headers: &HeaderMap, body: &[u8]) -> bool {
        match self {
            Trust::Turris(verifier) => verifier.verify_now(headers, body).is_ok(),
            Trust::Standard(webhook) => {
                // svix-server sends `svix-id`, `svix-timestamp` and `svix-signature` unless
                // its headers are white-labelled as `webhook-*`.
                let mut unbranded = headers.clone();
                for name in ["id", "timestamp", "signature"] {
                    if let Some(value) = headers.get(format!("svix-{name}")) {
                        let name = HeaderName::from_bytes(format!("webhook-{name}").as_bytes());
                        if let Ok(name) = name {
                            unbranded.insert(name, value.clone());
                        }
                    }
                }
                webhook.verify(body, &unbranded).is_ok()
            }
        }
    }
}

/// What the receiver saw.
#[derive(Default)]
pub struct Arrivals {
    verifier: RwLock<Option<Trust>>,
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
        let trust = Trust::Turris(Verifier::new([secret]));
        *self.verifier.write().unwrap_or_else(|e| e.into_inner()) = Some(trust);
        Ok(())
    }

    /// Verifies Standard Webhooks signatures (Svix's) with `secret` (`whsec_...`) from now on.
    pub fn trust_standard(&self, secret: &str) -> Result<(), String> {
        let webhook = standardwebhooks::Webhook::new(secret).map_err(|e| e.to_string())?;
        *self.verifier.write().unwrap_or_else(|e| e.into_inner()) = Some(Trust::Standard(webhook));
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
        .is_some_and(|trust| trust.verifies(&headers, &body));
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

/// The sequence number the load tool put in the NIPR result's error text (`load 123`): in
/// the Turris event's `payload`, or at the top of a Svix message (its payload as sent).
fn sequence(body: &[u8]) -> Option<usize> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let error = value["payload"]["error"]
        .as_str()
        .or(value["error"].as_str())?;
    error.strip_prefix("load ")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Svix signs with the Standard Webhooks scheme under `svix-*` headers: the receiver
    /// verifies what the `standardwebhooks` crate signs, and refuses another secret's.
    #[tokio::test]
    async fn svix_signatures_verify_under_either_header_family() {
        let arrivals = Arc::new(Arrivals::default());
        let addr = start(arrivals.clone()).await.unwrap();
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        arrivals.trust_standard(secret).unwrap();
        arrivals.expect_up_to(3);
        let signer = standardwebhooks::Webhook::new(secret).unwrap();
        let other =
            standardwebhooks::Webhook::new("whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0").unwrap();
        let client = reqwest::Client::new();
        let send = |n: usize, family: &'static str, signer: &standardwebhooks::Webhook| {
            let body = format!(r#"{{"entity_type":"agency","error":"load {n}"}}"#);
            let now = chrono::Utc::now().timestamp();
            let signature = signer
                .sign(&format!("msg_{n}"), now, body.as_bytes())
                .unwrap();
            client
                .post(format!("http://{addr}/hook"))
                .header(format!("{family}-id"), format!("msg_{n}"))
                .header(format!("{family}-timestamp"), now.to_string())
                .header(format!("{family}-signature"), signature)
                .body(body)
                .send()
        };
        assert_eq!(send(0, "svix", &signer).await.unwrap().status(), 204);
        assert_eq!(send(1, "webhook", &signer).await.unwrap().status(), 204);
        assert_eq!(send(2, "svix", &other).await.unwrap().status(), 401);
        assert_eq!(arrivals.count(0..3), 2);
        assert_eq!(arrivals.bad_signatures.load(Ordering::Relaxed), 1);
    }
}
