//! OAuth for HubSpot apps: project-based apps with `auth.type: oauth` (and legacy public apps),
//! against the token endpoints of the configured [`ApiVersion`] (`/oauth/2026-03/token`, or
//! `/oauth/v3/token` for [`ApiVersion::Legacy`]): code exchange, refresh, the client-credentials
//! grant (the webhooks journal's app token), introspection and revoke.
//!
//! Every parameter (client id and secret included) goes in the form body
//! ([`AuthType::RequestBody`]), as these endpoints require.
//!
//! The token and introspection calls go through an HTTP client of their own that follows no
//! redirect and ignores proxy environment variables (`HTTPS_PROXY`, ...): a redirect would
//! carry the client secret and tokens to another server, and so would a proxy the process
//! happens to inherit. The `oauth2` crate asks for exactly this (`redirect::Policy::none()`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use http::Method;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenResponse,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, RedirectUrl, RefreshToken, RequestTokenError, Scope, StandardRevocableToken,
    TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use url::Url;

use super::{Secret, TokenSet};
use crate::client::{ApiCall, NoopObserver, Observer};
use crate::version::{Api, ApiVersion};
use crate::{Error, HubSpotError, Result};

/// Where HubSpot's authorize page lives.
pub const DEFAULT_AUTHORIZE_BASE: &str = "https://app.hubspot.com";

/// The token endpoint's path at `version` (`/oauth/2026-03/token`).
pub fn token_path(version: ApiVersion) -> String {
    version.path(Api::OAuth, "/token")
}

/// The introspection endpoint's path at `version` (`/oauth/2026-03/token/introspect`).
pub fn introspect_path(version: ApiVersion) -> String {
    version.path(Api::OAuth, "/token/introspect")
}

/// The revocation endpoint's path at `version` (`/oauth/2026-03/token/revoke`).
pub fn revoke_path(version: ApiVersion) -> String {
    version.path(Api::OAuth, "/token/revoke")
}

/// Scopes of the client-credentials token that reads the webhooks journal and manages its
/// subscriptions.
pub const JOURNAL_SCOPES: &[&str] = &[
    "developer.webhooks_journal.read",
    "developer.webhooks_journal.subscriptions.read",
    "developer.webhooks_journal.subscriptions.write",
];

/// Scopes the Turris sync asks for: company and contact records and schemas, plus `oauth`.
pub const SYNC_SCOPES: &[&str] = &[
    "oauth",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.schemas.companies.read",
    "crm.schemas.contacts.read",
];

/// Scopes static-list membership needs (ask for them as optional scopes when lists are used).
pub const LIST_SCOPES: &[&str] = &["crm.lists.read", "crm.lists.write"];

/// Optional scopes of the sync: lists, and making the unique `turris_id` property that keys
/// idempotent creates (without them creates are plain batch creates).
pub const OPTIONAL_SYNC_SCOPES: &[&str] = &[
    "crm.lists.read",
    "crm.lists.write",
    "crm.schemas.companies.write",
    "crm.schemas.contacts.write",
];

/// Access tokens live 30 minutes when HubSpot omits `expires_in`.
const DEFAULT_EXPIRES_IN_SECS: i64 = 1800;

/// The longest `expires_in` believed: a day (HubSpot says 1800 seconds). A larger value, or one
/// that does not fit a date, would keep a token past its life (or overflowed the clock).
const MAX_EXPIRES_IN_SECS: i64 = 24 * 60 * 60;

/// How long one token or introspection call may take, unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// A public app's OAuth settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OAuthConfig {
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: Secret,
    /// Where HubSpot sends the user back with `code` and `state`.
    pub redirect_uri: String,
    /// API base for the token endpoints (default `https://api.hubapi.com`).
    pub api_base: String,
    /// Base of the authorize page (default `https://app.hubspot.com`).
    pub authorize_base: String,
    /// How long one token or introspection call may take (default [`DEFAULT_TIMEOUT`]).
    pub timeout: Duration,
    /// Which token endpoints to call (default the date-based [`ApiVersion::default`]).
    pub api_version: ApiVersion,
}

