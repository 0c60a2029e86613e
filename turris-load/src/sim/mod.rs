//! The seeded randomized simulation of two-way sync (issue 17): real `turris-server` processes
//! on one database against the HubSpot sandbox, random operations on both sides drawn from a
//! seed, webhook chaos (duplicates, reordering, delays), 429 and 5xx bursts, and `kill -9` of
//! replicas; after quiescence, the invariants of [`check`].
//!
//! The operation sequence is a function of the seed alone ([`ops::sequence`]); what the
//! servers do with it depends on timing (real processes, real sockets), so a failing seed
//! replays the same operations, not necessarily the same interleaving.

pub mod check;
pub mod cluster;
pub mod ops;
mod runner;
mod snapshot;
pub mod world;

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use serde_json::json;
use turris_hubspot_sandbox::{ObjectKind, Sandbox, WebhookChaos};
use turris_server::config::{Config, TokenCreate};
use turris_server::demo::{Api, connect, eventually};

pub use check::{Snapshot, Violation, check};
pub use cluster::ServerCommand;

use cluster::Cluster;
use ops::{Generator, Op};
use runner::Runner;

/// The simulation's error: setup and harness failures (a broken invariant is not an error).
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Which database the replicas share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Database {
    /// A SQLite file.
    Sqlite,
    /// A fresh database on a PostgreSQL server.
    Postgres,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The seed of the operation sequence.
    pub seed: u64,
    /// How many operations.
    pub ops: usize,
    /// The database.
    pub database: Database,
    /// A PostgreSQL server on which a fresh database is made (and dropped).
    pub postgres_url: String,
    /// Server processes on the database.
    pub replicas: usize,
    /// Whether operations include `kill -9` of a replica.
    pub kill: bool,
    /// How a server process is started.
    pub server: ServerCommand,
    /// The longest wait for quiescence after the operations.
    pub settle: Duration,
    /// Progress lines on stderr.
    pub verbose: bool,
    /// Keep the database of a failing run (its URL is printed) for a post-mortem.
    pub keep: bool,
}

/// Counts of what a run did.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Per operation kind: (took effect, had nothing to act on yet or was refused).
    pub effects: BTreeMap<&'static str, (u64, u64)>,
    /// Calls answered by an injected fault (planned).
    pub faults: u64,
    /// Replicas killed.
    pub kills: u64,
}

/// What a run did and found.
#[derive(Debug, Clone)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// Operations carried out.
    pub ops: usize,
    /// The database.
    pub database: Database,
    /// Replicas.
    pub replicas: usize,
    /// What happened.
    pub tally: Tally,
    /// Records on each side at the end: companies, contacts, agencies, agency contacts, links.
    pub records: [usize; 5],
    /// Calls the servers made to HubSpot, and the 429s they got.
    pub hubspot_calls: (u64, u64),
    /// Webhook attempts the sandbox made.
    pub webhook_attempts: usize,
    /// How long the operations and the settling took.
    pub took: (Duration, Duration),
    /// Broken invariants (empty: the run passed).
    pub violations: Vec<Violation>,
}

impl Report {
    /// Whether every invariant held.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [companies, contacts, agencies, agency_contacts, links] = self.records;
        writeln!(
            f,
            "seed {} · {} ops · {:?} · {} replica(s) · {} kill(s) · {} planned faults",
            self.seed, self.ops, self.database, self.replicas, self.tally.kills, self.tally.faults
        )?;
        let effects: Vec<String> = self
            .tally
            .effects
            .iter()
            .map(|(k, (done, not))| format!("{k} {done}/{}", done + not))
            .collect();
        writeln!(f, "operations that took effect: {}", effects.join(", "))?;
        writeln!(
            f,
            "end: {companies} companies, {contacts} contacts in HubSpot; {agencies} agencies, \
             {agency_contacts} agency contacts in Turris; {links} links"
        )?;
        writeln!(
            f,
            "HubSpot calls {} ({} answered 429), webhook attempts {}; ops {:.1} s, settling {:.1} s",
            self.hubspot_calls.0,
            self.hubspot_calls.1,
            self.webhook_attempts,
            self.took.0.as_secs_f64(),
            self.took.1.as_secs_f64()
        )?;
        if self.passed() {
            return write!(f, "all invariants hold");
        }
        writeln!(
            f,
            "FAILED (seed {}): {} violation(s)",
            self.seed,
            self.violations.len()
        )?;
        for v in self.violations.iter().take(40) {
            writeln!(f, "  - {v}")?;
        }
        if self.violations.len() > 40 {
            writeln!(f, "  ... and {} more", self.violations.len() - 40)?;
        }
        Ok(())
    }
}

