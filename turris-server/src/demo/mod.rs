//! `turris-server demo`: the whole product on one machine, in one command.
//!
//! It starts the built-in HubSpot sandbox, a receiver that verifies `X-Turris-Signature`, and
//! the reference server on SQLite in a data folder (a fresh database each run), then works
//! through the server's public API as an operator would: a demo organization and token, HubSpot
//! connected through the real OAuth flow, a mapping, sync toggles and invitation rules, webhook
//! endpoints. It then plays a person in HubSpot (companies and contacts created and edited in
//! the sandbox, whose webhooks reach `/hooks/hubspot` signed), pushes an agency the other way,
//! and changes a compliance status in Turris, whose signed webhook the receiver verifies. Each
//! step prints when it is done; a summary says what happened, and the server keeps serving
//! (with its URLs and the token printed) until Ctrl-C, or exits with `--exit-when-done`.
//!
//! The demo always uses the sandbox, whatever `TURRIS_HUBSPOT_*` says: it needs to act as a
//! person in HubSpot, which only the sandbox allows.

mod api;
pub mod receiver;
mod report;
mod steps;

pub use api::{Api, eventually};
use report::{Progress, summary};
pub use steps::connect;
use steps::{Demo, configure};

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use tokio::sync::watch;
use turris_hubspot_sandbox::Sandbox;

use crate::app::Application;
use crate::config::{Config, DemoArgs, TokenCreate};
use crate::crypto::EncryptionKey;
use receiver::Receiver;

/// How long the demo waits for any one thing to happen before it gives up.
const PATIENCE: Duration = Duration::from_secs(90);

/// The integrations API.
const H: &str = "/api/v1/integrations/hubspot";

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DemoError(String);

fn fail(message: impl Into<String>) -> DemoError {
    DemoError(message.into())
}

/// Runs the demo with the command line's settings (`--listen`, `--log`, ...).
pub async fn run(base: Config, args: DemoArgs) -> Result<(), DemoError> {
    let (stop, stopped) = watch::channel(false);
    let signal = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let mut progress = Progress::new(STEPS);
    println!(
        "Turris Integrations demo: the reference server, the HubSpot sandbox and a webhook receiver.\n"
    );

    progress.start(STEPS[0]);
    let sandbox = progress.check(
        Sandbox::builder()
            .start()
            .await
            .map_err(|e| fail(format!("the sandbox cannot start: {e}"))),
    )?;
    progress.done(format!(
        "{} (portal {})",
        sandbox.base_url(),
        sandbox.portal_id()
    ));

    progress.start(STEPS[1]);
    let receiver = progress.check(
        Receiver::start(signal())
            .await
            .map_err(|e| fail(format!("the receiver cannot start: {e}"))),
    )?;
    progress.done(receiver.url().to_owned());

    progress.start(STEPS[2]);
    let (config, server) = progress.check(start_server(base, &args, &sandbox, signal()).await)?;
    let base_url = config.public_base_url.clone();
    progress.done(format!(
        "{base_url}, database {}",
        args.data_dir.join("turris.db").display()
    ));

    let outcome = script(&mut progress, &config, &sandbox, &receiver).await;
    let serve = match outcome {
        Ok(api) => {
            progress.finished();
            summary(&api, &sandbox, &receiver).await?;
            if args.exit_when_done { None } else { Some(api) }
        }
        Err(e) => {
            progress.failed(&e);
            let _ = stop.send(true);
            let _ = server.await;
            sandbox.shutdown().await;
            return Err(e);
        }
    };
    if let Some(api) = serve {
        print_try_it(&api, &config, &sandbox, &receiver).await;
        crate::app::shutdown_signal().await;
    }
    let _ = stop.send(true);
    server
        .await
        .map_err(|e| fail(format!("the server stopped badly: {e}")))?;
    sandbox.shutdown().await;
    Ok(())
}

/// How to try the demo that keeps serving: the console link, the API and its token, the
/// sandbox's UI and the receiver.
async fn print_try_it(api: &Api, config: &Config, sandbox: &Sandbox, receiver: &Receiver) {
    let base_url = &config.public_base_url;
    println!("\nStill serving; try it:");
    let token = crate::crypto::ApiToken::from_presented(api.token.clone());
    match crate::cli::console_link(config, &token).await {
        Ok(link) => println!("  Console       {link}  (one-time sign-in link, 15 minutes)"),
        Err(e) => println!("  Console       {base_url}/console  (no sign-in link: {e})"),
    }
    println!("  API           {base_url}  (OpenAPI: {base_url}/api/v1/openapi.json)");
    println!("  Token         export TOKEN={}", api.token);
    println!("  Then          curl -H \"Authorization: Bearer $TOKEN\" {base_url}/api/v1/agencies");
    println!(
        "  HubSpot       {}/_sandbox/ui  (edit a company of type Partner, then read {base_url}{H}/activity)",
        sandbox.base_url()
    );
    println!("  Receiver      {}", receiver.url());
    println!("Press Ctrl-C to stop.");
}

/// The steps, in order.
const STEPS: &[&str] = &[
    "Start the HubSpot sandbox",
    "Start a webhook receiver that verifies X-Turris-Signature",
    "Start the reference server on SQLite",
    "Create the demo organization and its admin token",
    "Connect HubSpot through OAuth",
    "Configure the field mapping, sync toggles and invitation rules",
    "Wait for HubSpot's webhook subscriptions to go live",
    "Register webhook endpoints for the receiver",
    "Create companies and contacts in HubSpot, as a person would",
    "Edit companies in HubSpot",
    "Create an agency in Turris and push it to HubSpot",
    "Add an agency contact in Turris, releasing the deferred invitation",
    "Change compliance statuses in Turris and deliver signed webhooks",
];

