//! Run with `cargo run -p turris-examples --example filter_and_mapping` (optionally followed by `-- path/to/agency-mapping.json`).
//!
//! Evaluates an agency identifier filter and field mapping, the way Turris's inbound sync will,
//! on a handful of HubSpot-style companies, without any network: it validates the mapping
//! against a small built-in company schema (printing every error with its path, as the API's
//! 422 will), then prints for each company whether it counts as an agency and the Turris agency
//! draft it maps to, with every skipped field and the reason.
//!
//! The optional file holds an agency mapping in its stored JSON form, e.g.
//! `{"identifier": {"mode": "apply_filter", "property": "type", "operator": "equals",
//! "value": "Agency"}, "name": "name", "npn": "agency_npn", "state_code": "state"}`.

use std::process::ExitCode;

use serde_json::Value;
use turris_core::mapping::{
    AgencyField, AgencyMapping, MappedField, PropertyOrigin, RecordMapping,
};
use turris_core::property::{ObjectSchema, ObjectType, PropertyDefinition, PropertyType};
use turris_core::{IdentifierFilter, PropertyMap};

/// The identifier filter used when no file is given.
const FILTER_JSON: &str =
    r#"{"mode": "apply_filter", "property": "type", "operator": "equals", "value": "Agency"}"#;

/// The field mapping used when no file is given (the identifier is added from `FILTER_JSON`).
const MAPPING_JSON: &str = r#"{
    "name": "name",
    "npn": "agency_npn",
    "producer_code": "producer_code",
    "website": "domain",
    "phone": "phone",
    "city": "city",
    "state_code": "state",
    "zip": "zip"
}"#;

/// HubSpot companies as the CRM v3 API returns them (`id` + `properties`).
const COMPANIES_JSON: &str = r#"[
    {"id": "101", "properties": {"name": "Acme Insurance Agency", "type": "Agency", "agency_npn": "1234567",
        "producer_code": "P-100", "domain": "acme.example", "phone": "+1 212 555 0100", "city": "New York",
        "state": "NY", "zip": "10001"}},
    {"id": "102", "properties": {"name": "Lone Star Brokers", "type": "Agency", "agency_npn": "NPN-88",
        "state": "Texas", "city": "Austin", "phone": ""}},
    {"id": "103", "properties": {"name": "Paper Supplies Inc", "type": "Vendor", "state": "OH"}},
    {"id": "104", "properties": {"name": "Harbor Insurance", "type": "agency", "state": "MA"}},
    {"id": "105", "properties": {"name": "", "type": "Agency", "agency_npn": "7654321"}},
    {"id": "106", "properties": {"name": "Pacific Risk Partners", "type": "Agency", "state": "CA", "zip": null}}
]"#;

fn company_schema() -> ObjectSchema {
    let p = |name: &str, label: &str, t: PropertyType, field: &str, standard: bool| {
        PropertyDefinition::new(name, label, t, field, standard)
    };
    ObjectSchema::new(
        ObjectType::Company,
        vec![
            p("name", "Company name", PropertyType::String, "text", true),
            p("type", "Type", PropertyType::Enumeration, "select", true).with_options([
                ("Agency", "Agency"),
                ("Vendor", "Vendor"),
                ("Partner", "Partner"),
            ]),
            p(
                "domain",
                "Company domain name",
                PropertyType::String,
                "text",
                true,
            ),
            p(
                "phone",
                "Phone number",
                PropertyType::String,
                "phonenumber",
                true,
            ),
            p("city", "City", PropertyType::String, "text", true),
            p("state", "State/Region", PropertyType::String, "text", true),
            p("zip", "Postal code", PropertyType::String, "text", true),
            p(
                "annualrevenue",
                "Annual revenue",
                PropertyType::Number,
                "number",
                true,
            ),
            p(
                "agency_npn",
                "Agency NPN",
                PropertyType::String,
                "text",
                false,
            ),
            p(
                "producer_code",
                "Producer code",
                PropertyType::String,
                "text",
                false,
            ),
        ],
    )
}

