//! Startup: [`AppState`], [`router`], and [`Application`] with `build` and `run`.
//!
//! `main.rs` parses the config, calls [`Application::build`] and [`Application::run`]; tests
//! build on `127.0.0.1:0` and run with their own shutdown signal.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use tracing::Level;
use turris_hubspot::RateLimiter;
use turris_hubspot::auth::{OAuthClient, OAuthConfig, Secret};
use turris_webhooks::UrlPolicy;
use turris_webhooks::delivery::{DeliveryConfig, DeliveryEngine};

use crate::config::{Config, ConfigError};
use crate::crypto::KeyRing;
use crate::error::ApiError;
use crate::store::{Database, ServerStore, SqlStore};

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn ServerStore>,
    database: Database,
    config: Config,
    http: reqwest::Client,
    oauth: Option<OAuthClient>,
    hubspot_limiter: RateLimiter,
    url_policy: UrlPolicy,
    delivery: DeliveryEngine,
    background: Background,
    delivery_metrics: Arc<crate::delivery::DeliveryMetrics>,
    reconcile_wake: Notify,
    outbound_wake: Notify,
    sync: crate::sync::SyncState,
    workers: crate::workers::WorkerHealth,
    rate_limiter: Option<crate::http::rate_limit::TokenRateLimiter>,
    in_flight: Option<Arc<tokio::sync::Semaphore>>,
    /// API requests answered 429 `overloaded` (past the in-flight bound).
    refusals: crate::http::rate_limit::Refusals,
}

/// Tasks started by requests (a resend's delivery) that shutdown waits for.
#[derive(Default)]
struct Background {
    running: AtomicUsize,
    idle: Notify,
}

