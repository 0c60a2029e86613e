//! The browser admin console, served by the server itself under `/console`.
//!
//! The shape is kanidm's: askama templates (compile-time checked) in
//! `templates/console/`, full pages plus a few `*_partial.html` fragments that htmx swaps in,
//! one base layout, and one module per page. htmx is vendored in `assets/` and embedded in the
//! binary with the stylesheet; forms work without JavaScript too.
//!
//! One rule set: every page handler calls the JSON API's handler functions (`crate::http::*`)
//! with the session's caller, checked by [`Authorized::check`] exactly as the API's extractor
//! checks a bearer token, so validation, permissions and storage are the API's. A 422's field
//! paths (`agency.identifier.value`) become inline errors at those fields.
//!
//! Sessions live in the database ([`session`]); the cookie is `HttpOnly`, `SameSite=Lax` and
//! `Secure` when the public URL is https ([`cookies`]); every form carries a CSRF token
//! ([`csrf`]); errors render as pages ([`errors`]).

pub mod assets;
pub mod cookies;
mod crm;
pub mod csrf;
pub mod errors;
mod hubspot;
mod integrations;
pub mod login;
pub mod oauth;
mod records;
pub mod session;
mod webhooks;

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use chrono::Utc;
use turris_core::permissions::{Area, Capability};

use crate::app::AppState;
use crate::auth::{Authorized, Caller, Need};
use crate::error::{ApiError, ErrorDetail};
pub use errors::{ConsoleError, ConsoleResult};

/// Where the console lives.
pub const PREFIX: &str = "/console";

/// The console's routes (merged beside the API in [`crate::app::router`]).
pub fn router(config: &crate::config::Config) -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to(PREFIX) }))
        .route(PREFIX, get(home))
        .merge(assets::routes())
        .merge(login::routes())
        .merge(integrations::routes())
        .merge(hubspot::routes())
        .merge(crm::routes())
        .merge(webhooks::routes())
        .merge(records::routes())
        .layer(axum::extract::DefaultBodyLimit::max(config.body_limit))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            config.request_timeout(),
        ))
        .layer(axum::middleware::map_response(no_store))
}

/// Pages hold CSRF tokens and settings: never cached.
async fn no_store(mut response: axum::response::Response) -> axum::response::Response {
    response
        .headers_mut()
        .entry(axum::http::header::CACHE_CONTROL)
        .or_insert(axum::http::HeaderValue::from_static("no-store"));
    response
}

async fn home(session: Signed) -> impl IntoResponse {
    if session.can(Area::Integrations, Capability::Read) {
        Redirect::to("/console/integrations")
    } else if session.can(Area::Webhooks, Capability::Read) {
        Redirect::to("/console/webhooks")
    } else if session.can(Area::Records, Capability::Read) {
        Redirect::to("/console/records/agencies")
    } else {
        // Nothing to offer: the records page explains which grant is missing.
        Redirect::to("/console/records/agencies")
    }
}

/// A request of a signed-in person: the live session and the caller its token names.
#[derive(Clone)]
pub struct Signed {
    id: String,
    /// The caller, as the API's bearer auth would make it.
    pub caller: Caller,
    /// The user's email.
    pub email: String,
    /// The organization's name.
    pub org_name: String,
    /// The role's name.
    pub role_name: String,
}

impl Signed {
    /// The session's CSRF token.
    pub fn csrf(&self) -> String {
        csrf::token(&self.id)
    }

    /// The session id (a secret: only for binding an OAuth state and for flashes).
    fn id(&self) -> &str {
        &self.id
    }

    /// The API's permission check for `N`.
    pub fn authorize<N: Need>(&self) -> Result<Authorized<N>, ApiError> {
        Authorized::<N>::check(self.caller.clone())
    }

    /// Whether the role grants it (what to offer; the handlers check again).
    pub fn can(&self, area: Area, capability: Capability) -> bool {
        self.caller.allows(area, capability)
    }

    /// The layout of a page, taking the waiting notice.
    pub async fn layout(&self, state: &AppState, title: &str, nav: &'static str) -> Layout {
        let flash = session::take_flash(state.database(), &self.id)
            .await
            .ok()
            .flatten();
        Layout {
            title: title.to_owned(),
            nav,
            email: self.email.clone(),
            org: self.org_name.clone(),
            role: self.role_name.clone(),
            csrf: self.csrf(),
            flash,
            integrations: self.can(Area::Integrations, Capability::Read),
            webhooks: self.can(Area::Webhooks, Capability::Read),
            records: self.can(Area::Records, Capability::Read),
        }
    }

