//! The HubSpot sandbox as a standalone command, for the demo and manual exploration.
//!
//! `cargo run -p turris-hubspot-sandbox -- --port 8090`

use std::process::ExitCode;
use std::time::Duration;

use turris_hubspot_sandbox::{RateLimits, Sandbox};

const HELP: &str = "\
turris-hubspot-sandbox: a stateful fake HubSpot on this machine

USAGE:
    turris-hubspot-sandbox [OPTIONS]

OPTIONS:
    --port <N>                 port to listen on (default 8090; 0 picks a free one)
    --host <IP>                address to listen on (default 127.0.0.1)
    --portal-id <N>            hub id of the portal
    --app-id <N>               id of the public app
    --client-id <ID>           OAuth client id (default: random)
    --client-secret <SECRET>   OAuth client secret, also the webhook signing key (default: random)
    --private-app-token <T>    private-app token of the portal (default: random)
    --developer-api-key <K>    developer API key of the webhooks API (default: random)
    --access-token-ttl <SECS>  lifetime of OAuth access tokens (default 1800)
    --webhook-target <URL>     where webhooks are delivered
    --no-rate-limits           do not enforce HubSpot's rate limits
    --demo-data                seed insurance agencies and agents (with npn properties)
    --enforce-scopes           OAuth tokens may only call what their scopes allow
    -h, --help                 print this help
";

fn parse() -> Result<Option<turris_hubspot_sandbox::SandboxBuilder>, String> {
    let mut builder = Sandbox::builder().port(8090);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        builder = match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--port" => builder.port(
                value("--port")?
                    .parse()
                    .map_err(|_| "--port must be a port number".to_string())?,
            ),
            "--host" => builder.host(
                value("--host")?
                    .parse()
                    .map_err(|_| "--host must be an IP address".to_string())?,
            ),
            "--portal-id" => builder.portal_id(
                value("--portal-id")?
                    .parse()
                    .map_err(|_| "--portal-id must be a number".to_string())?,
            ),
            "--app-id" => builder.app_id(
                value("--app-id")?
                    .parse()
                    .map_err(|_| "--app-id must be a number".to_string())?,
            ),
            "--developer-api-key" => builder.developer_api_key(value("--developer-api-key")?),
            "--client-id" => builder.client_id(value("--client-id")?),
            "--client-secret" => builder.client_secret(value("--client-secret")?),
            "--private-app-token" => builder.private_app_token(value("--private-app-token")?),
            "--access-token-ttl" => builder.access_token_ttl(Duration::from_secs(
                value("--access-token-ttl")?
                    .parse()
                    .map_err(|_| "--access-token-ttl must be a number of seconds".to_string())?,
            )),
            "--webhook-target" => builder.webhook_target(value("--webhook-target")?),
            "--no-rate-limits" => builder.rate_limits(RateLimits::disabled()),
            "--demo-data" => builder.demo_data(),
            "--enforce-scopes" => builder.enforce_scopes(),
            other => return Err(format!("unknown argument {other}; see --help")),
        };
    }
    Ok(Some(builder))
}

#[tokio::main]
async fn main() -> ExitCode {
    let builder = match parse() {
        Ok(Some(b)) => b,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let sandbox = match builder.start().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot start the sandbox: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Every value printed here is a fake credential of the local sandbox.
    println!("HubSpot sandbox listening");
    println!("  base URL:           {}", sandbox.base_url());
    println!("  authorize URL:      {}", sandbox.authorize_endpoint());
    println!("  app id:             {}", sandbox.app_id());
    println!("  client id:          {}", sandbox.client_id());
    println!("  client secret:      {}", sandbox.client_secret());
    println!("  developer API key:  {}", sandbox.developer_api_key());
    println!("  portal id:          {}", sandbox.portal_id());
    println!("  private-app token:  {}", sandbox.private_app_token());
    println!("  control API:        {}/_sandbox", sandbox.base_url());
    println!("  HubSpot-like UI:    {}/_sandbox/ui", sandbox.base_url());
    println!("Press Ctrl-C to stop.");
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("error: cannot wait for Ctrl-C: {e}");
    }
    sandbox.shutdown().await;
    ExitCode::SUCCESS
}
