//! OpenAPI schemas of the records as answered (core and store types carry no utoipa).

#![allow(dead_code)]

use chrono::{DateTime, Utc};
use utoipa::ToSchema;

/// An agency.
#[derive(ToSchema)]
#[schema(as = Agency)]
pub struct Agency {
    /// Its id.
    id: String,
    /// Name.
    name: String,
    /// Branch name.
    branch_name: Option<String>,
    /// NPN.
    npn: Option<String>,
    /// Producer code.
    producer_code: Option<String>,
    /// Website.
    website: Option<String>,
    /// Phone.
    phone: Option<String>,
    /// Street address.
    street_address: Option<String>,
    /// City.
    city: Option<String>,
    /// 2-letter US state code.
    state_code: Option<String>,
    /// ZIP.
    zip: Option<String>,
    /// Country.
    country: Option<String>,
}

/// A page of agencies.
#[derive(ToSchema)]
#[schema(as = AgencyPage)]
pub struct AgencyPage {
    /// By ascending id.
    items: Vec<Agency>,
    /// The next page's cursor; `null` at the end.
    next_cursor: Option<String>,
}

/// An agent.
#[derive(ToSchema)]
#[schema(as = Agent)]
pub struct Agent {
    /// Its id.
    id: String,
    /// First name.
    first_name: String,
    /// Last name.
    last_name: String,
    /// Middle name.
    middle_name: Option<String>,
    /// Email.
    email: Option<String>,
    /// NPN.
    npn: Option<String>,
    /// The agency the agent works for.
    agency_id: Option<String>,
}

/// A page of agents.
#[derive(ToSchema)]
#[schema(as = AgentPage)]
pub struct AgentPage {
    /// By ascending id.
    items: Vec<Agent>,
    /// The next page's cursor; `null` at the end.
    next_cursor: Option<String>,
}

/// A contact person of an agency.
#[derive(ToSchema)]
#[schema(as = AgencyContact)]
pub struct AgencyContact {
    /// Its id.
    id: String,
    /// The agency.
    agency_id: String,
    /// First name.
    first_name: Option<String>,
    /// Last name.
    last_name: Option<String>,
    /// Email.
    email: Option<String>,
}

/// A contract template.
#[derive(ToSchema)]
#[schema(as = ContractTemplate)]
pub struct ContractTemplate {
    /// Its id.
    id: String,
    /// Name.
    name: String,
    /// When it was created.
    created_at: DateTime<Utc>,
}

/// An agency invitation.
#[derive(ToSchema)]
#[schema(as = Invitation)]
pub struct Invitation {
    /// Its id.
    id: String,
    /// The agency.
    agency_id: String,
    /// The contract, when chosen.
    contract_template_id: Option<String>,
    /// `sent`, `deferred` or `needs_attention`.
    status: String,
    /// Where it was sent.
    sent_to: Option<String>,
    /// Created.
    created_at: DateTime<Utc>,
    /// Last status change.
    updated_at: DateTime<Utc>,
}

/// A compliance status.
#[derive(ToSchema)]
#[schema(as = ComplianceRecord)]
pub struct ComplianceRecord {
    /// `{"entityType": "agency"|"agent", "entityId": "..."}`.
    entity: Entity,
    /// Product.
    product: String,
    /// US state.
    state: String,
    /// `compliant`, `non_compliant`, `pending` or `not_required`.
    status: String,
    /// When it was set.
    updated_at: DateTime<Utc>,
}

/// An agency or agent.
#[derive(ToSchema)]
#[schema(as = Entity)]
#[allow(non_snake_case)]
pub struct Entity {
    /// `agency` or `agent`.
    entityType: String,
    /// Its id.
    entityId: String,
}

/// A NIPR sync result.
#[derive(ToSchema)]
#[schema(as = NiprSync)]
pub struct NiprSync {
    /// Its id.
    id: String,
    /// The agency or agent.
    entity: Entity,
    /// `fetch` or `full_refresh`.
    kind: String,
    /// `success` or `error`.
    outcome: String,
    /// The error.
    error: Option<String>,
    /// When it finished.
    finished_at: DateTime<Utc>,
}

/// A signer.
#[derive(ToSchema)]
#[schema(as = Signer)]
pub struct Signer {
    /// Name.
    name: String,
    /// Email.
    email: String,
}

/// An executed producer agreement.
#[derive(ToSchema)]
#[schema(as = ProducerAgreement)]
pub struct ProducerAgreement {
    /// Its id.
    id: String,
    /// The agency.
    agency_id: String,
    /// The template signed.
    contract_template_id: String,
    /// When.
    executed_at: DateTime<Utc>,
    /// Who signed.
    signers: Vec<Signer>,
}
