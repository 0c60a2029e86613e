//! Bulk reconciliation of HubSpot records with Turris records, as resumable, leased jobs.
//!
//! One job reconciles one object (chosen when it starts):
//! - [`Object::Agencies`] (kind [`KIND`]): every HubSpot company is paired with the
//!   organization's unlinked agencies by core's [`turris_core::reconcile::reconcile`] (NPN,
//!   then producer code);
//! - [`Object::Agents`] (kind [`CONTACTS_KIND`]): every HubSpot contact is paired with the
//!   unlinked agents (NPN, else first + last name + email).
//!
//! [`pairing`] pairs a page of either; [`companies`] and [`contacts`] create the unlinked
//! Turris records in HubSpot.
//!
//! Each reads HubSpot 100 records a page: records outside the identifier filter are skipped
//! (`out_of_scope`), pairs are linked and, when asked, an unmatched record in scope becomes a
//! Turris record. With `create_missing_in_hubspot`, a second phase pages through the Turris
//! records (100 a page) and creates a HubSpot record for each one still unlinked, with the
//! identifier filter's value where the filter names one (core's `plan_outbound`), one batch
//! create per page paired back by `objectWriteTraceId`, remembered as our own write so its
//! webhook echo is recognised.
//!
//! Running: `POST .../reconciliations` only stores the job and wakes this process's worker
//! ([`run`]). The worker claims running jobs whose lease is free or lapsed
//! ([`crate::store::JobStore::claim_jobs`], `FOR UPDATE SKIP LOCKED` on PostgreSQL), so with
//! several replicas one process runs a job; it renews the lease while a page is in progress and
//! at every saved page, and polls for lapsed leases (a crashed replica's jobs) every
//! `--reconcile-poll-interval`. After each page the job's state (cursor and summary) is saved,
//! so a job stopped by the shutdown signal (its lease released, its page abandoned) or by a
//! crash resumes from the last saved page: a page interrupted half-way is read again, and the
//! records it had linked count as already linked.
//!
//! A HubSpot failure that may pass (429 or 5xx after the client's own retries, or no answer)
//! is retried for the same page after each delay of `--reconcile-retry-schedule`; each retry is
//! counted and its error kept in `last_error`. While HubSpot's DAILY limit blocks the portal
//! ([`crate::hubspot::daily_limit`]), the job keeps its lease and waits for the reset, then
//! reads the same page again; the wait is not a retry of the schedule. Any other failure, or
//! one that outlasts the schedule, fails the job with its `error`.

mod create;
mod error;
pub mod fair;
mod lease;
pub mod pairing;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use clap::Args;
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use turris_core::ids::{HubSpotId, OrganizationId};
use turris_core::planner::recent_writes;
use turris_core::property::PropertyMap;
use turris_core::reconcile::ReconcileSummary;
use turris_core::record::{Agency, Agent};
use turris_core::store::{Link, TurrisRef};
use turris_hubspot::HubSpotClient;
use turris_hubspot::crm::ObjectType;

use crate::app::AppState;
use crate::delivery::settings::{Schedule, parse_duration, parse_schedule};
use crate::hubspot::ConnectionError;
use crate::store::{Job, JobLease, JobStatus};
use crate::sync::kinds::{Agencies, Agents};
use crate::workers::Shutdown;
pub use error::ReconcileError;
use fair::Turns;
use lease::Leased;

/// The job kind of a company reconciliation.
pub const KIND: &str = "reconcile_companies";
/// The job kind of a contact reconciliation.
pub const CONTACTS_KIND: &str = "reconcile_contacts";

/// Records read or written per page.
const PAGE: u32 = 100;

