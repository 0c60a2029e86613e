//! Sessions, sign-in, CSRF and permissions of the console over plain HTTP, on SQLite and on
//! PostgreSQL (the session store runs on both).

use chrono::Utc;
use reqwest::{Method, StatusCode};
use turris_server::console::session;

use super::{Console, read_only_token};

api_test!(
    async fn a_pasted_token_opens_a_session_with_an_http_only_lax_cookie(app) {
        let mut console = Console::new(app);
        let page = console.sign_in(&app.token).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        let cookie = page.set_cookie.unwrap();
        assert!(cookie.starts_with("turris_session="), "{cookie}");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(!cookie.contains("Secure"), "the test server's public URL is http: {cookie}");
        assert!(!cookie.contains(&app.token), "the cookie is a session id, not the token");
        let integrations = console.get("/console/integrations").await;
        assert_eq!(integrations.status, StatusCode::OK);
        assert!(integrations.html.contains("HubSpot"), "{}", integrations.html);
    }
);

api_test!(
    async fn the_sign_in_form_is_refused_without_its_own_csrf_token(app) {
        let console = Console::new(app);
        let forged = console
            .request(Method::POST, "/console/login", Some(vec![("token", app.token.as_str())]))
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert!(forged.set_cookie.is_none(), "no session from a forged sign-in");
        let mut with_cookie = Console::new(app);
        with_cookie.cookie = Some("turris_login_csrf=abc".into());
        let forged = with_cookie
            .request(Method::POST, "/console/login", Some(vec![("token", app.token.as_str()), ("_csrf", "abd")]))
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
    }
);

api_test!(
    async fn a_wrong_token_does_not_sign_in_and_pages_send_strangers_to_sign_in(app) {
        let mut console = Console::new(app);
        let page = console.sign_in("trs_not-a-real-token").await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
        assert!(!page.set_cookie.unwrap_or_default().contains("turris_session"), "no session");
        assert!(page.html.contains("not valid"), "{}", page.html);
        let stranger = console.get("/console/webhooks").await;
        assert_eq!(stranger.status, StatusCode::SEE_OTHER);
        assert_eq!(stranger.location.as_deref(), Some("/console/login"));
    }
);

api_test!(
    async fn a_sign_in_link_works_once(app) {
        let token = turris_server::crypto::ApiToken::from_presented(app.token.clone());
        let link = turris_server::console::login::login_link_for(
            app.state.database(),
            &app.base,
            &token,
        )
        .await
        .unwrap();
        let path = link.strip_prefix(&app.base).unwrap().to_owned();
        let mut console = Console::new(app);
        // Opening it (as a link preview would) asks to confirm and spends nothing.
        let preview = console.get(&path).await;
        assert_eq!(preview.status, StatusCode::OK);
        assert!(preview.set_cookie.as_deref().is_some_and(|c| !c.starts_with("turris_session=")));
        let opened = console.get(&path).await;
        assert_eq!(opened.status, StatusCode::OK);
        assert!(opened.html.contains("one-time sign-in link"), "{}", opened.html);
        let code = link.split("code=").nth(1).unwrap();
        // The confirmation needs the page's own form token.
        let forged = console
            .request(Method::POST, "/console/login/link", Some(vec![("code", code)]))
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let confirm = |page: &crate::console::Page| {
            let cookie = page.set_cookie.clone().unwrap();
            (page.csrf(), cookie.split(';').next().unwrap().to_owned())
        };
        let (csrf, cookie) = confirm(&opened);
        console.cookie = Some(cookie);
        let first = console
            .request(Method::POST, "/console/login/link", Some(vec![("code", code), ("_csrf", &csrf)]))
            .await;
        assert_eq!(first.status, StatusCode::SEE_OTHER);
        assert!(first.set_cookie.unwrap().starts_with("turris_session="));
        let again = console
            .request(Method::POST, "/console/login/link", Some(vec![("code", code), ("_csrf", &csrf)]))
            .await;
        assert_eq!(again.status, StatusCode::UNAUTHORIZED);
        assert!(again.html.contains("already used"), "{}", again.html);
    }
);