impl OAuthConfig {
    /// Settings with HubSpot's production URLs.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: Secret,
        redirect_uri: impl Into<String>,
    ) -> Self {
        OAuthConfig {
            client_id: client_id.into(),
            client_secret,
            redirect_uri: redirect_uri.into(),
            api_base: crate::client::DEFAULT_API_BASE.to_owned(),
            authorize_base: DEFAULT_AUTHORIZE_BASE.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            api_version: ApiVersion::default(),
        }
    }

    /// The same settings with the token endpoints of `version`.
    pub fn with_api_version(mut self, version: ApiVersion) -> Self {
        self.api_version = version;
        self
    }

    /// The same settings against another API base (the sandbox, a mock).
    pub fn with_api_base(mut self, api_base: impl Into<String>) -> Self {
        self.api_base = api_base.into();
        self
    }
}

type Oauth2Client = oauth2::Client<
    BasicErrorResponse,
    BasicTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Answer of `POST /oauth/2026-03/token/introspect`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntrospectionResponse {
    /// Whether the token is valid.
    pub active: bool,
    /// The portal (hub) id the token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_id: Option<u64>,
    /// The app the token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<u64>,
    /// The installing user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<u64>,
    /// Granted scopes (HubSpot sends a space-separated string or an array).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<serde_json::Value>,
    /// `access_token` or `refresh_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Expiry, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// The portal's domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_domain: Option<String>,
    /// Granted scopes, as the date-based endpoints name them (an array).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<serde_json::Value>,
    /// Seconds until the token expires (date-based endpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
    /// What the token is for (date-based endpoints), e.g. `access_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_use: Option<String>,
}

impl IntrospectionResponse {
    /// The granted scopes, from `scopes` or `scope`, whether a list or a space-separated string.
    pub fn granted_scopes(&self) -> Vec<String> {
        let mut out = Vec::new();
        for value in [&self.scopes, &self.scope].into_iter().flatten() {
            match value {
                serde_json::Value::String(s) => {
                    out.extend(
                        s.split([' ', ','])
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned),
                    );
                }
                serde_json::Value::Array(items) => {
                    out.extend(items.iter().filter_map(|v| v.as_str()).map(str::to_owned));
                }
                _ => {}
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// A token of the client-credentials grant: the app's own token (no refresh token), for the
/// webhooks journal and its subscriptions.
#[derive(Clone, Debug)]
pub struct AppToken {
    /// The access token.
    pub access_token: Secret,
    /// When it expires; ask for a new one before.
    pub expires_at: chrono::DateTime<Utc>,
}

/// Answer of `POST /oauth/2026-03/token`, as HubSpot serves it. The client reads it through the
/// `oauth2` crate; this type is for mocks and fakes that answer in HubSpot's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenResponseBody {
    /// `bearer`.
    pub token_type: String,
    /// The access token.
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
    /// Seconds until the access token expires (1800 at HubSpot).
    pub expires_in: u64,
}

/// OAuth client of one public app. Cheap to clone.
///
/// ```
/// use turris_hubspot::auth::{OAuthClient, OAuthConfig, Secret};
///
/// let oauth = OAuthClient::new(OAuthConfig::new(
///     "client-id",
///     Secret::new("client-secret"),
///     "https://example.com/callback",
/// ))
/// .unwrap();
/// let url = oauth.authorize_url(
///     &["crm.objects.contacts.read", "oauth"],
///     &["crm.lists.read"],
///     "random-state",
/// );
/// assert!(url.as_str().starts_with("https://app.hubspot.com/oauth/authorize?"));
/// ```
#[derive(Clone)]
pub struct OAuthClient {
    inner: Arc<OAuthInner>,
}

struct OAuthInner {
    config: OAuthConfig,
    client: Oauth2Client,
    http: reqwest::Client,
    api_base: String,
    observer: Arc<dyn Observer>,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("client_id", &self.inner.config.client_id)
            .field("api_base", &self.inner.api_base)
            .finish_non_exhaustive()
    }
}

/// A transport error of the closure handed to `oauth2`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct TransportError(String);

/// The HTTP client of the token endpoints: no redirects, no proxy from the environment, and
/// the configured timeout.
fn token_endpoint_http(timeout: Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .map_err(|e| Error::Config(format!("oauth http client: {}", crate::error::redacted(e))))
}

impl OAuthClient {
    /// An OAuth client.
    ///
    /// The token, introspection and revoke calls go through an HTTP client of their own that
    /// follows no redirect and ignores proxy environment variables (see the module
    /// documentation), with [`OAuthConfig::timeout`].
    pub fn new(config: OAuthConfig) -> Result<Self> {
        let http = token_endpoint_http(config.timeout)?;
        let api_base = config.api_base.trim_end_matches('/').to_owned();
        let auth_url = AuthUrl::new(format!(
            "{}/oauth/authorize",
            config.authorize_base.trim_end_matches('/')
        ))
        .map_err(|e| Error::Config(format!("authorize url: {e}")))?;
        let token_url = TokenUrl::new(format!("{api_base}{}", token_path(config.api_version)))
            .map_err(|e| Error::Config(format!("token url: {e}")))?;
        let redirect = RedirectUrl::new(config.redirect_uri.clone())
            .map_err(|e| Error::Config(format!("redirect uri: {e}")))?;
        let client = oauth2::basic::BasicClient::new(ClientId::new(config.client_id.clone()))
            .set_client_secret(ClientSecret::new(config.client_secret.expose().to_owned()))
            .set_auth_type(AuthType::RequestBody)
            .set_auth_uri(auth_url)
            .set_token_uri(token_url)
            .set_redirect_uri(redirect);
        Ok(OAuthClient {
            inner: Arc::new(OAuthInner {
                config,
                client,
                http,
                api_base,
                observer: Arc::new(NoopObserver),
            }),
        })
    }

