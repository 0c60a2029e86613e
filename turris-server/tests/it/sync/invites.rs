//! Auto-invite of agencies created by inbound sync: contract rules, default template,
//! needs-attention, and the deferral until the agency has a contact with an email.

use turris_hubspot_sandbox::ObjectKind;

use super::*;

impl TestApp {
    async fn templates(&self, ids: &[&str]) {
        for id in ids {
            self.api(
                Method::POST,
                "/api/v1/contract-templates",
                Some(json!({"id": id, "name": format!("Contract {id}")})),
            )
            .await
            .expect(201);
        }
    }

    async fn invitations_settings(&self, body: Value) {
        self.api(Method::PUT, &format!("{H}/invitations"), Some(body))
            .await
            .expect(200);
    }

    /// Creates a partner company in `city` and returns the agency inbound sync made of it.
    async fn partner_agency_in(&self, name: &str, city: &str) -> String {
        self.sandbox
            .control()
            .create_record(
                ObjectKind::Companies,
                [("type", "PARTNER"), ("name", name), ("city", city)],
            )
            .unwrap();
        self.settle().await;
        let agencies = self.agencies().await;
        let agency = agencies
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {agencies:#?}"));
        agency["id"].as_str().unwrap().to_owned()
    }

    async fn invitation_of(&self, agency: &str) -> Value {
        let list = self
            .get(&format!("/api/v1/invitations?agency_id={agency}"))
            .await
            .expect(200);
        let all = list.body["items"].as_array().unwrap();
        assert_eq!(all.len(), 1, "{all:#?}");
        all[0].clone()
    }

    async fn invite_rows(&self, agency: &str) -> Vec<(String, String)> {
        self.activity()
            .await
            .into_iter()
            .filter(|a| {
                a["details"]["turris_id"] == agency
                    && a["title"].as_str().unwrap().starts_with("Auto-invite")
            })
            .map(|a| {
                (
                    a["title"].as_str().unwrap().to_owned(),
                    a["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

sync_test!(
    async fn a_deferred_invitation_and_one_needing_attention_give_their_skip_reasons(app) {
        app.templates(&["tpl-default"]).await;
        app.invitations_settings(json!({"mode": "invite_all", "rules": [], "default_template": "tpl-default"}))
            .await;
        let deferred = app.partner_agency_in("Deferred Agency", "Albany").await;
        app.invitations_settings(json!({"mode": "invite_all", "rules": []})).await;
        let attention = app.partner_agency_in("Attention Agency", "Erie").await;
        let rows = app.activity().await;
        for (agency, title, reason) in [
            (&deferred, "Auto-invite deferred (awaiting contact)", "sent once the agency has a contact with an email"),
            (&attention, "Auto-invite needs attention", "no contract rule matched"),
        ] {
            let row = rows
                .iter()
                .find(|a| a["details"]["turris_id"] == agency.as_str() && a["title"] == title)
                .unwrap_or_else(|| panic!("a {title:?} row of {agency} in {rows:#?}"));
            assert_eq!(row["status"], "skipped");
            let given = row["details"]["skip_reason"].as_str().unwrap_or_default();
            assert!(given.contains(reason), "{title}: skip reason {given:?}");
        }
    }
);

sync_test!(
    async fn the_first_matching_contract_rule_wins_and_the_invitation_waits_for_a_contact_with_an_email(app) {
        app.templates(&["tpl-ny", "tpl-default"]).await;
        app.invitations_settings(json!({
            "mode": "invite_all",
            "rules": [{"condition": {"property": "city", "operator": "equals", "value": "Albany"}, "template": "tpl-ny"}],
            "default_template": "tpl-default"
        }))
        .await;
        let albany = app.partner_agency_in("Albany Agency", "Albany").await;
        let invitation = app.invitation_of(&albany).await;
        assert_eq!(invitation["contract_template_id"], "tpl-ny");
        assert_eq!(invitation["status"], "deferred");
        assert_eq!(
            app.invite_rows(&albany).await,
            [("Auto-invite deferred (awaiting contact)".to_owned(), "skipped".to_owned())]
        );
        // A contact without an email changes nothing; one with an email gets the invitation.
        app.api(Method::POST, &format!("/api/v1/agencies/{albany}/contacts"), Some(json!({"first_name": "No", "last_name": "Mail"})))
            .await
            .expect(201);
        assert_eq!(app.invitation_of(&albany).await["status"], "deferred");
        app.api(
            Method::POST,
            &format!("/api/v1/agencies/{albany}/contacts"),
            Some(json!({"first_name": "Ada", "last_name": "Lovelace", "email": "ada@albany.example.com"})),
        )
        .await
        .expect(201);
        let sent = app.invitation_of(&albany).await;
        assert_eq!(sent["status"], "sent");
        assert_eq!(sent["sent_to"], "ada@albany.example.com");
        assert_eq!(app.invite_rows(&albany).await[0], ("Auto-invite sent".to_owned(), "success".to_owned()));

        // No rule matches: the default template.
        let erie = app.partner_agency_in("Erie Agency", "Erie").await;
        assert_eq!(app.invitation_of(&erie).await["contract_template_id"], "tpl-default");
    }
);

sync_test!(
    async fn without_a_matching_rule_or_default_the_agency_needs_attention(app) {
        app.templates(&["tpl-ny"]).await;
        app.invitations_settings(json!({
            "mode": "invite_all",
            "rules": [{"condition": {"property": "city", "operator": "equals", "value": "Albany"}, "template": "tpl-ny"}]
        }))
        .await;
        let erie = app.partner_agency_in("Erie Agency", "Erie").await;
        let invitation = app.invitation_of(&erie).await;
        assert_eq!(invitation["status"], "needs_attention");
        assert!(invitation["contract_template_id"].is_null());
        assert_eq!(
            app.invite_rows(&erie).await,
            [("Auto-invite needs attention".to_owned(), "skipped".to_owned())]
        );

        // A person handles it: an unknown template is refused and changes nothing...
        let assign = format!("{H}/invitations/{}/contract", invitation["id"].as_str().unwrap());
        let refused = app
            .api(Method::POST, &assign, Some(json!({"template": "tpl-nope"})))
            .await
            .expect_error(422, "validation_failed");
        assert_eq!(refused.paths(), ["template"]);
        assert_eq!(app.invitation_of(&erie).await["status"], "needs_attention");
        // ...a known one is assigned: no contact with an email yet, so it waits for one.
        let assigned = app
            .api(Method::POST, &assign, Some(json!({"template": "tpl-ny"})))
            .await
            .expect(200);
        assert_eq!(assigned.body["status"], "deferred");
        assert_eq!(assigned.body["contract_template_id"], "tpl-ny");
        assert_eq!(
            app.invite_rows(&erie).await[0],
            ("Auto-invite deferred (awaiting contact)".to_owned(), "skipped".to_owned())
        );
        // Only an invitation that waits for a contract can be given one.
        app.api(Method::POST, &assign, Some(json!({"template": "tpl-ny"})))
            .await
            .expect_error(409, "invitation_not_waiting");
    }
);

sync_test!(
    async fn a_company_outside_the_invitation_filter_is_not_invited_and_says_why(app) {
        app.templates(&["tpl-ny"]).await;
        app.invitations_settings(json!({
            "mode": "apply_filter",
            "condition": {"property": "city", "operator": "equals", "value": "Albany"},
            "default_template": "tpl-ny"
        }))
        .await;
        let erie = app.partner_agency_in("Erie Agency", "Erie").await;
        let rows: Vec<Value> = app
            .activity_titled("Auto-invite skipped")
            .await
            .into_iter()
            .filter(|a| a["details"]["turris_id"] == erie.as_str())
            .collect();
        assert_eq!(rows.len(), 1, "{rows:#?}");
        assert_eq!(rows[0]["details"]["skip_reason"], "company does not match the invitation filter");
        let list = app.get(&format!("/api/v1/invitations?agency_id={erie}")).await.expect(200);
        assert_eq!(list.body["items"], json!([]));
    }
);

sync_test!(
    async fn a_deferred_invitation_whose_release_never_ran_is_sent_by_the_sweep(app) {
        app.templates(&["tpl-default"]).await;
        app.invitations_settings(json!({"mode": "invite_all", "rules": [], "default_template": "tpl-default"}))
            .await;
        let agency = app.partner_agency_in("Quiet Agency", "Troy").await;
        assert_eq!(app.invitation_of(&agency).await["status"], "deferred");
        // A contact stored without its release (the release failed, or the process died after
        // the contact's commit): nothing sends the invitation but the sweep.
        let org = turris_core::ids::OrganizationId::parse(&app.org).unwrap();
        let contact = turris_core::record::AgencyContact {
            id: turris_core::ids::AgencyContactId::parse("c-quiet").unwrap(),
            agency_id: turris_core::ids::AgencyId::parse(&agency).unwrap(),
            first_name: Some("Ada".into()),
            last_name: None,
            email: Some("ada@troy.example.com".into()),
        };
        app.state.db().insert_agency_contact(&org, &contact).await.unwrap();
        assert_eq!(app.invitation_of(&agency).await["status"], "deferred");
        turris_server::sync::invites::sweep(&app.state).await.unwrap();
        let sent = app.invitation_of(&agency).await;
        assert_eq!(sent["status"], "sent");
        assert_eq!(sent["sent_to"], "ada@troy.example.com");
        assert_eq!(turris_server::sync::invites::sweep(&app.state).await.unwrap(), 0, "sent once");
        assert_eq!(app.invite_rows(&agency).await[0], ("Auto-invite sent".to_owned(), "success".to_owned()));
    }
);

sync_test!(
    async fn a_sent_invitation_is_a_note_on_the_company_and_tags_it_invited(app) {
        app.templates(&["tpl-default"]).await;
        app.invitations_settings(json!({"mode": "invite_all", "rules": [], "default_template": "tpl-default"}))
            .await;
        app.api(Method::PUT, &format!("{H}/notes"), Some(json!({"invitations": true})))
            .await
            .expect(200);
        app.api(Method::PUT, &format!("{H}/tags"), Some(json!({"enabled": true})))
            .await
            .expect(200);
        let agency = app.partner_agency_in("Albany Agency", "Albany").await;
        app.api(
            Method::POST,
            &format!("/api/v1/agencies/{agency}/contacts"),
            Some(json!({"first_name": "Ada", "last_name": "Lovelace", "email": "ada@albany.example.com"})),
        )
        .await
        .expect(201);
        assert_eq!(app.invitation_of(&agency).await["status"], "sent");
        let control = app.sandbox.control();
        let company = control.find_record(ObjectKind::Companies, "name", "Albany Agency").unwrap();
        let note = eventually("the invitation note", || async {
            control.notes_of(ObjectKind::Companies, &company.id).into_iter().next()
        })
        .await;
        let text = &note.properties["hs_note_body"];
        assert!(text.contains("invitation sent") && text.contains("tpl-default") && text.contains("ada@albany.example.com"), "{text}");
        // Agency outbound is off, yet the linked company carries its tags.
        eventually("the company is tagged invited", || async {
            let record = control.record(ObjectKind::Companies, &company.id)?;
            (record.properties.get("turris_tags").map(String::as_str) == Some("invited")).then_some(())
        })
        .await;
        app.settle().await;
        assert_eq!(control.notes_of(ObjectKind::Companies, &company.id).len(), 1, "one note");
    }
);
