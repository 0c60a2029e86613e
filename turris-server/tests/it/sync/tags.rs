//! The tag catalog: tags follow record state into HubSpot's `turris_tags` property.

use turris_hubspot_sandbox::ObjectKind;

use super::*;

const TAGS: &str = "/api/v1/integrations/hubspot/tags";

impl TestApp {
    /// The company's `turris_tags`, once it equals `expected`.
    async fn company_tags_become(&self, company: &str, expected: &str) {
        let control = self.sandbox.control();
        eventually(
            &format!("company {company} tagged {expected:?}"),
            || async {
                let record = control.record(ObjectKind::Companies, company)?;
                let tags = record
                    .properties
                    .get("turris_tags")
                    .cloned()
                    .unwrap_or_default();
                (tags == expected).then_some(())
            },
        )
        .await;
    }

    async fn set_compliance(&self, agency: &str, status: &str) {
        let body = json!({"updates": [{"entity_type": "agency", "entity_id": agency, "product": "life", "state": "NY", "status": status}]});
        self.api(Method::POST, "/api/v1/compliance-statuses", Some(body))
            .await
            .expect(200);
    }
}

/// An agency created in Turris and pushed to HubSpot: its id and its company's.
async fn pushed_agency(app: &TestApp) -> (String, String) {
    app.api(
        Method::PUT,
        &format!("{H}/sync"),
        Some(json!({"agency": {"inbound": true, "outbound": true}})),
    )
    .await
    .expect(200);
    let agency = app
        .api(
            Method::POST,
            "/api/v1/agencies",
            Some(json!({"name": "Lakeside Agency"})),
        )
        .await
        .expect(201);
    let id = agency.body["id"].as_str().unwrap().to_owned();
    let company = eventually("the company is created", || async {
        app.activity_titled("Create company in HubSpot")
            .await
            .into_iter()
            .find(|a| a["status"] == "success")
            .and_then(|a| a["details"]["hubspot_id"].as_str().map(str::to_owned))
    })
    .await;
    (id, company)
}

sync_test!(
    async fn tags_follow_compliance_agreements_and_nipr_into_the_companys_multi_select_property(app) {
        let (agency, company) = pushed_agency(app).await;
        let catalog = app.get(TAGS).await.expect(200);
        assert_eq!(catalog.body["enabled"], false);
        assert_eq!(catalog.body["property"], "turris_tags");
        assert_eq!(catalog.body["catalog"].as_array().unwrap().len(), 7);
        // Off: a state change writes nothing.
        app.set_compliance(&agency, "non_compliant").await;
        app.settle().await;
        let control = app.sandbox.control();
        assert!(!control.record(ObjectKind::Companies, &company).unwrap().properties.contains_key("turris_tags"));

        let on = app.api(Method::PUT, TAGS, Some(json!({"enabled": true}))).await.expect(200);
        assert_eq!(on.body["enabled"], true);
        assert_eq!(on.body["queued"], 1, "the one linked record");
        // The property is made with the catalog as its options, and the backfill tags the company.
        for kind in [ObjectKind::Companies, ObjectKind::Contacts] {
            let definition = control.property(kind, "turris_tags").expect("made");
            assert_eq!(definition["fieldType"], "checkbox");
            let options: Vec<&str> = definition["options"].as_array().unwrap().iter().map(|o| o["value"].as_str().unwrap()).collect();
            assert_eq!(options, ["compliant", "non_compliant", "compliance_pending", "invited", "agreement_executed", "needs_attention", "nipr_sync_failed"]);
        }
        app.company_tags_become(&company, "non_compliant").await;

        app.set_compliance(&agency, "compliant").await;
        app.company_tags_become(&company, "compliant").await;
        app.api(Method::POST, "/api/v1/contract-templates", Some(json!({"id": "standard", "name": "Standard"})))
            .await
            .expect(201);
        let agreement = json!({"agency_id": agency, "contract_template_id": "standard",
            "signers": [{"name": "Grace Hopper", "email": "grace@acme.example"}]});
        app.api(Method::POST, "/api/v1/producer-agreements", Some(agreement)).await.expect(201);
        app.company_tags_become(&company, "compliant;agreement_executed").await;
        let nipr = json!({"entity_type": "agency", "entity_id": agency, "kind": "fetch", "outcome": "error", "error": "NIPR timed out"});
        app.api(Method::POST, "/api/v1/nipr-syncs", Some(nipr)).await.expect(201);
        app.company_tags_become(&company, "compliant;agreement_executed;nipr_sync_failed").await;

        // Each tags write is in the CRM sync record, as a tags-only update (changes that queue
        // before the worker runs share one write, so only their values are counted on). The
        // record follows HubSpot's answer, so it is waited for.
        let records = eventually("the last tags write on record", || async {
            let records = app.get(&format!("{H}/sync-records?limit=500&object=company&operation=update")).await.expect(200);
            let last = records.body["entries"].as_array().unwrap().iter().any(|r| r["properties"][0]["new"] == "compliant;agreement_executed;nipr_sync_failed");
            last.then_some(records)
        })
        .await;
        let tag_writes: Vec<&Value> = records.body["entries"].as_array().unwrap().iter().filter(|r| r["trigger"] == "tags").collect();
        assert!(!tag_writes.is_empty(), "{records:#?}", records = records.body);
        assert!(tag_writes.iter().all(|r| r["properties"].as_array().unwrap().len() == 1));
        assert!(records.body["entries"].as_array().unwrap().iter().any(|r| r["object"] == "company" && r["properties"][0]["new"] == "compliant;agreement_executed;nipr_sync_failed"));

        // Off again: the next change is not written.
        app.api(Method::PUT, TAGS, Some(json!({"enabled": false}))).await.expect(200);
        app.set_compliance(&agency, "pending").await;
        eventually("the tags push is dropped, not kept", || async {
            (app.count("SELECT COUNT(*) FROM outbound_pushes").await == 0).then_some(())
        })
        .await;
        app.company_tags_become(&company, "compliant;agreement_executed;nipr_sync_failed").await;
    }
);

