//! The page's forms: connection (private app, reconnect, delete), settings (mapping, sync,
//! invitations, a needs-attention contract) and reconciliation. Each goes through the API's
//! handler; a 422 re-renders the page with the form's input and errors.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use turris_core::invitation::ContractRule;

use super::forms::{invitations_from, mapping_from, matrix_from};
use super::views::{ReconPartial, recon_view};
use super::{Overrides, PAGE, PageQuery, load_page, rerender, saved};
use crate::app::AppState;
use crate::auth::{IntegrationsCreate, IntegrationsDelete, IntegrationsRead, IntegrationsUpdate};
use crate::console::errors::render;
use crate::console::integrations::{go_to_hubspot, refused_to};
use crate::console::{ConsoleError, ConsoleResult, FieldErrors, Posted, Signed, is_validation};
use crate::crypto::SecretString;
use crate::error::ApiError;
use crate::http::extract::{Json, Path};
use crate::http::integrations::{self as api, PrivateAppConnect, PrivateAppReconnect};
use crate::http::reconciliation::{self as recon, StartReconciliation};

// ---------------------------------------------------------------------------------------------
// Connection

pub(super) async fn private_app(State(state): State<AppState>, posted: Posted) -> ConsoleResult {
    let session = posted.session;
    let auth = session.authorize::<IntegrationsCreate>()?;
    let portal_text = posted
        .form
        .get("portal_id")
        .unwrap_or_default()
        .trim()
        .to_owned();
    let token = posted.form.get("token").unwrap_or_default().to_owned();
    let Ok(portal_id) = portal_text.parse::<u64>() else {
        let e = ApiError::invalid_field("portal_id", "enter the portal (hub) id: digits only");
        return rerender(
            &state,
            &session,
            Overrides {
                private_app: Some((portal_text, FieldErrors::from_api(&e))),
                ..Overrides::default()
            },
        )
        .await;
    };
    let body = PrivateAppConnect {
        portal_id,
        token: SecretString::new(token),
        webhook_secret: posted
            .form
            .non_empty("webhook_secret")
            .map(SecretString::new),
    };
    match api::connect_private_app(State(state.clone()), auth, Json(body)).await {
        Ok(Json(c)) => {
            saved(
                &state,
                &session,
                &format!("HubSpot is connected (portal {}).", c.portal_id),
                "connection",
            )
            .await
        }
        Err(e) if is_validation(&e) || e.status_code() == StatusCode::BAD_GATEWAY => {
            rerender(
                &state,
                &session,
                Overrides {
                    private_app: Some((portal_text, FieldErrors::from_api(&e))),
                    ..Overrides::default()
                },
            )
            .await
        }
        Err(e) => refused_to(&state, &session, e, PAGE).await,
    }
}

pub(super) async fn reconnect(
    State(state): State<AppState>,
    posted: Posted,
) -> ConsoleResult<Response> {
    let session = posted.session;
    let auth = session.authorize::<IntegrationsUpdate>()?;
    match api::reconnect(State(state.clone()), auth).await {
        Ok(Json(redirect)) => go_to_hubspot(&state, &session, redirect).await,
        Err(e) => refused_to(&state, &session, e, PAGE).await,
    }
}

pub(super) async fn reconnect_private_app(
    State(state): State<AppState>,
    posted: Posted,
) -> ConsoleResult {
    let session = posted.session;
    let auth = session.authorize::<IntegrationsUpdate>()?;
    let body = PrivateAppReconnect {
        token: SecretString::new(posted.form.get("token").unwrap_or_default()),
        webhook_secret: posted
            .form
            .non_empty("webhook_secret")
            .map(SecretString::new),
    };
    match api::reconnect_private_app(State(state.clone()), auth, Json(body)).await {
        Ok(_) => saved(&state, &session, "HubSpot is reconnected.", "connection").await,
        Err(e) if is_validation(&e) => {
            rerender(
                &state,
                &session,
                Overrides {
                    reconnect: Some(FieldErrors::from_api(&e)),
                    ..Overrides::default()
                },
            )
            .await
        }
        Err(e) => refused_to(&state, &session, e, PAGE).await,
    }
}

