//! Bulk reconciliation of HubSpot companies with Turris agencies, as a resumable job.
//!
//! A job pages through every HubSpot company (100 a page), pairs each page with the
//! organization's unlinked agencies by core's [`turris_core::reconcile::reconcile`] (NPN, then
//! producer code), links the pairs and, when asked, creates an agency for each company in scope
//! without a match. After each page the job's state (cursor and summary) is saved in the
//! [`crate::store::JobStore`], so a restarted server resumes from the last saved page: a page
//! interrupted half-way is read again, and the companies it had linked count as already linked.
//!
//! With `create_missing_in_hubspot`, a second phase then pages through the agencies (100 a
//! page, cursor saved likewise) and creates a HubSpot company for each one still unlinked,
//! with the identifier filter's value (core's `plan_outbound`), remembered as our own write.
//!
//! Not yet done: contacts (agents).

use std::collections::{BTreeMap, HashSet};

use chrono::Utc;
use serde::{Deserialize, Serialize};
use turris_core::ids::{AgencyId, HubSpotId, OrganizationId};
use turris_core::mapping::RecordMapping;
use turris_core::matching::agency_keys;
use turris_core::matrix::SyncMatrix;
use turris_core::planner::{OutboundAction, plan_outbound, recent_writes};
use turris_core::property::PropertyMap;
use turris_core::reconcile::{Pairing, ReconcileSummary, reconcile};
use turris_core::record::Agency;
use turris_core::store::{Link, LinkKind, TurrisRef};
use turris_hubspot::crm::SimplePublicObjectInputForCreate;

use crate::app::AppState;
use crate::hubspot::ConnectionError;
use crate::store::{Job, JobStatus};
use crate::workers::Shutdown;

/// The job kind of a company reconciliation.
pub const KIND: &str = "reconcile_companies";

/// Companies read per page.
const PAGE: u32 = 100;

/// What a reconciliation does, chosen when it starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    /// Create an agency for each company in scope without a match.
    pub create_missing_in_turris: bool,
    /// Then create a HubSpot company for each agency still unlinked.
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
}

/// A job's progress and, once finished, its result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The options.
    pub options: Options,
    /// HubSpot's `after` cursor of the next page to read; `None` before the first page.
    pub after: Option<String>,
    /// The side being read.
    #[serde(default)]
    pub phase: Phase,
    /// The last agency of the last agency page done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agencies_after: Option<AgencyId>,
    /// Pages done.
    pub pages: u64,
    /// Companies read.
    pub seen: u64,
    /// Paired with an existing agency (now linked).
    pub paired: u64,
    /// Agencies created (and linked).
    pub created: u64,
    /// HubSpot companies created for unlinked agencies (and linked).
    #[serde(default)]
    pub created_in_hubspot: u64,
    /// HubSpot refused to create a company for these agencies.
    #[serde(default)]
    pub failed_in_hubspot: u64,
    /// Already linked before this job.
    pub already_linked: u64,
    /// Left alone, by reason.
    pub skipped: BTreeMap<String, u64>,
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

