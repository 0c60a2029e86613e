//! Property discovery: the HubSpot properties a filter or mapping can use, with their types.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use turris_core::property::{ObjectSchema, ObjectType};
use utoipa::{IntoParams, ToSchema};

use super::{connection_error, load, not_connected, stored_credentials_failed};
use crate::app::AppState;
use crate::auth::{Authorized, IntegrationsRead};
use crate::error::ApiResult;
use crate::http::extract::{Json, Query};
use crate::hubspot::{self};

/// `?refresh=true` refetches from HubSpot.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PropertiesParams {
    /// Refetch from HubSpot instead of answering from the cache.
    #[serde(default)]
    pub refresh: bool,
}

/// The cached company and contact properties.
#[derive(Debug, Serialize, ToSchema)]
pub struct Properties {
    /// Company properties.
    pub companies: ObjectSchema,
    /// Contact properties.
    pub contacts: ObjectSchema,
}

/// The cached schemas, fetching what is missing (or everything on `refresh`).
pub(crate) async fn schemas(
    state: &AppState,
    org: &turris_core::ids::OrganizationId,
    refresh: bool,
) -> ApiResult<(ObjectSchema, ObjectSchema)> {
    let settings = load(state, org).await?;
    let cached = (
        settings.property_schema(ObjectType::Company).cloned(),
        settings.property_schema(ObjectType::Contact).cloned(),
    );
    if let (Some(companies), Some(contacts), false) = (cached.0.clone(), cached.1.clone(), refresh)
    {
        return Ok((companies, contacts));
    }
    let credentials = state
        .db()
        .hubspot_credentials(org)
        .await?
        .ok_or_else(not_connected)?;
    let client = match hubspot::client(state, org, &credentials) {
        Ok(client) => client,
        Err(e) => return Err(connection_error(e)),
    };
    let mut fetched = Vec::new();
    for (object, cache) in [
        (ObjectType::Company, cached.0),
        (ObjectType::Contact, cached.1),
    ] {
        let schema = match cache {
            Some(schema) if !refresh => schema,
            _ => {
                let schema = match hubspot::fetch_schema(&client, object).await {
                    Ok(schema) => schema,
                    Err(e) => return Err(stored_credentials_failed(state, org, e).await),
                };
                state.db().save_property_schema(org, &schema).await?;
                schema
            }
        };
        fetched.push(schema);
    }
    let contacts = fetched.pop().expect("two schemas");
    let companies = fetched.pop().expect("two schemas");
    Ok((companies, contacts))
}

/// Company and contact properties (cached; `?refresh=true` refetches).
#[utoipa::path(get, path = "/api/v1/integrations/hubspot/properties", tag = "integrations",
    params(PropertiesParams),
    responses((status = 200, body = Properties), (status = 401), (status = 402), (status = 403),
        (status = 409, description = "Not connected", body = crate::error::ErrorBody),
        (status = 502, description = "HubSpot failed", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn properties(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsRead>,
    Query(params): Query<PropertiesParams>,
) -> ApiResult<Json<Properties>> {
    let (companies, contacts) = schemas(&state, auth.org(), params.refresh).await?;
    Ok(Json(Properties {
        companies,
        contacts,
    }))
}
