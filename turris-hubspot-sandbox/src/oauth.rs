//! OAuth: the authorize page (approves at once), the v3 token, introspection and revocation
//! endpoints (and their v1 forms), and the token store behind bearer authentication.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::auth::Principal;
use super::error::{ApiError, ApiResult, correlation_id};
use super::state::{Identity, Shared, random_token};

/// Tokens issued to the app (and the fixed private-app tokens).
#[derive(Debug)]
pub(crate) struct OAuthStore {
    pub(crate) access_ttl: Duration,
    pub(crate) strict_rotation: bool,
    pub(crate) enforce_scopes: bool,
    codes: HashMap<String, AuthCode>,
    refresh: HashMap<String, Grant>,
    access: HashMap<String, AccessGrant>,
    private: HashMap<String, u64>,
    /// Service Keys and their portals.
    service_keys: HashMap<String, u64>,
}

#[derive(Debug)]
struct AuthCode {
    portal: u64,
    redirect_uri: String,
    scopes: Vec<String>,
    expires: Instant,
}

#[derive(Debug, Clone)]
struct Grant {
    portal: u64,
    scopes: Vec<String>,
}

#[derive(Debug)]
struct AccessGrant {
    grant: Grant,
    expires: Instant,
}

/// Tokens answered by the token endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSet {
    /// The access token.
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
    /// Lifetime of the access token in seconds.
    pub expires_in: u64,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// An OAuth failure: HubSpot's `status` code word, with the standard OAuth `error`.
#[derive(Debug)]
pub(crate) struct OAuthError {
    status: &'static str,
    error: &'static str,
    message: String,
}