/// Why a job stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The store failed.
    #[error("storage: {0}")]
    Store(#[from] turris_core::store::StoreError),
    /// The store failed.
    #[error("storage: {0}")]
    Db(#[from] crate::store::DbError),
    /// HubSpot failed.
    #[error("{0}")]
    Connection(#[from] ConnectionError),
    /// HubSpot is not connected.
    #[error("HubSpot is not connected")]
    NotConnected,
}

/// Starts a job (a [`crate::store::Conflict::JobRunning`] while one runs) and runs it in the
/// background.
pub async fn start(
    state: &AppState,
    org: &OrganizationId,
    options: Options,
) -> Result<Job, crate::store::DbError> {
    let progress = Progress {
        options,
        ..Progress::default()
    };
    let job = state
        .db()
        .create_job(org, KIND, &to_value(&progress), Utc::now())
        .await?;
    tokio::spawn(run_job(state.clone(), job.clone(), None));
    Ok(job)
}

/// Resumes every running reconciliation (after a restart), each until `shutdown` fires.
pub async fn run(state: AppState, shutdown: Shutdown) {
    let jobs = match state.db().running_jobs().await {
        Ok(jobs) => jobs,
        Err(e) => {
            tracing::error!(error = %e, "cannot list the reconciliations to resume");
            return;
        }
    };
    let handles: Vec<_> = jobs
        .into_iter()
        .filter(|j| j.kind == KIND)
        .map(|job| tokio::spawn(run_job(state.clone(), job, Some(shutdown.clone()))))
        .collect();
    for handle in handles {
        let _ = handle.await;
    }
}

fn to_value(progress: &Progress) -> serde_json::Value {
    serde_json::to_value(progress).expect("progress serializes")
}

/// Runs one job from its saved cursor to the end, or until `shutdown` fires (then it stays
/// running, to be resumed).
pub async fn run_job(state: AppState, job: Job, mut shutdown: Option<Shutdown>) {
    let mut progress: Progress = serde_json::from_value(job.state.clone()).unwrap_or_default();
    let outcome = loop {
        if shutdown.as_ref().is_some_and(Shutdown::is_fired) {
            return;
        }
        let step = step(&state, &job.organization, &mut progress);
        let done = match shutdown.as_mut() {
            Some(s) => tokio::select! {
                done = step => done,
                () = s.fired() => return,
            },
            None => step.await,
        };
        match done {
            Ok(false) => {
                if let Err(e) = state
                    .db()
                    .update_job(
                        &job.organization,
                        job.id,
                        JobStatus::Running,
                        &to_value(&progress),
                        Utc::now(),
                    )
                    .await
                {
                    break Err(e.to_string());
                }
            }
            Ok(true) => break Ok(()),
            Err(e) => break Err(e.to_string()),
        }
    };
    let status = match outcome {
        Ok(()) => JobStatus::Completed,
        Err(error) => {
            tracing::warn!(org = %job.organization, job = %job.id, error = %error, "reconciliation failed");
            progress.error = Some(error);
            JobStatus::Failed
        }
    };
    if let Err(e) = state
        .db()
        .update_job(
            &job.organization,
            job.id,
            status,
            &to_value(&progress),
            Utc::now(),
        )
        .await
    {
        tracing::error!(job = %job.id, error = %e, "cannot save the reconciliation's outcome");
    }
}

/// Reconciles one page; `true` once every page is done.
async fn step(
    state: &AppState,
    org: &OrganizationId,
    progress: &mut Progress,
) -> Result<bool, ReconcileError> {
    match progress.phase {
        Phase::Companies => {
            let done = companies_step(state, org, progress).await?;
            if done && progress.options.create_missing_in_hubspot {
                progress.phase = Phase::Agencies;
                return Ok(false);
            }
            Ok(done)
        }
        Phase::Agencies => agencies_step(state, org, progress).await,
    }
}

/// Creates a HubSpot company for each unlinked agency of one page; `true` after the last.
async fn agencies_step(
    state: &AppState,
    org: &OrganizationId,
    progress: &mut Progress,
) -> Result<bool, ReconcileError> {
    let db = state.db();
    let settings = db.load_settings(org).await?.unwrap_or_default();
    let credentials = db
        .hubspot_credentials(org)
        .await?
        .ok_or(ReconcileError::NotConnected)?;
    let client = crate::hubspot::client(state, org, &credentials)?;
    // The caller asked for the creation: the matrix's outbound toggle is not required.
    let mut matrix = SyncMatrix::default();
    matrix.agency.outbound = true;
    let agencies = db
        .list_agencies(org, progress.agencies_after.as_ref(), PAGE as usize)
        .await?;
    for agency in &agencies {
        let turris = TurrisRef::Agency(agency.id.clone());
        if db.link_by_turris(org, &turris).await?.is_some() {
            continue;
        }
        let OutboundAction::Create { properties } =
            plan_outbound(&settings.mapping.agency, &matrix, &agency.data, None, None)
        else {
            continue;
        };
        let input = SimplePublicObjectInputForCreate {
            properties: properties
                .iter()
                .map(|(k, v)| (k.to_owned(), v.unwrap_or_default().to_owned()))
                .collect(),
            associations: Vec::new(),
        };
        let created = match client
            .create_object(&turris_hubspot::crm::ObjectType::Companies, &input)
            .await
        {
            Ok(created) => created,
            Err(e) => {
                let connection = ConnectionError::from(e);
                if connection.is_connection_lost() {
                    return Err(connection.into());
                }
                tracing::warn!(org = %org, agency = %agency.id, error = %connection, "hubspot refused a company");
                progress.failed_in_hubspot += 1;
                continue;
            }
        };
        let Ok(hubspot_id) = HubSpotId::parse(&created.id) else {
            progress.failed_in_hubspot += 1;
            continue;
        };
        db.record_hubspot_writes(org, &recent_writes(&hubspot_id, &properties, Utc::now()))
            .await?;
        db.put_link(org, &Link { turris, hubspot_id }).await?;
        progress.created_in_hubspot += 1;
    }
    progress.pages += 1;
    match agencies.last() {
        Some(last) if agencies.len() == PAGE as usize => {
            progress.agencies_after = Some(last.id.clone());
            Ok(false)
        }
        _ => Ok(true),
    }
}

/// Pairs one page of companies; `true` after the last.
async fn companies_step(
    state: &AppState,
    org: &OrganizationId,
    progress: &mut Progress,
) -> Result<bool, ReconcileError> {
    let db = state.db();
    let settings = db.load_settings(org).await?.unwrap_or_default();
    let credentials = db
        .hubspot_credentials(org)
        .await?
        .ok_or(ReconcileError::NotConnected)?;
    let client = crate::hubspot::client(state, org, &credentials)?;
    let mapping = &settings.mapping.agency;
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
    let page = client
        .list_objects_page(
            &turris_hubspot::crm::ObjectType::Companies,
            &wanted,
            PAGE,
            progress.after.as_deref(),
        )
        .await
        .map_err(ConnectionError::from)?;
    let next = page.next_after().map(str::to_owned);
    let records: Vec<(HubSpotId, PropertyMap)> = page
        .results
        .into_iter()
        .filter_map(|o| {
            Some((
                HubSpotId::parse(&o.id).ok()?,
                PropertyMap::from(o.properties),
            ))
        })
        .collect();

    let mut linked_hubspot = HashSet::new();
    let mut candidates: Vec<Agency> = Vec::new();
    let mut seen_candidates: HashSet<AgencyId> = HashSet::new();
    for (id, properties) in &records {
        if db
            .link_by_hubspot(org, LinkKind::Agency, id)
            .await?
            .is_some()
        {
            linked_hubspot.insert(id.clone());
            continue;
        }
        let Ok(mapped) = mapping.to_turris(properties) else {
            continue;
        };
        for key in agency_keys(&mapped.draft) {
            if let Some(agency) = db.find_agency(org, &key).await?
                && !seen_candidates.contains(&agency.id)
                && db
                    .link_by_turris(org, &TurrisRef::Agency(agency.id.clone()))
                    .await?
                    .is_none()
            {
                seen_candidates.insert(agency.id.clone());
                candidates.push(agency);
            }
        }
    }
    let result = reconcile(
        mapping,
        &records,
        &candidates,
        &linked_hubspot,
        &HashSet::new(),
    );
    let mut created = 0;
    for (hubspot_id, pairing) in result.outcomes {
        let agency_id = match pairing {
            Pairing::Pair { id, .. } => id,
            Pairing::Unmatched { draft, .. } if progress.options.create_missing_in_turris => {
                let agency = Agency {
                    id: AgencyId::parse(&uuid::Uuid::now_v7().to_string())
                        .expect("uuids are valid ids"),
                    data: draft,
                };
                db.insert_agency(org, &agency).await?;
                created += 1;
                agency.id
            }
            _ => continue,
        };
        db.put_link(
            org,
            &Link {
                turris: TurrisRef::Agency(agency_id),
                hubspot_id,
            },
        )
        .await?;
    }
    progress.add(&result.summary, created);
    progress.pages += 1;
    match next {
        Some(n) if progress.after.as_deref() != Some(n.as_str()) => {
            progress.after = Some(n);
            Ok(false)
        }
        _ => Ok(true),
    }
}
