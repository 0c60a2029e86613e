//! A stateful fake HubSpot that speaks HubSpot's HTTP API, for tests, the demo and load runs.
//!
//! It runs in process on a loopback port (or as the `turris-hubspot-sandbox` command) and keeps
//! everything in memory: one portal by default (more with [`SandboxBuilder::extra_portal`]),
//! numeric string ids, HubSpot-shaped errors (`{status:"error", message, correlationId,
//! category, subCategory?, errors?}`) everywhere. Every change to a record, from the API or from
//! the [`Control`] API that plays a person editing in HubSpot, produces the matching webhook
//! events, delivered in signed batches (v1 and v3) with retries. Rate limits, injected faults
//! and latency reproduce HubSpot's failure modes; counters show what our side called.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use turris_hubspot_sandbox::{ObjectKind, Sandbox};
//!
//! let sandbox = Sandbox::builder()
//!     .webhook_target("http://127.0.0.1:8080/hubspot/webhooks")
//!     .subscription("company.propertyChange", Some("name"))
//!     .start()
//!     .await?;
//! let control = sandbox.control();
//! let company = control
//!     .create_record(ObjectKind::Companies, [("name", "Acme Insurance")])
//!     .expect("valid properties");
//! control.update_record(ObjectKind::Companies, &company.id, [("name", "Acme")]).expect("edit");
//! control.flush_webhooks().await; // the CRM_UI propertyChange batch was acknowledged
//! println!("API at {}, token {}", sandbox.base_url(), sandbox.private_app_token());
//! sandbox.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Routes
//!
//! HubSpot's (bearer token: an OAuth access token or the private-app token; rate-limited; with
//! [`SandboxBuilder::enforce_scopes`], OAuth tokens need the scopes of the call):
//!
//! | route | notes |
//! |---|---|
//! | `GET /account-info/v3/details` | `portalId` of the token |
//! | `GET, POST /crm/v3/properties/{object}`, `GET, DELETE .../{name}` | standard properties seeded (`hubspotDefined: true`); custom ones created (409 when the name exists) |
//! | `GET, POST /crm/v3/objects/{companies,contacts,notes}` | list (`limit` ≤ 100, `after`, `properties`, `associations`, `archived`), create (notes and objects accept `associations`) |
//! | `GET, PATCH, DELETE /crm/v3/objects/{object}/{id}` | `properties`, `associations`, `idProperty`, `archived`; 404 when missing; a merged id reads its survivor |
//! | `POST /crm/v3/objects/{object}/batch/{read,create,update,upsert,archive}` | ≤ 100 inputs (else 400); 207 with `errors` for missing ids; upsert by `email` or a `hasUniqueValue` property, with `new` |
//! | `POST /crm/v3/objects/{companies,contacts}/merge` | `primaryObjectId`, `objectIdToMerge`: values the primary lacks move over, associations and list memberships follow, the merged id resolves to the primary, `*.merge` webhook |
//! | `POST /crm/v3/objects/{object}/search` | `filterGroups` ORed, filters ANDed; EQ NEQ LT LTE GT GTE BETWEEN IN NOT_IN HAS_PROPERTY NOT_HAS_PROPERTY CONTAINS_TOKEN NOT_CONTAINS_TOKEN; one sort; `limit` ≤ 200; `after` < 10,000; `total`; own 5/s budget |
//! | `GET /crm/v4/objects/{from}/{id}/associations/{to}` | with type ids (279/280 contact↔company, 202/190 note→contact/company, ...) |
//! | `PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{toId}`, `PUT, DELETE .../associations/{to}/{toId}` | default, labelled (body: types), remove |
//! | `POST /crm/v4/associations/{from}/{to}/batch/{read,create,associate/default,archive}` | |
//! | `POST /crm/v3/lists/`, `GET, DELETE /crm/v3/lists/{id}`, `GET /crm/v3/lists/object-type-id/{type}/name/{name}` | static (`MANUAL`/`SNAPSHOT`) lists; duplicate names are 400 |
//! | `PUT /crm/v3/lists/{id}/memberships/{add,remove,add-and-remove}`, `GET, DELETE .../memberships` | `recordIdsAdded` (and HubSpot's `recordsIdsAdded`), `recordIdsRemoved`, `recordIdsMissing` |
//!
//! OAuth (no bearer): `GET /oauth/authorize` (approves at once, installs the app, 302 to
//! `redirect_uri` with `code` and `state`; `portal_id` picks a portal), `POST /oauth/v3/token`
//! (and `/oauth/v1/token`; `authorization_code` or `refresh_token`, client credentials in the
//! form), `POST /oauth/v3/token/introspect` (`active`, `hub_id`, `app_id`, ...),
//! `POST /oauth/v3/token/revoke`, `GET /oauth/v1/access-tokens/{t}`,
//! `GET, DELETE /oauth/v1/refresh-tokens/{t}`. Failures answer 400 with HubSpot's `status` word
//! (`BAD_REFRESH_TOKEN`, `BAD_AUTH_CODE`, `BAD_CLIENT_SECRET`, ...) and the OAuth `error`
//! (`invalid_grant`, ...).
//!
//! Webhooks API (developer API key as `hapikey`): `GET, POST /webhooks/v3/{appId}/subscriptions`,
//! `GET, PATCH, DELETE .../subscriptions/{id}`, `POST .../subscriptions/batch/update`,
//! `GET, PUT, DELETE /webhooks/v3/{appId}/settings` (`targetUrl`).
//!
//! Control (no auth, not counted, never rate-limited), mirroring [`Control`]: `GET /_sandbox`
//! (ids and fake credentials), `GET, POST /_sandbox/objects/{object}`,
//! `GET, PATCH, DELETE /_sandbox/objects/{object}/{id}` (edits as a person: `CRM_UI`),
//! `POST /_sandbox/objects/{object}/{id}/merge` (`objectIdToMerge`),
//! `GET /_sandbox/objects/{object}/{id}/associations/{to}`,
//! `PUT /_sandbox/objects/{object}/{id}/associations/{to}/{toId}`, `GET /_sandbox/lists`,
//! `GET /_sandbox/stats`, `POST /_sandbox/stats/reset`, `POST /_sandbox/uninstall`,
//! `POST /_sandbox/expire-tokens`, `POST /_sandbox/tokens`, `POST, DELETE /_sandbox/faults`,
//! `PUT /_sandbox/latency`, `PUT /_sandbox/rate-limits`, `PUT /_sandbox/search-lag`
//! (`{"lagging": true}`), `POST /_sandbox/search-index/refresh`, `POST /_sandbox/webhooks/subscriptions`,
//! `PUT /_sandbox/webhooks/target`, `POST /_sandbox/webhooks/flush`,
//! `PUT /_sandbox/webhooks/chaos` (`{"duplicate": true, "reverse": true, "delay_ms": 300}`),
//! `GET /_sandbox/webhooks/attempts`. Each takes `?portalId=` (default: the default portal).
//! `GET /_sandbox/ui` is a small HTML page over the default portal for people: browse, create,
//! edit and delete records (as `CRM_UI`), see the counters and the webhook attempts.
//!
//! # Webhooks
//!
//! Events go to the app's `targetUrl` for portals where the app is installed (it starts
//! installed; [`Control::uninstall_app`] removes it, the authorize page installs it again), for
//! each active subscription: `*.creation` (plus a `*.propertyChange` per subscribed property set
//! at creation), `*.propertyChange` per changed subscribed property, `*.deletion`,
//! `contact.associationChange` / `company.associationChange` (both sides). `changeSource` is
//! `CRM_UI` (`sourceId` `userId:...`) for control edits and `INTEGRATION` (`sourceId` the app
//! id, or the private app's id) for API writes. Batches hold at most 100 events, carry
//! `X-HubSpot-Signature-v3` + `X-HubSpot-Request-Timestamp` and the v1 `X-HubSpot-Signature`,
//! and are retried on any non-2xx or transport error with doubling backoff
//! ([`WebhookRetry`], 10 attempts); `attemptNumber` counts the retries.
//! [`Control::flush_webhooks`] and [`Control::wait_for_deliveries`] let tests wait without sleeps.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod auth;
mod control;
mod crm;
mod error;
mod faults;
mod journal;
mod oauth;
mod rate_limit;
mod search;
mod seed;
mod state;
mod ui;
mod validation;
mod versions;
mod webhooks;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use control::{Control, ControlError, ListInfo};
pub use faults::{Fault, Stats};
pub use oauth::TokenSet;
pub use rate_limit::RateLimits;
pub use state::{ObjectKind, Record};
pub use webhooks::{DeliveryAttempt, WebhookChaos, WebhookRetry};

