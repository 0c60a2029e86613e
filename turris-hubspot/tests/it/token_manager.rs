//! TokenManager: refresh ahead of expiry, single-flight, persistence, dead tokens, and the
//! client's one refresh on 401 EXPIRED_AUTHENTICATION.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use serde_json::json;
use turris_hubspot::auth::{
    AccessTokenSource, RefreshCoordinator, RefreshLease, RefreshTurn, Secret, TokenManager,
    TokenSet, TokenSink,
};
use turris_hubspot::crm::ObjectType;
use turris_hubspot::{Error, HubSpotClient};
use wiremock::matchers::{bearer_token, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{error_body, fast_retry, oauth, object, roomy_limits};

#[derive(Default)]
struct MemorySink {
    stored: Mutex<Vec<TokenSet>>,
    fail: bool,
}

#[async_trait]
impl TokenSink for MemorySink {
    async fn store(&self, tokens: &TokenSet) -> Result<(), String> {
        if self.fail {
            return Err("database is down".to_owned());
        }
        self.stored.lock().unwrap().push(tokens.clone());
        Ok(())
    }
}

fn tokens(access: &str, expires_in_secs: i64) -> TokenSet {
    TokenSet {
        access_token: Secret::new(access),
        refresh_token: Secret::new("refresh-1"),
        expires_at: Utc::now() + chrono::Duration::seconds(expires_in_secs),
    }
}

async fn token_endpoint(server: &MockServer, access: &str, expect: u64) {
    Mock::given(method("POST"))
        .and(path("/oauth/v3/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({
                    "token_type": "bearer",
                    "access_token": access,
                    "refresh_token": "refresh-2",
                    "expires_in": 1800
                }))
                // Keep the refresh in flight while the other callers pile up.
                .set_delay(Duration::from_millis(50)),
        )
        .expect(expect)
        .mount(server)
        .await;
}

#[tokio::test]
async fn fifty_concurrent_callers_share_exactly_one_refresh() {
    let server = MockServer::start().await;
    token_endpoint(&server, "access-new", 1).await;
    let sink = Arc::new(MemorySink::default());
    let manager = Arc::new(TokenManager::new(
        oauth(&server),
        tokens("access-old", -10),
        sink.clone(),
    ));

    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let manager = manager.clone();
            tokio::spawn(async move { manager.access_token().await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().expose(), "access-new");
    }
    let stored = sink.stored.lock().unwrap().clone();
    assert_eq!(stored.len(), 1, "the new tokens are persisted once");
    assert_eq!(stored[0].refresh_token.expose(), "refresh-2");
    assert_eq!(manager.tokens().await.refresh_token.expose(), "refresh-2");
}

#[tokio::test]
async fn a_fresh_token_is_served_without_calling_hubspot() {
    let server = MockServer::start().await;
    token_endpoint(&server, "unused", 0).await;
    let manager = manager(&server, tokens("access-ok", 1800));
    assert_eq!(manager.access_token().await.unwrap().expose(), "access-ok");
}

#[tokio::test]
async fn a_token_inside_the_margin_is_refreshed_ahead_of_expiry() {
    let server = MockServer::start().await;
    token_endpoint(&server, "access-new", 1).await;
    let manager =
        manager(&server, tokens("access-old", 120)).with_refresh_margin(Duration::from_secs(300));
    assert_eq!(manager.access_token().await.unwrap().expose(), "access-new");
}

#[tokio::test]
async fn a_dead_refresh_token_is_reported_and_not_tried_again() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/v3/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "status": "BAD_REFRESH_TOKEN",
            "message": "missing or invalid refresh token"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let manager = manager(&server, tokens("access-old", -1));
    for _ in 0..2 {
        let err = manager.access_token().await.unwrap_err();
        assert!(matches!(err, Error::RefreshTokenRevoked { .. }), "{err:?}");
    }
}

#[tokio::test]
async fn a_failing_sink_is_reported_and_storing_is_retried_on_the_next_call() {
    let server = MockServer::start().await;
    token_endpoint(&server, "access-new", 1).await;
    let failing = Arc::new(MemorySink {
        fail: true,
        ..MemorySink::default()
    });
    let manager = TokenManager::new(oauth(&server), tokens("access-old", -1), failing);
    let err = manager.access_token().await.unwrap_err();
    assert!(matches!(err, Error::TokenSink(_)), "{err:?}");
    // The refreshed token is kept in memory: no second refresh, but storing is tried again.
    let err = manager.access_token().await.unwrap_err();
    assert!(matches!(err, Error::TokenSink(_)), "{err:?}");
    assert_eq!(manager.tokens().await.access_token.expose(), "access-new");
}

/// A manager holding `current`, refreshing against `server`, storing into a sink of its own.
fn manager(server: &MockServer, current: TokenSet) -> TokenManager {
    TokenManager::new(oauth(server), current, Arc::new(MemorySink::default()))
}

/// Reads contact 51 with a still-valid token that HubSpot answers with 401 `category`
/// (`reads` times); the error the client ends with.
async fn contact_read_refused(server: &MockServer, category: &str, reads: u64) -> Error {
    Mock::given(method("GET"))
        .and(path("/crm/objects/2026-03/contacts/51"))
        .respond_with(ResponseTemplate::new(401).set_body_json(error_body(category, "refused")))
        .expect(reads)
        .mount(server)
        .await;
    let manager = Arc::new(manager(server, tokens("access-old", 1800)));
    oauth_client(server, manager)
        .get_object(&ObjectType::Contacts, "51", &[])
        .await
        .unwrap_err()
}

