//! The `turris-server` binary: parse the config, then serve, migrate or mint a token.

use clap::Parser;
use turris_server::config::Cli;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    turris_server::cli::init_tracing(&cli.config.log);
    match turris_server::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
