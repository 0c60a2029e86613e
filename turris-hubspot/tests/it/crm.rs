//! Single CRM calls: request shape (method, path, query, body, auth) and answer parsing.

use std::collections::HashMap;

use chrono::{TimeZone, Utc};
use serde_json::json;
use turris_hubspot::Error;
use turris_hubspot::crm::associations::{AssociationCategory, CONTACT_TO_COMPANY};
use turris_hubspot::crm::notes::NewNote;
use turris_hubspot::crm::{
    AssociationSpec, ObjectType, PublicAssociationsForObject, SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
};
use wiremock::matchers::{
    bearer_token, body_json, method, path, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{TOKEN, client, client_with, object};

fn props(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn get_object_asks_for_properties_with_the_bearer_token() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/companies/512"))
        .and(query_param("properties", "name,domain"))
        .and(bearer_token(TOKEN))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(object("512", json!({"name": "Acme", "domain": null}))),
        )
        .expect(1)
        .mount(&server)
        .await;
    let company = client(&server)
        .get_object(&ObjectType::Companies, "512", &["name", "domain"])
        .await
        .unwrap();
    assert_eq!(company.id, "512");
    assert_eq!(company.property("name"), Some("Acme"));
    assert_eq!(company.property("domain"), None);
    assert_eq!(
        company.created_at,
        Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap() + chrono::Duration::milliseconds(678)
    );
    assert!(!company.archived);
}

#[tokio::test]
async fn create_object_posts_properties_and_associations() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts"))
        .and(body_json(json!({
            "properties": {"email": "a@b.co"},
            "associations": [{
                "to": {"id": "512"},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}]
            }]
        })))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(object("51", json!({"email": "a@b.co"}))),
        )
        .expect(1)
        .mount(&server)
        .await;
    let input = SimplePublicObjectInputForCreate {
        properties: props(&[("email", "a@b.co")]),
        associations: vec![PublicAssociationsForObject {
            to: "512".into(),
            types: vec![AssociationSpec::hubspot_defined(CONTACT_TO_COMPANY)],
        }],
    };
    let created = client(&server)
        .create_object(&ObjectType::Contacts, &input)
        .await
        .unwrap();
    assert_eq!(created.id, "51");
}

#[tokio::test]
async fn update_object_patches_only_the_given_properties() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path("/crm/v3/objects/contacts/51"))
        .and(body_json(
            json!({"properties": {"firstname": "Ada", "phone": ""}}),
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(object("51", json!({"firstname": "Ada"}))),
        )
        .expect(1)
        .mount(&server)
        .await;
    let input = SimplePublicObjectInput {
        properties: props(&[("firstname", "Ada"), ("phone", "")]),
    };
    let updated = client(&server)
        .update_object(&ObjectType::Contacts, "51", &input)
        .await
        .unwrap();
    assert_eq!(updated.property("firstname"), Some("Ada"));
}

#[tokio::test]
async fn archive_object_deletes_the_record() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/crm/v3/objects/companies/512"))
        .and(bearer_token(TOKEN))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    client(&server)
        .archive_object(&ObjectType::Companies, "512")
        .await
        .unwrap();
}

#[tokio::test]
async fn ids_from_outside_are_escaped_in_the_path() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/contacts/a%2Fb"))
        .respond_with(ResponseTemplate::new(200).set_body_json(object("1", json!({}))))
        .expect(1)
        .mount(&server)
        .await;
    client(&server)
        .get_object(&ObjectType::Contacts, "a/b", &[])
        .await
        .unwrap();
}

#[tokio::test]
async fn list_objects_follows_the_after_cursor_with_pages_of_100() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/contacts"))
        .and(query_param("limit", "100"))
        .and(query_param("properties", "email"))
        .and(query_param_is_missing("after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [object("1", json!({"email": "one@x.co"}))],
            "paging": {"next": {"after": "cursor-2", "link": "https://api.hubapi.com/..."}}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/contacts"))
        .and(query_param("after", "cursor-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [object("2", json!({"email": "two@x.co"}))]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let all = client(&server)
        .list_objects(&ObjectType::Contacts, &["email"])
        .await
        .unwrap();
    let ids: Vec<_> = all.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["1", "2"]);
}

#[tokio::test]
async fn list_properties_parses_definitions_and_options() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/properties/companies"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [
            {"name": "name", "label": "Company name", "type": "string", "fieldType": "text",
             "groupName": "companyinformation", "hubspotDefined": true, "options": []},
            {"name": "tier", "label": "Tier", "type": "enumeration", "fieldType": "select",
             "groupName": "custom", "options": [
                {"label": "Gold", "value": "gold", "displayOrder": 0, "hidden": false}
             ], "brandNewField": 1}
        ]})))
        .expect(1)
        .mount(&server)
        .await;
    let properties = client(&server)
        .list_properties(&ObjectType::Companies)
        .await
        .unwrap();
    assert_eq!(properties.len(), 2);
    assert!(properties[0].hubspot_defined);
    assert_eq!(properties[1].kind, "enumeration");
    assert!(!properties[1].hubspot_defined);
    assert_eq!(properties[1].options[0].value, "gold");
}

