//! `turris-load`: drives a release build of the reference server the way a user's system would
//! and measures webhook delivery end to end.
//!
//! For each database it starts `turris-server` as a child process (so its CPU time and peak
//! RSS can be read from `/proc/<pid>`), creates an organization, a token, an agency and an
//! `entity_compliance_data_synchronized` webhook through the admin and public API, and runs
//! an in-process receiver on loopback that verifies every signature. Then it posts NIPR sync
//! results (delivered immediately) through the public API: steady rates, then a burst with
//! concurrent clients, and reports accepted/s, delivered/s, post → arrival latency, the
//! server's CPU share and CPU per delivered event, the PostgreSQL backends' CPU per delivered
//! event (from `/proc`), and peak RSS.
//!
//! Two yardsticks are measured in the same run, so figures from different machines (or a
//! busy one) compare: the machine's single-core SHA-256 speed, and the harness ceiling, the
//! same receiver fed directly by this tool with turris-webhooks' delivery engine (no server,
//! no database) with as many clients as the burst; each row says what fraction of that
//! ceiling the server delivered.
//!
//! ```text
//! cargo build --release -p turris-server -p turris-load
//! target/release/turris-load --database sqlite --database postgres
//! ```
#![forbid(unsafe_code)]

mod calibrate;
mod phase;
mod proc_stats;
mod receiver;
mod server;
mod svix;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use phase::System;

/// Load test of the Turris reference server's webhook delivery.
#[derive(Debug, Clone, Parser)]
#[command(name = "turris-load", version, about)]
pub struct Args {
    /// Databases to run on (repeat the flag for both).
    #[arg(long = "database", value_enum, default_values_t = [Db::Sqlite])]
    pub databases: Vec<Db>,
    /// PostgreSQL server (a fresh database is created on it and dropped afterwards).
    #[arg(
        long,
        env = "TURRIS_LOAD_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres_url: String,
    /// The `turris-server` binary (default: next to this one).
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// Events in the burst.
    #[arg(long, default_value_t = 20_000)]
    pub burst: usize,
    /// Concurrent clients in the burst.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Steady rates, events per second.
    #[arg(long, value_delimiter = ',', default_values_t = [200, 500])]
    pub rates: Vec<u32>,
    /// How long each steady rate runs, in seconds.
    #[arg(long, default_value_t = 10)]
    pub steady_secs: u64,
    /// Longest wait for the deliveries of a phase, in seconds.
    #[arg(long, default_value_t = 120)]
    pub deadline_secs: u64,
    /// Extra `KEY=VALUE` environment for the server (tuning, e.g.
    /// `TURRIS_DELIVERY_CONCURRENCY=32`).
    #[arg(long = "server-env")]
    pub server_env: Vec<String>,
    /// Write each phase's per-event timeline (post, 201, arrival, in ms from the phase's
    /// start) to `<DIR>/<database>-<phase>.csv`, to see when the slow ones happened.
    #[arg(long, value_name = "DIR")]
    pub latencies: Option<PathBuf>,
    /// A svix-server binary to run the same phases against, for a same-run comparison: it is
    /// started on a fresh database on `--postgres-url` with its in-memory queue and cache (no
    /// Redis), and its CPU and RSS are measured as the Turris server's.
    #[arg(long, value_name = "PATH")]
    pub svix_bin: Option<PathBuf>,
    /// A running svix-server to compare with instead (its CPU and RSS are not measured); it
    /// must allow endpoints on 127.0.0.1 (`SVIX_WHITELIST_SUBNETS=["127.0.0.1/32"]`).
    #[arg(long, value_name = "URL", conflicts_with = "svix_bin")]
    pub svix_url: Option<String>,
    /// The token for `--svix-url` (`svix-server jwt generate`).
    #[arg(long, env = "TURRIS_LOAD_SVIX_TOKEN", hide_env_values = true)]
    pub svix_token: Option<String>,
}

