//! Activity notes: events logged as HubSpot notes on the linked record, exactly once.

use turris_hubspot_sandbox::{Fault, ObjectKind};

use super::*;

const NOTES: &str = "/api/v1/integrations/hubspot/notes";

/// An agency pushed to HubSpot, a contract template, and notes on for `toggles`.
async fn linked_agency(app: &TestApp, toggles: Value) -> (String, String) {
    app.agency_outbound_on().await;
    let agency = app.create_agency(json!({"name": "Lakeside Agency"})).await;
    let created = app
        .activity_row("Create company in HubSpot", "success")
        .await;
    let company = created["details"]["hubspot_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.api(
        Method::POST,
        "/api/v1/contract-templates",
        Some(json!({"id": "standard", "name": "Standard"})),
    )
    .await
    .expect(201);
    let saved = app
        .api(Method::PUT, NOTES, Some(toggles.clone()))
        .await
        .expect(200);
    assert_eq!(saved.body, toggles);
    (agency.body["id"].as_str().unwrap().to_owned(), company)
}

impl TestApp {
    /// The notes on `company`, once there are `n`.
    async fn company_notes(&self, company: &str, n: usize) -> Vec<String> {
        let control = self.sandbox.control();
        eventually(&format!("{n} note(s) on company {company}"), || async {
            let notes = control.notes_of(ObjectKind::Companies, company);
            (notes.len() == n).then(|| {
                notes
                    .iter()
                    .map(|note| note.properties["hs_note_body"].clone())
                    .collect()
            })
        })
        .await
    }

    async fn execute_agreement(&self, agency: &str) {
        let body = json!({"agency_id": agency, "contract_template_id": "standard",
            "signers": [{"name": "Grace Hopper", "email": "grace@lakeside.example"}]});
        self.api(Method::POST, "/api/v1/producer-agreements", Some(body))
            .await
            .expect(201);
    }
}

sync_test!(
    async fn an_executed_agreement_and_a_failed_nipr_sync_become_one_note_each_on_the_company(app) {
        let toggles = json!({"invitations": true, "agreements": true, "nipr_errors": true, "tickets": false, "compliance": false});
        let (agency, company) = linked_agency(app, toggles).await;
        app.execute_agreement(&agency).await;
        let bodies = app.company_notes(&company, 1).await;
        assert!(bodies[0].contains("producer agreement executed"), "{bodies:?}");
        assert!(bodies[0].contains("Grace Hopper &lt;grace@lakeside.example&gt;"), "{bodies:?}");
        // A successful NIPR sync is no note; a failed one is.
        for outcome in ["success", "error"] {
            let nipr = json!({"entity_type": "agency", "entity_id": agency, "kind": "fetch", "outcome": outcome, "error": (outcome == "error").then_some("NIPR timed out")});
            app.create_nipr_sync(nipr).await;
        }
        let bodies = app.company_notes(&company, 2).await;
        assert!(bodies.iter().any(|b| b.contains("NIPR sync failed") && b.contains("NIPR timed out")), "{bodies:?}");
        // Every note carries its Turris id, and each write is in the CRM sync record.
        let control = app.sandbox.control();
        let notes = control.notes_of(ObjectKind::Companies, &company);
        assert!(notes.iter().all(|n| n.properties.get("turris_note_id").is_some_and(|v| !v.is_empty())));
        // The writes' sync records follow HubSpot's answers: wait for the last of them.
        let records = eventually("both notes' writes on record", || async {
            let records = app.get(&format!("{H}/sync-records?object=note&limit=500")).await.expect(200);
            let associated = records.body["entries"].as_array()?.iter().filter(|r| r["operation"] == "associate").count();
            (associated == 2).then_some(records)
        })
        .await;
        let entries = records.body["entries"].as_array().unwrap();
        assert_eq!(entries.iter().filter(|r| r["operation"] == "create" && r["status"] == "success" && r["correlation_id"].is_string()).count(), 2);
        assert_eq!(entries.iter().filter(|r| r["operation"] == "associate" && r["status"] == "success").count(), 2);
        eventually("no note left queued", || async {
            let org = turris_core::ids::OrganizationId::parse(&app.org).unwrap();
            (app.state.db().pending_notes(&org).await.unwrap() == 0).then_some(())
        })
        .await;
    }
);

sync_test!(
    async fn a_note_whose_answer_is_lost_is_written_again_without_a_second_note(app) {
        let (agency, company) = linked_agency(app, json!({"invitations": false, "agreements": true, "nipr_errors": false, "tickets": false, "compliance": false})).await;
        // HubSpot makes the note but its answer never arrives, until the client gives up.
        app.sandbox.control().inject_fault(
            Fault::new("/crm/v3/objects/notes/batch/upsert")
                .method("POST")
                .status(502)
                .times(8)
                .after_write(),
        );
        app.execute_agreement(&agency).await;
        app.company_notes(&company, 1).await;
        let control = app.sandbox.control();
        assert!(control.stats().faults_injected >= 2, "the answer was lost more than once");
        assert_eq!(control.count(ObjectKind::Notes), 1, "found again by its turris_note_id");
        eventually("the note row is done", || async {
            let org = turris_core::ids::OrganizationId::parse(&app.org).unwrap();
            (app.state.db().pending_notes(&org).await.unwrap() == 0).then_some(())
        })
        .await;
        assert_eq!(control.count(ObjectKind::Notes), 1);
    }
);

