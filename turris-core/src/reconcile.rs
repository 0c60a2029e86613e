//! Bulk reconciliation: pair existing HubSpot records with existing Turris records in one pass
//! using the matching rules, and list the unmatched ones a caller may create.
//!
//! [`reconcile`] is pure: the caller pages through HubSpot, loads the organization's Turris
//! records and links, calls it per page (or once), performs the pairings it returns, and
//! reports the [`ReconcileSummary`] as progress.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::ids::HubSpotId;
use crate::mapping::{MappedField, RecordMapping, SkippedField};
use crate::matching::{Matchable, MatchedBy};
use crate::property::PropertyMap;

/// What to do with one HubSpot record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Pairing<Id, D, F> {
    /// Already linked: nothing to do.
    AlreadyLinked,
    /// Does not match the identifier filter (or no identifier is configured).
    OutOfScope,
    /// A required field is missing, so it can neither be matched nor created.
    Unmappable {
        /// The field key.
        field: String,
    },
    /// Link it to this existing Turris record.
    Pair {
        /// The Turris record.
        id: Id,
        /// The key that matched.
        matched_by: MatchedBy,
    },
    /// It matches a Turris record an earlier HubSpot record of this pass already paired
    /// with: left for a person to resolve.
    Duplicate {
        /// The Turris record.
        id: Id,
        /// The HubSpot record that paired first.
        first: HubSpotId,
    },
    /// No Turris record matches: create this draft when the caller chose to.
    Unmatched {
        /// The record to create.
        draft: D,
        /// Optional fields that could not be stored.
        skipped: Vec<SkippedField<F>>,
    },
}

/// Counts of each outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileSummary {
    /// HubSpot records seen.
    pub total: usize,
    /// Already linked.
    pub already_linked: usize,
    /// Not matching the identifier.
    pub out_of_scope: usize,
    /// Missing a required field.
    pub unmappable: usize,
    /// Paired with an existing record.
    pub paired: usize,
    /// Matching an already-paired record.
    pub duplicates: usize,
    /// Without a match.
    pub unmatched: usize,
}

/// The outcome of [`reconcile`], in input order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconciliation<Id, D, F> {
    /// Each HubSpot record with its pairing.
    pub outcomes: Vec<(HubSpotId, Pairing<Id, D, F>)>,
    /// The counts.
    pub summary: ReconcileSummary,
}

