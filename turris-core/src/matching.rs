//! Record matching: which existing Turris record a HubSpot record is, and by which key.
//!
//! Agencies match by NPN (high confidence), then by producer code. Agents match by NPN, else
//! by first name + last name + email together. Agency contacts match the contact of the same
//! agency with the same email ([`agency_contact_key`]; stores look it up with
//! `RecordStore::find_agency_contact_by_email`). NPNs and producer
//! codes compare exactly; names and emails compare trimmed and case-insensitively, since people
//! type them inconsistently. A record with no key never matches.

use serde::{Deserialize, Serialize};

use crate::ids::{AgencyId, AgentId};
use crate::record::{
    Agency, AgencyContact, AgencyContactDraft, AgencyDraft, Agent, AgentDraft, Npn,
};

/// Which key made a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    /// The NPN.
    Npn,
    /// The producer code (agencies).
    ProducerCode,
    /// First name, last name and email together (agents).
    NameAndEmail,
    /// The email, among the contacts of the same agency (agency contacts).
    Email,
}

/// A key an agency can be found by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "key", content = "value", rename_all = "snake_case")]
pub enum AgencyKey {
    /// By NPN.
    Npn(Npn),
    /// By producer code.
    ProducerCode(String),
}

impl AgencyKey {
    /// Which kind of key this is.
    pub fn matched_by(&self) -> MatchedBy {
        match self {
            AgencyKey::Npn(_) => MatchedBy::Npn,
            AgencyKey::ProducerCode(_) => MatchedBy::ProducerCode,
        }
    }

    /// Whether `agency` has this key.
    pub fn matches(&self, agency: &AgencyDraft) -> bool {
        match self {
            AgencyKey::Npn(npn) => agency.npn.as_ref() == Some(npn),
            AgencyKey::ProducerCode(code) => agency.producer_code.as_deref() == Some(code.as_str()),
        }
    }
}

/// The keys of an agency draft, highest confidence first.
///
/// ```
/// use turris_core::matching::{AgencyKey, agency_keys};
/// use turris_core::record::AgencyDraft;
/// use turris_core::Npn;
///
/// let draft = AgencyDraft {
///     npn: Some(Npn::parse("123").unwrap()),
///     producer_code: Some("P-9".into()),
///     ..AgencyDraft::named("Acme")
/// };
/// assert_eq!(
///     agency_keys(&draft),
///     [AgencyKey::Npn(Npn::parse("123").unwrap()), AgencyKey::ProducerCode("P-9".into())]
/// );
/// ```
pub fn agency_keys(draft: &AgencyDraft) -> Vec<AgencyKey> {
    let mut keys = Vec::with_capacity(2);
    if let Some(npn) = &draft.npn {
        keys.push(AgencyKey::Npn(npn.clone()));
    }
    if let Some(code) = draft.producer_code.as_deref().filter(|c| !c.is_empty()) {
        keys.push(AgencyKey::ProducerCode(code.to_owned()));
    }
    keys
}

/// A key an agent can be found by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "key", rename_all = "snake_case")]
pub enum AgentKey {
    /// By NPN.
    Npn {
        /// The NPN.
        npn: Npn,
    },
    /// By first name, last name and email together, normalized (trimmed, lower case).
    NameAndEmail {
        /// First name, normalized.
        first_name: String,
        /// Last name, normalized.
        last_name: String,
        /// Email, normalized.
        email: String,
    },
}

/// Trims and lower-cases a name or email for comparison.
pub fn normalize(value: &str) -> String {
    value.trim().to_lowercase()
}

impl AgentKey {
    /// Which kind of key this is.
    pub fn matched_by(&self) -> MatchedBy {
        match self {
            AgentKey::Npn { .. } => MatchedBy::Npn,
            AgentKey::NameAndEmail { .. } => MatchedBy::NameAndEmail,
        }
    }

    /// Whether `agent` has this key.
    pub fn matches(&self, agent: &AgentDraft) -> bool {
        match self {
            AgentKey::Npn { npn } => agent.npn.as_ref() == Some(npn),
            AgentKey::NameAndEmail {
                first_name,
                last_name,
                email,
            } => {
                agent
                    .email
                    .as_deref()
                    .is_some_and(|e| normalize(e) == *email)
                    && normalize(&agent.first_name) == *first_name
                    && normalize(&agent.last_name) == *last_name
            }
        }
    }
}