    /// Leaves a notice for the next page.
    pub async fn flash(&self, state: &AppState, kind: &str, text: &str) {
        if let Err(e) = session::set_flash(state.database(), &self.id, kind, text).await {
            tracing::warn!(error = %e, "console: storing a notice");
        }
    }
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(signed) = parts.extensions.get::<Signed>() {
            return Ok(signed.clone());
        }
        let id = cookies::session_id(&parts.headers).ok_or(ConsoleError::SignIn)?;
        let now = Utc::now();
        let row = session::load(state.database(), &id, now)
            .await?
            .ok_or(ConsoleError::SignIn)?;
        let principal = state
            .db()
            .authenticate(&row.token_hash, now)
            .await?
            .ok_or(ConsoleError::SignIn)?;
        let signed = Signed {
            id,
            caller: Caller {
                org: principal.organization.id.clone(),
                user: principal.user.id,
                role: principal.role.role.clone(),
                subscription: principal.organization.subscription,
            },
            email: principal.user.email,
            org_name: principal.organization.name,
            role_name: principal.role.role.name,
        };
        parts.extensions.insert(signed.clone());
        Ok(signed)
    }
}

/// What every page's frame shows.
pub struct Layout {
    /// The page title.
    pub title: String,
    /// Which navigation entry is current.
    pub nav: &'static str,
    /// The user.
    pub email: String,
    /// The organization.
    pub org: String,
    /// The role.
    pub role: String,
    /// The CSRF token for the page's forms.
    pub csrf: String,
    /// A notice to show once.
    pub flash: Option<session::Flash>,
    /// Whether to offer Integrations.
    pub integrations: bool,
    /// Whether to offer Webhooks.
    pub webhooks: bool,
    /// Whether to offer the records views.
    pub records: bool,
}

/// A submitted form (`application/x-www-form-urlencoded`) of a signed-in person whose CSRF
/// token matched; otherwise 403 before the handler runs.
pub struct Posted {
    /// The session.
    pub session: Signed,
    /// The fields.
    pub form: FormData,
}

impl FromRequest<AppState> for Posted {
    type Rejection = ConsoleError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let session = Signed::from_request_parts(&mut parts, state).await?;
        let bytes = axum::body::to_bytes(body, state.config().body_limit)
            .await
            .map_err(|_| ApiError::from_status(axum::http::StatusCode::PAYLOAD_TOO_LARGE))?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| ApiError::bad_request("the form could not be read"))?;
        let form = FormData { pairs };
        if !csrf::verify(&session.id, form.get(csrf::FIELD)) {
            tracing::warn!("console: a form without this session's CSRF token was refused");
            return Err(ConsoleError::Csrf);
        }
        Ok(Posted { session, form })
    }
}

/// Form fields in order, repeated names kept.
#[derive(Debug, Default, Clone)]
pub struct FormData {
    pairs: Vec<(String, String)>,
}

impl FormData {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, `None` when absent or empty.
    pub fn non_empty(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| !v.is_empty()).map(str::to_owned)
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether a checkbox `name` is on.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| v == "on" || v == "true")
    }
}

/// A 422's problems by field path, for inline display.
#[derive(Debug, Default, Clone)]
pub struct FieldErrors {
    by_path: BTreeMap<String, String>,
    /// The error's message, when there is one to show at the top of the form.
    pub summary: Option<String>,
}

impl FieldErrors {
    /// No errors.
    pub fn none() -> Self {
        Self::default()
    }

    /// From an API error: field details when it is a 422, else its message as the summary.
    pub fn from_api(e: &ApiError) -> Self {
        let body = e.body();
        let mut this = Self {
            summary: Some(body.message.clone()),
            ..Self::default()
        };
        for ErrorDetail { path, message } in body.details {
            this.by_path
                .entry(path)
                .and_modify(|m| {
                    m.push_str("; ");
                    m.push_str(&message);
                })
                .or_insert(message);
        }
        this
    }

    /// The message at `path`.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.by_path.get(path).map(String::as_str)
    }

    /// The message at `{prefix}.{field}`.
    pub fn at(&self, prefix: &str, field: &str) -> Option<&str> {
        self.get(&format!("{prefix}.{field}"))
    }

    /// The message at `rules[{index}].{field}`.
    pub fn rule(&self, index: &usize, field: &str) -> Option<&str> {
        self.get(&format!("rules[{index}].{field}"))
    }

    /// Whether any problem's path starts with `prefix`.
    pub fn any_under(&self, prefix: &str) -> bool {
        self.by_path.keys().any(|p| p.starts_with(prefix))
    }

    /// Every problem, path and message.
    pub fn all(&self) -> Vec<(&str, &str)> {
        self.by_path
            .iter()
            .map(|(p, m)| (p.as_str(), m.as_str()))
            .collect()
    }

    /// Whether there is nothing to show.
    pub fn is_empty(&self) -> bool {
        self.by_path.is_empty() && self.summary.is_none()
    }
}

/// Whether `e` is a validation error to show inline (a 422).
pub fn is_validation(e: &ApiError) -> bool {
    e.status_code() == axum::http::StatusCode::UNPROCESSABLE_ENTITY
}

/// `2026-12-04 03:10 UTC`.
pub fn when(at: &chrono::DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}