/// Pairs `records` (HubSpot id and properties) with `existing` Turris records.
///
/// `linked_hubspot` and `linked_turris` are the two sides of the links already stored: a
/// linked HubSpot record is left alone, and a linked Turris record is never paired again.
///
/// ```
/// use std::collections::HashSet;
/// use turris_core::ids::{AgencyId, HubSpotId};
/// use turris_core::mapping::AgencyMapping;
/// use turris_core::reconcile::{Pairing, reconcile};
/// use turris_core::record::{Agency, AgencyDraft};
/// use turris_core::{IdentifierFilter, Npn, PropertyMap};
///
/// let mapping = AgencyMapping { identifier: Some(IdentifierFilter::SyncAll), npn: Some("npn".into()), ..AgencyMapping::default() };
/// let existing = [Agency {
///     id: AgencyId::parse("a1").unwrap(),
///     data: AgencyDraft { npn: Some(Npn::parse("42").unwrap()), ..AgencyDraft::named("Acme") },
/// }];
/// let records = [
///     (HubSpotId::parse("1").unwrap(), PropertyMap::from_pairs([("name", Some("ACME")), ("npn", Some("42"))])),
///     (HubSpotId::parse("2").unwrap(), PropertyMap::from_pairs([("name", Some("Other"))])),
/// ];
/// let result = reconcile(&mapping, &records, &existing, &HashSet::new(), &HashSet::new());
/// assert!(matches!(result.outcomes[0].1, Pairing::Pair { .. }));
/// assert!(matches!(result.outcomes[1].1, Pairing::Unmatched { .. }));
/// assert_eq!((result.summary.paired, result.summary.unmatched), (1, 1));
/// ```
pub fn reconcile<M, R>(
    mapping: &M,
    records: &[(HubSpotId, PropertyMap)],
    existing: &[R],
    linked_hubspot: &HashSet<HubSpotId>,
    linked_turris: &HashSet<R::Id>,
) -> Reconciliation<R::Id, M::Draft, M::Field>
where
    M: RecordMapping,
    R: Matchable<Draft = M::Draft>,
{
    let candidates: Vec<&R> = existing
        .iter()
        .filter(|r| !linked_turris.contains(r.id()))
        .collect();
    let identifier = mapping.identifier().filter(|f| f.is_complete());
    let mut paired_with: HashMap<R::Id, HubSpotId> = HashMap::new();
    let mut summary = ReconcileSummary {
        total: records.len(),
        ..ReconcileSummary::default()
    };
    let mut outcomes = Vec::with_capacity(records.len());
    for (hubspot_id, properties) in records {
        let pairing = if linked_hubspot.contains(hubspot_id) {
            summary.already_linked += 1;
            Pairing::AlreadyLinked
        } else if !identifier.is_some_and(|f| f.evaluate(properties)) {
            summary.out_of_scope += 1;
            Pairing::OutOfScope
        } else {
            match mapping.to_turris(properties) {
                Err(missing) => {
                    summary.unmappable += 1;
                    Pairing::Unmappable {
                        field: missing.field.key().to_owned(),
                    }
                }
                Ok(mapped) => match R::find_match(&mapped.draft, &candidates) {
                    Some(found) => {
                        let id = found.record.id().clone();
                        match paired_with.get(&id) {
                            Some(first) => {
                                summary.duplicates += 1;
                                Pairing::Duplicate {
                                    id,
                                    first: first.clone(),
                                }
                            }
                            None => {
                                summary.paired += 1;
                                paired_with.insert(id.clone(), hubspot_id.clone());
                                Pairing::Pair {
                                    id,
                                    matched_by: found.matched_by,
                                }
                            }
                        }
                    }
                    None => {
                        summary.unmatched += 1;
                        Pairing::Unmatched {
                            draft: mapped.draft,
                            skipped: mapped.skipped,
                        }
                    }
                },
            }
        };
        outcomes.push((hubspot_id.clone(), pairing));
    }
    Reconciliation { outcomes, summary }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{Condition, IdentifierFilter};
    use crate::ids::{AgencyId, AgentId};
    use crate::mapping::{AgencyMapping, AgentMapping};
    use crate::record::{Agency, AgencyDraft, Agent, AgentDraft, Npn};

    fn id(s: &str) -> HubSpotId {
        HubSpotId::parse(s).unwrap()
    }

    fn agency(id: &str, npn: Option<&str>, code: Option<&str>) -> Agency {
        Agency {
            id: AgencyId::parse(id).unwrap(),
            data: AgencyDraft {
                npn: npn.map(|n| Npn::parse(n).unwrap()),
                producer_code: code.map(str::to_owned),
                ..AgencyDraft::named(id)
            },
        }
    }

    fn company(pairs: &[(&str, &str)]) -> PropertyMap {
        PropertyMap::from_pairs(pairs.iter().map(|(k, v)| (*k, Some(*v))))
    }

    #[test]
    fn every_record_gets_one_outcome_and_the_summary_adds_up() {
        let mapping = AgencyMapping {
            identifier: Some(IdentifierFilter::ApplyFilter(Condition::equals(
                "type", "Agency",
            ))),
            npn: Some("npn".into()),
            producer_code: Some("code".into()),
            ..AgencyMapping::default()
        };
        let existing = [
            agency("a1", Some("11"), None),
            agency("a2", None, Some("P2")),
            agency("a3", Some("33"), None),
        ];
        let records = [
            (
                id("1"),
                company(&[("type", "Agency"), ("name", "One"), ("npn", "11")]),
            ),
            (
                id("2"),
                company(&[("type", "Agency"), ("name", "Two"), ("code", "P2")]),
            ),
            (
                id("3"),
                company(&[("type", "Agency"), ("name", "One again"), ("npn", "11")]),
            ),
            (id("4"), company(&[("type", "Vendor"), ("name", "Vendor")])),
            (id("5"), company(&[("type", "Agency")])),
            (id("6"), company(&[("type", "Agency"), ("name", "New")])),
            (id("7"), company(&[("type", "Agency"), ("name", "Linked")])),
            (
                id("8"),
                company(&[("type", "Agency"), ("name", "Three"), ("npn", "33")]),
            ),
        ];
        let linked_hubspot = HashSet::from([id("7")]);
        let linked_turris = HashSet::from([AgencyId::parse("a3").unwrap()]);
        let result = reconcile(
            &mapping,
            &records,
            &existing,
            &linked_hubspot,
            &linked_turris,
        );
        let a = |s: &str| AgencyId::parse(s).unwrap();
        let outcomes: Vec<_> = result.outcomes.iter().map(|(_, p)| p.clone()).collect();
        assert_eq!(
            outcomes[0],
            Pairing::Pair {
                id: a("a1"),
                matched_by: MatchedBy::Npn
            }
        );
        assert_eq!(
            outcomes[1],
            Pairing::Pair {
                id: a("a2"),
                matched_by: MatchedBy::ProducerCode
            }
        );
        assert_eq!(
            outcomes[2],
            Pairing::Duplicate {
                id: a("a1"),
                first: id("1")
            }
        );
        assert_eq!(outcomes[3], Pairing::OutOfScope);
        assert_eq!(
            outcomes[4],
            Pairing::Unmappable {
                field: "name".into()
            }
        );
        assert!(matches!(&outcomes[5], Pairing::Unmatched { draft, .. } if draft.name == "New"));
        assert_eq!(outcomes[6], Pairing::AlreadyLinked);
        assert!(
            matches!(outcomes[7], Pairing::Unmatched { .. }),
            "a linked Turris record is not paired again"
        );
        assert_eq!(
            result.summary,
            ReconcileSummary {
                total: 8,
                already_linked: 1,
                out_of_scope: 1,
                unmappable: 1,
                paired: 2,
                duplicates: 1,
                unmatched: 2
            }
        );
    }

    #[test]
    fn agents_reconcile_by_name_and_email_without_an_npn() {
        let mapping = AgentMapping {
            identifier: Some(IdentifierFilter::SyncAll),
            ..AgentMapping::default()
        };
        let existing = [Agent {
            id: AgentId::parse("p1").unwrap(),
            data: AgentDraft {
                email: Some("ada@example.com".into()),
                ..AgentDraft::named("Ada", "Lovelace")
            },
        }];
        let records = [(
            id("10"),
            company(&[
                ("firstname", "ADA"),
                ("lastname", "Lovelace"),
                ("email", "Ada@Example.com"),
            ]),
        )];
        let result = reconcile(
            &mapping,
            &records,
            &existing,
            &HashSet::new(),
            &HashSet::new(),
        );
        assert_eq!(
            result.outcomes[0].1,
            Pairing::Pair {
                id: AgentId::parse("p1").unwrap(),
                matched_by: MatchedBy::NameAndEmail
            }
        );
    }

    #[test]
    fn without_an_identifier_everything_is_out_of_scope() {
        let mapping = AgencyMapping::default();
        let records = [(id("1"), company(&[("name", "Acme")]))];
        let result =
            reconcile::<_, Agency>(&mapping, &records, &[], &HashSet::new(), &HashSet::new());
        assert_eq!(result.summary.out_of_scope, 1);
    }
}