/// The keys of an agent draft, highest confidence first: the NPN, then name and email (only
/// when first name, last name and email are all non-empty).
pub fn agent_keys(draft: &AgentDraft) -> Vec<AgentKey> {
    let mut keys = Vec::with_capacity(2);
    if let Some(npn) = &draft.npn {
        keys.push(AgentKey::Npn { npn: npn.clone() });
    }
    let (first, last) = (normalize(&draft.first_name), normalize(&draft.last_name));
    let email = draft.email.as_deref().map(normalize).unwrap_or_default();
    if !first.is_empty() && !last.is_empty() && !email.is_empty() {
        keys.push(AgentKey::NameAndEmail {
            first_name: first,
            last_name: last,
            email,
        });
    }
    keys
}

/// The key an agency contact can be found by: its email, normalized (trimmed, lower case),
/// among the contacts of one agency.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AgencyContactKey {
    /// The agency whose contacts are searched.
    pub agency: AgencyId,
    /// The email, normalized.
    pub email: String,
}

impl AgencyContactKey {
    /// Which kind of key this is.
    pub fn matched_by(&self) -> MatchedBy {
        MatchedBy::Email
    }

    /// Whether `contact` has this key: a contact of the same agency with the same email.
    pub fn matches(&self, contact: &AgencyContact) -> bool {
        contact.agency_id == self.agency
            && contact
                .email
                .as_deref()
                .is_some_and(|e| normalize(e) == self.email)
    }
}

/// The key of an agency contact draft among the contacts of `agency` (the agency its HubSpot
/// contact follows): none without an agency or without a non-empty email.
///
/// ```
/// use turris_core::ids::AgencyId;
/// use turris_core::matching::{AgencyContactKey, agency_contact_key};
/// use turris_core::record::AgencyContactDraft;
///
/// let agency = AgencyId::parse("a-1").unwrap();
/// let draft = AgencyContactDraft { email: Some(" Ada@Example.com ".into()), ..Default::default() };
/// assert_eq!(
///     agency_contact_key(&draft, Some(&agency)),
///     Some(AgencyContactKey { agency: agency.clone(), email: "ada@example.com".into() })
/// );
/// assert_eq!(agency_contact_key(&draft, None), None);
/// ```
pub fn agency_contact_key(
    draft: &AgencyContactDraft,
    agency: Option<&AgencyId>,
) -> Option<AgencyContactKey> {
    let email = normalize(draft.email.as_deref()?);
    if email.is_empty() {
        return None;
    }
    Some(AgencyContactKey {
        agency: agency?.clone(),
        email,
    })
}

/// The contact among `existing` that an agency contact draft of `agency` matches (by email,
/// among that agency's contacts), if any.
pub fn match_agency_contact<'a>(
    draft: &AgencyContactDraft,
    agency: Option<&AgencyId>,
    existing: &'a [AgencyContact],
) -> Option<Match<&'a AgencyContact>> {
    let key = agency_contact_key(draft, agency)?;
    let record = existing.iter().find(|c| key.matches(c))?;
    Some(Match {
        record,
        matched_by: key.matched_by(),
    })
}

/// An existing record a HubSpot record matched, and the key that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match<R> {
    /// The existing Turris record.
    pub record: R,
    /// The key that matched.
    pub matched_by: MatchedBy,
}

/// Finds the agency `draft` is among `existing`: the first key (in priority order) that any
/// agency has wins, so an NPN match beats a producer-code match found earlier in the list.
///
/// ```
/// use turris_core::matching::{MatchedBy, match_agency};
/// use turris_core::record::{Agency, AgencyDraft};
/// use turris_core::ids::AgencyId;
///
/// let existing = vec![Agency {
///     id: AgencyId::parse("a1").unwrap(),
///     data: AgencyDraft { producer_code: Some("P-9".into()), ..AgencyDraft::named("Acme") },
/// }];
/// let incoming = AgencyDraft { producer_code: Some("P-9".into()), ..AgencyDraft::named("ACME Inc") };
/// let found = match_agency(&incoming, &existing).unwrap();
/// assert_eq!(found.record.id.as_str(), "a1");
/// assert_eq!(found.matched_by, MatchedBy::ProducerCode);
/// ```
pub fn match_agency<'a>(draft: &AgencyDraft, existing: &'a [Agency]) -> Option<Match<&'a Agency>> {
    agency_keys(draft).iter().find_map(|key| {
        existing
            .iter()
            .find(|a| key.matches(&a.data))
            .map(|record| Match {
                record,
                matched_by: key.matched_by(),
            })
    })
}

