//! `/api/v1/integrations`: cards, OAuth connect and callback, private app, reconnect, delete,
//! properties, mapping, sync matrix, invitations, activity and webhook status.

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use turris_core::activity::{ActivityKind, NewActivity, Outcome};
use turris_core::ids::OrganizationId;
use turris_core::integration::WebhookStatus;
use turris_core::invitation::INVITATIONS_LOCKED_EXPLANATION;
use turris_core::property::ObjectType;
use turris_hubspot_sandbox::ObjectKind;

use crate::support::app::TestApp;

const H: &str = "/api/v1/integrations/hubspot";

fn mapping() -> Value {
    json!({
        "agency": {
            "identifier": {"mode": "apply_filter", "property": "type", "operator": "equals", "value": "PARTNER"},
            "name": "name",
            "state_code": "state",
            "city": "city"
        },
        "agent": {
            "identifier": {"mode": "sync_all"},
            "first_name": "firstname",
            "last_name": "lastname",
            "email": "email"
        }
    })
}

async fn connected_with_mapping(app: &TestApp) {
    app.connect_hubspot().await.expect(200);
    app.set_mapping(mapping()).await;
}

async fn agency_inbound_on(app: &TestApp) {
    connected_with_mapping(app).await;
    app.set_sync(json!({"agency": {"inbound": true}})).await;
}

fn org(app: &TestApp) -> OrganizationId {
    OrganizationId::parse(&app.org).unwrap()
}

api_test!(
    async fn the_hubspot_card_starts_not_connected_with_a_connect_action(app) {
        let cards = app.get("/api/v1/integrations").await.expect(200);
        let card = &cards.body["integrations"][0];
        assert_eq!(card["provider"], "hubspot");
        assert_eq!(card["status"], "not_connected");
        assert_eq!(card["action"], "connect");
        assert_eq!(
            card["description"],
            "Sync your agency relationships, agency contacts, and agents between Turris and HubSpot."
        );
        let view = app.get(H).await.expect(200);
        assert_eq!(view.body["agency_identifier_configured"], false);
        assert_eq!(
            view.body["mapping_warning"],
            "Configure the Agency Identifier to enable HubSpot → Turris sync."
        );
        assert_eq!(view.body["invitations_locked"], INVITATIONS_LOCKED_EXPLANATION);
        let tooltips: Vec<(String, String)> = view.body["sync_prerequisites"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["path"].as_str().unwrap().to_owned(), d["message"].as_str().unwrap().to_owned()))
            .collect();
        assert!(tooltips.contains(&("agency.inbound".into(), "agency identifier is not configured".into())), "{tooltips:?}");
        assert!(tooltips.contains(&("agents.inbound".into(), "agent last name is not mapped".into())), "{tooltips:?}");
        assert!(!tooltips.iter().any(|(p, _)| p.ends_with(".outbound")), "outbound needs nothing");
    }
);

api_test!(
    async fn the_management_view_clears_tooltips_once_prerequisites_are_met(app) {
        agency_inbound_on(app).await;
        let view = app.get(H).await.expect(200);
        assert!(view.body["invitations_locked"].is_null());
        let paths: Vec<&str> = view.body["sync_prerequisites"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["path"].as_str().unwrap())
            .collect();
        assert!(!paths.contains(&"agency.inbound"), "{paths:?}");
        assert!(!paths.contains(&"agents.inbound"), "the agent mapping is complete: {paths:?}");
    }
);

api_test!(
    async fn connecting_through_oauth_stores_the_portal_and_records_the_activity(app) {
        let started = app.api(Method::POST, &format!("{H}/connect"), None).await.expect(200);
        let url = started.body["authorize_url"].as_str().unwrap();
        assert!(url.starts_with(&format!("{}/oauth/authorize?", app.sandbox.base_url())), "{url}");
        assert!(url.contains("state="));
        let connected = app.connect_hubspot().await.expect(200);
        assert_eq!(connected.body["status"], "connected");
        assert_eq!(connected.body["portal_id"], app.sandbox.portal_id());
        let card = app.get("/api/v1/integrations").await.expect(200);
        assert_eq!(card.body["integrations"][0]["status"], "connected");
        assert_eq!(card.body["integrations"][0]["action"], "manage");
        let view = app.get(H).await.expect(200);
        assert_eq!(view.body["auth"], "oauth");
        assert_eq!(view.body["portal_id"], app.sandbox.portal_id());
        // The user who started the flow (the state remembers them) is who connected.
        let by = view.body["connected_by"].as_str().expect("who connected");
        assert!(by.starts_with("Test User <"), "{by}");
        let activity = app.get(&format!("{H}/activity")).await.expect(200);
        assert_eq!(activity.body["entries"][0]["title"], "Connect HubSpot");
        assert_eq!(activity.body["entries"][0]["status"], "success");
    }
);