api_test!(
    async fn a_form_without_the_csrf_token_is_refused_and_changes_nothing(app) {
        let console = Console::signed_in(app, &app.token).await;
        let fields = [("webhook_type", "producer_agreement_executed"), ("url", "https://hooks.example.com/a")];
        let forged = console
            .request(Method::POST, "/console/webhooks", Some(fields.to_vec()))
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert!(forged.html.contains("CSRF"), "{}", forged.html);
        let mut wrong = fields.to_vec();
        wrong.push(("_csrf", "0000"));
        let forged = console.request(Method::POST, "/console/webhooks", Some(wrong)).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let listed = app.get("/api/v1/webhooks").await.expect(200);
        assert_eq!(listed.body["webhooks"].as_array().unwrap().len(), 0);
        let accepted = console.post("/console/webhooks", "/console/webhooks", &fields).await;
        assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.html);
    }
);

api_test!(
    async fn signing_out_ends_the_session_on_the_server(app) {
        let console = Console::signed_in(app, &app.token).await;
        let out = console.post("/console/integrations", "/console/logout", &[]).await;
        assert_eq!(out.status, StatusCode::SEE_OTHER);
        assert!(out.set_cookie.unwrap().contains("Max-Age=0"));
        // The old cookie, replayed, no longer opens anything.
        let replayed = console.get("/console/integrations").await;
        assert_eq!(replayed.status, StatusCode::SEE_OTHER);
        assert_eq!(replayed.location.as_deref(), Some("/console/login"));
    }
);

api_test!(
    async fn a_session_ends_after_idling_and_a_revoked_token_ends_its_sessions(app) {
        let db = app.state.database();
        let hash = turris_server::crypto::ApiToken::from_presented(app.token.clone()).hash();
        let now = Utc::now();
        let id = session::create(db, &hash, now).await.unwrap();
        assert!(session::load(db, &id, now + chrono::Duration::minutes(29)).await.unwrap().is_some());
        let idle = now + chrono::Duration::minutes(29) + session::IDLE_TIMEOUT + chrono::Duration::seconds(1);
        assert!(session::load(db, &id, idle).await.unwrap().is_none(), "idle too long");
        let other = session::create(db, &hash, now).await.unwrap();
        assert!(session::load(db, &other, now + session::MAX_AGE).await.unwrap().is_none(), "too old");
        // Revoking the API token the session acts as signs it out.
        let console = Console::signed_in(app, &app.token).await;
        let tokens = app.admin(Method::GET, &format!("/api/v1/admin/organizations/{}/tokens", app.org), None).await.expect(200);
        for token in tokens.body.as_array().unwrap() {
            let id = token["id"].as_str().unwrap();
            app.admin(Method::DELETE, &format!("/api/v1/admin/organizations/{}/tokens/{id}", app.org), None).await;
        }
        let page = console.get("/console/integrations").await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
    }
);

