use serde::{Deserialize, Serialize};

use super::{FieldSkipReason, MappedField, RecordMapping};
use crate::filter::IdentifierFilter;
use crate::matrix::SyncObject;
use crate::property::ObjectType;
use crate::record::{AgencyDraft, Npn, StateCode};

/// A Turris agency field that can be mapped to a HubSpot company property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgencyField {
    /// Agency name (required).
    Name,
    /// Branch name.
    BranchName,
    /// NPN.
    Npn,
    /// Producer code.
    ProducerCode,
    /// Website.
    Website,
    /// Phone.
    Phone,
    /// Street address.
    StreetAddress,
    /// City.
    City,
    /// State code.
    StateCode,
    /// ZIP.
    Zip,
    /// Country.
    Country,
}

fn text(value: Option<&str>) -> Option<String> {
    value.filter(|v| !v.is_empty()).map(str::to_owned)
}

impl MappedField for AgencyField {
    type Draft = AgencyDraft;

    const ALL: &'static [Self] = &[
        AgencyField::Name,
        AgencyField::BranchName,
        AgencyField::Npn,
        AgencyField::ProducerCode,
        AgencyField::Website,
        AgencyField::Phone,
        AgencyField::StreetAddress,
        AgencyField::City,
        AgencyField::StateCode,
        AgencyField::Zip,
        AgencyField::Country,
    ];

    fn key(self) -> &'static str {
        match self {
            AgencyField::Name => "name",
            AgencyField::BranchName => "branch_name",
            AgencyField::Npn => "npn",
            AgencyField::ProducerCode => "producer_code",
            AgencyField::Website => "website",
            AgencyField::Phone => "phone",
            AgencyField::StreetAddress => "street_address",
            AgencyField::City => "city",
            AgencyField::StateCode => "state_code",
            AgencyField::Zip => "zip",
            AgencyField::Country => "country",
        }
    }

    fn label(self) -> &'static str {
        match self {
            AgencyField::Name => "Agency name",
            AgencyField::BranchName => "Branch name",
            AgencyField::Npn => "NPN",
            AgencyField::ProducerCode => "Producer code",
            AgencyField::Website => "Website",
            AgencyField::Phone => "Phone",
            AgencyField::StreetAddress => "Street address",
            AgencyField::City => "City",
            AgencyField::StateCode => "State code",
            AgencyField::Zip => "ZIP",
            AgencyField::Country => "Country",
        }
    }

    fn is_required(self) -> bool {
        self == AgencyField::Name
    }

    fn get(self, d: &AgencyDraft) -> Option<String> {
        match self {
            AgencyField::Name => text(Some(&d.name)),
            AgencyField::BranchName => d.branch_name.clone(),
            AgencyField::Npn => d.npn.as_ref().map(|n| n.as_str().to_owned()),
            AgencyField::ProducerCode => d.producer_code.clone(),
            AgencyField::Website => d.website.clone(),
            AgencyField::Phone => d.phone.clone(),
            AgencyField::StreetAddress => d.street_address.clone(),
            AgencyField::City => d.city.clone(),
            AgencyField::StateCode => d.state_code.map(|s| s.as_str().to_owned()),
            AgencyField::Zip => d.zip.clone(),
            AgencyField::Country => d.country.clone(),
        }
    }

    fn set(self, d: &mut AgencyDraft, value: Option<&str>) -> Result<(), FieldSkipReason> {
        let value = value.filter(|v| !v.is_empty());
        match self {
            AgencyField::Name => d.name = value.unwrap_or_default().to_owned(),
            AgencyField::BranchName => d.branch_name = text(value),
            AgencyField::Npn => {
                d.npn = value
                    .map(Npn::parse)
                    .transpose()
                    .map_err(|_| FieldSkipReason::InvalidNpn)?
            }
            AgencyField::ProducerCode => d.producer_code = text(value),
            AgencyField::Website => d.website = text(value),
            AgencyField::Phone => d.phone = text(value),
            AgencyField::StreetAddress => d.street_address = text(value),
            AgencyField::City => d.city = text(value),
            AgencyField::StateCode => {
                d.state_code = value
                    .map(StateCode::parse)
                    .transpose()
                    .map_err(|_| FieldSkipReason::InvalidStateCode)?
            }
            AgencyField::Zip => d.zip = text(value),
            AgencyField::Country => d.country = text(value),
        }
        Ok(())
    }
}

