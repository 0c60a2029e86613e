//! An in-process axum receiver on 127.0.0.1:0 that records what it gets.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Clone, Default)]
pub struct Log {
    pub requests: Arc<Mutex<Vec<Received>>>,
    pub in_flight: Arc<AtomicUsize>,
    pub max_in_flight: Arc<AtomicUsize>,
}

impl Log {
    pub fn all(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }

    fn push(&self, path: &str, headers: HeaderMap, body: Bytes) {
        self.requests.lock().unwrap().push(Received {
            path: path.to_owned(),
            headers,
            body,
        });
    }
}

pub struct Receiver {
    pub addr: SocketAddr,
    pub log: Log,
}

impl Receiver {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

async fn ok(State(log): State<Log>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    log.push("/ok", headers, body);
    (StatusCode::OK, "thanks")
}

async fn fail(State(log): State<Log>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    log.push("/fail", headers, body);
    (StatusCode::INTERNAL_SERVER_ERROR, "database is down")
}

async fn slow(State(log): State<Log>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    log.push("/slow", headers, body);
    tokio::time::sleep(Duration::from_secs(30)).await;
    StatusCode::OK
}

async fn limited(State(log): State<Log>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    log.push("/limited", headers, body);
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, "150")],
        "slow down",
    )
}

async fn redirect(State(log): State<Log>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    log.push("/redirect", headers, body);
    (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, "/ok")])
}

/// Redirects to a URL with user info, a token in the query and a fragment.
async fn leaky_redirect(
    State(log): State<Log>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    log.push("/leaky-redirect", headers, body);
    (
        StatusCode::FOUND,
        [(
            header::LOCATION,
            "https://user:planted-password@elsewhere.example:8443/next?token=planted-token#planted-fragment",
        )],
    )
}

/// Redirects to a relative path with a token in the query.
async fn relative_redirect(
    State(log): State<Log>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    log.push("/relative-redirect", headers, body);
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, "/ok?sig=planted-token")],
    )
}

async fn big(State(log): State<Log>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    log.push("/big", headers, body);
    (StatusCode::OK, "x".repeat(100_000))
}

async fn busy(State(log): State<Log>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let now = log.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    log.max_in_flight.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(100)).await;
    log.push("/busy", headers, body);
    log.in_flight.fetch_sub(1, Ordering::SeqCst);
    StatusCode::NO_CONTENT
}

pub async fn spawn() -> Receiver {
    let log = Log::default();
    let app = Router::new()
        .route("/ok", post(ok))
        .route("/fail", post(fail))
        .route("/slow", post(slow))
        .route("/limited", post(limited))
        .route("/redirect", post(redirect))
        .route("/big", post(big))
        .route("/leaky-redirect", post(leaky_redirect))
        .route("/relative-redirect", post(relative_redirect))
        .route("/busy", post(busy))
        .with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { addr, log }
}

/// A port on 127.0.0.1 where nothing listens.
pub async fn closed_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}
