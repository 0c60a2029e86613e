//! The tag catalog: tags follow record state into HubSpot's `turris_tags` property.

use turris_hubspot_sandbox::{Fault, ObjectKind};

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
    app.set_sync(json!({"agency": {"inbound": true, "outbound": true}}))
        .await;
    let agency = app.create_agency(json!({"name": "Lakeside Agency"})).await;
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
        app.create_nipr_sync(nipr).await;
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

impl TestApp {
    /// The sandbox's list named `name`, once `check` holds for it.
    async fn list_becomes(
        &self,
        name: &str,
        check: impl Fn(&turris_hubspot_sandbox::ListInfo) -> bool,
    ) -> turris_hubspot_sandbox::ListInfo {
        let control = self.sandbox.control();
        eventually(&format!("the list {name:?}"), || async {
            control
                .lists()
                .into_iter()
                .find(|l| l.name == name && check(l))
        })
        .await
    }
}

const COMPANIES_LIST: &str = "Turris: Non-compliant companies";

sync_test!(
    async fn a_tag_mirrored_to_a_static_list_adds_and_removes_the_company_and_a_deleted_list_is_made_again(app) {
        let (agency, company) = pushed_agency(app).await;
        // Lists need tags on; an unknown tag is refused; neither changes anything.
        app.api(Method::PUT, TAGS, Some(json!({"enabled": false, "lists": ["non_compliant"]})))
            .await
            .expect_error(422, "validation_failed");
        app.api(Method::PUT, TAGS, Some(json!({"enabled": true, "lists": ["vip"]}))).await.expect(422);
        assert!(app.sandbox.control().lists().is_empty());
        assert_eq!(app.get(TAGS).await.expect(200).body["enabled"], false);

        let on = app.api(Method::PUT, TAGS, Some(json!({"enabled": true, "lists": ["non_compliant"]}))).await.expect(200);
        let tag = on.body["catalog"].as_array().unwrap().iter().find(|t| t["name"] == "non_compliant").unwrap().clone();
        assert_eq!(tag["mirrored"], true);
        assert_eq!(tag["list_names"], json!([COMPANIES_LIST, "Turris: Non-compliant contacts"]));
        // Both lists exist as soon as the tag is mirrored, static and empty.
        let lists = app.sandbox.control().lists();
        assert_eq!(lists.len(), 2, "{lists:?}");
        assert!(lists.iter().all(|l| l.processing_type == "MANUAL" && l.members.is_empty()));

        app.set_compliance(&agency, "non_compliant").await;
        app.company_tags_become(&company, "non_compliant").await;
        let list = app.list_becomes(COMPANIES_LIST, |l| l.members == [company.clone()]).await;
        assert_eq!(list.object_type_id, "0-2");
        app.set_compliance(&agency, "compliant").await;
        app.company_tags_become(&company, "compliant").await;
        app.list_becomes(COMPANIES_LIST, |l| l.members.is_empty()).await;

        // Someone deletes the list in HubSpot: the next change makes it again.
        let deleted = app
            .http
            .delete(format!("{}/crm/v3/lists/{}", app.sandbox.base_url(), list.id))
            .bearer_auth(app.sandbox.private_app_token())
            .send()
            .await
            .unwrap();
        assert!(deleted.status().is_success(), "{}", deleted.status());
        app.set_compliance(&agency, "non_compliant").await;
        let again = app.list_becomes(COMPANIES_LIST, |l| l.members == [company.clone()]).await;
        assert_ne!(again.id, list.id, "a new list");

        // Each membership write is in the CRM sync record.
        let records = app.get(&format!("{H}/sync-records?limit=500&object=list")).await.expect(200);
        let entries = records.body["entries"].as_array().unwrap();
        let ops: Vec<&str> = entries.iter().filter_map(|r| r["operation"].as_str()).collect();
        assert!(ops.contains(&"add_to_list") && ops.contains(&"remove_from_list") && ops.contains(&"create"), "{ops:?}");

        // No longer mirrored: the list is left as it is.
        let off = app.api(Method::PUT, TAGS, Some(json!({"enabled": true, "lists": []}))).await.expect(200);
        assert!(off.body["catalog"].as_array().unwrap().iter().all(|t| t["mirrored"] == false));
        app.set_compliance(&agency, "compliant").await;
        app.company_tags_become(&company, "compliant").await;
        app.settle().await;
        let kept = app.sandbox.control().lists().into_iter().find(|l| l.name == COMPANIES_LIST).unwrap();
        assert_eq!(kept.members, std::slice::from_ref(&company));
    }
);

