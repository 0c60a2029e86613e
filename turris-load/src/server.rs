//! The server under test: a child process on a fresh database, and the setup a user's system
//! would do through the admin and public API.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::receiver::{self, Arrivals};
use crate::{Args, Db, Error};

const ADMIN_TOKEN: &str = "turris-load-admin-token-0123456789";

/// A running `turris-server` child process.
pub struct Server {
    child: Child,
    /// Its pid, for `/proc`.
    pub pid: u32,
    /// `http://127.0.0.1:port`.
    pub base: String,
    /// The HTTP client every request goes through.
    pub http: reqwest::Client,
    cleanup: Cleanup,
}

/// What a run's fresh database leaves to remove.
pub(crate) enum Cleanup {
    Folder(PathBuf),
    PgDatabase { admin_url: String, name: String },
}

impl Cleanup {
    /// The PostgreSQL database's name (`None` for a SQLite folder).
    pub(crate) fn pg_database(&self) -> Option<&str> {
        match self {
            Cleanup::PgDatabase { name, .. } => Some(name),
            Cleanup::Folder(_) => None,
        }
    }

    /// Removes the folder or drops the database.
    pub(crate) async fn run(&self) {
        match self {
            Cleanup::Folder(folder) => {
                let _ = std::fs::remove_dir_all(folder);
            }
            Cleanup::PgDatabase { admin_url, name } => {
                if let Err(e) = psql(admin_url, &format!("DROP DATABASE IF EXISTS {name}")).await {
                    eprintln!("dropping {name}: {e}");
                }
            }
        }
    }
}

/// What the load posts to, and where deliveries arrive.
pub struct Target {
    /// The organization's token.
    pub token: String,
    /// The agency the NIPR results are about.
    pub agency: String,
    /// The receiver's view.
    pub arrivals: Arc<Arrivals>,
}

