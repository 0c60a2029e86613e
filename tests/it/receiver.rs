//! An in-process receiver on `127.0.0.1:0` with two routes: one verifies with the
//! `VerifiedTurrisWebhook` extractor, the other with this package's verify-only [`receive`].

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use turris_tests::{ReceiveError, Received, receive};
use turris_webhooks::{ComplianceStatusChanges, Envelope, VerifiedTurrisWebhook, Verifier};

/// What the extractor route accepted.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub event_id: Option<String>,
    pub envelope: Envelope<ComplianceStatusChanges>,
}

#[derive(Clone)]
struct ReceiverState {
    verifier: Verifier,
    accepted: Arc<Mutex<Vec<Accepted>>>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl FromRef<ReceiverState> for Verifier {
    fn from_ref(state: &ReceiverState) -> Verifier {
        state.verifier.clone()
    }
}

/// A running receiver. Each route records a request before it answers, so once a sender has
/// its answer, the request is in the list.
pub struct Receiver {
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub base: String,
    accepted: Arc<Mutex<Vec<Accepted>>>,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Receiver {
    /// Starts a receiver that accepts webhooks signed with one of the verifier's secrets.
    pub async fn start(verifier: Verifier) -> Self {
        let state = ReceiverState {
            verifier,
            accepted: Arc::default(),
            received: Arc::default(),
        };
        let (accepted, received) = (state.accepted.clone(), state.received.clone());
        let app = Router::new()
            .route("/webhooks/extractor", post(with_extractor))
            .route("/webhooks/plain", post(with_library))
            .with_state(state);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .expect("receiver serves");
        });
        Self {
            base,
            accepted,
            received,
            stop: Some(stop),
            task,
        }
    }

    /// URL of the route that verifies with `VerifiedTurrisWebhook`.
    pub fn extractor_url(&self) -> String {
        format!("{}/webhooks/extractor", self.base)
    }

    /// URL of the route that verifies with the verify-only library.
    pub fn plain_url(&self) -> String {
        format!("{}/webhooks/plain", self.base)
    }

    /// What the extractor route accepted, in order.
    pub fn accepted(&self) -> Vec<Accepted> {
        self.accepted.lock().expect("lock").clone()
    }

    /// What the verify-only route accepted, in order.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    /// Stops serving and waits for the server task.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.expect("receiver task");
    }
}

async fn with_extractor(
    State(state): State<ReceiverState>,
    webhook: VerifiedTurrisWebhook<ComplianceStatusChanges>,
) -> StatusCode {
    state.accepted.lock().expect("lock").push(Accepted {
        event_id: webhook.event_id,
        envelope: webhook.envelope,
    });
    StatusCode::NO_CONTENT
}

async fn with_library(
    State(state): State<ReceiverState>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    match receive(&state.verifier, &headers, &body, chrono::Utc::now()) {
        Ok(received) => {
            state.received.lock().expect("lock").push(received);
            StatusCode::NO_CONTENT
        }
        Err(ReceiveError::Verify(_)) => StatusCode::UNAUTHORIZED,
        Err(_) => StatusCode::BAD_REQUEST,
    }
}
