//! Property-based fuzzing on stable Rust: the identifier filter, field mappings and the stored
//! integration settings, deserialized from arbitrary bytes and arbitrary JSON and then
//! validated and evaluated, never panic; what deserializes serializes back to itself.
//!
//! The case count is `TURRIS_FUZZ_CASES` (default 256, so `cargo test` stays fast). A long run:
//! `TURRIS_FUZZ_CASES=1000000 cargo test --release -p turris-core --test it fuzz`.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use turris_core::ids::{AgencyId, ContractTemplateId, HubSpotId};
use turris_core::integration::IntegrationSettings;
use turris_core::invitation::InvitationSettings;
use turris_core::mapping::{AgencyContactMapping, MappingSettings, RecordMapping};
use turris_core::record::Email;
use turris_core::{Condition, IdentifierFilter, Npn, ObjectSchema, PropertyMap, StateCode};

fn config() -> ProptestConfig {
    let cases = std::env::var("TURRIS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Keys of the settings' JSON besides the mapped fields (below), so generated documents get
/// past the first field.
const KEYS: &[&str] = &[
    "mode",
    "property",
    "operator",
    "value",
    "values",
    "agency",
    "agent",
    "identifier",
    "mapping",
    "matrix",
    "invitations",
    "condition",
    "rules",
    "template",
    "default_template",
    "company_schema",
    "contact_schema",
    "object",
    "properties",
    "type",
    "label",
    "field_type",
    "hubspot_defined",
    "options",
    "connection",
    "subscriptions",
];
const AGENCY_FIELDS: &[&str] = &[
    "name",
    "branch_name",
    "npn",
    "producer_code",
    "website",
    "phone",
    "street_address",
    "city",
    "state_code",
    "zip",
    "country",
];
const AGENT_FIELDS: &[&str] = &["first_name", "last_name", "email", "npn", "middle_name"];

/// Every key: [`KEYS`] and the agency's and agent's fields.
fn keys() -> Vec<&'static str> {
    let mut keys = [KEYS, AGENCY_FIELDS, AGENT_FIELDS].concat();
    keys.sort_unstable();
    keys.dedup();
    keys
}
const WORDS: &[&str] = &[
    "sync_all",
    "apply_filter",
    "equals",
    "is_populated",
    "is_not_populated",
    "is_one_of",
    "contains",
    "is_a_number",
    "invite_all",
    "do_not_invite",
    "company",
    "contact",
    "string",
    "enumeration",
    "bool",
    "number",
    "type",
    "Agency",
    "npn",
    "",
    " ",
    "1e3",
    "NaN",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(WORDS.to_vec()).prop_map(str::to_owned),
        prop::sample::select(keys()).prop_map(str::to_owned),
        "[A-Za-z0-9 ._-]{0,12}",
        any::<String>(),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 96, 10, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        3 => prop::sample::select(keys()).prop_map(str::to_owned),
                        1 => "[a-z_]{1,10}"
                    ],
                    inner
                ),
                0..8
            )
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Well-shaped filter documents with arbitrary parts.
fn filter_json() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just("sync_all"), Just("apply_filter"), Just("other")],
        prop::option::of(text()),
        prop::option::of(prop::sample::select(WORDS.to_vec())),
        prop::option::of(text()),
        prop::option::of(prop::collection::vec(text(), 0..4)),
    )
        .prop_map(|(mode, property, operator, value, values)| {
            let mut doc = json!({ "mode": mode });
            for (key, v) in [
                ("property", property.map(Value::from)),
                ("operator", operator.map(Value::from)),
                ("value", value.map(Value::from)),
                ("values", values.map(Value::from)),
            ] {
                if let Some(v) = v {
                    doc[key] = v;
                }
            }
            doc
        })
}

fn property_map() -> impl Strategy<Value = PropertyMap> {
    prop::collection::vec((text(), prop::option::of(text())), 0..10)
        .prop_map(|pairs| pairs.into_iter().collect())
}

fn schema(object: &'static str) -> impl Strategy<Value = ObjectSchema> {
    prop::collection::vec(
        (text(), prop::sample::select(vec!["string", "enumeration", "bool", "number", "datetime", "x"]), any::<bool>()),
        0..8,
    )
    .prop_map(move |props| {
        let properties: Vec<Value> = props
            .into_iter()
            .map(|(name, kind, standard)| {
                json!({"name": name, "label": name, "type": kind, "field_type": "text", "hubspot_defined": standard})
            })
            .collect();
        serde_json::from_value(json!({"object": object, "properties": properties}))
            .expect("a well-formed schema")
    })
}

