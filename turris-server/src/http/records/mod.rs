//! The Turris records API: agencies, agents, agency contacts, contract templates, invitations
//! (read), compliance status updates, NIPR sync results, producer agreement execution and
//! support tickets.
//!
//! It is the `records` area of the permission matrix (read, create, update; premium gated). The
//! changes that produce outbound webhooks write their outbox rows in the same transaction, and
//! so do agencies, agents and agency contacts with their HubSpot push
//! ([`crate::sync::outbound`]).

mod agencies;
mod agents;
mod agreements;
mod compliance;
mod contacts;
mod invitations;
mod nipr;
mod tickets;

pub use agencies::*;
pub use agents::*;
pub use agreements::*;
pub use compliance::*;
pub use contacts::*;
pub use invitations::*;
pub use nipr::*;
pub use tickets::*;

use serde::Serialize;
use turris_core::record::Npn;
use utoipa::ToSchema;
use uuid::Uuid;

use super::Routes;
use crate::error::ErrorDetail;

/// The records routes.
pub fn routes() -> Routes {
    Routes::new()
        .get("/api/v1/agencies", list_agencies)
        .post("/api/v1/agencies", create_agency)
        .get("/api/v1/agencies/{id}", get_agency)
        .put("/api/v1/agencies/{id}", update_agency)
        .get("/api/v1/agencies/{id}/contacts", list_contacts)
        .post("/api/v1/agencies/{id}/contacts", create_contact)
        .get("/api/v1/agency-contacts/{id}", get_contact)
        .put("/api/v1/agency-contacts/{id}", update_contact)
        .get("/api/v1/agents", list_agents)
        .post("/api/v1/agents", create_agent)
        .get("/api/v1/agents/{id}", get_agent)
        .put("/api/v1/agents/{id}", update_agent)
        .get("/api/v1/contract-templates", list_templates)
        .post("/api/v1/contract-templates", create_template)
        .get("/api/v1/contract-templates/{id}", get_template)
        .get("/api/v1/invitations", list_invitations)
        .get("/api/v1/invitations/{id}", get_invitation)
        .post("/api/v1/compliance-statuses", set_compliance)
        .get("/api/v1/compliance-statuses", get_compliance)
        .post("/api/v1/nipr-syncs", create_nipr_sync)
        .get("/api/v1/nipr-syncs", list_nipr_syncs)
        .post("/api/v1/producer-agreements", create_agreement)
        .get("/api/v1/producer-agreements", list_agreements)
        .get("/api/v1/producer-agreements/{id}", get_agreement)
        .get("/api/v1/support-tickets", list_tickets)
        .post("/api/v1/support-tickets", create_ticket)
        .get("/api/v1/support-tickets/{id}", get_ticket)
        .put("/api/v1/support-tickets/{id}", update_ticket)
}

fn detail(path: impl Into<String>, message: impl Into<String>) -> ErrorDetail {
    ErrorDetail {
        path: path.into(),
        message: message.into(),
    }
}

fn new_id() -> String {
    Uuid::now_v7().to_string()
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

fn parse_npn(value: Option<&str>, errors: &mut Vec<ErrorDetail>) -> Option<Npn> {
    let value = value.filter(|v| !v.is_empty())?;
    Npn::parse(value)
        .map_err(|e| errors.push(detail("npn", e.to_string())))
        .ok()
}

/// A page of records.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordPage<T> {
    /// The records, by ascending id.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; `null` at the end.
    pub next_cursor: Option<String>,
}

impl<T> RecordPage<T> {
    /// A page of at most `limit` items: a full page carries the cursor of its last item.
    pub fn of(items: Vec<T>, limit: usize, cursor: impl Fn(&T) -> String) -> Self {
        let next_cursor = (items.len() == limit)
            .then(|| items.last().map(&cursor))
            .flatten();
        Self { items, next_cursor }
    }
}
