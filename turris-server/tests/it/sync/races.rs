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
