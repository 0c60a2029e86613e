//! The same field edited on both sides within moments: the last write wins on both sides,
//! whichever order HubSpot's webhooks, our push and its echo arrive in (#17).

use std::time::Duration;

use turris_core::ids::OrganizationId;
use turris_hubspot::webhooks::WebhookEvent;
use turris_hubspot_sandbox::{Fault, ObjectKind};

use super::*;

impl TestApp {
    /// An agency made in Turris with agency sync on both ways, its company in HubSpot and its
    /// creation's echo settled: `(agency id, company id)`.
    async fn pushed_agency(&self) -> (String, String) {
        let pushed = self.pushed_agency_in(true, "Erie").await;
        self.settle().await;
        pushed
    }

    /// Waits until the agency's city and its company's city are both `city`, with nothing
    /// left to push or process.
    async fn converged_on(&self, agency: &str, company: &str, city: &str) {
        let control = self.sandbox.control();
        eventually(&format!("both sides to hold {city}"), || async {
            self.settle().await;
            let pending = self.count("SELECT COUNT(*) FROM outbound_pushes").await;
            let turris = self
                .get(&format!("/api/v1/agencies/{agency}"))
                .await
                .expect(200);
            let hubspot = control.record(ObjectKind::Companies, company).unwrap();
            let held = (
                turris.body["city"].as_str(),
                hubspot.properties["city"].as_str(),
            );
            (pending == 0 && held == (Some(city), city)).then_some(())
        })
        .await;
    }
}

sync_test!(
    async fn a_hubspot_edit_made_while_our_older_value_is_on_its_way_is_applied_and_written_back(app) {
        let (agency, company) = app.pushed_agency().await;
        let control = app.sandbox.control();
        // Every HubSpot call takes a while, so our push of the Turris edit lands after the user's
        // edit of the same field in HubSpot, made just after the Turris edit.
        control.set_latency(Duration::from_millis(800));
        app.api(Method::PUT, &format!("/api/v1/agencies/{agency}"), Some(json!({"name": "Lakeside", "city": "Pittsburgh"})))
            .await
            .expect(200);
        control.update_record(ObjectKind::Companies, &company, [("city", "Buffalo")]).unwrap();
        app.converged_on(&agency, &company, "Buffalo").await;
        control.set_latency(Duration::ZERO);
        app.settle().await;
        let hubspot = control.record(ObjectKind::Companies, &company).unwrap();
        assert_eq!(hubspot.properties["city"], "Buffalo", "the user's edit, the last write, stays in HubSpot");
    }
);

sync_test!(
    async fn a_hubspot_edit_made_just_before_a_turris_edit_of_the_same_field_loses_to_it(app) {
        let (agency, company) = app.pushed_agency().await;
        let control = app.sandbox.control();
        // The user's edit comes first; its webhook is processed while our push is on its way.
        control.set_latency(Duration::from_millis(800));
        control.update_record(ObjectKind::Companies, &company, [("city", "Buffalo")]).unwrap();
        app.api(Method::PUT, &format!("/api/v1/agencies/{agency}"), Some(json!({"name": "Lakeside", "city": "Pittsburgh"})))
            .await
            .expect(200);
        app.converged_on(&agency, &company, "Pittsburgh").await;
        control.set_latency(Duration::ZERO);
        app.settle().await;
        let superseded = app.activity().await.into_iter().any(|a| {
            a["status"] == "skipped" && a["details"]["skip_reason"] == "a newer turris edit of the property wins"
        });
        assert!(superseded, "the user's older edit is skipped, with the reason");
        let turris = app.get(&format!("/api/v1/agencies/{agency}")).await.expect(200);
        assert_eq!(turris.body["city"], "Pittsburgh", "the Turris edit, the last write, stays in Turris");
    }
);

sync_test!(
    async fn a_creation_event_processed_late_leaves_the_fields_turris_edited_since(app) {
        app.agency_outbound_on().await;
        let control = app.sandbox.control();
        let created_at = chrono::Utc::now();
        let company = control
            .create_record(ObjectKind::Companies, [("type", "PARTNER"), ("name", "Harbor"), ("city", "Erie")])
            .unwrap();
        let agency = eventually("the company's agency", || async {
            app.agencies().await.into_iter().find(|a| a["name"] == "Harbor")
        })
        .await;
        let agency = agency["id"].as_str().unwrap().to_owned();
        app.settle().await;
        // HubSpot refuses our updates for a while: the Turris edit stays queued.
        control.inject_fault(Fault::new("/crm/v3/objects/companies/batch/update").status(503).times(1_000));
        app.api(Method::PUT, &format!("/api/v1/agencies/{agency}"), Some(json!({"name": "Harbor", "city": "Pittsburgh"})))
            .await
            .expect(200);
        // The company's creation event comes again, late, as HubSpot's retries can bring it.
        let late: WebhookEvent = serde_json::from_value(json!({
            "eventId": 990_001,
            "portalId": app.sandbox.portal_id(),
            "occurredAt": created_at.timestamp_millis(),
            "subscriptionType": "company.creation",
            "objectId": company.id.parse::<u64>().unwrap(),
            "changeSource": "CRM_UI",
        }))
        .unwrap();
        let org = OrganizationId::parse(&app.org).unwrap();
        app.state.db().persist_inbound_events(&org, &[late], chrono::Utc::now()).await.unwrap();
        turris_server::sync::inbound::wake(&app.state);
        app.settle().await;
        let turris = app.get(&format!("/api/v1/agencies/{agency}")).await.expect(200);
        assert_eq!(turris.body["city"], "Pittsburgh", "HubSpot's value from before the Turris edit does not revert it");
        control.clear_faults();
        app.converged_on(&agency, &company.id, "Pittsburgh").await;
    }
);