sync_test!(
    async fn turning_tags_on_without_a_connection_is_a_409_and_changes_nothing(app) {
        app.api(Method::DELETE, H, None).await.expect(200);
        app.api(Method::PUT, TAGS, Some(json!({"enabled": true})))
            .await
            .expect_error(409, "not_connected");
        assert_eq!(app.get(TAGS).await.expect(200).body["enabled"], false);
        app.api(Method::PUT, TAGS, Some(json!({"enabled": "yes"}))).await.expect(422);
    }
);

sync_test!(
    async fn a_tags_property_deleted_in_hubspot_is_made_again_and_the_refused_update_goes_through(app) {
        let (agency, company) = pushed_agency(app).await;
        app.api(Method::PUT, TAGS, Some(json!({"enabled": true}))).await.expect(200);
        app.set_compliance(&agency, "compliant").await;
        app.company_tags_become(&company, "compliant").await;
        // Someone deletes the property in HubSpot.
        let deleted = app
            .http
            .delete(format!("{}/crm/v3/properties/companies/turris_tags", app.sandbox.base_url()))
            .bearer_auth(app.sandbox.private_app_token())
            .send()
            .await
            .unwrap();
        assert!(deleted.status().is_success(), "{}", deleted.status());
        let control = app.sandbox.control();
        assert!(control.property(ObjectKind::Companies, "turris_tags").is_none());
        // The next update is refused for it, the property is made again, and the update is sent
        // again: nothing is lost.
        let id = agency.as_str();
        app.api(Method::PUT, &format!("/api/v1/agencies/{id}"), Some(json!({"name": "Lakeside Agency Inc"})))
            .await
            .expect(200);
        eventually("the renamed company", || async {
            let record = control.record(ObjectKind::Companies, &company)?;
            (record.properties["name"] == "Lakeside Agency Inc").then_some(())
        })
        .await;
        assert!(control.property(ObjectKind::Companies, "turris_tags").is_some(), "made again");
        app.company_tags_become(&company, "compliant").await;
        let rows = app.activity_titled("Turris tags property missing in HubSpot").await;
        assert_eq!(rows[0]["status"], "success", "{rows:#?}");
        assert!(rows[0]["details"]["message"].as_str().unwrap().contains("made it again"));
        assert_eq!(app.get(TAGS).await.expect(200).body["enabled"], true);
    }
);