use error::ApiError;
use faults::Traffic;
use oauth::OAuthStore;
use rate_limit::RateLimiter;
use state::{Identity, Portal, Shared, World};
use webhooks::{Dispatcher, WebhookApp};

/// Configures and starts a [`Sandbox`].
#[derive(Clone)]
pub struct SandboxBuilder {
    host: IpAddr,
    port: u16,
    app_id: u64,
    client_id: Option<String>,
    client_secret: Option<String>,
    developer_api_key: Option<String>,
    private_app_token: Option<String>,
    portal_id: u64,
    extra_portals: Vec<u64>,
    access_token_ttl: Duration,
    strict_refresh_rotation: bool,
    app_installed: bool,
    rate_limits: RateLimits,
    webhook_target: Option<String>,
    webhook_retry: WebhookRetry,
    webhook_batch_window: Duration,
    subscriptions: Vec<(String, Option<String>)>,
    demo_data: bool,
    enforce_scopes: bool,
}

impl std::fmt::Debug for SandboxBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxBuilder")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("app_id", &self.app_id)
            .field("portal_id", &self.portal_id)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("rate_limits", &self.rate_limits)
            .field("webhook_target", &self.webhook_target)
            .finish_non_exhaustive()
    }
}

impl Default for SandboxBuilder {
    fn default() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            app_id: 4_242_001,
            client_id: None,
            client_secret: None,
            developer_api_key: None,
            private_app_token: None,
            portal_id: 62_515_001,
            extra_portals: Vec::new(),
            access_token_ttl: Duration::from_secs(1800),
            strict_refresh_rotation: false,
            app_installed: true,
            rate_limits: RateLimits::default(),
            webhook_target: None,
            webhook_retry: WebhookRetry::default(),
            webhook_batch_window: Duration::from_millis(20),
            subscriptions: Vec::new(),
            demo_data: false,
            enforce_scopes: false,
        }
    }
}