fn oauth_client(server: &MockServer, manager: Arc<TokenManager>) -> HubSpotClient {
    HubSpotClient::builder(manager)
        .api_base(server.uri())
        .rate_limiter(roomy_limits())
        .retry(fast_retry(3))
        .build()
        .unwrap()
}

#[tokio::test]
async fn expired_authentication_triggers_one_refresh_and_one_retry() {
    let server = MockServer::start().await;
    token_endpoint(&server, "access-new", 1).await;
    Mock::given(method("GET"))
        .and(path("/crm/objects/2026-03/contacts/51"))
        .and(bearer_token("access-old"))
        .respond_with(ResponseTemplate::new(401).set_body_json(error_body(
            "EXPIRED_AUTHENTICATION",
            "The OAuth token used to make this call expired",
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/crm/objects/2026-03/contacts/51"))
        .and(bearer_token("access-new"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(object("51", json!({"email": "a@b.co"}))),
        )
        .expect(1)
        .mount(&server)
        .await;
    let manager = Arc::new(manager(&server, tokens("access-old", 1800)));
    let contact = oauth_client(&server, manager)
        .get_object(&ObjectType::Contacts, "51", &["email"])
        .await
        .unwrap();
    assert_eq!(contact.property("email"), Some("a@b.co"));
}

#[tokio::test]
async fn a_second_expired_authentication_is_not_refreshed_again() {
    let server = MockServer::start().await;
    token_endpoint(&server, "access-new", 1).await;
    let err = contact_read_refused(&server, "EXPIRED_AUTHENTICATION", 2).await;
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.category(), Some("EXPIRED_AUTHENTICATION"));
}

#[tokio::test]
async fn invalid_authentication_is_not_refreshed() {
    let server = MockServer::start().await;
    token_endpoint(&server, "access-new", 0).await;
    let err = contact_read_refused(&server, "INVALID_AUTHENTICATION", 1).await;
    assert_eq!(err.category(), Some("INVALID_AUTHENTICATION"));
}

/// Tokens stored in one place for several managers, with a refresh lease (what the server
/// does with a database row).
#[derive(Default)]
struct SharedStore {
    stored: Mutex<Option<TokenSet>>,
    held: Mutex<Option<tokio::sync::OwnedMutexGuard<()>>>,
}

struct Coordinated(Arc<SharedStore>, Arc<tokio::sync::Mutex<()>>);

#[async_trait]
impl RefreshCoordinator for Coordinated {
    async fn begin(&self, held: &TokenSet) -> Result<RefreshTurn, String> {
        let guard = self.1.clone().lock_owned().await;
        let stored = self.0.stored.lock().unwrap().clone().unwrap();
        if stored.access_token != held.access_token {
            return Ok(RefreshTurn::Replaced(stored));
        }
        *self.0.held.lock().unwrap() = Some(guard);
        Ok(RefreshTurn::Refresh {
            lease: RefreshLease("lease".into()),
            stored,
        })
    }

    async fn finish(&self, _lease: &RefreshLease, tokens: &TokenSet) -> Result<(), String> {
        *self.0.stored.lock().unwrap() = Some(tokens.clone());
        self.0.held.lock().unwrap().take();
        Ok(())
    }

    async fn abandon(&self, _lease: &RefreshLease) {
        self.0.held.lock().unwrap().take();
    }
}

#[tokio::test]
async fn managers_sharing_stored_tokens_refresh_once_and_adopt_the_stored_tokens() {
    let server = MockServer::start().await;
    // Only the stored refresh token is accepted, once (strict rotation).
    Mock::given(method("POST"))
        .and(path("/oauth/v3/token"))
        .and(wiremock::matchers::body_string_contains(
            "refresh_token=refresh-1",
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({
                    "token_type": "bearer",
                    "access_token": "access-new",
                    "refresh_token": "refresh-2",
                    "expires_in": 1800
                }))
                .set_delay(Duration::from_millis(50)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let store = Arc::new(SharedStore::default());
    *store.stored.lock().unwrap() = Some(tokens("access-old", -10));
    let lease = Arc::new(tokio::sync::Mutex::new(()));
    let managers: Vec<_> = (0..4)
        .map(|_| {
            Arc::new(
                TokenManager::new(
                    oauth(&server),
                    tokens("access-old", -10),
                    Arc::new(MemorySink::default()),
                )
                .with_coordinator(Arc::new(Coordinated(store.clone(), lease.clone()))),
            )
        })
        .collect();
    let tasks: Vec<_> = managers
        .iter()
        .map(|m| {
            let m = m.clone();
            tokio::spawn(async move { m.access_token().await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().expose(), "access-new");
    }
    let stored = store.stored.lock().unwrap().clone().unwrap();
    assert_eq!(stored.refresh_token.expose(), "refresh-2");
    for m in &managers {
        assert_eq!(m.tokens().await.refresh_token.expose(), "refresh-2");
    }
}

#[tokio::test]
async fn tokens_stored_with_an_expiry_at_the_start_of_time_are_refreshed_instead_of_panicking() {
    let server = MockServer::start().await;
    token_endpoint(&server, "access-new", 1).await;
    let ancient = TokenSet {
        expires_at: chrono::DateTime::<Utc>::MIN_UTC,
        ..tokens("access-old", 0)
    };
    let manager = TokenManager::new(oauth(&server), ancient, Arc::new(MemorySink::default()))
        .with_refresh_margin(Duration::from_secs(300));
    assert_eq!(manager.access_token().await.unwrap().expose(), "access-new");
}
