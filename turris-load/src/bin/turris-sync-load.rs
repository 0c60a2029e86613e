//! Run with `cargo run --release -p turris-load --bin turris-sync-load` (options: `--companies`,
//! `--agencies`, `--clients`; `--help` lists them).
//!
//! Measures two-way HubSpot sync against the HubSpot sandbox with HubSpot's public-app rate
//! limits on (110 requests per rolling 10 s, search 5/s), the reference server on SQLite in
//! this process:
//!
//! - **inbound**: N companies created in the sandbox at once (as an import would) until N
//!   agencies exist in Turris: records and webhook events per second, HubSpot calls per record;
//! - **outbound**: M agencies created through the public API by concurrent clients, with agency
//!   outbound on, until each is linked to a HubSpot company, and until their echoes are
//!   recognised (no agency created twice): records per second, calls per record.
//!
//! The sandbox counts every call the server makes and every 429 it answers.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use clap::Parser;
use futures::StreamExt;
use serde_json::json;
use sqlx::Row;
use turris_hubspot_sandbox::{ObjectKind, Sandbox, Stats};
use turris_server::app::Application;
use turris_server::config::{Config, TokenCreate};
use turris_server::crypto::EncryptionKey;
use turris_server::demo::{Api, connect};
use turris_server::store::sql::Pools;