/// How reconciliation jobs are run: flags and `TURRIS_*` environment variables.
#[derive(Debug, Clone, Args)]
pub struct ReconcileSettings {
    /// How long a running reconciliation belongs to the process that claimed it; renewed every
    /// third of it as it progresses, taken over by another process once it lapses (a crash).
    #[arg(
        id = "reconcile_lease",
        long = "reconcile-lease",
        env = "TURRIS_RECONCILE_LEASE",
        default_value = "15s",
        value_parser = parse_duration,
        global = true
    )]
    pub lease: Duration,

    /// How often the worker looks for reconciliations to run whose lease is free or lapsed
    /// (one started in this process is picked up at once).
    #[arg(
        id = "reconcile_poll_interval",
        long = "reconcile-poll-interval",
        env = "TURRIS_RECONCILE_POLL_INTERVAL",
        default_value = "5s",
        value_parser = parse_duration,
        global = true
    )]
    pub poll_interval: Duration,

    /// Delays before each retry of a page HubSpot failed (429, 5xx, no answer), comma
    /// separated; after the last the job fails.
    #[arg(
        id = "reconcile_retry_schedule",
        long = "reconcile-retry-schedule",
        env = "TURRIS_RECONCILE_RETRY_SCHEDULE",
        default_value = "2s,10s,30s,1m,2m",
        value_parser = parse_schedule,
        global = true
    )]
    pub retry_schedule: Schedule,

    /// How many reconciliation pages one process runs at a time; jobs take turns page by page
    /// (first come, first served), so a large one never holds a small one back for long.
    #[arg(
        id = "reconcile_pages_at_once",
        long = "reconcile-pages-at-once",
        env = "TURRIS_RECONCILE_PAGES_AT_ONCE",
        default_value_t = 4,
        global = true
    )]
    pub pages_at_once: usize,

    /// How many reconciliation jobs of one organization one process runs at a time.
    #[arg(
        id = "reconcile_jobs_per_organization",
        long = "reconcile-jobs-per-organization",
        env = "TURRIS_RECONCILE_JOBS_PER_ORGANIZATION",
        default_value_t = 1,
        global = true
    )]
    pub jobs_per_organization: usize,
}

/// What a job reconciles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Object {
    /// HubSpot companies with agencies.
    #[default]
    Agencies,
    /// HubSpot contacts with agents.
    Agents,
}

impl Object {
    /// Every object, in the order the worker claims their jobs.
    pub const ALL: [Object; 2] = [Object::Agencies, Object::Agents];

    /// Its job kind.
    pub fn kind(self) -> &'static str {
        match self {
            Object::Agencies => KIND,
            Object::Agents => CONTACTS_KIND,
        }
    }

    /// The object of a job kind.
    pub fn of_kind(kind: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.kind() == kind)
    }

    /// Its name in the API (`agencies`, `agents`).
    pub fn as_str(self) -> &'static str {
        match self {
            Object::Agencies => "agencies",
            Object::Agents => "agents",
        }
    }

    /// The first phase of its jobs.
    fn first_phase(self) -> Phase {
        match self {
            Object::Agencies => Phase::Companies,
            Object::Agents => Phase::Contacts,
        }
    }
}

/// What a reconciliation does, chosen when it starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    /// Create a Turris record for each HubSpot record in scope without a match.
    pub create_missing_in_turris: bool,
    /// Then create a HubSpot record for each Turris record still unlinked.
    #[serde(default)]
    pub create_missing_in_hubspot: bool,
}

/// Which side a job is paging through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// HubSpot companies, paired with agencies.
    #[default]
    Companies,
    /// Agencies still unlinked, created in HubSpot.
    Agencies,
    /// HubSpot contacts, paired with agents.
    Contacts,
    /// Agents still unlinked, created in HubSpot.
    Agents,
}

