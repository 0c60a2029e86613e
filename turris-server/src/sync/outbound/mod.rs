//! Outbound pushes: agencies, agents and agency contacts created or updated through the records
//! API are pushed to HubSpot as companies and contacts while that outbound toggle is on (agency
//! contacts with their names and email, through core's `AgencyContactMapping`).
//!
//! Nothing accepted is lost: the records API saves the record and an outbox row asking for its
//! push in one transaction ([`crate::store::OutboundOutboxStore`]) before it answers, then wakes
//! this process's worker ([`run`]). The worker lets a burst gather briefly, leases one
//! organization at a time (so two replicas never push the same organization's records at once,
//! and an update never races the create of its record), pushes the records as they are now,
//! and deletes the rows only after the push and its link, activity and echo-ledger rows are
//! stored. The lease lasts [`LEASE`] and is renewed every [`RENEW_EVERY`] while the push runs
//! (429 back-off included); a push whose lease was taken over stops, and its `finish` changes
//! nothing. Rows left by a crash are pushed by whichever process leases the organization once
//! the lease expires, within about [`LEASE`] (at once after a graceful stop, which releases it):
//! - records without a link are created with every mapped property plus the identifier
//!   filter's value (core's `plan_outbound`), one batch create per 100, each input keyed by its
//!   Turris id (`objectWriteTraceId`, which HubSpot repeats on the record it made) so every
//!   result pairs with its record and its link is stored (with its echo-ledger entries and its
//!   activity row, in one transaction that checks the lease); an input a multi-status answer
//!   refused is a failure of that record alone;
//! - linked records are updated with one batch update per 100: the fields Turris changed since
//!   the oldest pending edit, and every field Turris edited since, even back to its value
//!   before (core's `plan_outbound_after`), so neither a push HubSpot took without our hearing
//!   of it nor a HubSpot edit that the Turris edits superseded is left standing;
//! - every call is an activity row (`Create company in HubSpot`, `Update contact in HubSpot`...)
//!   with HubSpot's status and error category, and every write goes to the echo ledger so its
//!   webhook is recognised as our own;
//! - a call that failed for a reason that may pass (no answer, 429, 5xx, a refused token) is
//!   tried again later with backoff for about two days ([`super::retry_delay`]); a refusal of the input itself
//!   (4xx) is logged and not retried; while the connection is paused (status `error`) or
//!   HubSpot's DAILY limit blocks the portal ([`crate::hubspot::daily_limit`]), pushes wait
//!   for the reconnect or the reset. A crash between HubSpot's answer and the stored link
//!   cannot create a record twice: creates are upserts keyed by the Turris id
//!   ([`super::creates`]), except on a portal where that property cannot be made.
//! - an agent with an agency (`agency_id`), and every agency contact, whose contact and company
//!   are both linked has its contact associated with the company (unlabeled, type 279) after
//!   the contacts are pushed, one batch call per 100 pairs, each pair an activity row
//!   (`Associate contact with company in HubSpot`); associating again is harmless. HubSpot may
//!   make that company the contact's primary one (`associatedcompanyid`), so the value goes to
//!   the echo ledger too.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use turris_core::ids::{AgencyId, OrganizationId};
use turris_core::integration::ConnectionStatus;
use turris_core::mapping::RecordMapping;
use turris_core::mapping::{AgencyContactMapping, MappingSettings};
use turris_core::matrix::SyncMatrix;
use turris_core::planner::{
    OutboundAction, OutboundSkipReason, plan_outbound_after, property_edit_times,
};
use turris_core::store::TurrisRef;
use turris_core::tags::{tags_for, with_tags};

use crate::app::AppState;
use crate::hubspot::ConnectionError;
use crate::store::{DbError, OutboundClaim, OutboundPush, OutboundRetry, PushReason, ServerStore};
use crate::sync::kinds::{Agencies, AgencyContacts, Agents, RecordKind};
use crate::sync::lease::{LEASE, RENEW_EVERY, renewing};
use crate::workers::Shutdown;
use pusher::{COMPANIES, CONTACTS, Pusher};

mod associate;
/// When each property was last edited in Turris.
type EditTimes = BTreeMap<String, DateTime<Utc>>;

/// A record kind's draft.
type Draft<K> = <<K as RecordKind>::Mapping as RecordMapping>::Draft;

mod pusher;
pub(crate) use pusher::correlation_of;

