//! Turris → HubSpot: agencies created or changed through the records API become companies.

use turris_hubspot_sandbox::{Fault, ObjectKind};

use super::*;

impl TestApp {
    pub(crate) async fn agency_outbound_on(&self) {
        self.api(
            Method::PUT,
            &format!("{H}/sync"),
            Some(json!({"agency": {"inbound": true, "outbound": true}})),
        )
        .await
        .expect(200);
    }

    /// An agency made in Turris with agency sync outbound (and `inbound` or not), its company
    /// created in HubSpot and nothing left queued: `(agency id, company id)`.
    pub(crate) async fn pushed_agency_in(&self, inbound: bool, city: &str) -> (String, String) {
        let sync = json!({"agency": {"inbound": inbound, "outbound": true}});
        self.api(Method::PUT, &format!("{H}/sync"), Some(sync))
            .await
            .expect(200);
        let agency = self
            .api(
                Method::POST,
                "/api/v1/agencies",
                Some(json!({"name": "Lakeside", "city": city})),
            )
            .await
            .expect(201);
        let pushed = self
            .activity_row("Create company in HubSpot", "success")
            .await;
        let company = pushed["details"]["hubspot_id"].as_str().unwrap().to_owned();
        self.queue_drained().await;
        (agency.body["id"].as_str().unwrap().to_owned(), company)
    }

    async fn queue_drained(&self) {
        eventually("nothing left queued", || async {
            (self.count("SELECT COUNT(*) FROM outbound_pushes").await == 0).then_some(())
        })
        .await;
    }

    /// Another replica (killed, say) holds the organization's outbound lease for 4 s.
    async fn outbound_lease_held_elsewhere(&self) {
        let until = (chrono::Utc::now() + chrono::Duration::seconds(4))
            .timestamp_nanos_opt()
            .unwrap();
        let org = &self.org;
        self.execute(&format!(
            "INSERT INTO outbound_leases (organization_id, lease_id, expires_at, served_at)
             VALUES ('{org}', 'killed', {until}, 0)
             ON CONFLICT (organization_id) DO UPDATE SET lease_id = 'killed', expires_at = {until}"
        ))
        .await;
    }

    async fn set_city(&self, agency: &str, city: &str) {
        self.api(
            Method::PUT,
            &format!("/api/v1/agencies/{agency}"),
            Some(json!({"name": "Lakeside", "city": city})),
        )
        .await
        .expect(200);
    }