/// A job's progress and, once finished, its result. Missing fields read as their defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Progress {
    /// The options.
    pub options: Options,
    /// HubSpot's `after` cursor of the next page to read; `None` before the first page.
    pub after: Option<String>,
    /// The side being read.
    #[serde(default)]
    pub phase: Phase,
    /// The id of the last Turris record of the last Turris page done.
    #[serde(
        default,
        alias = "agencies_after",
        skip_serializing_if = "Option::is_none"
    )]
    pub turris_after: Option<String>,
    /// Pages done.
    pub pages: u64,
    /// HubSpot records read.
    pub seen: u64,
    /// Paired with an existing Turris record (now linked).
    pub paired: u64,
    /// Turris records created (and linked).
    pub created: u64,
    /// HubSpot records created for unlinked Turris records (and linked).
    #[serde(default)]
    pub created_in_hubspot: u64,
    /// HubSpot refused to create a record for these Turris records.
    #[serde(default)]
    pub failed_in_hubspot: u64,
    /// Already linked before this job.
    pub already_linked: u64,
    /// Left alone, by reason.
    pub skipped: BTreeMap<String, u64>,
    /// Pages read again after HubSpot failed.
    #[serde(default)]
    pub retries: u64,
    /// The last HubSpot failure, even one a retry got past.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Why the job failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Progress {
    fn skip(&mut self, reason: &str, count: usize) {
        if count > 0 {
            *self.skipped.entry(reason.to_owned()).or_default() += count as u64;
        }
    }

    fn add(&mut self, summary: &ReconcileSummary, created: usize) {
        self.seen += summary.total as u64;
        self.paired += summary.paired as u64;
        self.created += created as u64;
        self.already_linked += summary.already_linked as u64;
        self.skip("out_of_scope", summary.out_of_scope);
        self.skip("missing_required_field", summary.unmappable);
        self.skip("duplicate_match", summary.duplicates);
        self.skip("unmatched", summary.unmatched - created);
    }
}

/// Stores a new job (a [`crate::store::Conflict::JobRunning`] while one of that object runs)
/// and wakes this process's worker, which claims and runs it.
pub async fn start(
    state: &AppState,
    org: &OrganizationId,
    object: Object,
    options: Options,
) -> Result<Job, crate::store::DbError> {
    let progress = Progress {
        options,
        phase: object.first_phase(),
        ..Progress::default()
    };
    let job = state
        .db()
        .create_job(org, object.kind(), &to_value(&progress), Utc::now())
        .await?;
    state.reconcile_wake().notify_one();
    Ok(job)
}

/// The reconciliation worker: claims running jobs whose lease is free or lapsed (at start, when
/// woken by [`start`], and every poll interval) and runs each until it ends or `shutdown`
/// fires, then waits for the jobs it runs to stop (each releases its lease).
pub async fn run(state: AppState, mut shutdown: Shutdown) {
    let settings = state.config().reconcile.clone();
    let turns = Turns::new(settings.pages_at_once, settings.jobs_per_organization);
    let mut jobs = JoinSet::new();
    while !shutdown.is_fired() {
        for object in Object::ALL {
            match state
                .db()
                .claim_jobs(object.kind(), Utc::now(), settings.lease, 10)
                .await
            {
                Ok(claimed) => {
                    for (job, lease) in claimed {
                        tracing::info!(org = %job.organization, job = %job.id, kind = %job.kind, "running a reconciliation");
                        let (state, turns) = (state.clone(), Arc::clone(&turns));
                        let shutdown = shutdown.clone();
                        jobs.spawn(async move {
                            // A job that ran frees its organization's turn: claim what waits.
                            if run_job(state.clone(), job, lease, turns, shutdown).await {
                                state.reconcile_wake().notify_one();
                            }
                        });
                    }
                }
                Err(e) => {
                    tracing::error!(error = %crate::error::ErrorChain(&e), "cannot claim reconciliations")
                }
            }
        }
        while jobs.try_join_next().is_some() {}
        tokio::select! {
            () = shutdown.fired() => {}
            () = state.reconcile_wake().notified() => {}
            () = tokio::time::sleep(settings.poll_interval) => {}
        }
    }
    while jobs.join_next().await.is_some() {}
}

fn to_value(progress: &Progress) -> serde_json::Value {
    serde_json::to_value(progress).expect("progress serializes")
}

