//! Bearer authentication of API calls (OAuth access tokens and private-app tokens) and
//! `GET /account-info/v3/details`.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::error::{ApiError, ApiResult};
use super::state::{ObjectKind, Shared};

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

/// The scopes a call needs (any one of them), by HubSpot's rules for the objects it touches.
pub(crate) fn required_scopes(method: &Method, path: &str) -> Vec<String> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let read = *method == Method::GET
        || path.ends_with("/batch/read")
        || (path.ends_with("/search") && *method == Method::POST);
    let access = if read { "read" } else { "write" };
    let objects = |raw: &str| -> Vec<String> {
        match ObjectKind::parse(raw) {
            Some(ObjectKind::Companies) => vec![format!("crm.objects.companies.{access}")],
            Some(ObjectKind::Contacts) => vec![format!("crm.objects.contacts.{access}")],
            // Notes ride on the scopes of the records they are attached to.
            Some(ObjectKind::Notes) => vec![
                format!("crm.objects.contacts.{access}"),
                format!("crm.objects.companies.{access}"),
            ],
            None => Vec::new(),
        }
    };
    match segments.as_slice() {
        ["crm", "v3", "objects", object, ..] => objects(object),
        ["crm", "v4", "objects", object, ..] | ["crm", "v4", "associations", object, ..] => {
            objects(object)
        }
        ["crm", "v3", "properties", object, ..] => match ObjectKind::parse(object) {
            Some(ObjectKind::Notes) | None => Vec::new(),
            Some(k) => vec![format!("crm.schemas.{}.{access}", k.plural())],
        },
        ["crm", "v3", "lists", ..] => vec![format!("crm.lists.{access}")],
        _ => Vec::new(),
    }
}

fn missing_scopes(required: &[String]) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "MISSING_SCOPES",
        "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
    )
    .errors(vec![json!({
        "message": "One or more of the following scopes are required.",
        "context": { "requiredGranularScopes": required },
    })])
}

/// Whether an OAuth token may make this call (when the sandbox enforces scopes).
fn check_scopes(shared: &Shared, token: &str, method: &Method, path: &str) -> ApiResult<()> {
    let world = shared.world();
    if !world.oauth.enforce_scopes {
        return Ok(());
    }
    let required = required_scopes(method, path);
    if required.is_empty() {
        return Ok(());
    }
    let granted = world.oauth.scopes_of(token).unwrap_or_default();
    if required.iter().any(|r| granted.contains(r)) {
        Ok(())
    } else {
        Err(missing_scopes(&required))
    }
}

/// Middleware: every call needs a valid bearer token (and, when enforced, the scopes).
pub(crate) async fn require_auth(
    State(shared): State<Arc<Shared>>,
    mut req: Request,
    next: Next,
) -> Response {
    let token = bearer(req.headers()).map(str::to_string);
    let verdict = authenticate(&shared, token.as_deref()).and_then(|principal| {
        if !principal.private_app
            && let Some(t) = &token
        {
            check_scopes(&shared, t, req.method(), req.uri().path())?;
        }
        Ok(principal)
    });
    match verdict {
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

/// The portal's one user, as the owner of records (`GET /crm/v3/owners`).
async fn owners(State(shared): State<Arc<Shared>>) -> Response {
    let user = shared.identity.user_id;
    axum::Json(json!({
        "results": [{
            "id": user.to_string(),
            "userId": user,
            "email": "owner@sandbox.example",
            "firstName": "Sandbox",
            "lastName": "Owner",
            "createdAt": "2026-01-01T00:00:00Z",
            "updatedAt": "2026-01-01T00:00:00Z",
            "archived": false,
        }],
    }))
    .into_response()
}

/// `/account-info/v3/details` and `/crm/v3/owners`.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/account-info/v3/details", get(account_details))
        .route("/crm/v3/owners", get(owners))
}