pub(super) async fn delete(State(state): State<AppState>, posted: Posted) -> ConsoleResult {
    let session = posted.session;
    let auth = session.authorize::<IntegrationsDelete>()?;
    match api::delete_hubspot(State(state.clone()), auth).await {
        Ok(Json(deleted)) => {
            session
                .flash(
                    &state,
                    "success",
                    &format!("The HubSpot integration was deleted. {}", deleted.reminder),
                )
                .await;
            Ok(Redirect::to("/console/integrations").into_response())
        }
        Err(e) => refused_to(&state, &session, e, PAGE).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Settings

pub(super) async fn save_mapping(State(state): State<AppState>, posted: Posted) -> ConsoleResult {
    let session = posted.session;
    let auth = session.authorize::<IntegrationsUpdate>()?;
    let mapping = mapping_from(&posted.form);
    match api::put_mapping(State(state.clone()), auth, Json(mapping.clone())).await {
        Ok(_) => saved(&state, &session, "Field mapping saved.", "mapping").await,
        Err(e) if is_validation(&e) => {
            rerender(
                &state,
                &session,
                Overrides {
                    mapping: Some((mapping, FieldErrors::from_api(&e))),
                    ..Overrides::default()
                },
            )
            .await
        }
        Err(e) => refused_to(&state, &session, e, PAGE).await,
    }
}

pub(super) async fn save_sync(State(state): State<AppState>, posted: Posted) -> ConsoleResult {
    let session = posted.session;
    let auth = session.authorize::<IntegrationsUpdate>()?;
    let matrix = matrix_from(&posted.form);
    match api::put_sync(State(state.clone()), auth, Json(matrix)).await {
        Ok(_) => saved(&state, &session, "Sync settings saved.", "sync").await,
        Err(e) if is_validation(&e) => {
            rerender(
                &state,
                &session,
                Overrides {
                    matrix: Some((matrix, FieldErrors::from_api(&e))),
                    ..Overrides::default()
                },
            )
            .await
        }
        Err(e) => refused_to(&state, &session, e, PAGE).await,
    }
}

/// Gives a needs-attention invitation the contract the person picked (the API's rules).
pub(super) async fn assign_contract(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    posted: Posted,
) -> ConsoleResult {
    let session = posted.session;
    let auth = session.authorize::<IntegrationsUpdate>()?;
    let Ok(id) = id.parse::<uuid::Uuid>() else {
        return refused_to(&state, &session, ApiError::not_found("invitation"), PAGE).await;
    };
    let template = posted.form.get("template").unwrap_or_default();
    let body = match turris_core::ids::ContractTemplateId::parse(template) {
        Ok(template) => api::AssignContract { template },
        Err(_) => {
            let e = ApiError::invalid_field("template", "pick a contract template");
            return refused_to(&state, &session, e, PAGE).await;
        }
    };
    let path = crate::http::extract::Path(crate::store::InvitationId(id));
    match api::assign_contract(State(state.clone()), auth, path, Json(body)).await {
        Ok(Json(invitation)) => {
            let text = match invitation.sent_to {
                Some(to) => format!("Invitation sent to {to}."),
                None => "Contract assigned; the invitation is sent once the agency has a contact with an email.".to_owned(),
            };
            saved(&state, &session, &text, "invitations").await
        }
        Err(e) => refused_to(&state, &session, e, PAGE).await,
    }
}

pub(super) async fn save_invitations(
    State(state): State<AppState>,
    posted: Posted,
) -> ConsoleResult {
    let session = posted.session;
    let auth = session.authorize::<IntegrationsUpdate>()?;
    let mut settings = invitations_from(&posted.form);
    // Editing the rule list (add, remove, reorder) re-renders without saving.
    let action = posted.form.get("action").unwrap_or("save");
    let index = |prefix: &str| {
        action
            .strip_prefix(prefix)
            .and_then(|i| i.parse::<usize>().ok())
            .filter(|&i| i < settings.rules.len())
    };
    let edited = if action == "add_rule" {
        settings.rules.push(ContractRule::default());
        true
    } else if let Some(i) = index("remove:") {
        settings.rules.remove(i);
        true
    } else if let Some(i) = index("up:") {
        if i > 0 {
            settings.rules.swap(i, i - 1);
        }
        true
    } else if let Some(i) = index("down:") {
        if i + 1 < settings.rules.len() {
            settings.rules.swap(i, i + 1);
        }
        true
    } else {
        false
    };
    if edited {
        let page = load_page(
            &state,
            &session,
            PageQuery::default(),
            Overrides {
                invitations: Some((settings, FieldErrors::none())),
                ..Overrides::default()
            },
        )
        .await?;
        return Ok(render(&page));
    }
    match api::put_invitations(State(state.clone()), auth, Json(settings.clone())).await {
        Ok(_) => {
            saved(
                &state,
                &session,
                "Agency invitation settings saved.",
                "invitations",
            )
            .await
        }
        Err(e) if is_validation(&e) => {
            rerender(
                &state,
                &session,
                Overrides {
                    invitations: Some((settings, FieldErrors::from_api(&e))),
                    ..Overrides::default()
                },
            )
            .await
        }
        Err(e) => refused_to(&state, &session, e, PAGE).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Reconciliation

pub(super) async fn start_reconciliation(
    State(state): State<AppState>,
    posted: Posted,
) -> ConsoleResult {
    let session = posted.session;
    let auth = session.authorize::<IntegrationsUpdate>()?;
    let body = StartReconciliation {
        object: posted.form.non_empty("object"),
        create_missing_in_turris: posted.form.checked("create_missing_in_turris"),
        create_missing_in_hubspot: posted.form.checked("create_missing_in_hubspot"),
    };
    match recon::start(State(state.clone()), auth, Json(body)).await {
        Ok(_) => {
            saved(
                &state,
                &session,
                "Bulk reconciliation started.",
                "reconciliation",
            )
            .await
        }
        Err(e) if is_validation(&e) || e.status_code() == StatusCode::CONFLICT => {
            rerender(
                &state,
                &session,
                Overrides {
                    reconciliation: Some(FieldErrors::from_api(&e)),
                    ..Overrides::default()
                },
            )
            .await
        }
        Err(e) => refused_to(&state, &session, e, PAGE).await,
    }
}

/// The progress card alone, which htmx polls while the job runs.
pub(super) async fn reconciliation_partial(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    session: Signed,
) -> ConsoleResult {
    let auth = session.authorize::<IntegrationsRead>()?;
    let id = uuid::Uuid::parse_str(&id)
        .map(crate::store::JobId)
        .map_err(|_| ConsoleError::Api(ApiError::not_found("reconciliation")))?;
    let Json(r) = recon::get(State(state), auth, Path(id)).await?;
    Ok(render(&ReconPartial { r: recon_view(r) }))
}
