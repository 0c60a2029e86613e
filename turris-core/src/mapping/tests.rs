use super::*;
use crate::Condition;
use crate::property::{PropertyDefinition, PropertyType};
use crate::record::{AgencyDraft, AgentDraft, Npn, StateCode};

fn companies() -> ObjectSchema {
    let p = |name: &str, t: PropertyType, standard: bool| {
        PropertyDefinition::new(name, name, t, "text", standard)
    };
    ObjectSchema::new(
        ObjectType::Company,
        vec![
            p("name", PropertyType::String, true),
            p("type", PropertyType::Enumeration, true),
            p("phone", PropertyType::String, true),
            p("state", PropertyType::String, true),
            p("agency_npn", PropertyType::String, false),
            p("producer_code", PropertyType::String, false),
        ],
    )
}

fn contacts() -> ObjectSchema {
    let p = |name: &str, standard: bool| {
        PropertyDefinition::new(name, name, PropertyType::String, "text", standard)
    };
    ObjectSchema::new(
        ObjectType::Contact,
        vec![
            p("firstname", true),
            p("lastname", true),
            p("email", true),
            p("agent_npn", false),
        ],
    )
}

fn agency_mapping() -> AgencyMapping {
    AgencyMapping {
        identifier: Some(IdentifierFilter::ApplyFilter(Condition::equals(
            "type", "Agency",
        ))),
        npn: Some("agency_npn".into()),
        producer_code: Some("producer_code".into()),
        phone: Some("phone".into()),
        state_code: Some("state".into()),
        ..AgencyMapping::default()
    }
}

fn check_errors(settings: &MappingSettings, expected: &[(&str, &str)]) {
    let actual: Vec<(String, String)> = settings
        .validate(&companies(), &contacts())
        .into_iter()
        .map(|e| (e.path, e.message))
        .collect();
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(p, m)| (p.to_string(), m.to_string()))
        .collect();
    assert_eq!(actual, expected);
}

#[test]
fn a_complete_mapping_has_no_errors() {
    let settings = MappingSettings {
        agency: agency_mapping(),
        agent: Some(AgentMapping {
            identifier: Some(IdentifierFilter::SyncAll),
            ..AgentMapping::default()
        }),
    };
    check_errors(&settings, &[]);
}

#[test]
fn mapping_validation_reports_every_error_with_its_full_path() {
    let settings = MappingSettings {
        agency: AgencyMapping {
            identifier: Some(IdentifierFilter::ApplyFilter(Condition {
                value: None,
                ..Condition::equals("type", "x")
            })),
            name: None,
            city: Some("hs_city".into()),
            zip: Some(String::new()),
            ..AgencyMapping::default()
        },
        agent: Some(AgentMapping {
            identifier: None,
            first_name: None,
            npn: Some("nope".into()),
            ..AgentMapping::default()
        }),
    };
    check_errors(
        &settings,
        &[
            ("agency.identifier.value", "value is required"),
            ("agency.name", "agency name is required"),
            (
                "agency.city",
                "property hs_city does not exist on companies",
            ),
            (
                "agency.zip",
                "property must not be empty; leave the field out to keep it unmapped",
            ),
            ("agent.identifier", "agent identifier is required"),
            ("agent.first_name", "first name is required"),
            ("agent.npn", "property nope does not exist on contacts"),
        ],
    );
}

#[test]
fn an_unmapped_identifier_property_is_checked_against_the_right_object() {
    let settings = MappingSettings {
        agency: AgencyMapping {
            identifier: Some(IdentifierFilter::ApplyFilter(Condition::is_populated(
                "firstname",
            ))),
            ..AgencyMapping::default()
        },
        agent: None,
    };
    check_errors(
        &settings,
        &[(
            "agency.identifier.property",
            "property firstname does not exist on companies",
        )],
    );
}

