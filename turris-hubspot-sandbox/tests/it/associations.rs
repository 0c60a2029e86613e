//! Associations v4, notes and lists.

use serde_json::json;
use turris_hubspot_sandbox::ObjectKind;

use crate::helpers::{Api, company, contact, sandbox};

#[tokio::test]
async fn contact_company_associations_are_created_read_and_removed() {
    let sb = sandbox().await;
    let c = sb.control();
    let company = company(&c, "Acme");
    let ann = contact(&c, "ann@x.test");
    let bob = contact(&c, "bob@x.test");
    let api = Api::new(&sb);

    let (status, body) = api
        .put(
            &format!(
                "/crm/v4/objects/contacts/{}/associations/default/companies/{}",
                ann.id, company.id
            ),
            json!(null),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api
        .post(
            "/crm/v4/associations/contacts/companies/batch/create",
            json!({ "inputs": [{ "from": { "id": bob.id }, "to": { "id": company.id }, "types": [{ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279 }] }] }),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let (status, body) = api
        .get(&format!(
            "/crm/v4/objects/companies/{}/associations/contacts",
            company.id
        ))
        .await;
    assert_eq!(status, 200);
    let ids: Vec<String> = body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["toObjectId"].to_string())
        .collect();
    assert_eq!(ids, [ann.id.clone(), bob.id.clone()]);
    assert_eq!(body["results"][0]["associationTypes"][0]["typeId"], 280);

    let (status, body) = api
        .post(
            "/crm/v4/associations/contacts/companies/batch/read",
            json!({ "inputs": [{ "id": ann.id }] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["results"][0]["to"][0]["toObjectId"].to_string(),
        company.id
    );

    let (status, _) = api
        .delete(&format!(
            "/crm/v4/objects/contacts/{}/associations/companies/{}",
            ann.id, company.id
        ))
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        c.associated_ids(ObjectKind::Companies, &company.id, ObjectKind::Contacts),
        vec![bob.id]
    );

    // Associating a record that does not exist is a 404.
    let (status, _) = api
        .put(
            &format!(
                "/crm/v4/objects/contacts/{}/associations/default/companies/424242",
                ann.id
            ),
            json!(null),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn notes_created_with_associations_show_on_the_contact_and_company() {
    let sb = sandbox().await;
    let c = sb.control();
    let company = company(&c, "Acme");
    let ann = contact(&c, "ann@x.test");
    let api = Api::new(&sb);
    let (status, note) = api
        .post(
            "/crm/v3/objects/notes",
            json!({
                "properties": { "hs_timestamp": "2026-01-02T03:04:05.000Z", "hs_note_body": "Synced from Turris" },
                "associations": [
                    { "to": { "id": ann.id }, "types": [{ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202 }] },
                    { "to": { "id": company.id }, "types": [{ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 190 }] }
                ]
            }),
        )
        .await;
    assert_eq!(status, 201, "{note}");
    let on_contact = c.notes_of(ObjectKind::Contacts, &ann.id);
    assert_eq!(on_contact.len(), 1);
    assert_eq!(
        on_contact[0].property("hs_note_body"),
        Some("Synced from Turris")
    );
    assert_eq!(c.notes_of(ObjectKind::Companies, &company.id).len(), 1);

    // A note associated with a missing record is refused and not created.
    let (status, _) = api
        .post(
            "/crm/v3/objects/notes",
            json!({
                "properties": { "hs_timestamp": "1767323045000", "hs_note_body": "x" },
                "associations": [{ "to": { "id": "777777" }, "types": [{ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202 }] }]
            }),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(c.count(ObjectKind::Notes), 1);
}

#[tokio::test]
async fn static_list_memberships_are_added_read_and_removed() {
    let sb = sandbox().await;
    let c = sb.control();
    let ann = contact(&c, "ann@x.test");
    let bob = contact(&c, "bob@x.test");
    let api = Api::new(&sb);
    let (status, created) = api
        .post(
            "/crm/v3/lists/",
            json!({ "name": "Turris members", "objectTypeId": "0-1", "processingType": "MANUAL" }),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let list_id = created["list"]["listId"].as_str().expect("id").to_string();
    let (status, _) = api
        .post(
            "/crm/v3/lists/",
            json!({ "name": "Turris members", "objectTypeId": "0-1", "processingType": "MANUAL" }),
        )
        .await;
    assert_eq!(status, 400, "duplicate list names are refused");

    let (status, added) = api
        .put(
            &format!("/crm/v3/lists/{list_id}/memberships/add"),
            json!([ann.id, bob.id, "999999"]),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(added["recordIdsAdded"], json!([ann.id, bob.id]));
    assert_eq!(added["recordIdsMissing"], json!(["999999"]));
    assert_eq!(c.list_members(&list_id), [ann.id.clone(), bob.id.clone()]);

    let (status, removed) = api
        .put(
            &format!("/crm/v3/lists/{list_id}/memberships/remove"),
            json!([ann.id]),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(removed["recordIdsRemoved"], json!([ann.id]));
    let (status, members) = api
        .get(&format!("/crm/v3/lists/{list_id}/memberships"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(members["results"][0]["recordId"], bob.id.as_str());
    assert_eq!(members["results"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_primary_company_is_recorded_in_associatedcompanyid_and_replaced_by_the_next() {
    let sb = sandbox().await;
    let c = sb.control();
    let acme = company(&c, "Acme");
    let beta = company(&c, "Beta");
    let ann = contact(&c, "ann@x.test");
    let api = Api::new(&sb);
    let primary = |company: &str| {
        (
            format!(
                "/crm/v4/objects/contacts/{}/associations/companies/{company}",
                ann.id
            ),
            json!([{ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1 }]),
        )
    };
    let (path, body) = primary(&acme.id);
    assert_eq!(api.put(&path, body).await.0, 201);
    let associated = |c: &turris_hubspot_sandbox::Control| {
        c.record(ObjectKind::Contacts, &ann.id)
            .and_then(|r| r.property("associatedcompanyid").map(str::to_string))
    };
    assert_eq!(associated(&c), Some(acme.id.clone()));
    let (path, body) = primary(&beta.id);
    assert_eq!(api.put(&path, body).await.0, 201);
    assert_eq!(associated(&c), Some(beta.id.clone()));
    let (_, types) = api
        .get(&format!(
            "/crm/v4/objects/contacts/{}/associations/companies",
            ann.id
        ))
        .await;
    let primaries: Vec<String> = types["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| {
            r["associationTypes"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["typeId"] == 1))
        })
        .map(|r| r["toObjectId"].to_string())
        .collect();
    assert_eq!(
        primaries,
        vec![beta.id.clone()],
        "one primary company at a time"
    );
    api.delete(&format!(
        "/crm/v4/objects/contacts/{}/associations/companies/{}",
        ann.id, beta.id
    ))
    .await;
    assert_eq!(associated(&c), None);

    // A person's first company becomes the primary one.
    let bob = contact(&c, "bob@x.test");
    c.associate(
        ObjectKind::Contacts,
        &bob.id,
        ObjectKind::Companies,
        &acme.id,
    )
    .expect("associate");
    assert_eq!(
        c.record(ObjectKind::Contacts, &bob.id)
            .and_then(|r| r.property("associatedcompanyid").map(str::to_string)),
        Some(acme.id.clone())
    );
}

#[tokio::test]
async fn reads_and_lists_include_associations_when_asked() {
    let sb = sandbox().await;
    let c = sb.control();
    let acme = company(&c, "Acme");
    let ann = contact(&c, "ann@x.test");
    c.associate(
        ObjectKind::Contacts,
        &ann.id,
        ObjectKind::Companies,
        &acme.id,
    )
    .expect("associate");
    let api = Api::new(&sb);
    let (_, read) = api
        .get(&format!(
            "/crm/v3/objects/contacts/{}?associations=companies",
            ann.id
        ))
        .await;
    let types: Vec<&str> = read["associations"]["companies"]["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["type"].as_str())
        .collect();
    assert_eq!(
        types,
        ["contact_to_company", "contact_to_company_unlabeled"]
    );
    assert_eq!(
        read["associations"]["companies"]["results"][0]["id"],
        acme.id.as_str()
    );
    let (_, page) = api
        .get("/crm/v3/objects/companies?associations=contacts&properties=name")
        .await;
    assert_eq!(
        page["results"][0]["associations"]["contacts"]["results"][0]["id"],
        ann.id.as_str()
    );
    let (_, plain) = api
        .get(&format!("/crm/v3/objects/contacts/{}", ann.id))
        .await;
    assert!(plain.get("associations").is_none());
}
