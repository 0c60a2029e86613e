//! Sign-in (paste an API token, or open a one-time link) and sign-out.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::Deserialize;

use super::errors::render;
use super::{Posted, cookies, session};
use crate::app::AppState;
use crate::crypto::ApiToken;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/login", get(login_page).post(login))
        .route("/console/login/link", get(login_link_page).post(login_link))
        .route("/console/logout", post(logout))
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    error: Option<String>,
    notice: Option<String>,
    csrf: String,
    /// A one-time sign-in link's code: the page asks to confirm instead of for a token.
    link_code: Option<String>,
}

/// The sign-in form has no session yet: its CSRF token is a random value in a short-lived
/// cookie of its own, which the form must repeat (double submit), so another site cannot sign
/// a browser in as someone else.
const LOGIN_CSRF_COOKIE: &str = "turris_login_csrf";

fn login_csrf_cookie(value: &str, secure: bool) -> String {
    format!(
        "{LOGIN_CSRF_COOKIE}={value}; Path=/console/login; HttpOnly; SameSite=Strict; Max-Age=3600{}",
        if secure { "; Secure" } else { "" }
    )
}

fn presented_login_csrf(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == LOGIN_CSRF_COOKIE && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

/// The sign-in page with a fresh form token (and its cookie).
fn login_form(
    state: &AppState,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    form_page(state, status, error, notice, None)
}

/// The sign-in page: the token form, or the confirmation of a one-time link.
fn form_page(
    state: &AppState,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
    link_code: Option<String>,
) -> Response {
    let csrf = match crate::crypto::random_token_text() {
        Ok(t) => t,
        Err(e) => {
            return super::ConsoleError::Api(crate::error::ApiError::internal("random", &e))
                .into_response();
        }
    };
    let secure = state.config().public_base_url.starts_with("https://");
    let mut response = render(&LoginPage {
        error,
        notice,
        csrf: csrf.clone(),
        link_code,
    });
    *response.status_mut() = status;
    if let Ok(value) = login_csrf_cookie(&csrf, secure).parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize)]
struct LoginQuery {
    signed_out: Option<String>,
}

async fn login_page(State(state): State<AppState>, Query(q): Query<LoginQuery>) -> Response {
    login_form(
        &state,
        StatusCode::OK,
        None,
        q.signed_out.map(|_| "You are signed out.".to_owned()),
    )
}

#[derive(Deserialize)]
struct TokenForm {
    token: String,
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

impl std::fmt::Debug for TokenForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenForm([redacted])")
    }
}

fn refused(state: &AppState, message: &str) -> Response {
    login_form(
        state,
        StatusCode::UNAUTHORIZED,
        Some(message.to_owned()),
        None,
    )
}

/// Opens a session for a token hash and sends the browser to the console.
async fn open_session(state: &AppState, hash: &crate::crypto::TokenHash) -> Response {
    let now = Utc::now();
    match state.db().authenticate(hash, now).await {
        Ok(Some(_)) => {}
        Ok(None) => return refused(state, "This token is not valid, or it was revoked."),
        Err(e) => return super::ConsoleError::from(e).into_response(),
    }
    let id = match session::create(state.database(), hash, now).await {
        Ok(id) => id,
        Err(e) => return super::ConsoleError::from(e).into_response(),
    };
    let secure = state.config().public_base_url.starts_with("https://");
    tracing::info!("console: session opened");
    (
        [(header::SET_COOKIE, cookies::session(&id, secure))],
        Redirect::to(super::PREFIX),
    )
        .into_response()
}

/// Whether the form repeats the token of its own sign-in cookie (double submit).
fn form_is_ours(headers: &axum::http::HeaderMap, csrf: &str) -> bool {
    presented_login_csrf(headers).is_some_and(|expected| {
        !csrf.is_empty() && crate::crypto::constant_time_eq(expected.as_bytes(), csrf.as_bytes())
    })
}

async fn login(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    if !form_is_ours(&headers, &form.csrf) {
        return super::ConsoleError::Csrf.into_response();
    }
    let token = form.token.trim();
    if token.is_empty() {
        return refused(&state, "Paste an API token to sign in.");
    }
    open_session(&state, &ApiToken::from_presented(token).hash()).await
}

#[derive(Deserialize)]
struct LinkQuery {
    code: Option<String>,
}

/// Opening a sign-in link only asks to confirm: chat apps and mail scanners fetch links to
/// preview them, and a `GET` that signed in would spend the one use before the person clicks.
async fn login_link_page(State(state): State<AppState>, Query(q): Query<LinkQuery>) -> Response {
    let Some(code) = q.code.filter(|c| !c.is_empty()) else {
        return refused(&state, "This sign-in link is incomplete.");
    };
    form_page(&state, StatusCode::OK, None, None, Some(code))
}

#[derive(Deserialize)]
struct LinkForm {
    #[serde(default)]
    code: String,
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

impl std::fmt::Debug for LinkForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkForm([redacted])")
    }
}

/// The confirmation: spends the link and opens a session.
async fn login_link(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Form(form): Form<LinkForm>,
) -> Response {
    if !form_is_ours(&headers, &form.csrf) {
        return super::ConsoleError::Csrf.into_response();
    }
    if form.code.is_empty() {
        return refused(&state, "This sign-in link is incomplete.");
    }
    match session::consume_login_link(state.database(), &form.code, Utc::now()).await {
        Ok(Some(hash)) => open_session(&state, &hash).await,
        Ok(None) => refused(
            &state,
            "This sign-in link was already used or has expired. Ask for a new one (`turris-server token create --login-link`) or paste an API token.",
        ),
        Err(e) => super::ConsoleError::from(e).into_response(),
    }
}

async fn logout(State(state): State<AppState>, posted: Posted) -> Response {
    if let Err(e) = session::delete(state.database(), posted.session.id()).await {
        return super::ConsoleError::from(e).into_response();
    }
    let secure = state.config().public_base_url.starts_with("https://");
    (
        [(header::SET_COOKIE, cookies::clear(secure))],
        Redirect::to("/console/login?signed_out=1"),
    )
        .into_response()
}

/// The sign-in link for a token: `{public base}/console/login/link?code=...` (one use,
/// 15 minutes). For `token create --login-link` and the demo.
pub async fn login_link_for(
    database: &crate::store::Database,
    public_base_url: &str,
    token: &ApiToken,
) -> crate::store::DbResult<String> {
    let code = session::create_login_link(database, &token.hash(), Utc::now()).await?;
    Ok(format!(
        "{}/console/login/link?code={code}",
        public_base_url.trim_end_matches('/')
    ))
}