/// Two-way sync throughput against the HubSpot sandbox.
#[derive(Debug, Parser)]
#[command(name = "turris-sync-load", about)]
struct Args {
    /// Companies created in HubSpot for the inbound phase.
    #[arg(long, default_value_t = 1_000)]
    companies: usize,
    /// Agencies created through the API for the outbound phase.
    #[arg(long, default_value_t = 1_000)]
    agencies: usize,
    /// Concurrent API clients in the outbound phase.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Longest wait for a phase, in seconds.
    #[arg(long, default_value_t = 600)]
    deadline_secs: u64,
    /// How HubSpot's changes reach the server: `webhooks` (HubSpot posts them) or `journal`
    /// (the server polls HubSpot's webhooks journal; no webhook is sent).
    #[arg(long, default_value = "webhooks", value_parser = ["webhooks", "journal"])]
    inbound: String,
    /// How often the server reads the journal in `--inbound journal`, in milliseconds.
    #[arg(long, default_value_t = 250)]
    journal_poll_ms: u64,
    /// Single companies created one at a time after the bulk phases, each timed from its
    /// creation in HubSpot to its agency in Turris.
    #[arg(long, default_value_t = 50)]
    latency_samples: usize,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args = Args::parse();
    let deadline = Duration::from_secs(args.deadline_secs);
    let sandbox = Sandbox::builder().start().await?;
    let dir = std::env::temp_dir().join(format!("turris-sync-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (api, state, stop, server) = start(&sandbox, &dir, &args).await?;
    let control = sandbox.control();
    configure(&api, &args.inbound).await?;
    let pools = state.database().pools().clone();

    let (inbound, inbound_events, inbound_stats) =
        inbound_phase(&control, &pools, args.companies, deadline).await?;
    let out = outbound_phase(&api, &control, &pools, &args, deadline).await?;
    let latencies = latency(&control, &pools, args.latency_samples, deadline).await?;

    println!(
        "| phase | records | wall time | records/s | webhook events | HubSpot calls | calls per record | 429s |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    row(
        "inbound (HubSpot → Turris)",
        args.companies,
        inbound,
        Some(inbound_events),
        &inbound_stats,
    );
    row(
        "outbound (Turris → HubSpot)",
        args.agencies,
        out.took,
        None,
        &out.stats,
    );
    println!();
    for (phase, stats) in [("inbound", &inbound_stats), ("outbound", &out.stats)] {
        let calls: Vec<String> = stats
            .calls
            .iter()
            .map(|(endpoint, n)| format!("{endpoint}: {n}"))
            .collect();
        println!("{phase} calls: {}", calls.join(", "));
    }
    println!(
        "outbound: the API accepted the {} agencies in {:.2} s ({:.0}/s); the last was in HubSpot {:.2} s later",
        args.agencies,
        out.accepted.as_secs_f64(),
        args.agencies as f64 / out.accepted.as_secs_f64(),
        (out.took - out.accepted).as_secs_f64()
    );
    println!(
        "companies pushed: {} of {}; agencies after the echoes: {} (expected {})",
        out.pushed,
        args.agencies,
        out.agencies,
        args.companies + args.agencies
    );
    print_latency(&args.inbound, latencies);
    let _ = stop.send(());
    server.await??;
    sandbox.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    if out.pushed != args.agencies || out.agencies != (args.companies + args.agencies) as i64 {
        return Err("the sync lost or duplicated records".into());
    }
    Ok(())
}

/// The operator's part: the inbound mode, the mapping, the toggles; then waits until every
/// mapped property's webhook is live.
async fn configure(api: &Api, inbound: &str) -> Result<(), Error> {
    if inbound == "journal" {
        api.put(
            "/api/v1/integrations/hubspot/inbound-mode",
            json!({"mode": "journal"}),
        )
        .await?;
    }
    api.put(
        "/api/v1/integrations/hubspot/mapping",
        json!({"agency": {
            "identifier": {"mode": "apply_filter", "property": "type", "operator": "equals", "value": "PARTNER"},
            "name": "name", "city": "city", "state_code": "state", "phone": "phone"
        }}),
    )
    .await?;
    api.put(
        "/api/v1/integrations/hubspot/sync",
        json!({"agency": {"inbound": true, "outbound": true}}),
    )
    .await?;
    turris_server::demo::eventually("subscriptions to go live", || async {
        let status = api
            .get("/api/v1/integrations/hubspot/webhook-status")
            .await
            .ok()?;
        let properties = status["properties"].as_array()?;
        (!properties.is_empty() && properties.iter().all(|p| p["status"] == "live")).then_some(())
    })
    .await?;
    Ok(())
}

/// `companies` partner companies made in HubSpot at once, until each is an agency: the wall
/// time, the webhook events HubSpot sent, and the calls the server made.
async fn inbound_phase(
    control: &turris_hubspot_sandbox::Control,
    pools: &Pools,
    companies: usize,
    deadline: Duration,
) -> Result<(Duration, usize, Stats), Error> {
    control.reset_stats();
    let events_before = control.delivered_events().len();
    let started = Instant::now();
    for i in 0..companies {
        control
            .create_record(
                ObjectKind::Companies,
                [
                    ("name", format!("Inbound Agency {i:05}")),
                    ("type", "PARTNER".to_owned()),
                    ("city", "Albany".to_owned()),
                    ("state", "NY".to_owned()),
                ],
            )
            .map_err(|e| format!("sandbox: {e:?}"))?;
    }
    wait_for(pools, "agencies", companies, deadline).await?;
    let took = started.elapsed();
    control.flush_webhooks().await;
    let events = control.delivered_events().len() - events_before;
    Ok((took, events, control.stats()))
}

/// What the outbound phase measured.
struct Outbound {
    accepted: Duration,
    took: Duration,
    pushed: usize,
    agencies: i64,
    stats: Stats,
}

/// `--agencies` agencies posted by `--clients` API clients, until each is linked to its
/// HubSpot company and the echoes are handled.
async fn outbound_phase(
    api: &Api,
    control: &turris_hubspot_sandbox::Control,
    pools: &Pools,
    args: &Args,
    deadline: Duration,
) -> Result<Outbound, Error> {
    control.reset_stats();
    let companies_before = control.count(ObjectKind::Companies);
    let started = Instant::now();
    let results: Vec<Result<serde_json::Value, _>> = futures::stream::iter(0..args.agencies)
        .map(|i| async move {
            api.post(
                "/api/v1/agencies",
                json!({"name": format!("Outbound Agency {i:05}"), "city": "Austin", "state_code": "TX"}),
            )
            .await
        })
        .buffer_unordered(args.clients)
        .collect()
        .await;
    let accepted = started.elapsed();
    if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
        return Err(format!("creating an agency: {e}").into());
    }
    wait_for(pools, "links", args.companies + args.agencies, deadline).await?;
    let took = started.elapsed();
    let pushed = control.count(ObjectKind::Companies) - companies_before;
    // The echoes: HubSpot's webhooks for our own writes are recognised, never new agencies.
    control.flush_webhooks().await;
    wait_for(pools, "inbound_events_done", 0, deadline).await?;
    Ok(Outbound {
        accepted,
        took,
        pushed,
        agencies: count(pools, "agencies").await?,
        stats: control.stats(),
    })
}

/// p50, p90 and the maximum of the latency samples.
fn print_latency(inbound: &str, mut latencies: Vec<Duration>) {
    latencies.sort();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len().max(1));
        latencies
            .get(i - 1)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "latency, HubSpot create → Turris agency ({inbound} inbound, {} samples): p50 {:.0} ms, p90 {:.0} ms, max {:.0} ms",
        latencies.len(),
        at(0.5),
        at(0.9),
        at(1.0)
    );
}

