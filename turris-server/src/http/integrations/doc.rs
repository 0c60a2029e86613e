//! OpenAPI schemas for request and response bodies whose Rust types live in core.

#![allow(dead_code)]

use utoipa::ToSchema;

/// `{"mode": "sync_all"}` or `{"mode": "apply_filter", "property", "operator", "value"}`
/// (`"values": [...]` for `is_one_of`). Comparisons are case- and whitespace-sensitive.
#[derive(ToSchema)]
#[schema(as = IdentifierFilter)]
pub struct IdentifierFilter {
    /// `sync_all` or `apply_filter`.
    #[schema(example = "apply_filter")]
    mode: String,
    /// A text, enumeration or boolean property of the object.
    property: Option<String>,
    /// `equals`, `is_populated`, `is_not_populated`, `is_one_of`, `contains`, `is_a_number`.
    operator: Option<String>,
    /// For `equals` and `contains`.
    value: Option<String>,
    /// For `is_one_of`.
    values: Option<Vec<String>>,
}

/// A property condition (invitation filters and contract rules).
#[derive(ToSchema)]
#[schema(as = Condition)]
pub struct Condition {
    /// A company property.
    property: Option<String>,
    /// The operator, as in [`IdentifierFilter`].
    operator: Option<String>,
    /// For `equals` and `contains`.
    value: Option<String>,
    /// For `is_one_of`.
    values: Option<Vec<String>>,
}

/// HubSpot company property per agency field; a missing field is unmapped.
#[derive(ToSchema)]
#[schema(as = AgencyMapping)]
pub struct AgencyMapping {
    /// Which companies are agencies (required).
    identifier: Option<IdentifierFilter>,
    /// Agency name (required, default `name`).
    name: Option<String>,
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
    /// State code.
    state_code: Option<String>,
    /// ZIP.
    zip: Option<String>,
    /// Country.
    country: Option<String>,
}

/// HubSpot contact property per agent field.
#[derive(ToSchema)]
#[schema(as = AgentMapping)]
pub struct AgentMapping {
    /// Which contacts are agents (required).
    identifier: Option<IdentifierFilter>,
    /// First name (required, default `firstname`).
    first_name: Option<String>,
    /// Last name (required, default `lastname`).
    last_name: Option<String>,
    /// Email (default `email`).
    email: Option<String>,
    /// NPN.
    npn: Option<String>,
    /// Middle name.
    middle_name: Option<String>,
}

/// The field mapping. Unknown fields are refused; changes never rewrite existing records.
#[derive(ToSchema)]
#[schema(as = Mapping)]
pub struct Mapping {
    /// Companies ↔ agencies.
    agency: AgencyMapping,
    /// Contacts ↔ agents (optional).
    agent: Option<AgentMapping>,
}

/// One column of the matrix.
#[derive(ToSchema)]
#[schema(as = Toggles)]
pub struct Toggles {
    /// HubSpot → Turris.
    inbound: bool,
    /// Turris → HubSpot.
    outbound: bool,
}

/// The ongoing-sync matrix; omitted toggles are off.
#[derive(ToSchema)]
#[schema(as = SyncMatrix)]
pub struct SyncMatrix {
    /// Companies ↔ agencies.
    agency: Option<Toggles>,
    /// Contacts ↔ agency contacts.
    agency_contacts: Option<Toggles>,
    /// Contacts ↔ agents.
    agents: Option<Toggles>,
}

/// A contract rule: the first whose condition matches picks the template.
#[derive(ToSchema)]
#[schema(as = ContractRule)]
pub struct ContractRule {
    /// The condition on the company.
    condition: Condition,
    /// A contract template id.
    template: Option<String>,
}

/// Auto-invite settings.
#[derive(ToSchema)]
#[schema(as = Invitations)]
pub struct Invitations {
    /// `do_not_invite` (default), `invite_all` or `apply_filter`.
    #[schema(example = "invite_all")]
    mode: String,
    /// With `apply_filter` only.
    condition: Option<Condition>,
    /// Ordered contract rules.
    rules: Vec<ContractRule>,
    /// The template when no rule matches; without it the agency needs attention.
    default_template: Option<String>,
}
