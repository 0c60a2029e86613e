//! Batch calls: chunks of 100, combined results, 207 split, whole-chunk failures.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use turris_hubspot::Error;
use turris_hubspot::crm::batch::{BatchUpdateInput, TracedCreateInput, UpsertInput};
use turris_hubspot::crm::{ObjectType, SimplePublicObjectInputForCreate};
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::support::{client, object};

/// Answers a batch create with one record per input and remembers each chunk's size.
#[derive(Clone, Default)]
struct EchoCreate {
    sizes: Arc<Mutex<Vec<usize>>>,
}

impl Respond for EchoCreate {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = request.body_json().unwrap();
        let inputs = body["inputs"].as_array().unwrap();
        self.sizes.lock().unwrap().push(inputs.len());
        let results: Vec<Value> = inputs
            .iter()
            .map(|input| {
                object(
                    input["properties"]["email"].as_str().unwrap(),
                    input["properties"].clone(),
                )
            })
            .collect();
        ResponseTemplate::new(201).set_body_json(json!({
            "status": "COMPLETE",
            "results": results,
            "startedAt": "2025-01-01T00:00:00Z",
            "completedAt": "2025-01-01T00:00:01Z"
        }))
    }
}

fn create_inputs(n: usize) -> Vec<SimplePublicObjectInputForCreate> {
    (0..n)
        .map(|i| SimplePublicObjectInputForCreate {
            properties: HashMap::from([("email".to_owned(), format!("{i}"))]),
            associations: Vec::new(),
        })
        .collect()
}

#[tokio::test]
async fn a_batch_of_250_inputs_is_sent_as_100_100_and_50() {
    let server = MockServer::start().await;
    let responder = EchoCreate::default();
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/create"))
        .respond_with(responder.clone())
        .expect(3)
        .mount(&server)
        .await;
    let outcome = client(&server)
        .batch_create(&ObjectType::Contacts, &create_inputs(250))
        .await;
    assert_eq!(*responder.sizes.lock().unwrap(), [100, 100, 50]);
    assert!(outcome.is_complete_success());
    let ids: Vec<String> = outcome.results.iter().map(|o| o.id.clone()).collect();
    let expected: Vec<String> = (0..250).map(|i| i.to_string()).collect();
    assert_eq!(ids, expected, "results combined in input order");
}