#[test]
fn mappings_reject_unknown_fields_when_deserialized() {
    assert!(serde_json::from_str::<AgencyMapping>(r#"{"nmae":"name"}"#).is_err());
    let parsed: AgencyMapping =
        serde_json::from_str(r#"{"name":"name","state_code":"state"}"#).unwrap();
    assert_eq!(parsed.identifier, None);
    assert_eq!(parsed.property(AgencyField::StateCode), Some("state"));
}

fn company(pairs: &[(&str, Option<&str>)]) -> PropertyMap {
    PropertyMap::from_pairs(pairs.iter().copied())
}

#[test]
fn hubspot_to_turris_copies_every_mapped_field_and_skips_invalid_ones() {
    let mapped = agency_mapping()
        .to_turris(&company(&[
            ("name", Some("Acme Agency")),
            ("agency_npn", Some("12 34")),
            ("producer_code", Some("P-7")),
            ("phone", Some("")),
            ("state", Some("ny")),
            ("unmapped", Some("ignored")),
        ]))
        .unwrap();
    assert_eq!(
        mapped.draft,
        AgencyDraft {
            producer_code: Some("P-7".into()),
            ..AgencyDraft::named("Acme Agency")
        }
    );
    let skipped: Vec<(AgencyField, &str, &str, FieldSkipReason)> = mapped
        .skipped
        .iter()
        .map(|s| (s.field, s.property.as_str(), s.value.as_str(), s.reason))
        .collect();
    assert_eq!(
        skipped,
        [
            (
                AgencyField::Npn,
                "agency_npn",
                "12 34",
                FieldSkipReason::InvalidNpn
            ),
            (
                AgencyField::StateCode,
                "state",
                "ny",
                FieldSkipReason::InvalidStateCode
            ),
        ]
    );
}

#[test]
fn a_record_without_its_required_fields_cannot_be_mapped() {
    fn check(mapping: &AgencyMapping, name: Option<&str>, ok: bool) {
        let result = mapping.to_turris(&company(&[("name", name)]));
        assert_eq!(result.is_ok(), ok, "{name:?}");
        if let Err(e) = result {
            assert_eq!(e.field, AgencyField::Name);
            assert_eq!(e.to_string(), "required field name is not populated");
        }
    }
    check(&agency_mapping(), Some("Acme"), true);
    check(&agency_mapping(), Some(""), false);
    check(&agency_mapping(), None, false);
    check(
        &AgencyMapping {
            name: None,
            ..agency_mapping()
        },
        Some("Acme"),
        false,
    );

    let agents = AgentMapping::default();
    let missing_last = agents
        .to_turris(&company(&[("firstname", Some("Ada"))]))
        .unwrap_err();
    assert_eq!(missing_last.field, AgentField::LastName);
}

#[test]
fn agent_emails_that_are_not_addresses_are_skipped() {
    let mapped = AgentMapping::default()
        .to_turris(&company(&[
            ("firstname", Some("Ada")),
            ("lastname", Some("L")),
            ("email", Some("ada at example")),
        ]))
        .unwrap();
    assert_eq!(mapped.draft.email, None);
    assert_eq!(mapped.skipped[0].reason, FieldSkipReason::InvalidEmail);
}

#[test]
fn turris_to_hubspot_writes_every_mapped_field_and_clears_unset_ones() {
    let draft = AgencyDraft {
        npn: Some(Npn::parse("777").unwrap()),
        state_code: Some(StateCode::parse("TX").unwrap()),
        ..AgencyDraft::named("Acme")
    };
    let properties = agency_mapping().to_hubspot(&draft);
    assert_eq!(properties.len(), 5);
    assert_eq!(properties.get("name"), Some("Acme"));
    assert_eq!(properties.get("agency_npn"), Some("777"));
    assert_eq!(properties.get("state"), Some("TX"));
    assert!(
        properties.contains("phone") && properties.get("phone").is_none(),
        "unset fields clear the property"
    );
    assert!(
        !properties.contains("type"),
        "the identifier property is not written"
    );

    let agent = AgentDraft {
        email: Some("a@b.co".into()),
        ..AgentDraft::named("Ada", "Lovelace")
    };
    let properties = AgentMapping::default().to_hubspot(&agent);
    assert_eq!(properties.get("email"), Some("a@b.co"));
    assert_eq!(properties.get("lastname"), Some("Lovelace"));
}

#[test]
fn mapped_fields_are_classified_standard_or_custom_from_the_schema() {
    let mapping = AgencyMapping {
        city: Some("gone".into()),
        ..agency_mapping()
    };
    let origins = mapping.origins(&companies());
    assert_eq!(
        origins,
        [
            (AgencyField::Name, PropertyOrigin::Standard),
            (AgencyField::Npn, PropertyOrigin::Custom),
            (AgencyField::ProducerCode, PropertyOrigin::Custom),
            (AgencyField::Phone, PropertyOrigin::Standard),
            (AgencyField::City, PropertyOrigin::Unknown),
            (AgencyField::StateCode, PropertyOrigin::Standard),
        ]
    );
}

#[test]
fn fields_can_be_remapped_and_found_by_property() {
    let mut mapping = agency_mapping();
    mapping.set(AgencyField::BranchName, Some("name"));
    assert_eq!(
        mapping.fields_for("name"),
        [AgencyField::Name, AgencyField::BranchName]
    );
    mapping.set(AgencyField::BranchName, None);
    assert_eq!(mapping.fields_for("name"), [AgencyField::Name]);
    assert!(mapping.fields_for("type").is_empty());
    let mut agents = AgentMapping::default();
    agents.set(AgentField::Email, None);
    assert_eq!(agents.property(AgentField::Email), None);
}

#[test]
fn field_keys_and_labels_are_stable() {
    fn check<F: MappedField>(field: F, key: &str, label: &str, required: bool) {
        assert_eq!(
            (field.key(), field.label(), field.is_required()),
            (key, label, required)
        );
    }
    check(AgencyField::Name, "name", "Agency name", true);
    check(AgencyField::StateCode, "state_code", "State code", false);
    check(AgencyField::Zip, "zip", "ZIP", false);
    check(AgentField::FirstName, "first_name", "First name", true);
    check(AgentField::LastName, "last_name", "Last name", true);
    check(AgentField::MiddleName, "middle_name", "Middle name", false);
    assert_eq!(
        serde_json::to_string(&AgencyField::StreetAddress).unwrap(),
        "\"street_address\""
    );
    assert_eq!(AgencyField::ALL.len(), 11);
    assert_eq!(AgentField::ALL.len(), 5);
}
