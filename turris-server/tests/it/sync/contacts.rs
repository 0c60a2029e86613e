//! HubSpot Contacts ↔ Turris agency contacts (the sync matrix's middle column), and contact
//! merges: the contacts of a synced agency that are not agents become its agency contacts, an
//! agency contact made in Turris becomes a contact of the agency's company, and a merged-away
//! contact's agent or agency contact follows the contact that survives.

use turris_hubspot_sandbox::ObjectKind;

use super::*;

/// The sandbox sends every contact event the agency-contact and agent sync need.
fn subscribe_contacts(app: &TestApp) {
    let control = app.sandbox.control();
    for event in ["contact.creation", "contact.deletion", "contact.merge"] {
        control.subscribe(event, None).unwrap();
    }
    for property in [
        "firstname",
        "lastname",
        "email",
        "jobtitle",
        "associatedcompanyid",
    ] {
        control
            .subscribe("contact.propertyChange", Some(property))
            .unwrap();
    }
}

/// Maps agents: contacts whose job title is `Agent`.
async fn map_agents_by_job_title(app: &TestApp) {
    let mut mapping = agency_mapping();
    mapping["agent"] = json!({
        "identifier": {"mode": "apply_filter", "property": "jobtitle", "operator": "equals", "value": "Agent"},
        "first_name": "firstname",
        "last_name": "lastname",
        "email": "email"
    });
    app.set_mapping(mapping).await;
}

/// A partner company in the sandbox, synced into an agency: (company id, agency id).
async fn partner(app: &TestApp, name: &str) -> (String, String) {
    let company = app
        .sandbox
        .control()
        .create_record(ObjectKind::Companies, [("type", "PARTNER"), ("name", name)])
        .unwrap();
    app.settle().await;
    let agencies = app.agencies().await;
    let agency = agencies
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {agencies:#?}"));
    (company.id, agency["id"].as_str().unwrap().to_owned())
}

/// A contact created in the sandbox (as a person would) and associated with `company`.
fn contact_of(app: &TestApp, company: Option<&str>, properties: &[(&str, &str)]) -> String {
    let control = app.sandbox.control();
    let contact = control
        .create_record(ObjectKind::Contacts, properties.iter().copied())
        .unwrap();
    if let Some(company) = company {
        control
            .associate(
                ObjectKind::Contacts,
                &contact.id,
                ObjectKind::Companies,
                company,
            )
            .unwrap();
    }
    contact.id
}

async fn agency_contacts(app: &TestApp, agency: &str) -> Vec<Value> {
    let list = app
        .get(&format!("/api/v1/agencies/{agency}/contacts?limit=100"))
        .await
        .expect(200);
    list.body["items"].as_array().unwrap().clone()
}

async fn agents(app: &TestApp) -> Vec<Value> {
    let page = app.get("/api/v1/agents?limit=100").await.expect(200);
    page.body["items"].as_array().unwrap().clone()
}

/// The HubSpot contact a Turris record is linked to, straight from the links table.
async fn linked_contact(app: &TestApp, turris_id: &str) -> Option<String> {
    let sql = format!(
        "SELECT hubspot_id FROM links WHERE organization_id = '{}' AND turris_id = '{turris_id}'",
        app.org
    );
    if app.db.url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&app.db.url).await.unwrap();
        let row: Option<(String,)> = sqlx::query_as(&sql).fetch_optional(&pool).await.unwrap();
        pool.close().await;
        row.map(|(id,)| id)
    } else {
        let pool = sqlx::PgPool::connect(&app.db.url).await.unwrap();
        let row: Option<(String,)> = sqlx::query_as(&sql).fetch_optional(&pool).await.unwrap();
        pool.close().await;
        row.map(|(id,)| id)
    }
}

/// Waits until an activity row with this title, status and Turris id exists.
async fn row_for(app: &TestApp, title: &str, status: &str, turris_id: &str) -> Value {
    eventually(
        &format!("a {status} {title:?} row of {turris_id}"),
        || async {
            app.activity_titled(title)
                .await
                .into_iter()
                .find(|a| a["status"] == status && a["details"]["turris_id"] == turris_id)
        },
    )
    .await
}

