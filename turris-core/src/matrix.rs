//! The ongoing-sync matrix: object (agency, agency contacts, agents) × direction (inbound
//! HubSpot → Turris, outbound Turris → HubSpot).
//!
//! Turning a toggle on checks its prerequisites and names every missing piece; turning one off
//! always succeeds, so sync can be paused while a mapping is fixed.

use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::mapping::{AgencyField, AgentField, MappingSettings, RecordMapping};

/// A column of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncObject {
    /// HubSpot Companies ↔ Turris agencies.
    Agency,
    /// HubSpot Contacts ↔ Turris agency contacts.
    AgencyContacts,
    /// HubSpot Contacts ↔ Turris agents.
    Agents,
}

impl SyncObject {
    /// Every column, in the UI's order.
    pub const ALL: [SyncObject; 3] = [
        SyncObject::Agency,
        SyncObject::AgencyContacts,
        SyncObject::Agents,
    ];

    /// The serde name (`agency_contacts`).
    pub fn as_str(self) -> &'static str {
        match self {
            SyncObject::Agency => "agency",
            SyncObject::AgencyContacts => "agency_contacts",
            SyncObject::Agents => "agents",
        }
    }
}

/// A row of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// HubSpot → Turris.
    Inbound,
    /// Turris → HubSpot.
    Outbound,
}

impl Direction {
    /// Both rows, inbound first.
    pub const ALL: [Direction; 2] = [Direction::Inbound, Direction::Outbound];

    /// The serde name (`inbound`).
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// The two toggles of one column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Toggles {
    /// HubSpot → Turris.
    #[serde(default)]
    pub inbound: bool,
    /// Turris → HubSpot.
    #[serde(default)]
    pub outbound: bool,
}

/// Something a toggle needs before it can be turned on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prerequisite {
    /// The agency identifier filter is configured and complete.
    AgencyIdentifier,
    /// The agency name is mapped.
    AgencyName,
    /// The agent identifier filter is configured and complete.
    AgentIdentifier,
    /// The agent first name is mapped.
    AgentFirstName,
    /// The agent last name is mapped.
    AgentLastName,
    /// Agency inbound sync is on (agency contacts are synced for synced agencies only).
    AgencyInbound,
}

impl Prerequisite {
    /// The settings path of the missing piece (`agency.identifier`).
    pub fn path(self) -> &'static str {
        match self {
            Prerequisite::AgencyIdentifier => "agency.identifier",
            Prerequisite::AgencyName => "agency.name",
            Prerequisite::AgentIdentifier => "agent.identifier",
            Prerequisite::AgentFirstName => "agent.first_name",
            Prerequisite::AgentLastName => "agent.last_name",
            Prerequisite::AgencyInbound => "matrix.agency.inbound",
        }
    }

    /// What is missing, short and lower-case.
    pub fn message(self) -> &'static str {
        match self {
            Prerequisite::AgencyIdentifier => "agency identifier is not configured",
            Prerequisite::AgencyName => "agency name is not mapped",
            Prerequisite::AgentIdentifier => "agent identifier is not configured",
            Prerequisite::AgentFirstName => "agent first name is not mapped",
            Prerequisite::AgentLastName => "agent last name is not mapped",
            Prerequisite::AgencyInbound => "agency inbound sync is off",
        }
    }
}

/// A toggle could not be turned on; lists every missing prerequisite.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sync cannot be enabled: {}", self.missing.iter().map(|p| p.message()).collect::<Vec<_>>().join(", "))]
pub struct MissingPrerequisites {
    /// Every missing piece, in a stable order.
    pub missing: Vec<Prerequisite>,
}

impl MissingPrerequisites {
    /// One field error per missing piece, for a 422.
    pub fn field_errors(&self) -> Vec<FieldError> {
        self.missing
            .iter()
            .map(|p| FieldError::new(p.path(), p.message()))
            .collect()
    }
}