/// A fresh database for one run: a SQLite file in its own folder, or a PostgreSQL database
/// named after the process and the time; with how to remove it afterwards.
pub(crate) async fn fresh_database(db: Db, args: &Args) -> Result<(String, Cleanup), Error> {
    let tag = format!(
        "{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    );
    Ok(match db {
        Db::Sqlite => {
            let folder = std::env::temp_dir().join(format!("turris-load-{tag}"));
            std::fs::create_dir_all(&folder)?;
            (
                format!("sqlite://{}?mode=rwc", folder.join("turris.db").display()),
                Cleanup::Folder(folder),
            )
        }
        Db::Postgres => {
            let name = format!("turris_load_{tag}");
            psql(&args.postgres_url, &format!("CREATE DATABASE {name}")).await?;
            let mut url = reqwest::Url::parse(&args.postgres_url)?;
            url.set_path(&name);
            (
                url.to_string(),
                Cleanup::PgDatabase {
                    admin_url: args.postgres_url.clone(),
                    name,
                },
            )
        }
    })
}

impl Server {
    /// Creates a fresh database and starts the server on it.
    pub async fn start(bin: &Path, db: Db, args: &Args) -> Result<Self, Error> {
        let (database_url, cleanup) = fresh_database(db, args).await?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let key = turris_webhooks::WebhookSecret::generate()?.to_hex();
        let mut command = Command::new(bin);
        command
            .arg("serve")
            .env("TURRIS_LISTEN", format!("127.0.0.1:{port}"))
            .env("TURRIS_DATABASE_URL", &database_url)
            .env("TURRIS_ENCRYPTION_KEY", key)
            .env("TURRIS_ADMIN_TOKEN", ADMIN_TOKEN)
            // The load tool measures the server, not its per-token limit.
            .env("TURRIS_RATE_LIMIT_PER_SECOND", "0")
            .env("TURRIS_WEBHOOK_ALLOW_LOOPBACK", "true")
            .env("TURRIS_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for pair in &args.server_env {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("--server-env {pair}: expected KEY=VALUE"))?;
            command.env(k, v);
        }
        let child = command
            .spawn()
            .map_err(|e| format!("starting {}: {e}", bin.display()))?;
        let pid = child.id().ok_or("the server exited at once")?;
        let http = client()?;
        let server = Self {
            child,
            pid,
            base: format!("http://127.0.0.1:{port}"),
            http,
            cleanup,
        };
        let ready = format!("{}/readyz", server.base);
        wait_for_success(&server.http, &ready, Duration::from_secs(30)).await?;
        Ok(server)
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Value,
        expect: u16,
    ) -> Result<Value, Error> {
        let response = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        if status != expect {
            return Err(format!("{path} answered {status}: {text}").into());
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// The PostgreSQL database the server runs on (`None` on SQLite, whose work is in the
    /// server's own process).
    pub fn pg_database(&self) -> Option<&str> {
        self.cleanup.pg_database()
    }

    /// Organization, role, user, token, agency, receiver and webhook.
    pub async fn prepare(&self) -> Result<Target, Error> {
        use reqwest::Method;
        let org = "load-test";
        let admin = |path: String, body: Value| async move {
            self.call(Method::POST, &path, ADMIN_TOKEN, body, 201).await
        };
        admin(
            "/api/v1/admin/organizations".into(),
            json!({"id": org, "name": "Load Test Inc", "subscription_active": true}),
        )
        .await?;
        // Webhooks, and the records whose changes produce events.
        let grants: Vec<String> = ["webhooks", "records"]
            .iter()
            .flat_map(|a| ["read", "create", "update", "delete"].map(|c| format!("{a}:{c}")))
            .collect();
        let role = admin(
            format!("/api/v1/admin/organizations/{org}/roles"),
            json!({"name": "loader", "grants": grants}),
        )
        .await?;
        let user = admin(
            format!("/api/v1/admin/organizations/{org}/users"),
            json!({"email": "load@example.com", "name": "Load"}),
        )
        .await?;
        let token = admin(
            format!("/api/v1/admin/organizations/{org}/tokens"),
            json!({"user_id": user["id"], "role_id": role["id"], "label": "load"}),
        )
        .await?;
        let token = token["token"].as_str().ok_or("no token")?.to_owned();
        let agency = self
            .call(
                Method::POST,
                "/api/v1/agencies",
                &token,
                json!({"name": "Acme Insurance", "npn": "1234567"}),
                201,
            )
            .await?;
        let agency = agency["id"].as_str().ok_or("no agency id")?.to_owned();
        let arrivals = Arc::new(Arrivals::default());
        let addr = receiver::start(arrivals.clone()).await?;
        let webhook = self
            .call(
                Method::POST,
                "/api/v1/webhooks",
                &token,
                json!({"webhook_type": "entity_compliance_data_synchronized",
                       "url": format!("http://{addr}/hook")}),
                201,
            )
            .await?;
        arrivals.trust(webhook["secret"].as_str().ok_or("no secret")?)?;
        Ok(Target {
            token,
            agency,
            arrivals,
        })
    }

    /// Stops the server (SIGTERM, then kill) and drops its database.
    pub async fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status()
            .await;
        if tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
        self.cleanup.run().await;
    }
}

/// The HTTP client a run's requests go through: no proxy, and enough idle connections for the
/// burst's clients.
pub(crate) fn client() -> Result<reqwest::Client, Error> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(256)
        .build()?)
}

/// Waits up to `within` for a `GET` of `url` to answer success (a server starting up).
pub(crate) async fn wait_for_success(
    http: &reqwest::Client,
    url: &str,
    within: Duration,
) -> Result<(), Error> {
    let started = Instant::now();
    loop {
        let up = http
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if up {
            return Ok(());
        }
        if started.elapsed() > within {
            return Err(format!("{url} did not answer success within {within:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn psql(url: &str, sql: &str) -> Result<(), Error> {
    let output = Command::new("psql")
        .arg(url)
        .arg("-v")
        .arg("ON_ERROR_STOP=1")
        .arg("-qc")
        .arg(sql)
        .output()
        .await
        .map_err(|e| format!("running psql (needed for --database postgres): {e}"))?;
    if !output.status.success() {
        return Err(format!("psql: {}", String::from_utf8_lossy(&output.stderr).trim()).into());
    }
    Ok(())
}