#[tokio::test]
async fn associations_are_read_with_v4_and_numeric_ids() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v4/objects/contacts/51/associations/companies"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"results": [{
                "toObjectId": 512,
                "associationTypes": [
                    {"category": "HUBSPOT_DEFINED", "typeId": 279, "label": null},
                    {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": "Primary"}
                ]
            }]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let found = client(&server)
        .associations(&ObjectType::Contacts, "51", &ObjectType::Companies)
        .await
        .unwrap();
    assert_eq!(found[0].to_object_id, "512");
    assert_eq!(found[0].association_types[0].type_id, 279);
    assert_eq!(
        found[0].association_types[1].label.as_deref(),
        Some("Primary")
    );
    assert_eq!(
        found[0].association_types[0].category,
        AssociationCategory::HubspotDefined
    );
}

#[tokio::test]
async fn contact_to_company_association_is_created_with_type_279() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path(
            "/crm/v4/objects/contacts/51/associations/companies/512",
        ))
        .and(body_json(
            json!([{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}]),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "fromObjectTypeId": "0-1", "fromObjectId": 51,
            "toObjectTypeId": "0-2", "toObjectId": 512, "labels": []
        })))
        .expect(1)
        .mount(&server)
        .await;
    client(&server)
        .associate_contact_to_company("51", "512")
        .await
        .unwrap();
}

#[tokio::test]
async fn default_association_uses_the_default_path() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path(
            "/crm/v4/objects/contacts/51/associations/default/companies/512",
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"status": "COMPLETE", "results": []})),
        )
        .expect(1)
        .mount(&server)
        .await;
    client(&server)
        .associate_default(&ObjectType::Contacts, "51", &ObjectType::Companies, "512")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_note_is_created_with_timestamp_body_and_associations() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/notes"))
        .and(body_json(json!({
            "properties": {
                "hs_note_body": "Synced from Turris",
                "hs_timestamp": "2025-03-04T05:06:07.000Z"
            },
            "associations": [
                {"to": {"id": "51"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}]},
                {"to": {"id": "512"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 190}]}
            ]
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(object("9001", json!({"hs_note_body": "Synced from Turris"}))))
        .expect(1)
        .mount(&server)
        .await;
    let note = NewNote {
        body: "Synced from Turris".to_owned(),
        timestamp: Utc.with_ymd_and_hms(2025, 3, 4, 5, 6, 7).unwrap(),
        contact_ids: vec!["51".to_owned()],
        company_ids: vec!["512".to_owned()],
    };
    assert_eq!(client(&server).create_note(&note).await.unwrap().id, "9001");
}

#[tokio::test]
async fn a_static_list_is_created_and_members_added_and_removed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/lists/"))
        .and(body_json(json!({"name": "Turris members", "objectTypeId": "0-1", "processingType": "MANUAL"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"list": {
            "listId": "77", "name": "Turris members", "objectTypeId": "0-1", "processingType": "MANUAL"
        }})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/crm/v3/lists/77/memberships/add"))
        .and(body_json(json!(["51", "52"])))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "recordIdsAdded": ["51"], "recordIdsMissing": ["52"]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/crm/v3/lists/77/memberships/remove"))
        .and(body_json(json!(["51"])))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"recordIdsRemoved": ["51"]})))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    let list = client
        .create_static_list("Turris members", &ObjectType::Contacts)
        .await
        .unwrap();
    assert_eq!(list.list_id, "77");
    let added = client
        .add_list_members("77", &["51".to_owned(), "52".to_owned()])
        .await
        .unwrap();
    assert_eq!(added.record_ids_added, ["51"]);
    assert_eq!(added.record_ids_missing, ["52"]);
    let removed = client
        .remove_list_members("77", &["51".to_owned()])
        .await
        .unwrap();
    assert_eq!(removed.record_ids_removed, ["51"]);
}

