//! Bearer authentication of API calls (OAuth access tokens and private-app tokens) and
//! `GET /account-info/v3/details`.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::error::{ApiError, ApiResult};
use super::state::Shared;

/// Who made a call: the portal it acts on and the app behind the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Principal {
    /// The portal (hub id) the token belongs to.
    pub(crate) portal_id: u64,
    /// The app id of the public app, or the private app's id.
    pub(crate) app_id: u64,
    /// Whether the token is a private-app token.
    pub(crate) private_app: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .copied()
            .ok_or_else(|| ApiError::invalid_auth(MISSING))
    }
}

const MISSING: &str = "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview";

/// The bearer token of a request, if any.
pub(crate) fn bearer(parts: &axum::http::HeaderMap) -> Option<&str> {
    let value = parts
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// Resolves a bearer token to a principal.
pub(crate) fn authenticate(shared: &Shared, token: Option<&str>) -> ApiResult<Principal> {
    let token = token.ok_or_else(|| ApiError::invalid_auth(MISSING))?;
    let world = shared.world();
    world.oauth.resolve(token, Instant::now(), &shared.identity)
}

/// Middleware: every call needs a valid bearer token.
pub(crate) async fn require_auth(
    State(shared): State<Arc<Shared>>,
    mut req: Request,
    next: Next,
) -> Response {
    match authenticate(&shared, bearer(req.headers())) {
        Ok(principal) => {
            req.extensions_mut().insert(principal);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

async fn account_details(principal: Principal) -> Response {
    axum::Json(json!({
        "portalId": principal.portal_id,
        "accountType": "STANDARD",
        "timeZone": "US/Eastern",
        "companyCurrency": "USD",
        "additionalCurrencies": [],
        "utcOffset": "-05:00",
        "utcOffsetMilliseconds": -18_000_000,
        "uiDomain": "app.hubspot.com",
        "dataHostingLocation": "na1",
    }))
    .into_response()
}

/// `/account-info/v3/details`.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new().route("/account-info/v3/details", get(account_details))
}
