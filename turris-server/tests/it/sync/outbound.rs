//! Turris → HubSpot: agencies created or changed through the records API become companies.

use turris_hubspot::sandbox::{Fault, ObjectKind};

use super::*;

impl TestApp {
    async fn agency_outbound_on(&self) {
        self.api(
            Method::PUT,
            &format!("{H}/sync"),
            Some(json!({"agency": {"inbound": true, "outbound": true}})),
        )
        .await
        .expect(200);
    }

    /// Waits until an activity row with this title and status exists, and returns it.
    async fn activity_row(&self, title: &str, status: &str) -> Value {
        eventually(&format!("a {status} {title:?} row"), || async {
            self.activity_titled(title)
                .await
                .into_iter()
                .find(|a| a["status"] == status)
        })
        .await
    }
}

sync_test!(
    async fn an_agency_created_in_turris_appears_in_hubspot_once_and_its_echo_creates_nothing(app) {
        app.agency_outbound_on().await;
        let agency = app
            .api(
                Method::POST,
                "/api/v1/agencies",
                Some(json!({"name": "Lakeside Agency", "npn": "7654321", "city": "Erie", "state_code": "PA"})),
            )
            .await
            .expect(201);
        let pushed = app.activity_row("Create company in HubSpot", "success").await;
        assert_eq!(pushed["details"]["turris_id"], agency.body["id"]);
        let company_id = pushed["details"]["hubspot_id"].as_str().unwrap().to_owned();
        let control = app.sandbox.control();
        let company = control.record(ObjectKind::Companies, &company_id).unwrap();
        assert_eq!(company.properties["name"], "Lakeside Agency");
        assert_eq!(company.properties["npn"], "7654321");
        assert_eq!(company.properties["city"], "Erie");
        assert_eq!(company.properties["state"], "PA");
        assert_eq!(company.properties["type"], "PARTNER", "the identifier is set so it matches");
        // The creation webhook comes back: recognised as our own, it creates nothing.
        app.settle().await;
        assert_eq!(control.count(ObjectKind::Companies), 1);
        assert_eq!(app.agencies().await.len(), 1);
        let skipped = app.activity_titled("HubSpot webhook skipped").await;
        assert!(
            skipped.iter().any(|a| a["details"]["hubspot_id"] == company_id.as_str()
                && a["details"]["skip_reason"] == "echo of our own write"),
            "{skipped:#?}"
        );
        assert!(app.activity_titled("HubSpot webhook: company created").await.is_empty());
    }
);

sync_test!(
    async fn an_agency_updated_in_turris_updates_its_company_and_logs_the_call(app) {
        app.agency_outbound_on().await;
        let agency = app
            .api(Method::POST, "/api/v1/agencies", Some(json!({"name": "Lakeside Agency"})))
            .await
            .expect(201);
        let pushed = app.activity_row("Create company in HubSpot", "success").await;
        let company_id = pushed["details"]["hubspot_id"].as_str().unwrap().to_owned();
        let id = agency.body["id"].as_str().unwrap();
        app.api(
            Method::PUT,
            &format!("/api/v1/agencies/{id}"),
            Some(json!({"name": "Lakeside Agency", "city": "Buffalo"})),
        )
        .await
        .expect(200);
        let updated = app.activity_row("Update company in HubSpot", "success").await;
        assert_eq!(updated["details"]["hubspot_id"], company_id.as_str());
        let company = app
            .sandbox
            .control()
            .record(ObjectKind::Companies, &company_id)
            .unwrap();
        assert_eq!(company.properties["city"], "Buffalo");
        app.settle().await;
        assert_eq!(app.sandbox.control().count(ObjectKind::Companies), 1);
        assert_eq!(app.agencies().await.len(), 1);
    }
);

sync_test!(
    async fn with_agency_outbound_off_an_agency_created_in_turris_stays_in_turris(app) {
        app.api(Method::POST, "/api/v1/agencies", Some(json!({"name": "Quiet Agency"})))
            .await
            .expect(201);
        // The push is queued with the agency: wait until the worker has dealt with it.
        eventually("the outbox to be empty", || async {
            (app.count("SELECT COUNT(*) FROM outbound_pushes").await == 0).then_some(())
        })
        .await;
        assert_eq!(app.sandbox.control().count(ObjectKind::Companies), 0);
        assert!(app.activity_titled("Create company in HubSpot").await.is_empty());
    }
);

sync_test!(
    async fn an_agent_created_in_turris_becomes_a_contact_when_agent_outbound_is_on(app) {
        let mut mapping = agency_mapping();
        mapping["agent"] = json!({
            "identifier": {"mode": "sync_all"},
            "first_name": "firstname",
            "last_name": "lastname",
            "email": "email"
        });
        app.api(Method::PUT, &format!("{H}/mapping"), Some(mapping))
            .await
            .expect(200);
        app.api(Method::PUT, &format!("{H}/sync"), Some(json!({"agents": {"outbound": true}})))
            .await
            .expect(200);
        let agent = app
            .api(
                Method::POST,
                "/api/v1/agents",
                Some(json!({"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"})),
            )
            .await
            .expect(201);
        let pushed = app.activity_row("Create contact in HubSpot", "success").await;
        assert_eq!(pushed["details"]["turris_id"], agent.body["id"]);
        let contact_id = pushed["details"]["hubspot_id"].as_str().unwrap();
        let contact = app
            .sandbox
            .control()
            .record(ObjectKind::Contacts, contact_id)
            .unwrap();
        assert_eq!(contact.properties["firstname"], "Grace");
        assert_eq!(contact.properties["lastname"], "Hopper");
        assert_eq!(contact.properties["email"], "grace@example.com");
        assert_eq!(app.sandbox.control().count(ObjectKind::Contacts), 1);
    }
);

/// A push HubSpot could not take stays queued across a restart, and the next process pushes it.
async fn a_pending_push_survives_a_restart_of_the_server(backend: Backend) {
    let app = synced_app(backend).await;
    app.agency_outbound_on().await;
    let control = app.sandbox.control();
    control.inject_fault(
        Fault::new("/crm/v3/objects/companies*")
            .method("POST")
            .status(500)
            .times(10_000),
    );
    let agency = app
        .api(
            Method::POST,
            "/api/v1/agencies",
            Some(json!({"name": "Durable Agency"})),
        )
        .await
        .expect(201);
    let failed = app
        .activity_row("Create company in HubSpot", "failure")
        .await;
    assert_eq!(failed["details"]["turris_id"], agency.body["id"]);
    assert_eq!(failed["details"]["hubspot_status"], 500);
    assert_eq!(app.count("SELECT COUNT(*) FROM outbound_pushes").await, 1);

    let app = app.restart().await;
    control.clear_faults();
    let pushed = app
        .activity_row("Create company in HubSpot", "success")
        .await;
    assert_eq!(pushed["details"]["turris_id"], agency.body["id"]);
    let company_id = pushed["details"]["hubspot_id"].as_str().unwrap().to_owned();
    let company = control.record(ObjectKind::Companies, &company_id).unwrap();
    assert_eq!(company.properties["name"], "Durable Agency");
    assert_eq!(control.count(ObjectKind::Companies), 1);
    eventually("the outbox to be empty", || async {
        (app.count("SELECT COUNT(*) FROM outbound_pushes").await == 0).then_some(())
    })
    .await;
    app.finish().await;
}

mod a_pending_push_survives_a_restart_of_the_server {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_sqlite() {
        super::a_pending_push_survives_a_restart_of_the_server(super::Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_postgres() {
        super::a_pending_push_survives_a_restart_of_the_server(super::Backend::Postgres).await;
    }
}
