//! Search: filter groups, operators, sorts, page and result limits.

use serde_json::{Value, json};
use turris_hubspot_sandbox::ObjectKind;

use crate::helpers::{Api, assert_hubspot_error, sandbox};

async fn ids(api: &Api, object: &str, body: Value) -> Vec<String> {
    let (status, out) = api
        .post(&format!("/crm/v3/objects/{object}/search"), body)
        .await;
    assert_eq!(status, 200, "{out}");
    out["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            r["properties"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn filter(prop: &str, op: &str, value: Value) -> Value {
    json!({ "propertyName": prop, "operator": op, "value": value })
}

#[tokio::test]
async fn search_ors_filter_groups_ands_filters_and_supports_each_operator() {
    let sb = sandbox().await;
    let c = sb.control();
    for (name, state, employees, domain) in [
        ("Alpha Insurance", "TX", "10", "alpha.test"),
        ("Beta Agency", "CA", "50", ""),
        ("Gamma Insurance Group", "TX", "200", "gamma.test"),
        ("Delta", "NY", "", "delta.test"),
    ] {
        let mut props = vec![("name", name), ("state", state)];
        if !employees.is_empty() {
            props.push(("numberofemployees", employees));
        }
        if !domain.is_empty() {
            props.push(("domain", domain));
        }
        c.create_record(ObjectKind::Companies, props)
            .expect("create");
    }
    let api = Api::new(&sb);
    let search = |groups: Value| json!({ "filterGroups": groups, "properties": ["name"], "sorts": [{ "propertyName": "name", "direction": "ASCENDING" }], "limit": 100 });
    // EQ is case-insensitive; filters in a group are ANDed.
    assert_eq!(
        ids(&api, "companies", search(json!([{ "filters": [filter("state", "EQ", json!("tx")), filter("numberofemployees", "GT", json!(100))] }]))).await,
        ["Gamma Insurance Group"]
    );
    // Groups are ORed.
    assert_eq!(
        ids(&api, "companies", search(json!([{ "filters": [filter("state", "EQ", json!("CA"))] }, { "filters": [filter("state", "EQ", json!("NY"))] }]))).await,
        ["Beta Agency", "Delta"]
    );
    assert_eq!(
        ids(
            &api,
            "companies",
            search(json!([{ "filters": [filter("state", "NEQ", json!("TX"))] }]))
        )
        .await,
        ["Beta Agency", "Delta"]
    );
    assert_eq!(
        ids(
            &api,
            "companies",
            search(json!([{ "filters": [filter("numberofemployees", "GTE", json!("50"))] }]))
        )
        .await,
        ["Beta Agency", "Gamma Insurance Group"]
    );
    assert_eq!(
        ids(
            &api,
            "companies",
            search(json!([{ "filters": [filter("numberofemployees", "LT", json!("50"))] }]))
        )
        .await,
        ["Alpha Insurance"]
    );
    assert_eq!(
        ids(
            &api,
            "companies",
            search(json!([{ "filters": [filter("numberofemployees", "LTE", json!("50"))] }]))
        )
        .await,
        ["Alpha Insurance", "Beta Agency"]
    );
    assert_eq!(
        ids(
            &api,
            "companies",
            search(
                json!([{ "filters": [{ "propertyName": "domain", "operator": "HAS_PROPERTY" }] }])
            )
        )
        .await,
        ["Alpha Insurance", "Delta", "Gamma Insurance Group"]
    );
    assert_eq!(
        ids(&api, "companies", search(json!([{ "filters": [{ "propertyName": "domain", "operator": "NOT_HAS_PROPERTY" }] }]))).await,
        ["Beta Agency"]
    );
    assert_eq!(
        ids(&api, "companies", search(json!([{ "filters": [{ "propertyName": "state", "operator": "IN", "values": ["ca", "ny"] }] }]))).await,
        ["Beta Agency", "Delta"]
    );
    assert_eq!(
        ids(
            &api,
            "companies",
            search(json!([{ "filters": [filter("name", "CONTAINS_TOKEN", json!("insurance"))] }]))
        )
        .await,
        ["Alpha Insurance", "Gamma Insurance Group"]
    );
    assert_eq!(
        ids(
            &api,
            "companies",
            search(json!([{ "filters": [filter("domain", "CONTAINS_TOKEN", json!("*.test"))] }]))
        )
        .await,
        ["Alpha Insurance", "Delta", "Gamma Insurance Group"]
    );
    // An unknown operator or property is a 400.
    let (status, body) = api
        .post(
            "/crm/v3/objects/companies/search",
            search(json!([{ "filters": [filter("state", "LIKE", json!("T"))] }])),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(assert_hubspot_error(&body), "VALIDATION_ERROR");
}

#[tokio::test]
async fn search_sorts_pages_with_after_and_reports_the_total() {
    let sb = sandbox().await;
    let c = sb.control();
    for i in 0..7 {
        c.create_record(
            ObjectKind::Contacts,
            [
                ("email", format!("p{i}@x.test")),
                ("lastname", format!("L{}", 7 - i)),
            ],
        )
        .expect("create");
    }
    let api = Api::new(&sb);
    let body = |after: Option<&str>| {
        let mut b = json!({ "filterGroups": [], "sorts": ["-hs_object_id"], "properties": ["email"], "limit": 3 });
        if let Some(a) = after {
            b["after"] = json!(a);
        }
        b
    };
    let (_, first) = api
        .post("/crm/v3/objects/contacts/search", body(None))
        .await;
    assert_eq!(first["total"], 7);
    assert_eq!(first["results"][0]["properties"]["email"], "p6@x.test");
    assert_eq!(first["paging"]["next"]["after"], "3");
    let (_, last) = api
        .post("/crm/v3/objects/contacts/search", body(Some("6")))
        .await;
    assert_eq!(last["results"].as_array().map(Vec::len), Some(1));
    assert!(last.get("paging").is_none());
}

#[tokio::test]
async fn search_refuses_more_than_200_per_page_and_paging_past_10000_results() {
    let sb = sandbox().await;
    let api = Api::new(&sb);
    let (status, body) = api
        .post("/crm/v3/objects/contacts/search", json!({ "limit": 201 }))
        .await;
    assert_eq!(status, 400);
    assert_eq!(assert_hubspot_error(&body), "VALIDATION_ERROR");
    let (status, _) = api
        .post("/crm/v3/objects/contacts/search", json!({ "limit": 200 }))
        .await;
    assert_eq!(status, 200);
    let (status, body) = api
        .post(
            "/crm/v3/objects/contacts/search",
            json!({ "limit": 100, "after": "10000" }),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(assert_hubspot_error(&body), "VALIDATION_ERROR");
}

#[tokio::test]
async fn search_stops_at_10000_results_and_windowing_on_hs_object_id_reaches_the_rest() {
    let sb = sandbox().await;
    let api = Api::new(&sb);
    // 10,050 contacts through batch create.
    for chunk in 0..101 {
        let n = if chunk == 100 { 50 } else { 100 };
        let inputs: Vec<Value> = (0..n)
            .map(|i| json!({ "properties": { "email": format!("c{chunk}-{i}@x.test") } }))
            .collect();
        let (status, body) = api
            .post(
                "/crm/v3/objects/contacts/batch/create",
                json!({ "inputs": inputs }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let sorted = |after: Option<&str>, above: Option<&str>| {
        let mut b = json!({ "sorts": [{ "propertyName": "hs_object_id", "direction": "ASCENDING" }], "limit": 200, "properties": ["hs_object_id"] });
        if let Some(a) = after {
            b["after"] = json!(a);
        }
        if let Some(id) = above {
            b["filterGroups"] = json!([{ "filters": [{ "propertyName": "hs_object_id", "operator": "GT", "value": id }] }]);
        }
        b
    };
    // The page that ends at 10,000 still points further, and following it is a 400.
    let (_, page) = api
        .post(
            "/crm/v3/objects/contacts/search",
            sorted(Some("9800"), None),
        )
        .await;
    assert_eq!(page["total"], 10_050);
    assert_eq!(page["results"].as_array().map(Vec::len), Some(200));
    assert_eq!(page["paging"]["next"]["after"], "10000");
    let (status, _) = api
        .post(
            "/crm/v3/objects/contacts/search",
            sorted(Some("10000"), None),
        )
        .await;
    assert_eq!(status, 400);
    // Restarting above the last id reaches the rest.
    let last_id = page["results"][199]["id"].as_str().expect("id").to_string();
    let (status, rest) = api
        .post(
            "/crm/v3/objects/contacts/search",
            sorted(None, Some(&last_id)),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(rest["total"], 50);
}

#[tokio::test]
async fn a_lagging_search_index_misses_fresh_writes_until_it_catches_up() {
    let sb = sandbox().await;
    let c = sb.control();
    c.set_search_lag(true);
    let api = Api::new(&sb);
    let (status, _) = api
        .post(
            "/crm/v3/objects/contacts",
            json!({ "properties": { "email": "fresh@x.test" } }),
        )
        .await;
    assert_eq!(status, 201);
    let query =
        json!({ "filterGroups": [{ "filters": [filter("email", "EQ", json!("fresh@x.test"))] }] });
    let (_, before) = api
        .post("/crm/v3/objects/contacts/search", query.clone())
        .await;
    assert_eq!(before["total"], 0, "not indexed yet");
    // The record exists all the same: creating it again is a conflict.
    let (status, _) = api
        .post(
            "/crm/v3/objects/contacts",
            json!({ "properties": { "email": "fresh@x.test" } }),
        )
        .await;
    assert_eq!(status, 409);
    c.refresh_search_index();
    let (_, after) = api.post("/crm/v3/objects/contacts/search", query).await;
    assert_eq!(after["total"], 1);
    assert_eq!(ids(&api, "contacts", json!({})).await.len(), 1);
}
