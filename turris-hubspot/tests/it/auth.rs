//! OAuth: authorize URL, code exchange, refresh, introspection; private-app portal lookup.

use std::collections::HashMap;

use chrono::Utc;
use serde_json::json;
use turris_hubspot::Error;
use turris_hubspot::auth::Secret;
use wiremock::matchers::{bearer_token, body_string_contains, method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

use crate::support::{TOKEN, client, oauth};

/// Matches requests without an `Authorization` header (v3 wants credentials in the body).
struct NoAuthorizationHeader;

impl Match for NoAuthorizationHeader {
    fn matches(&self, request: &Request) -> bool {
        !request.headers.contains_key("authorization")
    }
}

fn form(request: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

/// A token endpoint (`/oauth/v3/token`) that answers every request with `answer`.
async fn token_endpoint_answering(answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/v3/token"))
        .respond_with(answer)
        .mount(&server)
        .await;
    server
}

/// The error of a refresh that the token endpoint answered with `answer`.
async fn refresh_refused_with(answer: ResponseTemplate) -> Error {
    let server = token_endpoint_answering(answer).await;
    oauth(&server)
        .refresh(&Secret::new("dead"))
        .await
        .unwrap_err()
}

/// A token answer with a refresh token.
fn tokens(access: &str, refresh: &str) -> serde_json::Value {
    json!({
        "token_type": "bearer",
        "access_token": access,
        "refresh_token": refresh,
        "expires_in": 1800
    })
}

/// A call that met a redirect failed saying so, and nobody called the redirect's target.
async fn assert_redirect_refused(err: Error, elsewhere: &MockServer) {
    assert!(matches!(err, Error::OAuth(_)), "{err:?}");
    assert!(err.to_string().contains("redirect"), "{err}");
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn authorize_url_carries_client_id_redirect_scopes_optional_scopes_and_state() {
    let server = MockServer::start().await;
    let url = oauth(&server).authorize_url(
        &["crm.objects.contacts.read", "oauth"],
        &["crm.lists.read", "crm.lists.write"],
        "state-xyz",
    );
    assert_eq!(url.host_str(), Some("app.hubspot.com"));
    assert_eq!(url.path(), "/oauth/authorize");
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], "client-123");
    assert_eq!(
        query["redirect_uri"],
        "https://turris.example/integrations/hubspot/callback"
    );
    assert_eq!(query["scope"], "crm.objects.contacts.read oauth");
    assert_eq!(query["optional_scope"], "crm.lists.read crm.lists.write");
    assert_eq!(query["state"], "state-xyz");
}

#[tokio::test]
async fn code_exchange_posts_every_parameter_in_the_form_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/v3/token"))
        .and(NoAuthorizationHeader)
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(tokens("access-1", "refresh-1")))
        .expect(1)
        .mount(&server)
        .await;

    let before = Utc::now();
    let tokens = oauth(&server).exchange_code("code-789").await.unwrap();
    assert_eq!(tokens.access_token.expose(), "access-1");
    assert_eq!(tokens.refresh_token.expose(), "refresh-1");
    assert!(tokens.expires_at >= before + chrono::Duration::seconds(1800));

    let request = &server.received_requests().await.unwrap()[0];
    let form = form(request);
    assert_eq!(form["client_id"], "client-123");
    assert_eq!(form["client_secret"], "secret-456");
    assert_eq!(form["code"], "code-789");
    assert_eq!(
        form["redirect_uri"],
        "https://turris.example/integrations/hubspot/callback"
    );
    assert!(request.url.query().is_none(), "nothing in the query string");
}

#[tokio::test]
async fn refresh_sends_the_refresh_token_in_the_body_and_keeps_the_new_one() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/v3/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=refresh-old"))
        .respond_with(ResponseTemplate::new(200).set_body_json(tokens("access-2", "refresh-new")))
        .expect(1)
        .mount(&server)
        .await;
    let tokens = oauth(&server)
        .refresh(&Secret::new("refresh-old"))
        .await
        .unwrap();
    assert_eq!(tokens.access_token.expose(), "access-2");
    assert_eq!(tokens.refresh_token.expose(), "refresh-new");
}