/// Finds the agent `draft` is among `existing`, NPN first, then name and email.
pub fn match_agent<'a>(draft: &AgentDraft, existing: &'a [Agent]) -> Option<Match<&'a Agent>> {
    agent_keys(draft).iter().find_map(|key| {
        existing
            .iter()
            .find(|a| key.matches(&a.data))
            .map(|record| Match {
                record,
                matched_by: key.matched_by(),
            })
    })
}

/// A Turris record type HubSpot records are matched against, with its key priority.
pub trait Matchable: Sized {
    /// The record's id.
    type Id: Clone + Eq + std::hash::Hash + std::fmt::Debug;
    /// The record's data.
    type Draft;

    /// The record's id.
    fn id(&self) -> &Self::Id;

    /// The candidate `draft` matches, trying keys in priority order across all candidates.
    fn find_match<'a>(draft: &Self::Draft, candidates: &[&'a Self]) -> Option<Match<&'a Self>>;
}

impl Matchable for Agency {
    type Id = AgencyId;
    type Draft = AgencyDraft;

    fn id(&self) -> &AgencyId {
        &self.id
    }

    fn find_match<'a>(draft: &AgencyDraft, candidates: &[&'a Agency]) -> Option<Match<&'a Agency>> {
        agency_keys(draft).iter().find_map(|key| {
            candidates
                .iter()
                .find(|a| key.matches(&a.data))
                .map(|record| Match {
                    record: *record,
                    matched_by: key.matched_by(),
                })
        })
    }
}

impl Matchable for Agent {
    type Id = AgentId;
    type Draft = AgentDraft;

    fn id(&self) -> &AgentId {
        &self.id
    }

