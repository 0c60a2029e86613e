//! Settings › Integrations: a card per integration, the premium gate, Connect / Manage.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use turris_core::permissions::{Area, Capability};

use super::errors::render;
use super::{ConsoleError, ConsoleResult, Layout, Posted, Signed, session};
use crate::app::AppState;
use crate::auth::{IntegrationsCreate, IntegrationsRead};
use crate::http::integrations::{self as api, IntegrationCard};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/integrations", get(page))
        .route("/console/integrations/hubspot/connect", post(connect))
}

#[derive(Template)]
#[template(path = "console/integrations.html")]
struct IntegrationsPage {
    l: Layout,
    cards: Vec<IntegrationCard>,
    /// The organization has no subscription: "Become a Customer" instead of the cards.
    premium_gate: bool,
    can_connect: bool,
}

impl IntegrationsPage {
    fn status_label(&self, card: &IntegrationCard) -> &'static str {
        status_label(card.status)
    }
    fn status_key(&self, card: &IntegrationCard) -> &'static str {
        status_key(card.status)
    }
    fn is_connect(&self, card: &IntegrationCard) -> bool {
        matches!(card.action, api::CardAction::Connect)
    }
    fn health(&self, card: &IntegrationCard) -> Option<HealthLine> {
        card.health.as_ref().map(HealthLine::of)
    }
}

/// A connection's health as the card and the HubSpot page show it.
pub(super) struct HealthLine {
    /// When HubSpot last took a write (`never`).
    pub(super) last_write: String,
    /// Writes that failed in the last 24 hours.
    pub(super) failures: u64,
    /// The latest failure: when, what and why.
    pub(super) last_failure: Option<String>,
    /// What to do about them.
    pub(super) advice: Option<&'static str>,
}

impl HealthLine {
    pub(super) fn of(health: &api::CardHealth) -> Self {
        HealthLine {
            last_write: health
                .last_success_at
                .as_ref()
                .map_or("never".to_owned(), crate::console::when),
            failures: health.failures_24h,
            last_failure: match (&health.last_failure_at, &health.last_failure) {
                (Some(at), Some(what)) => Some(format!("{}: {what}", crate::console::when(at))),
                _ => None,
            },
            advice: health.advice,
        }
    }
}

/// The pill's label.
pub(super) fn status_label(s: turris_core::integration::ConnectionStatus) -> &'static str {
    use turris_core::integration::ConnectionStatus as S;
    match s {
        S::Connected => "Connected",
        S::NotConnected => "Not Connected",
        S::Error => "Error",
    }
}

/// The pill's colour class.
pub(super) fn status_key(s: turris_core::integration::ConnectionStatus) -> &'static str {
    use turris_core::integration::ConnectionStatus as S;
    match s {
        S::Connected => "connected",
        S::NotConnected => "not_connected",
        S::Error => "error",
    }
}

async fn page(State(state): State<AppState>, session: Signed) -> ConsoleResult {
    let l = session.layout(&state, "Integrations", "integrations").await;
    let can_connect = session.can(Area::Integrations, Capability::Create);
    let auth = match session.authorize::<IntegrationsRead>() {
        Ok(auth) => auth,
        Err(e) if e.status_code() == StatusCode::PAYMENT_REQUIRED => {
            return Ok(render(&IntegrationsPage {
                l,
                cards: Vec::new(),
                premium_gate: true,
                can_connect,
            }));
        }
        Err(e) => return Err(e.into()),
    };
    let crate::http::extract::Json(cards) = api::list_cards(State(state.clone()), auth).await?;
    Ok(render(&IntegrationsPage {
        l,
        cards: cards.integrations,
        premium_gate: false,
        can_connect,
    }))
}

/// The `state` parameter of an authorize URL.
pub(super) fn state_of(authorize_url: &str) -> Option<String> {
    url::Url::parse(authorize_url).ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
    })
}

/// Sends the browser to HubSpot with a `state` bound to this session.
pub(super) async fn go_to_hubspot(
    state: &AppState,
    session: &Signed,
    redirect: api::AuthorizeRedirect,
) -> ConsoleResult {
    let oauth_state = state_of(&redirect.authorize_url)
        .ok_or_else(|| crate::error::ApiError::hubspot("the authorize URL has no state"))?;
    session::bind_oauth_state(state.database(), session.id(), &oauth_state).await?;
    Ok(Redirect::to(&redirect.authorize_url).into_response())
}

/// What to do with an API error after a form: forged or premium requests get the error page,
/// anything else goes back to `page` as a banner.
pub(super) async fn refused_to(
    state: &AppState,
    session: &Signed,
    e: crate::error::ApiError,
    page: &str,
) -> ConsoleResult {
    if matches!(
        e.status_code(),
        StatusCode::FORBIDDEN | StatusCode::PAYMENT_REQUIRED | StatusCode::UNAUTHORIZED
    ) || e.status_code().is_server_error()
    {
        return Err(ConsoleError::Api(e));
    }
    session.flash(state, "error", &e.body().message).await;
    Ok(Redirect::to(page).into_response())
}

async fn connect(State(state): State<AppState>, posted: Posted) -> ConsoleResult<Response> {
    let session = posted.session;
    let auth = session.authorize::<IntegrationsCreate>()?;
    match api::connect(State(state.clone()), auth).await {
        Ok(crate::http::extract::Json(redirect)) => go_to_hubspot(&state, &session, redirect).await,
        Err(e) => refused_to(&state, &session, e, super::oauth::RETURN_TO).await,
    }
}