/// Runs one seed and reports; `Err` only when the harness itself could not run.
pub async fn run(options: &Options) -> Result<Report, Error> {
    let sandbox = Sandbox::builder().start().await?;
    let control = sandbox.control();
    let cluster = Cluster::start(options, &sandbox).await?;
    let token = organization_token(&cluster).await?;
    let api = Api::new(&cluster.base(0), &token)?;
    connect(&api).await?;
    configure(&api, &control).await?;
    let mut runner = Runner::new(control.clone(), cluster, token, options.seed);
    runner.target_webhooks(0);
    let mut chaos = WebhookChaos::default();
    chaos.duplicate = true;
    chaos.reverse = true;
    chaos.delay = Duration::from_millis(300);
    control.set_webhook_chaos(chaos);
    control.reset_stats();

    let started = Instant::now();
    let mut generator = Generator::new(options.seed, runner.cluster.replicas(), options.kill);
    // `TURRIS_SIM_TRACE=1` prints each operation as it starts, to line a failure up with the
    // servers' activity rows.
    let trace = std::env::var_os("TURRIS_SIM_TRACE").is_some();
    for n in 0..options.ops {
        let op: Op = generator.next_op();
        if trace {
            eprintln!(
                "op {n} at {}: {op:?}",
                chrono::Utc::now().format("%H:%M:%S%.3f")
            );
        }
        if let Err(e) = runner.apply(n, &op).await {
            return Err(format!("seed {}: operation {n} ({op:?}): {e}", options.seed).into());
        }
        if options.verbose && (n + 1) % 500 == 0 {
            eprintln!("seed {}: {} operations", options.seed, n + 1);
        }
    }
    let ops_took = started.elapsed();
    let (quiesced, writes_while_quiet, events_while_quiet) = runner.quiesce(options.settle).await?;
    let settle_took = started.elapsed() - ops_took;
    let mut snapshot = runner.snapshot().await?;
    snapshot.quiesced = quiesced;
    snapshot.writes_while_quiet = writes_while_quiet;
    snapshot.events_while_quiet = events_while_quiet;
    let violations = check(&snapshot);
    let stats = control.stats();
    let report = Report {
        seed: options.seed,
        ops: options.ops,
        database: options.database,
        replicas: runner.cluster.replicas(),
        tally: runner.tally.clone(),
        records: [
            snapshot.companies.len(),
            snapshot.contacts.len(),
            snapshot.agencies.len(),
            snapshot.agency_contacts.len(),
            snapshot.links.len(),
        ],
        hubspot_calls: (stats.total_calls(), stats.rate_limited),
        webhook_attempts: control.webhook_attempts().len(),
        took: (ops_took, settle_took),
        violations,
    };
    let keep = options.keep && !report.passed();
    if keep {
        eprintln!(
            "seed {}: database kept: {}",
            options.seed, runner.cluster.database_url
        );
    }
    runner.cluster.stop(keep).await;
    sandbox.shutdown().await;
    Ok(report)
}

/// An admin token of the organization `sim`, minted on the database as `token create` does.
async fn organization_token(cluster: &Cluster) -> Result<String, Error> {
    let addr = "127.0.0.1:0".parse()?;
    let mut config = Config::local(addr, cluster.database_url.clone());
    config.encryption_key = Some(cluster.key.clone());
    config.encryption_key_file = None;
    let token = turris_server::cli::create_token(
        &config,
        &TokenCreate {
            organization: "sim".to_owned(),
            user: "sim@example.com".to_owned(),
            role: "admin".to_owned(),
            name: "sim".to_owned(),
            login_link: false,
            expires_in: None,
        },
    )
    .await?;
    Ok(token.expose().to_owned())
}

/// The portal's custom properties and the operator's settings: partner companies are agencies
/// (standard and custom fields mapped), their contacts agency contacts, both ways; every new
/// agency invited; then waits until every subscription is live.
async fn configure(api: &Api, control: &turris_hubspot_sandbox::Control) -> Result<(), Error> {
    const H: &str = "/api/v1/integrations/hubspot";
    for (name, label) in [("npn", "Agency NPN"), ("producer_code", "Producer code")] {
        control.create_property(
            ObjectKind::Companies,
            json!({"name": name, "label": label, "type": "string", "fieldType": "text"}),
        )?;
    }
    api.put(
        &format!("{H}/mapping"),
        json!({"agency": {
            "identifier": {"mode": "apply_filter", "property": "type", "operator": "equals", "value": "PARTNER"},
            "name": "name", "npn": "npn", "producer_code": "producer_code",
            "phone": "phone", "city": "city", "state_code": "state"
        }}),
    )
    .await?;
    api.put(
        &format!("{H}/sync"),
        json!({"agency": {"inbound": true, "outbound": true},
               "agency_contacts": {"inbound": true, "outbound": true}}),
    )
    .await?;
    api.post(
        "/api/v1/contract-templates",
        json!({"id": "tpl-sim", "name": "Simulation contract"}),
    )
    .await?;
    api.put(
        &format!("{H}/invitations"),
        json!({"mode": "invite_all", "rules": [], "default_template": "tpl-sim"}),
    )
    .await?;
    eventually("subscriptions to go live", || async {
        let status = api.get(&format!("{H}/webhook-status")).await.ok()?;
        let properties = status["properties"].as_array()?;
        (!properties.is_empty() && properties.iter().all(|p| p["status"] == "live")).then_some(())
    })
    .await?;
    Ok(())
}
