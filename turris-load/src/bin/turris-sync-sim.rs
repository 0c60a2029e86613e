//! Run with `cargo run --release -p turris-load --bin turris-sync-sim -- --seed 1 --ops 5000`
//! (options: `--database postgres`, `--replicas 2`, `--kill`, `--seeds`; `--help` lists them).
//!
//! The seeded randomized simulation of two-way sync: real server processes (`turris-server
//! serve` next to this binary, or this binary's own `replica` command, which runs the same
//! code) on one database, the HubSpot sandbox in this process, random operations on both sides,
//! webhook chaos, 429 and 5xx bursts and `kill -9` of replicas; after quiescence it checks the
//! invariants and prints a report. A failing run prints its seed; the same seed replays the
//! same operations (the interleaving with the servers' work depends on timing).
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use turris_load::sim::{self, Database, Options, ServerCommand};

/// Seeded randomized simulation of two-way HubSpot sync.
#[derive(Debug, Parser)]
#[command(name = "turris-sync-sim", about)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// The first seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How many seeds, from `--seed` on.
    #[arg(long, default_value_t = 1)]
    seeds: u64,
    /// Operations per seed.
    #[arg(long, default_value_t = 1_000)]
    ops: usize,
    /// The database the replicas share.
    #[arg(long, value_enum, default_value_t = Database::Sqlite)]
    database: Database,
    /// PostgreSQL server for `--database postgres` (a fresh database is made and dropped).
    #[arg(
        long,
        env = "TURRIS_SIM_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres_url: String,
    /// Server processes on the database (2 needs PostgreSQL).
    #[arg(long, default_value_t = 1)]
    replicas: usize,
    /// `kill -9` replicas at random moments (and restart them).
    #[arg(long)]
    kill: bool,
    /// The `turris-server` binary (default: next to this one, else this binary's `replica`).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Keep the database of a failing seed (its URL is printed).
    #[arg(long)]
    keep: bool,
    /// The longest wait for quiescence after the operations, in seconds.
    #[arg(long, default_value_t = 180)]
    settle_secs: u64,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the reference server (`turris-server serve`), configured from `TURRIS_*`.
    #[command(hide = true)]
    Replica,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(Command::Replica) = args.command {
        return runtime.block_on(replica());
    }
    if args.replicas > 1 && args.database == Database::Sqlite {
        eprintln!("error: --replicas 2 needs --database postgres");
        return ExitCode::FAILURE;
    }
    let server = server_command(args.server_bin.clone());
    let mut failed = Vec::new();
    for seed in args.seed..args.seed + args.seeds {
        let options = Options {
            seed,
            ops: args.ops,
            database: args.database,
            postgres_url: args.postgres_url.clone(),
            replicas: args.replicas,
            kill: args.kill,
            server: server.clone(),
            settle: Duration::from_secs(args.settle_secs),
            verbose: true,
            keep: args.keep,
        };
        match runtime.block_on(sim::run(&options)) {
            Ok(report) => {
                println!("{report}\n");
                if !report.passed() {
                    failed.push(seed);
                }
            }
            Err(e) => {
                let mut chain = e.to_string();
                let mut source = e.source();
                while let Some(cause) = source {
                    chain.push_str(&format!(": {cause}"));
                    source = cause.source();
                }
                eprintln!("error: seed {seed}: {chain}");
                return ExitCode::FAILURE;
            }
        }
    }
    if failed.is_empty() {
        println!(
            "{} seed(s) × {} ops: all invariants hold",
            args.seeds, args.ops
        );
        ExitCode::SUCCESS
    } else {
        println!("failing seeds: {failed:?}");
        ExitCode::FAILURE
    }
}

/// `turris-server serve` next to this binary when it was built, else this binary's `replica`.
fn server_command(bin: Option<PathBuf>) -> ServerCommand {
    let me = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("turris-sync-sim"));
    let sibling = me.with_file_name("turris-server");
    match bin.or_else(|| sibling.exists().then_some(sibling)) {
        Some(program) => ServerCommand {
            program,
            args: vec!["serve".to_owned()],
        },
        None => ServerCommand {
            program: me,
            args: vec!["replica".to_owned()],
        },
    }
}

/// The server's own entry point, as `turris-server serve` runs it.
async fn replica() -> ExitCode {
    use turris_server::config::Cli;
    let cli = Cli::parse_from(["turris-server", "serve"]);
    turris_server::cli::init_tracing(&cli.config.log);
    match turris_server::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", turris_server::error::ErrorChain(&e));
            ExitCode::FAILURE
        }
    }
}
