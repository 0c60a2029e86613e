//! `/api/v1/openapi.json`: the OpenAPI document, written with utoipa next to each handler.
//!
//! The API test compares the document's paths and methods with [`super::route_table`], so a
//! route cannot be added without being documented.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::Routes;
use super::extract::Json;

/// The routes.
pub fn routes() -> Routes {
    Routes::new().get("/api/v1/openapi.json", openapi_json)
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token of an organization's user (`trs_...`)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "admin",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The bootstrap admin token (`TURRIS_ADMIN_TOKEN`)"))
                    .build(),
            ),
        );
    }
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Turris Integrations",
        description = "The settings API of the Turris integrations reference server: HubSpot integration, webhooks and Turris records. Every error answers `{\"code\", \"message\", \"details\": [{\"path\", \"message\"}]}`."
    ),
    paths(
        super::health::healthz,
        super::health::readyz,
        super::admin::list_organizations,
        super::admin::create_organization,
        super::admin::get_organization,
        super::admin::set_subscription,
        super::admin::list_roles,
        super::admin::create_role,
        super::admin::list_users,
        super::admin::create_user,
        super::admin::list_tokens,
        super::admin::create_token,
        super::admin::revoke_token,
        super::integrations::list_cards,
        super::integrations::get_hubspot,
        super::integrations::connect,
        super::integrations::reconnect,
        super::integrations::callback,
        super::integrations::connect_private_app,
        super::integrations::reconnect_private_app,
        super::integrations::delete_hubspot,
        super::integrations::properties,
        super::integrations::get_mapping,
        super::integrations::put_mapping,
        super::integrations::get_sync,
        super::integrations::put_sync,
        super::integrations::get_invitations,
        super::integrations::put_invitations,
        super::integrations::activity,
        super::integrations::webhook_status,
        super::webhooks::list,
        super::webhooks::create,
        super::webhooks::get,
        super::webhooks::delete,
        super::webhooks::history,
        super::webhooks::logs,
        super::webhooks::resend,
        super::records::list_agencies,
        super::records::create_agency,
        super::records::get_agency,
        super::records::update_agency,
        super::records::list_contacts,
        super::records::create_contact,
        super::records::get_contact,
        super::records::update_contact,
        super::records::list_agents,
        super::records::create_agent,
        super::records::get_agent,
        super::records::update_agent,
        super::records::list_templates,
        super::records::create_template,
        super::records::get_template,
        super::records::list_invitations,
        super::records::get_invitation,
        super::records::set_compliance,
        super::records::get_compliance,
        super::records::create_nipr_sync,
        super::records::list_nipr_syncs,
        super::records::create_agreement,
        super::records::list_agreements,
        super::records::get_agreement,
        openapi_json
    ),
    components(schemas(crate::error::ErrorBody, crate::error::ErrorDetail)),
    modifiers(&BearerAuth),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "admin", description = "Organizations, roles, users and tokens (bootstrap admin token)"),
        (name = "integrations", description = "The HubSpot integration"),
        (name = "webhooks", description = "Outbound webhooks"),
        (name = "records", description = "Turris records"),
        (name = "meta", description = "This document"),
    )
)]
pub struct ApiDoc;

/// The OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}
