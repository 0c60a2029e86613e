//! `spawn_app()`: the real server on `127.0.0.1:0` with a fresh database (SQLite or
//! PostgreSQL) and the HubSpot sandbox in place of HubSpot; plus an admin-made organization
//! with tokens per role, and the captured logs.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use turris_hubspot_sandbox::Sandbox;
use turris_server::app::{AppState, Application};
use turris_server::config::Config;

/// The admin token of every test server.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef0123";

/// The metrics token of every test server.
pub const METRICS_TOKEN: &str = "test-metrics-token-5e0c1f7a9b2d";

pub use turris_server::store::Backend;

use crate::support::db::TestDb;

/// Runs a test body against a fresh [`TestApp`] on SQLite and on PostgreSQL:
/// `api_test!(async fn a_sentence(app) { ... })` makes `a_sentence::on_sqlite` and
/// `a_sentence::on_postgres`.
macro_rules! api_test {
    ($($test:tt)*) => {
        $crate::support::both_databases!(app($crate::support::app::TestApp::spawn): $($test)*);
    };
}

// ---------------------------------------------------------------------------------------------
// Logs

/// Everything the server logged in this test process.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&log_buffer().lock().unwrap()).into_owned()
}

fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUFFER.get_or_init(|| Arc::new(Mutex::new(Vec::new())))
}

#[derive(Clone)]
struct BufferWriter(Arc<Mutex<Vec<u8>>>);

impl Write for BufferWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn init_logs() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let writer = BufferWriter(log_buffer().clone());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "debug,turris_server=trace,tower_http=debug,sqlx=warn,hyper=info,reqwest=info,h2=info,turris_hubspot=debug",
            ))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init();
    });
}

// ---------------------------------------------------------------------------------------------
// The app

/// A running server, its sandbox, and a ready organization.
pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub sandbox: Sandbox,
    pub db: TestDb,
    pub state: AppState,
    /// The metrics-only listener, when the config asked for one.
    #[allow(dead_code)]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// An organization with an active subscription and an admin token.
    pub org: String,
    pub token: String,
    /// What the server was built with (the sync suite restarts it).
    #[allow(dead_code)]
    config: Config,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    server: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// A second server on a [`TestApp`]'s database and sandbox.
#[allow(dead_code)] // the sync suite's
pub struct Replica {
    pub base: String,
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

#[allow(dead_code)] // the sync suite's
impl Replica {
    /// Stops it gracefully.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("replica stops cleanly");
        }
    }
}