fn uuid_like() -> String {
    let h = hex::encode(rand::random::<[u8; 16]>());
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl SandboxBuilder {
    /// The port to listen on (default 0: a free one).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The address to listen on (default 127.0.0.1).
    pub fn host(mut self, host: IpAddr) -> Self {
        self.host = host;
        self
    }

    /// The public app's id.
    pub fn app_id(mut self, app_id: u64) -> Self {
        self.app_id = app_id;
        self
    }

    /// The app's OAuth client id (default: random).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The app's OAuth client secret, which also signs webhooks (default: random).
    pub fn client_secret(mut self, client_secret: impl Into<String>) -> Self {
        self.client_secret = Some(client_secret.into());
        self
    }

    /// The developer API key of the webhooks API (default: random).
    pub fn developer_api_key(mut self, key: impl Into<String>) -> Self {
        self.developer_api_key = Some(key.into());
        self
    }

    /// The private-app token of the default portal (default: random `pat-na1-...`).
    pub fn private_app_token(mut self, token: impl Into<String>) -> Self {
        self.private_app_token = Some(token.into());
        self
    }

    /// The default portal's id (hub id).
    pub fn portal_id(mut self, portal_id: u64) -> Self {
        self.portal_id = portal_id;
        self
    }

    /// Adds another portal (its private-app token is random; see [`Control::private_app_token`]).
    pub fn extra_portal(mut self, portal_id: u64) -> Self {
        self.extra_portals.push(portal_id);
        self
    }

    /// Lifetime of OAuth access tokens (HubSpot: 30 minutes; seconds are fine in tests).
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.access_token_ttl = ttl;
        self
    }

    /// A refresh invalidates the refresh token it used (default: it stays valid, like HubSpot).
    pub fn strict_refresh_rotation(mut self) -> Self {
        self.strict_refresh_rotation = true;
        self
    }

    /// Whether the app starts installed in the portals (default true, so webhooks flow without an
    /// OAuth round trip; the authorize page installs it anyway).
    pub fn app_installed(mut self, installed: bool) -> Self {
        self.app_installed = installed;
        self
    }

    /// The rate limits (default: HubSpot's public-app limits).
    pub fn rate_limits(mut self, limits: RateLimits) -> Self {
        self.rate_limits = limits;
        self
    }

    /// Where webhooks are delivered (the app's `targetUrl`).
    pub fn webhook_target(mut self, url: impl Into<String>) -> Self {
        self.webhook_target = Some(url.into());
        self
    }

    /// How webhook deliveries are retried.
    pub fn webhook_retry(mut self, retry: WebhookRetry) -> Self {
        self.webhook_retry = retry;
        self
    }

    /// How long the sender waits to gather events into one batch (default 20 ms).
    pub fn webhook_batch_window(mut self, window: Duration) -> Self {
        self.webhook_batch_window = window;
        self
    }

    /// Adds an active webhook subscription (`contact.propertyChange` with a property name, ...).
    pub fn subscription(
        mut self,
        event_type: impl Into<String>,
        property_name: Option<&str>,
    ) -> Self {
        self.subscriptions
            .push((event_type.into(), property_name.map(str::to_string)));
        self
    }

    /// OAuth access tokens may only call what their scopes allow (403 `MISSING_SCOPES`
    /// otherwise, like HubSpot): `crm.objects.{companies,contacts}.{read,write}` for objects,
    /// associations and search (notes: either), `crm.schemas.{companies,contacts}.{read,write}`
    /// for properties, `crm.lists.{read,write}` for lists. Private-app tokens are not checked.
    /// Off by default.
    pub fn enforce_scopes(mut self) -> Self {
        self.enforce_scopes = true;
        self
    }

    /// Seeds the default portal with demo data: a dozen insurance agencies (companies with the
    /// custom properties `npn`, `producer_code`, `branch_name`) and their agents (contacts with
    /// `npn`, `middle_name`), associated, including awkward cases (a missing NPN, a Canadian
    /// province as state, a lower-case state code, an agency without contacts).
    pub fn demo_data(mut self) -> Self {
        self.demo_data = true;
        self
    }

    /// Binds the port and starts serving.
    pub async fn start(self) -> std::io::Result<Sandbox> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(self.host, self.port)).await?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let identity = Identity {
            base_url: base_url.clone(),
            app_id: self.app_id,
            client_id: self.client_id.unwrap_or_else(uuid_like),
            client_secret: self.client_secret.unwrap_or_else(uuid_like),
            developer_api_key: self.developer_api_key.unwrap_or_else(uuid_like),
            private_app_id: self.app_id + 1_000_000,
            user_id: 7_700_001,
            default_portal: self.portal_id,
        };
        let mut oauth = OAuthStore::new(self.access_token_ttl, self.strict_refresh_rotation);
        oauth.enforce_scopes = self.enforce_scopes;
        let mut portals = BTreeMap::new();
        let mut default_portal = Portal::new(self.portal_id, self.app_installed);
        if self.demo_data {
            seed::demo(&mut default_portal);
        }
        portals.insert(self.portal_id, default_portal);
        oauth.add_private_token(
            self.private_app_token
                .unwrap_or_else(|| format!("pat-na1-{}", uuid_like())),
            self.portal_id,
        );
        for p in self.extra_portals {
            portals.insert(p, Portal::new(p, self.app_installed));
            oauth.add_private_token(format!("pat-na1-{}", uuid_like()), p);
        }
        let mut webhook_app = WebhookApp::new(self.webhook_target);
        for (t, p) in &self.subscriptions {
            webhook_app.subscribe(t, p.as_deref(), true).map_err(|e| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, e.message().to_string())
            })?;
        }
        let dispatcher = Dispatcher::new(
            identity.client_secret.clone(),
            self.webhook_retry,
            self.webhook_batch_window,
        );
        let shared = Arc::new(Shared {
            world: Mutex::new(World {
                app_id: identity.app_id,
                portals,
                oauth,
                webhooks: webhook_app,
                journal: Default::default(),
            }),
            identity,
            limiter: Mutex::new(RateLimiter::new(self.rate_limits)),
            traffic: Mutex::new(Traffic::default()),
            webhooks: dispatcher.clone(),
        });
        let (shutdown, rx) = watch::channel(false);
        let sender = tokio::spawn(dispatcher.run(rx.clone()));
        // Dated paths are rewritten before routing (`versions`), so the rewrite wraps the router.
        let app = tower::Layer::layer(
            &tower::util::MapRequestLayer::new(versions::rewrite),
            app(Arc::clone(&shared)),
        );
        let mut stop = rx;
        let server = tokio::spawn(async move {
            let app = axum::ServiceExt::<axum::extract::Request>::into_make_service(app);
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "hubspot sandbox server stopped");
            }
        });
        Ok(Sandbox {
            shared,
            addr,
            base_url,
            shutdown,
            tasks: vec![server, sender],
        })
    }
}

