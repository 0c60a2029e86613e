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

/// Gives every documented error response (4xx, 5xx) the `ErrorBody` schema and a description.
struct ErrorBodies;

impl Modify for ErrorBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{Content, Ref, RefOr};
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                for (status, response) in operation.responses.responses.iter_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    if !(status.starts_with('4') || status.starts_with('5')) {
                        continue;
                    }
                    if response.description.is_empty() {
                        response.description = default_description(status).to_owned();
                    }
                    if response.content.is_empty() {
                        response.content.insert(
                            "application/json".to_owned(),
                            Content::new(Some(Ref::from_schema_name("ErrorBody"))),
                        );
                    }
                }
            }
        }
    }
}

fn default_description(status: &str) -> &'static str {
    match status {
        "400" => "Bad request",
        "401" => "No token, or an unknown or revoked one",
        "402" => "The organization has no active subscription (`subscription_required`)",
        "403" => "The role lacks the permission",
        "404" => "Not found (or another organization's)",
        "405" => "Method not allowed",
        "409" => "Conflict",
        "413" => "The body is too large",
        "422" => "Invalid fields, each with its path",
        "502" => "HubSpot failed",
        "503" => "Unavailable",
        _ => "Error",
    }
}

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
            "metrics",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The metrics token (`TURRIS_METRICS_TOKEN`)"))
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
        description = "The settings API of the Turris integrations reference server: HubSpot integration, webhooks and Turris records. Every error answers `{\"code\", \"message\", \"details\": [{\"path\", \"message\"}]}`. A token's role grants `read`, `create`, `update` and `delete` in the areas `integrations`, `webhooks` and `records` (each operation's tag names its area; `GET` needs read, `POST` create, `PUT` update, `DELETE` delete, except integrations' reconnect, mapping, sync, invitation and reconciliation writes and webhooks' resend, secret rotation and enable, which need update); 402 answers an organization without an active subscription, 403 a role without the grant."
    ),
    paths(
        super::health::healthz,
        super::health::readyz,
        super::metrics::metrics,
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
        super::integrations::get_inbound_mode,
        super::integrations::put_inbound_mode,
        super::integrations::get_invitations,
        super::integrations::put_invitations,
        super::integrations::assign_contract,
        super::integrations::activity,
        super::integrations::webhook_status,
        super::integrations::get_tags,
        super::integrations::put_tags,
        super::integrations::get_notes,
        super::integrations::put_notes,
        super::integrations::sync_records,
        super::integrations::sync_records_csv,
        super::reconciliation::start,
        super::reconciliation::list,
        super::reconciliation::get,
        super::webhooks::list,
        super::webhooks::create,
        super::webhooks::get,
        super::webhooks::delete,
        super::webhooks::rotate_secret,
        super::webhooks::enable,
        super::webhooks::set_limits,
        super::webhooks::recover,
        super::webhooks::recover_job,
        super::webhooks::notifications,
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
        super::records::list_tickets,
        super::records::create_ticket,
        super::records::get_ticket,
        super::records::update_ticket,
        super::hooks::hubspot,
        openapi_json
    ),
    components(schemas(crate::error::ErrorBody, crate::error::ErrorDetail)),
    modifiers(&BearerAuth, &ErrorBodies),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "admin", description = "Organizations, roles, users and tokens (bootstrap admin token)"),
        (name = "integrations", description = "The HubSpot integration"),
        (name = "webhooks", description = "Outbound webhooks"),
        (name = "records", description = "Turris records"),
        (name = "hooks", description = "Inbound webhooks from HubSpot (signed, no bearer token)"),
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
