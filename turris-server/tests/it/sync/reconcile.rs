//! Bulk reconciliation: HubSpot companies with agencies (2,500 companies on SQLite; smaller
//! ones on both backends), contacts with agents, a job resumed from its saved page, stopped by
//! the shutdown signal and resumed by another server, run once by two servers sharing a
//! database, HubSpot failures retried, and the list of reconciliations.

use std::time::Duration;

use turris_core::ids::{AgencyId, AgentId, HubSpotId, OrganizationId};
use turris_core::record::{Agency, AgencyDraft, Agent, AgentDraft, Npn};
use turris_core::store::{LinkKind, TurrisRef};
use turris_hubspot_sandbox::{Fault, ObjectKind};
use turris_server::config::Config;
use turris_server::delivery::settings::Schedule;
use turris_server::sync::reconcile::KIND;

use super::*;

const R: &str = "/api/v1/integrations/hubspot/reconciliations";

/// Short waits for the tests: a 200 ms poll for lapsed leases, 50 ms between page retries.
fn quick(config: &mut Config) {
    config.reconcile.poll_interval = Duration::from_millis(200);
    config.reconcile.retry_schedule = Schedule(vec![Duration::from_millis(50); 3]);
}

/// Connected with the agency mapping saved, but no webhooks and inbound sync off, so only the
/// reconciliation creates agencies; contacts have the custom properties `npn` and `agent_type`. Every fifth company is a `VENDOR` (out of scope); the
/// others are `PARTNER`s with NPN `10000 + i`. Returns the company ids in creation order.
async fn app_with_companies(
    backend: Backend,
    count: usize,
    tweak: impl FnOnce(&mut Config),
) -> (TestApp, Vec<String>) {
    let app = TestApp::spawn_with(backend, tweak).await;
    let control = app.sandbox.control();
    create_agency_properties(&control);
    for (name, label) in [("npn", "Agent NPN"), ("agent_type", "Agent type")] {
        control
            .create_property(
                ObjectKind::Contacts,
                json!({"name": name, "label": label, "type": "string", "fieldType": "text"}),
            )
            .unwrap();
    }
    app.connect_hubspot().await.expect(200);
    app.set_mapping(agency_mapping()).await;
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

async fn linked_agent(app: &TestApp, contact: &str) -> Option<AgentId> {
    let link = app
        .state
        .db()
        .link_by_hubspot(
            &org(app),
            LinkKind::Agent,
            &HubSpotId::parse(contact).unwrap(),
        )
        .await
        .unwrap()?;
    match link.turris {
        TurrisRef::Agent(id) => Some(id),
        other => panic!("a contact linked to {other:?}"),
    }
}

/// Waits until the job is no longer running, read through `base`'s API.
async fn finished_at(app: &TestApp, base: &str, id: &str) -> Value {
    eventually("the reconciliation to finish", || async {
        let job = app
            .http
            .get(format!("{base}{R}/{id}"))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        (job["status"] != "running").then_some(job)
    })
    .await
}

async fn finished(app: &TestApp, id: &str) -> Value {
    finished_at(app, &app.base, id).await
}

async fn start(app: &TestApp, body: Value) -> String {
    app.api(Method::POST, R, Some(body)).await.expect(202).body["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Calls to HubSpot's list endpoint (`GET /crm/v3/objects/{object}`) so far.
fn list_calls(app: &TestApp) -> u64 {
    app.sandbox
        .control()
        .stats()
        .calls
        .iter()
        .filter(|(k, _)| k.starts_with("GET /crm/v3/objects/") && k.matches('/').count() == 4)
        .map(|(_, n)| n)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciling_2500_companies_pairs_by_npn_and_creates_the_unmatched_agencies() {
    let (app, companies) = app_with_companies(Backend::Sqlite, 2_500, |_| {}).await;
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

    // A second pass (the object defaults to agencies) finds every in-scope company linked.
    let again = start(&app, json!({})).await;
    let job = finished(&app, &again).await;
    assert_eq!(job["object"], "agencies", "{job}");
    assert_eq!(job["progress"]["already_linked"], 2_000, "{job}");
    assert_eq!(
        (&job["progress"]["paired"], &job["progress"]["created"]),
        (&json!(0), &json!(0)),
        "{job}"
    );
    app.finish().await;
}

async fn unlinked_agencies_become_hubspot_companies_of_the_identifier_type_when_asked(
    backend: Backend,
) {
    let (app, companies) = app_with_companies(backend, 150, quick).await;
    agency_with_npn_of(&app, 0).await;
    // 120 agencies no company matches (NPNs from 20000): more than one page of agencies.
    for k in 0..120 {
        agency_with_npn_of(&app, 10_000 + k).await;
    }
    let id = start(
        &app,
        json!({"object": "agencies", "create_missing_in_hubspot": true}),
    )
    .await;
    let job = finished(&app, &id).await;

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
    // One batch create per page of agencies (99 + 21 unlinked), never one call per record.
    let stats = control.stats();
    assert_eq!(
        stats.calls_to("POST", "/crm/v3/objects/companies/batch/upsert"),
        2
    );
    assert_eq!(stats.calls_to("POST", "/crm/v3/objects/companies"), 0);
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
both_databases!(backend: unlinked_agencies_become_hubspot_companies_of_the_identifier_type_when_asked);

async fn a_reconciliation_interrupted_by_a_restart_resumes_from_its_saved_page(backend: Backend) {
    let (app, companies) = app_with_companies(backend, 500, quick).await;
    // What a server stopped after 2 pages left behind: the cursor of page 3, no lease.
    let saved = json!({
        "options": {"create_missing_in_turris": true},
        "after": companies[200],
        "pages": 2,
        "seen": 200,
        "paired": 0,
        "created": 160,
        "already_linked": 0,
        "skipped": {"out_of_scope": 40}
    });
    let job = app
        .state
        .db()
        .create_job(&org(&app), KIND, &saved, chrono::Utc::now())
        .await
        .unwrap();

    // The worker claims running jobs whose lease is free.
    let done = finished(&app, &job.id.to_string()).await;
    assert_eq!(done["status"], "completed", "{done}");
    let p = &done["progress"];
    assert_eq!(p["pages"], 5, "{done}");
    assert_eq!(p["seen"], 500, "{done}");
    assert_eq!(p["created"], 400, "{done}");
    assert_eq!(p["skipped"], json!({"out_of_scope": 100}), "{done}");
    // Only the pages after the cursor were read: the first 200 companies stay unlinked.
    assert!(linked_agency(&app, &companies[0]).await.is_none());
    assert!(linked_agency(&app, &companies[199]).await.is_none());
    assert!(linked_agency(&app, &companies[200]).await.is_some());
    assert!(linked_agency(&app, &companies[499]).await.is_none());
    assert!(linked_agency(&app, &companies[498]).await.is_some());
    app.finish().await;
}
both_databases!(backend: a_reconciliation_interrupted_by_a_restart_resumes_from_its_saved_page);

async fn a_job_stops_at_shutdown_and_another_server_on_the_database_finishes_it(backend: Backend) {
    let (app, companies) = app_with_companies(backend, 300, quick).await;
    // Slow HubSpot, so the shutdown lands while the job runs.
    app.sandbox
        .control()
        .set_latency(Duration::from_millis(400));
    let id = start(&app, json!({"create_missing_in_turris": true})).await;
    eventually("the first page to be saved", || async {
        let job = app.get(&format!("{R}/{id}")).await.expect(200).body;
        (job["progress"]["pages"].as_u64() >= Some(1)).then_some(())
    })
    .await;
    app.shutdown().await;

    // Stopped cleanly: still running (to be resumed), not failed, and its lease released.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM jobs WHERE status = 'running' AND lease_id IS NULL")
            .await,
        1
    );
    let agencies_at_stop = app.count("SELECT COUNT(*) FROM agencies").await;
    assert!(agencies_at_stop < 240, "{agencies_at_stop}");

    app.sandbox.control().set_latency(Duration::ZERO);
    let second = app.replica().await;
    let done = finished_at(&app, &second.base, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["progress"]["seen"], 300, "{done}");
    // Every PARTNER company has exactly one agency, linked: nothing was created twice.
    assert_eq!(app.count("SELECT COUNT(*) FROM agencies").await, 240);
    assert_eq!(app.count("SELECT COUNT(*) FROM links").await, 240);
    for company in [&companies[0], &companies[298]] {
        let link = second
            .state
            .db()
            .link_by_hubspot(
                &org(&app),
                LinkKind::Agency,
                &HubSpotId::parse(company).unwrap(),
            )
            .await
            .unwrap();
        assert!(link.is_some(), "company {company} is linked");
    }
    second.stop().await;
}
both_databases!(backend: a_job_stops_at_shutdown_and_another_server_on_the_database_finishes_it);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_database_run_a_job_once() {
    if crate::support::skip_postgres() {
        return;
    }
    let (app, _companies) = app_with_companies(Backend::Postgres, 300, quick).await;
    let second = app.replica().await;
    app.sandbox.control().set_latency(Duration::from_millis(30));
    let before = list_calls(&app);
    // A job neither server started: both workers race to claim it.
    let job = app
        .state
        .db()
        .create_job(
            &org(&app),
            KIND,
            &json!({"options": {"create_missing_in_turris": true}}),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    app.state.reconcile_wake().notify_one();
    second.state.reconcile_wake().notify_one();

    let done = finished(&app, &job.id.to_string()).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["progress"]["pages"], 3, "{done}");
    assert_eq!(done["progress"]["created"], 240, "{done}");
    assert_eq!(
        list_calls(&app) - before,
        3,
        "each page was read by one server, once"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM agencies").await, 240);
    second.stop().await;
    app.finish().await;
}

async fn hubspot_failures_are_retried_with_backoff_and_fail_the_job_when_they_last(
    backend: Backend,
) {
    let (app, _companies) = app_with_companies(backend, 150, quick).await;
    let control = app.sandbox.control();
    let list = || {
        Fault::new("/crm/v3/objects/companies")
            .method("GET")
            .status(500)
    };
    control.inject_fault(list().times(2));
    let id = start(&app, json!({"create_missing_in_turris": true})).await;
    let job = finished(&app, &id).await;
    assert_eq!(job["status"], "completed", "{job}");
    let p = &job["progress"];
    assert_eq!(p["retries"], 2, "{job}");
    assert!(
        p["last_error"].as_str().unwrap().contains("500"),
        "the failure is recorded: {job}"
    );
    assert_eq!(p["created"], 120, "{job}");
    assert!(p.get("error").is_none(), "{job}");

    // A failure that outlasts the 3 retries fails the job, saying why.
    control.inject_fault(list().times(100));
    let before = list_calls(&app);
    let id = start(&app, json!({})).await;
    let job = finished(&app, &id).await;
    control.clear_faults();
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["progress"]["retries"], 3, "{job}");
    assert_eq!(list_calls(&app) - before, 4, "one try and 3 retries");
    assert!(
        job["progress"]["error"]
            .as_str()
            .unwrap()
            .contains("HubSpot answered 500"),
        "{job}"
    );
    app.finish().await;
}
both_databases!(backend: hubspot_failures_are_retried_with_backoff_and_fail_the_job_when_they_last);

/// Contacts are agents when `agent_type` is `AGENT`; `npn` is a custom contact property.
async fn app_with_agent_mapping(backend: Backend) -> TestApp {
    let (app, _) = app_with_companies(backend, 0, quick).await;
    let mut mapping = agency_mapping();
    mapping["agent"] = json!({
        "identifier": {"mode": "apply_filter", "property": "agent_type", "operator": "equals", "value": "AGENT"},
        "first_name": "firstname",
        "last_name": "lastname",
        "email": "email",
        "npn": "npn"
    });
    app.set_mapping(mapping).await;
    app
}

async fn insert_agent(app: &TestApp, id: &str, draft: AgentDraft) -> AgentId {
    let agent = Agent {
        id: AgentId::parse(id).unwrap(),
        data: draft,
    };
    app.state
        .db()
        .insert_agent(&org(app), &agent)
        .await
        .unwrap();
    agent.id
}

async fn contacts_pair_with_agents_and_the_unmatched_are_created_on_both_sides(backend: Backend) {
    let app = app_with_agent_mapping(backend).await;
    let by_npn = insert_agent(
        &app,
        "by-npn",
        AgentDraft {
            npn: Some(Npn::parse("111").unwrap()),
            ..AgentDraft::named("Someone", "Else")
        },
    )
    .await;
    let by_name = insert_agent(
        &app,
        "by-name",
        AgentDraft {
            email: Some("ada@example.com".into()),
            ..AgentDraft::named("Ada", "Lovelace")
        },
    )
    .await;
    let lonely = insert_agent(
        &app,
        "lonely",
        AgentDraft {
            npn: Some(Npn::parse("333").unwrap()),
            email: Some("alan@example.com".into()),
            ..AgentDraft::named("Alan", "Turing")
        },
    )
    .await;
    let control = app.sandbox.control();
    let contact = |pairs: &[(&str, &str)]| {
        control
            .create_record(ObjectKind::Contacts, pairs.iter().copied())
            .unwrap()
            .id
    };
    let npn_contact = contact(&[
        ("agent_type", "AGENT"),
        ("firstname", "Sam"),
        ("lastname", "Other"),
        ("npn", "111"),
    ]);
    let name_contact = contact(&[
        ("agent_type", "AGENT"),
        ("firstname", "ADA"),
        ("lastname", "Lovelace"),
        ("email", "Ada@Example.com"),
    ]);
    let new_contact = contact(&[
        ("agent_type", "AGENT"),
        ("firstname", "Grace"),
        ("lastname", "Hopper"),
        ("email", "grace@example.com"),
    ]);
    let customer = contact(&[
        ("agent_type", "CUSTOMER"),
        ("firstname", "Grace"),
        ("lastname", "Hopper"),
        ("email", "grace.customer@example.com"),
    ]);
    contact(&[("agent_type", "AGENT"), ("firstname", "No last name")]);

    let started = app
        .api(
            Method::POST,
            R,
            Some(json!({
                "object": "contacts",
                "create_missing_in_turris": true,
                "create_missing_in_hubspot": true
            })),
        )
        .await
        .expect(202)
        .body;
    assert_eq!(started["object"], "agents");
    let job = finished(&app, started["id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "completed", "{job}");
    let p = &job["progress"];
    assert_eq!(p["seen"], 5, "{job}");
    assert_eq!(p["paired"], 2, "{job}");
    assert_eq!(p["created"], 1, "{job}");
    assert_eq!(p["created_in_hubspot"], 1, "{job}");
    assert_eq!(p["phase"], "agents", "{job}");
    assert_eq!(
        p["skipped"],
        json!({"out_of_scope": 1, "missing_required_field": 1}),
        "{job}"
    );
    assert_eq!(linked_agent(&app, &npn_contact).await, Some(by_npn));
    assert_eq!(linked_agent(&app, &name_contact).await, Some(by_name));
    let grace = linked_agent(&app, &new_contact).await.expect("grace");
    let grace = app
        .state
        .db()
        .get_agent(&org(&app), &grace)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (grace.data.first_name.as_str(), grace.data.email.as_deref()),
        ("Grace", Some("grace@example.com"))
    );
    assert_eq!(linked_agent(&app, &customer).await, None);
    // The unlinked agent became a contact that matches the agent filter.
    let created = control
        .find_record(ObjectKind::Contacts, "npn", "333")
        .expect("a contact for Alan");
    assert_eq!(created.properties["agent_type"], "AGENT");
    assert_eq!(created.properties["firstname"], "Alan");
    assert_eq!(created.properties["email"], "alan@example.com");
    assert_eq!(linked_agent(&app, &created.id).await, Some(lonely));
    assert_eq!(app.count("SELECT COUNT(*) FROM agents").await, 4);

    // A second pass finds the four agent contacts linked and creates nothing.
    let again = start(
        &app,
        json!({"object": "agents", "create_missing_in_turris": true}),
    )
    .await;
    let job = finished(&app, &again).await;
    let p = &job["progress"];
    assert_eq!(p["already_linked"], 4, "{job}");
    assert_eq!(
        (&p["paired"], &p["created"]),
        (&json!(0), &json!(0)),
        "{job}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM agents").await, 4);
    app.finish().await;
}
both_databases!(backend: contacts_pair_with_agents_and_the_unmatched_are_created_on_both_sides);

async fn a_reconciliation_needs_a_connection_a_known_object_and_none_running(backend: Backend) {
    // The worker claims jobs only at start and when this process starts one.
    let app = TestApp::spawn_with(backend, |c| {
        c.reconcile.poll_interval = Duration::from_secs(3600);
    })
    .await;
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
    assert_eq!(app.count("SELECT COUNT(*) FROM jobs").await, 0);
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
    // Contacts are reconciled apart from companies: one of each may run.
    start(&app, json!({"object": "agents"})).await;
    app.get(&format!("{R}/{}", uuid::Uuid::now_v7()))
        .await
        .expect(404);
    app.finish().await;
}
both_databases!(backend: a_reconciliation_needs_a_connection_a_known_object_and_none_running);

async fn reconciliations_are_listed_newest_first_in_cursor_pages(backend: Backend) {
    let (app, _) = app_with_companies(backend, 0, quick).await;
    let mut ids = Vec::new();
    for object in ["agencies", "agents", "agencies"] {
        let id = start(&app, json!({"object": object})).await;
        finished(&app, &id).await;
        ids.push(id);
    }
    let first = app.get(&format!("{R}?limit=2")).await.expect(200).body;
    let listed: Vec<&str> = first["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [ids[2].as_str(), ids[1].as_str()], "{first}");
    assert_eq!(first["entries"][1]["object"], "agents");
    assert_eq!(first["entries"][0]["status"], "completed");
    assert!(
        first["entries"][0]["progress"].get("after").is_none(),
        "cursors stay internal: {first}"
    );
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = app
        .get(&format!("{R}?limit=2&cursor={cursor}"))
        .await
        .expect(200)
        .body;
    assert_eq!(second["entries"].as_array().unwrap().len(), 1, "{second}");
    assert_eq!(second["entries"][0]["id"], ids[0].as_str());
    assert!(second["next_cursor"].is_null(), "{second}");

    app.get(&format!("{R}?cursor=garbage"))
        .await
        .expect_error(400, "invalid_cursor");
    // Another organization sees none of them.
    let other = app.organization("other-org", true).await;
    let theirs = app
        .call(Method::GET, R, Some(&other), None)
        .await
        .expect(200)
        .body;
    assert_eq!(theirs["entries"], json!([]), "{theirs}");
    let one = app
        .call(Method::GET, &format!("{R}/{}", ids[0]), Some(&other), None)
        .await;
    assert_eq!(one.status.as_u16(), 404);
    app.finish().await;
}
both_databases!(backend: reconciliations_are_listed_newest_first_in_cursor_pages);