/// Steps 4 to the end, through the server's public API.
async fn script(
    progress: &mut Progress,
    config: &Config,
    sandbox: &Sandbox,
    receiver: &Receiver,
) -> Result<Api, DemoError> {
    progress.start(STEPS[3]);
    let args = TokenCreate {
        organization: "demo".to_owned(),
        user: "admin@demo.example".to_owned(),
        role: "admin".to_owned(),
        name: "demo".to_owned(),
        login_link: false,
        expires_in: None,
    };
    let token = crate::cli::create_token(config, &args)
        .await
        .map_err(|e| fail(format!("cannot create the token: {e}")))?;
    let api = Api::new(&config.public_base_url, token.expose())?;
    progress.done("organization `demo`, user admin@demo.example, role admin".to_owned());
    progress.start(STEPS[4]);
    let portal = connect(&api).await?;
    progress.done(format!("portal {portal}, tokens stored encrypted"));
    progress.start(STEPS[5]);
    configure(&api, sandbox).await?;
    progress.done(
        "agencies: companies of type Partner; agents: their contacts; invitations by contract rules"
            .to_owned(),
    );
    let demo = Demo {
        api: &api,
        sandbox,
        receiver,
    };
    progress.start(STEPS[6]);
    progress.done(demo.wait_until_live().await?);
    progress.start(STEPS[7]);
    progress.done(demo.register_endpoints().await?);
    progress.start(STEPS[8]);
    let (people, done) = demo.sync_new_people().await?;
    progress.done(done);
    progress.start(STEPS[9]);
    progress.done(demo.sync_edits(&people).await?);
    progress.start(STEPS[10]);
    progress.done(demo.push_agency().await?);
    progress.start(STEPS[11]);
    progress.done(demo.release_invitation().await?);
    progress.start(STEPS[12]);
    progress.done(demo.deliver_compliance().await?);
    Ok(api)
}

/// Starts the server on the data folder's fresh SQLite database, its HubSpot settings pointed
/// at the sandbox, and the sandbox's webhooks pointed at the server.
async fn start_server(
    mut config: Config,
    args: &DemoArgs,
    sandbox: &Sandbox,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(Config, tokio::task::JoinHandle<()>), DemoError> {
    let key = prepare_data_dir(&args.data_dir)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| {
            fail(format!(
                "cannot listen on {}: {e} (pick another address with --listen)",
                config.listen
            ))
        })?;
    let mut addr = listener
        .local_addr()
        .map_err(|e| fail(format!("no local address: {e}")))?;
    if addr.ip().is_unspecified() {
        addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port());
    }
    config.database_url = format!(
        "sqlite://{}?mode=rwc",
        args.data_dir.join("turris.db").display()
    );
    config.encryption_key = Some(key.to_hex());
    config.encryption_key_file = None;
    config.admin_token = None;
    config.public_base_url = format!("http://{addr}");
    config.hubspot.client_id = Some(sandbox.client_id().to_owned());
    config.hubspot.client_secret = Some(sandbox.client_secret().to_owned());
    config.hubspot.app_id = Some(sandbox.app_id());
    config.hubspot.developer_api_key = Some(sandbox.developer_api_key().to_owned());
    config.hubspot.redirect_url = None;
    config.hubspot.api_base = sandbox.base_url().to_owned();
    config.hubspot.authorize_base = sandbox.base_url().to_owned();
    // The demo's receiver is on loopback, whatever address the demo listens on; the demo is
    // never a production server (production builds leave its feature out).
    config.webhook_allow_loopback = crate::config::AllowLoopback::Force;
    // A short quiet window, so the compliance webhook goes out within seconds.
    config.delivery.debounce_quiet = Duration::from_secs(2);
    config.delivery.debounce_max_wait = Duration::from_secs(20);
    config.delivery.debounce_tick = Duration::from_millis(250);
    let app = Application::build_on(listener, config.clone())
        .await
        .map_err(|e| fail(format!("the server cannot start: {e}")))?;
    sandbox
        .control()
        .set_webhook_target(Some(&format!("{}/hooks/hubspot", config.public_base_url)));
    let server = tokio::spawn(async move {
        if let Err(e) = app.run_until(shutdown).await {
            eprintln!("error: the server stopped: {e}");
        }
    });
    Ok((config, server))
}

/// Creates the data folder, removes the previous run's database, and writes a fresh key to a
/// file created readable by its owner only (mode 0600 from its first byte, never chmod after).
pub fn prepare_data_dir(dir: &Path) -> Result<EncryptionKey, DemoError> {
    let io = |e: std::io::Error| fail(format!("data folder {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    for name in ["turris.db", "turris.db-wal", "turris.db-shm"] {
        match std::fs::remove_file(dir.join(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => {}
        }
    }
    let key = EncryptionKey::generate().map_err(|e| fail(e.to_string()))?;
    let path = dir.join("encryption-key");
    // A previous run's file keeps its mode when rewritten: remove it, then create anew.
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        _ => {}
    }
    let mut file = crate::files::create_private(&path).map_err(io)?;
    std::io::Write::write_all(&mut file, key.to_hex().as_bytes()).map_err(io)?;
    Ok(key)
}
