//! The `turris-server` binary: parse the config, then serve, migrate or mint a token.

use clap::Parser;
use turris_server::config::Cli;
#[cfg(feature = "demo")]
use turris_server::config::Command;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    turris_server::cli::init_tracing(&log_filter(&cli));
    match turris_server::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", turris_server::error::ErrorChain(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The demo prints its own progress: its log shows warnings only unless a filter was asked for.
fn log_filter(cli: &Cli) -> String {
    #[cfg(feature = "demo")]
    {
        let asked = std::env::var_os("TURRIS_LOG").is_some()
            || std::env::args().any(|a| a == "--log" || a.starts_with("--log="));
        if matches!(cli.command, Some(Command::Demo(_))) && !asked {
            return "warn".to_owned();
        }
    }
    cli.config.log.clone()
}