#[tokio::test]
async fn refresh_keeps_the_old_refresh_token_when_none_comes_back() {
    let server = token_endpoint_answering(ResponseTemplate::new(200).set_body_json(json!({
        "token_type": "bearer",
        "access_token": "access-2",
        "expires_in": 1800
    })))
    .await;
    let tokens = oauth(&server)
        .refresh(&Secret::new("refresh-old"))
        .await
        .unwrap();
    assert_eq!(tokens.refresh_token.expose(), "refresh-old");
}

#[tokio::test]
async fn bad_refresh_token_answer_is_its_own_error() {
    let err = refresh_refused_with(ResponseTemplate::new(400).set_body_json(json!({
        "status": "BAD_REFRESH_TOKEN",
        "message": "missing or invalid refresh token",
        "correlationId": "c-1"
    })))
    .await;
    assert!(
        matches!(&err, Error::RefreshTokenRevoked { message } if message.contains("invalid refresh token")),
        "{err:?}"
    );
}

#[tokio::test]
async fn invalid_grant_answer_is_also_a_dead_refresh_token() {
    let err = refresh_refused_with(ResponseTemplate::new(400).set_body_json(json!({
        "error": "invalid_grant",
        "error_description": "refresh token revoked"
    })))
    .await;
    assert!(matches!(err, Error::RefreshTokenRevoked { .. }), "{err:?}");
}

#[tokio::test]
async fn token_endpoint_outage_is_not_mistaken_for_a_dead_refresh_token() {
    let err = refresh_refused_with(ResponseTemplate::new(503).set_body_string("unavailable")).await;
    assert!(matches!(err, Error::OAuth(_)), "{err:?}");
}

#[tokio::test]
async fn introspection_gives_the_hub_id_and_app_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/v3/token/introspect"))
        .and(NoAuthorizationHeader)
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "active": true,
            "hub_id": 62515,
            "app_id": 456,
            "user_id": 7,
            "token_type": "access_token",
            "scope": "oauth crm.objects.contacts.read",
            "someNewField": {"x": 1}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let info = oauth(&server)
        .introspect(&Secret::new("access-1"))
        .await
        .unwrap();
    assert!(info.active);
    assert_eq!(info.hub_id, Some(62515));
    assert_eq!(info.app_id, Some(456));

    let form = form(&server.received_requests().await.unwrap()[0]);
    assert_eq!(form["token"], "access-1");
    assert_eq!(form["client_id"], "client-123");
    assert_eq!(form["client_secret"], "secret-456");
}

#[tokio::test]
async fn private_app_token_learns_its_portal_from_account_details() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/account-info/v3/details"))
        .and(bearer_token(TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "portalId": 62515,
            "accountType": "STANDARD",
            "timeZone": "US/Eastern",
            "companyCurrency": "USD",
            "uiDomain": "app.hubspot.com",
            "dataHostingLocation": "na1"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let details = client(&server).account_details().await.unwrap();
    assert_eq!(details.portal_id, 62515);
    assert_eq!(details.ui_domain.as_deref(), Some("app.hubspot.com"));
}

#[tokio::test]
async fn token_calls_are_reported_to_the_observer_without_secrets() {
    use std::sync::Arc;

    let server = token_endpoint_answering(ResponseTemplate::new(400).set_body_json(json!({
        "status": "BAD_REFRESH_TOKEN",
        "message": "missing or invalid refresh token",
        "correlationId": "corr-rt"
    })))
    .await;
    let recorder = Arc::new(crate::support::Recorder::default());
    let oauth = oauth(&server).with_observer(recorder.clone());
    let err = oauth
        .refresh(&Secret::new("refresh-secret-value"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RefreshTokenRevoked { .. }));
    let calls = recorder.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].path, "/oauth/v3/token");
    assert_eq!(calls[0].status, Some(400));
    assert_eq!(calls[0].correlation_id.as_deref(), Some("corr-rt"));
    let logged = format!("{calls:?} {oauth:?}");
    assert!(!logged.contains("refresh-secret-value"));
    assert!(!logged.contains("secret-456"));
}

