//! The OpenAPI document describes the answers the server really gives: its schemas are derived
//! from the types the handlers serialize, and this suite checks real answers against them.

use reqwest::Method;
use serde_json::{Map, Value, json};
use wiremock::MockServer;

use crate::support::app::TestApp;

const H: &str = "/api/v1/integrations/hubspot";

/// The schema a `$ref` names.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("a local schema reference: {reference}"));
            let target = &doc["components"]["schemas"][name];
            assert!(!target.is_null(), "{reference} resolves");
            resolve(doc, target)
        }
        None => schema,
    }
}

/// The declared properties and required names of an object schema, `allOf` parts merged.
fn object_shape(doc: &Value, schema: &Value) -> Option<(Map<String, Value>, Vec<String>)> {
    let schema = resolve(doc, schema);
    let mut properties = schema["properties"].as_object().cloned();
    let mut required: Vec<String> = schema["required"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        let (more, more_required) = object_shape(doc, part)?;
        properties.get_or_insert_with(Map::new).extend(more);
        required.extend(more_required);
    }
    properties.map(|p| (p, required))
}

fn type_matches(kind: &str, value: &Value) -> bool {
    match kind {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        other => panic!("a JSON Schema type: {other}"),
    }
}

/// Every way `value` departs from `schema`, each with its JSON path.
fn departures(doc: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let schema = resolve(doc, schema);
    if let Some(alternatives) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
        let fits = alternatives
            .iter()
            .any(|alt| departures(doc, alt, value, at).is_empty());
        return if fits {
            Vec::new()
        } else {
            vec![format!("{at}: {value} fits none of the alternatives")]
        };
    }
    let mut found = Vec::new();
    let kinds: Vec<&str> = match &schema["type"] {
        Value::String(kind) => vec![kind.as_str()],
        Value::Array(kinds) => kinds.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !kinds.is_empty() && !kinds.iter().any(|k| type_matches(k, value)) {
        return vec![format!("{at}: {value} is not {kinds:?}")];
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        found.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if let (Some(items), Some(values)) = (schema.get("items"), value.as_array()) {
        for (i, item) in values.iter().enumerate() {
            found.extend(departures(doc, items, item, &format!("{at}[{i}]")));
        }
    }
    if let (Some((properties, required)), Some(object)) =
        (object_shape(doc, schema), value.as_object())
    {
        for (key, field) in object {
            match properties.get(key) {
                Some(property) => {
                    found.extend(departures(doc, property, field, &format!("{at}.{key}")))
                }
                None => found.push(format!("{at}.{key}: answered but not documented")),
            }
        }
        for name in required {
            if !object.contains_key(&name) {
                found.push(format!("{at}.{name}: documented as required but absent"));
            }
        }
    }
    found
}

/// Calls the API and checks the answer against the document's schema for its route, method
/// and status.
async fn checked(
    app: &TestApp,
    doc: &Value,
    method: Method,
    route: &str,
    path: &str,
    body: Option<Value>,
) -> Value {
    let answer = app.api(method.clone(), path, body).await;
    let status = answer.status.as_u16().to_string();
    assert!(
        answer.status.is_success(),
        "{method} {path}: {status} {}",
        answer.text
    );
    let operation = &doc["paths"][route][method.as_str().to_lowercase()];
    assert!(!operation.is_null(), "{method} {route} is documented");
    let schema = &operation["responses"][&status]["content"]["application/json"]["schema"];
    assert!(
        !schema.is_null(),
        "{method} {route} documents its {status} body"
    );
    let problems = departures(doc, schema, &answer.body, "$");
    assert!(problems.is_empty(), "{method} {path}: {problems:#?}");
    answer.body
}

api_test!(
    async fn every_schema_reference_resolves(app) {
        let doc = app.get("/api/v1/openapi.json").await.expect(200).body;
        let text = doc.to_string();
        let mut count = 0;
        for piece in text.split("\"$ref\":\"").skip(1) {
            let reference = &piece[..piece.find('"').unwrap()];
            resolve(&doc, &json!({ "$ref": reference }));
            count += 1;
        }
        assert!(count > 50, "the document references its schemas: {count}");
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for name in ["Agency", "MappingSettings", "SyncMatrix", "InvitationSettings", "IdentifierFilter"] {
            assert!(schemas.contains_key(name), "{name} is a component");
        }
    }
);

api_test!(
    async fn the_settings_answers_match_their_documented_schemas(app) {
        let doc = app.get("/api/v1/openapi.json").await.expect(200).body;
        app.connect_hubspot().await.expect(200);
        checked(app, &doc, Method::GET, H, H, None).await;
        checked(app, &doc, Method::GET, "/api/v1/integrations", "/api/v1/integrations", None).await;
        let mapping = json!({
            "agency": {
                "identifier": {"mode": "apply_filter", "property": "type", "operator": "is_one_of", "values": ["PARTNER"]},
                "name": "name", "city": "city"
            },
            "agent": {"identifier": {"mode": "sync_all"}, "first_name": "firstname", "last_name": "lastname"}
        });
        let route = format!("{H}/mapping");
        checked(app, &doc, Method::PUT, &route, &route, Some(mapping)).await;
        checked(app, &doc, Method::GET, &route, &route, None).await;
        let route = format!("{H}/sync");
        let matrix = json!({"agency": {"inbound": true, "outbound": true}});
        checked(app, &doc, Method::PUT, &route, &route, Some(matrix)).await;
        app.api(Method::POST, "/api/v1/contract-templates", Some(json!({"id": "standard", "name": "Standard"})))
            .await
            .expect(201);
        let route = format!("{H}/invitations");
        let invitations = json!({
            "mode": "apply_filter",
            "condition": {"property": "type", "operator": "equals", "value": "PARTNER"},
            "rules": [{"condition": {"property": "state", "operator": "is_populated"}, "template": "standard"}],
            "default_template": "standard"
        });
        checked(app, &doc, Method::PUT, &route, &route, Some(invitations)).await;
        checked(app, &doc, Method::GET, &route, &route, None).await;
        for route in ["properties", "activity", "webhook-status"] {
            let route = format!("{H}/{route}");
            checked(app, &doc, Method::GET, &route, &route, None).await;
        }
    }
);

api_test!(
    async fn the_records_answers_match_their_documented_schemas(app) {
        let doc = app.get("/api/v1/openapi.json").await.expect(200).body;
        let agency_body = json!({"name": "Acme", "npn": "1234567", "state_code": "NY", "city": "Albany"});
        let agency = checked(app, &doc, Method::POST, "/api/v1/agencies", "/api/v1/agencies", Some(agency_body)).await;
        let agency = agency["id"].as_str().unwrap().to_owned();
        checked(app, &doc, Method::GET, "/api/v1/agencies", "/api/v1/agencies", None).await;
        checked(app, &doc, Method::GET, "/api/v1/agencies/{id}", &format!("/api/v1/agencies/{agency}"), None).await;
        let agent_body = json!({"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "agency_id": agency});
        let agent = checked(app, &doc, Method::POST, "/api/v1/agents", "/api/v1/agents", Some(agent_body)).await;
        let agent = agent["id"].as_str().unwrap().to_owned();
        checked(app, &doc, Method::GET, "/api/v1/agents", "/api/v1/agents", None).await;
        let contacts = format!("/api/v1/agencies/{agency}/contacts");
        let contact_body = json!({"first_name": "Grace", "email": "grace@acme.example"});
        checked(app, &doc, Method::POST, "/api/v1/agencies/{id}/contacts", &contacts, Some(contact_body)).await;
        checked(app, &doc, Method::GET, "/api/v1/agencies/{id}/contacts", &contacts, None).await;
        let template = json!({"id": "standard", "name": "Standard"});
        checked(app, &doc, Method::POST, "/api/v1/contract-templates", "/api/v1/contract-templates", Some(template)).await;
        checked(app, &doc, Method::GET, "/api/v1/contract-templates", "/api/v1/contract-templates", None).await;
        let updates = json!({"updates": [
            {"entity_type": "agency", "entity_id": agency, "product": "life", "state": "NY", "status": "compliant"},
            {"entity_type": "agent", "entity_id": agent, "product": "life", "state": "TX", "status": "pending"}
        ]});
        let route = "/api/v1/compliance-statuses";
        checked(app, &doc, Method::POST, route, route, Some(updates)).await;
        let path = format!("{route}?entity_type=agency&entity_id={agency}");
        checked(app, &doc, Method::GET, route, &path, None).await;
        let sync = json!({"entity_type": "agent", "entity_id": agent, "kind": "full_refresh", "outcome": "error", "error": "NIPR timeout"});
        checked(app, &doc, Method::POST, "/api/v1/nipr-syncs", "/api/v1/nipr-syncs", Some(sync)).await;
        let path = format!("/api/v1/nipr-syncs?entity_type=agent&entity_id={agent}");
        checked(app, &doc, Method::GET, "/api/v1/nipr-syncs", &path, None).await;
        let agreement = json!({
            "agency_id": agency,
            "contract_template_id": "standard",
            "signers": [{"name": "Grace Hopper", "email": "grace@acme.example"}]
        });
        let route = "/api/v1/producer-agreements";
        checked(app, &doc, Method::POST, route, route, Some(agreement)).await;
        checked(app, &doc, Method::GET, route, &format!("{route}?agency_id={agency}"), None).await;
        checked(app, &doc, Method::GET, "/api/v1/invitations", "/api/v1/invitations", None).await;
        let receiver = MockServer::start().await;
        let webhook = json!({"webhook_type": "producer_agreement_executed", "url": format!("{}/hook", receiver.uri())});
        let webhook = checked(app, &doc, Method::POST, "/api/v1/webhooks", "/api/v1/webhooks", Some(webhook)).await;
        checked(app, &doc, Method::GET, "/api/v1/webhooks", "/api/v1/webhooks", None).await;
        let id = webhook["id"].as_str().unwrap();
        checked(app, &doc, Method::GET, "/api/v1/webhooks/{id}/events", &format!("/api/v1/webhooks/{id}/events"), None).await;
    }
);

#[test]
fn the_checker_finds_an_undocumented_field_and_a_wrong_type() {
    let doc = json!({"components": {"schemas": {
        "Draft": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
        "Agency": {"allOf": [{"$ref": "#/components/schemas/Draft"}, {"type": "object", "properties": {"id": {"type": "string"}}}]}
    }}});
    let schema = json!({"$ref": "#/components/schemas/Agency"});
    assert!(departures(&doc, &schema, &json!({"id": "a", "name": "Acme"}), "$").is_empty());
    assert_eq!(
        departures(
            &doc,
            &schema,
            &json!({"id": "a", "name": "Acme", "extra": 1}),
            "$"
        ),
        ["$.extra: answered but not documented"]
    );
    assert_eq!(departures(&doc, &schema, &json!({"id": 1}), "$").len(), 2);
}