/// Serializing what was deserialized and reading it again gives the same value.
fn round_trips<T>(value: &T) -> bool
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq,
{
    let text = serde_json::to_string(value).expect("serializes");
    serde_json::from_str::<T>(&text).is_ok_and(|back| &back == value)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn fuzz_identifier_filters_from_arbitrary_json_never_panic(
        doc in prop_oneof![filter_json(), json_value()],
        bytes in prop::collection::vec(any::<u8>(), 0..128),
        map in property_map(),
        companies in schema("company"),
    ) {
        let _ = serde_json::from_slice::<IdentifierFilter>(&bytes);
        let _ = serde_json::from_slice::<Condition>(&bytes);
        if let Ok(filter) = serde_json::from_value::<IdentifierFilter>(doc.clone()) {
            let _ = filter.evaluate(&map);
            let _ = filter.validate(&companies);
            let _ = (filter.is_complete(), filter.property());
            prop_assert!(round_trips(&filter), "{}", doc);
        }
        if let Ok(condition) = serde_json::from_value::<Condition>(doc.clone()) {
            let _ = condition.evaluate(&map);
            let _ = condition.validate(&companies);
            prop_assert!(round_trips(&condition), "{}", doc);
        }
    }

    #[test]
    fn fuzz_mappings_from_arbitrary_json_never_panic(
        doc in json_value(),
        agency in prop::collection::vec((prop::sample::select(AGENCY_FIELDS.to_vec()), text()), 0..12),
        agent in prop::option::of(prop::collection::vec((prop::sample::select(AGENT_FIELDS.to_vec()), text()), 0..6)),
        identifiers in (filter_json(), filter_json()),
        map in property_map(),
        companies in schema("company"),
        contacts in schema("contact"),
    ) {
        let fields = |pairs: Vec<(&str, String)>, identifier: Value| {
            let mut map: Map<String, Value> =
                pairs.into_iter().map(|(k, v)| (k.to_owned(), Value::from(v))).collect();
            map.insert("identifier".to_owned(), identifier);
            Value::Object(map)
        };
        let mut shaped = json!({ "agency": fields(agency, identifiers.0) });
        if let Some(agent) = agent {
            shaped["agent"] = fields(agent, identifiers.1);
        }
        for doc in [doc, shaped] {
            let Ok(settings) = serde_json::from_value::<MappingSettings>(doc.clone()) else { continue };
            let _ = settings.validate(&companies, &contacts);
            prop_assert!(round_trips(&settings), "{}", doc);
            let _ = settings.agency.read_properties();
            let _ = settings.agency.origins(&companies);
            if let Ok(mapped) = settings.agency.to_turris(&map) {
                let _ = settings.agency.to_hubspot(&mapped.draft);
            }
            if let Some(agent) = &settings.agent {
                let _ = agent.read_properties();
                if let Ok(mapped) = agent.to_turris(&map) {
                    let _ = agent.to_hubspot(&mapped.draft);
                }
            }
            let contact = AgencyContactMapping::from_settings(&settings);
            if let Ok(mapped) = contact.to_turris(&map) {
                let _ = contact.to_hubspot(&mapped.draft);
            }
        }
    }

    #[test]
    fn fuzz_integration_settings_from_arbitrary_bytes_and_json_never_panic(
        doc in json_value(),
        invitations in (filter_json(), prop::collection::vec((filter_json(), prop::option::of(text())), 0..3), prop::option::of(text())),
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        map in property_map(),
        companies in schema("company"),
    ) {
        let _ = serde_json::from_slice::<IntegrationSettings>(&bytes);
        let _ = serde_json::from_slice::<PropertyMap>(&bytes);
        let _ = serde_json::from_slice::<ObjectSchema>(&bytes);
        if let Ok(settings) = serde_json::from_value::<IntegrationSettings>(doc.clone()) {
            let _ = settings.required_subscriptions();
            let _ = settings.invitations.decide(&map);
            let _ = settings.invitations.validate(&companies);
        }
        let (condition, rules, default_template) = invitations;
        let mode = condition["mode"].as_str().unwrap_or("apply_filter").to_owned();
        let mut condition = condition;
        if let Some(object) = condition.as_object_mut() {
            object.remove("mode");
        }
        let rules: Vec<Value> = rules
            .into_iter()
            .map(|(mut c, template)| {
                if let Some(object) = c.as_object_mut() {
                    object.remove("mode");
                }
                json!({"condition": c, "template": template})
            })
            .collect();
        let doc = json!({
            "mode": if mode == "sync_all" { "invite_all".to_owned() } else { mode },
            "condition": condition, "rules": rules, "default_template": default_template,
        });
        if let Ok(invitations) = serde_json::from_value::<InvitationSettings>(doc.clone()) {
            let _ = invitations.decide(&map);
            let _ = invitations.validate(&companies);
            prop_assert!(round_trips(&invitations), "{}", doc);
        }
    }

    #[test]
    fn fuzz_record_values_and_ids_parse_any_text(value in text()) {
        if let Ok(npn) = Npn::parse(&value) {
            prop_assert_eq!(Npn::parse(npn.as_str()).ok(), Some(npn.clone()));
        }
        if let Ok(state) = StateCode::parse(&value) {
            prop_assert_eq!(StateCode::parse(state.as_str()).ok(), Some(state));
        }
        if let Ok(email) = Email::parse(&value) {
            prop_assert_eq!(Email::parse(email.as_str()).ok(), Some(email.clone()));
        }
        if let Ok(id) = HubSpotId::parse(&value) {
            prop_assert_eq!(HubSpotId::parse(id.as_str()).ok(), Some(id.clone()));
        }
        let _ = AgencyId::parse(&value);
        let _ = ContractTemplateId::parse(&value);
        let _ = turris_core::filter::is_decimal_number(&value);
    }
}
