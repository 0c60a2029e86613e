//! Bulk reconciliation of HubSpot companies with agencies: 2,500 companies in the sandbox,
//! paired by NPN, the unmatched created, and a job interrupted by a restart resumed.

use turris_core::ids::{AgencyId, HubSpotId, OrganizationId};
use turris_core::record::{Agency, AgencyDraft, Npn};
use turris_core::store::{LinkKind, TurrisRef};
use turris_hubspot::sandbox::ObjectKind;
use turris_server::sync::reconcile::KIND;

use super::*;

const R: &str = "/api/v1/integrations/hubspot/reconciliations";

/// Connected with the agency mapping saved, but no webhooks and inbound sync off, so only the
/// reconciliation creates agencies. Every fifth company is a `VENDOR` (out of scope); the
/// others are `PARTNER`s with NPN `10000 + i`. Returns the company ids in creation order.
async fn app_with_companies(count: usize) -> (TestApp, Vec<String>) {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let control = app.sandbox.control();
    for (name, label) in [("npn", "Agency NPN"), ("producer_code", "Producer code")] {
        control
            .create_property(
                ObjectKind::Companies,
                json!({"name": name, "label": label, "type": "string", "fieldType": "text"}),
            )
            .unwrap();
    }
    app.connect_hubspot().await.expect(200);
    app.api(Method::PUT, &format!("{H}/mapping"), Some(agency_mapping()))
        .await
        .expect(200);
    let ids = (0..count)
        .map(|i| {
            let kind = if i % 5 == 4 { "VENDOR" } else { "PARTNER" };
            let npn = (10_000 + i).to_string();
            let name = format!("Company {i}");
            control
                .create_record(
                    ObjectKind::Companies,
                    [
                        ("type", kind),
                        ("name", name.as_str()),
                        ("npn", npn.as_str()),
                    ],
                )
                .unwrap()
                .id
        })
        .collect();
    (app, ids)
}

fn org(app: &TestApp) -> OrganizationId {
    OrganizationId::parse(&app.org).unwrap()
}

/// Inserts an agency with the NPN of company `i`.
async fn agency_with_npn_of(app: &TestApp, i: usize) -> AgencyId {
    let agency = Agency {
        id: AgencyId::parse(&format!("existing-{i}")).unwrap(),
        data: AgencyDraft {
            npn: Some(Npn::parse(&(10_000 + i).to_string()).unwrap()),
            ..AgencyDraft::named(&format!("Existing {i}"))
        },
    };
    app.state
        .db()
        .insert_agency(&org(app), &agency)
        .await
        .unwrap();
    agency.id
}

async fn linked_agency(app: &TestApp, company: &str) -> Option<AgencyId> {
    let link = app
        .state
        .db()
        .link_by_hubspot(
            &org(app),
            LinkKind::Agency,
            &HubSpotId::parse(company).unwrap(),
        )
        .await
        .unwrap()?;
    match link.turris {
        TurrisRef::Agency(id) => Some(id),
        other => panic!("a company linked to {other:?}"),
    }
}

