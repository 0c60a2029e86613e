//! Shared helpers: fast retry and rate-limit settings, clients, an observer that records.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use turris_hubspot::auth::{OAuthClient, OAuthConfig, PrivateAppToken, Secret};
use turris_hubspot::rate_limit::Budget;
use turris_hubspot::{
    ApiCall, ApiVersion, HubSpotClient, Observer, RateLimitConfig, RateLimiter, RetryConfig,
};
use wiremock::MockServer;

pub const TOKEN: &str = "pat-test-token";

/// Tiny delays so retry tests run fast; nothing is asserted about time.
pub fn fast_retry(max_attempts: u32) -> RetryConfig {
    let mut retry = RetryConfig::default();
    retry.max_attempts = max_attempts;
    retry.base_delay = Duration::from_millis(1);
    retry.max_delay = Duration::from_millis(4);
    retry.secondly_wait = Duration::from_millis(1);
    retry.ten_secondly_wait = Duration::from_millis(1);
    retry.max_retry_after = Duration::from_millis(2);
    retry
}

/// Budgets large enough never to wait in tests.
pub fn roomy_limits() -> RateLimiter {
    RateLimiter::new(RateLimitConfig::new(
        Budget::new(100_000, Duration::from_secs(1)),
        Budget::new(100_000, Duration::from_secs(1)),
    ))
}

/// Records every call the client reports.
#[derive(Default)]
pub struct Recorder {
    calls: Mutex<Vec<ApiCall>>,
}

impl Recorder {
    pub fn calls(&self) -> Vec<ApiCall> {
        self.calls.lock().unwrap().clone()
    }
}

impl Observer for Recorder {
    fn on_call(&self, call: &ApiCall) {
        self.calls.lock().unwrap().push(call.clone());
    }
}

/// A private-app client against `server`, with its recorder. It speaks the numbered (v3/v4)
/// paths the mocks of these tests are written with; `versions.rs` checks every call on both
/// path styles.
pub fn client_with(server: &MockServer, max_attempts: u32) -> (HubSpotClient, Arc<Recorder>) {
    versioned_client(server, max_attempts, ApiVersion::Legacy)
}

/// [`client_with`] at `version`.
pub fn versioned_client(
    server: &MockServer,
    max_attempts: u32,
    version: ApiVersion,
) -> (HubSpotClient, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let client = HubSpotClient::builder(Arc::new(PrivateAppToken::new(Secret::new(TOKEN))))
        .api_version(version)
        .api_base(server.uri())
        .portal("62515")
        .rate_limiter(roomy_limits())
        .retry(fast_retry(max_attempts))
        .observer(recorder.clone())
        .build()
        .unwrap();
    (client, recorder)
}

pub fn client(server: &MockServer) -> HubSpotClient {
    client_with(server, 4).0
}

pub fn oauth(server: &MockServer) -> OAuthClient {
    versioned_oauth(server, ApiVersion::Legacy)
}

/// [`oauth`] with the token endpoints of `version`.
pub fn versioned_oauth(server: &MockServer, version: ApiVersion) -> OAuthClient {
    let mut config = OAuthConfig::new(
        "client-123",
        Secret::new("secret-456"),
        "https://turris.example/integrations/hubspot/callback",
    );
    config.api_base = server.uri();
    OAuthClient::new(config.with_api_version(version)).unwrap()
}

/// A CRM record as HubSpot serves it.
pub fn object(id: &str, properties: Value) -> Value {
    json!({
        "id": id,
        "properties": properties,
        "createdAt": "2025-01-02T03:04:05.678Z",
        "updatedAt": "2025-02-03T04:05:06Z",
        "archived": false
    })
}

/// HubSpot's error document.
pub fn error_body(category: &str, message: &str) -> Value {
    json!({
        "status": "error",
        "message": message,
        "correlationId": "corr-1",
        "category": category
    })
}