/// A token endpoint that redirects to `elsewhere`, which must never be called.
async fn redirecting_to(elsewhere: &MockServer) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/oauth/v3/token", elsewhere.uri())),
        )
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "bearer",
            "access_token": "stolen-access",
            "refresh_token": "stolen-refresh",
            "expires_in": 1800,
            "active": true
        })))
        .expect(0)
        .mount(elsewhere)
        .await;
    server
}

#[tokio::test]
async fn a_refresh_answered_with_a_redirect_fails_and_the_redirect_is_not_followed() {
    let elsewhere = MockServer::start().await;
    let server = redirecting_to(&elsewhere).await;
    let err = oauth(&server)
        .refresh(&Secret::new("refresh-1"))
        .await
        .unwrap_err();
    assert_redirect_refused(err, &elsewhere).await;
}

#[tokio::test]
async fn a_code_exchange_answered_with_a_redirect_fails_and_the_redirect_is_not_followed() {
    let elsewhere = MockServer::start().await;
    let server = redirecting_to(&elsewhere).await;
    let err = oauth(&server).exchange_code("code-1").await.unwrap_err();
    assert_redirect_refused(err, &elsewhere).await;
}

#[tokio::test]
async fn an_introspection_answered_with_a_redirect_fails_and_the_redirect_is_not_followed() {
    let elsewhere = MockServer::start().await;
    let server = redirecting_to(&elsewhere).await;
    let err = oauth(&server)
        .introspect(&Secret::new("access-1"))
        .await
        .unwrap_err();
    assert_redirect_refused(err, &elsewhere).await;
}

/// Set in the child process of [`token_calls_ignore_proxy_environment_variables`]: the token
/// endpoint's base URL.
const PROXY_PROBE: &str = "TURRIS_TEST_OAUTH_PROXY_PROBE";

#[tokio::test]
async fn token_calls_ignore_proxy_environment_variables() {
    // Proxy variables are process-wide, so the call is made by this test run again in a child
    // process whose environment names a proxy.
    if let Ok(base) = std::env::var(PROXY_PROBE) {
        let mut config = turris_hubspot::auth::OAuthConfig::new(
            "client-123",
            Secret::new("secret-456"),
            "https://turris.example/integrations/hubspot/callback",
        );
        config.api_base = base;
        let oauth = turris_hubspot::auth::OAuthClient::new(config).unwrap();
        let tokens = oauth.refresh(&Secret::new("refresh-1")).await.unwrap();
        assert_eq!(tokens.access_token.expose(), "access-2");
        return;
    }
    let proxy = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(502))
        .mount(&proxy)
        .await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/2026-03/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(tokens("access-2", "refresh-2")))
        .expect(1)
        .mount(&server)
        .await;
    let (base, proxy_uri) = (server.uri(), proxy.uri());
    let output = tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap());
        child
            .args([
                "--exact",
                "auth::token_calls_ignore_proxy_environment_variables",
                "--test-threads=1",
            ])
            .env(PROXY_PROBE, base)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy");
        for name in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            child.env(name, &proxy_uri);
        }
        child.output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // The child ran the call (not zero tests), and the proxy heard nothing.
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 passed"));
    assert!(proxy.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_absurd_expires_in_is_capped_at_a_day_instead_of_panicking() {
    for expires_in in [
        json!(9_223_372_036_854_775_807_i64),
        json!(u64::MAX),
        json!(10_000_000_000_u64),
    ] {
        let mut answer = tokens("access-2", "refresh-2");
        answer["expires_in"] = expires_in.clone();
        let server =
            token_endpoint_answering(ResponseTemplate::new(200).set_body_json(answer)).await;
        let before = Utc::now();
        let tokens = oauth(&server)
            .refresh(&Secret::new("refresh-old"))
            .await
            .unwrap();
        assert!(tokens.expires_at > before, "{expires_in}");
        assert!(
            tokens.expires_at <= Utc::now() + chrono::Duration::days(1),
            "{expires_in}: {}",
            tokens.expires_at
        );
    }
}