async fn finished(app: &TestApp, id: &str) -> Value {
    eventually("the reconciliation to finish", || async {
        let job = app.get(&format!("{R}/{id}")).await.expect(200).body;
        (job["status"] != "running").then_some(job)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciling_2500_companies_pairs_by_npn_and_creates_the_unmatched_agencies() {
    let (app, companies) = app_with_companies(2_500).await;
    // 300 PARTNER companies have an agency already (indices 0..375 hold 300 PARTNERs), and one
    // agency matches a VENDOR, which is out of scope and stays unpaired.
    let mut existing = Vec::new();
    for i in (0..375).filter(|i| i % 5 != 4) {
        existing.push((i, agency_with_npn_of(&app, i).await));
    }
    agency_with_npn_of(&app, 4).await;

    let started = app
        .api(
            Method::POST,
            R,
            Some(json!({"object": "agencies", "create_missing_in_turris": true})),
        )
        .await
        .expect(202)
        .body;
    assert_eq!(started["object"], "agencies");
    let id = started["id"].as_str().unwrap().to_owned();
    let job = finished(&app, &id).await;

    assert_eq!(job["status"], "completed", "{job}");
    let p = &job["progress"];
    assert_eq!(p["seen"], 2_500, "{job}");
    assert_eq!(p["pages"], 25, "{job}");
    assert_eq!(p["paired"], 300, "{job}");
    assert_eq!(p["created"], 1_700, "{job}");
    assert_eq!(p["already_linked"], 0, "{job}");
    assert_eq!(p["skipped"], json!({"out_of_scope": 500}), "{job}");
    for (i, agency) in &existing {
        assert_eq!(
            linked_agency(&app, &companies[*i]).await.as_ref(),
            Some(agency)
        );
    }
    assert!(linked_agency(&app, &companies[4]).await.is_none());
    let created = linked_agency(&app, &companies[2_000]).await.unwrap();
    assert!(created.as_str() != "existing-2000");

    // A second pass finds every in-scope company linked already.
    let again = app
        .api(Method::POST, R, Some(json!({"object": "agencies"})))
        .await
        .expect(202)
        .body;
    let job = finished(&app, again["id"].as_str().unwrap()).await;
    assert_eq!(job["progress"]["already_linked"], 2_000, "{job}");
    assert_eq!(
        (&job["progress"]["paired"], &job["progress"]["created"]),
        (&json!(0), &json!(0)),
        "{job}"
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlinked_agencies_become_hubspot_companies_of_the_identifier_type_when_asked() {
    let (app, companies) = app_with_companies(150).await;
    agency_with_npn_of(&app, 0).await;
    // 120 agencies no company matches (NPNs from 20000): more than one page of agencies.
    for k in 0..120 {
        agency_with_npn_of(&app, 10_000 + k).await;
    }
    let started = app
        .api(
            Method::POST,
            R,
            Some(json!({"object": "agencies", "create_missing_in_hubspot": true})),
        )
        .await
        .expect(202)
        .body;
    let job = finished(&app, started["id"].as_str().unwrap()).await;

    assert_eq!(job["status"], "completed", "{job}");
    let p = &job["progress"];
    assert_eq!(p["paired"], 1, "{job}");
    assert_eq!(p["created"], 0, "{job}");
    assert_eq!(p["created_in_hubspot"], 120, "{job}");
    assert_eq!(p["failed_in_hubspot"], 0, "{job}");
    assert_eq!(p["phase"], "agencies", "{job}");
    // Companies: 2 pages; agencies (121): 2 pages.
    assert_eq!(p["pages"], 4, "{job}");
    assert_eq!(
        p["skipped"],
        json!({"out_of_scope": 30, "unmatched": 119}),
        "{job}"
    );
    let control = app.sandbox.control();
    assert_eq!(control.count(ObjectKind::Companies), 270);
    let created = control
        .find_record(ObjectKind::Companies, "npn", "20000")
        .expect("a company for the agency with NPN 20000");
    assert_eq!(created.properties["type"], "PARTNER");
    assert_eq!(created.properties["name"], "Existing 10000");
    assert_eq!(
        linked_agency(&app, &created.id).await.unwrap().as_str(),
        "existing-10000"
    );
    assert!(linked_agency(&app, &companies[0]).await.is_some());
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconciliation_interrupted_by_a_restart_resumes_from_its_saved_page() {
    let (app, companies) = app_with_companies(2_500).await;
    // What a server stopped after 12 pages left behind: the cursor of page 13.
    let saved = json!({
        "options": {"create_missing_in_turris": true},
        "after": companies[1_200],
        "pages": 12,
        "seen": 1_200,
        "paired": 0,
        "created": 960,
        "already_linked": 0,
        "skipped": {"out_of_scope": 240}
    });
    let job = app
        .state
        .db()
        .create_job(&org(&app), KIND, &saved, chrono::Utc::now())
        .await
        .unwrap();

    // The restarted server's worker resumes every running reconciliation.
    let (_trigger, shutdown) = turris_server::workers::shutdown_channel();
    turris_server::sync::reconcile::run(app.state.clone(), shutdown).await;

    let done = finished(&app, &job.id.to_string()).await;
    assert_eq!(done["status"], "completed", "{done}");
    let p = &done["progress"];
    assert_eq!(p["pages"], 25, "{done}");
    assert_eq!(p["seen"], 2_500, "{done}");
    assert_eq!(p["created"], 2_000, "{done}");
    assert_eq!(p["skipped"], json!({"out_of_scope": 500}), "{done}");
    // Only the pages after the cursor were read: the first 1,200 companies stay unlinked.
    assert!(linked_agency(&app, &companies[0]).await.is_none());
    assert!(linked_agency(&app, &companies[1_199]).await.is_none());
    assert!(linked_agency(&app, &companies[1_200]).await.is_some());
    assert!(linked_agency(&app, &companies[2_499]).await.is_none());
    assert!(linked_agency(&app, &companies[2_498]).await.is_some());
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconciliation_needs_a_connection_a_known_object_and_none_running() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let body = json!({"object": "agencies"});
    app.api(Method::POST, R, Some(body.clone()))
        .await
        .expect_error(409, "not_connected");
    app.connect_hubspot().await.expect(200);
    let unknown = app
        .api(Method::POST, R, Some(json!({"object": "deals"})))
        .await
        .expect(422);
    assert_eq!(unknown.paths(), ["object"]);
    // A job left running (resumed by the worker only at start) blocks a second one.
    let running = app
        .state
        .db()
        .create_job(&org(&app), KIND, &json!({}), chrono::Utc::now())
        .await
        .unwrap();
    app.api(Method::POST, R, Some(body))
        .await
        .expect_error(409, "reconciliation_running");
    let shown = app
        .get(&format!("{R}/{}", running.id))
        .await
        .expect(200)
        .body;
    assert_eq!(shown["status"], "running");
    app.get(&format!("{R}/{}", uuid::Uuid::now_v7()))
        .await
        .expect(404);
    app.finish().await;
}
