//! The system under test: a fresh database, one or two `turris-server` processes on it (each
//! on a fixed port, so a replica killed with SIGKILL comes back where HubSpot's webhooks and
//! the harness expect it), and a read-only view of the database for the checker.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use sqlx::Row;
use tokio::process::{Child, Command};
use turris_hubspot_sandbox::Sandbox;

use super::{Database, Error, Options};

const ADMIN_TOKEN: &str = "turris-sync-sim-admin-token-0123456789";

/// How a server process is started: a program and the arguments before the configuration
/// (`turris-server serve`, or `turris-sync-sim replica`, which runs the same code).
#[derive(Debug, Clone)]
pub struct ServerCommand {
    /// The program.
    pub program: PathBuf,
    /// Its leading arguments.
    pub args: Vec<String>,
}

/// One replica: its port and, while it runs, its process.
struct Replica {
    port: u16,
    child: Option<Child>,
}

/// The database, the replicas and the environment they share.
pub struct Cluster {
    command: ServerCommand,
    env: Vec<(String, String)>,
    replicas: Vec<Replica>,
    /// The database, for the checker and for id lookups.
    pub db: DbView,
    /// The URL the replicas use.
    pub database_url: String,
    /// The encryption key the replicas use (hex).
    pub key: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Folder(PathBuf),
    PgDatabase { admin_url: String, name: String },
}

