//! OAuth, private-app tokens and account details.

use std::time::Duration;

use serde_json::Value;
use turris_hubspot_sandbox::Sandbox;

use crate::helpers::{Api, assert_hubspot_error, builder, sandbox};

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn form(client: &reqwest::Client, url: String, fields: &[(&str, &str)]) -> (u16, Value) {
    let resp = client.post(url).form(fields).send().await.expect("sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("json"))
}

/// The token endpoint's answer to exchanging `code`.
async fn exchange_code(
    http: &reqwest::Client,
    sb: &Sandbox,
    redirect: &str,
    code: &str,
) -> (u16, Value) {
    let fields = [
        ("grant_type", "authorization_code"),
        ("client_id", sb.client_id()),
        ("client_secret", sb.client_secret()),
        ("redirect_uri", redirect),
        ("code", code),
    ];
    form(http, sb.token_endpoint(), &fields).await
}

/// The token endpoint's answer to refreshing with `refresh_token`.
async fn refresh_with(http: &reqwest::Client, sb: &Sandbox, refresh_token: &str) -> (u16, Value) {
    let fields = [
        ("grant_type", "refresh_token"),
        ("client_id", sb.client_id()),
        ("client_secret", sb.client_secret()),
        ("refresh_token", refresh_token),
    ];
    form(http, sb.token_endpoint(), &fields).await
}

#[tokio::test]
async fn oauth_round_trip_issues_tokens_that_introspect_refresh_and_die_on_uninstall() {
    let sb = sandbox().await;
    let http = no_redirects();
    let redirect = "http://127.0.0.1:9/callback";

    // Authorize approves at once and redirects with code and state.
    let resp = http
        .get(sb.authorize_endpoint())
        .query(&[
            ("client_id", sb.client_id()),
            ("redirect_uri", redirect),
            ("scope", "oauth crm.objects.companies.read"),
            ("state", "st-123"),
        ])
        .send()
        .await
        .expect("authorize");
    assert_eq!(resp.status().as_u16(), 302);
    let location = resp.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_string();
    let location = url::Url::parse(&location).expect("absolute redirect");
    assert!(location.as_str().starts_with(redirect));
    let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(query["state"], "st-123");
    let code = query["code"].clone();

    // Code → tokens.
    let (status, tokens) = exchange_code(&http, &sb, redirect, &code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "bearer");
    assert_eq!(tokens["expires_in"], 1800);
    let access = tokens["access_token"].as_str().expect("access").to_string();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();

    // The code is single-use.
    let (status, again) = exchange_code(&http, &sb, redirect, &code).await;
    assert_eq!(status, 400);
    assert_eq!(again["status"], "BAD_AUTH_CODE");

    // Introspection names the hub and the app.
    let (status, info) = form(
        &http,
        format!("{}/oauth/v3/token/introspect", sb.base_url()),
        &[
            ("client_id", sb.client_id()),
            ("client_secret", sb.client_secret()),
            ("token", &access),
            ("token_type_hint", "access_token"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(info["active"], true);
    assert_eq!(info["hub_id"], sb.portal_id());
    assert_eq!(info["app_id"], sb.app_id());

    // The access token works.
    let api = Api::with_token(&sb, &access);
    let (status, details) = api.get("/account-info/v3/details").await;
    assert_eq!(status, 200);
    assert_eq!(details["portalId"], sb.portal_id());

    // Refresh gives a new access token (and a refresh token to store).
    let (status, refreshed) = refresh_with(&http, &sb, &refresh).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_ne!(refreshed["access_token"].as_str(), Some(access.as_str()));
    let new_refresh = refreshed["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();

    // Uninstall: refresh answers BAD_REFRESH_TOKEN, the access token stops working.
    sb.control().uninstall_app();
    let (status, dead) = refresh_with(&http, &sb, &new_refresh).await;
    assert_eq!(status, 400);
    assert_eq!(dead["status"], "BAD_REFRESH_TOKEN");
    assert_eq!(dead["error"], "invalid_grant");
    let (status, body) = api.get("/account-info/v3/details").await;
    assert_eq!(status, 401);
    assert_eq!(assert_hubspot_error(&body), "INVALID_AUTHENTICATION");
    sb.shutdown().await;
}

#[tokio::test]
async fn an_expired_access_token_answers_401_expired_authentication() {
    let sb = builder()
        .access_token_ttl(Duration::from_secs(60))
        .start()
        .await
        .expect("start");
    let control = sb.control();
    let tokens = control.issue_tokens(&["oauth"]);
    assert_eq!(tokens.expires_in, 60);
    control.expire_access_tokens();
    let (status, body) = Api::with_token(&sb, &tokens.access_token)
        .get("/crm/v3/objects/contacts")
        .await;
    assert_eq!(status, 401);
    assert_eq!(assert_hubspot_error(&body), "EXPIRED_AUTHENTICATION");
}

#[tokio::test]
async fn the_token_endpoint_refuses_a_wrong_client_secret() {
    let sb = sandbox().await;
    let tokens = sb.control().issue_tokens(&["oauth"]);
    let (status, body) = form(
        &reqwest::Client::new(),
        sb.token_endpoint(),
        &[
            ("grant_type", "refresh_token"),
            ("client_id", sb.client_id()),
            ("client_secret", "wrong"),
            ("refresh_token", &tokens.refresh_token),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["status"], "BAD_CLIENT_SECRET");
}

#[tokio::test]
async fn a_revoked_refresh_token_answers_bad_refresh_token() {
    let sb = sandbox().await;
    let tokens = sb.control().issue_tokens(&["oauth"]);
    let http = reqwest::Client::new();
    let (status, _) = {
        let resp = http
            .post(format!("{}/oauth/v3/token/revoke", sb.base_url()))
            .form(&[
                ("client_id", sb.client_id()),
                ("client_secret", sb.client_secret()),
                ("token", &tokens.refresh_token),
            ])
            .send()
            .await
            .expect("revoke");
        (resp.status().as_u16(), ())
    };
    assert_eq!(status, 204);
    let (status, body) = form(
        &http,
        sb.token_endpoint(),
        &[
            ("grant_type", "refresh_token"),
            ("client_id", sb.client_id()),
            ("client_secret", sb.client_secret()),
            ("refresh_token", &tokens.refresh_token),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["status"], "BAD_REFRESH_TOKEN");
}

#[tokio::test]
async fn a_private_app_token_reads_account_details_with_the_portal_id() {
    let sb = builder()
        .private_app_token("pat-na1-test")
        .portal_id(99_001)
        .start()
        .await
        .expect("start");
    assert_eq!(sb.private_app_token(), "pat-na1-test");
    let (status, body) = Api::new(&sb).get("/account-info/v3/details").await;
    assert_eq!(status, 200);
    assert_eq!(body["portalId"], 99_001);
}

#[tokio::test]
async fn calls_without_a_valid_token_answer_401_invalid_authentication() {
    let sb = sandbox().await;
    let (status, body) = Api::with_token(&sb, "nope")
        .get("/crm/v3/objects/companies")
        .await;
    assert_eq!(status, 401);
    assert_eq!(assert_hubspot_error(&body), "INVALID_AUTHENTICATION");
}

#[tokio::test]
async fn each_portal_sees_only_its_own_records() {
    let sb = builder().extra_portal(5_000).start().await.expect("start");
    let other = sb.control_for(5_000);
    other
        .create_record(
            turris_hubspot_sandbox::ObjectKind::Companies,
            [("name", "Elsewhere")],
        )
        .expect("create");
    let (_, mine) = Api::new(&sb).get("/crm/v3/objects/companies").await;
    assert_eq!(mine["results"].as_array().map(Vec::len), Some(0));
    let token = other.private_app_token().expect("token");
    let (_, theirs) = Api::with_token(&sb, &token)
        .get("/crm/v3/objects/companies")
        .await;
    assert_eq!(theirs["results"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn enforced_scopes_refuse_calls_outside_the_grant_with_403_missing_scopes() {
    let sb = builder().enforce_scopes().start().await.expect("start");
    let tokens = sb
        .control()
        .issue_tokens(&["oauth", "crm.objects.contacts.read"]);
    let api = Api::with_token(&sb, &tokens.access_token);
    assert_eq!(api.get("/crm/v3/objects/contacts").await.0, 200);
    let (status, _) = api
        .post("/crm/v3/objects/contacts/search", serde_json::json!({}))
        .await;
    assert_eq!(status, 200, "search is a read");
    let (status, body) = api
        .post(
            "/crm/v3/objects/contacts",
            serde_json::json!({ "properties": { "email": "a@x.test" } }),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(assert_hubspot_error(&body), "MISSING_SCOPES");
    assert_eq!(
        body["errors"][0]["context"]["requiredGranularScopes"][0],
        "crm.objects.contacts.write"
    );
    let (status, _) = api
        .post(
            "/crm/v3/lists/",
            serde_json::json!({ "name": "L", "objectTypeId": "0-1", "processingType": "MANUAL" }),
        )
        .await;
    assert_eq!(status, 403);
    // Private-app tokens carry their scopes in HubSpot's UI: not checked.
    let (status, _) = Api::new(&sb)
        .post(
            "/crm/v3/objects/contacts",
            serde_json::json!({ "properties": { "email": "a@x.test" } }),
        )
        .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let sb = sandbox().await;
    let api = Api::new(&sb);
    assert_eq!(api.get("/account-info/v3/details").await.0, 200);
    let base = sb.base_url().to_string();
    sb.shutdown().await;
    let after = reqwest::Client::new()
        .get(format!("{base}/account-info/v3/details"))
        .send()
        .await;
    assert!(after.is_err(), "nothing listens any more");
}
