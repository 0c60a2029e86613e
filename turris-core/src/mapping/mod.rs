//! Field mapping: which HubSpot property each Turris field reads from and writes to.
//!
//! [`AgencyMapping`] (HubSpot Companies ↔ Turris agencies) and [`AgentMapping`] (HubSpot
//! Contacts ↔ Turris agents) share one engine through [`RecordMapping`] and [`MappedField`], and
//! so does [`AgencyContactMapping`] (HubSpot Contacts ↔ Turris agency contacts), which is not
//! configured on its own but derived from the agent mapping's name and email properties:
//! - [`RecordMapping::validate`] checks a mapping against the cached property schema;
//! - [`RecordMapping::to_turris`] turns a HubSpot record into a draft, skipping (with a reason)
//!   any optional value Turris cannot store, such as a state code that is not a US code;
//! - [`RecordMapping::to_hubspot`] turns a Turris record into HubSpot properties;
//! - [`RecordMapping::origins`] tells standard (HubSpot-defined) from custom mapped properties,
//!   because inbound edits only sync standard ones.
//!
//! Values are copied as they are (no trimming); an empty HubSpot value means "not set".

mod agency;
mod agency_contact;
mod agent;

use std::fmt::Debug;

use serde::{Deserialize, Serialize};

pub use agency::{AgencyField, AgencyMapping};
pub use agency_contact::{AgencyContactField, AgencyContactMapping};
pub use agent::{AgentField, AgentMapping};

use crate::error::{FieldError, prefix_all};
use crate::filter::IdentifierFilter;
use crate::matrix::SyncObject;
use crate::property::{ObjectSchema, ObjectType, PropertyMap};

/// Why an optional field's HubSpot value was not stored in Turris.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum FieldSkipReason {
    /// Not one of the 2-letter US codes.
    #[error("not a 2-letter US state code")]
    InvalidStateCode,
    /// Not 1 to 10 digits.
    #[error("not a valid npn (1 to 10 digits)")]
    InvalidNpn,
    /// Not an email address.
    #[error("not an email address")]
    InvalidEmail,
    /// An inbound update would empty a required field.
    #[error("a required field cannot be emptied")]
    RequiredEmpty,
}

/// One field of a Turris record that a mapping can connect to a HubSpot property.
pub trait MappedField: Copy + Eq + Debug + Send + Sync + 'static {
    /// The record data the field lives in.
    type Draft;
    /// Every field, in the order the UI lists them.
    const ALL: &'static [Self];
    /// The snake_case key, used in paths and serde (`state_code`).
    fn key(self) -> &'static str;
    /// The label the UI shows (`State code`).
    fn label(self) -> &'static str;
    /// Whether the field must be mapped and populated.
    fn is_required(self) -> bool;
    /// The field's value as HubSpot text; `None` when unset.
    fn get(self, draft: &Self::Draft) -> Option<String>;
    /// Stores a HubSpot value (`None` to clear), or says why it cannot be stored.
    fn set(self, draft: &mut Self::Draft, value: Option<&str>) -> Result<(), FieldSkipReason>;
}

/// An optional field whose HubSpot value was not stored, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedField<F> {
    /// The Turris field.
    pub field: F,
    /// The HubSpot property it reads from.
    pub property: String,
    /// The value HubSpot had.
    pub value: String,
    /// Why it was skipped.
    pub reason: FieldSkipReason,
}

/// A HubSpot record turned into a Turris draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped<D, F> {
    /// The draft, with every mapped field that could be stored.
    pub draft: D,
    /// The fields that could not be stored, with reasons.
    pub skipped: Vec<SkippedField<F>>,
}

/// A HubSpot record lacks a required field, so no draft can be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("required field {} is not populated", field.key())]
pub struct MissingRequired<F: MappedField> {
    /// The first required field that is missing (unmapped or empty in HubSpot).
    pub field: F,
}

/// The result of [`RecordMapping::to_turris`].
pub type MappingResult<D, F> = Result<Mapped<D, F>, MissingRequired<F>>;

/// Whether a mapped property is HubSpot-defined or the customer's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PropertyOrigin {
    /// HubSpot-defined: inbound edits sync.
    Standard,
    /// Custom: applied on create only; inbound edits are skipped.
    Custom,
    /// Not in the schema (the mapping would not validate).
    Unknown,
}

/// A mapping of one HubSpot object onto one Turris record type.
pub trait RecordMapping {
    /// The fields the mapping connects.
    type Field: MappedField<Draft = Self::Draft>;
    /// The Turris record data.
    type Draft: Clone + Default + PartialEq + Debug;
    /// The HubSpot object it reads.
    const OBJECT: ObjectType;
    /// What the UI calls the record (`agency`), used in messages.
    const NOUN: &'static str;
    /// The sync-matrix column the mapping feeds.
    const SYNC_OBJECT: SyncObject;

    /// The identifier filter, when configured.
    fn identifier(&self) -> Option<&IdentifierFilter>;

    /// The property a field is mapped to, if any.
    fn property(&self, field: Self::Field) -> Option<&str>;

    /// Every mapped `(field, property)`, in field order.
    fn mapped(&self) -> Vec<(Self::Field, &str)> {
        Self::Field::ALL
            .iter()
            .filter_map(|&f| self.property(f).map(|p| (f, p)))
            .collect()
    }