sync_test!(
    async fn events_of_a_kind_that_is_off_are_not_logged_and_bad_toggles_are_a_422(app) {
        let (agency, company) = linked_agency(app, json!({"invitations": false, "agreements": false, "nipr_errors": true, "tickets": false, "compliance": false})).await;
        app.execute_agreement(&agency).await;
        let nipr = json!({"entity_type": "agency", "entity_id": agency, "kind": "fetch", "outcome": "error", "error": "down"});
        app.create_nipr_sync(nipr).await;
        let bodies = app.company_notes(&company, 1).await;
        assert!(bodies[0].contains("NIPR sync failed"), "only the NIPR note: {bodies:?}");
        app.api(Method::PUT, NOTES, Some(json!({"agreements": true, "tickets": "yes"}))).await.expect(422);
        assert_eq!(app.get(NOTES).await.expect(200).body["agreements"], false);
    }
);

sync_test!(
    async fn a_support_ticket_and_each_status_change_are_notes_with_the_number_the_status_and_a_link(app) {
        let (agency, company) = linked_agency(app, json!({"invitations": false, "agreements": false, "nipr_errors": false, "tickets": true, "compliance": false})).await;
        let ticket = json!({"number": "T-1042", "subject": "License upload fails", "link": "https://support.example/t/1042",
            "entity_type": "agency", "entity_id": agency});
        let created = app.api(Method::POST, "/api/v1/support-tickets", Some(ticket.clone())).await.expect(201);
        assert_eq!(created.body["status"], "open");
        let id = created.body["id"].as_str().unwrap().to_owned();
        app.api(Method::POST, "/api/v1/support-tickets", Some(ticket)).await.expect(409);
        let bodies = app.company_notes(&company, 1).await;
        assert!(bodies[0].contains("T-1042 opened (open)") && bodies[0].contains("https://support.example/t/1042"), "{bodies:?}");
        let path = format!("/api/v1/support-tickets/{id}");
        app.api(Method::PUT, &path, Some(json!({"status": "solved"}))).await.expect(200);
        // The same status again is no change and no note.
        app.api(Method::PUT, &path, Some(json!({"status": "solved"}))).await.expect(200);
        let bodies = app.company_notes(&company, 2).await;
        assert!(bodies.iter().any(|b| b.contains("T-1042 is now solved (was open)")), "{bodies:?}");
        assert_eq!(app.get(&path).await.expect(200).body["status"], "solved");
        // Bad input changes nothing.
        let bad = json!({"number": "", "subject": "x", "link": "ftp://nope", "entity_type": "agent", "entity_id": "missing"});
        let refused = app.api(Method::POST, "/api/v1/support-tickets", Some(bad)).await.expect_error(422, "validation_failed");
        let paths: Vec<&str> = refused.body["details"].as_array().unwrap().iter().map(|d| d["path"].as_str().unwrap()).collect();
        assert_eq!(paths, ["number", "link", "entity_id"]);
        app.api(Method::PUT, "/api/v1/support-tickets/none", Some(json!({"status": "closed"}))).await.expect(404);
        let list = app.get("/api/v1/support-tickets").await.expect(200);
        assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
        app.settle().await;
        assert_eq!(app.sandbox.control().notes_of(ObjectKind::Companies, &company).len(), 2);
    }
);

sync_test!(
    async fn compliance_changes_within_a_debounce_window_become_one_digest_note(app) {
        let toggles = json!({"invitations": false, "agreements": false, "nipr_errors": false, "tickets": false, "compliance": true});
        let (agency, company) = linked_agency(app, toggles).await;
        // Three changes of two pairs inside one window: life/NY ends where it started.
        for (product, status) in [("life", "compliant"), ("annuity", "non_compliant"), ("life", "pending")] {
            let body = json!({"updates": [{"entity_type": "agency", "entity_id": agency, "product": product, "state": "NY", "status": status}]});
            app.api(Method::POST, "/api/v1/compliance-statuses", Some(body)).await.expect(200);
        }
        let config = app.config().delivery.debounce();
        let round = |at: chrono::DateTime<chrono::Utc>| async move {
            turris_server::delivery::debounce::round(app.state.db(), config, at, &app.state).await.unwrap();
        };
        // Nothing is due before the window closes (the round flushes no webhooks either way:
        // the organization has no endpoint); then one window, one note, however often the
        // round runs.
        let org = turris_core::ids::OrganizationId::parse(&app.org).unwrap();
        round(chrono::Utc::now()).await;
        assert_eq!(app.state.db().pending_notes(&org).await.unwrap(), 0);
        let closed = chrono::Utc::now() + chrono::Duration::from_std(config.max_wait).unwrap();
        round(closed).await;
        round(closed).await;
        let bodies = app.company_notes(&company, 1).await;
        assert!(bodies[0].contains("1 compliance status changed"), "{bodies:?}");
        assert!(bodies[0].contains("annuity in NY: pending → non-compliant"), "{bodies:?}");
        assert!(!bodies[0].contains("life in NY"), "a pair back where it started is no change: {bodies:?}");
        // A later window is a second digest.
        let body = json!({"updates": [{"entity_type": "agency", "entity_id": agency, "product": "annuity", "state": "NY", "status": "compliant"}]});
        app.api(Method::POST, "/api/v1/compliance-statuses", Some(body)).await.expect(200);
        let later = closed + chrono::Duration::from_std(config.max_wait).unwrap() * 2;
        round(later).await;
        let bodies = app.company_notes(&company, 2).await;
        assert!(bodies.iter().any(|b| b.contains("annuity in NY: non-compliant → compliant")), "{bodies:?}");
        app.settle().await;
        assert_eq!(app.sandbox.control().notes_of(ObjectKind::Companies, &company).len(), 2);
    }
);