/// How HubSpot Companies map onto Turris agencies.
///
/// Each field names the HubSpot company property it reads from; a missing field is unmapped.
/// [`AgencyMapping::default`] maps the name to HubSpot's built-in `name`.
///
/// ```
/// use turris_core::mapping::{AgencyField, AgencyMapping, FieldSkipReason, RecordMapping};
/// use turris_core::{Condition, IdentifierFilter, PropertyMap};
///
/// let mapping = AgencyMapping {
///     identifier: Some(IdentifierFilter::ApplyFilter(Condition::equals("type", "Agency"))),
///     state_code: Some("state".into()),
///     ..AgencyMapping::default()
/// };
/// let company = PropertyMap::from_pairs([("name", Some("Acme")), ("state", Some("New York"))]);
/// let mapped = mapping.to_turris(&company).unwrap();
/// assert_eq!(mapped.draft.name, "Acme");
/// assert_eq!(mapped.draft.state_code, None);
/// assert_eq!(mapped.skipped[0].field, AgencyField::StateCode);
/// assert_eq!(mapped.skipped[0].reason, FieldSkipReason::InvalidStateCode);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AgencyMapping {
    /// Which companies are agencies (required; `None` until configured).
    #[serde(default)]
    pub identifier: Option<IdentifierFilter>,
    /// Agency name (required).
    #[serde(default)]
    pub name: Option<String>,
    /// Branch name.
    #[serde(default)]
    pub branch_name: Option<String>,
    /// NPN.
    #[serde(default)]
    pub npn: Option<String>,
    /// Producer code.
    #[serde(default)]
    pub producer_code: Option<String>,
    /// Website.
    #[serde(default)]
    pub website: Option<String>,
    /// Phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// Street address.
    #[serde(default)]
    pub street_address: Option<String>,
    /// City.
    #[serde(default)]
    pub city: Option<String>,
    /// State code.
    #[serde(default)]
    pub state_code: Option<String>,
    /// ZIP.
    #[serde(default)]
    pub zip: Option<String>,
    /// Country.
    #[serde(default)]
    pub country: Option<String>,
}

impl Default for AgencyMapping {
    fn default() -> Self {
        Self {
            identifier: None,
            name: Some("name".to_owned()),
            branch_name: None,
            npn: None,
            producer_code: None,
            website: None,
            phone: None,
            street_address: None,
            city: None,
            state_code: None,
            zip: None,
            country: None,
        }
    }
}

impl AgencyMapping {
    /// Maps `field` to `property` (`None` to unmap it).
    pub fn set(&mut self, field: AgencyField, property: Option<&str>) {
        let slot = match field {
            AgencyField::Name => &mut self.name,
            AgencyField::BranchName => &mut self.branch_name,
            AgencyField::Npn => &mut self.npn,
            AgencyField::ProducerCode => &mut self.producer_code,
            AgencyField::Website => &mut self.website,
            AgencyField::Phone => &mut self.phone,
            AgencyField::StreetAddress => &mut self.street_address,
            AgencyField::City => &mut self.city,
            AgencyField::StateCode => &mut self.state_code,
            AgencyField::Zip => &mut self.zip,
            AgencyField::Country => &mut self.country,
        };
        *slot = property.map(str::to_owned);
    }
}

impl RecordMapping for AgencyMapping {
    type Field = AgencyField;
    type Draft = AgencyDraft;
    const OBJECT: ObjectType = ObjectType::Company;
    const SYNC_OBJECT: SyncObject = SyncObject::Agency;
    const NOUN: &'static str = "agency";

    fn identifier(&self) -> Option<&IdentifierFilter> {
        self.identifier.as_ref()
    }

    fn property(&self, field: AgencyField) -> Option<&str> {
        let slot = match field {
            AgencyField::Name => &self.name,
            AgencyField::BranchName => &self.branch_name,
            AgencyField::Npn => &self.npn,
            AgencyField::ProducerCode => &self.producer_code,
            AgencyField::Website => &self.website,
            AgencyField::Phone => &self.phone,
            AgencyField::StreetAddress => &self.street_address,
            AgencyField::City => &self.city,
            AgencyField::StateCode => &self.state_code,
            AgencyField::Zip => &self.zip,
            AgencyField::Country => &self.country,
        };
        slot.as_deref()
    }
}