api_test!(
    async fn connecting_again_while_connected_is_a_409(app) {
        app.connect_hubspot().await.expect(200);
        app.api(Method::POST, &format!("{H}/connect"), None)
            .await
            .expect_error(409, "already_connected");
        let body = json!({"portal_id": app.sandbox.portal_id(), "token": app.sandbox.private_app_token()});
        app.api(Method::POST, &format!("{H}/private-app"), Some(body))
            .await
            .expect_error(409, "already_connected");
    }
);

api_test!(
    async fn a_reused_state_is_refused_with_a_clear_error(app) {
        let (code, state) = app.authorize(&format!("{H}/connect")).await;
        app.callback(&code, &state).await.expect(200);
        let again = app.callback(&code, &state).await.expect_error(400, "state_already_used");
        assert!(again.body["message"].as_str().unwrap().contains("already completed"));
    }
);

api_test!(
    async fn an_unknown_state_is_refused_with_a_clear_error(app) {
        app.callback("any-code", "made-up-state")
            .await
            .expect_error(400, "invalid_state");
        let missing = app
            .call(Method::GET, &format!("{H}/callback?code=x"), None, None)
            .await
            .expect_error(422, "validation_failed");
        assert_eq!(missing.paths(), ["state"]);
        let card = app.get("/api/v1/integrations").await.expect(200);
        assert_eq!(card.body["integrations"][0]["status"], "not_connected");
    }
);

api_test!(
    async fn an_expired_state_is_refused_with_a_clear_error(app) {
        let users = app
            .admin(Method::GET, &format!("/api/v1/admin/organizations/{}/users", app.org), None)
            .await
            .expect(200);
        let user: turris_server::store::UserId =
            users.body[0]["id"].as_str().unwrap().parse().unwrap();
        let issued = app
            .state
            .db()
            .create_oauth_state(&org(app), user, Utc::now() - Duration::minutes(11))
            .await
            .unwrap();
        let expired = app
            .callback("any-code", issued.state.expose())
            .await
            .expect_error(400, "state_expired");
        assert!(expired.body["message"].as_str().unwrap().contains("10 minutes"));
    }
);

api_test!(
    async fn a_declined_approval_consumes_the_state_and_connects_nothing(app) {
        let (_, state) = app.authorize(&format!("{H}/connect")).await;
        let url = format!("{H}/callback?state={state}&error=access_denied");
        app.call(Method::GET, &url, None, None)
            .await
            .expect_error(400, "authorization_declined");
        let card = app.get("/api/v1/integrations").await.expect(200);
        assert_eq!(card.body["integrations"][0]["status"], "not_connected");
    }
);

api_test!(
    async fn a_private_app_connects_after_hubspot_confirms_its_portal(app) {
        let token = app.sandbox.private_app_token();
        let wrong = app
            .api(Method::POST, &format!("{H}/private-app"), Some(json!({"portal_id": 1, "token": token})))
            .await
            .expect_error(422, "validation_failed");
        assert_eq!(wrong.paths(), ["portal_id"]);
        let refused = app
            .api(
                Method::POST,
                &format!("{H}/private-app"),
                Some(json!({"portal_id": app.sandbox.portal_id(), "token": "pat-not-a-real-token"})),
            )
            .await
            .expect_error(422, "validation_failed");
        assert_eq!(refused.paths(), ["token"]);
        let ok = app
            .api(
                Method::POST,
                &format!("{H}/private-app"),
                Some(json!({"portal_id": app.sandbox.portal_id(), "token": token})),
            )
            .await
            .expect(200);
        assert_eq!(ok.body["status"], "connected");
        let view = app.get(H).await.expect(200).body;
        assert_eq!(view["auth"], "private_app");
        let by = view["connected_by"].as_str().expect("who connected");
        assert!(by.starts_with("Test User <") && by.ends_with("@example.com>"), "{by}");
        // Reconnect with a new token keeps the portal.
        app.api(Method::POST, &format!("{H}/private-app/reconnect"), Some(json!({"token": token})))
            .await
            .expect(200);
        app.api(Method::POST, &format!("{H}/private-app/reconnect"), Some(json!({"token": "pat-wrong"})))
            .await
            .expect_error(422, "validation_failed");
    }
);

