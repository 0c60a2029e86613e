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
    /// `live` once HubSpot confirms the subscription or an event for the property arrives;
    /// before that `pending` while Turris creates it through HubSpot's API (legacy public
    /// apps), or `managed_in_hubspot` when only a person can declare it (a private app's
    /// Webhooks tab, a project-based app's `webhooks-hsmeta.json`).
    pub status: WebhookStatus,
    /// What to do while it is not `live`.
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
    let management = crate::sync::subscriptions::management(&state, auth.org()).await?;
    let target = format!(
        "{}/hooks/hubspot",
        state.config().public_base_url.trim_end_matches('/')
    );
    let properties = settings
        .required_subscriptions()
        .into_iter()
        .map(|(object, property)| {
            let status = settings.webhook_status(object, &property, management);
            let message = status_message(status, management, object, &property, &target);
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

/// What to do about a property's webhook that is not `live` yet.
fn status_message(
    status: WebhookStatus,
    management: SubscriptionManagement,
    object: ObjectType,
    property: &str,
    target: &str,
) -> Option<String> {
    let object_name = object.singular();
    let live_when = "it turns live when the first change event for the property arrives";
    match (status, management) {
        (WebhookStatus::Live, _) => None,
        (_, SubscriptionManagement::Api) => Some(format!(
            "Turris is creating the {object_name}.propertyChange subscription for {property} \
             through HubSpot's webhooks API; if it stays pending, check \
             TURRIS_HUBSPOT_DEVELOPER_API_KEY and the activity log"
        )),
        (_, SubscriptionManagement::HubSpotUi) => Some(format!(
            "declare it in HubSpot: in a private app's Webhooks tab set the target URL to \
             {target} and subscribe to {object_name}.propertyChange for {property} (for a \
             project app with static auth, `turris-server hubspot-project --static-auth` \
             writes the webhooks file); {live_when}"
        )),
        (_, _) => Some(format!(
            "declare it in the app's project: `turris-server hubspot-project --organization \
             <id> --out <folder>` writes webhooks-hsmeta.json with object.propertyChange of \
             {object_name} for {property} and the target {target}; upload it with `hs project \
             upload`; {live_when}"
        )),
    }
}
