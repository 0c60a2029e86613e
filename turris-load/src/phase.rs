//! One measured phase: post events at a steady rate or in a burst, wait for every delivery,
//! and summarise.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::Error;
use crate::proc_stats::{RssSampler, backends_cpu_since, cpu_seconds, postgres_backends};
use crate::server::{Server, Target};
use crate::svix::{Svix, SvixTarget};

/// What the load is posted to.
#[derive(Clone, Copy)]
pub enum System<'a> {
    /// The Turris reference server.
    Turris(&'a Server, &'a Target),
    /// svix-server, for the comparison.
    Svix(&'a Svix, &'a SvixTarget),
}

impl System<'_> {
    /// The process to measure (`None` for a svix-server this tool did not start).
    fn pid(&self) -> Option<u32> {
        match self {
            System::Turris(server, _) => Some(server.pid),
            System::Svix(svix, _) => svix.pid,
        }
    }

    fn pg_database(&self) -> Option<&str> {
        match self {
            System::Turris(server, _) => server.pg_database(),
            System::Svix(svix, _) => svix.pg_database(),
        }
    }

    fn arrivals(&self) -> &crate::receiver::Arrivals {
        match self {
            System::Turris(_, target) => &target.arrivals,
            System::Svix(_, target) => &target.arrivals,
        }
    }

    /// Posts event `n`; when it was accepted.
    async fn post(&self, n: usize) -> Option<Instant> {
        match self {
            System::Turris(server, target) => post(server, target, n).await,
            System::Svix(svix, target) => svix.post(target, n).await,
        }
    }
}

/// How events are posted.
#[derive(Debug, Clone, Copy)]
pub enum Load {
    /// One post every `1/rate` s, each on its own task.
    Steady {
        /// Events per second.
        rate: u32,
    },
    /// `clients` loops posting back to back.
    Burst {
        /// Concurrent clients.
        clients: usize,
    },
}

/// What a phase measured.
#[derive(Debug, Clone)]
pub struct Report {
    pub load: Load,
    pub events: usize,
    pub accepted: usize,
    pub rejected: usize,
    pub accepted_per_sec: f64,
    pub delivered: usize,
    pub delivered_per_sec: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// p99 of post → 201 (the API's share of the latency: its commit included).
    pub p99_accept: Duration,
    /// Each event's post, 201 and arrival, in ms from the phase's start (`None` when it did
    /// not happen), for `--latencies`.
    pub timeline: Vec<(f64, Option<f64>, Option<f64>)>,
    /// Server CPU seconds per wall second, over the phase (1.0 = one core).
    pub cpu_share: f64,
    /// Server CPU per delivered event, in microseconds.
    pub server_cpu_per_event_us: f64,
    /// PostgreSQL backends' CPU per delivered event, in microseconds (`None` on SQLite).
    pub db_cpu_per_event_us: Option<f64>,
    pub peak_rss: u64,
    /// Whether the process was measured (CPU, RSS): not a svix-server this tool did not start.
    pub measured: bool,
    pub duplicates: u64,
    pub bad_signatures: u64,
}

struct Posted {
    sent: Instant,
    accepted: Option<Instant>,
}