api_test!(
    async fn reconnecting_replaces_only_the_tokens(app) {
        app.api(Method::POST, &format!("{H}/reconnect"), None)
            .await
            .expect_error(409, "not_connected");
        agency_inbound_on(app).await;
        let (code, state) = app.authorize(&format!("{H}/reconnect")).await;
        app.callback(&code, &state).await.expect(200);
        let mapping = app.get(&format!("{H}/mapping")).await.expect(200);
        assert_eq!(mapping.body["agency"]["state_code"], "state");
        let sync = app.get(&format!("{H}/sync")).await.expect(200);
        assert_eq!(sync.body["agency"]["inbound"], true);
        assert_eq!(app.get(H).await.expect(200).body["status"], "connected");
    }
);

api_test!(
    async fn deleting_the_integration_removes_settings_and_reminds_to_remove_the_app(app) {
        app.api(Method::DELETE, H, None).await.expect_error(409, "not_connected");
        agency_inbound_on(app).await;
        let revokes = || app.sandbox.control().stats().calls_to("POST", "/oauth/v3/token/revoke");
        assert_eq!(revokes(), 0);
        let deleted = app.api(Method::DELETE, H, None).await.expect(200);
        assert_eq!(deleted.body["status"], "not_connected");
        // The refresh token is revoked at HubSpot (the dated endpoint, counted under v3's).
        assert_eq!(revokes(), 1);
        assert!(
            deleted.body["reminder"]
                .as_str()
                .unwrap()
                .contains("HubSpot → Settings → Integrations → Connected Apps"),
            "{}",
            deleted.text
        );
        let card = app.get("/api/v1/integrations").await.expect(200);
        assert_eq!(card.body["integrations"][0]["status"], "not_connected");
        let mapping = app.get(&format!("{H}/mapping")).await.expect(200);
        assert!(mapping.body["agency"]["identifier"].is_null());
        assert_eq!(app.get(&format!("{H}/sync")).await.expect(200).body["agency"]["inbound"], false);
        // Connecting again works.
        app.connect_hubspot().await.expect(200);
    }
);