/// The ongoing-sync matrix of an organization. Everything is off by default.
///
/// ```
/// use turris_core::matrix::{Direction, Prerequisite, SyncMatrix, SyncObject};
/// use turris_core::mapping::MappingSettings;
///
/// let mut matrix = SyncMatrix::default();
/// let mapping = MappingSettings::default(); // no agency identifier yet
/// let refused = matrix.enable(SyncObject::Agency, Direction::Inbound, &mapping).unwrap_err();
/// assert_eq!(refused.missing, [Prerequisite::AgencyIdentifier]);
/// assert!(matrix.enable(SyncObject::Agency, Direction::Outbound, &mapping).is_ok());
/// matrix.disable(SyncObject::Agency, Direction::Outbound);
/// assert!(!matrix.is_enabled(SyncObject::Agency, Direction::Outbound));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SyncMatrix {
    /// Agency column.
    #[serde(default)]
    pub agency: Toggles,
    /// Agency contacts column.
    #[serde(default)]
    pub agency_contacts: Toggles,
    /// Agents column.
    #[serde(default)]
    pub agents: Toggles,
}

impl SyncMatrix {
    fn column(&self, object: SyncObject) -> &Toggles {
        match object {
            SyncObject::Agency => &self.agency,
            SyncObject::AgencyContacts => &self.agency_contacts,
            SyncObject::Agents => &self.agents,
        }
    }

    /// A matrix with this one toggle on: for a run the caller asked for explicitly (a bulk
    /// reconciliation creating the records HubSpot lacks), whatever the ongoing-sync toggles.
    ///
    /// ```
    /// use turris_core::matrix::{Direction, SyncMatrix, SyncObject};
    ///
    /// let only = SyncMatrix::only(SyncObject::Agents, Direction::Outbound);
    /// assert!(only.is_enabled(SyncObject::Agents, Direction::Outbound));
    /// assert!(!only.is_enabled(SyncObject::Agency, Direction::Outbound));
    /// ```
    pub fn only(object: SyncObject, direction: Direction) -> Self {
        let mut matrix = Self::default();
        *matrix.toggle(object, direction) = true;
        matrix
    }

    fn toggle(&mut self, object: SyncObject, direction: Direction) -> &mut bool {
        let column = match object {
            SyncObject::Agency => &mut self.agency,
            SyncObject::AgencyContacts => &mut self.agency_contacts,
            SyncObject::Agents => &mut self.agents,
        };
        match direction {
            Direction::Inbound => &mut column.inbound,
            Direction::Outbound => &mut column.outbound,
        }
    }

    /// Whether a toggle is on.
    pub fn is_enabled(&self, object: SyncObject, direction: Direction) -> bool {
        let column = self.column(object);
        match direction {
            Direction::Inbound => column.inbound,
            Direction::Outbound => column.outbound,
        }
    }

    /// What turning a toggle on still needs (empty when it may be turned on).
    ///
    /// Agency inbound needs the agency identifier and name; agent inbound needs the agent
    /// identifier, first and last name; agency-contact inbound needs agency inbound on.
    /// Outbound toggles need nothing.
    pub fn missing_prerequisites(
        &self,
        object: SyncObject,
        direction: Direction,
        mapping: &MappingSettings,
    ) -> Vec<Prerequisite> {
        let mut missing = Vec::new();
        if direction == Direction::Outbound {
            return missing;
        }
        match object {
            SyncObject::Agency => {
                if !mapping.agency.has_identifier() {
                    missing.push(Prerequisite::AgencyIdentifier);
                }
                if mapping
                    .agency
                    .property(AgencyField::Name)
                    .is_none_or(str::is_empty)
                {
                    missing.push(Prerequisite::AgencyName);
                }
            }
            SyncObject::Agents => {
                let agent = mapping.agent.as_ref();
                if !agent.is_some_and(|a| a.has_identifier()) {
                    missing.push(Prerequisite::AgentIdentifier);
                }
                for (field, prerequisite) in [
                    (AgentField::FirstName, Prerequisite::AgentFirstName),
                    (AgentField::LastName, Prerequisite::AgentLastName),
                ] {
                    if agent
                        .and_then(|a| a.property(field))
                        .is_none_or(str::is_empty)
                    {
                        missing.push(prerequisite);
                    }
                }
            }
            SyncObject::AgencyContacts => {
                if !self.agency.inbound {
                    missing.push(Prerequisite::AgencyInbound);
                }
            }
        }
        missing
    }

