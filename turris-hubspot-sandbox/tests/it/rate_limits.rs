//! Rate limits, fault injection, latency and counters.

use std::time::Duration;

use serde_json::json;
use turris_hubspot_sandbox::{Fault, RateLimits};

use crate::helpers::{Api, assert_hubspot_error, builder};

#[tokio::test]
async fn a_burst_past_the_ten_second_budget_gets_429_ten_secondly_rolling() {
    let sb = builder()
        .rate_limits(RateLimits {
            enabled: true,
            per_window: 20,
            window: Duration::from_secs(600),
            search_per_second: 5,
            per_day: None,
        })
        .start()
        .await
        .expect("start");
    let api = Api::new(&sb);
    let mut statuses = Vec::new();
    let mut last = serde_json::Value::Null;
    for _ in 0..25 {
        let (status, body) = api.get("/crm/v3/objects/contacts").await;
        statuses.push(status);
        if status == 429 {
            last = body;
        }
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 20);
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 5);
    assert_eq!(last["status"], "error");
    assert_eq!(last["errorType"], "RATE_LIMIT");
    assert_eq!(last["policyName"], "TEN_SECONDLY_ROLLING");
    let stats = sb.control().stats();
    assert_eq!(stats.rate_limited, 5);
    assert_eq!(stats.rate_limited_by_policy["TEN_SECONDLY_ROLLING"], 5);
    assert_eq!(stats.calls_to("GET", "/crm/v3/objects/contacts"), 25);
}

#[tokio::test]
async fn searches_past_the_per_second_budget_get_429_secondly() {
    let sb = builder()
        .rate_limits(RateLimits {
            enabled: true,
            per_window: 1000,
            window: Duration::from_secs(10),
            search_per_second: 1,
            per_day: None,
        })
        .start()
        .await
        .expect("start");
    let api = Api::new(&sb);
    let mut policies = Vec::new();
    for _ in 0..5 {
        let (status, body) = api.post("/crm/v3/objects/contacts/search", json!({})).await;
        if status == 429 {
            policies.push(body["policyName"].as_str().unwrap_or_default().to_string());
        }
    }
    assert!(!policies.is_empty());
    assert!(policies.iter().all(|p| p == "SECONDLY"));
}

#[tokio::test]
async fn an_injected_fault_fails_the_next_n_calls_then_the_path_recovers() {
    let sb = builder().start().await.expect("start");
    let control = sb.control();
    control.inject_fault(
        Fault::new("/crm/v3/objects/contacts/batch/upsert")
            .status(503)
            .times(2),
    );
    control.inject_fault(
        Fault::new("/crm/v3/objects/companies")
            .method("GET")
            .status(429)
            .body(json!({ "status": "error", "errorType": "RATE_LIMIT", "policyName": "DAILY", "message": "daily" })),
    );
    let api = Api::new(&sb);
    let body = json!({ "inputs": [{ "idProperty": "email", "id": "a@x.test", "properties": {} }] });
    let (s1, b1) = api
        .post("/crm/v3/objects/contacts/batch/upsert", body.clone())
        .await;
    let (s2, _) = api
        .post("/crm/v3/objects/contacts/batch/upsert", body.clone())
        .await;
    let (s3, _) = api
        .post("/crm/v3/objects/contacts/batch/upsert", body)
        .await;
    assert_eq!((s1, s2, s3), (503, 503, 200));
    assert_hubspot_error(&b1);
    let (status, daily) = api.get("/crm/v3/objects/companies").await;
    assert_eq!(status, 429);
    assert_eq!(daily["policyName"], "DAILY");
    let (status, _) = api.get("/crm/v3/objects/companies").await;
    assert_eq!(status, 200);
    let stats = control.stats();
    assert_eq!(stats.faults_injected, 3);
    assert_eq!(
        stats.rate_limited, 0,
        "injected 429s are not the sandbox's own limits"
    );
    assert_eq!(stats.statuses[&503], 2);
}

#[tokio::test]
async fn counters_count_calls_per_endpoint_template_and_reset() {
    let sb = builder().start().await.expect("start");
    let api = Api::new(&sb);
    let (_, c) = api
        .post(
            "/crm/v3/objects/companies",
            json!({ "properties": { "name": "A" } }),
        )
        .await;
    let id = c["id"].as_str().expect("id");
    api.get(&format!("/crm/v3/objects/companies/{id}")).await;
    api.get("/crm/v3/objects/companies/1").await;
    api.get(&format!(
        "/crm/v4/objects/companies/{id}/associations/contacts"
    ))
    .await;
    let stats = sb.control().stats();
    assert_eq!(stats.calls_to("POST", "/crm/v3/objects/companies"), 1);
    assert_eq!(stats.calls_to("GET", "/crm/v3/objects/companies/{id}"), 2);
    assert_eq!(
        stats.calls_to("GET", "/crm/v4/objects/{from}/{from_id}/associations/{to}"),
        1
    );
    sb.control().reset_stats();
    assert_eq!(sb.control().stats().total_calls(), 0);
}

#[tokio::test]
async fn the_control_api_is_served_over_http_too() {
    let sb = builder().start().await.expect("start");
    let http = reqwest::Client::new();
    let base = sb.base_url();
    let info: serde_json::Value = http
        .get(format!("{base}/_sandbox"))
        .send()
        .await
        .expect("info")
        .json()
        .await
        .expect("json");
    assert_eq!(info["portalId"], sb.portal_id());
    let created: serde_json::Value = http
        .post(format!("{base}/_sandbox/objects/contacts"))
        .json(&json!({ "properties": { "email": "ui@x.test", "firstname": "Ui" } }))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let id = created["id"].as_str().expect("id");
    let resp = http
        .patch(format!("{base}/_sandbox/objects/contacts/{id}"))
        .json(&json!({ "properties": { "firstname": "Edited" } }))
        .send()
        .await
        .expect("patch");
    assert_eq!(resp.status().as_u16(), 200);
    let stats: serde_json::Value = http
        .get(format!("{base}/_sandbox/stats"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    assert_eq!(stats["rateLimited"], 0);
    let resp = http
        .post(format!("{base}/_sandbox/faults"))
        .json(&json!({ "path": "/account-info/v3/details", "status": 502, "times": 1 }))
        .send()
        .await
        .expect("fault");
    assert_eq!(resp.status().as_u16(), 204);
    let (status, _) = Api::new(&sb).get("/account-info/v3/details").await;
    assert_eq!(status, 502);
    assert_eq!(
        sb.control()
            .record(turris_hubspot_sandbox::ObjectKind::Contacts, id)
            .and_then(|r| r.property("firstname").map(str::to_string)),
        Some("Edited".to_string())
    );
}

#[tokio::test]
async fn a_daily_cap_answers_429_daily_once_spent() {
    let sb = builder()
        .rate_limits(RateLimits {
            per_day: Some(3),
            ..RateLimits::default()
        })
        .start()
        .await
        .expect("start");
    let api = Api::new(&sb);
    for _ in 0..3 {
        assert_eq!(api.get("/account-info/v3/details").await.0, 200);
    }
    let (status, body) = api.get("/account-info/v3/details").await;
    assert_eq!(status, 429);
    assert_eq!(body["policyName"], "DAILY");
    assert_eq!(sb.control().stats().rate_limited_by_policy["DAILY"], 1);
}