api_test!(
    async fn a_read_only_role_is_offered_no_changes_and_forged_posts_get_403(app) {
        let token = read_only_token(app).await;
        let created = app
            .api(Method::POST, "/api/v1/webhooks", Some(serde_json::json!({"webhook_type": "producer_agreement_executed", "url": "https://hooks.example.com/x"})))
            .await
            .expect(201);
        let id = created.body["id"].as_str().unwrap().to_owned();
        let viewer = Console::signed_in(app, &token).await;
        let page = viewer.get("/console/webhooks").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.html.contains("hooks.example.com/x"));
        assert!(!page.html.contains("Add Webhook"), "no Add for a reader");
        assert!(!page.html.contains("/delete"), "no Delete for a reader");
        let cards = viewer.get("/console/integrations").await;
        assert!(cards.html.contains("does not grant integrations:create"), "{}", cards.html);
        let forged = viewer
            .post("/console/webhooks", "/console/webhooks", &[("webhook_type", "producer_agreement_executed"), ("url", "https://hooks.example.com/y")])
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert!(forged.html.contains("webhooks:create"), "{}", forged.html);
        let forged = viewer.post("/console/webhooks", &format!("/console/webhooks/{id}/delete"), &[]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let forged = viewer.post("/console/webhooks", "/console/integrations/hubspot/connect", &[]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let listed = app.get("/api/v1/webhooks").await.expect(200);
        assert_eq!(listed.body["webhooks"].as_array().unwrap().len(), 1, "nothing changed");
    }
);

api_test!(
    async fn a_role_without_records_read_is_not_offered_the_record_views_and_gets_403_there(app) {
        let token = read_only_token(app).await;
        let viewer = Console::signed_in(app, &token).await;
        let webhooks = viewer.get("/console/webhooks").await;
        assert_eq!(webhooks.status, StatusCode::OK);
        assert!(!webhooks.html.contains(">Records</a>"), "no Records entry: {}", webhooks.html);
        // The HubSpot page reads its contract templates as integration settings.
        let hubspot = viewer.get("/console/integrations/hubspot").await;
        assert_eq!(hubspot.status, StatusCode::OK, "{}", hubspot.html);
        for path in [
            "/console/records/agencies",
            "/console/records/agents",
            "/console/records/invitations",
        ] {
            let page = viewer.get(path).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
            assert!(page.html.contains("records:read"), "{path}: {}", page.html);
        }
        let admin = Console::signed_in(app, &app.token).await;
        assert!(admin.get("/console/webhooks").await.html.contains(">Records</a>"));
    }
);

api_test!(
    async fn an_organization_without_a_subscription_sees_become_a_customer(app) {
        let token = app.organization("org-lapsed", false).await;
        let console = Console::signed_in(app, &token).await;
        for path in ["/console/integrations", "/console/webhooks"] {
            let page = console.get(path).await;
            assert_eq!(page.status, StatusCode::OK);
            assert!(page.html.contains("Become a Customer"), "{path}: {}", page.html);
        }
    }
);

mod an_oauth_callback_is_refused_in_a_session_that_did_not_start_it {
    use super::*;
    use crate::support::app::{Backend, TestApp};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_sqlite() {
        let app = TestApp::spawn_public(Backend::Sqlite, |_| {}).await;
        run(&app).await;
        app.finish().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_postgres() {
        if crate::support::skip_postgres() {
            return;
        }
        let app = TestApp::spawn_public(Backend::Postgres, |_| {}).await;
        run(&app).await;
        app.finish().await;
    }

    async fn run(app: &TestApp) {
        let alice = Console::signed_in(app, &app.token).await;
        let started = alice
            .post(
                "/console/integrations",
                "/console/integrations/hubspot/connect",
                &[],
            )
            .await;
        assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.html);
        let authorize = started.location.unwrap();
        let approval = app.http.get(&authorize).send().await.unwrap();
        let back = approval.headers()["location"].to_str().unwrap().to_owned();
        let back = back
            .strip_prefix(&app.base)
            .map(str::to_owned)
            .unwrap_or(back);
        // Another session of the same user, and a browser without any session.
        let other = Console::signed_in(app, &app.token).await;
        assert_eq!(other.get(&back).await.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            Console::new(app).get(&back).await.status,
            StatusCode::BAD_REQUEST
        );
        let card = app.get("/api/v1/integrations").await;
        assert_eq!(card.body["integrations"][0]["status"], "not_connected");
        // The session that started it completes it and lands on the HubSpot page.
        let done = alice.get(&back).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER);
        assert_eq!(
            done.location.as_deref(),
            Some("/console/integrations/hubspot")
        );
        let card = app.get("/api/v1/integrations").await;
        assert_eq!(card.body["integrations"][0]["status"], "connected");
    }
}

