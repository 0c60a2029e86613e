//! The demo's webhook receiver: what a customer runs to receive Turris webhooks.
//!
//! Every `POST /webhooks/turris` is checked with [`Verifier::verify_now`] (signature over
//! `{timestamp}.{raw body}`, timestamp within five minutes) before its body is parsed; a
//! request that fails is answered 401 and counted, never trusted.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use tokio::sync::Notify;
use turris_webhooks::{EVENT_ID_HEADER, Envelope, Verifier, WebhookSecret, WebhookType};

/// The path the receiver listens on.
pub const PATH: &str = "/webhooks/turris";

/// A verified delivery.
#[derive(Debug, Clone)]
pub struct Received {
    /// `X-Turris-Event-Id`.
    pub event_id: String,
    /// The parsed body.
    pub envelope: Envelope,
}

#[derive(Default)]
struct Inner {
    secrets: Vec<WebhookSecret>,
    verifier: Option<Verifier>,
    received: Vec<Received>,
    rejected: usize,
}

/// A running receiver. Cheap to clone.
#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Mutex<Inner>>,
    arrived: Arc<Notify>,
    url: String,
}

impl Receiver {
    /// Binds `127.0.0.1:0` and serves until `shutdown` completes.
    pub async fn start(
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let url = format!("http://{}{PATH}", listener.local_addr()?);
        let receiver = Self {
            inner: Arc::default(),
            arrived: Arc::default(),
            url,
        };
        let app = Router::new()
            .route(PATH, post(receive))
            .with_state(receiver.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::warn!(error = %e, "demo receiver stopped");
            }
        });
        Ok(receiver)
    }

    /// Where Turris should post.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Accepts the secret of one more webhook (each webhook has its own).
    pub fn trust(&self, secret: WebhookSecret) {
        let mut inner = self.lock();
        inner.secrets.push(secret);
        inner.verifier = Some(Verifier::new(inner.secrets.clone()));
    }

    /// Every verified delivery so far.
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// How many requests failed verification.
    pub fn rejected(&self) -> usize {
        self.lock().rejected
    }

    /// Waits until a verified delivery of `webhook_type` has arrived, and returns it.
    pub async fn wait_for(&self, webhook_type: WebhookType) -> Received {
        loop {
            let arrived = self.arrived.notified();
            if let Some(found) = self
                .received()
                .into_iter()
                .find(|r| r.envelope.webhook_type == webhook_type)
            {
                return found;
            }
            arrived.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let verified = {
        let inner = receiver.lock();
        inner
            .verifier
            .as_ref()
            .is_some_and(|v| v.verify_now(&headers, &body).is_ok())
    };
    let envelope = verified
        .then(|| serde_json::from_slice::<Envelope>(&body).ok())
        .flatten();
    let Some(envelope) = envelope else {
        receiver.lock().rejected += 1;
        return StatusCode::UNAUTHORIZED;
    };
    let event_id = headers
        .get(EVENT_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    receiver
        .lock()
        .received
        .push(Received { event_id, envelope });
    receiver.arrived.notify_waiters();
    StatusCode::NO_CONTENT
}
