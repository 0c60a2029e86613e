//! Fresh test databases for every suite: a SQLite file in a temporary folder, or a schema of
//! its own in one shared PostgreSQL database on the server at `TURRIS_TEST_POSTGRES_URL`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`), selected with `search_path`.
//!
//! Each [`TestDb`] is migrated and empty, and no other test sees it. A schema rather than a
//! database per test, because creating and dropping a database costs most of a second on a
//! loaded 2-core machine while a schema costs milliseconds. The schema is dropped when the
//! `TestDb` is dropped, even after a failed assertion; a SQLite folder is deleted.

use std::path::PathBuf;

use turris_server::crypto::EncryptionKey;
use turris_server::store::sql::Pools;
use turris_server::store::{Backend, Database, SqlStore};

/// The PostgreSQL server the suite uses.
pub fn postgres_url() -> String {
    std::env::var("TURRIS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The database that holds the suites' PostgreSQL schemas.
const PG_DATABASE: &str = "turris_tests";

/// The URL of [`PG_DATABASE`], created once per test process.
async fn shared_pg_database() -> url::Url {
    static READY: tokio::sync::OnceCell<url::Url> = tokio::sync::OnceCell::const_new();
    READY
        .get_or_init(|| async {
            let admin = postgres_url();
            let pool = sqlx::PgPool::connect(&admin).await.expect(
                "PostgreSQL at TURRIS_TEST_POSTGRES_URL (start it with \
                 `pg_ctlcluster --skip-systemctl-redirect 15 main start`)",
            );
            let exists: Option<(i32,)> =
                sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = $1")
                    .bind(PG_DATABASE)
                    .fetch_optional(&pool)
                    .await
                    .expect("look for the test database");
            if exists.is_none() {
                // Another test process may win the race; either way the database exists.
                let _ = sqlx::query(&format!("CREATE DATABASE {PG_DATABASE}"))
                    .execute(&pool)
                    .await;
            }
            pool.close().await;
            let mut url = url::Url::parse(&admin).expect("valid postgres url");
            url.set_path(PG_DATABASE);
            url
        })
        .await
        .clone()
}

/// A fresh, migrated database.
pub struct TestDb {
    /// Its URL (what a server or a second pool connects to).
    pub url: String,
    /// Which backend.
    pub backend: Backend,
    /// The SQLite file, for raw-bytes checks.
    pub sqlite_file: Option<PathBuf>,
    /// A pool on it, already migrated.
    pub database: Database,
    /// The key its stores seal secrets with.
    pub key: EncryptionKey,
    pg_schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh database on `backend`, migrated.
    pub async fn fresh(backend: Backend) -> Self {
        let (url, sqlite_file, pg_schema, dir) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary folder");
                let file = dir.path().join("turris.db");
                (
                    format!("sqlite://{}?mode=rwc", file.display()),
                    Some(file),
                    None,
                    Some(dir),
                )
            }
            Backend::Postgres => {
                let mut url = shared_pg_database().await;
                let schema = format!("test_{}", uuid::Uuid::new_v4().simple());
                let pool = sqlx::PgPool::connect(url.as_str()).await.expect("connect");
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&pool)
                    .await
                    .expect("create test schema");
                pool.close().await;
                url.query_pairs_mut()
                    .append_pair("options[search_path]", &schema);
                (url.to_string(), None, Some(schema), None)
            }
        };
        let database = Database::connect(&url).await.expect("connect");
        database.migrate().await.expect("migrate");
        Self {
            url,
            backend,
            sqlite_file,
            database,
            key: EncryptionKey::generate().expect("random key"),
            pg_schema,
            _dir: dir,
        }
    }

    /// A store on this database, with this database's key.
    pub fn store(&self) -> SqlStore {
        SqlStore::new(self.database.clone(), &self.key)
    }

    /// Runs `sql` (one or more statements, no parameters) on this database.
    pub async fn execute(&self, sql: &str) {
        match self.database.pools() {
            Pools::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
            Pools::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
        }
        .expect("run SQL");
    }

    /// Another pool on the same database (a second server process, in effect).
    pub async fn second_store(&self) -> SqlStore {
        let database = Database::connect(&self.url).await.expect("connect");
        SqlStore::new(database, &self.key)
    }

    /// Every byte the database holds, as lossy text: the SQLite files (with WAL), or every
    /// PostgreSQL row of every table of its schema as its text form.
    pub async fn raw_contents(&self) -> String {
        if let Some(file) = &self.sqlite_file {
            let mut bytes = Vec::new();
            for suffix in ["", "-wal", "-shm"] {
                if let Ok(b) = std::fs::read(format!("{}{suffix}", file.display())) {
                    bytes.extend(b);
                }
            }
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        let schema = self
            .pg_schema
            .as_deref()
            .expect("a PostgreSQL test database");
        let pool = sqlx::PgPool::connect(&self.url).await.expect("connect");
        let tables: Vec<(String,)> = sqlx::query_as(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
        )
        .bind(schema)
        .fetch_all(&pool)
        .await
        .expect("list tables");
        let mut out = String::new();
        for (table,) in tables {
            let rows: Vec<(String,)> = sqlx::query_as(&format!(
                "SELECT CAST(t AS TEXT) FROM {schema}.\"{table}\" t"
            ))
            .fetch_all(&pool)
            .await
            .expect("dump table");
            for (row,) in rows {
                out.push_str(&row);
                out.push('\n');
            }
        }
        pool.close().await;
        out
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(schema) = self.pg_schema.take() else {
            return;
        };
        // Drop runs inside the test's runtime: drop the schema from a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let mut url = url::Url::parse(&postgres_url()).expect("valid postgres url");
                url.set_path(PG_DATABASE);
                if let Ok(pool) = sqlx::PgPool::connect(url.as_str()).await {
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .execute(&pool)
                        .await;
                    pool.close().await;
                }
            });
        })
        .join();
    }
}