api_test!(
    async fn record_views_page_through_agencies_instead_of_loading_them_all(app) {
        for n in 0..30 {
            app.create_agency(serde_json::json!({"name": format!("Agency {n:02}"), "npn": format!("{}", 1000 + n)})).await;
        }
        let console = Console::signed_in(app, &app.token).await;
        let first = console.get("/console/records/agencies").await;
        assert_eq!(first.status, StatusCode::OK);
        assert_eq!(first.html.matches("/console/records/agencies/").count(), 25, "one page of 25");
        assert!(first.html.contains("Not linked"));
        let marker = "id=\"records-next\"";
        assert!(first.html.contains(marker));
        let start = first.html.find("/console/records/agencies?cursor=").unwrap();
        let next = first.html[start..].split('"').next().unwrap().to_owned();
        let second = console.get(&next).await;
        assert_eq!(second.html.matches("/console/records/agencies/").count(), 5);
        let id = {
            let s = second.html.find("/console/records/agencies/0").or_else(|| second.html.find("/console/records/agencies/")).unwrap();
            second.html[s..].split('"').next().unwrap().to_owned()
        };
        let agency = console.get(&id).await;
        assert_eq!(agency.status, StatusCode::OK);
        assert!(agency.html.contains("Not linked to a HubSpot company"));
        for path in ["/console/records/agents", "/console/records/invitations"] {
            assert_eq!(console.get(path).await.status, StatusCode::OK, "{path}");
        }
    }
);

#[tokio::test]
async fn token_create_with_login_link_prints_a_link_that_signs_in_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let key = turris_server::crypto::EncryptionKey::generate()
        .unwrap()
        .to_hex();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_turris-server"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("TURRIS_") {
            command.env_remove(name);
        }
    }
    let out = command
        .args([
            "token",
            "create",
            "--organization",
            "acme",
            "--user",
            "ops@acme.example",
            "--login-link",
        ])
        .args([
            "--database-url",
            &db,
            "--encryption-key",
            &key,
            "--public-base-url",
            "https://turris.example",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].starts_with("trs_") || !lines[0].is_empty());
    let link = lines[1];
    assert!(
        link.starts_with("https://turris.example/console/login/link?code="),
        "{link}"
    );
    let code = link.split("code=").nth(1).unwrap();
    let database = turris_server::store::Database::connect(&db).await.unwrap();
    let now = chrono::Utc::now();
    let hash = session::consume_login_link(&database, code, now)
        .await
        .unwrap();
    assert_eq!(
        hash,
        Some(turris_server::crypto::ApiToken::from_presented(lines[0]).hash())
    );
    assert_eq!(
        session::consume_login_link(&database, code, now)
            .await
            .unwrap(),
        None,
        "once"
    );
}

api_test!(
    async fn the_private_app_form_shows_hubspot_refusals_at_the_field_then_connects(app) {
        let console = Console::signed_in(app, &app.token).await;
        const PAGE: &str = "/console/integrations/hubspot";
        const FORM: &str = "/console/integrations/hubspot/private-app";
        let page = console.get(PAGE).await;
        assert!(page.html.contains("id=\"private-app-form\""));
        let bad_portal = console.post(PAGE, FORM, &[("portal_id", "abc"), ("token", "x")]).await;
        assert_eq!(bad_portal.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad_portal.html.contains("digits only"), "{}", bad_portal.html);
        let portal = app.sandbox.portal_id().to_string();
        let refused = console
            .post(PAGE, FORM, &[("portal_id", &portal), ("token", "pat-not-a-real-token")])
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.html.contains("HubSpot refused this token"), "{}", refused.html);
        assert!(refused.html.contains("aria-invalid=\"true\""));
        assert!(!refused.html.contains("pat-not-a-real-token"), "the token is never echoed");
        let token = app.sandbox.private_app_token();
        let connected = console.post(PAGE, FORM, &[("portal_id", &portal), ("token", &token)]).await;
        assert_eq!(connected.status, StatusCode::SEE_OTHER, "{}", connected.html);
        let page = console.get(PAGE).await;
        assert!(page.html.contains("HubSpot is connected"), "the banner");
        assert!(page.html.contains("Private-app token"));
        // Deleting says what is lost and sends the person back to the cards, Not Connected.
        assert!(page.html.contains("What is lost"));
        let deleted = console.post(PAGE, "/console/integrations/hubspot/delete", &[]).await;
        assert_eq!(deleted.location.as_deref(), Some("/console/integrations"));
        let cards = console.get("/console/integrations").await;
        assert!(cards.html.contains("Connected Apps"), "the reminder to remove the app in HubSpot");
        assert!(cards.html.contains("Not Connected"));
    }
);