sync_test!(
    async fn a_person_setting_a_field_back_to_a_value_we_wrote_earlier_is_an_edit_not_our_echo(app) {
        // Our create wrote city Erie; our update then wrote Pittsburgh.
        let (agency, company) = app.pushed_agency().await;
        app.api(Method::PUT, &format!("/api/v1/agencies/{agency}"), Some(json!({"name": "Lakeside", "city": "Pittsburgh"})))
            .await
            .expect(200);
        app.converged_on(&agency, &company, "Pittsburgh").await;
        // A person in HubSpot sets it back to Erie, a value our ledger still remembers.
        let control = app.sandbox.control();
        control.update_record(ObjectKind::Companies, &company, [("city", "Erie")]).unwrap();
        app.converged_on(&agency, &company, "Erie").await;
    }
);

sync_test!(
    async fn a_push_that_lands_while_a_step_works_through_its_batch_is_seen_by_the_objects_after_it(app) {
        let control = app.sandbox.control();
        // Company A is an agency made in HubSpot; company C one made in Turris (a later id, so
        // a step handles A first).
        let a = control
            .create_record(ObjectKind::Companies, [("type", "PARTNER"), ("name", "Alder"), ("city", "Erie")])
            .unwrap();
        eventually("Alder's agency", || async { app.agencies().await.into_iter().find(|x| x["name"] == "Alder") }).await;
        let (agency, c) = app.pushed_agency().await;
        assert!(a.id.len() == c.len() && a.id < c, "A ({}) comes before C ({c})", a.id);
        // From here events reach the server only as the test persists them, and another
        // replica holds the organization's pushes.
        control.set_webhook_target(None);
        let org = &app.org;
        // C's creation was pushed a while ago (not within the seconds a write takes to land).
        let minute = 60_000_000_000i64;
        app.db.execute(&format!("UPDATE hubspot_writes SET at = at - {minute} WHERE object_id = '{c}'")).await;
        let held = (chrono::Utc::now() + chrono::Duration::seconds(300)).timestamp_nanos_opt().unwrap();
        app.db
            .execute(&format!(
                "INSERT INTO outbound_leases (organization_id, lease_id, expires_at, served_at)
                 VALUES ('{org}', 'elsewhere', {held}, 0)
                 ON CONFLICT (organization_id) DO UPDATE SET lease_id = 'elsewhere', expires_at = {held}"
            ))
            .await;
        let edited = chrono::Utc::now();
        app.api(Method::PUT, &format!("/api/v1/agencies/{agency}"), Some(json!({"name": "Old", "city": "Erie"})))
            .await
            .expect(200);
        // A person renames C in HubSpot after the Turris edit, and edits A.
        control.update_record(ObjectKind::Companies, &c, [("name", "New")]).unwrap();
        control.update_record(ObjectKind::Companies, &a.id, [("city", "Reno")]).unwrap();
        let renamed = chrono::Utc::now();
        // While the step stores A's change, the other replica's push of "Old" to C finishes:
        // its write is in the ledger and its outbox row is gone (after the step read the
        // ledger for its batch).
        let (edited_ns, landed_ns) = (
            edited.timestamp_nanos_opt().unwrap(),
            (renamed + chrono::Duration::seconds(1)).timestamp_nanos_opt().unwrap(),
        );
        let pushed = format!(
            "INSERT INTO hubspot_writes (organization_id, object_id, property, value, at, edited_at)
             VALUES ('{org}', '{c}', 'name', 'Old', {landed_ns}, {edited_ns});
             DELETE FROM outbound_pushes WHERE record_id = '{agency}';"
        );
        let on_a = format!("NEW.entry LIKE '%\"hubspot_id\":\"{}\"%'", a.id);
        if app.db.url.starts_with("sqlite") {
            app.db
                .execute(&format!(
                    "CREATE TRIGGER push_lands AFTER INSERT ON activity WHEN {on_a} BEGIN {pushed} END"
                ))
                .await;
        } else {
            app.db
                .execute(&format!(
                    "CREATE FUNCTION push_lands() RETURNS trigger LANGUAGE plpgsql AS $$
                     BEGIN IF {on_a} THEN {pushed} END IF; RETURN NEW; END $$;
                     CREATE TRIGGER push_lands AFTER INSERT ON activity
                     FOR EACH ROW EXECUTE FUNCTION push_lands();"
                ))
                .await;
        }
        let event = |object: &str, property: &str, value: &str| -> WebhookEvent {
            serde_json::from_value(json!({
                "eventId": 990_100 + object.len() as u64 + property.len() as u64,
                "portalId": app.sandbox.portal_id(),
                "occurredAt": renamed.timestamp_millis(),
                "subscriptionType": "company.propertyChange",
                "objectId": object.parse::<u64>().unwrap(),
                "propertyName": property,
                "propertyValue": value,
                "changeSource": "CRM_UI",
                "sourceId": "userId:1",
            }))
            .unwrap()
        };
        let events = [event(&a.id, "city", "Reno"), event(&c, "name", "New")];
        let org_id = OrganizationId::parse(org).unwrap();
        app.state.db().persist_inbound_events(&org_id, &events, chrono::Utc::now()).await.unwrap();
        turris_server::sync::inbound::wake(&app.state);
        eventually("both events processed", || async { (app.pending_inbound_events().await == 0).then_some(()) }).await;
        let turris = app.get(&format!("/api/v1/agencies/{agency}")).await.expect(200);
        assert_eq!(turris.body["name"], "New", "the person's rename, the last write, is Turris' name");
        let queued = app.count(&format!("SELECT COUNT(*) FROM outbound_pushes WHERE record_id = '{agency}'")).await;
        assert_eq!(queued, 1, "our older name may have replaced the rename in HubSpot: it is written back");
        app.db.execute(&format!("DELETE FROM outbound_leases WHERE organization_id = '{org}'")).await;
        eventually("the rename written back to HubSpot", || async {
            let n = app
                .count(&format!("SELECT COUNT(*) FROM hubspot_writes WHERE object_id = '{c}' AND property = 'name' AND value = 'New'"))
                .await;
            (n > 0).then_some(())
        })
        .await;
        assert_eq!(control.record(ObjectKind::Companies, &c).unwrap().properties["name"], "New");
    }
);