#[tokio::test]
async fn a_traced_create_sends_the_trace_id_beside_the_properties_and_reads_it_back() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/companies/batch/create"))
        .and(body_json(json!({"inputs": [
            {"properties": {"name": "Acme"}, "objectWriteTraceId": "agency-1"},
        ]})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "status": "COMPLETE",
            "results": [{
                "id": "512", "properties": {"name": "Acme"}, "objectWriteTraceId": "agency-1",
                "createdAt": "2025-01-01T00:00:00Z", "updatedAt": "2025-01-01T00:00:00Z",
            }],
            "startedAt": "2025-01-01T00:00:00Z",
            "completedAt": "2025-01-01T00:00:01Z"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let input = TracedCreateInput {
        input: SimplePublicObjectInputForCreate {
            properties: HashMap::from([("name".to_owned(), "Acme".to_owned())]),
            associations: Vec::new(),
        },
        object_write_trace_id: "agency-1".to_owned(),
    };
    let outcome = client(&server)
        .batch_create_traced(&ObjectType::Companies, &[input])
        .await;
    assert!(outcome.is_complete_success());
    assert_eq!(
        outcome.results[0].object_write_trace_id.as_deref(),
        Some("agency-1")
    );
}

#[tokio::test]
async fn a_multi_status_answer_is_split_into_successes_and_failures() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/companies/batch/read"))
        .and(body_json(json!({
            "properties": ["name"],
            "idProperty": "npn",
            "inputs": [{"id": "111"}, {"id": "222"}, {"id": "333"}]
        })))
        .respond_with(ResponseTemplate::new(207).set_body_json(json!({
            "status": "COMPLETE",
            "results": [object("1", json!({"name": "A", "npn": "111"}))],
            "numErrors": 1,
            "errors": [{
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": "Could not get some COMPANY objects, they may be deleted or not exist.",
                "context": {"ids": ["222", "333"]}
            }]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let ids = vec!["111".to_owned(), "222".to_owned(), "333".to_owned()];
    let outcome = client(&server)
        .batch_read(&ObjectType::Companies, &ids, &["name"], Some("npn"))
        .await;
    assert_eq!(outcome.results.len(), 1);
    assert_eq!(outcome.results[0].property("npn"), Some("111"));
    assert_eq!(outcome.errors.len(), 1);
    assert_eq!(outcome.errors[0].category, "OBJECT_NOT_FOUND");
    assert_eq!(outcome.errors[0].ids(), ["222", "333"]);
    assert!(outcome.failed_chunks.is_empty());
    assert!(!outcome.is_complete_success());
}

#[tokio::test]
async fn batch_update_sends_ids_and_properties() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/update"))
        .and(body_json(
            json!({"inputs": [{"id": "51", "properties": {"lastname": "Lovelace"}}]}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "COMPLETE", "results": [object("51", json!({"lastname": "Lovelace"}))]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let inputs = [BatchUpdateInput {
        id: "51".to_owned(),
        id_property: None,
        properties: HashMap::from([("lastname".to_owned(), "Lovelace".to_owned())]),
    }];
    let outcome = client(&server)
        .batch_update(&ObjectType::Contacts, &inputs)
        .await;
    assert_eq!(outcome.results[0].property("lastname"), Some("Lovelace"));
}

#[tokio::test]
async fn batch_upsert_reports_which_records_are_new() {
    let server = MockServer::start().await;
    let mut created = object("52", json!({"email": "new@x.co"}));
    created["new"] = json!(true);
    let mut existing = object("51", json!({"email": "old@x.co"}));
    existing["new"] = json!(false);
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/upsert"))
        .and(body_json(json!({"inputs": [
            {"id": "old@x.co", "idProperty": "email", "properties": {"firstname": "O"}},
            {"id": "new@x.co", "idProperty": "email", "properties": {"firstname": "N"}}
        ]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "COMPLETE", "results": [existing, created]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let input = |email: &str, first: &str| UpsertInput {
        id: email.to_owned(),
        id_property: "email".to_owned(),
        properties: HashMap::from([("firstname".to_owned(), first.to_owned())]),
        object_write_trace_id: None,
    };
    let outcome = client(&server)
        .batch_upsert(
            &ObjectType::Contacts,
            &[input("old@x.co", "O"), input("new@x.co", "N")],
        )
        .await;
    assert!(!outcome.results[0].new);
    assert!(outcome.results[1].new);
    assert_eq!(outcome.results[1].object.id, "52");
}

#[tokio::test]
async fn a_chunk_refused_as_a_whole_is_reported_with_its_input_range() {
    let server = MockServer::start().await;
    // The first chunk succeeds, the second one is a validation error.
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/create"))
        .respond_with(EchoCreate::default())
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/create"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "status": "error", "message": "Property values were not valid",
            "correlationId": "c-400", "category": "VALIDATION_ERROR"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = client(&server)
        .batch_create(&ObjectType::Contacts, &create_inputs(150))
        .await;
    assert_eq!(outcome.results.len(), 100);
    assert_eq!(outcome.failed_chunks.len(), 1);
    assert_eq!(outcome.failed_chunks[0].inputs, 100..150);
    assert_eq!(
        outcome.failed_chunks[0].error.category(),
        Some("VALIDATION_ERROR")
    );
}

#[tokio::test]
async fn a_daily_limit_stops_the_remaining_chunks() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/archive"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({
            "status": "error", "message": "You have reached your daily limit.",
            "errorType": "RATE_LIMIT", "correlationId": "c", "policyName": "DAILY"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let ids: Vec<String> = (0..250).map(|i| i.to_string()).collect();
    let outcome = client(&server)
        .batch_archive(&ObjectType::Contacts, &ids)
        .await;
    assert_eq!(outcome.failed_chunks.len(), 2);
    assert!(matches!(
        outcome.failed_chunks[0].error,
        Error::DailyLimit { .. }
    ));
    assert_eq!(outcome.failed_chunks[0].inputs, 0..100);
    assert_eq!(outcome.failed_chunks[1].inputs, 100..250);
}