/// A JSON answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    /// Asserts the error shape and code.
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Self {
        let this = self.expect(status);
        assert_error_shape(&this.body);
        assert_eq!(this.body["code"], code, "body: {}", this.text);
        this
    }

    /// The detail paths of an error.
    pub fn paths(&self) -> Vec<String> {
        self.body["details"]
            .as_array()
            .map(|d| {
                d.iter()
                    .map(|e| e["path"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// `{"code": str, "message": str, "details": [{"path": str, "message": str}]}` and nothing else.
#[track_caller]
pub fn assert_error_shape(body: &Value) {
    let object = body
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {body}"));
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["code", "details", "message"], "{body}");
    assert!(
        body["code"].is_string() && body["message"].is_string(),
        "{body}"
    );
    for detail in body["details"].as_array().expect("details is an array") {
        assert!(
            detail["path"].is_string() && detail["message"].is_string(),
            "{body}"
        );
    }
}

impl TestApp {
    /// Starts the sandbox, a fresh database and the server, then creates an organization
    /// (active subscription) with an admin token.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// [`TestApp::spawn_with`] whose public base URL is its own address, so a browser that
    /// follows HubSpot's OAuth redirect comes back to it (the console suite).
    #[allow(dead_code)] // the console suite's
    pub async fn spawn_public(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        Self::spawn_inner(backend, Sandbox::builder(), Some(listener), |config| {
            config.listen = addr;
            config.public_base_url = format!("http://{addr}");
            tweak(config);
        })
        .await
    }

    /// [`TestApp::spawn`] with a config tweak (a short timeout, ...).
    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_inner(backend, Sandbox::builder(), None, tweak).await
    }

    /// [`TestApp::spawn_with`] on a sandbox built from `sandbox` (planted credentials, ...).
    #[allow(dead_code)] // the secrets suite's
    pub async fn spawn_with_sandbox(
        backend: Backend,
        sandbox: turris_hubspot_sandbox::SandboxBuilder,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        Self::spawn_inner(backend, sandbox, None, tweak).await
    }

    async fn spawn_inner(
        backend: Backend,
        sandbox: turris_hubspot_sandbox::SandboxBuilder,
        listener: Option<tokio::net::TcpListener>,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        init_logs();
        let sandbox = sandbox.start().await.expect("sandbox starts");
        let db = TestDb::fresh(backend).await;
        let mut config = Config::local("127.0.0.1:0".parse().unwrap(), db.url.clone());
        config.encryption_key = Some(db.key.to_hex());
        config.admin_token = Some(ADMIN_TOKEN.to_owned());
        config.metrics_token = Some(METRICS_TOKEN.to_owned());
        // The suites poll as fast as they like; api::basics turns the limit on to test it.
        config.rate_limit_per_second = 0;
        config.hubspot.client_id = Some(sandbox.client_id().to_owned());
        config.hubspot.client_secret = Some(sandbox.client_secret().to_owned());
        config.hubspot.app_id = Some(sandbox.app_id());
        config.hubspot.api_base = sandbox.base_url().to_owned();
        config.hubspot.authorize_base = sandbox.base_url().to_owned();
        config.webhook_allow_loopback = turris_server::config::AllowLoopback::On;
        config.body_limit = 64 * 1024;
        // The API tests look at queued events and resends; tests/it/delivery runs the workers.
        config.delivery.workers = false;
        tweak(&mut config);
        let (addr, state, stop, server, metrics_addr) = serve(config.clone(), listener).await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap();
        let mut this = Self {
            base: format!("http://{addr}"),
            http,
            sandbox,
            db,
            state,
            metrics_addr,
            org: String::new(),
            token: String::new(),
            config,
            stop: Mutex::new(Some(stop)),
            server: Mutex::new(Some(server)),
        };
        let org = format!("org-{}", uuid::Uuid::new_v4().simple());
        let token = this.organization(&org, true).await;
        this.org = org;
        this.token = token;
        this
    }

    /// Stops the server gracefully (the database is dropped with the app).
    pub async fn finish(self) {
        self.shutdown().await;
    }

    /// Stops the server gracefully and starts a new one on the same address, database and
    /// sandbox, as a restart of the process would.
    #[allow(dead_code)] // the sync suite's
    pub async fn restart(self) -> Self {
        self.shutdown().await;
        let addr: std::net::SocketAddr = self.base.trim_start_matches("http://").parse().unwrap();
        let mut config = self.config.clone();
        config.listen = addr;
        let (_, state, stop, server, _) = serve(config, None).await;
        Self {
            state,
            stop: Mutex::new(Some(stop)),
            server: Mutex::new(Some(server)),
            ..self
        }
    }

    /// [`TestApp::restart`] with a changed configuration.
    #[allow(dead_code)] // the sync suite's
    pub async fn restart_with(mut self, tweak: impl FnOnce(&mut Config)) -> Self {
        tweak(&mut self.config);
        self.restart().await
    }

    /// What the server was built with.
    #[allow(dead_code)] // the sync suite's
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Starts another server (a replica) on the same database and sandbox, on a port of its
    /// own, workers included; stop it with [`Replica::stop`].
    #[allow(dead_code)] // the sync suite's
    pub async fn replica(&self) -> Replica {
        let mut config = self.config.clone();
        config.listen = "127.0.0.1:0".parse().unwrap();
        let (addr, state, stop, server, _) = serve(config, None).await;
        Replica {
            base: format!("http://{addr}"),
            state,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// Sends the shutdown signal and waits until the server has stopped.
    pub async fn shutdown(&self) {
        if let Some(stop) = self.stop.lock().unwrap().take() {
            let _ = stop.send(());
        }
        let server = self.server.lock().unwrap().take();
        if let Some(server) = server {
            server.await.expect("server stops cleanly");
        }
    }

    /// Creates an organization with an admin user and returns an admin-role token.
    pub async fn organization(&self, id: &str, subscription_active: bool) -> String {
        self.admin(
            Method::POST,
            "/api/v1/admin/organizations",
            Some(json!({"id": id, "name": format!("{id} Inc"), "subscription_active": subscription_active})),
        )
        .await
        .expect(201);
        let grants: Vec<String> = ["integrations", "webhooks", "records"]
            .iter()
            .flat_map(|a| {
                ["read", "create", "update", "delete"]
                    .iter()
                    .map(move |c| format!("{a}:{c}"))
            })
            .collect();
        self.token_with(id, "admin", &grants).await
    }

    /// A token of a new user with a new role granting `grants`.
    pub async fn token_with(&self, org: &str, role: &str, grants: &[String]) -> String {
        let role = self
            .admin(
                Method::POST,
                &format!("/api/v1/admin/organizations/{org}/roles"),
                Some(json!({"name": role, "grants": grants})),
            )
            .await
            .expect(201);
        let email = format!("{}@example.com", uuid::Uuid::new_v4().simple());
        let user = self
            .admin(
                Method::POST,
                &format!("/api/v1/admin/organizations/{org}/users"),
                Some(json!({"email": email, "name": "Test User"})),
            )
            .await
            .expect(201);
        let token = self
            .admin(
                Method::POST,
                &format!("/api/v1/admin/organizations/{org}/tokens"),
                Some(json!({"user_id": user.body["id"], "role_id": role.body["id"], "label": "test"})),
            )
            .await
            .expect(201);
        token.body["token"].as_str().unwrap().to_owned()
    }

    /// A request with any token (or none) and an optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request reaches the server");
        answer(response).await
    }

    /// A request as the organization's admin.
    pub async fn api(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.call(method, path, Some(&self.token), body).await
    }

    /// `GET` as the organization's admin.
    pub async fn get(&self, path: &str) -> Answer {
        self.api(Method::GET, path, None).await
    }

    /// A request with the bootstrap admin token.
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.call(method, path, Some(ADMIN_TOKEN), body).await
    }

    /// A raw body with a content type.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Answer {
        let response = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request reaches the server");
        answer(response).await
    }

    /// Saves the organization's sync matrix, which must be accepted.
    pub async fn set_sync(&self, matrix: Value) -> Answer {
        let path = "/api/v1/integrations/hubspot/sync";
        self.api(Method::PUT, path, Some(matrix)).await.expect(200)
    }

    /// Saves the organization's field mapping, which must be accepted.
    pub async fn set_mapping(&self, mapping: Value) -> Answer {
        let path = "/api/v1/integrations/hubspot/mapping";
        self.api(Method::PUT, path, Some(mapping)).await.expect(200)
    }

    /// Creates an agency through the API, which must be accepted.
    pub async fn create_agency(&self, agency: Value) -> Answer {
        let path = "/api/v1/agencies";
        self.api(Method::POST, path, Some(agency)).await.expect(201)
    }

    /// Records a NIPR sync result through the API, which must be accepted.
    pub async fn create_nipr_sync(&self, result: Value) -> Answer {
        let path = "/api/v1/nipr-syncs";
        self.api(Method::POST, path, Some(result)).await.expect(201)
    }

    /// Connects HubSpot with the sandbox's private-app token, which must be accepted.
    pub async fn connect_private_app(&self) -> Answer {
        let body = json!({
            "portal_id": self.sandbox.portal_id(),
            "token": self.sandbox.private_app_token(),
        });
        let path = "/api/v1/integrations/hubspot/private-app";
        self.api(Method::POST, path, Some(body)).await.expect(200)
    }

    /// Connects HubSpot through the real OAuth flow against the sandbox.
    pub async fn connect_hubspot(&self) -> Answer {
        let (code, state) = self.authorize("/api/v1/integrations/hubspot/connect").await;
        self.callback(&code, &state).await
    }

    /// Starts an OAuth flow at `start` and follows the sandbox's approval: `(code, state)`.
    pub async fn authorize(&self, start: &str) -> (String, String) {
        let started = self.api(Method::POST, start, None).await.expect(200);
        let url = started.body["authorize_url"].as_str().unwrap().to_owned();
        let approval = self.http.get(&url).send().await.unwrap();
        assert!(
            approval.status().is_redirection(),
            "the sandbox approves at once: {}",
            approval.status()
        );
        let location = approval.headers()["location"].to_str().unwrap().to_owned();
        let location = url::Url::parse(&location).unwrap();
        let find = |name: &str| {
            location
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_else(|| panic!("{name} in {location}"))
        };
        (find("code"), find("state"))
    }

    /// Calls our OAuth callback as the browser would.
    pub async fn callback(&self, code: &str, state: &str) -> Answer {
        let mut url = url::Url::parse(&format!(
            "{}/api/v1/integrations/hubspot/callback",
            self.base
        ))
        .unwrap();
        url.query_pairs_mut()
            .append_pair("code", code)
            .append_pair("state", state);
        answer(self.http.get(url).send().await.unwrap()).await
    }
}

/// Builds and runs a server: its address, state, stop signal and task.
async fn serve(
    config: Config,
    listener: Option<tokio::net::TcpListener>,
) -> (
    std::net::SocketAddr,
    AppState,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
    Option<std::net::SocketAddr>,
) {
    let app = match listener {
        Some(listener) => Application::build_on(listener, config).await,
        None => Application::build(config).await,
    }
    .expect("server builds");
    let addr = app.local_addr();
    let metrics_addr = app.metrics_addr();
    let state = app.state().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app.run_until(async {
            let _ = stopped.await;
        })
        .await
        .expect("server runs");
    });
    (addr, state, stop, server, metrics_addr)
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
        text,
    }
}