impl AppState {
    /// State over an open, migrated database.
    pub fn new(database: Database, config: Config) -> Result<Self, StartupError> {
        let keys = config.keys()?;
        let store = server_store(database.clone(), &keys);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| StartupError::Config(ConfigError::Invalid(format!("http client: {e}"))))?;
        let oauth = match (&config.hubspot.client_id, &config.hubspot.client_secret) {
            (Some(id), Some(secret)) => {
                let mut oauth_config = OAuthConfig::new(
                    id.clone(),
                    Secret::new(secret.clone()),
                    config.redirect_url(),
                );
                oauth_config.api_base = config.hubspot.api_base.clone();
                oauth_config.api_version = config.hubspot.api_version;
                oauth_config.authorize_base = config.hubspot.authorize_base.clone();
                Some(OAuthClient::new(oauth_config).map_err(|e| {
                    StartupError::Config(ConfigError::Invalid(format!("hubspot oauth: {e}")))
                })?)
            }
            _ => None,
        };
        let url_policy = if config.webhook_allow_loopback.enabled() {
            UrlPolicy::default().with_insecure_loopback()
        } else {
            UrlPolicy::default()
        };
        let delivery = DeliveryEngine::new(DeliveryConfig {
            url_policy: url_policy.clone(),
            ..DeliveryConfig::default()
        })
        .map_err(|e| StartupError::Config(ConfigError::Invalid(format!("delivery engine: {e}"))))?;
        Ok(Self {
            inner: Arc::new(Inner {
                delivery,
                background: Background::default(),
                delivery_metrics: Arc::default(),
                reconcile_wake: Notify::new(),
                outbound_wake: Notify::new(),
                sync: crate::sync::SyncState::default(),
                workers: crate::workers::WorkerHealth::default(),
                rate_limiter: crate::http::rate_limit::TokenRateLimiter::new(
                    config.rate_limit_per_second,
                    config.rate_limit_burst,
                ),
                in_flight: (config.api_max_in_flight > 0)
                    .then(|| Arc::new(tokio::sync::Semaphore::new(config.api_max_in_flight))),
                refusals: Default::default(),
                store,
                database,
                config,
                http,
                oauth,
                hubspot_limiter: RateLimiter::default(),
                url_policy,
            }),
        })
    }

    /// Every storage trait, scoped by organization.
    pub fn db(&self) -> &dyn ServerStore {
        &*self.inner.store
    }

    /// What the sync workers share in memory.
    pub fn sync(&self) -> &crate::sync::SyncState {
        &self.inner.sync
    }

    /// What the supervisors know about this server's workers (`/readyz`, `/metrics`).
    pub fn workers(&self) -> &crate::workers::WorkerHealth {
        &self.inner.workers
    }

    /// The store, shareable with workers.
    pub fn store(&self) -> Arc<dyn ServerStore> {
        self.inner.store.clone()
    }

    /// The database handle (readiness, shutdown).
    pub fn database(&self) -> &Database {
        &self.inner.database
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The process-wide HTTP client.
    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The HubSpot OAuth client, when the app's credentials are configured.
    pub fn oauth(&self) -> Option<&OAuthClient> {
        self.inner.oauth.as_ref()
    }

    /// The process-wide HubSpot rate limiter (per portal).
    pub fn hubspot_limiter(&self) -> &RateLimiter {
        &self.inner.hubspot_limiter
    }

    /// What webhook URLs may point at.
    pub fn url_policy(&self) -> &UrlPolicy {
        &self.inner.url_policy
    }

    /// The webhook delivery engine.
    pub fn delivery(&self) -> &DeliveryEngine {
        &self.inner.delivery
    }

    /// The per-token request limiter (`None`: no limit).
    pub fn rate_limiter(&self) -> Option<&crate::http::rate_limit::TokenRateLimiter> {
        self.inner.rate_limiter.as_ref()
    }

    /// The bound on API requests worked on at once (`None`: unbounded).
    pub fn in_flight(&self) -> Option<&Arc<tokio::sync::Semaphore>> {
        self.inner.in_flight.as_ref()
    }

    /// API requests answered 429 `overloaded`, counted where they are refused.
    pub(crate) fn refusals(&self) -> &crate::http::rate_limit::Refusals {
        &self.inner.refusals
    }

    /// API requests answered 429 `overloaded` since the process started (`/metrics`).
    pub fn overloaded(&self) -> u64 {
        self.inner.refusals.total()
    }

    /// What this process's delivery workers did (`/metrics`).
    pub fn delivery_metrics(&self) -> &Arc<crate::delivery::DeliveryMetrics> {
        &self.inner.delivery_metrics
    }

    /// Wakes this process's reconciliation worker (a job was just started).
    pub fn reconcile_wake(&self) -> &Notify {
        &self.inner.reconcile_wake
    }

    /// Wakes this process's outbound sync worker ([`crate::sync::outbound`]) after a commit
    /// that queued pushes.
    pub fn outbound_wake(&self) -> &Notify {
        &self.inner.outbound_wake
    }

    /// Runs `task` in the background; [`AppState::background_idle`] waits for it (even if it
    /// panics, it stops counting).
    pub fn spawn_background(&self, task: impl Future<Output = ()> + Send + 'static) {
        struct Running(AppState);
        impl Drop for Running {
            fn drop(&mut self) {
                let background = &self.0.inner.background;
                if background.running.fetch_sub(1, Ordering::SeqCst) == 1 {
                    background.idle.notify_waiters();
                }
            }
        }
        self.inner.background.running.fetch_add(1, Ordering::SeqCst);
        let running = Running(self.clone());
        tokio::spawn(async move {
            let _running = running;
            task.await;
        });
    }

    /// Waits until no background task runs.
    pub async fn background_idle(&self) {
        loop {
            let notified = self.inner.background.idle.notified();
            if self.inner.background.running.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.inner.database.ping().await.map_err(Into::into)
    }
}

/// The whole HTTP application: every area's routes, the fallback and the middleware.
pub fn router(state: AppState) -> Router {
    let config = state.config().clone();
    crate::http::api()
        .into_router()
        .fallback(|| async { ApiError::from_status(StatusCode::NOT_FOUND) })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::http::rate_limit::limit,
        ))
        // Outside the per-token limit: a request over the bound costs no token lookup.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::http::rate_limit::bound_in_flight,
        ))
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(RequestBodyLimitLayer::new(config.body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout(),
        ))
        // Outside the limit and timeout layers, so their bare answers get the error shape.
        .layer(middleware::from_fn(shape_errors))
        .merge(crate::console::router(&config))
        .layer(middleware::from_fn_with_state(state.clone(), crate::console::oauth::return_to_console))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let request_id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    // The path only: query strings can carry OAuth codes and states.
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id = %request_id,
                    )
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO))
                .on_failure(DefaultOnFailure::new().level(Level::WARN)),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// Gives bare error responses (404 route, 405 method, 408 timeout, 413 body) the error shape.