/// After a wake-up, the worker waits for this much quiet before claiming, so a burst of
/// records is pushed in full batches...
const GATHER: Duration = Duration::from_millis(100);
/// ...but never longer than this after the first wake-up.
const MAX_GATHER: Duration = Duration::from_secs(1);
/// How often the worker looks for due pushes when nobody woke it (retries, other replicas'
/// rows, rows left by a crash).
const POLL: Duration = Duration::from_secs(1);
/// Most pushes one step takes of an organization.
const CLAIM_LIMIT: usize = 1_000;
/// When the pushes of a paused (status `error`) connection are looked at again.
const PAUSED_RETRY: chrono::Duration = chrono::Duration::seconds(30);

/// Tells this process's worker that pushes were queued (call after the commit).
pub fn wake(state: &AppState) {
    state.outbound_wake().notify_one();
}

/// The worker loop: runs until `shutdown` fires, finishing the step in progress.
pub async fn run(state: AppState, mut shutdown: Shutdown) {
    loop {
        if shutdown.is_fired() {
            return;
        }
        match step(&state).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => {
                tracing::error!(error = %crate::error::ErrorChain(&e), "outbound step failed")
            }
        }
        let woken = tokio::select! {
            () = state.outbound_wake().notified() => true,
            () = tokio::time::sleep(POLL) => false,
            () = shutdown.fired() => return,
        };
        if woken {
            let started = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    () = tokio::time::sleep(GATHER) => break,
                    () = state.outbound_wake().notified() => if started.elapsed() >= MAX_GATHER { break },
                    () = shutdown.fired() => return,
                }
            }
        }
    }
}

/// Leases one organization with due pushes and pushes them; `false` when there was none.
pub async fn step(state: &AppState) -> Result<bool, DbError> {
    let Some(claim) = state
        .db()
        .claim_outbound(Utc::now(), CLAIM_LIMIT, LEASE)
        .await?
    else {
        return Ok(false);
    };
    let renew = || renew_lease(state, &claim);
    let Some(pushed) = renewing(push(state, &claim), RENEW_EVERY, renew).await else {
        tracing::warn!(org = %claim.organization, "outbound lease lost mid-push: another process pushes again");
        return Ok(true);
    };
    let retries = match pushed {
        Ok(Pushed::Done { retry }) => retries(&claim, &retry, true),
        Ok(Pushed::Paused) => {
            let all: Vec<(TurrisRef, String)> = claim
                .pushes
                .iter()
                .map(|p| (p.record.clone(), PAUSED.to_owned()))
                .collect();
            retries(&claim, &all, false)
        }
        Err(e) => {
            tracing::error!(org = %claim.organization, error = %crate::error::ErrorChain(&e), "outbound push failed");
            let all: Vec<(TurrisRef, String)> = claim
                .pushes
                .iter()
                .map(|p| (p.record.clone(), e.to_string()))
                .collect();
            retries(&claim, &all, true)
        }
    };
    match state.db().finish_outbound(&claim, &retries).await {
        Err(DbError::LeaseLost) => {
            tracing::warn!(org = %claim.organization, "outbound lease lost: another process pushes again");
            Ok(true)
        }
        other => other.map(|()| true),
    }
}

/// Renews the organization's lease; `false` once another process holds it.
async fn renew_lease(state: &AppState, claim: &OutboundClaim) -> bool {
    match state
        .db()
        .renew_outbound_lease(claim, Utc::now(), LEASE)
        .await
    {
        Ok(()) => true,
        Err(DbError::LeaseLost) => false,
        Err(e) => {
            // The lease still runs out on its own; keep pushing and try again next beat.
            tracing::error!(org = %claim.organization, error = %crate::error::ErrorChain(&e), "cannot renew the outbound lease");
            true
        }
    }
}

const PAUSED: &str = "sync is paused: the HubSpot connection is not active";