impl OAuthError {
    fn new(status: &'static str, error: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            error,
            message: message.into(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        // HubSpot's body (`status` word + message) plus the RFC 6749 fields, so that both a
        // HubSpot-aware parser and a standard OAuth client understand it.
        let body = json!({
            "status": self.status,
            "message": self.message,
            "correlationId": correlation_id(),
            "error": self.error,
            "error_description": self.message,
        });
        (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
    }
}

impl OAuthStore {
    /// An empty store.
    pub(crate) fn new(access_ttl: Duration, strict_rotation: bool) -> Self {
        Self {
            access_ttl,
            strict_rotation,
            enforce_scopes: false,
            codes: HashMap::new(),
            refresh: HashMap::new(),
            access: HashMap::new(),
            private: HashMap::new(),
            service_keys: HashMap::new(),
        }
    }

    /// Issues a Service Key for a portal: an account-level key for REST calls only (no app:
    /// it cannot subscribe to webhooks or read the journal).
    pub(crate) fn issue_service_key(&mut self, portal: u64) -> String {
        let key = format!("svc-na1-{}", hex::encode(rand::random::<[u8; 16]>()));
        self.service_keys.insert(key.clone(), portal);
        key
    }

    /// Registers a private-app token for a portal.
    pub(crate) fn add_private_token(&mut self, token: String, portal: u64) {
        self.private.insert(token, portal);
    }

    /// The private-app token of a portal.
    pub(crate) fn private_token(&self, portal: u64) -> Option<&str> {
        self.private
            .iter()
            .find(|(_, p)| **p == portal)
            .map(|(t, _)| t.as_str())
    }

    /// Resolves a bearer token.
    pub(crate) fn resolve(
        &self,
        token: &str,
        now: Instant,
        identity: &Identity,
    ) -> ApiResult<Principal> {
        if let Some(portal) = self.private.get(token) {
            return Ok(Principal {
                portal_id: *portal,
                app_id: identity.private_app_id,
                private_app: true,
            });
        }
        if let Some(portal) = self.service_keys.get(token) {
            return Ok(Principal {
                portal_id: *portal,
                app_id: 0,
                private_app: true,
            });
        }
        match self.access.get(token) {
            Some(a) if a.expires > now => Ok(Principal {
                portal_id: a.grant.portal,
                app_id: identity.app_id,
                private_app: false,
            }),
            Some(a) => Err(ApiError::expired_auth(format!(
                "The OAuth token used to make this call expired {} second(s) ago.",
                now.duration_since(a.expires).as_secs()
            ))),
            None => Err(ApiError::invalid_auth(
                "The OAuth token used to make this call is not valid: it is unknown, was revoked, or the app was uninstalled.",
            )),
        }
    }

    /// The scopes granted to an access token.
    pub(crate) fn scopes_of(&self, token: &str) -> Option<&[String]> {
        self.access.get(token).map(|a| a.grant.scopes.as_slice())
    }

    /// Issues an authorization code.
    pub(crate) fn issue_code(
        &mut self,
        portal: u64,
        redirect_uri: &str,
        scopes: Vec<String>,
    ) -> String {
        let code = format!("sbx-code-{}", random_token(32));
        self.codes.insert(
            code.clone(),
            AuthCode {
                portal,
                redirect_uri: redirect_uri.to_string(),
                scopes,
                expires: Instant::now() + Duration::from_secs(600),
            },
        );
        code
    }

    /// Issues a fresh access and refresh token pair.
    pub(crate) fn issue(&mut self, portal: u64, scopes: Vec<String>) -> TokenSet {
        let refresh_token = format!("sbx-rt-{portal}-{}", random_token(36));
        let grant = Grant { portal, scopes };
        self.refresh.insert(refresh_token.clone(), grant.clone());
        self.issue_access(grant, refresh_token)
    }

    fn issue_access(&mut self, grant: Grant, refresh_token: String) -> TokenSet {
        let now = Instant::now();
        if self.access.len() > 10_000 {
            let horizon = now.checked_sub(Duration::from_secs(3600)).unwrap_or(now);
            self.access.retain(|_, a| a.expires > horizon);
        }
        let access_token = format!("sbx-at-{}-{}", grant.portal, random_token(48));
        self.access.insert(
            access_token.clone(),
            AccessGrant {
                grant,
                expires: now + self.access_ttl,
            },
        );
        TokenSet {
            access_token,
            refresh_token,
            expires_in: self.access_ttl.as_secs(),
        }
    }

    fn exchange_code(&mut self, code: &str, redirect_uri: &str) -> Result<TokenSet, OAuthError> {
        let Some(found) = self.codes.remove(code) else {
            return Err(OAuthError::new(
                "BAD_AUTH_CODE",
                "invalid_grant",
                "missing or unknown auth code",
            ));
        };
        if found.expires <= Instant::now() {
            return Err(OAuthError::new(
                "BAD_AUTH_CODE",
                "invalid_grant",
                "auth code expired",
            ));
        }
        if found.redirect_uri != redirect_uri {
            return Err(OAuthError::new(
                "BAD_REDIRECT_URI",
                "invalid_grant",
                "redirect_uri does not match the one used to authorize",
            ));
        }
        Ok(self.issue(found.portal, found.scopes))
    }

    fn refresh(&mut self, refresh_token: &str) -> Result<TokenSet, OAuthError> {
        let Some(grant) = self.refresh.get(refresh_token).cloned() else {
            return Err(OAuthError::new(
                "BAD_REFRESH_TOKEN",
                "invalid_grant",
                "missing or unknown refresh token",
            ));
        };
        if self.strict_rotation {
            self.refresh.remove(refresh_token);
        }
        let new_refresh = format!("sbx-rt-{}-{}", grant.portal, random_token(36));
        self.refresh.insert(new_refresh.clone(), grant.clone());
        Ok(self.issue_access(grant, new_refresh))
    }

    /// Revokes a refresh token (and nothing else, like HubSpot).
    pub(crate) fn revoke_refresh(&mut self, token: &str) -> bool {
        self.refresh.remove(token).is_some()
    }

    /// Forgets every token and code of a portal (the app was uninstalled).
    pub(crate) fn uninstall(&mut self, portal: u64) {
        self.codes.retain(|_, c| c.portal != portal);
        self.refresh.retain(|_, g| g.portal != portal);
        self.access.retain(|_, a| a.grant.portal != portal);
    }

    /// Makes every access token of a portal expire now (to exercise refresh paths).
    pub(crate) fn expire_access_tokens(&mut self, portal: u64) {
        let now = Instant::now();
        for a in self.access.values_mut() {
            if a.grant.portal == portal {
                a.expires = now;
            }
        }
    }

    fn introspect(&self, token: &str, identity: &Identity) -> Value {
        let now = Instant::now();
        if let Some(a) = self.access.get(token).filter(|a| a.expires > now) {
            return json!({
                "active": true,
                "token_type": "access_token",
                "client_id": identity.client_id,
                "hub_id": a.grant.portal,
                "app_id": identity.app_id,
                "user_id": identity.user_id,
                "user": "sandbox.user@example.com",
                "hub_domain": format!("portal-{}.sandbox.hubspot.test", a.grant.portal),
                "scopes": a.grant.scopes,
                "scope": a.grant.scopes.join(" "),
                "expires_in": a.expires.duration_since(now).as_secs(),
            });
        }
        if let Some(g) = self.refresh.get(token) {
            return json!({
                "active": true,
                "token_type": "refresh_token",
                "client_id": identity.client_id,
                "hub_id": g.portal,
                "app_id": identity.app_id,
                "user_id": identity.user_id,
                "user": "sandbox.user@example.com",
                "hub_domain": format!("portal-{}.sandbox.hubspot.test", g.portal),
                "scopes": g.scopes,
                "scope": g.scopes.join(" "),
            });
        }
        json!({ "active": false })
    }
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn check_client(identity: &Identity, f: &HashMap<String, String>) -> Result<(), OAuthError> {
    match f.get("client_id") {
        Some(id) if *id == identity.client_id => {}
        Some(_) => {
            return Err(OAuthError::new(
                "BAD_CLIENT_ID",
                "invalid_client",
                "missing or unknown client id",
            ));
        }
        None => {
            return Err(OAuthError::new(
                "BAD_CLIENT_ID",
                "invalid_client",
                "missing or unknown client id",
            ));
        }
    }
    match f.get("client_secret") {
        Some(s) if *s == identity.client_secret => Ok(()),
        _ => Err(OAuthError::new(
            "BAD_CLIENT_SECRET",
            "invalid_client",
            "missing or invalid client secret",
        )),
    }
}

fn token_json(t: &TokenSet) -> Value {
    json!({
        "token_type": "bearer",
        "access_token": t.access_token,
        "refresh_token": t.refresh_token,
        "expires_in": t.expires_in,
    })
}

async fn token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let f = form(&body);
    if let Err(e) = check_client(&shared.identity, &f) {
        return e.into_response();
    }
    let mut world = shared.world();
    if f.get("grant_type").map(String::as_str) == Some("client_credentials") {
        // The app's own token, for the webhooks journal: no refresh token.
        let token = world.journal.issue_app_token();
        let body = json!({"token_type": "bearer", "access_token": token, "expires_in": 1800});
        return ([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response();
    }
    let result = match f.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let (Some(code), Some(redirect)) = (f.get("code"), f.get("redirect_uri")) else {
                return OAuthError::new(
                    "MISSING_PARAMETER",
                    "invalid_request",
                    "code and redirect_uri are required for grant_type authorization_code",
                )
                .into_response();
            };
            world.oauth.exchange_code(code, redirect)
        }
        Some("refresh_token") => {
            let Some(rt) = f.get("refresh_token") else {
                return OAuthError::new(
                    "BAD_REFRESH_TOKEN",
                    "invalid_grant",
                    "missing or unknown refresh token",
                )
                .into_response();
            };
            world.oauth.refresh(rt)
        }
        _ => Err(OAuthError::new(
            "BAD_GRANT_TYPE",
            "unsupported_grant_type",
            "grant_type must be authorization_code, refresh_token or client_credentials",
        )),
    };
    drop(world);
    match result {
        Ok(t) => (
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(token_json(&t)),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// The `token` of a form from a known client (introspection, revocation).
fn client_token(identity: &Identity, body: &[u8]) -> Result<String, OAuthError> {
    let mut f = form(body);
    check_client(identity, &f)?;
    f.remove("token")
        .ok_or_else(|| OAuthError::new("MISSING_PARAMETER", "invalid_request", "token is required"))
}

async fn introspect(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match client_token(&shared.identity, &body) {
        Ok(token) => {
            axum::Json(shared.world().oauth.introspect(&token, &shared.identity)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn revoke(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match client_token(&shared.identity, &body) {
        Ok(token) => {
            shared.world().oauth.revoke_refresh(&token);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// A live token of `token_type` (`access_token`, `refresh_token`) as the v1 token endpoints
/// show it; 404 for any other.
fn v1_token(shared: &Shared, token: &str, token_type: &str) -> Response {
    let out = shared.world().oauth.introspect(token, &shared.identity);
    if out["active"] == json!(true) && out["token_type"] == json!(token_type) {
        axum::Json(out).into_response()
    } else {
        let what = token_type.replace('_', " ");
        ApiError::not_found(format!("{what} not found")).into_response()
    }
}

async fn v1_access_token(State(shared): State<Arc<Shared>>, Path(token): Path<String>) -> Response {
    v1_token(&shared, &token, "access_token")
}

async fn v1_refresh_token(
    State(shared): State<Arc<Shared>>,
    Path(token): Path<String>,
) -> Response {
    v1_token(&shared, &token, "refresh_token")
}

async fn v1_delete_refresh_token(
    State(shared): State<Arc<Shared>>,
    Path(token): Path<String>,
) -> Response {
    shared.world().oauth.revoke_refresh(&token);
    StatusCode::NO_CONTENT.into_response()
}

fn bad_authorize(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("HubSpot sandbox: cannot authorize: {message}"),
    )
        .into_response()
}

async fn authorize(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let q: HashMap<String, String> = form(query.unwrap_or_default().as_bytes());
    if q.get("client_id") != Some(&shared.identity.client_id) {
        return bad_authorize("unknown client_id");
    }
    let Some(redirect) = q.get("redirect_uri") else {
        return bad_authorize("redirect_uri is required");
    };
    let Ok(mut target) = url::Url::parse(redirect) else {
        return bad_authorize("redirect_uri is not an absolute URL");
    };
    let portal = match q.get("portal_id").map(|p| p.parse::<u64>()) {
        None => shared.identity.default_portal,
        Some(Ok(p)) => p,
        Some(Err(_)) => return bad_authorize("portal_id is not a number"),
    };
    let scopes: Vec<String> = q
        .get("scope")
        .into_iter()
        .chain(q.get("optional_scope"))
        .flat_map(|s| s.split([' ', '+']))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let code = {
        let mut world = shared.world();
        match world.portals.get_mut(&portal) {
            Some(p) => p.app_installed = true,
            None => return bad_authorize("unknown portal_id"),
        }
        world.oauth.issue_code(portal, redirect, scopes)
    };
    {
        let mut pairs = target.query_pairs_mut();
        pairs.append_pair("code", &code);
        if let Some(state) = q.get("state") {
            pairs.append_pair("state", state);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, target.to_string())]).into_response()
}

/// The OAuth routes (no bearer authentication).
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/oauth/authorize", get(authorize))
        .route("/oauth/v3/token", post(token))
        .route("/oauth/v1/token", post(token))
        .route("/oauth/v3/token/introspect", post(introspect))
        .route("/oauth/v3/token/revoke", post(revoke))
        .route("/oauth/v1/access-tokens/{token}", get(v1_access_token))
        .route(
            "/oauth/v1/refresh-tokens/{token}",
            get(v1_refresh_token).delete(v1_delete_refresh_token),
        )
}
