//! Tenant isolation: another organization's ids answer 404, and lists never show them.

use chrono::Utc;
use reqwest::Method;
use serde_json::json;
use turris_core::ids::{AgencyId, OrganizationId};
use turris_server::store::{Invitation, InvitationId, InvitationStatus};

api_test!(
    async fn another_organizations_resources_are_not_found_anywhere(app) {
        // Organization A (the app's own) makes one of everything.
        let agency = app.create_agency(json!({"name": "A Agency"})).await;
        let agency = agency.body["id"].as_str().unwrap().to_owned();
        let agent = app
            .api(Method::POST, "/api/v1/agents", Some(json!({"first_name": "A", "last_name": "Agent"})))
            .await
            .expect(201);
        let agent = agent.body["id"].as_str().unwrap().to_owned();
        let contact = app
            .api(Method::POST, &format!("/api/v1/agencies/{agency}/contacts"), Some(json!({"email": "a@a.example"})))
            .await
            .expect(201);
        let contact = contact.body["id"].as_str().unwrap().to_owned();
        app.api(Method::POST, "/api/v1/contract-templates", Some(json!({"id": "a-only", "name": "A"})))
            .await
            .expect(201);
        let agreement = app
            .api(
                Method::POST,
                "/api/v1/producer-agreements",
                Some(json!({"agency_id": agency, "contract_template_id": "a-only", "signers": [{"name": "A", "email": "a@a.example"}]})),
            )
            .await
            .expect(201);
        let agreement = agreement.body["id"].as_str().unwrap().to_owned();
        let webhook = app
            .api(
                Method::POST,
                "/api/v1/webhooks",
                Some(json!({"webhook_type": "entity_compliance_data_synchronized", "url": "https://hooks.example.com/a"})),
            )
            .await
            .expect(201);
        let webhook = webhook.body["id"].as_str().unwrap().to_owned();
        app.create_nipr_sync(json!({"entity_type": "agency", "entity_id": agency, "kind": "fetch", "outcome": "success"})).await;
        let event = app.get(&format!("/api/v1/webhooks/{webhook}/events")).await.expect(200);
        let event = event.body["rows"][0]["event_id"].as_str().unwrap().to_owned();
        let now = Utc::now();
        let invitation = InvitationId::new();
        app.state
            .db()
            .create_invitation(
                &OrganizationId::parse(&app.org).unwrap(),
                &Invitation {
                    id: invitation,
                    agency_id: AgencyId::parse(&agency).unwrap(),
                    contract_template_id: None,
                    status: InvitationStatus::Deferred,
                    sent_to: None,
                    created_at: now,
                    updated_at: now,
                },
            )
            .await
            .unwrap();
        app.connect_hubspot().await.expect(200);

        // Organization B sees none of it.
        let b = app.organization("org-b", true).await;
        let b = Some(b.as_str());
        let not_found = [
            (Method::GET, format!("/api/v1/agencies/{agency}")),
            (Method::PUT, format!("/api/v1/agencies/{agency}")),
            (Method::GET, format!("/api/v1/agencies/{agency}/contacts")),
            (Method::POST, format!("/api/v1/agencies/{agency}/contacts")),
            (Method::GET, format!("/api/v1/agency-contacts/{contact}")),
            (Method::PUT, format!("/api/v1/agency-contacts/{contact}")),
            (Method::GET, format!("/api/v1/agents/{agent}")),
            (Method::PUT, format!("/api/v1/agents/{agent}")),
            (Method::GET, "/api/v1/contract-templates/a-only".to_owned()),
            (Method::GET, format!("/api/v1/invitations/{invitation}")),
            (Method::GET, format!("/api/v1/producer-agreements/{agreement}")),
            (Method::GET, format!("/api/v1/compliance-statuses?entity_type=agency&entity_id={agency}")),
            (Method::GET, format!("/api/v1/nipr-syncs?entity_type=agent&entity_id={agent}")),
            (Method::GET, format!("/api/v1/webhooks/{webhook}")),
            (Method::DELETE, format!("/api/v1/webhooks/{webhook}")),
            (Method::GET, format!("/api/v1/webhooks/{webhook}/events")),
            (Method::GET, format!("/api/v1/webhooks/{webhook}/events/{event}/logs")),
            (Method::POST, format!("/api/v1/webhooks/{webhook}/events/{event}/resend")),
        ];
        for (method, path) in not_found {
            let body = matches!(method, Method::POST | Method::PUT).then(|| {
                if path.contains("agents/") {
                    json!({"first_name": "B", "last_name": "B"})
                } else {
                    json!({"name": "B"})
                }
            });
            let body = if path.contains("contacts") || path.contains("resend") { Some(json!({})) } else { body };
            app.call(method.clone(), &path, b, body)
                .await
                .expect_error(404, "not_found");
        }
        // Writes that name A's records from B are refused as unknown.
        app.call(
            Method::POST,
            "/api/v1/producer-agreements",
            b,
            Some(json!({"agency_id": agency, "contract_template_id": "a-only", "signers": [{"name": "B", "email": "b@b.example"}]})),
        )
        .await
        .expect_error(422, "validation_failed");
        app.call(
            Method::POST,
            "/api/v1/compliance-statuses",
            b,
            Some(json!({"updates": [{"entity_type": "agent", "entity_id": agent, "product": "life", "state": "NY", "status": "compliant"}]})),
        )
        .await
        .expect_error(422, "validation_failed");
        // Lists are empty, and B's HubSpot is not connected.
        for path in [
            "/api/v1/agencies",
            "/api/v1/agents",
            "/api/v1/invitations",
            "/api/v1/producer-agreements",
        ] {
            let list = app.call(Method::GET, path, b, None).await.expect(200);
            assert_eq!(list.body["items"], json!([]), "{path}");
        }
        let list = app.call(Method::GET, "/api/v1/contract-templates", b, None).await.expect(200);
        assert_eq!(list.body, json!([]), "/api/v1/contract-templates");
        let webhooks = app.call(Method::GET, "/api/v1/webhooks", b, None).await.expect(200);
        assert_eq!(webhooks.body["webhooks"], json!([]));
        let cards = app.call(Method::GET, "/api/v1/integrations", b, None).await.expect(200);
        assert_eq!(cards.body["integrations"][0]["status"], "not_connected");
        let activity = app.call(Method::GET, "/api/v1/integrations/hubspot/activity", b, None).await.expect(200);
        assert_eq!(activity.body["entries"], json!([]));
        app.call(Method::DELETE, "/api/v1/integrations/hubspot", b, None)
            .await
            .expect_error(409, "not_connected");
        // And A still has everything.
        app.get(&format!("/api/v1/webhooks/{webhook}")).await.expect(200);
        assert_eq!(app.get("/api/v1/integrations").await.expect(200).body["integrations"][0]["status"], "connected");
    }
);