/// Reads the mapping: from the file named on the command line, or the built-in JSON.
fn load_mapping() -> Result<(AgencyMapping, String), String> {
    match std::env::args().nth(1) {
        Some(path) => {
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
            let mapping = serde_json::from_str(&text)
                .map_err(|e| format!("{path} is not an agency mapping: {e}"))?;
            Ok((mapping, path))
        }
        None => {
            let filter: IdentifierFilter =
                serde_json::from_str(FILTER_JSON).map_err(|e| format!("built-in filter: {e}"))?;
            let mut mapping: AgencyMapping =
                serde_json::from_str(MAPPING_JSON).map_err(|e| format!("built-in mapping: {e}"))?;
            mapping.identifier = Some(filter);
            Ok((mapping, "the built-in JSON".to_owned()))
        }
    }
}

fn describe(filter: Option<&IdentifierFilter>) -> String {
    match filter {
        None => "not configured".to_owned(),
        Some(filter) => {
            serde_json::to_string(filter).unwrap_or_else(|e| format!("unprintable: {e}"))
        }
    }
}

/// The identifier filter and each mapped field with where its property comes from.
fn print_mapping(mapping: &AgencyMapping, schema: &ObjectSchema, source: &str) {
    println!("Agency identifier filter and field mapping, from {source}");
    println!("  identifier: {}", describe(mapping.identifier.as_ref()));
    let origins = mapping.origins(schema);
    for (field, property) in mapping.mapped() {
        let origin = origins.iter().find(|(f, _)| *f == field).map(|(_, o)| *o);
        let note = match origin {
            Some(PropertyOrigin::Standard) => "standard: created and updated inbound",
            Some(PropertyOrigin::Custom) => {
                "custom: set on create; later HubSpot edits are skipped"
            }
            _ => "not in the schema",
        };
        println!("  {:<15} <- {:<14} ({note})", field.key(), property);
    }
}

/// What one HubSpot company becomes; `true` when it would create an agency.
fn show_company(
    mapping: &AgencyMapping,
    filter: Option<&IdentifierFilter>,
    company: &Value,
) -> bool {
    let id = company["id"].as_str().unwrap_or("?");
    let properties: PropertyMap = match serde_json::from_value(company["properties"].clone()) {
        Ok(properties) => properties,
        Err(e) => {
            println!("\n  company {id}: unreadable properties: {e}");
            return false;
        }
    };
    let name = properties.get("name").unwrap_or("");
    println!(
        "\n  company {id} {name:?} (type = {:?})",
        properties.get("type").unwrap_or("")
    );
    if !filter.is_some_and(|f| f.evaluate(&properties)) {
        println!("    matches the identifier: no -> not an agency, nothing is created");
        return false;
    }
    println!("    matches the identifier: yes");
    match mapping.to_turris(&properties) {
        Err(missing) => {
            println!("    cannot create the agency: {missing}");
            false
        }
        Ok(mapped) => {
            println!("    Turris agency draft:");
            for field in AgencyField::ALL {
                if let Some(value) = field.get(&mapped.draft) {
                    println!("      {:<15} {value:?}", field.key());
                }
            }
            if mapped.skipped.is_empty() {
                println!("    skipped fields: none");
            }
            for skipped in &mapped.skipped {
                println!(
                    "    skipped {} <- {} = {:?}: {}",
                    skipped.field.key(),
                    skipped.property,
                    skipped.value,
                    skipped.reason
                );
            }
            true
        }
    }
}

fn main() -> ExitCode {
    let schema = company_schema();
    let (mapping, source) = match load_mapping() {
        Ok(loaded) => loaded,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };

    print_mapping(&mapping, &schema, &source);

    let errors = turris_core::error::prefix_all("agency", mapping.validate(&schema));
    if !errors.is_empty() {
        println!(
            "\nValidation against the company schema failed ({} errors); the API answers 422 with:",
            errors.len()
        );
        for error in &errors {
            println!("  {}: {}", error.path, error.message);
        }
        return ExitCode::from(1);
    }
    println!("\nValidation against the company schema: ok");

    let companies: Vec<Value> = match serde_json::from_str(COMPANIES_JSON) {
        Ok(companies) => companies,
        Err(e) => {
            eprintln!("error: built-in companies: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = mapping.identifier.as_ref();
    let mut created = 0;
    println!("\nHubSpot companies ({}):", companies.len());
    for company in &companies {
        if show_company(&mapping, filter, company) {
            created += 1;
        }
    }
    println!(
        "\n{created} of {} companies would create a Turris agency (or link to an existing one with the same NPN \
         or producer code).\nComparisons are case- and whitespace-sensitive: type \"agency\" does not equal \"Agency\".",
        companies.len()
    );
    ExitCode::SUCCESS
}