/// Runs one claimed job from its saved cursor to the end, its pages taking turns with other
/// jobs'; `false` when its organization already runs as many jobs as it may here (the lease is
/// given up at once, for a later claim). When `shutdown` fires it abandons the page in
/// progress and releases the lease, leaving the job running to be resumed.
async fn run_job(
    state: AppState,
    job: Job,
    lease: JobLease,
    turns: Arc<Turns>,
    mut shutdown: Shutdown,
) -> bool {
    let settings = state.config().reconcile.clone();
    let mut progress: Progress = serde_json::from_value(job.state.clone()).unwrap_or_default();
    let object = Object::of_kind(&job.kind).unwrap_or_default();
    let org = job.organization.clone();
    let turn = turns.start_job(&org);
    let mut leased = Leased {
        state: state.clone(),
        saved: job.state.clone(),
        job,
        lease,
        lease_for: settings.lease,
        turns,
    };
    let Some(_turn) = turn else {
        leased.pause().await;
        return false;
    };
    let mut failures = 0;
    loop {
        let Some(done) = leased
            .page(&org, object, &mut progress, &mut shutdown)
            .await
        else {
            return true;
        };
        let go_on = match done {
            Ok(false) => {
                failures = 0;
                leased.checkpoint(&progress).await
            }
            Ok(true) => {
                leased
                    .save(JobStatus::Completed, to_value(&progress), true)
                    .await;
                false
            }
            Err(e) if e.daily_limit_until().is_some() => {
                let until = e.daily_limit_until().unwrap_or_else(Utc::now);
                crate::hubspot::note_daily_limit(&state, &org, until).await;
                tracing::warn!(org = %org, job = %leased.job.id, until = %until, "reconciliation waits for hubspot's daily limit to reset");
                progress.last_error = Some(e.to_string());
                let left = (until - Utc::now()).to_std().unwrap_or_default();
                leased.checkpoint(&progress).await && leased.wait(left, &mut shutdown).await
            }
            Err(e) if e.is_transient() && failures < settings.retry_schedule.0.len() => {
                let delay = settings.retry_schedule.0[failures];
                failures += 1;
                tracing::warn!(org = %org, job = %leased.job.id, error = %e, attempt = failures, "hubspot failed a reconciliation page; retrying");
                progress.retries += 1;
                progress.last_error = Some(e.to_string());
                leased.checkpoint(&progress).await && leased.wait(delay, &mut shutdown).await
            }
            Err(e) => {
                tracing::warn!(org = %org, job = %leased.job.id, error = %crate::error::ErrorChain(&e), "reconciliation failed");
                progress.last_error = Some(e.to_string());
                progress.error = Some(e.to_string());
                leased
                    .save(JobStatus::Failed, to_value(&progress), true)
                    .await;
                false
            }
        };
        if !go_on {
            return true;
        }
    }
}

/// Reconciles one page; `true` once every page is done.
async fn step(
    state: &AppState,
    org: &OrganizationId,
    object: Object,
    progress: &mut Progress,
) -> Result<bool, ReconcileError> {
    match progress.phase {
        Phase::Companies | Phase::Contacts => {
            let done = match object {
                Object::Agencies => pairing::pair_page::<Agency>(state, org, progress).await?,
                Object::Agents => pairing::pair_page::<Agent>(state, org, progress).await?,
            };
            if done && progress.options.create_missing_in_hubspot {
                progress.phase = match object {
                    Object::Agencies => Phase::Agencies,
                    Object::Agents => Phase::Agents,
                };
                return Ok(false);
            }
            Ok(done)
        }
        Phase::Agencies => create::step::<Agencies>(state, org, progress).await,
        Phase::Agents => create::step::<Agents>(state, org, progress).await,
    }
}

/// The HubSpot client of a connected organization whose portal is not blocked by HubSpot's
/// daily limit.
async fn client_for(
    state: &AppState,
    org: &OrganizationId,
    credentials: Option<crate::store::HubSpotCredentials>,
) -> Result<HubSpotClient, ReconcileError> {
    let credentials = credentials.ok_or(ReconcileError::NotConnected)?;
    if let Some(until) = crate::hubspot::daily_limit(state, org, credentials.portal_id).await? {
        return Err(ConnectionError::DailyLimit { until }.into());
    }
    Ok(crate::hubspot::client(state, org, &credentials)?)
}