fn app(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .merge(crm::router(&shared))
        .merge(auth::router())
        .route_layer(from_fn_with_state(Arc::clone(&shared), rate_limit::enforce))
        .route_layer(from_fn_with_state(Arc::clone(&shared), auth::require_auth));
    Router::new()
        .merge(api)
        .merge(oauth::router())
        .merge(webhooks::router())
        .merge(journal::router())
        .route_layer(from_fn_with_state(Arc::clone(&shared), faults::shape))
        .merge(control::router())
        .merge(ui::router())
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "VALIDATION_ERROR",
                "This method is not allowed on this path in the HubSpot sandbox.",
            )
            .into_response()
        })
        .fallback(|| async {
            ApiError::not_found("No route matches this method and path in the HubSpot sandbox.")
                .into_response()
        })
        .with_state(shared)
}

/// A running sandbox. Dropping it stops the server; [`Sandbox::shutdown`] also waits for it.
pub struct Sandbox {
    shared: Arc<Shared>,
    addr: SocketAddr,
    base_url: String,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("base_url", &self.base_url)
            .field("app_id", &self.shared.identity.app_id)
            .field("portal_id", &self.shared.identity.default_portal)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// A builder with HubSpot's defaults.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }

    /// The base URL of the API (`http://127.0.0.1:PORT`), in place of `https://api.hubapi.com`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The socket address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The authorize page, in place of `https://app.hubspot.com/oauth/authorize`.
    pub fn authorize_endpoint(&self) -> String {
        format!("{}/oauth/authorize", self.base_url)
    }