    /// Turns a toggle on when every prerequisite is met; otherwise changes nothing and names
    /// every missing piece.
    pub fn enable(
        &mut self,
        object: SyncObject,
        direction: Direction,
        mapping: &MappingSettings,
    ) -> Result<(), MissingPrerequisites> {
        let missing = self.missing_prerequisites(object, direction, mapping);
        if !missing.is_empty() {
            return Err(MissingPrerequisites { missing });
        }
        *self.toggle(object, direction) = true;
        Ok(())
    }

    /// Turns a toggle off. Always allowed.
    pub fn disable(&mut self, object: SyncObject, direction: Direction) {
        *self.toggle(object, direction) = false;
    }

    /// Every toggle, agency column first, inbound before outbound: the order in which
    /// toggles are turned on, so a column is checked after the ones it depends on.
    pub fn toggles() -> impl Iterator<Item = (SyncObject, Direction)> {
        SyncObject::ALL
            .into_iter()
            .flat_map(|o| Direction::ALL.into_iter().map(move |d| (o, d)))
    }

    /// The toggles `wanted` turns on that are off here.
    pub fn turned_on(&self, wanted: &SyncMatrix) -> Vec<(SyncObject, Direction)> {
        Self::toggles()
            .filter(|&(o, d)| wanted.is_enabled(o, d) && !self.is_enabled(o, d))
            .collect()
    }

    /// The matrix `wanted`, built from all-off in [`toggles`](Self::toggles) order, so every
    /// toggle's prerequisites are checked (turning one off is always allowed); or every
    /// missing piece, each at `{object}.{direction}` (`agency_contacts.inbound`).
    ///
    /// ```
    /// use turris_core::mapping::MappingSettings;
    /// use turris_core::matrix::SyncMatrix;
    ///
    /// let mut wanted = SyncMatrix::default();
    /// wanted.agency_contacts.inbound = true;
    /// let errors = SyncMatrix::build(&wanted, &MappingSettings::default()).unwrap_err();
    /// assert_eq!(errors[0].path, "agency_contacts.inbound");
    /// ```
    pub fn build(
        wanted: &SyncMatrix,
        mapping: &MappingSettings,
    ) -> Result<SyncMatrix, Vec<FieldError>> {
        let mut next = SyncMatrix::default();
        let mut errors = Vec::new();
        for (object, direction) in Self::toggles().filter(|&(o, d)| wanted.is_enabled(o, d)) {
            if let Err(missing) = next.enable(object, direction, mapping) {
                let path = format!("{}.{}", object.as_str(), direction.as_str());
                errors.extend(
                    missing
                        .missing
                        .iter()
                        .map(|p| FieldError::new(path.clone(), p.message())),
                );
            }
        }
        if errors.is_empty() {
            Ok(next)
        } else {
            Err(errors)
        }
    }

    /// For each toggle that is off, what it needs before it can be turned on, at
    /// `{object}.{direction}`.
    pub fn blocked(&self, mapping: &MappingSettings) -> Vec<FieldError> {
        Self::toggles()
            .filter(|&(o, d)| !self.is_enabled(o, d))
            .flat_map(|(o, d)| {
                let path = format!("{}.{}", o.as_str(), d.as_str());
                self.missing_prerequisites(o, d, mapping)
                    .into_iter()
                    .map(move |p| FieldError::new(path.clone(), p.message()))
            })
            .collect()
    }

