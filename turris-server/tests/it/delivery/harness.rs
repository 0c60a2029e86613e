//! Servers with delivery workers on a shared test database, a signature-checking receiver,
//! and waiting on conditions.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};
use turris_server::app::{AppState, Application};
use turris_server::config::Config;
use turris_webhooks::{Verifier, WebhookSecret};

use crate::support::db::TestDb;

pub const ADMIN_TOKEN: &str = "delivery-admin-token-0123456789abcdef";
/// The metrics token of the delivery suite's servers.
pub const METRICS_TOKEN: &str = "delivery-metrics-token-4b7e91c2";

pub use crate::support::eventually;

// ---------------------------------------------------------------------------------------------
// The receiver

/// One request the receiver saw.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub event_id: String,
    pub body: Value,
    /// The receiver answered 2xx.
    pub accepted: bool,
}

#[derive(Default)]
struct ReceiverState {
    verifier: Mutex<Option<Verifier>>,
    arrivals: Mutex<Vec<Arrival>>,
    bad_signatures: Mutex<u32>,
    /// Requests being answered now, and the most at once so far.
    in_flight: Mutex<(usize, usize)>,
}

/// An endpoint on loopback that verifies every signature. Requests wait while it is held.
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<ReceiverState>,
    hold: watch::Sender<bool>,
    server: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Receiver {
    /// Starts on a free port.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (hold, _) = watch::channel(false);
        let this = Self {
            addr,
            state: Arc::default(),
            hold,
            server: Mutex::new(None),
        };
        this.serve(listener);
        this
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state((self.state.clone(), self.hold.subscribe()));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        *self.server.lock().unwrap() = Some(server);
    }

    /// The webhook URL.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Verifies with this secret from now on.
    pub fn trust(&self, secret: &str) {
        let secret = WebhookSecret::parse(secret).expect("a webhook secret");
        *self.state.verifier.lock().unwrap() = Some(Verifier::new([secret]));
    }

    /// Stops listening: connections are refused.
    pub async fn go_down(&self) {
        if let Some(server) = self.server.lock().unwrap().take() {
            server.abort();
        }
        // Wait until the port refuses connections.
        eventually("the receiver's port closes", || async {
            tokio::net::TcpStream::connect(self.addr)
                .await
                .is_err()
                .then_some(())
        })
        .await;
    }

    /// Listens again on the same port.
    pub async fn come_up(&self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }

    /// Requests wait (unanswered) until [`Receiver::release`].
    pub fn hold(&self) {
        self.hold.send_replace(true);
    }

    /// Answers waiting and future requests.
    pub fn release(&self) {
        self.hold.send_replace(false);
    }

    /// Everything received so far (held requests included, as not accepted).
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.state.arrivals.lock().unwrap().clone()
    }

    /// How many times each event id was accepted.
    pub fn accepted(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for a in self.arrivals().into_iter().filter(|a| a.accepted) {
            *counts.entry(a.event_id).or_insert(0) += 1;
        }
        counts
    }

    /// The most requests this receiver was answering at once.
    pub fn max_in_flight(&self) -> usize {
        self.state.in_flight.lock().unwrap().1
    }

    /// Requests whose signature did not verify.
    pub fn bad_signatures(&self) -> u32 {
        *self.state.bad_signatures.lock().unwrap()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(server) = self.server.lock().unwrap().take() {
            server.abort();
        }
    }
}