async fn shape_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let allow = response.headers().get(header::ALLOW).cloned();
        let mut shaped = ApiError::from_status(status).into_response();
        if let Some(allow) = allow {
            shaped.headers_mut().insert(header::ALLOW, allow);
        }
        return shaped;
    }
    response
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A configuration problem.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The SQLite folder could not be created.
    #[error("cannot create {}", .path.display())]
    DataDir {
        /// The folder.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The database could not be opened, migrated or written.
    #[error("database")]
    Database(#[from] crate::store::DbError),
    /// The configured keys do not open what the database holds.
    #[error("encryption keys")]
    Keys(#[source] crate::store::KeyCheckError),
    /// A random value could not be drawn.
    #[error("random number generator")]
    Random(#[source] crate::crypto::CryptoError),
    /// The demo stopped before its last step.
    #[cfg(feature = "demo")]
    #[error("demo")]
    Demo(#[from] crate::demo::DemoError),
    /// The private app from the environment could not be connected.
    #[error(transparent)]
    PrivateApp(#[from] crate::hubspot::environment::EnvConnectError),
    /// Serving failed.
    #[error("server failed: {0}")]
    Serve(#[source] std::io::Error),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Every storage trait over `database`, secrets sealed with the ring's current key.
pub fn server_store(database: Database, keys: &KeyRing) -> Arc<dyn ServerStore> {
    Arc::new(SqlStore::with_keys(database, keys))
}

/// Checks that the configured keys open what the database holds (and records a check value
/// for the current key): a wrong key stops the start with a message naming it by id.
pub async fn check_keys(database: &Database, keys: &KeyRing) -> Result<(), StartupError> {
    SqlStore::with_keys(database.clone(), keys)
        .check_keys(keys)
        .await
        .map_err(StartupError::Keys)
}

/// Opens (creating the SQLite folder when needed) and migrates the database.
pub async fn open_database(config: &Config) -> Result<Database, StartupError> {
    if let Some(dir) = config.sqlite_parent_dir() {
        std::fs::create_dir_all(&dir).map_err(|source| StartupError::DataDir {
            path: dir.clone(),
            source,
        })?;
    }
    // The database holds sealed secrets and token hashes: readable by its owner only, from
    // its creation on (SQLite gives its -wal and -shm files the database file's mode).
    if let Some(file) = config.sqlite_file() {
        crate::files::ensure_private(&file).map_err(|source| StartupError::DataDir {
            path: file.clone(),
            source,
        })?;
    }
    let db = Database::connect(&config.database_url).await?;
    db.migrate().await?;
    Ok(db)
}

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    state: AppState,
}

impl Application {
    /// Checks the config, opens and migrates the database, and binds the listen address.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        config.keys()?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartupError::Bind {
                    addr: config.listen,
                    source,
                })?;
        Self::build_on(listener, config).await
    }

    /// [`Application::build`] on a listener bound by the caller (who may need its port in the
    /// config, as the public base URL).
    pub async fn build_on(listener: TcpListener, config: Config) -> Result<Self, StartupError> {
        let keys = config.keys()?;
        config.check_admin_token()?;
        config
            .delivery
            .check_debounce()
            .map_err(ConfigError::Invalid)?;
        let listen = listener.local_addr().unwrap_or(config.listen);
        config.webhook_allow_loopback.check(listen)?;
        let metrics_listener = match config.metrics_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartupError::Bind { addr, source })?,
            ),
            None => None,
        };
        let db = open_database(&config).await?;
        check_keys(&db, &keys).await?;
        let state = AppState::new(db, config)?;
        let env_app = state
            .config()
            .hubspot
            .private_app
            .resolve(|name| std::env::var(name).ok())?;
        if let Some(app) = env_app {
            crate::hubspot::environment::connect_from_env(&state, &app).await?;
        }
        Ok(Self {
            listener,
            metrics_listener,
            state,
        })
    }

    /// The address of the metrics-only listener (`TURRIS_METRICS_LISTEN`), when there is one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// The bound address (with the real port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The state the handlers share.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until Ctrl-C or SIGTERM, then finishes in-flight requests.
    pub async fn run(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let state = self.state.clone();
        let database = self.state.database().clone();
        let (trigger, workers_shutdown) = crate::workers::shutdown_channel();
        let workers = crate::workers::spawn_all(&state, &workers_shutdown);
        let app = router(self.state.clone());
        tracing::info!(addr = %self.listener.local_addr()?, "listening");
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let metrics = self.metrics_listener.map(|listener| {
            let mut stopped = stopped.clone();
            let app = crate::http::metrics::internal_router(self.state.clone());
            if let Ok(addr) = listener.local_addr() {
                tracing::info!(%addr, "serving /metrics");
            }
            tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    })
                    .await
            })
        });
        // Routes resolved once: serving the router itself resolves them again for every
        // connection (axum's `Service<IncomingStream>` for `Router<()>`), about 142 KB of this
        // router per open connection, idle or not; this way a connection costs a few KB.
        let app = app.with_state(()).into_make_service();
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        let _ = stop.send(true);
        if let Some(metrics) = metrics
            && let Ok(Err(e)) = metrics.await
        {
            tracing::error!(error = %e, "the metrics listener failed");
        }
        // Stop the workers whether serving ended well or not: each finishes its current step.
        trigger.fire();
        for worker in workers {
            if let Err(e) = worker.await {
                tracing::error!(error = %e, "a worker panicked");
            }
        }
        served?;
        state.background_idle().await;
        database.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received, finishing in-flight requests");
}
