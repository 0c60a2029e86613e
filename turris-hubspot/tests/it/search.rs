//! Search: filter groups, paging, and windowing past 10,000 results on `hs_object_id`.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use turris_hubspot::crm::ObjectType;
use turris_hubspot::crm::search::{Filter, FilterGroup, FilterOperator, SearchRequest};
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::support::{client, client_with, object};

#[tokio::test]
async fn a_search_page_posts_filter_groups_and_reads_the_total() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/companies/search"))
        .and(body_json(json!({
            "filterGroups": [
                {"filters": [{"propertyName": "state", "operator": "EQ", "value": "CA"}]},
                {"filters": [
                    {"propertyName": "npn", "operator": "HAS_PROPERTY"},
                    {"propertyName": "tier", "operator": "IN", "values": ["gold", "silver"]}
                ]}
            ],
            "properties": ["name"],
            "limit": 200
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total": 1,
            "results": [object("512", json!({"name": "Acme"}))]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let request = SearchRequest {
        filter_groups: vec![
            FilterGroup {
                filters: vec![Filter::eq("state", "CA")],
            },
            FilterGroup {
                filters: vec![
                    Filter::has_property("npn"),
                    Filter::one_of("tier", vec!["gold".to_owned(), "silver".to_owned()]),
                ],
            },
        ],
        properties: vec!["name".to_owned()],
        limit: Some(200),
        ..SearchRequest::default()
    };
    let page = client(&server)
        .search_page(&ObjectType::Companies, &request)
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.results[0].property("name"), Some("Acme"));
}

/// A search endpoint over ids 1..=total that behaves like HubSpot: sorted by `hs_object_id`,
/// `after` is an offset, and it refuses to page past 10,000 results of one query.
#[derive(Clone)]
struct FakeSearch {
    total: u64,
    requests: Arc<Mutex<Vec<Value>>>,
}

impl Respond for FakeSearch {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = request.body_json().unwrap();
        self.requests.lock().unwrap().push(body.clone());
        assert_eq!(
            body["sorts"],
            json!([{"propertyName": "hs_object_id", "direction": "ASCENDING"}])
        );
        let limit = body["limit"].as_u64().unwrap();
        let offset: u64 = body["after"]
            .as_str()
            .map(|a| a.parse().unwrap())
            .unwrap_or(0);
        if offset + limit > 10_000 {
            return ResponseTemplate::new(400).set_body_json(json!({
                "status": "error", "category": "VALIDATION_ERROR",
                "message": "paging past 10000 results is not allowed", "correlationId": "c"
            }));
        }
        let floor: u64 = body["filterGroups"]
            .as_array()
            .and_then(|groups| groups.first())
            .and_then(|g| g["filters"].as_array())
            .and_then(|filters| {
                filters
                    .iter()
                    .find(|f| f["propertyName"] == "hs_object_id" && f["operator"] == "GT")
            })
            .map(|f| f["value"].as_str().unwrap().parse().unwrap())
            .unwrap_or(0);
        let matching = self.total.saturating_sub(floor);
        let ids: Vec<u64> = (floor + 1 + offset..=self.total)
            .take(limit as usize)
            .collect();
        let results: Vec<Value> = ids
            .iter()
            .map(|id| object(&id.to_string(), json!({})))
            .collect();
        let next = offset + limit;
        let mut answer = json!({"total": matching, "results": results});
        if next < matching {
            answer["paging"] = json!({"next": {"after": next.to_string()}});
        }
        ResponseTemplate::new(200).set_body_json(answer)
    }
}

#[tokio::test]
async fn search_all_windows_past_ten_thousand_results_on_hs_object_id() {
    let server = MockServer::start().await;
    let fake = FakeSearch {
        total: 10_450,
        requests: Arc::default(),
    };
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/search"))
        .respond_with(fake.clone())
        .mount(&server)
        .await;
    let request = SearchRequest {
        filter_groups: vec![FilterGroup {
            filters: vec![Filter::new("createdate", FilterOperator::Gte, "0")],
        }],
        ..SearchRequest::default()
    };
    let (client, recorder) = client_with(&server, 1);
    let all = client
        .search_all(&ObjectType::Contacts, &request)
        .await
        .unwrap();

    let ids: Vec<u64> = all.iter().map(|o| o.id.parse().unwrap()).collect();
    let expected: Vec<u64> = (1..=10_450).collect();
    assert_eq!(ids, expected, "every record once, in id order");
    assert!(
        recorder.calls().iter().all(|c| c.status == Some(200)),
        "never paged past the cap"
    );
    let requests = fake.requests.lock().unwrap();
    let restarted: Vec<&Value> = requests
        .iter()
        .filter(|r| r["filterGroups"][0]["filters"].as_array().unwrap().len() == 2)
        .collect();
    assert!(!restarted.is_empty(), "a second window was opened");
    assert_eq!(
        restarted[0]["filterGroups"][0]["filters"][0]["propertyName"],
        "createdate"
    );
    assert_eq!(
        restarted[0]["filterGroups"][0]["filters"][1]["value"],
        "10000"
    );
    assert!(restarted[0].get("after").is_none());
}

#[tokio::test]
async fn search_all_stops_after_the_last_page_of_a_small_result() {
    let server = MockServer::start().await;
    let fake = FakeSearch {
        total: 450,
        requests: Arc::default(),
    };
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/search"))
        .respond_with(fake.clone())
        .expect(3)
        .mount(&server)
        .await;
    let all = client(&server)
        .search_all(&ObjectType::Contacts, &SearchRequest::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 450);
}

#[tokio::test]
async fn search_spends_its_own_budget_and_leaves_the_general_one_alone() {
    use std::time::Duration;
    use turris_hubspot::auth::{PrivateAppToken, Secret};
    use turris_hubspot::rate_limit::Budget;
    use turris_hubspot::{HubSpotClient, RateLimitConfig, RateLimiter};

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/objects/2026-03/contacts/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"total": 0, "results": []})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/crm/objects/2026-03/contacts/51"))
        .respond_with(ResponseTemplate::new(200).set_body_json(object("51", json!({}))))
        .expect(2)
        .mount(&server)
        .await;
    // One search per hour, plenty of general requests.
    let limiter = RateLimiter::new(RateLimitConfig::new(
        Budget::new(1_000, Duration::from_secs(1)),
        Budget::new(1, Duration::from_secs(3600)),
    ));
    let client = HubSpotClient::builder(Arc::new(PrivateAppToken::new(Secret::new("t"))))
        .api_base(server.uri())
        .rate_limiter(limiter)
        .build()
        .unwrap();
    client
        .search_page(&ObjectType::Contacts, &SearchRequest::default())
        .await
        .unwrap();
    let second_search = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .search_page(&ObjectType::Contacts, &SearchRequest::default())
                .await
        })
    };
    // General calls still go through while the second search waits for its budget.
    client
        .get_object(&ObjectType::Contacts, "51", &[])
        .await
        .unwrap();
    client
        .get_object(&ObjectType::Contacts, "51", &[])
        .await
        .unwrap();
    assert!(
        !second_search.is_finished(),
        "the second search waits instead of failing"
    );
    second_search.abort();
}
