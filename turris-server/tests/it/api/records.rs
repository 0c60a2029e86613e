//! The records API: agencies, agents, agency contacts, contract templates, invitations,
//! compliance statuses, NIPR sync results and producer agreements.

use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};
use turris_core::ids::{AgencyId, OrganizationId};
use turris_server::store::{Invitation, InvitationId, InvitationStatus};

use crate::support::app::TestApp;

async fn agency(app: &TestApp, name: &str) -> String {
    app.create_agency(json!({"name": name})).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn agent(app: &TestApp) -> String {
    app.api(
        Method::POST,
        "/api/v1/agents",
        Some(json!({"first_name": "Ada", "last_name": "Lovelace", "npn": "777"})),
    )
    .await
    .expect(201)
    .body["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

api_test!(
    async fn agencies_are_created_read_updated_and_listed(app) {
        let created = app.create_agency(json!({"name": "Acme", "npn": "1234567", "state_code": "NY", "city": "Albany"})).await;
        let id = created.body["id"].as_str().unwrap();
        assert_eq!(created.body["state_code"], "NY");
        let fetched = app.get(&format!("/api/v1/agencies/{id}")).await.expect(200);
        assert_eq!(fetched.body, created.body);
        let updated = app
            .api(Method::PUT, &format!("/api/v1/agencies/{id}"), Some(json!({"name": "Acme Insurance"})))
            .await
            .expect(200);
        assert_eq!(updated.body["name"], "Acme Insurance");
        assert!(updated.body["city"].is_null(), "PUT replaces the data");
        app.get(&format!("/api/v1/agencies/{}", uuid::Uuid::now_v7()))
            .await
            .expect_error(404, "not_found");
        app.api(Method::PUT, "/api/v1/agencies/missing", Some(json!({"name": "X"})))
            .await
            .expect_error(404, "not_found");
        for i in 0..3 {
            agency(app, &format!("Agency {i}")).await;
        }
        let first = app.get("/api/v1/agencies?limit=3").await.expect(200);
        assert_eq!(first.body["items"].as_array().unwrap().len(), 3);
        let cursor = first.body["next_cursor"].as_str().unwrap();
        let second = app.get(&format!("/api/v1/agencies?limit=3&cursor={cursor}")).await.expect(200);
        assert_eq!(second.body["items"].as_array().unwrap().len(), 1);
        assert!(second.body["next_cursor"].is_null());
    }
);

api_test!(
    async fn an_invalid_agency_is_a_422_naming_every_field(app) {
        let refused = app
            .api(
                Method::POST,
                "/api/v1/agencies",
                Some(json!({"name": " ", "npn": "12-34", "state_code": "New York"})),
            )
            .await
            .expect_error(422, "validation_failed");
        assert_eq!(refused.paths(), ["name", "npn", "state_code"]);
        assert_eq!(app.get("/api/v1/agencies").await.expect(200).body["items"], json!([]));
    }
);

api_test!(
    async fn agents_are_created_read_updated_and_validated(app) {
        let id = agent(app).await;
        let fetched = app.get(&format!("/api/v1/agents/{id}")).await.expect(200);
        assert_eq!(fetched.body["npn"], "777");
        app.api(
            Method::PUT,
            &format!("/api/v1/agents/{id}"),
            Some(json!({"first_name": "Ada", "last_name": "King", "email": "ada@example.com"})),
        )
        .await
        .expect(200);
        assert_eq!(app.get(&format!("/api/v1/agents/{id}")).await.expect(200).body["last_name"], "King");
        let refused = app
            .api(Method::POST, "/api/v1/agents", Some(json!({"first_name": "", "last_name": "", "email": "nope"})))
            .await
            .expect_error(422, "validation_failed");
        assert_eq!(refused.paths(), ["first_name", "last_name", "email"]);
        let list = app.get("/api/v1/agents").await.expect(200);
        assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
        app.get("/api/v1/agents/nobody").await.expect_error(404, "not_found");
    }
);

api_test!(
    async fn an_agent_names_an_agency_of_its_own_organization_or_is_refused_with_the_path(app) {
        let acme = agency(app, "Acme").await;
        let created = app
            .api(
                Method::POST,
                "/api/v1/agents",
                Some(json!({"first_name": "Ada", "last_name": "Lovelace", "agency_id": acme})),
            )
            .await
            .expect(201);
        assert_eq!(created.body["agency_id"], acme.as_str());
        let id = created.body["id"].as_str().unwrap().to_owned();
        // An agency of another organization is not found from here: same answer as unknown.
        let other_token = app.organization("other-org", true).await;
        let theirs = app
            .call(Method::POST, "/api/v1/agencies", Some(&other_token), Some(json!({"name": "Theirs"})))
            .await
            .expect(201);
        let theirs = theirs.body["id"].as_str().unwrap().to_owned();
        for bad in [theirs.as_str(), "no-such-agency", "not an id!"] {
            let refused = app
                .api(
                    Method::POST,
                    "/api/v1/agents",
                    Some(json!({"first_name": "", "last_name": "Byron", "agency_id": bad})),
                )
                .await
                .expect_error(422, "validation_failed");
            assert_eq!(refused.paths(), ["first_name", "agency_id"], "{bad}");
            app.api(
                Method::PUT,
                &format!("/api/v1/agents/{id}"),
                Some(json!({"first_name": "Ada", "last_name": "Lovelace", "agency_id": bad})),
            )
            .await
            .expect_error(422, "validation_failed");
        }
        let list = app.get("/api/v1/agents").await.expect(200);
        assert_eq!(list.body["items"].as_array().unwrap().len(), 1, "nothing was created");
        let kept = app.get(&format!("/api/v1/agents/{id}")).await.expect(200);
        assert_eq!(kept.body["agency_id"], acme.as_str(), "nothing was changed");
        // Without agency_id, an agent has none (and JSON stored before the field still parses).
        app.api(
            Method::PUT,
            &format!("/api/v1/agents/{id}"),
            Some(json!({"first_name": "Ada", "last_name": "Lovelace"})),
        )
        .await
        .expect(200);
        assert_eq!(app.get(&format!("/api/v1/agents/{id}")).await.expect(200).body["agency_id"], Value::Null);
    }
);

api_test!(
    async fn agency_contacts_belong_to_an_agency(app) {
        let agency = agency(app, "Acme").await;
        let contact = app
            .api(
                Method::POST,
                &format!("/api/v1/agencies/{agency}/contacts"),
                Some(json!({"first_name": "Grace", "email": "grace@acme.example"})),
            )
            .await
            .expect(201);
        assert_eq!(contact.body["agency_id"], agency.as_str());
        let id = contact.body["id"].as_str().unwrap();
        app.api(
            Method::PUT,
            &format!("/api/v1/agency-contacts/{id}"),
            Some(json!({"first_name": "Grace", "last_name": "Hopper", "email": "grace@acme.example"})),
        )
        .await
        .expect(200);
        let fetched = app.get(&format!("/api/v1/agency-contacts/{id}")).await.expect(200);
        assert_eq!(fetched.body["last_name"], "Hopper");
        let list = app.get(&format!("/api/v1/agencies/{agency}/contacts")).await.expect(200);
        assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
        assert_eq!(list.body["next_cursor"], Value::Null);
        app.get(&format!("/api/v1/agencies/{agency}/contacts?cursor=not%20an%20id"))
            .await
            .expect_error(400, "invalid_cursor");
        app.api(
            Method::POST,
            &format!("/api/v1/agencies/{agency}/contacts"),
            Some(json!({"email": "not an email"})),
        )
        .await
        .expect_error(422, "validation_failed");
        app.api(Method::POST, "/api/v1/agencies/missing/contacts", Some(json!({})))
            .await
            .expect_error(404, "not_found");
        app.get("/api/v1/agency-contacts/missing").await.expect_error(404, "not_found");
    }
);

api_test!(
    async fn contract_templates_are_created_once_and_listed(app) {
        let created = app
            .api(Method::POST, "/api/v1/contract-templates", Some(json!({"id": "gold", "name": "Gold"})))
            .await
            .expect(201);
        assert_eq!(created.body["id"], "gold");
        app.api(Method::POST, "/api/v1/contract-templates", Some(json!({"id": "gold", "name": "Gold"})))
            .await
            .expect_error(409, "already_exists");
        let refused = app
            .api(Method::POST, "/api/v1/contract-templates", Some(json!({"id": "no spaces", "name": ""})))
            .await
            .expect_error(422, "validation_failed");
        assert_eq!(refused.paths(), ["id", "name"]);
        assert_eq!(app.get("/api/v1/contract-templates/gold").await.expect(200).body["name"], "Gold");
        app.get("/api/v1/contract-templates/silver").await.expect_error(404, "not_found");
        assert_eq!(app.get("/api/v1/contract-templates").await.expect(200).body.as_array().unwrap().len(), 1);
    }
);

api_test!(
    async fn invitations_made_by_sync_can_be_read(app) {
        let agency = agency(app, "Acme").await;
        let empty = app.get("/api/v1/invitations").await.expect(200);
        assert_eq!(empty.body, json!({"items": [], "next_cursor": null}));
        let now = Utc::now();
        let invitation = Invitation {
            id: InvitationId::new(),
            agency_id: AgencyId::parse(&agency).unwrap(),
            contract_template_id: None,
            status: InvitationStatus::NeedsAttention,
            sent_to: None,
            created_at: now,
            updated_at: now,
        };
        app.state
            .db()
            .create_invitation(&OrganizationId::parse(&app.org).unwrap(), &invitation)
            .await
            .unwrap();
        let list = app.get(&format!("/api/v1/invitations?agency_id={agency}")).await.expect(200);
        assert_eq!(list.body["items"][0]["status"], "needs_attention");
        let one = app.get(&format!("/api/v1/invitations/{}", invitation.id)).await.expect(200);
        assert_eq!(one.body["agency_id"], agency.as_str());
        app.get(&format!("/api/v1/invitations/{}", InvitationId::new()))
            .await
            .expect_error(404, "not_found");
    }
);

api_test!(
    async fn invitations_page_newest_first_and_filter_by_status(app) {
        let agency = agency(app, "Acme").await;
        let org = OrganizationId::parse(&app.org).unwrap();
        let start = Utc::now();
        let mut made = Vec::new();
        for i in 0..7 {
            let at = start + chrono::Duration::seconds(i / 2);
            let status = if i % 3 == 0 { InvitationStatus::NeedsAttention } else { InvitationStatus::Sent };
            let invitation = Invitation {
                id: InvitationId::new(),
                agency_id: AgencyId::parse(&agency).unwrap(),
                contract_template_id: None,
                status,
                sent_to: None,
                created_at: at,
                updated_at: at,
            };
            app.state.db().create_invitation(&org, &invitation).await.unwrap();
            made.push(invitation);
        }
        let walk = |query: &'static str| async move {
            let mut ids = Vec::new();
            let mut path = format!("/api/v1/invitations?limit=2{query}");
            loop {
                let page = app.get(&path).await.expect(200);
                for item in page.body["items"].as_array().unwrap() {
                    ids.push(item["id"].as_str().unwrap().to_owned());
                }
                match page.body["next_cursor"].as_str() {
                    Some(next) => path = format!("/api/v1/invitations?limit=2{query}&cursor={next}"),
                    None => break ids,
                }
            }
        };
        let mut newest_first = made.clone();
        newest_first.sort_by_key(|i| std::cmp::Reverse((i.created_at, i.id)));
        let expected: Vec<String> = newest_first.iter().map(|i| i.id.to_string()).collect();
        assert_eq!(walk("").await, expected, "every invitation once, newest first, ties by id");
        let waiting: Vec<String> = newest_first
            .iter()
            .filter(|i| i.status == InvitationStatus::NeedsAttention)
            .map(|i| i.id.to_string())
            .collect();
        assert_eq!(waiting.len(), 3);
        assert_eq!(walk("&status=needs_attention").await, waiting);
        app.get("/api/v1/invitations?cursor=nonsense").await.expect_error(400, "invalid_cursor");
        app.get("/api/v1/invitations?status=lost").await.expect_error(400, "invalid_query");
    }
);

api_test!(
    async fn compliance_statuses_are_set_per_product_and_state(app) {
        let agency = agency(app, "Acme").await;
        let agent = agent(app).await;
        let set = app
            .api(
                Method::POST,
                "/api/v1/compliance-statuses",
                Some(json!({"updates": [
                    {"entity_type": "agency", "entity_id": agency, "product": "life", "state": "NY", "status": "compliant"},
                    {"entity_type": "agent", "entity_id": agent, "product": "life", "state": "TX", "status": "non_compliant"}
                ]})),
            )
            .await
            .expect(200);
        assert_eq!(set.body.as_array().unwrap().len(), 2);
        assert_eq!(set.body[0]["changed"], true);
        let again = app
            .api(
                Method::POST,
                "/api/v1/compliance-statuses",
                Some(json!({"updates": [{"entity_type": "agency", "entity_id": agency, "product": "life", "state": "NY", "status": "compliant"}]})),
            )
            .await
            .expect(200);
        assert_eq!(again.body[0]["changed"], false);
        assert_eq!(again.body[0]["previous_status"], "compliant");
        let statuses = app
            .get(&format!("/api/v1/compliance-statuses?entity_type=agency&entity_id={agency}"))
            .await
            .expect(200);
        assert_eq!(statuses.body.as_array().unwrap().len(), 1);
        let refused = app
            .api(
                Method::POST,
                "/api/v1/compliance-statuses",
                Some(json!({"updates": [
                    {"entity_type": "agency", "entity_id": "missing", "product": "", "state": "ZZ", "status": "compliant"}
                ]})),
            )
            .await
            .expect_error(422, "validation_failed");
        assert_eq!(
            refused.paths(),
            ["updates[0].entity_id", "updates[0].product", "updates[0].state"]
        );
        app.api(
            Method::POST,
            "/api/v1/compliance-statuses",
            Some(json!({"updates": [{"entity_type": "agency", "entity_id": agency, "product": "life", "state": "NY", "status": "great"}]})),
        )
        .await
        .expect_error(422, "invalid_body");
        app.api(Method::POST, "/api/v1/compliance-statuses", Some(json!({"updates": []})))
            .await
            .expect_error(422, "validation_failed");
        app.get("/api/v1/compliance-statuses?entity_type=agent&entity_id=missing")
            .await
            .expect_error(404, "not_found");
    }
);

api_test!(
    async fn nipr_sync_results_are_recorded_and_listed(app) {
        let agent = agent(app).await;
        let created = app.create_nipr_sync(json!({"entity_type": "agent", "entity_id": agent, "kind": "full_refresh", "outcome": "error", "error": "NIPR timeout"})).await;
        assert_eq!(created.body["outcome"], "error");
        app.api(
            Method::POST,
            "/api/v1/nipr-syncs",
            Some(json!({"entity_type": "agent", "entity_id": agent, "kind": "fetch", "outcome": "error"})),
        )
        .await
        .expect_error(422, "validation_failed");
        let missing = app
            .api(
                Method::POST,
                "/api/v1/nipr-syncs",
                Some(json!({"entity_type": "agency", "entity_id": "missing", "kind": "fetch", "outcome": "success"})),
            )
            .await
            .expect_error(422, "validation_failed");
        assert_eq!(missing.paths(), ["entity_id"]);
        let list = app
            .get(&format!("/api/v1/nipr-syncs?entity_type=agent&entity_id={agent}"))
            .await
            .expect(200);
        assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    }
);

api_test!(
    async fn producer_agreements_are_recorded_with_their_signers(app) {
        let agency = agency(app, "Acme").await;
        app.api(Method::POST, "/api/v1/contract-templates", Some(json!({"id": "standard", "name": "Standard"})))
            .await
            .expect(201);
        let body = json!({
            "agency_id": agency,
            "contract_template_id": "standard",
            "signers": [{"name": "Grace Hopper", "email": "grace@acme.example"}]
        });
        let created = app
            .api(Method::POST, "/api/v1/producer-agreements", Some(body))
            .await
            .expect(201);
        let id = created.body["id"].as_str().unwrap();
        let one: Value = app.get(&format!("/api/v1/producer-agreements/{id}")).await.expect(200).body;
        assert_eq!(one["signers"][0]["email"], "grace@acme.example");
        let list = app
            .get(&format!("/api/v1/producer-agreements?agency_id={agency}"))
            .await
            .expect(200);
        assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
        // A second agreement makes two pages of one, newest first.
        let second = json!({
            "agency_id": agency,
            "contract_template_id": "standard",
            "executed_at": "2030-01-01T00:00:00Z",
            "signers": [{"name": "Ada King", "email": "ada@acme.example"}]
        });
        let newer = app
            .api(Method::POST, "/api/v1/producer-agreements", Some(second))
            .await
            .expect(201);
        let first = app.get("/api/v1/producer-agreements?limit=1").await.expect(200);
        assert_eq!(first.body["items"][0]["id"], newer.body["id"]);
        let cursor = first.body["next_cursor"].as_str().unwrap();
        let rest = app
            .get(&format!("/api/v1/producer-agreements?limit=1&cursor={cursor}"))
            .await
            .expect(200);
        assert_eq!(rest.body["items"][0]["id"], id);
        let last = rest.body["next_cursor"].as_str().unwrap();
        let end = app
            .get(&format!("/api/v1/producer-agreements?limit=1&cursor={last}"))
            .await
            .expect(200);
        assert_eq!(end.body, json!({"items": [], "next_cursor": null}));
        let refused = app
            .api(
                Method::POST,
                "/api/v1/producer-agreements",
                Some(json!({"agency_id": "missing", "contract_template_id": "nope", "signers": []})),
            )
            .await
            .expect_error(422, "validation_failed");
        assert_eq!(refused.paths(), ["agency_id", "contract_template_id", "signers"]);
        app.get(&format!("/api/v1/producer-agreements/{}", uuid::Uuid::now_v7()))
            .await
            .expect_error(404, "not_found");
    }
);
