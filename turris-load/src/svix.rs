//! svix-server under the same load, for a same-run comparison: started as a child process
//! (`--svix-bin`, on a fresh PostgreSQL database with its in-memory queue and cache, no
//! Redis) or already running (`--svix-url` with `--svix-token`). The load tool creates an
//! application and an endpoint pointing at its receiver (with a secret it chose, so it can
//! verify Svix's signatures with the Standard Webhooks crate) and posts messages through
//! Svix's public API, as it posts NIPR results to Turris.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::process::{Child, Command};

use crate::receiver::{self, Arrivals};
use crate::server::{Cleanup, client, fresh_database, wait_for_success};
use crate::{Args, Db, Error};

/// The organization svix-server's own `jwt generate` signs tokens for.
const SVIX_ORG: &str = "org_23rb8YdGqMT0qIzpgGwdXfHirMu";

/// A svix-server: a child process of this tool, or one that runs elsewhere.
pub struct Svix {
    child: Option<Child>,
    /// The child's pid, for `/proc` (`None` for `--svix-url`: its CPU and RSS are not read).
    pub pid: Option<u32>,
    /// `http://host:port`.
    pub base: String,
    /// The HTTP client every request goes through.
    pub http: reqwest::Client,
    token: String,
    cleanup: Option<Cleanup>,
}

/// Where the load's messages go, and where they arrive.
pub struct SvixTarget {
    /// The Svix application the messages are sent to.
    pub app: String,
    /// The receiver's view.
    pub arrivals: Arc<Arrivals>,
}

/// An HS256 JWT for svix-server's default organization, as `svix-server jwt generate` makes
/// with the server's `SVIX_JWT_SECRET`.
pub fn jwt(secret: &str, now: i64) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = json!({
        "iat": now, "nbf": now, "exp": now + 24 * 3600,
        "iss": "svix-server", "sub": SVIX_ORG,
    });
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{claims}");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(signed.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signed}.{signature}")
}