api_test!(
    async fn properties_are_cached_until_a_refresh_is_asked_for(app) {
        app.get(&format!("{H}/properties")).await.expect_error(409, "not_connected");
        app.connect_hubspot().await.expect(200);
        let first = app.get(&format!("{H}/properties")).await.expect(200);
        let names = |v: &Value, object: &str| -> Vec<String> {
            v[object]["properties"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect()
        };
        assert!(names(&first.body, "companies").contains(&"name".to_owned()));
        assert!(names(&first.body, "contacts").contains(&"firstname".to_owned()));
        app.sandbox
            .control()
            .create_property(
                ObjectKind::Companies,
                json!({"name": "agency_npn", "label": "Agency NPN", "type": "string", "fieldType": "text"}),
            )
            .unwrap();
        let cached = app.get(&format!("{H}/properties")).await.expect(200);
        assert!(!names(&cached.body, "companies").contains(&"agency_npn".to_owned()));
        let refreshed = app.get(&format!("{H}/properties?refresh=true")).await.expect(200);
        let custom = refreshed.body["companies"]["properties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "agency_npn")
            .expect("the new property after a refresh")
            .clone();
        assert_eq!(custom["hubspot_defined"], false);
    }
);

api_test!(
    async fn an_invalid_mapping_is_a_422_naming_every_field_and_saves_nothing(app) {
        app.connect_hubspot().await.expect(200);
        let bad = json!({
            "agency": {
                "identifier": {"mode": "apply_filter", "property": "type", "operator": "equals"},
                "name": "no_such_property",
                "npn": ""
            },
            "agent": {"identifier": {"mode": "apply_filter", "property": "numberofemployees", "operator": "is_populated"}}
        });
        let answer = app
            .api(Method::PUT, &format!("{H}/mapping"), Some(bad))
            .await
            .expect_error(422, "validation_failed");
        let paths = answer.paths();
        for expected in ["agency.identifier.value", "agency.name", "agency.npn", "agent.identifier.property"] {
            assert!(paths.contains(&expected.to_owned()), "{expected} in {paths:?}");
        }
        let saved = app.get(&format!("{H}/mapping")).await.expect(200);
        assert!(saved.body["agency"]["identifier"].is_null());
        app.set_mapping(mapping()).await;
        let saved = app.get(&format!("{H}/mapping")).await.expect(200);
        assert_eq!(saved.body["agency"]["identifier"]["value"], "PARTNER");
        assert_eq!(app.get(H).await.expect(200).body["agency_identifier_configured"], true);
    }
);

api_test!(
    async fn a_mapping_needs_a_connection(app) {
        app.api(Method::PUT, &format!("{H}/mapping"), Some(mapping()))
            .await
            .expect_error(409, "not_connected");
    }
);

api_test!(
    async fn sync_toggles_name_each_missing_prerequisite_and_can_always_be_turned_off(app) {
        app.connect_hubspot().await.expect(200);
        let refused = app
            .api(
                Method::PUT,
                &format!("{H}/sync"),
                Some(json!({"agency": {"inbound": true}, "agents": {"inbound": true, "outbound": true}})),
            )
            .await
            .expect_error(422, "validation_failed");
        let details: Vec<(String, String)> = refused.body["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["path"].as_str().unwrap().to_owned(), d["message"].as_str().unwrap().to_owned()))
            .collect();
        assert!(details.contains(&("agency.inbound".into(), "agency identifier is not configured".into())), "{details:?}");
        assert!(details.contains(&("agents.inbound".into(), "agent first name is not mapped".into())), "{details:?}");
        assert_eq!(app.get(&format!("{H}/sync")).await.expect(200).body["agents"]["outbound"], false);
        // Outbound has no prerequisites.
        app.set_sync(json!({"agents": {"outbound": true}})).await;
        app.set_mapping(mapping()).await;
        let on = app.set_sync(json!({"agency": {"inbound": true, "outbound": true}, "agents": {"inbound": true}})).await;
        assert_eq!(on.body["agency"]["inbound"], true);
        let off = app.set_sync(json!({})).await;
        assert_eq!(off.body["agency"]["inbound"], false);
        app.api(Method::PUT, &format!("{H}/sync"), Some(json!({"agency": {"sideways": true}})))
            .await
            .expect_error(422, "invalid_body");
    }
);

api_test!(
    async fn invitation_settings_are_locked_with_the_seed_explanation_while_agency_inbound_is_off(app) {
        connected_with_mapping(app).await;
        let locked = app
            .api(Method::PUT, &format!("{H}/invitations"), Some(json!({"mode": "invite_all"})))
            .await
            .expect_error(409, "invitations_locked");
        assert_eq!(locked.body["message"], INVITATIONS_LOCKED_EXPLANATION);
        assert_eq!(app.get(&format!("{H}/invitations")).await.expect(200).body["mode"], "do_not_invite");
    }
);

api_test!(
    async fn invitation_settings_are_validated_against_properties_and_templates(app) {
        agency_inbound_on(app).await;
        let settings = json!({
            "mode": "apply_filter",
            "condition": {"property": "type", "operator": "equals", "value": "PARTNER"},
            "rules": [{"condition": {"property": "state", "operator": "equals", "value": "NY"}, "template": "gold"}],
            "default_template": "standard"
        });
        let refused = app
            .api(Method::PUT, &format!("{H}/invitations"), Some(settings.clone()))
            .await
            .expect_error(422, "validation_failed");
        assert_eq!(refused.paths(), ["rules[0].template", "default_template"]);
        for id in ["gold", "standard"] {
            app.api(Method::POST, "/api/v1/contract-templates", Some(json!({"id": id, "name": id})))
                .await
                .expect(201);
        }
        let saved = app
            .api(Method::PUT, &format!("{H}/invitations"), Some(settings.clone()))
            .await
            .expect(200);
        assert_eq!(saved.body, settings);
        assert_eq!(app.get(&format!("{H}/invitations")).await.expect(200).body, settings);
        let half = app
            .api(Method::PUT, &format!("{H}/invitations"), Some(json!({"mode": "apply_filter", "rules": [{"condition": {}}]})))
            .await
            .expect_error(422, "validation_failed");
        let paths = half.paths();
        assert!(paths.contains(&"condition.property".to_owned()), "{paths:?}");
        assert!(paths.contains(&"rules[0].template".to_owned()), "{paths:?}");
    }
);

api_test!(
    async fn recent_activity_pages_newest_first_with_a_cursor(app) {
        let now = Utc::now();
        for i in 0..5 {
            let entry = NewActivity::new(ActivityKind::CreateCompany, Outcome::Success, now - Duration::seconds(10 - i));
            app.state.db().append_activity(&org(app), &entry).await.unwrap();
        }
        let first = app.get(&format!("{H}/activity?limit=2")).await.expect(200);
        let entries = first.body["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        assert!(entries[0]["at"].as_str().unwrap() > entries[1]["at"].as_str().unwrap());
        assert_eq!(entries[0]["title"], "Create company in HubSpot");
        let mut seen = 2;
        let mut cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
        loop {
            let page = app.get(&format!("{H}/activity?limit=2&cursor={cursor}")).await.expect(200);
            seen += page.body["entries"].as_array().unwrap().len();
            match page.body["next_cursor"].as_str() {
                Some(next) => cursor = next.to_owned(),
                None => break,
            }
        }
        assert_eq!(seen, 5);
        app.get(&format!("{H}/activity?cursor=garbage")).await.expect_error(400, "invalid_cursor");
    }
);

api_test!(
    async fn recent_activity_filters_by_outcome_in_pages(app) {
        let now = Utc::now();
        for i in 0..7 {
            let outcome = if i % 3 == 0 { Outcome::Failure } else { Outcome::Success };
            let entry = NewActivity::new(ActivityKind::CreateCompany, outcome, now - Duration::seconds(10 - i));
            app.state.db().append_activity(&org(app), &entry).await.unwrap();
        }
        let mut statuses = Vec::new();
        let mut path = format!("{H}/activity?limit=2&status=failure");
        loop {
            let page = app.get(&path).await.expect(200);
            for entry in page.body["entries"].as_array().unwrap() {
                statuses.push(entry["status"].as_str().unwrap().to_owned());
            }
            match page.body["next_cursor"].as_str() {
                Some(next) => path = format!("{H}/activity?limit=2&status=failure&cursor={next}"),
                None => break,
            }
        }
        assert_eq!(statuses, ["failure", "failure", "failure"], "entries 0, 3 and 6 failed");
        let all = app.get(&format!("{H}/activity?limit=100")).await.expect(200);
        assert_eq!(all.body["entries"].as_array().unwrap().len(), 7);
        app.get(&format!("{H}/activity?status=broken")).await.expect_error(400, "invalid_query");
    }
);

/// Records the company `name` subscription live, and answers its row of the webhook status.
async fn name_recorded_live(app: &TestApp) -> Value {
    app.state
        .db()
        .set_subscription_status(&org(app), ObjectType::Company, "name", WebhookStatus::Live)
        .await
        .unwrap();
    let status = app.get(&format!("{H}/webhook-status")).await.expect(200);
    status.body["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["property"] == "name")
        .unwrap()
        .clone()
}

api_test!(
    // This server has no developer API key: its OAuth app is a project-based one, whose
    // subscriptions only the project's files declare.
    async fn webhook_status_lists_mapped_properties_to_declare_until_live(app) {
        assert_eq!(
            app.get(&format!("{H}/webhook-status")).await.expect(200).body["properties"],
            json!([])
        );
        agency_inbound_on(app).await;
        let status = app.get(&format!("{H}/webhook-status")).await.expect(200);
        let properties = status.body["properties"].as_array().unwrap();
        assert!(properties.iter().all(|p| p["status"] == "managed_in_hubspot"
            && p["object"] == "company"
            && p["message"].as_str().unwrap().contains("turris-server hubspot-project")));
        let names: Vec<&str> = properties.iter().map(|p| p["property"].as_str().unwrap()).collect();
        for expected in ["type", "name", "city", "state"] {
            assert!(names.contains(&expected), "{expected} in {names:?}");
        }
        let name = name_recorded_live(app).await;
        assert_eq!(name["status"], "live");
        assert!(name["message"].is_null());
    }
);

api_test!(
    async fn a_private_app_connection_says_its_webhooks_are_managed_in_hubspot_and_how(app) {
        app.connect_private_app().await;
        app.set_mapping(mapping()).await;
        app.set_sync(json!({"agency": {"inbound": true}})).await;
        let status = app.get(&format!("{H}/webhook-status")).await.expect(200);
        let properties = status.body["properties"].as_array().unwrap();
        assert!(!properties.is_empty());
        let target = format!("{}/hooks/hubspot", app.state.config().public_base_url);
        for property in properties {
            assert_eq!(property["status"], "managed_in_hubspot", "{property}");
            let message = property["message"].as_str().unwrap();
            assert!(message.contains("Webhooks tab"), "{message}");
            assert!(message.contains(&target), "{message}");
            let subscription = format!("company.propertyChange for {}", property["property"].as_str().unwrap());
            assert!(message.contains(&subscription), "{message}");
        }
        // A subscription recorded live shows live.
        let name = name_recorded_live(app).await;
        assert_eq!(name["status"], "live");
        assert_eq!(name["message"], Value::Null);
    }
);

api_test!(
    async fn a_mapping_that_would_break_an_enabled_inbound_toggle_is_refused(app) {
        connected_with_mapping(app).await;
        app.set_sync(json!({"agents": {"inbound": true}})).await;
        let mut without_agent = mapping();
        without_agent["agent"] = Value::Null;
        let refused = app
            .api(Method::PUT, &format!("{H}/mapping"), Some(without_agent))
            .await
            .expect_error(422, "validation_failed");
        assert_eq!(
            refused.paths(),
            ["agent.identifier", "agent.first_name", "agent.last_name"]
        );
        assert_eq!(
            app.get(&format!("{H}/mapping")).await.expect(200).body["agent"]["first_name"],
            "firstname"
        );
        // Turning the toggle off first is always allowed, then the mapping saves.
        app.set_sync(json!({})).await;
        let mut without_agent = mapping();
        without_agent["agent"] = Value::Null;
        app.set_mapping(without_agent).await;
    }
);

api_test!(
    async fn a_mistyped_nested_field_is_named_by_its_full_path(app) {
        app.connect_hubspot().await.expect(200);
        let answer = app
            .api(Method::PUT, &format!("{H}/mapping"), Some(json!({"agency": {"nmae": "name"}})))
            .await
            .expect_error(422, "invalid_body");
        assert_eq!(answer.paths(), ["agency.nmae"], "{}", answer.text);
        let answer = app
            .api(Method::PUT, &format!("{H}/sync"), Some(json!({"agents": {"inbound": "yes"}})))
            .await
            .expect_error(422, "invalid_body");
        assert_eq!(answer.paths(), ["agents.inbound"], "{}", answer.text);
    }
);

api_test!(
    async fn a_revoked_app_flips_the_card_to_error_until_a_reconnect(app) {
        app.connect_hubspot().await.expect(200);
        app.sandbox.control().uninstall_app();
        app.get(&format!("{H}/properties?refresh=true"))
            .await
            .expect_error(502, "hubspot_connection_lost");
        let card = app.get("/api/v1/integrations").await.expect(200);
        assert_eq!(card.body["integrations"][0]["status"], "error");
        assert_eq!(card.body["integrations"][0]["action"], "manage");
        let activity = app.get(&format!("{H}/activity")).await.expect(200);
        assert_eq!(activity.body["entries"][0]["title"], "Refresh HubSpot access token");
        assert_eq!(activity.body["entries"][0]["status"], "failure");
        // Reconnecting runs the OAuth flow again (which reinstalls the app).
        let (code, state) = app.authorize(&format!("{H}/reconnect")).await;
        app.callback(&code, &state).await.expect(200);
        assert_eq!(app.get(H).await.expect(200).body["status"], "connected");
        app.get(&format!("{H}/properties?refresh=true")).await.expect(200);
    }
);

mod without_oauth {
    use reqwest::Method;
    use turris_server::store::Backend;

    use crate::support::app::TestApp;

    async fn a_server_without_app_credentials_offers_only_the_private_app(backend: Backend) {
        let app = TestApp::spawn_with(backend, |config| {
            config.hubspot.client_id = None;
            config.hubspot.client_secret = None;
        })
        .await;
        app.api(Method::POST, "/api/v1/integrations/hubspot/connect", None)
            .await
            .expect_error(503, "oauth_not_configured");
        app.connect_private_app().await;
        app.get("/api/v1/integrations/hubspot/properties")
            .await
            .expect(200);
        app.finish().await;
    }

    both_databases!(backend: a_server_without_app_credentials_offers_only_the_private_app);
}