async fn outbox_drained(app: &TestApp) {
    eventually("the outbox to be empty", || async {
        (app.count("SELECT COUNT(*) FROM outbound_pushes").await == 0).then_some(())
    })
    .await;
}

sync_test!(
    async fn a_contact_of_a_synced_agency_becomes_its_agency_contact_and_its_email_releases_the_deferred_invitation(app) {
        subscribe_contacts(app);
        app.api(
            Method::POST,
            "/api/v1/contract-templates",
            Some(json!({"id": "tpl-default", "name": "Default contract"})),
        )
        .await
        .expect(201);
        app.api(
            Method::PUT,
            &format!("{H}/invitations"),
            Some(json!({"mode": "invite_all", "rules": [], "default_template": "tpl-default"})),
        )
        .await
        .expect(200);
        app.set_sync(json!({"agency": {"inbound": true}, "agency_contacts": {"inbound": true}})).await;
        let (company, agency) = partner(app, "Harbor Agency").await;
        let invitations = format!("/api/v1/invitations?agency_id={agency}");
        assert_eq!(app.get(&invitations).await.expect(200).body["items"][0]["status"], "deferred");

        let contact = contact_of(
            app,
            Some(&company),
            &[("firstname", "Olive"), ("lastname", "Office"), ("email", "olive@harbor.example.com")],
        );
        // A contact of a company that is not synced stays out.
        contact_of(app, None, &[("firstname", "Stray"), ("email", "stray@example.com")]);
        app.settle().await;
        let contacts = agency_contacts(app, &agency).await;
        assert_eq!(contacts.len(), 1, "{contacts:#?}");
        assert_eq!(contacts[0]["first_name"], "Olive");
        assert_eq!(contacts[0]["last_name"], "Office");
        assert_eq!(contacts[0]["email"], "olive@harbor.example.com");
        let contact_id = contacts[0]["id"].as_str().unwrap().to_owned();
        assert_eq!(linked_contact(app, &contact_id).await.as_deref(), Some(contact.as_str()));
        // Created and associated in one go, the contact arrives as one creation.
        let created = app.activity_titled("HubSpot webhook: contact created").await;
        assert!(
            created.iter().any(|a| a["status"] == "success"
                && a["details"]["turris_id"] == contact_id.as_str()
                && a["details"]["hubspot_id"] == contact.as_str()),
            "{created:#?}"
        );
        // The deferred invitation went to the new contact.
        let invitation = app.get(&invitations).await.expect(200).body["items"][0].clone();
        assert_eq!(invitation["status"], "sent");
        assert_eq!(invitation["sent_to"], "olive@harbor.example.com");
        assert!(!app.activity_titled("Auto-invite sent").await.is_empty());

        // A standard edit updates the agency contact; nothing is duplicated.
        app.sandbox
            .control()
            .update_record(ObjectKind::Contacts, &contact, [("lastname", "Harbormaster")])
            .unwrap();
        app.settle().await;
        let contacts = agency_contacts(app, &agency).await;
        assert_eq!(contacts.len(), 1, "{contacts:#?}");
        assert_eq!(contacts[0]["last_name"], "Harbormaster");
        assert!(agents(app).await.is_empty());
    }
);

sync_test!(
    async fn with_agent_inbound_on_a_contact_matching_the_agent_filter_becomes_an_agent_not_an_agency_contact(app) {
        subscribe_contacts(app);
        map_agents_by_job_title(app).await;
        app.set_sync(json!({"agency": {"inbound": true}, "agents": {"inbound": true}, "agency_contacts": {"inbound": true}})).await;
        let (company, agency) = partner(app, "Harbor Agency").await;
        contact_of(
            app,
            Some(&company),
            &[("firstname", "Ada"), ("lastname", "Agent"), ("email", "ada@harbor.example.com"), ("jobtitle", "Agent")],
        );
        contact_of(
            app,
            Some(&company),
            &[("firstname", "Olive"), ("lastname", "Office"), ("email", "olive@harbor.example.com"), ("jobtitle", "Office manager")],
        );
        app.settle().await;
        let synced = agents(app).await;
        assert_eq!(synced.len(), 1, "{synced:#?}");
        assert_eq!(synced[0]["first_name"], "Ada");
        assert_eq!(synced[0]["agency_id"], agency.as_str());
        let contacts = agency_contacts(app, &agency).await;
        assert_eq!(contacts.len(), 1, "{contacts:#?}");
        assert_eq!(contacts[0]["first_name"], "Olive");
    }
);