fn row(phase: &str, records: usize, took: Duration, events: Option<usize>, stats: &Stats) {
    let secs = took.as_secs_f64();
    println!(
        "| {phase} | {records} | {secs:.2} s | {:.0} | {} | {} | {:.3} | {} |",
        records as f64 / secs,
        events.map_or("-".to_owned(), |e| format!(
            "{e} ({:.0}/s)",
            e as f64 / secs
        )),
        stats.total_calls(),
        stats.total_calls() as f64 / records as f64,
        stats.rate_limited
    );
}

/// The server in this process on a fresh SQLite file, HubSpot pointed at the sandbox, with an
/// organization connected through OAuth.
async fn start(
    sandbox: &Sandbox,
    dir: &std::path::Path,
    args: &Args,
) -> Result<
    (
        Api,
        turris_server::app::AppState,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<std::io::Result<()>>,
    ),
    Error,
> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let mut config = Config::local(
        listener.local_addr()?,
        format!("sqlite://{}?mode=rwc", dir.join("turris.db").display()),
    );
    config.encryption_key = Some(EncryptionKey::generate()?.to_hex());
    config.encryption_key_file = None;
    // The tool measures sync, not the per-token request limit.
    config.rate_limit_per_second = 0;
    config.public_base_url = base.clone();
    config.hubspot.client_id = Some(sandbox.client_id().to_owned());
    config.hubspot.client_secret = Some(sandbox.client_secret().to_owned());
    config.hubspot.app_id = Some(sandbox.app_id());
    config.hubspot.developer_api_key = Some(sandbox.developer_api_key().to_owned());
    config.hubspot.api_base = sandbox.base_url().to_owned();
    config.hubspot.authorize_base = sandbox.base_url().to_owned();
    config.hubspot.journal_poll = Duration::from_millis(args.journal_poll_ms);
    let app = Application::build_on(listener, config.clone()).await?;
    let state = app.state().clone();
    // In journal mode HubSpot cannot reach the server: no webhook target.
    if args.inbound == "webhooks" {
        sandbox
            .control()
            .set_webhook_target(Some(&format!("{base}/hooks/hubspot")));
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let token = turris_server::cli::create_token(
        &config,
        &TokenCreate {
            organization: "load".to_owned(),
            user: "load@example.com".to_owned(),
            role: "admin".to_owned(),
            name: "load".to_owned(),
            login_link: false,
            expires_in: None,
        },
    )
    .await?;
    let api = Api::new(&base, token.expose())?;
    connect(&api).await?;
    Ok((api, state, stop, server))
}

/// Creates `samples` companies one at a time, each timed until its agency exists in Turris.
async fn latency(
    control: &turris_hubspot_sandbox::Control,
    pools: &Pools,
    samples: usize,
    deadline: Duration,
) -> Result<Vec<Duration>, Error> {
    let mut took = Vec::with_capacity(samples);
    for i in 0..samples {
        let before = count(pools, "agencies").await?;
        let started = Instant::now();
        control
            .create_record(
                ObjectKind::Companies,
                [
                    ("name", format!("Latency Agency {i:05}")),
                    ("type", "PARTNER".to_owned()),
                ],
            )
            .map_err(|e| format!("sandbox: {e:?}"))?;
        while count(pools, "agencies").await? == before {
            if started.elapsed() > deadline {
                return Err(format!("latency sample {i} never arrived").into());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        took.push(started.elapsed());
    }
    Ok(took)
}

/// Rows of `what`: `agencies`, `links`, or `inbound_events_done` (pending inbound events).
async fn count(pools: &Pools, what: &str) -> Result<i64, Error> {
    let sql = match what {
        "agencies" => "SELECT COUNT(*) FROM agencies",
        "links" => "SELECT COUNT(*) FROM links",
        _ => "SELECT COUNT(*) FROM inbound_events WHERE status = 'pending'",
    };
    let row = match pools {
        Pools::Sqlite(pool) => sqlx::query(sql).fetch_one(pool).await?.try_get(0)?,
        Pools::Postgres(pool) => sqlx::query(sql).fetch_one(pool).await?.try_get(0)?,
    };
    Ok(row)
}

/// Polls until `what` counts `expected`, every 20 ms (the wall times are that precise).
async fn wait_for(
    pools: &Pools,
    what: &str,
    expected: usize,
    deadline: Duration,
) -> Result<(), Error> {
    let until = Instant::now() + deadline;
    loop {
        if count(pools, what).await? == expected as i64 {
            return Ok(());
        }
        if Instant::now() > until {
            return Err(format!("{what} never reached {expected}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
