//! What every suite shares: [`db::TestDb`] (a fresh SQLite or PostgreSQL database),
//! [`app::TestApp`] (the real server on `127.0.0.1:0` with the HubSpot sandbox), and
//! [`both_databases!`], which runs a test on SQLite and on PostgreSQL.
//!
//! The PostgreSQL variants need the server at `TURRIS_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). When it does not answer they are skipped,
//! with one line on stderr saying so, so `cargo test` passes on any machine; with
//! `TURRIS_TEST_REQUIRE_POSTGRES=1` (as `.ci/run` sets) an unreachable server fails them.

#![allow(dead_code, unused_macros, unused_imports)]

#[macro_use]
pub mod app;
pub mod db;

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::OnceLock;
use std::time::Duration;

/// Polls `check` until it returns `Some`, for at most a generous minute.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether this PostgreSQL variant should return without running: the server does not answer
/// and PostgreSQL is not required.
pub fn skip_postgres() -> bool {
    static REACHABLE: OnceLock<bool> = OnceLock::new();
    let reachable = *REACHABLE.get_or_init(|| {
        let reachable = postgres_answers(&db::postgres_url());
        if !reachable && !postgres_required() {
            let _ = writeln!(
                std::io::stderr(),
                "PostgreSQL at TURRIS_TEST_POSTGRES_URL does not answer: the PostgreSQL \
                 variants of the tests are skipped (set TURRIS_TEST_REQUIRE_POSTGRES=1 to fail \
                 them instead)"
            );
        }
        reachable
    });
    if !reachable && postgres_required() {
        panic!("PostgreSQL at TURRIS_TEST_POSTGRES_URL does not answer, and it is required");
    }
    !reachable
}

fn postgres_required() -> bool {
    std::env::var("TURRIS_TEST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1" || v == "true")
}

fn postgres_answers(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    let host = url.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = url.port().unwrap_or(5432);
    let Ok(addrs) = (host.as_str(), port).to_socket_addrs() else {
        return false;
    };
    addrs
        .into_iter()
        .any(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok())
}

/// Runs a test on SQLite and on PostgreSQL (the PostgreSQL one skipped as [`skip_postgres`]
/// says). Three forms:
///
/// - `both_databases!(db: check_a, check_b)` for `async fn check_a(db: &TestDb)`: makes
///   `sqlite::check_a` and `postgres::check_a`;
/// - `both_databases!(backend: name)` for `async fn name(backend: Backend)`: makes
///   `name::on_sqlite` and `name::on_postgres`;
/// - `both_databases!(app(setup): async fn name(app) { ... })`, with `setup` an async
///   function of a `Backend` returning an app with `finish()`: makes `name::on_sqlite` and
///   `name::on_postgres`, each running the body against a fresh app.
macro_rules! both_databases {
    (db: $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::support::db::TestDb::fresh(turris_server::store::Backend::Sqlite).await;
                    super::$name(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if $crate::support::skip_postgres() {
                        return;
                    }
                    let db = $crate::support::db::TestDb::fresh(turris_server::store::Backend::Postgres).await;
                    super::$name(&db).await;
                }
            )*
        }
    };
    (backend: $name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                super::$name(turris_server::store::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                if $crate::support::skip_postgres() {
                    return;
                }
                super::$name(turris_server::store::Backend::Postgres).await;
            }
        }
    };
    (app($setup:path): $(#[$meta:meta])* async fn $name:ident($app:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: &$crate::support::app::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                let app = $setup(turris_server::store::Backend::Sqlite).await;
                run(&app).await;
                app.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                if $crate::support::skip_postgres() {
                    return;
                }
                let app = $setup(turris_server::store::Backend::Postgres).await;
                run(&app).await;
                app.finish().await;
            }
        }
    };
}
pub(crate) use both_databases;