/// Runs a phase over event numbers `first..first + count`.
pub async fn run(
    system: System<'_>,
    load: Load,
    first: usize,
    count: usize,
    deadline: Duration,
) -> Result<Report, Error> {
    let range = first..first + count;
    let arrivals = system.arrivals();
    arrivals.expect_up_to(range.end);
    let duplicates_before = arrivals.duplicates.load(Ordering::Relaxed);
    let bad_before = arrivals.bad_signatures.load(Ordering::Relaxed);
    let rss = system.pid().map(RssSampler::start);
    let cpu = || system.pid().and_then(cpu_seconds).unwrap_or(0.0);
    let cpu_start = cpu();
    let db_start = system.pg_database().map(postgres_backends);
    let start = Instant::now();
    let posted: Vec<Posted> = match load {
        Load::Steady { rate } => steady(system, range.clone(), rate).await,
        Load::Burst { clients } => burst(system, range.clone(), clients).await,
    };
    let accepted = posted.iter().filter(|p| p.accepted.is_some()).count();
    let last_accepted = posted
        .iter()
        .filter_map(|p| p.accepted)
        .max()
        .unwrap_or(start);
    // Wait for every accepted event to arrive.
    let waited = Instant::now();
    while arrivals.count(range.clone()) < accepted && waited.elapsed() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut latencies = Vec::with_capacity(count);
    let mut accepting: Vec<Duration> = posted
        .iter()
        .filter_map(|p| Some(p.accepted?.saturating_duration_since(p.sent)))
        .collect();
    let since = |at: Instant| at.saturating_duration_since(start).as_secs_f64() * 1000.0;
    let mut timeline = Vec::with_capacity(count);
    let mut last_arrival = start;
    for (i, p) in posted.iter().enumerate() {
        let arrived = arrivals.arrival(first + i);
        if let Some(at) = arrived {
            latencies.push(at.saturating_duration_since(p.sent));
            last_arrival = last_arrival.max(at);
        }
        timeline.push((since(p.sent), p.accepted.map(since), arrived.map(since)));
    }
    let cpu_end = cpu();
    let db_cpu = system
        .pg_database()
        .zip(db_start.as_ref())
        .map(|(name, start)| backends_cpu_since(start, &postgres_backends(name)));
    let delivered = latencies.len().max(1) as f64;
    let per_event_us = |cpu: f64| cpu * 1e6 / delivered;
    let wall = last_arrival.max(last_accepted).duration_since(start);
    latencies.sort();
    accepting.sort();
    let per_sec = |n: usize, over: Duration| n as f64 / over.as_secs_f64().max(1e-9);
    Ok(Report {
        load,
        events: count,
        accepted,
        rejected: count - accepted,
        accepted_per_sec: per_sec(accepted, last_accepted.duration_since(start)),
        delivered: latencies.len(),
        delivered_per_sec: per_sec(latencies.len(), last_arrival.duration_since(start)),
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        max: latencies.last().copied().unwrap_or_default(),
        p99_accept: percentile(&accepting, 0.99),
        timeline,
        cpu_share: (cpu_end - cpu_start) / wall.as_secs_f64().max(1e-9),
        server_cpu_per_event_us: per_event_us(cpu_end - cpu_start),
        db_cpu_per_event_us: db_cpu.map(per_event_us),
        peak_rss: rss.map_or(0, |rss| rss.peak()),
        measured: system.pid().is_some(),
        duplicates: arrivals.duplicates.load(Ordering::Relaxed) - duplicates_before,
        bad_signatures: arrivals.bad_signatures.load(Ordering::Relaxed) - bad_before,
    })
}

async fn post(server: &Server, target: &Target, n: usize) -> Option<Instant> {
    let response = server
        .http
        .post(format!("{}/api/v1/nipr-syncs", server.base))
        .bearer_auth(&target.token)
        .json(&json!({
            "entity_type": "agency",
            "entity_id": target.agency,
            "kind": "fetch",
            "outcome": "error",
            "error": format!("load {n}"),
        }))
        .send()
        .await
        .ok()?;
    let ok = response.status().as_u16() == 201;
    let _ = response.bytes().await;
    ok.then(Instant::now)
}

async fn steady(system: System<'_>, range: std::ops::Range<usize>, rate: u32) -> Vec<Posted> {
    let period = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let start = tokio::time::Instant::now();
    let posts = range.enumerate().map(|(i, n)| async move {
        // Each post starts at its own slot of the schedule, whatever the others do.
        tokio::time::sleep_until(start + period * i as u32).await;
        let sent = Instant::now();
        let accepted = system.post(n).await;
        Posted { sent, accepted }
    });
    futures::future::join_all(posts).await
}

async fn burst(system: System<'_>, range: std::ops::Range<usize>, clients: usize) -> Vec<Posted> {
    let next = Arc::new(AtomicUsize::new(0));
    let total = range.len();
    let first = range.start;
    let workers = (0..clients.max(1)).map(|_| {
        let next = next.clone();
        async move {
            let mut mine = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break mine;
                }
                let sent = Instant::now();
                let accepted = system.post(first + i).await;
                mine.push((i, Posted { sent, accepted }));
            }
        }
    });
    let mut all: Vec<(usize, Posted)> = futures::future::join_all(workers)
        .await
        .into_iter()
        .flatten()
        .collect();
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, p)| p).collect()
}

/// The `q` quantile of `sorted` (zero when it is empty).
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

impl Load {
    fn describe(&self) -> String {
        match self {
            Load::Steady { rate } => format!("steady {rate}/s"),
            Load::Burst { clients } => format!("burst, {clients} clients"),
        }
    }
}