sync_test!(
    async fn an_agency_contact_created_in_turris_appears_in_hubspot_once_with_its_company_and_its_echo_creates_nothing(app) {
        subscribe_contacts(app);
        app.set_sync(json!({
                "agency": {"inbound": true, "outbound": true},
                "agency_contacts": {"inbound": true, "outbound": true}
            })).await;
        let agency = app.create_agency(json!({"name": "Lakeside Agency"})).await;
        let agency_id = agency.body["id"].as_str().unwrap().to_owned();
        let company = row_for(app, "Create company in HubSpot", "success", &agency_id).await;
        let company_id = company["details"]["hubspot_id"].as_str().unwrap().to_owned();
        let contact = app
            .api(
                Method::POST,
                &format!("/api/v1/agencies/{agency_id}/contacts"),
                Some(json!({"first_name": "Grace", "last_name": "Office", "email": "grace@lakeside.example.com"})),
            )
            .await
            .expect(201);
        let contact_id = contact.body["id"].as_str().unwrap().to_owned();
        let pushed = row_for(app, "Create contact in HubSpot", "success", &contact_id).await;
        let hubspot_id = pushed["details"]["hubspot_id"].as_str().unwrap().to_owned();
        let associated =
            row_for(app, "Associate contact with company in HubSpot", "success", &contact_id).await;
        assert_eq!(associated["details"]["hubspot_id"], hubspot_id.as_str());
        let control = app.sandbox.control();
        let record = control.record(ObjectKind::Contacts, &hubspot_id).unwrap();
        assert_eq!(record.properties["firstname"], "Grace");
        assert_eq!(record.properties["lastname"], "Office");
        assert_eq!(record.properties["email"], "grace@lakeside.example.com");
        assert_eq!(
            control.associated_ids(ObjectKind::Contacts, &hubspot_id, ObjectKind::Companies),
            std::slice::from_ref(&company_id)
        );
        // The creation and association come back as webhooks: recognised, they create nothing.
        app.settle().await;
        assert_eq!(control.count(ObjectKind::Contacts), 1);
        assert_eq!(agency_contacts(app, &agency_id).await.len(), 1);
        assert!(app.activity_titled("HubSpot webhook: contact created").await.is_empty());
        let skipped = app.activity_titled("HubSpot webhook skipped").await;
        assert!(
            skipped.iter().any(|a| a["details"]["hubspot_id"] == hubspot_id.as_str()
                && a["details"]["skip_reason"] == "echo of our own write"),
            "{skipped:#?}"
        );

        // An update through the API updates the contact, once.
        app.api(
            Method::PUT,
            &format!("/api/v1/agency-contacts/{contact_id}"),
            Some(json!({"first_name": "Grace", "last_name": "Hopper", "email": "grace@lakeside.example.com"})),
        )
        .await
        .expect(200);
        row_for(app, "Update contact in HubSpot", "success", &contact_id).await;
        let record = control.record(ObjectKind::Contacts, &hubspot_id).unwrap();
        assert_eq!(record.properties["lastname"], "Hopper");
        app.settle().await;
        outbox_drained(app).await;
        assert_eq!(control.count(ObjectKind::Contacts), 1);
        let contacts = agency_contacts(app, &agency_id).await;
        assert_eq!(contacts.len(), 1, "{contacts:#?}");
        assert_eq!(contacts[0]["last_name"], "Hopper");
    }
);