    fn find_match<'a>(draft: &AgentDraft, candidates: &[&'a Agent]) -> Option<Match<&'a Agent>> {
        agent_keys(draft).iter().find_map(|key| {
            candidates
                .iter()
                .find(|a| key.matches(&a.data))
                .map(|record| Match {
                    record: *record,
                    matched_by: key.matched_by(),
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::AgencyContactId;

    fn contact(id: &str, agency: &str, email: Option<&str>) -> AgencyContact {
        AgencyContact {
            id: AgencyContactId::parse(id).unwrap(),
            agency_id: AgencyId::parse(agency).unwrap(),
            first_name: None,
            last_name: None,
            email: email.map(str::to_owned),
        }
    }

    #[test]
    fn agency_contacts_match_by_email_within_the_same_agency_only() {
        let existing = vec![
            contact("no-email", "a-1", None),
            contact("other-agency", "a-2", Some("ada@example.com")),
            contact("ada", "a-1", Some("Ada@Example.com")),
        ];
        fn check(
            existing: &[AgencyContact],
            agency: Option<&str>,
            email: Option<&str>,
            expected: Option<&str>,
        ) {
            let agency = agency.map(|a| AgencyId::parse(a).unwrap());
            let draft = AgencyContactDraft {
                email: email.map(str::to_owned),
                ..AgencyContactDraft::default()
            };
            let found = match_agency_contact(&draft, agency.as_ref(), existing);
            assert_eq!(
                found.as_ref().map(|m| (m.record.id.as_str(), m.matched_by)),
                expected.map(|id| (id, MatchedBy::Email)),
                "{agency:?} {email:?}"
            );
        }
        check(&existing, Some("a-1"), Some("ada@example.com"), Some("ada"));
        check(
            &existing,
            Some("a-1"),
            Some("  ADA@example.COM "),
            Some("ada"),
        );
        check(
            &existing,
            Some("a-2"),
            Some("ada@example.com"),
            Some("other-agency"),
        );
        check(&existing, Some("a-3"), Some("ada@example.com"), None);
        check(&existing, None, Some("ada@example.com"), None);
        check(&existing, Some("a-1"), None, None);
        check(&existing, Some("a-1"), Some("   "), None);
        check(&existing, Some("a-1"), Some("grace@example.com"), None);
    }

    #[test]
    fn an_agency_contact_key_needs_an_agency_and_a_non_empty_email() {
        let agency = AgencyId::parse("a-1").unwrap();
        let draft = |email: Option<&str>| AgencyContactDraft {
            email: email.map(str::to_owned),
            ..AgencyContactDraft::default()
        };
        for (email, agency, expected) in [
            (
                Some("Ada@Example.com"),
                Some(&agency),
                Some("ada@example.com"),
            ),
            (Some(""), Some(&agency), None),
            (None, Some(&agency), None),
            (Some("ada@example.com"), None, None),
        ] {
            let key = agency_contact_key(&draft(email), agency);
            assert_eq!(
                key.as_ref().map(|k| k.email.as_str()),
                expected,
                "{email:?}"
            );
            if let Some(key) = key {
                assert_eq!(
                    (key.matched_by(), key.agency),
                    (MatchedBy::Email, agency.unwrap().clone())
                );
            }
        }
    }

    fn npn(s: &str) -> Option<Npn> {
        Some(Npn::parse(s).unwrap())
    }

    fn agency(id: &str, npn_value: Option<&str>, code: Option<&str>) -> Agency {
        Agency {
            id: AgencyId::parse(id).unwrap(),
            data: AgencyDraft {
                npn: npn_value.and_then(npn),
                producer_code: code.map(str::to_owned),
                ..AgencyDraft::named(id)
            },
        }
    }

    #[test]
    fn agencies_match_by_npn_first_then_producer_code() {
        let existing = vec![
            agency("by-code", None, Some("P1")),
            agency("by-npn", Some("111"), None),
            agency("other", Some("222"), Some("P2")),
        ];
        fn check(
            existing: &[Agency],
            npn_value: Option<&str>,
            code: Option<&str>,
            expected: Option<(&str, MatchedBy)>,
        ) {
            let draft = AgencyDraft {
                npn: npn_value.and_then(npn),
                producer_code: code.map(str::to_owned),
                ..AgencyDraft::named("x")
            };
            let found =
                match_agency(&draft, existing).map(|m| (m.record.id.as_str(), m.matched_by));
            assert_eq!(found, expected, "{npn_value:?} {code:?}");
        }
        check(
            &existing,
            Some("111"),
            Some("P1"),
            Some(("by-npn", MatchedBy::Npn)),
        );
        check(
            &existing,
            Some("999"),
            Some("P1"),
            Some(("by-code", MatchedBy::ProducerCode)),
        );
        check(
            &existing,
            None,
            Some("P2"),
            Some(("other", MatchedBy::ProducerCode)),
        );
        check(&existing, None, Some("p1"), None);
        check(&existing, Some("999"), None, None);
        check(&existing, None, None, None);
        check(&existing, None, Some(""), None);
    }

    fn agent(
        id: &str,
        first: &str,
        last: &str,
        email: Option<&str>,
        npn_value: Option<&str>,
    ) -> Agent {
        Agent {
            id: AgentId::parse(id).unwrap(),
            data: AgentDraft {
                email: email.map(str::to_owned),
                npn: npn_value.and_then(npn),
                ..AgentDraft::named(first, last)
            },
        }
    }

    #[test]
    fn agents_match_by_npn_else_by_name_and_email_together() {
        let existing = vec![
            agent("ada", "Ada", "Lovelace", Some("ada@example.com"), None),
            agent("grace", "Grace", "Hopper", None, Some("42")),
        ];
        fn check(existing: &[Agent], draft: AgentDraft, expected: Option<(&str, MatchedBy)>) {
            let found = match_agent(&draft, existing).map(|m| (m.record.id.as_str(), m.matched_by));
            assert_eq!(found, expected, "{draft:?}");
        }
        let named = |f: &str, l: &str, e: Option<&str>, n: Option<&str>| AgentDraft {
            email: e.map(str::to_owned),
            npn: n.and_then(npn),
            ..AgentDraft::named(f, l)
        };
        check(
            &existing,
            named("X", "Y", None, Some("42")),
            Some(("grace", MatchedBy::Npn)),
        );
        check(
            &existing,
            named("Ada", "Lovelace", Some("ada@example.com"), None),
            Some(("ada", MatchedBy::NameAndEmail)),
        );
        check(
            &existing,
            named(" ada ", "LOVELACE", Some("Ada@Example.com"), None),
            Some(("ada", MatchedBy::NameAndEmail)),
        );
        check(&existing, named("Ada", "Lovelace", None, None), None);
        check(
            &existing,
            named("Ada", "Byron", Some("ada@example.com"), None),
            None,
        );
        check(&existing, named("Grace", "Hopper", None, Some("43")), None);
    }
}
