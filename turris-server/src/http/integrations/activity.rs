//! The activity list and the per-property webhook status.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use turris_core::activity::{ActivityCursor, ActivityDetails, ActivityKind, Outcome};
use turris_core::integration::{SubscriptionManagement, WebhookStatus};
use turris_core::property::ObjectType;
use utoipa::{IntoParams, ToSchema};

use super::load;
use crate::app::AppState;
use crate::auth::{Authorized, IntegrationsRead};
use crate::error::ApiResult;
use crate::http::extract::{Json, Query};
use crate::http::pagination::PageParams;
use crate::store::HubSpotAuth;

/// One activity entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityEntry {
    /// Its id.
    pub id: u64,
    /// The kind (`create_company`, ...).
    pub kind: ActivityKind,
    /// The seed's title (`Create company in HubSpot`).
    pub title: &'static str,
    /// `inbound`, `outbound` or `internal`.
    pub direction: turris_core::activity::ActivityDirection,
    /// `success`, `failure` or `skipped`.
    pub status: Outcome,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// HubSpot status, error category, message, skip reason, Turris id, HubSpot id.
    pub details: ActivityDetails,
}

/// A page of activity, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityList {
    /// The entries.
    pub entries: Vec<ActivityEntry>,
    /// Pass as `cursor` for the next (older) page; `null` at the end of history.
    pub next_cursor: Option<String>,
}

/// `?cursor=...&limit=...&status=...`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ActivityParams {
    /// The `next_cursor` of the previous page; omit for the first page.
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<usize>,
    /// Only entries with this outcome (`success`, `failure` or `skipped`).
    pub status: Option<Outcome>,
}

/// Recent activity, newest first, in cursor pages, optionally of one outcome.
#[utoipa::path(get, path = "/api/v1/integrations/hubspot/activity", tag = "integrations",
    params(ActivityParams),
    responses((status = 200, body = ActivityList), (status = 400, description = "Invalid cursor", body = crate::error::ErrorBody),
        (status = 401), (status = 402), (status = 403)),
    security(("bearer" = [])))]
pub async fn activity(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsRead>,
    Query(params): Query<ActivityParams>,
) -> ApiResult<Json<ActivityList>> {
    let page = PageParams {
        cursor: params.cursor,
        limit: params.limit,
    };
    let cursor = page
        .cursor
        .as_deref()
        .map(ActivityCursor::parse)
        .transpose()
        .map_err(|_| crate::http::pagination::invalid_cursor())?;
    let result = state
        .db()
        .activity_page(auth.org(), cursor.as_ref(), params.status, page.limit())
        .await?;
    Ok(Json(ActivityList {
        entries: result
            .entries
            .into_iter()
            .map(|a| ActivityEntry {
                id: a.id.0,
                kind: a.entry.kind,
                title: a.entry.kind.title(),
                direction: a.entry.direction,
                status: a.entry.outcome,
                at: a.entry.at,
                details: a.entry.details,
            })
            .collect(),
        next_cursor: result.next.map(|c| c.as_str().to_owned()),
    }))
}

/// One mapped property's inbound webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct PropertyWebhookStatus {
    /// `company` or `contact`.
    pub object: ObjectType,
    /// The HubSpot property.
    pub property: String,
    /// `pending` until HubSpot confirms the subscription, then `live`; `managed_in_hubspot`
    /// for a private-app connection, whose subscriptions only an admin can create, in HubSpot.
    pub status: WebhookStatus,
    /// What to do, when it is up to a person (`managed_in_hubspot`).
    pub message: Option<String>,
}

/// Per-property webhook status of inbound-enabled objects.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookStatusList {
    /// One entry per mapped property of each inbound-enabled object.
    pub properties: Vec<PropertyWebhookStatus>,
}

/// The webhook status of each mapped property of inbound-enabled objects.
#[utoipa::path(get, path = "/api/v1/integrations/hubspot/webhook-status", tag = "integrations",
    responses((status = 200, body = WebhookStatusList), (status = 401), (status = 402), (status = 403)),
    security(("bearer" = [])))]
pub async fn webhook_status(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsRead>,
) -> ApiResult<Json<WebhookStatusList>> {
    let settings = load(&state, auth.org()).await?;
    // Private apps manage webhooks in HubSpot's UI only: HubSpot offers no API for them.
    let management = match state.db().hubspot_credentials(auth.org()).await? {
        Some(c) if matches!(c.auth, HubSpotAuth::PrivateApp { .. }) => {
            SubscriptionManagement::HubSpotUi
        }
        _ => SubscriptionManagement::Api,
    };
    let target = format!(
        "{}/hooks/hubspot",
        state.config().public_base_url.trim_end_matches('/')
    );
    let properties = settings
        .required_subscriptions()
        .into_iter()
        .map(|(object, property)| {
            let status = settings.webhook_status(object, &property, management);
            let message = (status == WebhookStatus::ManagedInHubspot).then(|| {
                let object_name = match object {
                    ObjectType::Company => "company",
                    ObjectType::Contact => "contact",
                };
                format!(
                    "private apps manage webhooks in HubSpot only: in the private app's \
                     Webhooks tab, set the target URL to {target} and subscribe to \
                     {object_name}.propertyChange for {property}"
                )
            });
            PropertyWebhookStatus {
                object,
                property,
                status,
                message,
            }
        })
        .collect();
    Ok(Json(WebhookStatusList { properties }))
}