sync_test!(
    async fn with_the_agency_contact_toggles_off_no_contact_syncs_either_way(app) {
        subscribe_contacts(app);
        app.set_sync(json!({"agency": {"inbound": true, "outbound": true}})).await;
        let (company, agency) = partner(app, "Harbor Agency").await;
        let contact = contact_of(
            app,
            Some(&company),
            &[("firstname", "Olive"), ("email", "olive@harbor.example.com")],
        );
        app.settle().await;
        assert!(agency_contacts(app, &agency).await.is_empty());
        let skipped = app.activity_titled("HubSpot webhook skipped").await;
        assert!(
            skipped.iter().any(|a| a["details"]["hubspot_id"] == contact.as_str()
                && a["details"]["skip_reason"] == "hubspot → turris sync is off"),
            "{skipped:#?}"
        );
        // Made in Turris, the agency contact stays in Turris.
        app.api(
            Method::POST,
            &format!("/api/v1/agencies/{agency}/contacts"),
            Some(json!({"first_name": "Quiet", "email": "quiet@harbor.example.com"})),
        )
        .await
        .expect(201);
        outbox_drained(app).await;
        assert_eq!(app.sandbox.control().count(ObjectKind::Contacts), 1);
        assert!(app.activity_titled("Create contact in HubSpot").await.is_empty());
        assert_eq!(agency_contacts(app, &agency).await.len(), 1);
    }
);

sync_test!(
    async fn a_merged_away_contact_hands_its_agent_or_agency_contact_to_the_surviving_contact(app) {
        subscribe_contacts(app);
        map_agents_by_job_title(app).await;
        app.set_sync(json!({"agency": {"inbound": true}, "agents": {"inbound": true}, "agency_contacts": {"inbound": true}})).await;
        let (company, agency) = partner(app, "Harbor Agency").await;
        let agent_contact = contact_of(
            app,
            Some(&company),
            &[("firstname", "Ada"), ("lastname", "Agent"), ("email", "ada@harbor.example.com"), ("jobtitle", "Agent")],
        );
        let office_contact = contact_of(
            app,
            Some(&company),
            &[("firstname", "Olive"), ("lastname", "Office"), ("email", "olive@harbor.example.com")],
        );
        // Duplicates a person made without a company: they do not sync on their own.
        let agent_duplicate = contact_of(app, None, &[("lastname", "Agent")]);
        let office_duplicate = contact_of(app, None, &[("lastname", "Office")]);
        app.settle().await;
        let agent = agents(app).await[0]["id"].as_str().unwrap().to_owned();
        let office = agency_contacts(app, &agency).await[0]["id"].as_str().unwrap().to_owned();
        let control = app.sandbox.control();
        control
            .merge_records(ObjectKind::Contacts, &agent_duplicate, &agent_contact)
            .unwrap();
        control
            .merge_records(ObjectKind::Contacts, &office_duplicate, &office_contact)
            .unwrap();
        app.settle().await;
        assert_eq!(linked_contact(app, &agent).await.as_deref(), Some(agent_duplicate.as_str()));
        assert_eq!(linked_contact(app, &office).await.as_deref(), Some(office_duplicate.as_str()));
        let merged = app.activity_titled("HubSpot webhook: contacts merged").await;
        assert_eq!(merged.len(), 2, "{merged:#?}");
        // The survivors now sync the same records: nothing new, edits update them.
        control
            .update_record(ObjectKind::Contacts, &agent_duplicate, [("firstname", "Augusta")])
            .unwrap();
        control
            .update_record(ObjectKind::Contacts, &office_duplicate, [("firstname", "Olivia")])
            .unwrap();
        app.settle().await;
        let synced = agents(app).await;
        assert_eq!(synced.len(), 1, "{synced:#?}");
        assert_eq!((synced[0]["id"].as_str(), synced[0]["first_name"].as_str()), (Some(agent.as_str()), Some("Augusta")));
        let contacts = agency_contacts(app, &agency).await;
        assert_eq!(contacts.len(), 1, "{contacts:#?}");
        assert_eq!((contacts[0]["id"].as_str(), contacts[0]["first_name"].as_str()), (Some(office.as_str()), Some("Olivia")));
    }
);

