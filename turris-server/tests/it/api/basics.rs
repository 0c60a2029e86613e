//! Health, readiness, request ids, the OpenAPI document, and the error shape for bad input.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::json;

use super::helpers::assert_error_shape;

api_test!(
    async fn healthz_and_readyz_answer_ok_without_a_token(app) {
        let health = app.call(Method::GET, "/healthz", None, None).await.expect(200);
        assert_eq!(health.body["status"], "ok");
        let ready = app.call(Method::GET, "/readyz", None, None).await.expect(200);
        assert_eq!(ready.body["status"], "ok");
    }
);

api_test!(
    async fn every_answer_carries_a_request_id_and_keeps_the_callers(app) {
        let answer = app.call(Method::GET, "/healthz", None, None).await.expect(200);
        let id = answer.headers["x-request-id"].to_str().unwrap();
        assert_eq!(id.len(), 36, "a uuid: {id}");
        let response = app
            .http
            .get(format!("{}/healthz", app.base))
            .header("x-request-id", "caller-chosen-id")
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["x-request-id"], "caller-chosen-id");
    }
);

api_test!(
    async fn the_openapi_document_lists_every_route_and_nothing_else(app) {
        let doc = app.call(Method::GET, "/api/v1/openapi.json", None, None).await.expect(200);
        let mut documented = BTreeSet::new();
        for (path, item) in doc.body["paths"].as_object().expect("paths") {
            for method in item.as_object().unwrap().keys() {
                if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                    documented.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        let routed: BTreeSet<(String, String)> = turris_server::http::route_table()
            .into_iter()
            .map(|r| (r.method.to_string(), r.path))
            .collect();
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let phantom: Vec<_> = documented.difference(&routed).collect();
        assert!(undocumented.is_empty(), "routes missing from the document: {undocumented:?}");
        assert!(phantom.is_empty(), "documented routes the router lacks: {phantom:?}");
        assert!(routed.len() > 50, "the table is the real one: {}", routed.len());
    }
);

api_test!(
    async fn unknown_routes_and_methods_answer_the_error_shape(app) {
        app.get("/api/v1/nope").await.expect_error(404, "not_found");
        let put = app
            .api(Method::PUT, "/api/v1/webhooks/00000000-0000-0000-0000-000000000000", Some(json!({})))
            .await
            .expect_error(405, "method_not_allowed");
        assert!(put.headers.contains_key("allow"));
        app.api(Method::PATCH, "/api/v1/webhooks/00000000-0000-0000-0000-000000000000", Some(json!({})))
            .await
            .expect_error(405, "method_not_allowed");
    }
);

async fn webhook_count(app: &super::helpers::TestApp) -> usize {
    app.get("/api/v1/webhooks").await.expect(200).body["webhooks"]
        .as_array()
        .unwrap()
        .len()
}

api_test!(
    async fn malformed_json_is_a_400_with_the_error_shape_and_changes_nothing(app) {
        let answer = app
            .raw(Method::POST, "/api/v1/webhooks", "application/json", "{\"webhook_type\": ")
            .await
            .expect_error(400, "malformed_json");
        assert_error_shape(&answer.body);
        assert_eq!(webhook_count(app).await, 0);
    }
);

api_test!(
    async fn wrong_types_are_a_422_naming_the_field_and_change_nothing(app) {
        let answer = app
            .api(Method::POST, "/api/v1/webhooks", Some(json!({"webhook_type": 5, "url": "https://hooks.example.com/x"})))
            .await
            .expect_error(422, "invalid_body");
        assert_eq!(answer.paths(), ["webhook_type"]);
        assert_eq!(webhook_count(app).await, 0);
    }
);

api_test!(
    async fn unknown_fields_are_a_422_naming_the_field_and_change_nothing(app) {
        let answer = app
            .api(
                Method::POST,
                "/api/v1/webhooks",
                Some(json!({"webhook_type": "producer_agreement_executed", "url": "https://hooks.example.com/x", "secret": "mine"})),
            )
            .await
            .expect_error(422, "invalid_body");
        assert_eq!(answer.paths(), ["secret"]);
        assert_eq!(webhook_count(app).await, 0);
        let agency = app
            .api(Method::POST, "/api/v1/agencies", Some(json!({"name": "Acme", "colour": "red"})))
            .await
            .expect_error(422, "invalid_body");
        assert_eq!(agency.paths(), ["colour"]);
        let list = app.get("/api/v1/agencies").await.expect(200);
        assert_eq!(list.body["items"].as_array().unwrap().len(), 0);
    }
);

api_test!(
    async fn oversized_bodies_are_a_413_with_the_error_shape_and_change_nothing(app) {
        let huge = format!(
            "{{\"name\": \"{}\"}}",
            "x".repeat(200 * 1024)
        );
        app.raw(Method::POST, "/api/v1/agencies", "application/json", huge)
            .await
            .expect_error(413, "payload_too_large");
        let list = app.get("/api/v1/agencies").await.expect(200);
        assert_eq!(list.body["items"].as_array().unwrap().len(), 0);
    }
);

api_test!(
    async fn a_body_without_a_json_content_type_is_a_415_with_the_error_shape(app) {
        app.raw(Method::POST, "/api/v1/agencies", "text/plain", "{\"name\":\"Acme\"}")
            .await
            .expect_error(415, "unsupported_media_type");
    }
);

api_test!(
    async fn a_bad_query_string_is_a_400_with_the_error_shape(app) {
        app.get("/api/v1/agencies?limit=lots").await.expect_error(400, "invalid_query");
    }
);