sync_test!(
    async fn a_list_hubspot_refuses_for_good_is_turned_off_with_an_activity_row_and_tags_keep_syncing(app) {
        let (agency, company) = pushed_agency(app).await;
        app.api(Method::PUT, TAGS, Some(json!({"enabled": true, "lists": ["non_compliant"]}))).await.expect(200);
        // The scope is gone: every membership call is refused.
        app.sandbox.control().inject_fault(
            Fault::new("/crm/v3/lists/*").method("PUT").status(403).times(100),
        );
        app.set_compliance(&agency, "non_compliant").await;
        app.company_tags_become(&company, "non_compliant").await;
        let rows = eventually("the list is turned off", || async {
            let rows = app.activity_titled("Turris tag list not kept in HubSpot").await;
            (!rows.is_empty()).then_some(rows)
        })
        .await;
        assert_eq!(rows.len(), 1, "one row for the tag: {rows:#?}");
        let message = rows[0]["details"]["message"].as_str().unwrap();
        assert!(message.contains("crm.lists.write") && message.contains("turn it on again"), "{message}");
        let tags = app.get(TAGS).await.expect(200);
        assert!(tags.body["catalog"].as_array().unwrap().iter().all(|t| t["mirrored"] == false));
        // Tags go on syncing.
        app.set_compliance(&agency, "compliant").await;
        app.company_tags_become(&company, "compliant").await;
    }
);

sync_test!(
    async fn a_429_storm_delays_tags_lists_and_notes_but_loses_and_doubles_nothing(app) {
        let (agency, company) = pushed_agency(app).await;
        app.api(Method::PUT, TAGS, Some(json!({"enabled": true, "lists": ["non_compliant", "agreement_executed"]}))).await.expect(200);
        let toggles = json!({"invitations": false, "agreements": true, "nipr_errors": false, "tickets": false, "compliance": false});
        app.api(Method::PUT, &format!("{H}/notes"), Some(toggles)).await.expect(200);
        app.api(Method::POST, "/api/v1/contract-templates", Some(json!({"id": "standard", "name": "Standard"}))).await.expect(201);
        // Every write Turris makes is answered 429 for a while.
        let control = app.sandbox.control();
        for path in ["/crm/v3/lists/*", "/crm/v3/objects/notes/batch/upsert", "/crm/v3/objects/companies/batch/update"] {
            control.inject_fault(Fault::new(path).status(429).header("Retry-After", "0").times(12));
        }
        app.set_compliance(&agency, "non_compliant").await;
        let agreement = json!({"agency_id": agency, "contract_template_id": "standard",
            "signers": [{"name": "Grace Hopper", "email": "grace@acme.example"}]});
        app.api(Method::POST, "/api/v1/producer-agreements", Some(agreement)).await.expect(201);
        app.company_tags_become(&company, "non_compliant;agreement_executed").await;
        for name in [COMPANIES_LIST, "Turris: Agreement executed companies"] {
            app.list_becomes(name, |l| l.members == [company.clone()]).await;
        }
        eventually("one note", || async {
            (control.notes_of(ObjectKind::Companies, &company).len() == 1).then_some(())
        })
        .await;
        assert!(control.stats().faults_injected >= 12, "the storm happened");
        app.settle().await;
        assert_eq!(control.notes_of(ObjectKind::Companies, &company).len(), 1, "written once");
        assert_eq!(control.count(ObjectKind::Notes), 1);
        let lists = control.lists();
        assert_eq!(lists.len(), 4, "no list made twice: {lists:?}");
    }
);