sync_test!(
    async fn merging_two_linked_contacts_keeps_both_records_and_unlinks_the_merged_away_one(app) {
        subscribe_contacts(app);
        app.set_sync(json!({"agency": {"inbound": true}, "agency_contacts": {"inbound": true}})).await;
        let (company, agency) = partner(app, "Harbor Agency").await;
        let keeper = contact_of(app, Some(&company), &[("firstname", "Kim"), ("email", "kim@harbor.example.com")]);
        let loser = contact_of(app, Some(&company), &[("firstname", "Lou"), ("email", "lou@harbor.example.com")]);
        app.settle().await;
        let contacts = agency_contacts(app, &agency).await;
        assert_eq!(contacts.len(), 2, "{contacts:#?}");
        let id_of = |name: &str| {
            contacts
                .iter()
                .find(|c| c["first_name"] == name)
                .unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let (kim, lou) = (id_of("Kim"), id_of("Lou"));
        app.sandbox
            .control()
            .merge_records(ObjectKind::Contacts, &keeper, &loser)
            .unwrap();
        app.settle().await;
        assert_eq!(linked_contact(app, &kim).await.as_deref(), Some(keeper.as_str()));
        assert_eq!(linked_contact(app, &lou).await, None, "the merged-away link is removed");
        assert_eq!(agency_contacts(app, &agency).await.len(), 2, "both records stay");
        let merged = app.activity_titled("HubSpot webhook: contacts merged").await;
        assert!(
            merged.iter().any(|a| a["details"]["turris_id"] == lou.as_str()
                && a["details"]["message"].as_str().unwrap_or_default().contains("linked already")),
            "{merged:#?}"
        );
    }
);

sync_test!(
    async fn deleting_a_linked_contact_drops_the_link_and_keeps_the_agency_contact(app) {
        subscribe_contacts(app);
        app.set_sync(json!({"agency": {"inbound": true}, "agency_contacts": {"inbound": true}})).await;
        let (company, agency) = partner(app, "Harbor Agency").await;
        let contact = contact_of(app, Some(&company), &[("firstname", "Olive"), ("email", "olive@harbor.example.com")]);
        app.settle().await;
        let office = agency_contacts(app, &agency).await[0]["id"].as_str().unwrap().to_owned();
        assert_eq!(linked_contact(app, &office).await.as_deref(), Some(contact.as_str()));
        app.sandbox.control().delete_record(ObjectKind::Contacts, &contact).unwrap();
        app.settle().await;
        assert_eq!(linked_contact(app, &office).await, None);
        let contacts = agency_contacts(app, &agency).await;
        assert_eq!(contacts.len(), 1, "the agency contact stays: {contacts:#?}");
        let rows = app.activity_titled("HubSpot webhook: contact property changed").await;
        assert!(
            rows.iter().any(|a| a["details"]["turris_id"] == office.as_str()
                && a["details"]["message"] == "contact deleted in HubSpot: link removed, the agency contact stays in Turris"),
            "{rows:#?}"
        );
    }
);

sync_test!(
    async fn a_contact_seen_before_its_company_was_synced_follows_when_the_company_becomes_an_agency(app) {
        subscribe_contacts(app);
        app.set_sync(json!({"agency": {"inbound": true}, "agency_contacts": {"inbound": true}})).await;
        let control = app.sandbox.control();
        // The contact's events are processed while its company is not synced (as when
        // HubSpot's unordered webhooks bring a new partner's contact before the partner).
        let company = control
            .create_record(ObjectKind::Companies, [("type", "VENDOR"), ("name", "Late Partner")])
            .unwrap();
        let contact = contact_of(
            app,
            Some(&company.id),
            &[("firstname", "Early"), ("lastname", "Bird"), ("email", "early@late.example.com")],
        );
        app.settle().await;
        assert!(app.agencies().await.is_empty());
        control
            .update_record(ObjectKind::Companies, &company.id, [("type", "PARTNER")])
            .unwrap();
        app.settle().await;
        let agencies = app.agencies().await;
        assert_eq!(agencies.len(), 1, "{agencies:#?}");
        let agency = agencies[0]["id"].as_str().unwrap().to_owned();
        let contacts = agency_contacts(app, &agency).await;
        assert_eq!(contacts.len(), 1, "the contact followed its company: {contacts:#?}");
        assert_eq!(contacts[0]["email"], "early@late.example.com");
        let contact_id = contacts[0]["id"].as_str().unwrap();
        assert_eq!(linked_contact(app, contact_id).await.as_deref(), Some(contact.as_str()));
    }
);
