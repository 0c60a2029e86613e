//! HubSpot → Turris agents: contacts become agents only once their primary company is a synced
//! agency.

use turris_hubspot_sandbox::ObjectKind;

use super::*;

/// Agency and agent inbound on, with the agent mapping (every contact is an agent candidate).
async fn agents_app(backend: Backend) -> TestApp {
    let app = synced_app(backend).await;
    let control = app.sandbox.control();
    control.subscribe("contact.creation", None).unwrap();
    for property in ["firstname", "lastname", "email", "associatedcompanyid"] {
        control
            .subscribe("contact.propertyChange", Some(property))
            .unwrap();
    }
    let mut mapping = agency_mapping();
    mapping["agent"] = json!({
        "identifier": {"mode": "sync_all"},
        "first_name": "firstname",
        "last_name": "lastname",
        "email": "email"
    });
    app.set_mapping(mapping).await;
    app.set_sync(json!({"agency": {"inbound": true}, "agents": {"inbound": true}}))
        .await;
    app
}

async fn agents(app: &TestApp) -> Vec<Value> {
    let page = app.get("/api/v1/agents?limit=100").await.expect(200);
    page.body["items"].as_array().unwrap().clone()
}

async fn contacts_become_agents_only_once_their_primary_company_is_a_synced_agency(
    backend: Backend,
) {
    let app = agents_app(backend).await;
    let control = app.sandbox.control();
    let partner = control
        .create_record(
            ObjectKind::Companies,
            [("type", "PARTNER"), ("name", "Partner Agency")],
        )
        .unwrap();
    let vendor = control
        .create_record(
            ObjectKind::Companies,
            [("type", "VENDOR"), ("name", "Vendor Inc")],
        )
        .unwrap();
    let contact = |first: &str, email: &str| {
        control
            .create_record(
                ObjectKind::Contacts,
                [
                    ("firstname", first),
                    ("lastname", "Agent"),
                    ("email", email),
                ],
            )
            .unwrap()
    };
    let ada = contact("Ada", "ada@partner.example.com");
    let bob = contact("Bob", "bob@vendor.example.com");
    app.settle().await;
    // Not associated yet: skipped with the reason.
    assert!(agents(&app).await.is_empty());
    let skipped = app.activity_titled("HubSpot webhook skipped").await;
    assert!(
        skipped
            .iter()
            .any(|a| a["details"]["hubspot_id"] == ada.id.as_str()
                && a["details"]["skip_reason"] == "contact is not associated with a synced agency"),
        "{skipped:#?}"
    );
    // Associated with the synced agency: Ada becomes an agent; Bob's company is not synced.
    control
        .associate(
            ObjectKind::Contacts,
            &ada.id,
            ObjectKind::Companies,
            &partner.id,
        )
        .unwrap();
    control
        .associate(
            ObjectKind::Contacts,
            &bob.id,
            ObjectKind::Companies,
            &vendor.id,
        )
        .unwrap();
    app.settle().await;
    let synced = agents(&app).await;
    assert_eq!(synced.len(), 1, "{synced:#?}");
    assert_eq!(synced[0]["first_name"], "Ada");
    assert_eq!(synced[0]["email"], "ada@partner.example.com");
    // The agency its primary company is synced to is the agent's agency.
    let agencies = app.agencies().await;
    let agency = agencies
        .iter()
        .find(|a| a["name"] == "Partner Agency")
        .unwrap();
    assert_eq!(synced[0]["agency_id"], agency["id"]);
    // A standard edit updates the agent.
    control
        .update_record(ObjectKind::Contacts, &ada.id, [("lastname", "Lovelace")])
        .unwrap();
    app.settle().await;
    assert_eq!(agents(&app).await[0]["last_name"], "Lovelace");
    app.finish().await;
}

both_databases!(backend: contacts_become_agents_only_once_their_primary_company_is_a_synced_agency);
