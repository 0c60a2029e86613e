//! Turris records: agencies, agents and agency contacts, with the [`Npn`] and [`StateCode`]
//! newtypes. A `*Draft` is a record's data without its id: what inbound sync creates.

mod email;
mod npn;
mod state_code;

use serde::{Deserialize, Serialize};

pub use email::Email;
pub use npn::Npn;
pub use state_code::{StateCode, US_STATE_CODES};

use crate::ids::{AgencyContactId, AgencyId, AgentId};

/// An agency's data, without its id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgencyDraft {
    /// The agency's name (required).
    pub name: String,
    /// The branch name.
    #[serde(default)]
    pub branch_name: Option<String>,
    /// The agency's National Producer Number.
    #[serde(default)]
    pub npn: Option<Npn>,
    /// The carrier's producer code for the agency.
    #[serde(default)]
    pub producer_code: Option<String>,
    /// The website or primary domain.
    #[serde(default)]
    pub website: Option<String>,
    /// The primary phone number.
    #[serde(default)]
    pub phone: Option<String>,
    /// The street line of the legal address.
    #[serde(default)]
    pub street_address: Option<String>,
    /// The city of the legal address.
    #[serde(default)]
    pub city: Option<String>,
    /// The state of the legal address.
    #[serde(default)]
    pub state_code: Option<StateCode>,
    /// The ZIP or postal code.
    #[serde(default)]
    pub zip: Option<String>,
    /// The country.
    #[serde(default)]
    pub country: Option<String>,
}

impl AgencyDraft {
    /// A draft with only a name.
    pub fn named(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            ..Self::default()
        }
    }
}

/// A Turris agency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Agency {
    /// Its id.
    pub id: AgencyId,
    /// Its data.
    #[serde(flatten)]
    pub data: AgencyDraft,
}

/// An agent's data, without its id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentDraft {
    /// First name (required).
    pub first_name: String,
    /// Last name (required).
    pub last_name: String,
    /// Middle name.
    #[serde(default)]
    pub middle_name: Option<String>,
    /// Primary email.
    #[serde(default)]
    pub email: Option<String>,
    /// The agent's National Producer Number.
    #[serde(default)]
    pub npn: Option<Npn>,
    /// The agency the agent works for, in the same organization: in HubSpot, the company
    /// its contact is associated with. Records stored before it existed have none.
    #[serde(default)]
    pub agency_id: Option<AgencyId>,
}

impl AgentDraft {
    /// A draft with only a first and last name.
    pub fn named(first_name: &str, last_name: &str) -> Self {
        Self {
            first_name: first_name.to_owned(),
            last_name: last_name.to_owned(),
            ..Self::default()
        }
    }
}

/// A Turris agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Agent {
    /// Its id.
    pub id: AgentId,
    /// Its data.
    #[serde(flatten)]
    pub data: AgentDraft,
}

/// A contact person of an agency, who receives the agency's onboarding invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgencyContact {
    /// Its id.
    pub id: AgencyContactId,
    /// The agency it belongs to.
    pub agency_id: AgencyId,
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Email, which an invitation needs.
    #[serde(default)]
    pub email: Option<String>,
}

impl AgencyContact {
    /// The contact's email when it has a usable one (non-empty, contains `@`).
    pub fn usable_email(&self) -> Option<&str> {
        self.email.as_deref().filter(|e| Email::is_valid(e))
    }

    /// The contact's synced data: what HubSpot holds of it.
    pub fn draft(&self) -> AgencyContactDraft {
        AgencyContactDraft {
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            email: self.email.clone(),
        }
    }

    /// A contact of `agency_id` with the data of `draft`.
    pub fn from_draft(id: AgencyContactId, agency_id: AgencyId, draft: AgencyContactDraft) -> Self {
        Self {
            id,
            agency_id,
            first_name: draft.first_name,
            last_name: draft.last_name,
            email: draft.email,
        }
    }

    /// Replaces the synced data, keeping the id and the agency.
    pub fn set_draft(&mut self, draft: AgencyContactDraft) {
        self.first_name = draft.first_name;
        self.last_name = draft.last_name;
        self.email = draft.email;
    }
}

/// An agency contact's synced data (names and email), without its id and agency: what inbound
/// sync creates from a HubSpot contact and outbound sync pushes to one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgencyContactDraft {
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_need_one_at_sign_with_text_around_it_and_no_whitespace() {
        fn check(input: &str, ok: bool) {
            assert_eq!(Email::is_valid(input), ok, "{input:?}");
        }
        check("a@b.com", true);
        check("first.last+tag@example.org", true);
        check("", false);
        check("a@", false);
        check("@b", false);
        check("a@@b", false);
        check("a b@c.com", false);
        check("no-at-sign", false);
    }

    #[test]
    fn agencies_serialize_flat_with_their_id() {
        let agency = Agency {
            id: AgencyId::parse("a1").unwrap(),
            data: AgencyDraft {
                state_code: Some(StateCode::parse("NY").unwrap()),
                ..AgencyDraft::named("Acme")
            },
        };
        let json = serde_json::to_value(&agency).unwrap();
        assert_eq!(json["id"], "a1");
        assert_eq!(json["name"], "Acme");
        assert_eq!(json["state_code"], "NY");
        assert_eq!(serde_json::from_value::<Agency>(json).unwrap(), agency);
    }

    #[test]
    fn an_agent_stored_before_agencies_were_recorded_parses_without_one() {
        let stored = r#"{"id":"g1","first_name":"Ada","last_name":"Lovelace","npn":"42"}"#;
        let agent: Agent = serde_json::from_str(stored).unwrap();
        assert_eq!(agent.data.agency_id, None);
        let employed = Agent {
            data: AgentDraft {
                agency_id: Some(AgencyId::parse("a1").unwrap()),
                ..agent.data
            },
            ..agent
        };
        let json = serde_json::to_value(&employed).unwrap();
        assert_eq!(json["agency_id"], "a1");
        assert_eq!(serde_json::from_value::<Agent>(json).unwrap(), employed);
    }
}
