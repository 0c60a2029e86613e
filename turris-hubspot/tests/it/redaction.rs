//! Secrets never reach error text: the developer API key travels in the URL (`hapikey`), and
//! reqwest prints URLs in its errors, so every transport error must come without its URL.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use turris_hubspot::auth::{OAuthConfig, PrivateAppToken, Secret};
use turris_hubspot::webhooks::subscriptions::Subscriptions;
use turris_hubspot::{Error, HubSpotClient};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Recorder, fast_retry, roomy_limits};

const API_KEY: &str = "planted-developer-key-7f3a";
const ACCESS_TOKEN: &str = "planted-access-token-91be";
const CLIENT_SECRET: &str = "planted-client-secret-44d0";
const REFRESH_TOKEN: &str = "planted-refresh-token-c2e8";

/// The base URL of a loopback port nothing listens on.
fn refused_base() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// Every rendering of `err` and of its sources: `Display` and `Debug`.
fn renderings(err: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut out = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        out.push(e.to_string());
        out.push(format!("{e:?}"));
        next = e.source();
    }
    out
}

#[track_caller]
fn assert_free_of(err: &Error, secrets: &[&str]) {
    for text in renderings(err) {
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} leaked into: {text}");
        }
    }
}

#[track_caller]
fn assert_calls_free_of(recorder: &Recorder, secrets: &[&str]) {
    let calls = recorder.calls();
    assert!(!calls.is_empty());
    for call in calls {
        let text = format!("{call:?}");
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "{secret} leaked into the call report: {text}"
            );
        }
    }
}

fn client(base: &str, http: reqwest::Client) -> (HubSpotClient, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let client = HubSpotClient::builder(Arc::new(PrivateAppToken::new(Secret::new(ACCESS_TOKEN))))
        .http_client(http)
        .api_base(base)
        .portal("62515")
        .rate_limiter(roomy_limits())
        .retry(fast_retry(2))
        .observer(recorder.clone())
        .build()
        .unwrap();
    (client, recorder)
}

fn impatient_http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(50))
        .no_proxy()
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_refused_connection_does_not_put_the_developer_api_key_in_the_error() {
    let (client, recorder) = client(&refused_base(), reqwest::Client::new());
    let subscriptions = Subscriptions::new(client, 456, Secret::new(API_KEY));
    let err = subscriptions.list().await.unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert_free_of(&err, &[API_KEY, ACCESS_TOKEN]);
    assert_calls_free_of(&recorder, &[API_KEY, ACCESS_TOKEN]);
}

#[tokio::test]
async fn a_timeout_does_not_put_the_developer_api_key_in_the_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/webhooks/v3/456/subscriptions"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"results": []}))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    let (client, recorder) = client(&server.uri(), impatient_http());
    let subscriptions = Subscriptions::new(client, 456, Secret::new(API_KEY));
    let err = subscriptions.list().await.unwrap_err();
    match &err {
        Error::Transport(e) => assert!(e.is_timeout(), "{e:?}"),
        other => panic!("expected a transport error, got {other:?}"),
    }
    assert_free_of(&err, &[API_KEY, ACCESS_TOKEN]);
    assert_calls_free_of(&recorder, &[API_KEY, ACCESS_TOKEN]);
}

#[tokio::test]
async fn a_refused_connection_carries_no_url_at_all() {
    // The query of a CRM call holds no secret today; the URL is left out of every transport
    // error anyway, so nothing a future call puts there can leak.
    let base = refused_base();
    let (client, _) = client(&base, reqwest::Client::new());
    let err = client
        .get_object(&turris_hubspot::crm::ObjectType::Contacts, "51", &["email"])
        .await
        .unwrap_err();
    assert_free_of(&err, &[&base, "/crm/v3/objects", ACCESS_TOKEN]);
}

fn oauth_at(base: &str, timeout: Duration) -> (turris_hubspot::auth::OAuthClient, Arc<Recorder>) {
    let mut config = OAuthConfig::new(
        "client-123",
        Secret::new(CLIENT_SECRET),
        "https://turris.example/integrations/hubspot/callback",
    );
    config.api_base = base.to_owned();
    config.timeout = timeout;
    let recorder = Arc::new(Recorder::default());
    let oauth = turris_hubspot::auth::OAuthClient::new(config)
        .unwrap()
        .with_observer(recorder.clone());
    (oauth, recorder)
}

#[tokio::test]
async fn oauth_transport_failures_carry_no_secret_and_no_url() {
    let base = refused_base();
    let (oauth, recorder) = oauth_at(&base, Duration::from_secs(5));
    let secrets = [CLIENT_SECRET, REFRESH_TOKEN, ACCESS_TOKEN, base.as_str()];
    let err = oauth
        .refresh(&Secret::new(REFRESH_TOKEN))
        .await
        .unwrap_err();
    assert_free_of(&err, &secrets);
    let err = oauth
        .introspect(&Secret::new(ACCESS_TOKEN))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert_free_of(&err, &secrets);
    let err = oauth.exchange_code(REFRESH_TOKEN).await.unwrap_err();
    assert_free_of(&err, &secrets);
    assert_calls_free_of(&recorder, &secrets);
}

#[tokio::test]
async fn oauth_timeouts_carry_no_secret_and_no_url() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"active": true}))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    let (oauth, recorder) = oauth_at(&server.uri(), Duration::from_millis(50));
    let uri = server.uri();
    let secrets = [CLIENT_SECRET, REFRESH_TOKEN, ACCESS_TOKEN, uri.as_str()];
    let err = oauth
        .introspect(&Secret::new(ACCESS_TOKEN))
        .await
        .unwrap_err();
    match &err {
        Error::Transport(e) => assert!(e.is_timeout(), "{e:?}"),
        other => panic!("expected a transport error, got {other:?}"),
    }
    assert_free_of(&err, &secrets);
    let err = oauth
        .refresh(&Secret::new(REFRESH_TOKEN))
        .await
        .unwrap_err();
    assert_free_of(&err, &secrets);
    assert_calls_free_of(&recorder, &secrets);
}