/// The rows to keep for `failed` records: every saved row of each (else its oldest tags-only
/// row; the others are done), due again after a backoff, or given up once
/// [`super::retry_delay`] says so. A pause (`failed_attempt` false) never gives up.
fn retries(
    claim: &OutboundClaim,
    failed: &[(TurrisRef, String)],
    failed_attempt: bool,
) -> Vec<OutboundRetry> {
    let now = Utc::now();
    let mut kept = Vec::new();
    for (record, error) in failed {
        let rows: Vec<&OutboundPush> = claim
            .pushes
            .iter()
            .filter(|p| &p.record == record)
            .collect();
        // Every saved row: together their data before each edit tells which properties Turris
        // edited and when (a field edited and edited back included), which the retry's plan
        // needs. A tags-only row only when there is none (a retry of a saved row pushes the
        // tags too).
        let saved: Vec<_> = rows
            .iter()
            .filter(|p| p.reason == PushReason::Record)
            .map(|p| p.id)
            .collect();
        let keep = match saved.is_empty() {
            true => rows.iter().map(|p| p.id).min().into_iter().collect(),
            false => saved,
        };
        if keep.is_empty() || kept.iter().any(|r: &OutboundRetry| keep.contains(&r.push)) {
            continue;
        }
        let attempts = rows.iter().map(|p| p.attempts).max().unwrap_or(0);
        let next_attempt_at = if !failed_attempt {
            now + PAUSED_RETRY
        } else if let Some(delay) = super::retry_delay(attempts) {
            now + delay
        } else {
            tracing::error!(org = %claim.organization, record = %record.id(), error = %error,
                "outbound push given up after {} attempts", attempts + 1);
            continue;
        };
        kept.extend(keep.into_iter().map(|push| OutboundRetry {
            push,
            next_attempt_at,
            error: error.clone(),
            failed_attempt,
        }));
    }
    kept
}

#[derive(Debug, thiserror::Error)]
enum PushError {
    #[error("storage")]
    Db(#[from] crate::store::DbError),
    #[error(transparent)]
    Connection(#[from] ConnectionError),
}

impl From<turris_core::store::StoreError> for PushError {
    fn from(error: turris_core::store::StoreError) -> Self {
        PushError::Db(error.into())
    }
}

/// What a push did.
enum Pushed {
    /// Every record was pushed, skipped or refused for good, except these, to try again.
    Done { retry: Vec<(TurrisRef, String)> },
    /// The connection is paused (status `error`): nothing was tried.
    Paused,
}

/// A record to push: its reference, and what core planned for it.
type Planned = (TurrisRef, OutboundAction);

async fn push(state: &AppState, claim: &OutboundClaim) -> Result<Pushed, PushError> {
    let org = &claim.organization;
    let db = state.db();
    let Some(settings) = db.load_settings(org).await? else {
        return Ok(Pushed::Done { retry: Vec::new() });
    };
    if settings.connection.status == ConnectionStatus::Error {
        return Ok(Pushed::Paused);
    }
    if !settings.connection.is_active() {
        return Ok(Pushed::Done { retry: Vec::new() });
    }
    let Some(credentials) = db.hubspot_credentials(org).await? else {
        return Ok(Pushed::Done { retry: Vec::new() });
    };
    if crate::hubspot::daily_limit(state, org, credentials.portal_id)
        .await?
        .is_some()
    {
        return Ok(Pushed::Paused);
    }
    let (records, saved) = claimed_records(claim, settings.crm.tags);
    let plan = Planner {
        db,
        org,
        matrix: &settings.matrix,
        records: &records,
        saved: &saved,
        pushes: &claim.pushes,
        tags: settings.crm.tags,
        edit_times: Mutex::default(),
    };
    let (companies, contacts, employed) = plan.every_kind(&settings.mapping).await?;
    let has_work = |planned: &[Planned]| {
        planned
            .iter()
            .any(|(_, a)| !matches!(a, OutboundAction::Skip { .. }))
    };
    if !has_work(&companies) && !has_work(&contacts) && employed.is_empty() {
        return Ok(Pushed::Done { retry: Vec::new() });
    }
    let client = crate::hubspot::client(state, org, &credentials)?;
    let edit_times = plan
        .edit_times
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    let pusher = Pusher {
        state,
        org,
        claim,
        client: &client,
        retry: Mutex::default(),
        edit_times,
    };
    pusher.push(&COMPANIES, companies).await?;
    pusher.push(&CONTACTS, contacts).await?;
    pusher.associate(&employed).await?;
    let retry = pusher.retry.into_inner().unwrap_or_else(|e| e.into_inner());
    Ok(Pushed::Done { retry })
}

/// Plans the records of one claim, kind by kind.
struct Planner<'a> {
    db: &'a dyn ServerStore,
    org: &'a OrganizationId,
    matrix: &'a SyncMatrix,
    records: &'a [TurrisRef],
    /// The records queued because they were saved (the others only for their tags), each
    /// with its stored data before the oldest pending edit.
    saved: &'a HashMap<&'a TurrisRef, Option<&'a str>>,
    /// The claim's pushes, oldest first.
    pushes: &'a [OutboundPush],
    /// Whether tags are on: every pushed record carries them.
    tags: bool,
    /// When each pushed property of each record was last edited in Turris.
    edit_times: Mutex<HashMap<TurrisRef, EditTimes>>,
}

/// The claim's records, each once, oldest push first (pushed as they are now; a record queued
/// only for its tags only while tags are on), and each saved record's data before its oldest
/// pending edit (`None`: push every field, for a new record). Only what Turris changed since
/// is written, so a push retried late never overwrites a newer HubSpot edit of another field.
fn claimed_records(
    claim: &OutboundClaim,
    tags: bool,
) -> (Vec<TurrisRef>, HashMap<&TurrisRef, Option<&str>>) {
    let mut records: Vec<TurrisRef> = Vec::new();
    let mut saved: HashMap<&TurrisRef, Option<&str>> = HashMap::new();
    for push in &claim.pushes {
        if push.reason == PushReason::Record {
            saved
                .entry(&push.record)
                .or_insert(push.previous.as_deref());
        }
        let wanted = push.reason == PushReason::Record || tags;
        if wanted && !records.contains(&push.record) {
            records.push(push.record.clone());
        }
    }
    (records, saved)
}

impl Planner<'_> {
    /// The plans of the claim's companies and contacts (agents and agency contacts), and the
    /// contacts to associate with their agency's company.
    async fn every_kind(
        &self,
        mappings: &MappingSettings,
    ) -> Result<(Vec<Planned>, Vec<Planned>, Vec<(TurrisRef, AgencyId)>), PushError> {
        let (companies, _) = self.kind::<Agencies>(&mappings.agency).await?;
        let (mut contacts, mut employed) = match mappings.agent.as_ref() {
            Some(mapping) => self.kind::<Agents>(mapping).await?,
            None => (Vec::new(), Vec::new()),
        };
        let contact_mapping = AgencyContactMapping::from_settings(mappings);
        let (more, more_employed) = self.kind::<AgencyContacts>(&contact_mapping).await?;
        contacts.extend(more);
        employed.extend(more_employed);
        Ok((companies, contacts, employed))
    }