/// One page of HubSpot records with the properties `wanted`, and the cursor of the next page.
async fn read_page(
    client: &HubSpotClient,
    object: &ObjectType,
    wanted: &[&str],
    after: Option<&str>,
) -> Result<(Vec<(HubSpotId, PropertyMap)>, Option<String>), ReconcileError> {
    let page = client
        .list_objects_page(object, wanted, PAGE, after)
        .await?;
    let next = page.next_after().map(str::to_owned);
    let records = page
        .results
        .into_iter()
        .filter_map(|o| {
            Some((
                HubSpotId::parse(&o.id).ok()?,
                PropertyMap::from(o.properties),
            ))
        })
        .collect();
    Ok((records, next))
}

/// The properties a mapping reads: the identifier's, then every mapped one, each once.
fn wanted_properties<M: turris_core::mapping::RecordMapping>(mapping: &M) -> Vec<&str> {
    let mut wanted: Vec<&str> = Vec::new();
    let identifier = mapping.identifier().and_then(|f| f.property());
    for property in identifier
        .into_iter()
        .chain(mapping.mapped().into_iter().map(|(_, p)| p))
    {
        if !wanted.contains(&property) {
            wanted.push(property);
        }
    }
    wanted
}

/// Moves the HubSpot cursor to `next`; `true` when there is no further page.
fn advance(progress: &mut Progress, next: Option<String>) -> bool {
    progress.pages += 1;
    match next {
        Some(n) if progress.after.as_deref() != Some(n.as_str()) => {
            progress.after = Some(n);
            false
        }
        _ => true,
    }
}

/// Creates a HubSpot record for each unlinked `(record, properties)` of one page with one batch
/// per 100 keyed by the Turris id ([`crate::sync::creates`]: a page read again after a lost
/// answer finds the records made the first time), each result paired with its record by that
/// id, and links them. Inputs or chunks HubSpot refused count as failed; a chunk HubSpot could not
/// be asked (429, 5xx, no answer) fails the step after the others are linked, so the page is
/// read again and only the records still unlinked are sent again.
async fn create_in_hubspot(
    state: &AppState,
    client: &HubSpotClient,
    org: &OrganizationId,
    object: &ObjectType,
    records: Vec<(TurrisRef, PropertyMap)>,
    progress: &mut Progress,
) -> Result<(), ReconcileError> {
    if records.is_empty() {
        return Ok(());
    }
    let inputs = records
        .iter()
        .map(|(turris, properties)| {
            let values = properties
                .iter()
                .map(|(k, v)| (k.to_owned(), v.unwrap_or_default().to_owned()))
                .collect();
            (turris.id().to_owned(), values)
        })
        .collect();
    let outcome = crate::sync::creates::create(state, client, org, object, inputs).await;
    let db = state.db();
    let by_trace: HashMap<&str, &(TurrisRef, PropertyMap)> =
        records.iter().map(|r| (r.0.id(), r)).collect();
    let now = Utc::now();
    for created in &outcome.results {
        let record = created
            .object_write_trace_id
            .as_deref()
            .and_then(|trace| by_trace.get(trace));
        let (Some((turris, properties)), Ok(hubspot_id)) = (record, HubSpotId::parse(&created.id))
        else {
            tracing::error!(org = %org, id = %created.id, "hubspot answered a record we cannot pair");
            progress.failed_in_hubspot += 1;
            continue;
        };
        db.record_hubspot_writes(org, &recent_writes(&hubspot_id, properties, now, now))
            .await?;
        db.put_link(
            org,
            &Link {
                turris: turris.clone(),
                hubspot_id,
            },
        )
        .await?;
        progress.created_in_hubspot += 1;
    }
    for refused in &outcome.errors {
        tracing::warn!(org = %org, category = %refused.category, message = %refused.message, "hubspot refused a record");
    }
    progress.failed_in_hubspot += outcome.errors.len() as u64;
    for failure in outcome.failed_chunks {
        match ReconcileError::from(failure.error) {
            ReconcileError::Connection(c) if !c.is_connection_lost() => {
                tracing::warn!(org = %org, error = %c, "hubspot refused a batch of records");
                progress.failed_in_hubspot += failure.inputs.len() as u64;
            }
            error => return Err(error),
        }
    }
    Ok(())
}