    /// The token endpoint (`/oauth/v3/token`).
    pub fn token_endpoint(&self) -> String {
        format!("{}/oauth/v3/token", self.base_url)
    }

    /// The public app's id.
    pub fn app_id(&self) -> u64 {
        self.shared.identity.app_id
    }

    /// The app's OAuth client id.
    pub fn client_id(&self) -> &str {
        &self.shared.identity.client_id
    }

    /// The app's OAuth client secret (also the webhook signing key).
    pub fn client_secret(&self) -> &str {
        &self.shared.identity.client_secret
    }

    /// The developer API key of the webhooks API (`hapikey`).
    pub fn developer_api_key(&self) -> &str {
        &self.shared.identity.developer_api_key
    }

    /// The default portal's id (hub id).
    pub fn portal_id(&self) -> u64 {
        self.shared.identity.default_portal
    }

    /// The default portal's private-app token.
    pub fn private_app_token(&self) -> String {
        self.control().private_app_token().unwrap_or_default()
    }

    /// The id of the private app behind private-app tokens (`sourceId` of its writes).
    pub fn private_app_id(&self) -> u64 {
        self.shared.identity.private_app_id
    }

    /// Control of the default portal.
    pub fn control(&self) -> Control {
        self.control_for(self.portal_id())
    }

    /// Control of a given portal.
    pub fn control_for(&self, portal_id: u64) -> Control {
        Control {
            shared: Arc::clone(&self.shared),
            portal: portal_id,
        }
    }

    /// Stops serving and waits for the server and the webhook sender to finish.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