    /// Dates each property of `turris` by the claim's last edit that changed it, and returns
    /// those dates.
    fn date_edits<K: RecordKind>(
        &self,
        mapping: &K::Mapping,
        turris: &TurrisRef,
        draft: &Draft<K>,
    ) -> EditTimes {
        let edits: Vec<_> = self
            .pushes
            .iter()
            .filter(|p| p.record == *turris && p.reason == PushReason::Record)
            .map(|p| (p.queued_at, p.previous.as_deref().and_then(K::stored_draft)))
            .collect();
        let times = property_edit_times(mapping, &edits, draft);
        let mut all = self.edit_times.lock().unwrap_or_else(|e| e.into_inner());
        all.insert(turris.clone(), times.clone());
        times
    }

    /// Core's plan for each record of kind `K` in the claim, and the records whose contact is
    /// to be associated with their agency's company (those of an agency that are pushed).
    async fn kind<K: RecordKind>(
        &self,
        mapping: &K::Mapping,
    ) -> Result<(Vec<Planned>, Vec<(TurrisRef, AgencyId)>), PushError> {
        let mut planned = Vec::new();
        let mut employed = Vec::new();
        for turris in self.records {
            let Some(record) = K::load(self.db, self.org, turris).await? else {
                continue;
            };
            let linked = self.db.link_by_turris(self.org, turris).await?;
            let linked = linked.as_ref().map(|l| &l.hubspot_id);
            let mut action = match self.saved.get(turris) {
                Some(previous) => {
                    let previous = previous.and_then(K::stored_draft);
                    let draft = K::draft(&record);
                    let edited = self.date_edits::<K>(mapping, turris, &draft);
                    plan_outbound_after(
                        mapping,
                        self.matrix,
                        &draft,
                        previous.as_ref(),
                        &edited,
                        linked,
                    )
                }
                None => OutboundAction::Skip {
                    reason: OutboundSkipReason::NoChanges,
                },
            };
            let pushed = !matches!(
                action,
                OutboundAction::Skip {
                    reason: OutboundSkipReason::OutboundDisabled | OutboundSkipReason::NoChanges
                }
            );
            if self.tags {
                let facts = self.db.tag_facts(self.org, turris).await?;
                action = with_tags(action, linked, &tags_for(turris, &facts));
            }
            if let (Some(agency), true) = (K::agency(&record), pushed) {
                employed.push((turris.clone(), agency));
            }
            planned.push((turris.clone(), action));
        }
        Ok((planned, employed))
    }
}
