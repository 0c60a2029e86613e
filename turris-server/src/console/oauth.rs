//! The HubSpot OAuth round trip from the browser.
//!
//! The console starts the flow through the API's own `connect`/`reconnect` handlers and binds
//! the returned `state` to the session ([`super::session::bind_oauth_state`]). HubSpot sends
//! the browser back to the API's callback; this middleware, around that one route, checks that
//! a console-started `state` comes back to the session that started it (another session, or a
//! browser without its cookie, is refused before the state is used), lets the API's callback do
//! the work, and turns its JSON answer into a redirect to the HubSpot page with a banner.
//! Flows started through the API pass through untouched.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::session::{self, StateOwner};
use super::{ConsoleError, cookies};
use crate::app::AppState;
use crate::error::ApiError;

/// The page the round trip returns to.
pub const RETURN_TO: &str = "/console/integrations/hubspot";

/// Middleware over the whole router; only the OAuth callback's path is looked at.
pub async fn return_to_console(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let callback_path = url::Url::parse(&state.config().redirect_url())
        .map(|u| u.path().to_owned())
        .unwrap_or_else(|_| "/api/v1/integrations/hubspot/callback".to_owned());
    if request.uri().path() != callback_path {
        return next.run(request).await;
    }
    let oauth_state = request.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
    });
    let Some(oauth_state) = oauth_state.filter(|s| !s.is_empty()) else {
        return next.run(request).await;
    };
    let presented = cookies::session_id(request.headers());
    match session::oauth_state_owner(state.database(), &oauth_state, presented.as_deref()).await {
        Ok(StateOwner::Api) => next.run(request).await,
        Ok(StateOwner::OtherSession) => {
            tracing::warn!("console: an OAuth callback came back to another session; refused");
            ConsoleError::Api(ApiError::new(
                StatusCode::BAD_REQUEST,
                "session_mismatch",
                "This HubSpot connection was started from another console session. Sign in and start again from the Connect button.",
            ))
            .into_response()
        }
        Ok(StateOwner::ThisSession) => {
            let id = presented.unwrap_or_default();
            let response = next.run(request).await;
            let ok = response.status().is_success();
            let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
                .await
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .unwrap_or_default();
            let (kind, text) = if ok {
                (
                    "success",
                    format!(
                        "HubSpot is connected (portal {}).",
                        body["portal_id"].as_u64().unwrap_or_default()
                    ),
                )
            } else {
                (
                    "error",
                    format!(
                        "HubSpot was not connected: {}",
                        body["message"].as_str().unwrap_or("the connection failed")
                    ),
                )
            };
            if let Err(e) = session::set_flash(state.database(), &id, kind, &text).await {
                return ConsoleError::from(e).into_response();
            }
            Redirect::to(RETURN_TO).into_response()
        }
        Err(e) => ConsoleError::from(e).into_response(),
    }
}