#[tokio::test]
async fn an_error_answer_keeps_status_category_and_correlation_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts"))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({
            "status": "error",
            "message": "Contact already exists. Existing ID: 51",
            "correlationId": "corr-409",
            "category": "CONFLICT",
            "errors": [{"message": "duplicate email", "code": "DUPLICATE"}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let (client, recorder) = client_with(&server, 4);
    let err = client
        .create_object(
            &ObjectType::Contacts,
            &SimplePublicObjectInputForCreate::default(),
        )
        .await
        .unwrap_err();
    let Error::Api(api) = &err else {
        panic!("expected an api error, got {err:?}")
    };
    assert_eq!(api.status, 409);
    assert_eq!(api.category.as_deref(), Some("CONFLICT"));
    assert_eq!(api.correlation_id.as_deref(), Some("corr-409"));
    assert_eq!(api.errors[0].code.as_deref(), Some("DUPLICATE"));
    let calls = recorder.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].status, Some(409));
    assert_eq!(calls[0].category.as_deref(), Some("CONFLICT"));
    assert_eq!(calls[0].correlation_id.as_deref(), Some("corr-409"));
}

#[tokio::test]
async fn a_non_json_error_body_is_kept_raw() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/contacts/51"))
        .respond_with(ResponseTemplate::new(404).set_body_string("<html>not found</html>"))
        .mount(&server)
        .await;
    let err = client(&server)
        .get_object(&ObjectType::Contacts, "51", &[])
        .await
        .unwrap_err();
    let api = err.hubspot().unwrap();
    assert_eq!(api.status, 404);
    assert_eq!(api.raw_body.as_deref(), Some("<html>not found</html>"));
}

#[tokio::test]
async fn the_observer_hears_method_path_status_attempt_and_object_id() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/contacts/51"))
        .respond_with(ResponseTemplate::new(200).set_body_json(object("51", json!({}))))
        .mount(&server)
        .await;
    let (client, recorder) = client_with(&server, 4);
    client
        .get_object(&ObjectType::Contacts, "51", &["email"])
        .await
        .unwrap();
    let calls = recorder.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, http::Method::GET);
    assert_eq!(calls[0].path, "/crm/v3/objects/contacts/51");
    assert_eq!(calls[0].status, Some(200));
    assert_eq!(calls[0].attempt, 1);
    assert_eq!(calls[0].object_id.as_deref(), Some("51"));
    assert!(calls[0].is_success());
}

#[tokio::test]
async fn batch_default_associations_are_sent_in_chunks_of_100() {
    use turris_hubspot::crm::associations::AssociationPair;

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(
            "/crm/v4/associations/contacts/companies/batch/associate/default",
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"status": "COMPLETE", "results": []})),
        )
        .expect(2)
        .mount(&server)
        .await;
    let pairs: Vec<AssociationPair> = (0..150)
        .map(|i| AssociationPair {
            from: format!("{i}").into(),
            to: "512".into(),
        })
        .collect();
    client(&server)
        .batch_associate_default(&ObjectType::Contacts, &ObjectType::Companies, &pairs)
        .await
        .unwrap();
    let sizes: Vec<usize> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            r.body_json::<serde_json::Value>().unwrap()["inputs"]
                .as_array()
                .unwrap()
                .len()
        })
        .collect();
    assert_eq!(sizes, [100, 50]);
}

#[tokio::test]
async fn association_reads_follow_the_after_cursor() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v4/objects/companies/512/associations/contacts"))
        .and(query_param_is_missing("after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [{"toObjectId": 51, "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 280, "label": null}]}],
            "paging": {"next": {"after": "MQ"}}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/crm/v4/objects/companies/512/associations/contacts"))
        .and(query_param("after", "MQ"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [{"toObjectId": 52, "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 280, "label": null}]}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let found = client(&server)
        .associations(&ObjectType::Companies, "512", &ObjectType::Contacts)
        .await
        .unwrap();
    let ids: Vec<_> = found.iter().map(|a| a.to_object_id.as_str()).collect();
    assert_eq!(ids, ["51", "52"]);
}