    /// Waits until HubSpot's company holds `city` and nothing is queued, then returns the
    /// properties the latest update wrote.
    async fn hubspot_city_became(&self, company: &str, city: &str) -> Vec<String> {
        let control = self.sandbox.control();
        eventually(&format!("HubSpot's city to become {city}"), || async {
            let record = control.record(ObjectKind::Companies, company).unwrap();
            (record.properties["city"] == city).then_some(())
        })
        .await;
        self.queue_drained().await;
        let writes = self
            .get(&format!("{H}/sync-records?operation=update"))
            .await
            .expect(200);
        let properties = writes.body["entries"][0]["properties"]
            .as_array()
            .unwrap()
            .iter();
        properties
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Runs a statement straight on the database.
    async fn execute(&self, sql: &str) {
        if self.db.url.starts_with("sqlite") {
            let pool = sqlx::SqlitePool::connect(&self.db.url).await.unwrap();
            sqlx::query(sql).execute(&pool).await.unwrap();
            pool.close().await;
        } else {
            let pool = sqlx::PgPool::connect(&self.db.url).await.unwrap();
            sqlx::query(sql).execute(&pool).await.unwrap();
            pool.close().await;
        }
    }

    /// The rows of a two-text-column `SELECT`, straight from the database.
    async fn pairs(&self, sql: &str) -> Vec<(String, String)> {
        if self.db.url.starts_with("sqlite") {
            let pool = sqlx::SqlitePool::connect(&self.db.url).await.unwrap();
            let rows = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
            pool.close().await;
            rows
        } else {
            let pool = sqlx::PgPool::connect(&self.db.url).await.unwrap();
            let rows = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
            pool.close().await;
            rows
        }
    }

    /// Waits until an activity row with this title and status exists, and returns it.
    pub(crate) async fn activity_row(&self, title: &str, status: &str) -> Value {
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
    async fn a_create_whose_answer_is_lost_is_sent_again_without_a_second_company(app) {
        app.agency_outbound_on().await;
        let control = app.sandbox.control();
        // HubSpot makes the company, but its answer never arrives (twice, so the retry is not
        // the client's own: the push fails and the worker sends it again later).
        control.inject_fault(
            Fault::new("/crm/v3/objects/companies/batch/upsert")
                .method("POST")
                .status(502)
                .times(8)
                .after_write(),
        );
        let agency = app
            .api(Method::POST, "/api/v1/agencies", Some(json!({"name": "Lost Answer Agency"})))
            .await
            .expect(201);
        let pushed = app.activity_row("Create company in HubSpot", "success").await;
        assert_eq!(pushed["details"]["turris_id"], agency.body["id"]);
        let company_id = pushed["details"]["hubspot_id"].as_str().unwrap();
        assert_eq!(control.count(ObjectKind::Companies), 1, "one company, found again by its Turris id");
        let company = control.record(ObjectKind::Companies, company_id).unwrap();
        assert_eq!(company.properties["turris_id"], agency.body["id"].as_str().unwrap());
        assert!(control.stats().faults_injected >= 2, "the answer was lost more than once");
    }
);

sync_test!(
    async fn a_turris_id_property_that_fails_on_the_way_delays_the_create_instead_of_making_it_twice(app) {
        app.agency_outbound_on().await;
        let control = app.sandbox.control();
        // Making the turris_id property fails on the way (503s, more than the client's own
        // retries: not a refusal), and the next create's answer is lost after HubSpot made it.
        control.inject_fault(Fault::new("/crm/v3/properties/companies").method("POST").status(503).times(6));
        for path in ["/crm/v3/objects/companies/batch/create", "/crm/v3/objects/companies/batch/upsert"] {
            control.inject_fault(Fault::new(path).method("POST").status(502).after_write());
        }
        let agency = app
            .api(Method::POST, "/api/v1/agencies", Some(json!({"name": "Patient Agency"})))
            .await
            .expect(201);
        let pushed = app.activity_row("Create company in HubSpot", "success").await;
        assert_eq!(pushed["details"]["turris_id"], agency.body["id"]);
        assert_eq!(control.count(ObjectKind::Companies), 1, "the lost create was found again, not made twice");
        let company = control.record(ObjectKind::Companies, pushed["details"]["hubspot_id"].as_str().unwrap()).unwrap();
        assert_eq!(company.properties["turris_id"], agency.body["id"].as_str().unwrap());
    }
);

/// A server speaking HubSpot's 2026-09 API, whose portal requires a phone on companies.
pub(super) async fn validating_app(backend: Backend) -> TestApp {
    let app = TestApp::spawn_with(backend, |config| {
        config.hubspot.api_version = "2026-09".parse().unwrap();
    })
    .await;
    let control = app.sandbox.control();
    create_agency_properties(&control);
    control.require_property(ObjectKind::Companies, "phone");
    app.connect_hubspot().await.expect(200);
    map_agencies_inbound(&app).await;
    app.agency_outbound_on().await;
    app
}

crate::support::both_databases!(app(validating_app):
    async fn a_record_breaking_the_portals_rules_fails_alone_naming_the_property(app) {
        let mut ids = Vec::new();
        for body in [json!({"name": "No Phone"}), json!({"name": "Has Phone", "phone": "+1 555 0100"})] {
            let agency = app.api(Method::POST, "/api/v1/agencies", Some(body)).await.expect(201);
            ids.push(agency.body["id"].as_str().unwrap().to_owned());
        }
        let failed = app.activity_row("Create company in HubSpot", "failure").await;
        assert_eq!(failed["details"]["turris_id"], ids[0].as_str());
        let message = failed["details"]["message"].as_str().unwrap();
        assert!(message.contains("phone: MISSING_REQUIRED_PROPERTY"), "{message}");
        let created = app.activity_row("Create company in HubSpot", "success").await;
        assert_eq!(created["details"]["turris_id"], ids[1].as_str());
        assert_eq!(app.sandbox.control().count(ObjectKind::Companies), 1);
        // Not retried: the record must change first.
        app.settle().await;
        assert_eq!(app.count("SELECT COUNT(*) FROM outbound_pushes").await, 0);
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
        if crate::support::skip_postgres() {
            return;
        }
        super::a_pending_push_survives_a_restart_of_the_server(super::Backend::Postgres).await;
    }
}

sync_test!(
    async fn a_burst_of_150_new_agencies_is_created_in_hubspot_with_two_batch_calls(app) {
        app.agency_outbound_on().await;
        // Another replica holds the organization while the burst is accepted: every push waits
        // for it, so the worker finds the whole burst at once.
        app.execute(&format!(
            "INSERT INTO outbound_leases (organization_id, lease_id, expires_at)
             VALUES ('{}', 'another-replica', 9223372036854775807)
             ON CONFLICT (organization_id) DO UPDATE
             SET lease_id = excluded.lease_id, expires_at = excluded.expires_at",
            app.org
        ))
        .await;
        let control = app.sandbox.control();
        control.reset_stats();
        for i in 0..150 {
            app.api(
                Method::POST,
                "/api/v1/agencies",
                Some(json!({"name": format!("Burst Agency {i:03}")})),
            )
            .await
            .expect(201);
        }
        assert_eq!(app.count("SELECT COUNT(*) FROM outbound_pushes").await, 150);
        app.execute("DELETE FROM outbound_leases").await;
        eventually("the burst to be pushed", || async {
            (app.count("SELECT COUNT(*) FROM outbound_pushes").await == 0).then_some(())
        })
        .await;
        let stats = control.stats();
        assert_eq!(stats.calls_to("POST", "/crm/v3/objects/companies/batch/upsert"), 2);
        assert_eq!(stats.calls_to("POST", "/crm/v3/objects/companies"), 0);
        // The sandbox counts dated calls under their numbered twins; the server speaks the
        // date-based API by default (`TURRIS_HUBSPOT_API_VERSION`).
        assert_eq!(stats.versions.keys().collect::<Vec<_>>(), ["2026-03"]);
        assert_eq!(control.count(ObjectKind::Companies), 150);
        let created = format!(
            "SELECT COUNT(*) FROM activity WHERE organization_id = '{}'
             AND entry LIKE '%\"kind\":\"create_company\"%' AND entry LIKE '%\"outcome\":\"success\"%'",
            app.org
        );
        assert_eq!(app.count(&created).await, 150, "one activity row per agency");
        // Each agency is linked to the company made from it.
        let links = app
            .pairs(&format!(
                "SELECT turris_id, hubspot_id FROM links WHERE organization_id = '{}' AND kind = 'agency'",
                app.org
            ))
            .await;
        assert_eq!(links.len(), 150);
        for (agency_id, company_id) in &links {
            let agency = app.get(&format!("/api/v1/agencies/{agency_id}")).await.expect(200);
            let company = control.record(ObjectKind::Companies, company_id).unwrap();
            assert_eq!(agency.body["name"], company.properties["name"].as_str());
        }
        app.settle().await;
        assert_eq!(app.agencies().await.len(), 150, "the echoes create nothing");
    }
);

sync_test!(
    async fn an_input_refused_in_a_multi_status_create_fails_alone_and_the_others_are_linked(app) {
        app.agency_outbound_on().await;
        // Hold the organization (as another replica would) until both agencies are queued.
        app.execute(&format!(
            "INSERT INTO outbound_leases (organization_id, lease_id, expires_at)
             VALUES ('{}', 'another-replica', 9223372036854775807)
             ON CONFLICT (organization_id) DO UPDATE
             SET lease_id = excluded.lease_id, expires_at = excluded.expires_at",
            app.org
        ))
        .await;
        let mut ids = Vec::new();
        for name in ["Accepted Agency", "Refused Agency"] {
            let agency = app
                .api(Method::POST, "/api/v1/agencies", Some(json!({"name": name})))
                .await
                .expect(201);
            ids.push(agency.body["id"].as_str().unwrap().to_owned());
        }
        let (accepted, refused) = (&ids[0], &ids[1]);
        let at = "2026-11-27T12:00:00Z";
        app.sandbox.control().inject_fault(
            Fault::new("/crm/v3/objects/companies/batch/upsert")
                .method("POST")
                .status(207)
                .body(json!({
                    "status": "COMPLETE",
                    "results": [{
                        "id": "9001", "properties": {"name": "Accepted Agency"},
                        "objectWriteTraceId": accepted, "createdAt": at, "updatedAt": at,
                        "archived": false
                    }],
                    "numErrors": 1,
                    "errors": [{
                        "status": "error", "category": "VALIDATION_ERROR",
                        "message": "Property values were not valid",
                        "context": {"objectWriteTraceId": [refused]}
                    }],
                    "startedAt": at, "completedAt": at
                })),
        );
        app.execute("DELETE FROM outbound_leases").await;
        eventually("both pushes to be done", || async {
            (app.count("SELECT COUNT(*) FROM outbound_pushes").await == 0).then_some(())
        })
        .await;
        let rows = app.activity_titled("Create company in HubSpot").await;
        assert_eq!(rows.len(), 2, "{rows:#?}");
        let row = |id: &str| rows.iter().find(|r| r["details"]["turris_id"] == id).unwrap();
        assert_eq!(row(accepted)["status"], "success");
        assert_eq!(row(accepted)["details"]["hubspot_id"], "9001");
        assert_eq!(row(refused)["status"], "failure");
        assert_eq!(row(refused)["details"]["hubspot_status"], 207);
        assert_eq!(row(refused)["details"]["error_category"], "VALIDATION_ERROR");
        let links = app
            .pairs(&format!(
                "SELECT turris_id, hubspot_id FROM links WHERE organization_id = '{}'",
                app.org
            ))
            .await;
        assert_eq!(links, [(accepted.clone(), "9001".to_owned())]);
    }
);

sync_test!(
    async fn agents_of_an_agency_are_associated_with_its_company_in_one_batch_call(app) {
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
        app.api(
            Method::PUT,
            &format!("{H}/sync"),
            Some(json!({"agency": {"outbound": true}, "agents": {"outbound": true}})),
        )
        .await
        .expect(200);
        let agency = app
            .api(Method::POST, "/api/v1/agencies", Some(json!({"name": "Lakeside Agency"})))
            .await
            .expect(201);
        let company = app.activity_row("Create company in HubSpot", "success").await;
        let company_id = company["details"]["hubspot_id"].as_str().unwrap().to_owned();
        let control = app.sandbox.control();
        control.reset_stats();
        // Held as by another replica until every agent is queued, so they go in one push.
        app.execute(&format!(
            "INSERT INTO outbound_leases (organization_id, lease_id, expires_at)
             VALUES ('{}', 'another-replica', 9223372036854775807)
             ON CONFLICT (organization_id) DO UPDATE
             SET lease_id = excluded.lease_id, expires_at = excluded.expires_at",
            app.org
        ))
        .await;
        let mut agents = Vec::new();
        for (first, email) in [("Grace", "grace@example.com"), ("Alan", "alan@example.com")] {
            let agent = app
                .api(
                    Method::POST,
                    "/api/v1/agents",
                    Some(json!({"first_name": first, "last_name": "Agent", "email": email,
                        "agency_id": agency.body["id"]})),
                )
                .await
                .expect(201);
            agents.push(agent.body["id"].as_str().unwrap().to_owned());
        }
        // An agent without an agency is pushed but associated with nothing.
        let loner = app
            .api(
                Method::POST,
                "/api/v1/agents",
                Some(json!({"first_name": "Lone", "last_name": "Agent"})),
            )
            .await
            .expect(201);
        app.execute("DELETE FROM outbound_leases").await;
        eventually("every agent pushed and associated", || async {
            let associated = app
                .activity_titled("Associate contact with company in HubSpot")
                .await;
            let created = app.activity_titled("Create contact in HubSpot").await;
            (associated.len() == 2 && created.len() == 3).then_some(())
        })
        .await;
        let created = app.activity_titled("Create contact in HubSpot").await;
        let contact_of = |agent: &str| {
            created
                .iter()
                .find(|r| r["details"]["turris_id"] == agent)
                .and_then(|r| r["details"]["hubspot_id"].as_str())
                .unwrap()
                .to_owned()
        };
        for agent in &agents {
            let contact = contact_of(agent);
            assert_eq!(
                control.associated_ids(ObjectKind::Contacts, &contact, ObjectKind::Companies),
                std::slice::from_ref(&company_id)
            );
            let row = app
                .activity_titled("Associate contact with company in HubSpot")
                .await
                .into_iter()
                .find(|r| r["details"]["turris_id"] == agent.as_str())
                .unwrap();
            assert_eq!(row["status"], "success");
            assert_eq!(row["details"]["hubspot_id"], contact.as_str());
        }
        let loner_contact = contact_of(loner.body["id"].as_str().unwrap());
        assert!(control
            .associated_ids(ObjectKind::Contacts, &loner_contact, ObjectKind::Companies)
            .is_empty());
        let stats = control.stats();
        assert_eq!(
            stats.calls_to(
                "POST",
                "/crm/v4/associations/{from}/{to}/batch/associate/default"
            ),
            1,
            "both pairs in one batch call"
        );
        assert_eq!(stats.calls_to("POST", "/crm/v3/objects/contacts/batch/upsert"), 1);
        assert_eq!(app.count("SELECT COUNT(*) FROM outbound_pushes").await, 0);
    }
);

sync_test!(
    async fn an_update_writes_only_the_fields_turris_changed_and_keeps_a_newer_hubspot_edit_of_another(app) {
        app.api(Method::PUT, &format!("{H}/sync"), Some(json!({"agency": {"inbound": false, "outbound": true}})))
            .await
            .expect(200);
        let agency = app
            .api(Method::POST, "/api/v1/agencies", Some(json!({"name": "Lakeside", "city": "Erie"})))
            .await
            .expect(201);
        let pushed = app.activity_row("Create company in HubSpot", "success").await;
        let company = pushed["details"]["hubspot_id"].as_str().unwrap().to_owned();
        // Someone edits the city in HubSpot; Turris does not hear of it (inbound is off)...
        let control = app.sandbox.control();
        control.update_record(ObjectKind::Companies, &company, [("city", "Buffalo")]).unwrap();
        // ...and the agency's name is edited in Turris, the record sent whole as the API wants.
        let id = agency.body["id"].as_str().unwrap();
        app.api(Method::PUT, &format!("/api/v1/agencies/{id}"), Some(json!({"name": "Lakeside Agency", "city": "Erie"})))
            .await
            .expect(200);
        app.activity_row("Update company in HubSpot", "success").await;
        let record = control.record(ObjectKind::Companies, &company).unwrap();
        assert_eq!(record.properties["name"], "Lakeside Agency");
        assert_eq!(record.properties["city"], "Buffalo", "the HubSpot edit of a field Turris did not change stays");
        let writes = app.get(&format!("{H}/sync-records?operation=update")).await.expect(200);
        let names: Vec<&str> = writes.body["entries"][0]["properties"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["name"]);
    }
);

sync_test!(
    async fn a_push_hubspot_took_unheard_is_written_over_once_turris_edits_back(app) {
        use turris_core::ids::{HubSpotId, OrganizationId};
        use turris_core::planner::RecentWrite;

        let (id, company) = app.pushed_agency_in(false, "Peoria").await;
        app.outbound_lease_held_elsewhere().await;
        // The replica holding the lease pushes the city Turris was just given: the echo ledger
        // first, as a push does, then HubSpot takes it, and the replica is killed before it
        // hears the answer.
        app.set_city(&id, "Albany").await;
        let now = chrono::Utc::now();
        let lost = RecentWrite {
            object_id: HubSpotId::parse(&company).unwrap(),
            property: "city".into(),
            value: Some("Albany".into()),
            at: now,
            edited_at: now,
        };
        // A write of ours since then of a field Turris did not edit meanwhile (HubSpot may hold
        // a newer edit of it): not a reason to write it again.
        let other = RecentWrite {
            property: "name".into(),
            value: Some("Lakeside (old)".into()),
            ..lost.clone()
        };
        let org = OrganizationId::parse(&app.org).unwrap();
        app.state.db().record_hubspot_writes(&org, &[lost, other]).await.unwrap();
        app.sandbox.control().update_record(ObjectKind::Companies, &company, [("city", "Albany")]).unwrap();
        // Turris' city goes back before the lease lapses: both edits wait for one claim, and
        // the city now equals the data before the oldest of them.
        app.set_city(&id, "Peoria").await;
        assert_eq!(app.count("SELECT COUNT(*) FROM outbound_pushes").await, 2);
        let written = app.hubspot_city_became(&company, "Peoria").await;
        assert_eq!(written, ["city"], "only the edited field the lost push set is written");
    }
);

sync_test!(
    async fn a_hubspot_edit_older_than_turris_edits_is_written_over_though_turris_edited_back(app) {
        let (id, company) = app.pushed_agency_in(false, "Peoria").await;
        // A HubSpot user sets the city; Turris' two edits after it are the last writes.
        app.sandbox.control().update_record(ObjectKind::Companies, &company, [("city", "Albany")]).unwrap();
        // Both Turris edits wait for one claim, and the city ends where it was before them.
        app.outbound_lease_held_elsewhere().await;
        app.set_city(&id, "Erie").await;
        app.set_city(&id, "Peoria").await;
        assert_eq!(app.count("SELECT COUNT(*) FROM outbound_pushes").await, 2);
        let written = app.hubspot_city_became(&company, "Peoria").await;
        assert_eq!(written, ["city"], "only the field Turris edited is written");
    }
);

sync_test!(
    async fn a_create_answered_with_an_object_linked_elsewhere_fails_alone_and_the_others_go_on(app) {
        app.agency_outbound_on().await;
        let first = app
            .api(Method::POST, "/api/v1/agencies", Some(json!({"name": "First"})))
            .await
            .expect(201);
        let pushed = app.activity_row("Create company in HubSpot", "success").await;
        let company = pushed["details"]["hubspot_id"].as_str().unwrap().to_owned();
        assert_eq!(pushed["details"]["turris_id"], first.body["id"]);
        // A second agency waits with outbound off; then the first company is made to carry the
        // second agency's Turris id, as a merge in HubSpot can leave it.
        app.api(Method::PUT, &format!("{H}/sync"), Some(json!({"agency": {"inbound": true, "outbound": false}})))
            .await
            .expect(200);
        let second = app
            .api(Method::POST, "/api/v1/agencies", Some(json!({"name": "Second"})))
            .await
            .expect(201);
        let second_id = second.body["id"].as_str().unwrap().to_owned();
        let control = app.sandbox.control();
        control.update_record(ObjectKind::Companies, &company, [("turris_id", second_id.as_str())]).unwrap();
        app.agency_outbound_on().await;
        app.api(Method::PUT, &format!("/api/v1/agencies/{second_id}"), Some(json!({"name": "Second Agency"})))
            .await
            .expect(200);
        app.api(Method::POST, "/api/v1/agencies", Some(json!({"name": "Third"})))
            .await
            .expect(201);
        let refused = eventually("the second agency's create fails alone", || async {
            app.activity_titled("Create company in HubSpot").await.into_iter().find(|a| {
                a["status"] == "failure" && a["details"]["turris_id"] == second_id.as_str()
            })
        })
        .await;
        assert!(refused["details"]["message"].as_str().unwrap().contains("cannot be linked"), "{refused}");
        eventually("the third agency's company", || async {
            control.find_record(ObjectKind::Companies, "name", "Third")
        })
        .await;
        eventually("nothing left queued", || async {
            (app.count("SELECT COUNT(*) FROM outbound_pushes").await == 0).then_some(())
        })
        .await;
    }
);
