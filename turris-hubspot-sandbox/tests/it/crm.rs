//! Properties, CRUD, batch and list paging.

use serde_json::{Value, json};
use turris_hubspot_sandbox::ObjectKind;

use crate::helpers::{Api, assert_hubspot_error, sandbox};

#[tokio::test]
async fn companies_are_created_read_updated_and_archived() {
    let sb = sandbox().await;
    let api = Api::new(&sb);
    let (status, created) = api
        .post(
            "/crm/v3/objects/companies",
            json!({ "properties": { "name": "Acme", "domain": "acme.test", "state": "TX" } }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("string id").to_string();
    assert!(id.parse::<u64>().is_ok(), "numeric id: {id}");
    assert_eq!(created["properties"]["name"], "Acme");
    assert_eq!(created["properties"]["hs_object_id"], id.as_str());

    let (status, read) = api
        .get(&format!(
            "/crm/v3/objects/companies/{id}?properties=name,state,city"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(read["properties"]["state"], "TX");
    assert_eq!(read["properties"]["city"], Value::Null);
    assert_eq!(read["archived"], false);

    let (status, updated) = api
        .patch(
            &format!("/crm/v3/objects/companies/{id}"),
            json!({ "properties": { "state": "CA", "city": "Fresno" } }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(updated["properties"]["state"], "CA");
    assert_eq!(
        sb.control()
            .record(ObjectKind::Companies, &id)
            .and_then(|r| r.property("city").map(str::to_string)),
        Some("Fresno".into())
    );

    let (status, _) = api.delete(&format!("/crm/v3/objects/companies/{id}")).await;
    assert_eq!(status, 204);
    let (status, body) = api.get(&format!("/crm/v3/objects/companies/{id}")).await;
    assert_eq!(status, 404);
    assert_eq!(assert_hubspot_error(&body), "OBJECT_NOT_FOUND");
    let (status, body) = api
        .patch(
            &format!("/crm/v3/objects/companies/{id}"),
            json!({ "properties": { "name": "x" } }),
        )
        .await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn an_unknown_property_on_write_answers_400_property_doesnt_exist() {
    let sb = sandbox().await;
    let api = Api::new(&sb);
    let (status, body) = api
        .post(
            "/crm/v3/objects/contacts",
            json!({ "properties": { "firstname": "Ann", "agency_npn": "123" } }),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(assert_hubspot_error(&body), "VALIDATION_ERROR");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("PROPERTY_DOESNT_EXIST")),
        "{body}"
    );
    assert_eq!(body["errors"][0]["code"], "PROPERTY_DOESNT_EXIST");
    assert_eq!(
        body["errors"][0]["context"]["propertyName"][0],
        "agency_npn"
    );
    assert_eq!(
        sb.control().count(ObjectKind::Contacts),
        0,
        "nothing was written"
    );
}

#[tokio::test]
async fn an_invalid_enumeration_option_answers_400_and_a_valid_one_is_kept() {
    let sb = sandbox().await;
    let api = Api::new(&sb);
    let (status, body) = api
        .post(
            "/crm/v3/objects/companies",
            json!({ "properties": { "type": "FRIEND" } }),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("INVALID_OPTION"))
    );
    let (status, body) = api
        .post(
            "/crm/v3/objects/companies",
            json!({ "properties": { "type": "PARTNER", "numberofemployees": 12 } }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["properties"]["numberofemployees"], "12");
}

#[tokio::test]
async fn a_duplicate_contact_email_answers_409_with_the_existing_id() {
    let sb = sandbox().await;
    let api = Api::new(&sb);
    let (_, first) = api
        .post(
            "/crm/v3/objects/contacts",
            json!({ "properties": { "email": "ann@agency.test" } }),
        )
        .await;
    let id = first["id"].as_str().expect("id").to_string();
    let (status, body) = api
        .post(
            "/crm/v3/objects/contacts",
            json!({ "properties": { "email": "ANN@agency.test" } }),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(assert_hubspot_error(&body), "CONFLICT");
    assert_eq!(
        body["message"],
        format!("Contact already exists. Existing ID: {id}")
    );
}

#[tokio::test]
async fn malformed_json_answers_a_hubspot_shaped_400() {
    let sb = sandbox().await;
    let resp = reqwest::Client::new()
        .post(format!("{}/crm/v3/objects/contacts", sb.base_url()))
        .bearer_auth(sb.private_app_token())
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(assert_hubspot_error(&body), "VALIDATION_ERROR");
}

#[tokio::test]
async fn a_batch_of_more_than_100_inputs_answers_400_validation_error() {
    let sb = sandbox().await;
    let api = Api::new(&sb);
    for op in ["create", "read", "update", "upsert", "archive"] {
        let inputs: Vec<Value> = (0..101)
            .map(|i| json!({ "id": i.to_string(), "idProperty": "email", "properties": {} }))
            .collect();
        let (status, body) = api
            .post(
                &format!("/crm/v3/objects/contacts/batch/{op}"),
                json!({ "inputs": inputs }),
            )
            .await;
        assert_eq!(status, 400, "{op}: {body}");
        assert_eq!(assert_hubspot_error(&body), "VALIDATION_ERROR");
    }
}

#[tokio::test]
async fn batch_upsert_by_email_creates_then_updates() {
    let sb = sandbox().await;
    let api = Api::new(&sb);
    let inputs: Vec<Value> = (0..100)
        .map(|i| json!({ "idProperty": "email", "id": format!("a{i}@x.test"), "properties": { "firstname": "A" } }))
        .collect();
    let (status, body) = api
        .post(
            "/crm/v3/objects/contacts/batch/upsert",
            json!({ "inputs": inputs }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "COMPLETE");
    assert_eq!(body["results"].as_array().map(Vec::len), Some(100));
    assert_eq!(body["results"][0]["new"], true);
    let inputs =
        json!([{ "idProperty": "email", "id": "a7@x.test", "properties": { "firstname": "B" } }]);
    let (_, body) = api
        .post(
            "/crm/v3/objects/contacts/batch/upsert",
            json!({ "inputs": inputs }),
        )
        .await;
    assert_eq!(body["results"][0]["new"], false);
    assert_eq!(sb.control().count(ObjectKind::Contacts), 100);
    let a7 = sb
        .control()
        .find_record(ObjectKind::Contacts, "email", "a7@x.test")
        .expect("a7");
    assert_eq!(a7.property("firstname"), Some("B"));
}

#[tokio::test]
async fn batch_read_and_update_report_missing_ids_as_207() {
    let sb = sandbox().await;
    let api = Api::new(&sb);
    let (_, c) = api
        .post(
            "/crm/v3/objects/companies",
            json!({ "properties": { "name": "One" } }),
        )
        .await;
    let id = c["id"].as_str().expect("id").to_string();
    let (status, body) = api
        .post(
            "/crm/v3/objects/companies/batch/read",
            json!({ "inputs": [{ "id": id }, { "id": "999999" }], "properties": ["name"] }),
        )
        .await;
    assert_eq!(status, 207);
    assert_eq!(body["results"][0]["properties"]["name"], "One");
    assert_eq!(body["errors"][0]["category"], "OBJECT_NOT_FOUND");
    assert_eq!(body["errors"][0]["context"]["ids"][0], "999999");
    let (status, body) = api
        .post(
            "/crm/v3/objects/companies/batch/update",
            json!({ "inputs": [{ "id": id, "properties": { "name": "Two" } }, { "id": "999999", "properties": {} }] }),
        )
        .await;
    assert_eq!(status, 207);
    assert_eq!(body["results"][0]["properties"]["name"], "Two");
    let (status, body) = api
        .post(
            "/crm/v3/objects/companies/batch/create",
            json!({ "inputs": [{ "properties": { "name": "Three" } }, { "properties": { "name": "Four" } }] }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = api
        .post(
            "/crm/v3/objects/companies/batch/archive",
            json!({ "inputs": [{ "id": id }] }),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(sb.control().count(ObjectKind::Companies), 2);
}

#[tokio::test]
async fn lists_page_with_limit_and_the_after_cursor() {
    let sb = sandbox().await;
    let control = sb.control();
    for i in 0..25 {
        control
            .create_record(ObjectKind::Companies, [("name", format!("C{i}"))])
            .expect("create");
    }
    let api = Api::new(&sb);
    let mut after: Option<String> = None;
    let mut seen = Vec::new();
    loop {
        let path = match &after {
            Some(a) => format!("/crm/v3/objects/companies?limit=10&properties=name&after={a}"),
            None => "/crm/v3/objects/companies?limit=10&properties=name".to_string(),
        };
        let (status, page) = api.get(&path).await;
        assert_eq!(status, 200);
        for r in page["results"].as_array().expect("results") {
            seen.push(r["properties"]["name"].as_str().expect("name").to_string());
        }
        match page["paging"]["next"]["after"].as_str() {
            Some(a) => after = Some(a.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    assert_eq!(seen[0], "C0");
    assert_eq!(seen[24], "C24");
    let (status, _) = api.get("/crm/v3/objects/companies?limit=101").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn properties_are_seeded_with_hubspots_standard_definitions() {
    let sb = sandbox().await;
    let api = Api::new(&sb);
    let (status, body) = api.get("/crm/v3/properties/companies").await;
    assert_eq!(status, 200);
    let props = body["results"].as_array().expect("results");
    let find = |name: &str| {
        props
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .expect(name)
    };
    for name in [
        "name", "domain", "phone", "address", "city", "state", "zip", "country", "website",
        "industry", "type",
    ] {
        assert_eq!(find(name)["hubspotDefined"], true, "{name}");
    }
    let kind = find("type");
    assert_eq!(kind["type"], "enumeration");
    assert_eq!(kind["fieldType"], "select");
    assert!(
        kind["options"]
            .as_array()
            .is_some_and(|o| o.iter().any(|o| o["value"] == "PARTNER"))
    );
    assert_eq!(find("phone")["fieldType"], "phonenumber");
    let (_, contacts) = api.get("/crm/v3/properties/contacts").await;
    let names: Vec<&str> = contacts["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in ["firstname", "lastname", "email", "phone", "company"] {
        assert!(names.contains(&name), "{name}");
    }
}

#[tokio::test]
async fn a_custom_property_can_be_created_then_written_and_read() {
    let sb = sandbox().await;
    let api = Api::new(&sb);
    let (status, body) = api
        .post(
            "/crm/v3/properties/companies",
            json!({ "name": "agency_npn", "label": "Agency NPN", "type": "string", "fieldType": "text", "groupName": "companyinformation", "hasUniqueValue": true }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(body.get("hubspotDefined").is_none_or(|v| v == false));
    let (status, _) = api
        .post("/crm/v3/properties/companies", json!({ "name": "agency_npn", "label": "Again", "type": "string", "fieldType": "text" }))
        .await;
    assert_eq!(status, 409);
    let (status, c) = api
        .post(
            "/crm/v3/objects/companies",
            json!({ "properties": { "agency_npn": "NPN-1" } }),
        )
        .await;
    assert_eq!(status, 201);
    // A unique custom property can key upserts and reads.
    let (status, body) = api
        .post(
            "/crm/v3/objects/companies/batch/upsert",
            json!({ "inputs": [{ "idProperty": "agency_npn", "id": "NPN-1", "properties": { "name": "Acme" } }] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["id"], c["id"]);
    let (status, body) = api
        .get("/crm/v3/objects/companies/NPN-1?idProperty=agency_npn&properties=name")
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["properties"]["name"], "Acme");
    // Upserting on a property without unique values is refused, like HubSpot.
    let (status, _) = api
        .post(
            "/crm/v3/objects/companies/batch/upsert",
            json!({ "inputs": [{ "idProperty": "domain", "id": "acme.test", "properties": {} }] }),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_wrong_method_or_path_answers_hubspot_shaped_errors() {
    let sb = sandbox().await;
    let api = Api::new(&sb);
    let (status, body) = api.put("/crm/v3/objects/contacts", json!({})).await;
    assert_eq!(status, 405);
    assert_hubspot_error(&body);
    let (status, body) = api.get("/crm/v3/nothing/here").await;
    assert_eq!(status, 404);
    assert_hubspot_error(&body);
}

#[tokio::test]
async fn demo_data_seeds_agencies_agents_and_their_associations() {
    let sb = crate::helpers::builder()
        .demo_data()
        .start()
        .await
        .expect("start");
    let control = sb.control();
    assert_eq!(control.count(ObjectKind::Companies), 12);
    let lone_star = control
        .find_record(ObjectKind::Companies, "npn", "17000101")
        .expect("an agency with an NPN");
    assert_eq!(lone_star.property("state"), Some("TX"));
    assert_eq!(
        control
            .associated_ids(ObjectKind::Companies, &lone_star.id, ObjectKind::Contacts)
            .len(),
        2
    );
    let agent = control
        .find_record(ObjectKind::Contacts, "npn", "18000101")
        .expect("an agent with an NPN");
    assert_eq!(
        agent.property("associatedcompanyid"),
        Some(lone_star.id.as_str())
    );
    let api = Api::new(&sb);
    let (_, props) = api.get("/crm/v3/properties/contacts").await;
    assert!(
        props["results"]
            .as_array()
            .expect("results")
            .iter()
            .any(|p| p["name"] == "npn")
    );
    let (_, found) = api
        .post(
            "/crm/v3/objects/companies/search",
            json!({ "filterGroups": [{ "filters": [{ "propertyName": "npn", "operator": "NOT_HAS_PROPERTY" }] }] }),
        )
        .await;
    assert_eq!(found["total"], 1);
}

#[tokio::test]
async fn two_batch_inputs_may_not_write_the_same_email() {
    let sb = sandbox().await;
    let api = Api::new(&sb);
    let (_, created) = api
        .post(
            "/crm/v3/objects/contacts/batch/create",
            json!({ "inputs": [{ "properties": { "email": "a@x.test" } }, { "properties": { "email": "b@x.test" } }] }),
        )
        .await;
    let ids: Vec<&str> = created["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    let (status, body) = api
        .post(
            "/crm/v3/objects/contacts/batch/update",
            json!({ "inputs": [
                { "id": ids[0], "properties": { "email": "same@x.test" } },
                { "id": ids[1], "properties": { "email": "same@x.test" } }
            ] }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = api
        .post(
            "/crm/v3/objects/contacts/batch/create",
            json!({ "inputs": [{ "properties": { "email": "c@x.test" } }, { "properties": { "email": "C@x.test" } }] }),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        sb.control()
            .find_record(ObjectKind::Contacts, "email", "same@x.test")
            .is_none()
    );
}