    /// Reports token calls to `observer` too (e.g. "Refresh HubSpot access token").
    pub fn with_observer(self, observer: Arc<dyn Observer>) -> Self {
        let inner = &*self.inner;
        OAuthClient {
            inner: Arc::new(OAuthInner {
                config: inner.config.clone(),
                client: inner.client.clone(),
                http: inner.http.clone(),
                api_base: inner.api_base.clone(),
                observer,
            }),
        }
    }

    /// The app's client id.
    pub fn client_id(&self) -> &str {
        &self.inner.config.client_id
    }

    /// The authorize URL: `client_id`, `redirect_uri`, `scope` (space-separated),
    /// `optional_scope` (space-separated, when any) and `state`.
    pub fn authorize_url(&self, scopes: &[&str], optional_scopes: &[&str], state: &str) -> Url {
        let state = state.to_owned();
        let mut request = self
            .inner
            .client
            .authorize_url(move || CsrfToken::new(state))
            .add_scopes(scopes.iter().map(|s| Scope::new((*s).to_owned())));
        if !optional_scopes.is_empty() {
            request = request.add_extra_param("optional_scope", optional_scopes.join(" "));
        }
        request.url().0
    }

    /// Exchanges the authorization code of the callback for tokens.
    pub async fn exchange_code(&self, code: &str) -> Result<TokenSet> {
        let status = Arc::new(AtomicU16::new(0));
        let http = self.http_fn(status.clone());
        let result = self
            .inner
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .request_async(&http)
            .await;
        let response = result.map_err(|e| token_error(e, status.load(Ordering::Relaxed), false))?;
        token_set(&response, None)
    }

    /// Gets a new access token with `refresh_token`. A dead refresh token is
    /// [`Error::RefreshTokenRevoked`]. When HubSpot sends no new refresh token, the old one
    /// is kept in the returned set.
    pub async fn refresh(&self, refresh_token: &Secret) -> Result<TokenSet> {
        let status = Arc::new(AtomicU16::new(0));
        let http = self.http_fn(status.clone());
        let token = RefreshToken::new(refresh_token.expose().to_owned());
        let result = self
            .inner
            .client
            .exchange_refresh_token(&token)
            .request_async(&http)
            .await;
        let response = result.map_err(|e| token_error(e, status.load(Ordering::Relaxed), true))?;
        token_set(&response, Some(refresh_token))
    }

    /// Gets the app's own token with the client-credentials grant (no refresh token): the
    /// token of the webhooks journal and its subscriptions ([`JOURNAL_SCOPES`]).
    pub async fn client_credentials(&self, scopes: &[&str]) -> Result<AppToken> {
        let status = Arc::new(AtomicU16::new(0));
        let http = self.http_fn(status.clone());
        let result = self
            .inner
            .client
            .exchange_client_credentials()
            .add_scopes(scopes.iter().map(|s| Scope::new((*s).to_owned())))
            .request_async(&http)
            .await;
        let response = result.map_err(|e| token_error(e, status.load(Ordering::Relaxed), false))?;
        Ok(AppToken {
            access_token: Secret::new(response.access_token().secret().clone()),
            expires_at: Utc::now() + chrono::Duration::seconds(expires_in(&response)),
        })
    }

