//! The CRM sync record: every write to HubSpot listed for admins, filtered, paged and as CSV.

use std::collections::BTreeSet;

use super::outbound::validating_app;
use super::*;

const SR: &str = "/api/v1/integrations/hubspot/sync-records";

impl TestApp {
    async fn sync_records(&self, query: &str) -> Vec<Value> {
        let page = self
            .get(&format!("{SR}?limit=500{query}"))
            .await
            .expect(200);
        page.body["entries"].as_array().unwrap().clone()
    }
}

crate::support::both_databases!(app(validating_app):
    async fn every_write_to_hubspot_is_recorded_with_its_properties_and_outcome_and_the_csv_says_the_same(app) {
        let mut ids = Vec::new();
        for body in [json!({"name": "No Phone"}), json!({"name": "Has Phone", "phone": "+1 555 0100"})] {
            let agency = app.create_agency(body).await;
            ids.push(agency.body["id"].as_str().unwrap().to_owned());
        }
        let created = app.activity_row("Create company in HubSpot", "success").await;
        let company = created["details"]["hubspot_id"].as_str().unwrap().to_owned();
        app.api(
            Method::PUT,
            &format!("/api/v1/agencies/{}", ids[1]),
            Some(json!({"name": "Has Phone", "phone": "+1 555 0100", "city": "Erie"})),
        )
        .await
        .expect(200);
        app.activity_row("Update company in HubSpot", "success").await;
        // The update's sync record follows its activity row: wait for it.
        let all = eventually("the update's sync record", || async {
            let all = app.sync_records("").await;
            let updated = all.iter().any(|r| r["operation"] == "update" && r["status"] == "success");
            updated.then_some(all)
        })
        .await;
        let find = |operation: &str, status: &str| {
            all.iter()
                .find(|r| r["operation"] == operation && r["status"] == status)
                .unwrap_or_else(|| panic!("a {status} {operation} in {all:#?}"))
                .clone()
        };
        let property = find("create_property", "success");
        assert_eq!(property["object_id"], "companies/turris_id");
        assert_eq!(property["trigger"], "setup");
        let refused = find("create", "failure");
        assert_eq!(refused["turris_id"], ids[0].as_str());
        assert_eq!(refused["turris_kind"], "agency");
        assert_eq!(refused["hubspot_status"], 400);
        assert!(refused["correlation_id"].as_str().is_some_and(|c| !c.is_empty()), "{refused}");
        assert!(refused["message"].as_str().unwrap().contains("phone: MISSING_REQUIRED_PROPERTY"));
        let create = find("create", "success");
        assert_eq!(create["object_id"], company.as_str());
        assert_eq!(create["trigger"], "record_change");
        let written: BTreeSet<&str> = create["properties"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert!(written.contains("name") && written.contains("phone"), "{written:?}");
        let update = find("update", "success");
        assert_eq!(update["object_id"], company.as_str());
        // HubSpot's name for each answer, successful writes included.
        for write in [&create, &update] {
            assert!(write["correlation_id"].as_str().is_some_and(|c| c.len() == 36), "{write}");
        }
        assert_ne!(create["correlation_id"], update["correlation_id"]);
        assert!(update["properties"].as_array().unwrap().iter().any(|p| p["name"] == "city" && p["new"] == "Erie"));
        // Newest first.
        let ats: Vec<&str> = all.iter().map(|r| r["at"].as_str().unwrap()).collect();
        assert!(ats.windows(2).all(|w| w[0] >= w[1]), "{ats:?}");

        // Filters narrow; pages follow the cursor without repeating.
        let failures = app.sync_records("&status=failure").await;
        assert_eq!(failures.len(), 1);
        let about = app.sync_records(&format!("&turris_id={}", ids[1])).await;
        assert_eq!(about.len(), 2, "its create and its update: {about:#?}");
        assert_eq!(app.sync_records("&object=property").await.len(), 1);
        let first = app.get(&format!("{SR}?limit=1")).await.expect(200);
        let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
        let second = app.get(&format!("{SR}?limit=1&cursor={cursor}")).await.expect(200);
        assert_ne!(first.body["entries"][0]["id"], second.body["entries"][0]["id"]);
        app.get(&format!("{SR}?cursor=nonsense")).await.expect_error(400, "invalid_cursor");
        app.get(&format!("{SR}?object=planet")).await.expect(400);

        // The CSV holds the same records, one row each, under its header.
        let csv = app.get(&format!("{SR}.csv")).await.expect(200);
        assert!(csv.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
        let mut reader = csv::Reader::from_reader(csv.text.as_bytes());
        let header = reader.headers().unwrap().clone();
        assert_eq!(&header[0], "at");
        let id_column = header.iter().position(|h| h == "id").unwrap();
        let message_column = header.iter().position(|h| h == "message").unwrap();
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let csv_ids: BTreeSet<String> = rows.iter().map(|r| r[id_column].to_owned()).collect();
        let json_ids: BTreeSet<String> = all.iter().map(|r| r["id"].to_string()).collect();
        assert_eq!(csv_ids, json_ids);
        assert!(rows.iter().any(|r| r[message_column].contains("phone: MISSING_REQUIRED_PROPERTY")));

        // The card's health line says the same: the last write taken, the failure of the last
        // 24 hours, and what to do about it.
        let cards = app.get("/api/v1/integrations").await.expect(200);
        let health = &cards.body["integrations"][0]["health"];
        assert_eq!(health["failures_24h"], 1, "{health}");
        assert!(health["last_success_at"].as_str().is_some(), "{health}");
        assert!(health["last_failure"].as_str().unwrap().starts_with("create company: "), "{health}");
        assert!(health["advice"].as_str().unwrap().starts_with("HubSpot refused some records' values"), "{health}");
        assert_eq!(&app.get(H).await.expect(200).body["health"], health);
    }
);

crate::support::both_databases!(app(validating_app):
    async fn a_role_without_the_integrations_update_grant_cannot_read_the_sync_record(app) {
        let reader = app
            .token_with(&app.org, "reader", &["integrations:read".to_owned()])
            .await;
        for path in [SR.to_owned(), format!("{SR}.csv")] {
            let answer = app.call(Method::GET, &path, Some(&reader), None).await;
            assert_eq!(answer.status.as_u16(), 403, "{path}: {}", answer.text);
        }
    }
);