    /// What a new `mapping` would break: for every toggle on, each prerequisite the mapping
    /// no longer meets, at the mapping path it names.
    pub fn broken_by(&self, mapping: &MappingSettings) -> Vec<FieldError> {
        Self::toggles()
            .filter(|&(o, d)| self.is_enabled(o, d))
            .flat_map(|(o, d)| {
                MissingPrerequisites {
                    missing: self.missing_prerequisites(o, d, mapping),
                }
                .field_errors()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{Condition, IdentifierFilter};
    use crate::mapping::{AgencyMapping, AgentMapping};

    fn configured() -> MappingSettings {
        MappingSettings {
            agency: AgencyMapping {
                identifier: Some(IdentifierFilter::ApplyFilter(Condition::equals(
                    "type", "Agency",
                ))),
                ..AgencyMapping::default()
            },
            agent: Some(AgentMapping {
                identifier: Some(IdentifierFilter::SyncAll),
                ..AgentMapping::default()
            }),
        }
    }

    fn check(
        matrix: SyncMatrix,
        object: SyncObject,
        direction: Direction,
        mapping: &MappingSettings,
        expected: &[Prerequisite],
    ) {
        let mut after = matrix;
        let result = after.enable(object, direction, mapping);
        if expected.is_empty() {
            assert_eq!(result, Ok(()), "{object:?} {direction:?}");
            assert!(after.is_enabled(object, direction));
        } else {
            assert_eq!(
                result.unwrap_err().missing,
                expected,
                "{object:?} {direction:?}"
            );
            assert_eq!(after, matrix, "a refused toggle changes nothing");
        }
    }

    #[test]
    fn agency_inbound_needs_the_identifier_and_the_name() {
        let off = SyncMatrix::default();
        check(
            off,
            SyncObject::Agency,
            Direction::Inbound,
            &configured(),
            &[],
        );
        let mut m = configured();
        m.agency.identifier = None;
        m.agency.name = None;
        check(
            off,
            SyncObject::Agency,
            Direction::Inbound,
            &m,
            &[Prerequisite::AgencyIdentifier, Prerequisite::AgencyName],
        );
        let mut m = configured();
        m.agency.identifier = Some(IdentifierFilter::ApplyFilter(Condition {
            value: None,
            ..Condition::equals("type", "x")
        }));
        check(
            off,
            SyncObject::Agency,
            Direction::Inbound,
            &m,
            &[Prerequisite::AgencyIdentifier],
        );
    }

    #[test]
    fn agent_inbound_needs_the_identifier_first_and_last_name() {
        let off = SyncMatrix::default();
        check(
            off,
            SyncObject::Agents,
            Direction::Inbound,
            &configured(),
            &[],
        );
        let m = MappingSettings {
            agent: None,
            ..configured()
        };
        check(
            off,
            SyncObject::Agents,
            Direction::Inbound,
            &m,
            &[
                Prerequisite::AgentIdentifier,
                Prerequisite::AgentFirstName,
                Prerequisite::AgentLastName,
            ],
        );
        let mut m = configured();
        m.agent.as_mut().unwrap().last_name = None;
        check(
            off,
            SyncObject::Agents,
            Direction::Inbound,
            &m,
            &[Prerequisite::AgentLastName],
        );
    }

    #[test]
    fn agency_contacts_inbound_needs_agency_inbound() {
        let off = SyncMatrix::default();
        check(
            off,
            SyncObject::AgencyContacts,
            Direction::Inbound,
            &configured(),
            &[Prerequisite::AgencyInbound],
        );
        let on = SyncMatrix {
            agency: Toggles {
                inbound: true,
                outbound: false,
            },
            ..off
        };
        check(
            on,
            SyncObject::AgencyContacts,
            Direction::Inbound,
            &configured(),
            &[],
        );
    }

    #[test]
    fn outbound_toggles_have_no_prerequisites() {
        let nothing = MappingSettings {
            agency: AgencyMapping {
                name: None,
                ..AgencyMapping::default()
            },
            agent: None,
        };
        for object in SyncObject::ALL {
            check(
                SyncMatrix::default(),
                object,
                Direction::Outbound,
                &nothing,
                &[],
            );
        }
    }

    #[test]
    fn turning_a_toggle_off_always_succeeds_even_with_prerequisites_missing() {
        let mut matrix = SyncMatrix::default();
        matrix
            .enable(SyncObject::Agency, Direction::Inbound, &configured())
            .unwrap();
        matrix.disable(SyncObject::Agency, Direction::Inbound);
        assert!(!matrix.is_enabled(SyncObject::Agency, Direction::Inbound));
    }

    #[test]
    fn refusals_become_field_errors_with_paths() {
        let err = MissingPrerequisites {
            missing: vec![Prerequisite::AgencyIdentifier, Prerequisite::AgentFirstName],
        };
        let errors = err.field_errors();
        assert_eq!(
            errors[0],
            FieldError::new("agency.identifier", "agency identifier is not configured")
        );
        assert_eq!(
            errors[1],
            FieldError::new("agent.first_name", "agent first name is not mapped")
        );
        assert_eq!(
            err.to_string(),
            "sync cannot be enabled: agency identifier is not configured, agent first name is not mapped"
        );
    }

    #[test]
    fn names_match_the_serde_form() {
        for object in SyncObject::ALL {
            assert_eq!(serde_json::to_value(object).unwrap(), object.as_str());
        }
        for direction in Direction::ALL {
            assert_eq!(serde_json::to_value(direction).unwrap(), direction.as_str());
        }
    }

    #[test]
    fn the_matrix_serializes_as_columns_of_toggles() {
        let json = serde_json::to_string(&SyncMatrix::default()).unwrap();
        assert_eq!(
            json,
            r#"{"agency":{"inbound":false,"outbound":false},"agency_contacts":{"inbound":false,"outbound":false},"agents":{"inbound":false,"outbound":false}}"#
        );
    }

    #[test]
    fn building_a_wanted_matrix_checks_dependent_columns_after_the_agency_column() {
        let mut wanted = SyncMatrix::default();
        wanted.agency.inbound = true;
        wanted.agency_contacts.inbound = true;
        assert_eq!(SyncMatrix::build(&wanted, &configured()), Ok(wanted));
        let errors = SyncMatrix::build(&wanted, &MappingSettings::default()).unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        // Agency inbound lacks its identifier, so agency-contact inbound lacks agency inbound.
        assert_eq!(paths, ["agency.inbound", "agency_contacts.inbound"]);
    }

    #[test]
    fn turned_on_lists_only_toggles_that_go_from_off_to_on() {
        let mut current = SyncMatrix::default();
        current.agency.outbound = true;
        let mut wanted = current;
        wanted.agents.inbound = true;
        wanted.agency.outbound = true;
        assert_eq!(
            current.turned_on(&wanted),
            [(SyncObject::Agents, Direction::Inbound)]
        );
    }

    #[test]
    fn a_mapping_without_the_identifier_breaks_an_enabled_inbound_toggle_and_blocks_an_off_one() {
        let mut matrix = SyncMatrix::default();
        matrix.agency.inbound = true;
        let unmapped = MappingSettings::default();
        let broken: Vec<String> = matrix
            .broken_by(&unmapped)
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert!(
            broken.contains(&"agency.identifier".to_owned()),
            "{broken:?}"
        );
        assert!(matrix.broken_by(&configured()).is_empty());
        let mut agents = SyncMatrix::default();
        agents.agents.inbound = true;
        let broken: Vec<String> = agents
            .broken_by(&unmapped)
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(
            broken,
            ["agent.identifier", "agent.first_name", "agent.last_name"]
        );
        let blocked = SyncMatrix::default().blocked(&unmapped);
        assert!(blocked.iter().any(|e| e.path == "agency.inbound"));
        assert!(blocked.iter().all(|e| !e.path.ends_with(".outbound")));
    }
}