sync_test!(
    async fn a_user_edit_turris_holds_that_our_older_push_overwrote_in_hubspot_is_written_back(app) {
        // Seed 604 of the simulation: a push planned before a user's edit reached Turris landed
        // after that edit in HubSpot, with Turris's older value; Turris holds the edit already.
        let (agency, company) = app.pushed_agency().await;
        let control = app.sandbox.control();
        let org = OrganizationId::parse(&app.org).unwrap();
        let db = app.state.db();
        let user_edit_at = chrono::Utc::now();
        let id = turris_core::ids::AgencyId::parse(&agency).unwrap();
        let mut held = db.get_agency(&org, &id).await.unwrap().unwrap();
        held.data.city = Some("Buffalo".into());
        db.update_agency(&org, &held).await.unwrap();
        // Our older value lands in HubSpot (its webhook would be our echo: none is sent).
        control.set_webhook_target(None);
        control.update_record(ObjectKind::Companies, &company, [("city", "Pittsburgh")]).unwrap();
        control.set_webhook_target(Some(&format!("{}/hooks/hubspot", app.base)));
        let ours = turris_core::planner::RecentWrite {
            object_id: turris_core::ids::HubSpotId::parse(&company).unwrap(),
            property: "city".into(),
            value: Some("Pittsburgh".into()),
            at: chrono::Utc::now(),
            edited_at: user_edit_at - chrono::Duration::seconds(60),
        };
        db.record_hubspot_writes(&org, &[ours]).await.unwrap();
        // Then the user's edit comes in (its webhook delayed, as HubSpot's retries can bring it).
        let edit: WebhookEvent = serde_json::from_value(json!({
            "eventId": 990_002,
            "portalId": app.sandbox.portal_id(),
            "occurredAt": user_edit_at.timestamp_millis(),
            "subscriptionType": "company.propertyChange",
            "objectId": company.parse::<u64>().unwrap(),
            "propertyName": "city",
            "propertyValue": "Buffalo",
            "changeSource": "CRM_UI",
        }))
        .unwrap();
        db.persist_inbound_events(&org, &[edit], chrono::Utc::now()).await.unwrap();
        turris_server::sync::inbound::wake(&app.state);
        app.converged_on(&agency, &company, "Buffalo").await;
        let written_back = app.activity().await.into_iter().any(|a| {
            a["details"]["message"].as_str().is_some_and(|m| m.contains("goes back over our older value"))
        });
        assert!(written_back, "the step says why it pushes an unchanged record");
    }
);