mod reconnecting_through_oauth_returns_to_the_hubspot_page {
    use super::*;
    use crate::support::app::{Backend, TestApp};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_sqlite() {
        let app = TestApp::spawn_public(Backend::Sqlite, |_| {}).await;
        let console = Console::signed_in(&app, &app.token).await;
        app.connect_hubspot().await.expect(200);
        app.api(
            Method::PUT,
            "/api/v1/integrations/hubspot/sync",
            Some(serde_json::json!({"agency": {"outbound": true}})),
        )
        .await
        .expect(200);
        let started = console
            .post(
                "/console/integrations/hubspot",
                "/console/integrations/hubspot/reconnect",
                &[],
            )
            .await;
        assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.html);
        let approval = app
            .http
            .get(started.location.unwrap())
            .send()
            .await
            .unwrap();
        let back = approval.headers()["location"].to_str().unwrap().to_owned();
        let back = back.strip_prefix(&app.base).unwrap().to_owned();
        let done = console.get(&back).await;
        assert_eq!(
            done.location.as_deref(),
            Some("/console/integrations/hubspot")
        );
        let page = console.get("/console/integrations/hubspot").await;
        assert!(page.html.contains("HubSpot is connected"), "{}", page.html);
        let matrix = app
            .get("/api/v1/integrations/hubspot/sync")
            .await
            .expect(200);
        assert_eq!(
            matrix.body["agency"]["outbound"], true,
            "a reconnect keeps the settings"
        );
        app.finish().await;
    }
}

api_test!(
    async fn console_secrets_never_reach_the_logs_or_the_database_in_clear(app) {
        let console = Console::signed_in(app, &app.token).await;
        let session = console.cookie.clone().unwrap();
        let session_id = session.split('=').nth(1).unwrap().to_owned();
        let page = console.get("/console/webhooks").await;
        let csrf = page.csrf();
        let created = console
            .post("/console/webhooks", "/console/webhooks", &[("webhook_type", "producer_agreement_executed"), ("url", "https://hooks.example.com/logs")])
            .await;
        let secret_start = created.html.find("id=\"webhook-secret\">").unwrap() + "id=\"webhook-secret\">".len();
        let secret = created.html[secret_start..secret_start + 64].to_owned();
        let logs = crate::support::app::captured_logs();
        for (what, value) in [("session id", &session_id), ("csrf token", &csrf), ("api token", &app.token), ("webhook secret", &secret)] {
            assert!(!logs.contains(value.as_str()), "the {what} was logged");
        }
        let stored = app.db.raw_contents().await;
        assert!(!stored.contains(&session_id), "session ids are stored hashed");
    }
);

api_test!(
    async fn recent_activity_filters_by_status_and_pages_with_a_cursor(app) {
        app.connect_hubspot().await.expect(200);
        let console = Console::signed_in(app, &app.token).await;
        let all = console.get("/console/integrations/hubspot").await;
        assert!(all.html.contains("Connect HubSpot"), "the connect is logged");
        assert!(all.html.contains("History is kept for 30 days"));
        let failures = console.get("/console/integrations/hubspot?activity_status=failure").await;
        assert_eq!(failures.status, StatusCode::OK);
        assert!(failures.html.contains("No failure entries"), "{}", failures.html);
        let bad = console.get("/console/integrations/hubspot?activity_cursor=garbage").await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "the API's cursor check");
    }
);