    /// Introspects a token (`POST /oauth/2026-03/token/introspect`): whether it is active, its
    /// portal (`hub_id`), app and scopes.
    pub async fn introspect(&self, token: &Secret) -> Result<IntrospectionResponse> {
        let path = introspect_path(self.inner.config.api_version);
        let body = self.post_form(&path, token, None).await?;
        serde_json::from_slice(&body).map_err(|e| Error::Decode(format!("introspect: {e}")))
    }

    /// Revokes a refresh token (`POST /oauth/2026-03/token/revoke`), e.g. when an organization
    /// disconnects HubSpot. A token HubSpot no longer knows counts as revoked.
    pub async fn revoke(&self, refresh_token: &Secret) -> Result<()> {
        let path = revoke_path(self.inner.config.api_version);
        match self
            .post_form(&path, refresh_token, Some("refresh_token"))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(404) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Posts `client_id`, `client_secret` and `token` (with `token_type_hint`) as a form to
    /// `path`, reporting the call; the answer's body on 2xx.
    async fn post_form(&self, path: &str, token: &Secret, hint: Option<&str>) -> Result<Vec<u8>> {
        let inner = &*self.inner;
        let mut form = vec![
            ("client_id", inner.config.client_id.as_str()),
            ("client_secret", inner.config.client_secret.expose()),
            ("token", token.expose()),
        ];
        if let Some(hint) = hint {
            form.push(("token_type_hint", hint));
        }
        let started = Instant::now();
        let result = inner
            .http
            .post(format!("{}{path}", inner.api_base))
            .header(http::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await;
        let (status, body) = match result {
            Ok(resp) if resp.status().is_redirection() => {
                let status = resp.status();
                let message = redirect_refused(status);
                self.report_message(path, Some(status.as_u16()), started, &message);
                return Err(Error::OAuth(message));
            }
            Ok(resp) => {
                let status = resp.status().as_u16();
                match resp.bytes().await {
                    Ok(b) => (status, b.to_vec()),
                    Err(e) => {
                        let e = crate::error::redacted(e);
                        self.report(path, Some(status), None, started, Some(&e));
                        return Err(Error::transport(e));
                    }
                }
            }
            Err(e) => {
                let e = crate::error::redacted(e);
                self.report(path, None, None, started, Some(&e));
                return Err(Error::transport(e));
            }
        };
        if !(200..300).contains(&status) {
            let err = HubSpotError::from_response(status, &body);
            self.report(path, Some(status), Some(&err), started, None);
            return Err(Error::Api(Box::new(err)));
        }
        self.report(path, Some(status), None, started, None);
        Ok(body)
    }

    fn report_message(&self, path: &str, status: Option<u16>, started: Instant, message: &str) {
        self.inner.observer.on_call(&ApiCall {
            method: Method::POST,
            path: path.to_owned(),
            status,
            category: None,
            correlation_id: None,
            error: Some(message.to_owned()),
            duration: started.elapsed(),
            attempt: 1,
            object_id: None,
        });
    }

    fn report(
        &self,
        path: &str,
        status: Option<u16>,
        err: Option<&HubSpotError>,
        started: Instant,
        transport: Option<&reqwest::Error>,
    ) {
        self.inner.observer.on_call(&ApiCall {
            method: Method::POST,
            path: path.to_owned(),
            status,
            category: err.and_then(|e| e.category.clone()),
            correlation_id: err.and_then(|e| e.correlation_id.clone()),
            error: err
                .map(|e| e.to_string())
                .or_else(|| transport.map(|e| e.to_string())),
            duration: started.elapsed(),
            attempt: 1,
            object_id: None,
        });
    }

    /// The HTTP function handed to `oauth2`: our reqwest client, reporting to the observer and
    /// remembering the status (to tell a dead refresh token from an outage).
    fn http_fn(
        &self,
        status_out: Arc<AtomicU16>,
    ) -> impl Fn(
        oauth2::HttpRequest,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, TransportError>> + Send>,
    > {
        let this = self.clone();
        move |request: oauth2::HttpRequest| {
            let this = this.clone();
            let status_out = status_out.clone();
            Box::pin(async move {
                let (parts, body) = request.into_parts();
                let path = parts.uri.path().to_owned();
                let started = Instant::now();
                let sent = this
                    .inner
                    .http
                    .request(parts.method, parts.uri.to_string())
                    .headers(parts.headers)
                    .body(body)
                    .send()
                    .await;
                let resp = match sent {
                    Ok(resp) => resp,
                    Err(e) => {
                        let e = crate::error::redacted(e);
                        this.report(&path, None, None, started, Some(&e));
                        return Err(TransportError(e.to_string()));
                    }
                };
                let status = resp.status();
                if status.is_redirection() {
                    let message = redirect_refused(status);
                    this.report_message(&path, Some(status.as_u16()), started, &message);
                    return Err(TransportError(message));
                }
                let headers = resp.headers().clone();
                let bytes = match resp.bytes().await {
                    Ok(b) => b.to_vec(),
                    Err(e) => {
                        let e = crate::error::redacted(e);
                        this.report(&path, Some(status.as_u16()), None, started, Some(&e));
                        return Err(TransportError(e.to_string()));
                    }
                };
                status_out.store(status.as_u16(), Ordering::Relaxed);
                let err = (!status.is_success())
                    .then(|| HubSpotError::from_response(status.as_u16(), &bytes));
                this.report(&path, Some(status.as_u16()), err.as_ref(), started, None);
                let mut response = http::Response::builder().status(status);
                if let Some(h) = response.headers_mut() {
                    *h = headers;
                }
                response
                    .body(bytes)
                    .map_err(|e| TransportError(e.to_string()))
            })
        }
    }
}

/// The message of a token endpoint that answered a redirect: it is not followed, since the
/// request carries the client secret and a token.
fn redirect_refused(status: reqwest::StatusCode) -> String {
    format!("oauth endpoint answered a redirect ({status}); redirects are not followed")
}

fn token_set(response: &BasicTokenResponse, previous_refresh: Option<&Secret>) -> Result<TokenSet> {
    let refresh_token = match (response.refresh_token(), previous_refresh) {
        (Some(rt), _) => Secret::new(rt.secret().clone()),
        (None, Some(prev)) => prev.clone(),
        (None, None) => return Err(Error::OAuth("token answer has no refresh token".to_owned())),
    };
    Ok(TokenSet {
        access_token: Secret::new(response.access_token().secret().clone()),
        refresh_token,
        expires_at: Utc::now() + chrono::Duration::seconds(expires_in(response)),
    })
}

/// Seconds the answer's access token lives: `expires_in`, capped (see [`MAX_EXPIRES_IN_SECS`]),
/// or HubSpot's 30 minutes when absent.
fn expires_in(response: &BasicTokenResponse) -> i64 {
    response.expires_in().map_or(DEFAULT_EXPIRES_IN_SECS, |d| {
        i64::try_from(d.as_secs()).map_or(MAX_EXPIRES_IN_SECS, |s| s.min(MAX_EXPIRES_IN_SECS))
    })
}

/// Markers of a dead refresh token in HubSpot's answers.
const DEAD_REFRESH_MARKERS: [&str; 2] = ["BAD_REFRESH_TOKEN", "invalid_grant"];

fn token_error(
    err: RequestTokenError<TransportError, BasicErrorResponse>,
    status: u16,
    refreshing: bool,
) -> Error {
    let (message, markers): (String, Vec<String>) = match &err {
        RequestTokenError::ServerResponse(resp) => (
            resp.error_description()
                .cloned()
                .unwrap_or_else(|| resp.error().to_string()),
            vec![resp.error().to_string()],
        ),
        RequestTokenError::Parse(_, body) => {
            let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            let field = |k: &str| value.get(k).and_then(|v| v.as_str()).map(str::to_owned);
            let message = field("message")
                .or_else(|| field("error_description"))
                .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
            let markers = ["status", "error", "category", "subCategory"]
                .iter()
                .filter_map(|k| field(k))
                .collect();
            (message, markers)
        }
        RequestTokenError::Request(e) => (e.to_string(), Vec::new()),
        RequestTokenError::Other(m) => (m.clone(), Vec::new()),
    };
    let dead = refreshing
        && (status == 400 || status == 401)
        && markers
            .iter()
            .any(|m| DEAD_REFRESH_MARKERS.contains(&m.as_str()));
    if dead {
        Error::RefreshTokenRevoked { message }
    } else if status == 0 {
        Error::OAuth(message)
    } else {
        Error::OAuth(format!("{status}: {message}"))
    }
}
