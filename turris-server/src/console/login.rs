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
        .route("/console/login/link", get(login_link))
        .route("/console/logout", post(logout))
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Deserialize)]
struct LoginQuery {
    signed_out: Option<String>,
}

async fn login_page(Query(q): Query<LoginQuery>) -> Response {
    render(&LoginPage {
        error: None,
        notice: q.signed_out.map(|_| "You are signed out.".to_owned()),
    })
}

#[derive(Deserialize)]
struct TokenForm {
    token: String,
}

impl std::fmt::Debug for TokenForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenForm([redacted])")
    }
}

fn refused(message: &str) -> Response {
    let mut response = render(&LoginPage {
        error: Some(message.to_owned()),
        notice: None,
    });
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response
}

/// Opens a session for a token hash and sends the browser to the console.
async fn open_session(state: &AppState, hash: &crate::crypto::TokenHash) -> Response {
    let now = Utc::now();
    match state.db().authenticate(hash, now).await {
        Ok(Some(_)) => {}
        Ok(None) => return refused("This token is not valid, or it was revoked."),
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

async fn login(State(state): State<AppState>, Form(form): Form<TokenForm>) -> Response {
    let token = form.token.trim();
    if token.is_empty() {
        return refused("Paste an API token to sign in.");
    }
    open_session(&state, &ApiToken::from_presented(token).hash()).await
}

#[derive(Deserialize)]
struct LinkQuery {
    code: Option<String>,
}

async fn login_link(State(state): State<AppState>, Query(q): Query<LinkQuery>) -> Response {
    let Some(code) = q.code.filter(|c| !c.is_empty()) else {
        return refused("This sign-in link is incomplete.");
    };
    match session::consume_login_link(state.database(), &code, Utc::now()).await {
        Ok(Some(hash)) => open_session(&state, &hash).await,
        Ok(None) => refused(
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
