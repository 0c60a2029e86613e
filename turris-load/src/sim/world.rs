//! What the run did, as far as it took effect: each company's and contact's ids on both sides
//! and the last write to each field. The expectations the checker compares against come from
//! here.

use std::collections::BTreeMap;

use super::check::{Expectation, LinkRow, Side};
use super::ops::{Field, NameField};

/// A company (and its agency) the run made, on either side.
#[derive(Debug, Clone, Default)]
pub struct Company {
    /// The HubSpot id, once known.
    pub hubspot_id: Option<String>,
    /// The agency id, once known.
    pub turris_id: Option<String>,
    /// The last write of each standard field, on either side.
    pub standard: BTreeMap<Field, String>,
    /// The last write of a custom field through Turris (Turris owns them).
    pub custom_turris: BTreeMap<Field, String>,
    /// Every value HubSpot held for a custom field.
    pub custom_hubspot: BTreeMap<Field, Vec<String>>,
    /// Deleted or merged in HubSpot: its fields are not followed any more.
    pub detached: bool,
}

impl Company {
    /// Records a write of `field` on `side`.
    pub fn wrote(&mut self, side: Side, field: Field, value: &str) {
        match (field.is_custom(), side) {
            (false, _) => {
                self.standard.insert(field, value.to_owned());
            }
            (true, Side::Turris) => {
                self.custom_turris.insert(field, value.to_owned());
            }
            (true, Side::HubSpot) => {
                self.custom_hubspot
                    .entry(field)
                    .or_default()
                    .push(value.to_owned());
            }
        }
    }
}

/// A contact (and its agency contact) the run made.
#[derive(Debug, Clone, Default)]
pub struct Contact {
    /// The HubSpot id, once known.
    pub hubspot_id: Option<String>,
    /// The agency contact id, once known.
    pub turris_id: Option<String>,
    /// First name (last write).
    pub first: String,
    /// Last name (last write).
    pub last: String,
    /// Email (never changes).
    pub email: String,
}

impl Contact {
    /// Records a rename.
    pub fn wrote(&mut self, field: NameField, value: &str) {
        match field {
            NameField::First => self.first = value.to_owned(),
            NameField::Last => self.last = value.to_owned(),
        }
    }
}

/// Everything the run made, by number.
#[derive(Debug, Default)]
pub struct World {
    /// Companies, by the number the operations use.
    pub companies: BTreeMap<usize, Company>,
    /// Contacts, by number.
    pub contacts: BTreeMap<usize, Contact>,
}

impl World {
    /// Fills in the ids the links know, then lists what each linked pair's fields must hold.
    pub fn expectations(&mut self, links: &[LinkRow]) -> Vec<Expectation> {
        let find = |kind: &str, turris: Option<&str>, hubspot: Option<&str>| {
            links
                .iter()
                .find(|l| {
                    l.kind == kind
                        && (turris == Some(l.turris_id.as_str())
                            || hubspot == Some(l.hubspot_id.as_str()))
                })
                .map(|l| (l.turris_id.clone(), l.hubspot_id.clone()))
        };
        let mut out = Vec::new();
        for c in self.companies.values_mut().filter(|c| !c.detached) {
            let Some((turris, hubspot)) =
                find("agency", c.turris_id.as_deref(), c.hubspot_id.as_deref())
            else {
                continue;
            };
            company_expectations(c, &turris, &hubspot, &mut out);
            c.turris_id = Some(turris);
            c.hubspot_id = Some(hubspot);
        }
        for c in self.contacts.values() {
            let Some((turris, hubspot)) = find(
                "agency_contact",
                c.turris_id.as_deref(),
                c.hubspot_id.as_deref(),
            ) else {
                continue;
            };
            for (property, field, value) in [
                ("firstname", "first_name", &c.first),
                ("lastname", "last_name", &c.last),
            ] {
                expect(
                    &mut out,
                    Side::HubSpot,
                    &hubspot,
                    property,
                    Some(value.clone()),
                    vec![],
                );
                expect(
                    &mut out,
                    Side::Turris,
                    &turris,
                    field,
                    Some(value.clone()),
                    vec![],
                );
            }
        }
        out
    }
}

/// One expected value.
fn expect(
    out: &mut Vec<Expectation>,
    side: Side,
    id: &str,
    field: &str,
    value: Option<String>,
    allowed: Vec<String>,
) {
    out.push(Expectation {
        side,
        id: id.to_owned(),
        field: field.to_owned(),
        value,
        allowed,
    });
}

/// What a linked company's fields must hold on both sides.
fn company_expectations(c: &Company, turris: &str, hubspot: &str, out: &mut Vec<Expectation>) {
    for (field, value) in &c.standard {
        if *field == Field::State && value == "Texas" {
            continue; // not a state code: Turris keeps the last one, with a skip row
        }
        expect(
            out,
            Side::HubSpot,
            hubspot,
            field.property(),
            Some(value.clone()),
            vec![],
        );
        expect(
            out,
            Side::Turris,
            turris,
            field.turris(),
            Some(value.clone()),
            vec![],
        );
    }
    for field in Field::ALL.into_iter().filter(|f| f.is_custom()) {
        match c.custom_turris.get(&field) {
            Some(v) => expect(
                out,
                Side::Turris,
                turris,
                field.turris(),
                Some(v.clone()),
                vec![],
            ),
            None => {
                let allowed = c.custom_hubspot.get(&field).cloned().unwrap_or_default();
                expect(out, Side::Turris, turris, field.turris(), None, allowed);
            }
        }
    }
}
