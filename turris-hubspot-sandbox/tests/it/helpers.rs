//! Shared test helpers: a started sandbox, a small JSON HTTP client, a webhook receiver.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use reqwest::Method;
use serde_json::Value;
use turris_hubspot_sandbox::{Control, ObjectKind, RateLimits, Record, Sandbox, SandboxBuilder};

/// A company named `name`, made as a person in HubSpot would.
pub fn company(control: &Control, name: &str) -> Record {
    control
        .create_record(ObjectKind::Companies, [("name", name)])
        .expect("company")
}

/// A contact with `email`, made as a person in HubSpot would.
pub fn contact(control: &Control, email: &str) -> Record {
    control
        .create_record(ObjectKind::Contacts, [("email", email)])
        .expect("contact")
}

/// A sandbox without rate limits (tests that exercise limits turn them on).
pub async fn sandbox() -> Sandbox {
    builder().start().await.expect("sandbox starts")
}

/// The builder used by [`sandbox`].
pub fn builder() -> SandboxBuilder {
    Sandbox::builder().rate_limits(RateLimits::disabled())
}

/// A JSON client with a bearer token.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Api {
    /// A client using the private-app token.
    pub fn new(sandbox: &Sandbox) -> Self {
        Self::with_token(sandbox, &sandbox.private_app_token())
    }

    /// A client using a given token.
    pub fn with_token(sandbox: &Sandbox, token: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: sandbox.base_url().to_string(),
            token: token.to_string(),
        }
    }

    /// Sends a request; answers the status and the JSON body (`Null` when empty).
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request reaches the sandbox");
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.expect("body");
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("sandbox answers JSON")
        };
        (status, json)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.call(Method::DELETE, path, None).await
    }
}

/// Asserts HubSpot's error shape and answers the category.
pub fn assert_hubspot_error(body: &Value) -> String {
    assert_eq!(body["status"], "error", "{body}");
    assert!(body["message"].is_string(), "{body}");
    assert!(body["correlationId"].is_string(), "{body}");
    body["category"].as_str().unwrap_or_default().to_string()
}

/// One POST the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    /// The events of the batch.
    pub fn events(&self) -> Vec<Value> {
        serde_json::from_slice(&self.body).expect("a JSON array")
    }
}

#[derive(Clone, Default)]
struct ReceiverState {
    got: Arc<Mutex<Vec<Received>>>,
    failures_left: Arc<Mutex<u32>>,
}

/// An HTTP receiver of webhooks on 127.0.0.1:0.
pub struct Receiver {
    pub url: String,
    state: ReceiverState,
}

impl Receiver {
    /// Starts a receiver that answers 500 to the first `failures` requests, then 204.
    pub async fn start(failures: u32) -> Self {
        let state = ReceiverState::default();
        *state.failures_left.lock().expect("lock") = failures;
        async fn handle(
            State(s): State<ReceiverState>,
            uri: Uri,
            headers: HeaderMap,
            body: Bytes,
        ) -> StatusCode {
            let host = headers
                .get("host")
                .and_then(|h| h.to_str().ok())
                .unwrap_or_default()
                .to_string();
            s.got.lock().expect("lock").push(Received {
                uri: format!("http://{host}{uri}"),
                headers,
                body,
            });
            let mut left = s.failures_left.lock().expect("lock");
            if *left > 0 {
                *left -= 1;
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::NO_CONTENT
            }
        }
        let app = Router::new()
            .route("/hooks", post(handle))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}/hooks?source=hubspot"),
            state,
        }
    }

    /// Every POST received so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.got.lock().expect("lock").clone()
    }

    /// Every event received in acknowledged batches.
    pub fn events(&self) -> Vec<Value> {
        self.received().iter().flat_map(Received::events).collect()
    }
}