impl Cluster {
    /// A fresh database and `options.replicas` running servers against `sandbox`.
    pub async fn start(options: &Options, sandbox: &Sandbox) -> Result<Self, Error> {
        let tag = format!(
            "{}_{}_{}",
            std::process::id(),
            options.seed,
            chrono::Utc::now().timestamp_millis()
        );
        let (database_url, cleanup) = fresh_database(options, &tag).await?;
        let mut ports = Vec::new();
        for _ in 0..options.replicas.max(1) {
            ports.push(
                std::net::TcpListener::bind("127.0.0.1:0")?
                    .local_addr()?
                    .port(),
            );
        }
        let key = turris_server::crypto::EncryptionKey::generate()?.to_hex();
        let public = format!("http://127.0.0.1:{}", ports[0]);
        let env = [
            ("TURRIS_DATABASE_URL", database_url.clone()),
            ("TURRIS_ENCRYPTION_KEY", key.clone()),
            ("TURRIS_ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
            ("TURRIS_RATE_LIMIT_PER_SECOND", "0".to_owned()),
            ("TURRIS_PUBLIC_BASE_URL", public),
            ("TURRIS_LOG", "error".to_owned()),
            ("TURRIS_HUBSPOT_CLIENT_ID", sandbox.client_id().to_owned()),
            (
                "TURRIS_HUBSPOT_CLIENT_SECRET",
                sandbox.client_secret().to_owned(),
            ),
            ("TURRIS_HUBSPOT_APP_ID", sandbox.app_id().to_string()),
            (
                "TURRIS_HUBSPOT_DEVELOPER_API_KEY",
                sandbox.developer_api_key().to_owned(),
            ),
            ("TURRIS_HUBSPOT_API_BASE", sandbox.base_url().to_owned()),
            (
                "TURRIS_HUBSPOT_AUTHORIZE_BASE",
                sandbox.base_url().to_owned(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let mut cluster = Self {
            command: options.server.clone(),
            env,
            replicas: ports
                .into_iter()
                .map(|port| Replica { port, child: None })
                .collect(),
            db: DbView::connect(&database_url).await?,
            database_url,
            key,
            cleanup,
        };
        // The first replica migrates the database before the others start.
        for i in 0..cluster.replicas.len() {
            cluster.start_replica(i).await?;
        }
        Ok(cluster)
    }

    /// How many replicas there are.
    pub fn replicas(&self) -> usize {
        self.replicas.len()
    }

    /// `http://127.0.0.1:port` of replica `i`.
    pub fn base(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.replicas[i].port)
    }

    /// Whether replica `i` runs.
    pub fn is_up(&self, i: usize) -> bool {
        self.replicas[i].child.is_some()
    }

    /// Starts replica `i` (again) on its port and waits until it is ready.
    pub async fn start_replica(&mut self, i: usize) -> Result<(), Error> {
        let port = self.replicas[i].port;
        let mut command = Command::new(&self.command.program);
        command
            .args(&self.command.args)
            .env("TURRIS_LISTEN", format!("127.0.0.1:{port}"))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let child = command
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.command.program.display()))?;
        self.replicas[i].child = Some(child);
        let http = reqwest::Client::builder().no_proxy().build()?;
        let started = Instant::now();
        loop {
            let ready = http
                .get(format!("{}/readyz", self.base(i)))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return Ok(());
            }
            if let Some(child) = self.replicas[i].child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!("replica {i} exited at start: {status}").into());
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err(format!("replica {i} was not ready within 60 s").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `kill -9` replica `i`: no shutdown, no lease given back.
    pub async fn kill_replica(&mut self, i: usize) {
        if let Some(mut child) = self.replicas[i].child.take() {
            // tokio's kill sends SIGKILL.
            let _ = child.kill().await;
        }
    }

    /// Stops every replica (SIGKILL: the run is over) and drops the database unless `keep`.
    pub async fn stop(mut self, keep: bool) {
        for i in 0..self.replicas.len() {
            self.kill_replica(i).await;
        }
        self.db.close().await;
        if keep {
            return;
        }
        match &self.cleanup {
            Cleanup::Folder(folder) => {
                let _ = std::fs::remove_dir_all(folder);
            }
            Cleanup::PgDatabase { admin_url, name } => {
                if let Ok(admin) = sqlx::PgPool::connect(admin_url).await {
                    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    if let Err(e) = sqlx::query(&drop).execute(&admin).await {
                        eprintln!("dropping {name}: {e}");
                    }
                    admin.close().await;
                }
            }
        }
    }
}

/// Read access to the database the replicas share; every column is read as text.
pub enum DbView {
    /// SQLite.
    Sqlite(sqlx::SqlitePool),
    /// PostgreSQL.
    Postgres(sqlx::PgPool),
}

impl DbView {
    async fn connect(url: &str) -> Result<Self, Error> {
        Ok(if url.starts_with("sqlite") {
            Self::Sqlite(
                sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(2)
                    .connect(url)
                    .await?,
            )
        } else {
            Self::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(2)
                    .connect(url)
                    .await?,
            )
        })
    }

    /// The rows of `sql`, each column `CAST(... AS TEXT)` by the caller where it is not text.
    pub async fn rows(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, Error> {
        fn read<R: Row>(row: &R) -> Result<Vec<Option<String>>, sqlx::Error>
        where
            usize: sqlx::ColumnIndex<R>,
            for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        {
            (0..row.len()).map(|i| row.try_get(i)).collect()
        }
        Ok(match self {
            Self::Sqlite(pool) => sqlx::query(sql)
                .fetch_all(pool)
                .await?
                .iter()
                .map(read)
                .collect::<Result<_, _>>()?,
            Self::Postgres(pool) => sqlx::query(sql)
                .fetch_all(pool)
                .await?
                .iter()
                .map(read)
                .collect::<Result<_, _>>()?,
        })
    }

    /// The single number `sql` selects (`CAST(COUNT(*) AS TEXT)` and the like).
    pub async fn number(&self, sql: &str) -> Result<i64, Error> {
        let rows = self.rows(sql).await?;
        let value = rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .unwrap_or_default();
        Ok(value.parse().unwrap_or(0))
    }

    async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// A fresh, empty database for the run named `tag`, and how to remove it afterwards.
async fn fresh_database(options: &Options, tag: &str) -> Result<(String, Cleanup), Error> {
    Ok(match options.database {
        Database::Sqlite => {
            let folder = std::env::temp_dir().join(format!("turris-sync-sim-{tag}"));
            std::fs::create_dir_all(&folder)?;
            (
                format!("sqlite://{}?mode=rwc", folder.join("turris.db").display()),
                Cleanup::Folder(folder),
            )
        }
        Database::Postgres => {
            let name = format!("turris_sim_{tag}");
            let admin = sqlx::PgPool::connect(&options.postgres_url).await?;
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&admin)
                .await?;
            admin.close().await;
            let mut url = reqwest::Url::parse(&options.postgres_url)?;
            url.set_path(&name);
            (
                url.to_string(),
                Cleanup::PgDatabase {
                    admin_url: options.postgres_url.clone(),
                    name,
                },
            )
        }
    })
}