async fn receive(
    State((state, mut hold)): State<(Arc<ReceiverState>, watch::Receiver<bool>)>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let verified = state
        .verifier
        .lock()
        .unwrap()
        .as_ref()
        .is_some_and(|v| v.verify_now(&headers, &body).is_ok());
    if !verified {
        *state.bad_signatures.lock().unwrap() += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let event_id = headers["x-turris-event-id"].to_str().unwrap().to_owned();
    let body: Value = serde_json::from_slice(&body).unwrap();
    let index = {
        let mut arrivals = state.arrivals.lock().unwrap();
        arrivals.push(Arrival {
            event_id,
            body,
            accepted: false,
        });
        arrivals.len() - 1
    };
    {
        let mut in_flight = state.in_flight.lock().unwrap();
        in_flight.0 += 1;
        in_flight.1 = in_flight.1.max(in_flight.0);
    }
    let _ = hold.wait_for(|held| !*held).await;
    state.in_flight.lock().unwrap().0 -= 1;
    state.arrivals.lock().unwrap()[index].accepted = true;
    StatusCode::NO_CONTENT
}

// ---------------------------------------------------------------------------------------------
// Servers

/// A server config for `db` with fast workers: short polls and ticks, loopback webhooks.
pub fn config(db: &TestDb) -> Config {
    let mut config = Config::local("127.0.0.1:0".parse().unwrap(), db.url.clone());
    config.encryption_key = Some(db.key.to_hex());
    config.admin_token = Some(ADMIN_TOKEN.to_owned());
    config.metrics_token = Some(METRICS_TOKEN.to_owned());
    config.rate_limit_per_second = 0;
    config.webhook_allow_loopback = turris_server::config::AllowLoopback::On;
    config.delivery.poll_interval = Duration::from_millis(50);
    config.delivery.debounce_tick = Duration::from_millis(50);
    config
}

/// A running server.
pub struct Server {
    pub base: String,
    pub state: AppState,
    http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// Set for a server that can crash: its own runtime.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Server {
    /// Starts a server in this runtime.
    pub async fn start(config: Config) -> Self {
        let app = Application::build(config).await.expect("server builds");
        let base = format!("http://{}", app.local_addr());
        let state = app.state().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            app.run_until(async {
                let _ = stopped.await;
            })
            .await
            .expect("server runs");
        });
        Self {
            base,
            state,
            http: client(),
            stop: Some(stop),
            task: Some(task),
            runtime: None,
        }
    }

    /// Starts a server on a runtime of its own, so [`Server::crash`] can kill it mid-step.
    pub async fn start_crashable(config: Config) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (ready, started) = oneshot::channel();
        runtime.spawn(async move {
            let app = Application::build(config).await.expect("server builds");
            let _ = ready.send((app.local_addr(), app.state().clone()));
            let _ = app.run_until(std::future::pending()).await;
        });
        let (addr, state) = started.await.expect("the server starts");
        Self {
            base: format!("http://{addr}"),
            state,
            http: client(),
            stop: None,
            task: None,
            runtime: Some(runtime),
        }
    }

    /// Kills the server as a crash would: every task stops where it is, leases stay taken.
    pub fn crash(mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }

    /// Stops gracefully and waits.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server stops cleanly");
        }
    }

    /// A request with a token and an optional JSON body; answers (status, body).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Like [`Server::call`], asserting the status.
    pub async fn expect(
        &self,
        status: u16,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Value {
        let (got, body) = self.call(method, path, token, body).await;
        assert_eq!(got, status, "{path}: {body}");
        body
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.base))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// A new organization with an admin token.
    pub async fn organization(&self) -> Org {
        let id = format!("org-{}", uuid::Uuid::new_v4().simple());
        let admin = |path: String, body: Value| async move {
            self.expect(201, Method::POST, &path, ADMIN_TOKEN, Some(body))
                .await
        };
        admin(
            "/api/v1/admin/organizations".into(),
            json!({"id": id, "name": "Delivery Inc", "subscription_active": true}),
        )
        .await;
        // Webhooks, and the records whose changes produce events.
        let grants: Vec<String> = ["webhooks", "records"]
            .iter()
            .flat_map(|a| ["read", "create", "update", "delete"].map(|c| format!("{a}:{c}")))
            .collect();
        let role = admin(
            format!("/api/v1/admin/organizations/{id}/roles"),
            json!({"name": "admin", "grants": grants}),
        )
        .await;
        let user = admin(
            format!("/api/v1/admin/organizations/{id}/users"),
            json!({"email": "ops@example.com", "name": "Ops"}),
        )
        .await;
        let token = admin(
            format!("/api/v1/admin/organizations/{id}/tokens"),
            json!({"user_id": user["id"], "role_id": role["id"], "label": "delivery"}),
        )
        .await;
        Org {
            id,
            token: token["token"].as_str().unwrap().to_owned(),
        }
    }

    /// Registers a webhook of `webhook_type` for the receiver and trusts its secret.
    pub async fn webhook(&self, org: &Org, webhook_type: &str, receiver: &Receiver) -> String {
        let created = self
            .expect(
                201,
                Method::POST,
                "/api/v1/webhooks",
                &org.token,
                Some(json!({"webhook_type": webhook_type, "url": receiver.url()})),
            )
            .await;
        receiver.trust(created["secret"].as_str().unwrap());
        created["id"].as_str().unwrap().to_owned()
    }

    /// A new agency; its id.
    pub async fn agency(&self, org: &Org, name: &str) -> String {
        let agency = self
            .expect(
                201,
                Method::POST,
                "/api/v1/agencies",
                &org.token,
                Some(json!({"name": name, "npn": "12345"})),
            )
            .await;
        agency["id"].as_str().unwrap().to_owned()
    }

    /// Posts a NIPR result about `agency`: one `entity_compliance_data_synchronized` event.
    pub async fn nipr_sync(&self, org: &Org, agency: &str) {
        self.expect(
            201,
            Method::POST,
            "/api/v1/nipr-syncs",
            &org.token,
            Some(json!({"entity_type": "agency", "entity_id": agency, "kind": "fetch", "outcome": "success"})),
        )
        .await;
    }

    /// Sets a webhook's `max_in_flight` limit.
    pub async fn limit_in_flight(&self, org: &Org, webhook: &str, max_in_flight: u32) {
        self.expect(
            200,
            Method::PUT,
            &format!("/api/v1/webhooks/{webhook}/limits"),
            &org.token,
            Some(json!({ "max_in_flight": max_in_flight })),
        )
        .await;
    }

    /// The first page (100 rows) of a webhook's delivery history.
    pub async fn history(&self, org: &Org, webhook: &str) -> Value {
        self.expect(
            200,
            Method::GET,
            &format!("/api/v1/webhooks/{webhook}/events?limit=100"),
            &org.token,
            None,
        )
        .await
    }

    /// The event ids of a webhook's history (first page of 100).
    pub async fn event_ids(&self, org: &Org, webhook: &str) -> Vec<String> {
        let history = self.history(org, webhook).await;
        let mut ids: Vec<String> = history["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["event_id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// An organization and its admin token.
pub struct Org {
    pub id: String,
    pub token: String,
}
