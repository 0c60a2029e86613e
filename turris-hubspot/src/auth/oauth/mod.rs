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

mod answers;
mod transport;

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use chrono::Utc;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenResponse,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, RedirectUrl, RefreshToken, Scope, StandardRevocableToken, TokenResponse, TokenUrl,
};
use url::Url;

use super::{Secret, TokenSet};
use crate::client::{NoopObserver, Observer};
use crate::version::{Api, ApiVersion};
use crate::{Error, Result};
pub use answers::{AppToken, IntrospectionResponse, TokenResponseBody};
use answers::{expires_in, token_error, token_set};
use transport::token_endpoint_http;

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
}
