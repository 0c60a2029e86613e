//! Mapping round-trips: Turris → HubSpot → Turris gives back the record, and HubSpot →
//! Turris → HubSpot gives back the mapped properties.

use proptest::prelude::*;
use turris_core::mapping::{AgencyField, AgencyMapping, AgentMapping, MappedField, RecordMapping};
use turris_core::record::{AgencyDraft, AgentDraft, US_STATE_CODES};
use turris_core::{IdentifierFilter, Npn, PropertyMap, StateCode};

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[A-Za-z0-9 .,'&-]{1,24}", "\\PC{1,12}"]
}

fn npn() -> impl Strategy<Value = Npn> {
    "[0-9]{1,10}".prop_map(|s| Npn::parse(&s).unwrap())
}

fn state() -> impl Strategy<Value = StateCode> {
    prop::sample::select(US_STATE_CODES.to_vec()).prop_map(|s| StateCode::parse(s).unwrap())
}

fn agency_draft() -> impl Strategy<Value = AgencyDraft> {
    let o = || prop::option::of(text());
    (
        text(),
        (o(), prop::option::of(npn()), o(), o(), o()),
        (o(), o(), prop::option::of(state()), o(), o()),
    )
        .prop_map(
            |(
                name,
                (branch_name, npn, producer_code, website, phone),
                (street_address, city, state_code, zip, country),
            )| {
                AgencyDraft {
                    name,
                    branch_name,
                    npn,
                    producer_code,
                    website,
                    phone,
                    street_address,
                    city,
                    state_code,
                    zip,
                    country,
                }
            },
        )
}

fn email() -> impl Strategy<Value = String> {
    "[a-z0-9._+-]{1,12}@[a-z0-9-]{1,10}\\.[a-z]{2,4}"
}

fn agent_draft() -> impl Strategy<Value = AgentDraft> {
    (
        text(),
        text(),
        prop::option::of(text()),
        prop::option::of(email()),
        prop::option::of(npn()),
    )
        .prop_map(
            |(first_name, last_name, middle_name, email, npn)| AgentDraft {
                first_name,
                last_name,
                middle_name,
                email,
                npn,
                agency_id: None,
            },
        )
}

/// A mapping with every field mapped to a distinct custom property.
fn full_agency_mapping() -> AgencyMapping {
    let mut mapping = AgencyMapping {
        identifier: Some(IdentifierFilter::SyncAll),
        ..AgencyMapping::default()
    };
    for field in AgencyField::ALL {
        mapping.set(*field, Some(&format!("hs_{field:?}").to_lowercase()));
    }
    mapping
}

fn full_agent_mapping() -> AgentMapping {
    AgentMapping {
        identifier: Some(IdentifierFilter::SyncAll),
        npn: Some("agent_npn".into()),
        middle_name: Some("middlename".into()),
        ..AgentMapping::default()
    }
}

proptest! {
    #[test]
    fn an_agency_survives_turris_to_hubspot_to_turris(draft in agency_draft()) {
        let mapping = full_agency_mapping();
        let properties = mapping.to_hubspot(&draft);
        let back = mapping.to_turris(&properties).unwrap();
        prop_assert!(back.skipped.is_empty(), "{:?}", back.skipped);
        prop_assert_eq!(back.draft, draft);
    }

    #[test]
    fn an_agent_survives_turris_to_hubspot_to_turris(draft in agent_draft()) {
        let mapping = full_agent_mapping();
        let back = mapping.to_turris(&mapping.to_hubspot(&draft)).unwrap();
        prop_assert!(back.skipped.is_empty());
        prop_assert_eq!(back.draft, draft);
    }

    #[test]
    fn valid_hubspot_properties_survive_hubspot_to_turris_to_hubspot(draft in agency_draft()) {
        let mapping = full_agency_mapping();
        let properties: PropertyMap = mapping.to_hubspot(&draft);
        let again = mapping.to_hubspot(&mapping.to_turris(&properties).unwrap().draft);
        prop_assert_eq!(again, properties);
    }

    #[test]
    fn mapping_any_property_map_never_panics(pairs in prop::collection::vec(("hs_[a-z_]{1,14}", prop::option::of(any::<String>())), 0..16)) {
        let map: PropertyMap = pairs.into_iter().collect();
        let mapping = full_agency_mapping();
        if let Ok(mapped) = mapping.to_turris(&map) {
            prop_assert!(!mapped.draft.name.is_empty());
            for skipped in &mapped.skipped {
                prop_assert_eq!(map.get(&skipped.property), Some(skipped.value.as_str()));
            }
        }
    }
}