api_test!(
    async fn delivery_history_is_paged_and_logs_of_another_webhooks_event_are_404(app) {
        let a = app
            .api(Method::POST, "/api/v1/webhooks", Some(serde_json::json!({"webhook_type": "entity_compliance_data_synchronized", "url": "https://hooks.example.com/a"})))
            .await
            .expect(201);
        let b = app
            .api(Method::POST, "/api/v1/webhooks", Some(serde_json::json!({"webhook_type": "producer_agreement_executed", "url": "https://hooks.example.com/b"})))
            .await
            .expect(201);
        let agency = app.create_agency(serde_json::json!({"name": "Paged Agency"})).await;
        for _ in 0..27 {
            app.create_nipr_sync(serde_json::json!({"entity_type": "agency", "entity_id": agency.body["id"], "kind": "fetch", "outcome": "success"})).await;
        }
        let (a, b) = (a.body["id"].as_str().unwrap(), b.body["id"].as_str().unwrap());
        let console = Console::signed_in(app, &app.token).await;
        let first = console.get(&format!("/console/webhooks/{a}")).await;
        assert_eq!(first.status, StatusCode::OK);
        assert_eq!(first.html.matches("<tr data-event=").count(), 25);
        let start = first.html.find("?cursor=").expect("an Older events link");
        let cursor = first.html[start..].split('"').next().unwrap().to_owned();
        let second = console.get(&format!("/console/webhooks/{a}{cursor}")).await;
        assert_eq!(second.html.matches("<tr data-event=").count(), 2);
        let empty = console.get(&format!("/console/webhooks/{b}")).await;
        assert!(empty.html.contains("No events found for this webhook."));
        let event = {
            let s = first.html.find("data-event=\"").unwrap() + "data-event=\"".len();
            first.html[s..].split('"').next().unwrap().to_owned()
        };
        let crossed = console.get(&format!("/console/webhooks/{b}/events/{event}/logs")).await;
        assert_eq!(crossed.status, StatusCode::NOT_FOUND);
        assert!(crossed.html.contains("Not found"));
    }
);

api_test!(
    async fn a_declined_oauth_approval_returns_to_the_hubspot_page_with_an_error_banner(app) {
        let console = Console::signed_in(app, &app.token).await;
        let started = console
            .post("/console/integrations", "/console/integrations/hubspot/connect", &[])
            .await;
        let authorize = url::Url::parse(&started.location.unwrap()).unwrap();
        let state = authorize
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        let mut back = url::Url::parse("http://x/api/v1/integrations/hubspot/callback").unwrap();
        back.query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_description", "the user declined")
            .append_pair("state", &state);
        let path = format!("{}?{}", back.path(), back.query().unwrap());
        let returned = console.get(&path).await;
        assert_eq!(returned.location.as_deref(), Some("/console/integrations/hubspot"));
        let page = console.get("/console/integrations/hubspot").await;
        assert!(page.html.contains("banner-error"), "{}", page.html);
        assert!(page.html.contains("HubSpot was not connected"), "{}", page.html);
        assert!(page.html.contains("the user declined"));
        assert!(page.html.contains("Not Connected"));
    }
);

api_test!(
    async fn an_invitation_needing_attention_gets_its_contract_from_the_hubspot_page(app) {
        app.connect_hubspot().await.expect(200);
        let agency = app.create_agency(serde_json::json!({"name": "Acme"})).await;
        let agency = agency.body["id"].as_str().unwrap().to_owned();
        app.api(
            Method::POST,
            "/api/v1/contract-templates",
            Some(serde_json::json!({"id": "standard", "name": "Standard"})),
        )
        .await
        .expect(201);
        let now = chrono::Utc::now();
        let invitation = turris_server::store::Invitation {
            id: turris_server::store::InvitationId::new(),
            agency_id: turris_core::ids::AgencyId::parse(&agency).unwrap(),
            contract_template_id: None,
            status: turris_server::store::InvitationStatus::NeedsAttention,
            sent_to: None,
            created_at: now,
            updated_at: now,
        };
        let org = turris_core::ids::OrganizationId::parse(&app.org).unwrap();
        app.state.db().create_invitation(&org, &invitation).await.unwrap();
        let console = Console::signed_in(app, &app.token).await;
        let page = console.get("/console/integrations/hubspot").await;
        let id = invitation.id.to_string();
        assert!(page.html.contains(&id), "the entry is listed: {}", page.html);
        let action = format!("/console/integrations/hubspot/invitations/{id}/contract");
        let done = console
            .post("/console/integrations/hubspot", &action, &[("template", "standard")])
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        let after = app.get(&format!("/api/v1/invitations/{id}")).await.expect(200);
        assert_eq!(after.body["contract_template_id"], "standard");
        assert_ne!(after.body["status"], "needs_attention");
        let page = console.get("/console/integrations/hubspot").await;
        assert!(!page.html.contains(&action), "handled entries leave the list");
    }
);