impl Report {
    /// A one-line summary for stderr.
    pub fn line(&self) -> String {
        format!(
            "{}: {} events, {} accepted ({:.0}/s), {} delivered ({:.0}/s), p50 {}, p99 {} (post → 201 {}), max {}, \
             server CPU {:.0} % of a core ({:.0} µs/event, database {}), peak RSS {:.1} MB, \
             duplicates {}, bad signatures {}",
            self.load.describe(),
            self.events,
            self.accepted,
            self.accepted_per_sec,
            self.delivered,
            self.delivered_per_sec,
            ms(self.p50),
            ms(self.p99),
            ms(self.p99_accept),
            ms(self.max),
            self.cpu_share * 100.0,
            self.server_cpu_per_event_us,
            db_us(self.db_cpu_per_event_us),
            self.peak_rss as f64 / 1e6,
            self.duplicates,
            self.bad_signatures,
        )
    }
}

impl Report {
    /// `n,posted_ms,accepted_ms,arrived_ms` per event (from the phase's start; empty when
    /// it did not happen), numbered from `first`.
    pub fn timeline_csv(&self, first: usize) -> String {
        let mut out = String::from("n,posted_ms,accepted_ms,arrived_ms\n");
        let cell = |t: Option<f64>| t.map(|t| format!("{t:.3}")).unwrap_or_default();
        for (i, (sent, accepted, arrived)) in self.timeline.iter().enumerate() {
            out.push_str(&format!(
                "{},{sent:.3},{},{}\n",
                first + i,
                cell(*accepted),
                cell(*arrived)
            ));
        }
        out
    }

    /// A short name for files: `steady-500` or `burst`.
    pub fn slug(&self) -> String {
        match self.load {
            Load::Steady { rate } => format!("steady-{rate}"),
            Load::Burst { .. } => "burst".to_owned(),
        }
    }
}

fn db_us(us: Option<f64>) -> String {
    us.map_or_else(
        || "in the server".to_owned(),
        |us| format!("{us:.0} µs/event"),
    )
}

/// The results as a Markdown table, a row per system (`SQLite`, `PostgreSQL`, svix-server)
/// and phase; `ceiling` is the harness's own delivered/s in this run.
pub fn table(rows: &[(String, Report)], ceiling: f64) -> String {
    let mut out = String::from(
        "| system | load | events | accepted/s | delivered/s | of harness ceiling | p50 post → arrival | p99 | server CPU (of one core) | server CPU / event | DB CPU / event | server peak RSS | rejected / duplicates / bad signatures |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (system, r) in rows {
        let (share, per_event, rss) = match r.measured {
            true => (
                format!("{:.0} %", r.cpu_share * 100.0),
                format!("{:.0} µs", r.server_cpu_per_event_us),
                format!("{:.1} MB", r.peak_rss as f64 / 1e6),
            ),
            false => ("—".to_owned(), "—".to_owned(), "—".to_owned()),
        };
        out.push_str(&format!(
            "| {system} | {} | {} | {:.0} | {:.0} | {:.2}x | {} | {} | {share} | {per_event} | {} | {rss} | {} / {} / {} |\n",
            r.load.describe(),
            r.events,
            r.accepted_per_sec,
            r.delivered_per_sec,
            r.delivered_per_sec / ceiling.max(1e-9),
            ms(r.p50),
            ms(r.p99),
            db_us(r.db_cpu_per_event_us),
            r.rejected,
            r.duplicates,
            r.bad_signatures,
        ));
    }
    out
}

/// Turris on `turris` against svix-server (`svix`), phase by phase: delivered/s and p99 as
/// ratios (Turris's delivered/s over svix's: above 1 is faster; svix's p99 over Turris's:
/// above 1 is a shorter tail). Empty when either has no rows.
pub fn comparison(rows: &[(String, Report)], turris: &str, svix: &str) -> String {
    let mut out = String::new();
    let of = |name: &str| -> Vec<&Report> {
        rows.iter()
            .filter(|(s, _)| s == name)
            .map(|(_, r)| r)
            .collect()
    };
    for (t, s) in of(turris).into_iter().zip(of(svix)) {
        out.push_str(&format!(
            "{}: Turris ({turris}) delivered {:.0}/s, svix-server {:.0}/s: {:.2}x; p99 {} against {}: {:.2}x\n",
            t.load.describe(),
            t.delivered_per_sec,
            s.delivered_per_sec,
            t.delivered_per_sec / s.delivered_per_sec.max(1e-9),
            ms(t.p99),
            ms(s.p99),
            s.p99.as_secs_f64() / t.p99.as_secs_f64().max(1e-9),
        ));
    }
    out
}
