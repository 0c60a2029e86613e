//! The CI run of the sync simulation: a short fixed-seed run on SQLite (one replica, killed and
//! restarted) and on PostgreSQL (two replicas, one killed -9 and restarted), each required to
//! end with every invariant holding. The PostgreSQL run is skipped, with one line saying so,
//! when no server answers at `TURRIS_TEST_POSTGRES_URL`, unless `TURRIS_TEST_REQUIRE_POSTGRES=1`.

use std::path::PathBuf;
use std::time::Duration;

use turris_load::sim::{self, Database, Options, ServerCommand};

const OPS: usize = 200;

fn options(seed: u64, database: Database, replicas: usize, postgres_url: String) -> Options {
    Options {
        seed,
        ops: OPS,
        database,
        postgres_url,
        replicas,
        kill: true,
        // The replicas run the server's own `serve` through this crate's binary.
        server: ServerCommand {
            program: PathBuf::from(env!("CARGO_BIN_EXE_turris-sync-sim")),
            args: vec!["replica".to_owned()],
        },
        settle: Duration::from_secs(60),
        verbose: false,
        keep: false,
    }
}

async fn run(options: Options) {
    let report = sim::run(&options).await.expect("the simulation ran");
    println!("{report}");
    assert!(
        report.tally.kills > 0,
        "the run killed a replica:\n{report}"
    );
    assert!(report.passed(), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_seeded_run_on_sqlite_keeps_every_invariant() {
    run(options(17, Database::Sqlite, 1, String::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_seeded_run_with_two_replicas_on_postgresql_keeps_every_invariant() {
    let url = std::env::var("TURRIS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let required = std::env::var("TURRIS_TEST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    let reachable = tokio::time::timeout(Duration::from_secs(5), sqlx::PgPool::connect(&url))
        .await
        .is_ok_and(|pool| pool.is_ok());
    if !reachable {
        assert!(
            !required,
            "TURRIS_TEST_REQUIRE_POSTGRES=1 but no PostgreSQL answers at {url}"
        );
        println!("skipped: no PostgreSQL server at {url} (set TURRIS_TEST_POSTGRES_URL)");
        return;
    }
    run(options(17, Database::Postgres, 2, url)).await;
}