    /// The properties to read from HubSpot to plan a change: the identifier's, then every
    /// mapped one, each once.
    fn read_properties(&self) -> Vec<&str> {
        let identifier = self.identifier().and_then(IdentifierFilter::property);
        let mut wanted: Vec<&str> = Vec::new();
        for property in identifier
            .into_iter()
            .chain(self.mapped().into_iter().map(|(_, p)| p))
        {
            if !wanted.contains(&property) {
                wanted.push(property);
            }
        }
        wanted
    }

    /// The fields mapped to `property` (several fields may share one property).
    fn fields_for(&self, property: &str) -> Vec<Self::Field> {
        self.mapped()
            .into_iter()
            .filter(|(_, p)| *p == property)
            .map(|(f, _)| f)
            .collect()
    }

    /// Whether the identifier is configured and structurally complete.
    fn has_identifier(&self) -> bool {
        self.identifier().is_some_and(IdentifierFilter::is_complete)
    }

    /// Every problem with the mapping, all at once, with paths relative to the mapping
    /// (`identifier.value`, `name`, `state_code`): a missing or invalid identifier, unmapped
    /// required fields, empty property names, properties that do not exist on the object.
    fn validate(&self, schema: &ObjectSchema) -> Vec<FieldError> {
        let mut errors = Vec::new();
        match self.identifier() {
            None => errors.push(FieldError::new(
                "identifier",
                format!("{} identifier is required", Self::NOUN),
            )),
            Some(filter) => errors.extend(prefix_all("identifier", filter.validate(schema))),
        }
        for &field in Self::Field::ALL {
            match self.property(field) {
                None if field.is_required() => errors.push(FieldError::new(
                    field.key(),
                    format!("{} is required", field.label().to_lowercase()),
                )),
                None => {}
                Some("") => errors.push(FieldError::new(
                    field.key(),
                    "property must not be empty; leave the field out to keep it unmapped",
                )),
                Some(property) if schema.get(property).is_none() => errors.push(FieldError::new(
                    field.key(),
                    format!(
                        "property {property} does not exist on {}",
                        schema.object.plural()
                    ),
                )),
                Some(_) => {}
            }
        }
        errors
    }

    /// HubSpot → Turris: a draft with every mapped field, the optional fields Turris cannot
    /// store listed as skipped, or the first required field that is missing.
    fn to_turris(&self, properties: &PropertyMap) -> MappingResult<Self::Draft, Self::Field> {
        let mut draft = Self::Draft::default();
        let mut skipped = Vec::new();
        for &field in Self::Field::ALL {
            let mapped = self
                .property(field)
                .and_then(|p| properties.get(p).filter(|v| !v.is_empty()).map(|v| (p, v)));
            let Some((property, value)) = mapped else {
                if field.is_required() {
                    return Err(MissingRequired { field });
                }
                continue;
            };
            if let Err(reason) = field.set(&mut draft, Some(value)) {
                if field.is_required() {
                    return Err(MissingRequired { field });
                }
                skipped.push(SkippedField {
                    field,
                    property: property.to_owned(),
                    value: value.to_owned(),
                    reason,
                });
            }
        }
        Ok(Mapped { draft, skipped })
    }

    /// Turris → HubSpot: every mapped field's value (`None` for an unset field, which clears
    /// the HubSpot property).
    fn to_hubspot(&self, draft: &Self::Draft) -> PropertyMap {
        self.mapped()
            .into_iter()
            .map(|(field, property)| (property.to_owned(), field.get(draft)))
            .collect()
    }

    /// Whether each mapped field's property is standard or custom.
    fn origins(&self, schema: &ObjectSchema) -> Vec<(Self::Field, PropertyOrigin)> {
        self.mapped()
            .into_iter()
            .map(|(field, property)| {
                let origin = match schema.is_standard(property) {
                    Some(true) => PropertyOrigin::Standard,
                    Some(false) => PropertyOrigin::Custom,
                    None => PropertyOrigin::Unknown,
                };
                (field, origin)
            })
            .collect()
    }
}

/// Both mappings of an organization, as stored and served.
///
/// The agent mapping is optional: the UI shows the agent table only once one exists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MappingSettings {
    /// HubSpot Companies ↔ Turris agencies.
    #[serde(default)]
    pub agency: AgencyMapping,
    /// HubSpot Contacts ↔ Turris agents.
    #[serde(default)]
    pub agent: Option<AgentMapping>,
}

impl MappingSettings {
    /// Every problem in both mappings, with full paths (`agency.identifier.value`,
    /// `agent.first_name`).
    ///
    /// ```
    /// use turris_core::mapping::MappingSettings;
    /// use turris_core::property::{ObjectSchema, ObjectType};
    ///
    /// let companies = ObjectSchema::new(ObjectType::Company, vec![]);
    /// let contacts = ObjectSchema::new(ObjectType::Contact, vec![]);
    /// let errors = MappingSettings::default().validate(&companies, &contacts);
    /// let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    /// assert_eq!(paths, ["agency.identifier", "agency.name"]);
    /// ```
    pub fn validate(&self, companies: &ObjectSchema, contacts: &ObjectSchema) -> Vec<FieldError> {
        let mut errors = prefix_all("agency", self.agency.validate(companies));
        if let Some(agent) = &self.agent {
            errors.extend(prefix_all("agent", agent.validate(contacts)));
        }
        errors
    }
}

#[cfg(test)]
mod tests;
