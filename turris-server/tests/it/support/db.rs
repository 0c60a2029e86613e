//! Fresh test databases: a SQLite file in a temporary folder, or a new PostgreSQL database on
//! the server at `TURRIS_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
//!
//! Each [`TestDb`] is migrated and empty. A PostgreSQL database is dropped (`WITH (FORCE)`)
//! when the `TestDb` is dropped, even after a failed assertion; a SQLite folder is deleted.

use std::path::PathBuf;

use turris_server::crypto::EncryptionKey;
use turris_server::store::{Backend, Database, SqlStore};

/// The PostgreSQL server the suite uses.
pub fn postgres_url() -> String {
    std::env::var("TURRIS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A fresh, migrated database.
pub struct TestDb {
    /// Its URL.
    pub url: String,
    /// Which backend.
    pub backend: Backend,
    /// The SQLite file, for raw-bytes checks.
    pub sqlite_file: Option<PathBuf>,
    /// A pool on it, already migrated.
    pub database: Database,
    /// The key its stores seal secrets with.
    pub key: EncryptionKey,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh database on `backend`, migrated.
    pub async fn fresh(backend: Backend) -> Self {
        let (url, sqlite_file, pg_name, dir) = match backend {
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
                let admin = postgres_url();
                let name = format!("turris_test_{}", uuid::Uuid::new_v4().simple());
                let pool = sqlx::PgPool::connect(&admin).await.expect(
                    "PostgreSQL at TURRIS_TEST_POSTGRES_URL (start it with \
                     `pg_ctlcluster --skip-systemctl-redirect 15 main start`)",
                );
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&pool)
                    .await
                    .expect("create test database");
                pool.close().await;
                let mut url = url::Url::parse(&admin).expect("valid postgres url");
                url.set_path(&name);
                (url.to_string(), None, Some(name), None)
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
            pg_name,
            _dir: dir,
        }
    }

    /// A store on this database, with this database's key.
    pub fn store(&self) -> SqlStore {
        SqlStore::new(self.database.clone(), &self.key)
    }

    /// Another pool on the same database (a second server process, in effect).
    pub async fn second_store(&self) -> SqlStore {
        let database = Database::connect(&self.url).await.expect("connect");
        SqlStore::new(database, &self.key)
    }

    /// Every byte the database holds, as lossy text: the SQLite files (with WAL), or every
    /// PostgreSQL row of every table as its text form.
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
        let pool = sqlx::PgPool::connect(&self.url).await.expect("connect");
        let tables: Vec<(String,)> = sqlx::query_as(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
        )
        .fetch_all(&pool)
        .await
        .expect("list tables");
        let mut out = String::new();
        for (table,) in tables {
            let rows: Vec<(String,)> =
                sqlx::query_as(&format!("SELECT CAST(t AS TEXT) FROM \"{table}\" t"))
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
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop runs inside the test's runtime: drop the database from a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if let Ok(pool) = sqlx::PgPool::connect(&postgres_url()).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&pool)
                        .await;
                    pool.close().await;
                }
            });
        })
        .join();
    }
}