impl Svix {
    /// Starts `bin` on a fresh PostgreSQL database (`--postgres-url`), with the in-memory
    /// queue and cache, loopback endpoints allowed, and waits for its health check.
    pub async fn start(bin: &Path, args: &Args) -> Result<Self, Error> {
        let (database_url, cleanup) = fresh_database(Db::Postgres, args).await?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let secret = turris_webhooks::WebhookSecret::generate()?.to_hex();
        let child = Command::new(bin)
            .arg("--run-migrations")
            .env("SVIX_LISTEN_ADDRESS", format!("127.0.0.1:{port}"))
            .env("SVIX_DB_DSN", &database_url)
            .env("SVIX_JWT_SECRET", &secret)
            .env("SVIX_QUEUE_TYPE", "memory")
            .env("SVIX_CACHE_TYPE", "memory")
            .env("SVIX_WHITELIST_SUBNETS", "[\"127.0.0.1/32\"]")
            .env("SVIX_LOG_LEVEL", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", bin.display()))?;
        let pid = child.id().ok_or("svix-server exited at once")?;
        let svix = Self {
            child: Some(child),
            pid: Some(pid),
            base: format!("http://127.0.0.1:{port}"),
            http: client()?,
            token: jwt(&secret, chrono::Utc::now().timestamp()),
            cleanup: Some(cleanup),
        };
        svix.wait_until_healthy().await?;
        Ok(svix)
    }

    /// A svix-server already running at `url`, called with `token` (`svix-server jwt
    /// generate`). Its CPU and memory are not measured.
    pub async fn connect(url: &str, token: &str) -> Result<Self, Error> {
        let svix = Self {
            child: None,
            pid: None,
            base: url.trim_end_matches('/').to_owned(),
            http: client()?,
            token: token.to_owned(),
            cleanup: None,
        };
        svix.wait_until_healthy().await?;
        Ok(svix)
    }

    /// Waits up to 60 s (its migrations run first) for `/api/v1/health/` to answer success.
    async fn wait_until_healthy(&self) -> Result<(), Error> {
        let health = format!("{}/api/v1/health/", self.base);
        wait_for_success(&self.http, &health, Duration::from_secs(60)).await
    }

    async fn call(&self, path: &str, body: Value) -> Result<Value, Error> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            return Err(format!("svix-server {path} answered {status}: {text}").into());
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// An application and an endpoint at a fresh receiver, signed with a secret of ours.
    pub async fn prepare(&self) -> Result<SvixTarget, Error> {
        let app = self
            .call(
                "/api/v1/app/",
                json!({"name": "turris-load", "uid": format!("turris-load-{}", std::process::id())}),
            )
            .await?;
        let app = app["id"]
            .as_str()
            .ok_or("svix-server: no app id")?
            .to_owned();
        let arrivals = Arc::new(Arrivals::default());
        let addr = receiver::start(arrivals.clone()).await?;
        let secret = format!("whsec_{}", STANDARD.encode(rand::random::<[u8; 24]>()));
        self.call(
            &format!("/api/v1/app/{app}/endpoint/"),
            json!({"url": format!("http://{addr}/hook"), "version": 1, "secret": secret}),
        )
        .await?;
        arrivals.trust_standard(&secret)?;
        Ok(SvixTarget { app, arrivals })
    }

    /// Sends message `n` (the same fields as the NIPR result the Turris load posts); when it
    /// was accepted.
    pub async fn post(&self, target: &SvixTarget, n: usize) -> Option<Instant> {
        let response = self
            .http
            .post(format!("{}/api/v1/app/{}/msg/", self.base, target.app))
            .bearer_auth(&self.token)
            .json(&json!({
                "eventType": "entity.compliance_data_synchronized",
                "payload": {"entity_type": "agency", "kind": "fetch", "outcome": "error",
                            "error": format!("load {n}")},
            }))
            .send()
            .await
            .ok()?;
        let ok = response.status().is_success();
        let _ = response.bytes().await;
        ok.then(Instant::now)
    }

    /// The PostgreSQL database of a child svix-server.
    pub fn pg_database(&self) -> Option<&str> {
        self.cleanup.as_ref().and_then(Cleanup::pg_database)
    }

    /// Stops a child svix-server and drops its database.
    pub async fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
        if let Some(cleanup) = self.cleanup.take() {
            cleanup.run().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    /// The calls svix-server's API documents: a health check, an application, an endpoint
    /// with our secret at the receiver, then messages, each with the bearer token.
    #[tokio::test]
    async fn an_application_an_endpoint_and_messages_through_svixs_api() {
        let svix = MockServer::start().await;
        let auth = || header("authorization", "Bearer tok");
        Mock::given(method("GET"))
            .and(path("/api/v1/health/"))
            .respond_with(ResponseTemplate::new(204))
            .mount(&svix)
            .await;
        Mock::given(method("POST"))
            .and(path("/api/v1/app/"))
            .and(auth())
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "app_1"})))
            .mount(&svix)
            .await;
        Mock::given(method("POST"))
            .and(path("/api/v1/app/app_1/endpoint/"))
            .and(auth())
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "ep_1"})))
            .mount(&svix)
            .await;
        Mock::given(method("POST"))
            .and(path("/api/v1/app/app_1/msg/"))
            .and(auth())
            .respond_with(ResponseTemplate::new(202).set_body_json(json!({"id": "msg_1"})))
            .mount(&svix)
            .await;

        let client = Svix::connect(&format!("{}/", svix.uri()), "tok")
            .await
            .unwrap();
        let target = client.prepare().await.unwrap();
        assert_eq!(target.app, "app_1");
        assert!(client.post(&target, 7).await.is_some());

        let requests = svix.received_requests().await.unwrap();
        let body = |p: &str| -> Value {
            let request = requests.iter().find(|r| r.url.path() == p).unwrap();
            serde_json::from_slice(&request.body).unwrap()
        };
        let endpoint = body("/api/v1/app/app_1/endpoint/");
        assert!(endpoint["url"].as_str().unwrap().ends_with("/hook"));
        let secret = endpoint["secret"].as_str().unwrap();
        assert!(secret.starts_with("whsec_"), "{secret}");
        assert!(standardwebhooks::Webhook::new(secret).is_ok());
        let message = body("/api/v1/app/app_1/msg/");
        assert_eq!(message["payload"]["error"], "load 7");
        assert!(message["eventType"].is_string());
    }

    #[test]
    fn the_token_is_an_hs256_jwt_for_svix_servers_default_organization() {
        let token = jwt("x", 1_655_140_639);
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["sub"], SVIX_ORG);
        assert_eq!(claims["iss"], "svix-server");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"x").unwrap();
        mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
        mac.verify_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap())
            .expect("signed with the secret");
        let mut other = Hmac::<Sha256>::new_from_slice(b"y").unwrap();
        other.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
        assert!(
            other
                .verify_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap())
                .is_err()
        );
    }
}