/// A database backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Db {
    /// A SQLite file in a temporary folder.
    Sqlite,
    /// A fresh database on `--postgres-url`.
    Postgres,
}

impl std::fmt::Display for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Db::Sqlite => "SQLite",
            Db::Postgres => "PostgreSQL",
        })
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if let Err(e) = run(args).await {
        eprintln!("turris-load: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), Error> {
    let server_bin = match &args.server_bin {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .ok_or("no folder for the server binary")?
            .join("turris-server"),
    };
    let sha = tokio::task::spawn_blocking(calibrate::sha256_mb_per_sec).await?;
    eprintln!("SHA-256 on one core: {sha:.0} MB/s");
    let ceiling = calibrate::harness_ceiling(args.burst, args.clients).await?;
    eprintln!(
        "harness ceiling (the receiver fed directly, {} clients): {ceiling:.0} events/s",
        args.clients
    );
    let mut rows = Vec::new();
    for db in &args.databases {
        eprintln!("== {db}");
        let server = server::Server::start(&server_bin, *db, &args).await?;
        let result = async {
            let target = server.prepare().await?;
            phases(&args, &db.to_string(), System::Turris(&server, &target)).await
        }
        .await;
        server.stop().await;
        rows.extend(result?);
    }
    let svix = match (&args.svix_bin, &args.svix_url) {
        (Some(bin), _) => Some(svix::Svix::start(bin, &args).await?),
        (None, Some(url)) => {
            let token = args
                .svix_token
                .as_deref()
                .ok_or("--svix-url needs --svix-token (svix-server jwt generate)")?;
            Some(svix::Svix::connect(url, token).await?)
        }
        (None, None) => None,
    };
    if let Some(svix) = svix {
        eprintln!("== {SVIX}");
        let result = async {
            let target = svix.prepare().await?;
            phases(&args, SVIX, System::Svix(&svix, &target)).await
        }
        .await;
        svix.stop().await;
        rows.extend(result?);
    }
    println!(
        "SHA-256 on one core: {sha:.0} MB/s; harness ceiling: {ceiling:.0} events/s\n\n{}\n{}",
        phase::table(&rows, ceiling),
        phase::comparison(&rows, &Db::Postgres.to_string(), SVIX),
    );
    Ok(())
}

/// How svix-server's rows are labelled.
const SVIX: &str = "svix-server (PostgreSQL, memory queue)";

/// The steady rates, then the burst, on `system`; a row per phase, labelled `label`.
async fn phases(
    args: &Args,
    label: &str,
    system: System<'_>,
) -> Result<Vec<(String, phase::Report)>, Error> {
    let deadline = Duration::from_secs(args.deadline_secs);
    let mut loads: Vec<(phase::Load, usize)> = args
        .rates
        .iter()
        .map(|rate| {
            let count = (u64::from(*rate) * args.steady_secs) as usize;
            (phase::Load::Steady { rate: *rate }, count)
        })
        .collect();
    let burst = phase::Load::Burst {
        clients: args.clients,
    };
    loads.push((burst, args.burst));
    let mut rows = Vec::new();
    let mut next = 0usize;
    for (load, count) in loads {
        let report = phase::run(system, load, next, count, deadline).await?;
        record(args, label, next, &report)?;
        next += count;
        rows.push((label.to_owned(), report));
    }
    Ok(rows)
}

/// Prints a phase's summary and, with `--latencies`, writes its timeline.
fn record(args: &Args, label: &str, first: usize, report: &phase::Report) -> Result<(), Error> {
    eprintln!("{}", report.line());
    if let Some(dir) = &args.latencies {
        std::fs::create_dir_all(dir)?;
        let system: String = label
            .split_whitespace()
            .next()
            .unwrap_or(label)
            .to_lowercase();
        let name = format!("{system}-{}.csv", report.slug());
        std::fs::write(dir.join(name), report.timeline_csv(first))?;
    }
    Ok(())
}
