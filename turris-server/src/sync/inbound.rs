//! The inbound worker: HubSpot webhook events (persisted by `POST /hooks/hubspot`) become
//! Turris records, links and activity rows.
//!
//! One step claims every due event (up to [`CLAIM_LIMIT`]), groups them by organization and
//! object, reads the current properties of every touched object with batch read (one call per
//! 100 objects, never one per event), and runs core's planner on each object:
//!
//! - a `creation` event (with the `propertyChange` events HubSpot sends alongside it) is one
//!   change of kind `Created`; otherwise each changed property is one `PropertyChanged` change
//!   (the latest event per property), so a record that starts to match the identifier filter
//!   is created then;
//! - echoes of our own writes are recognised by `changeSource`/`sourceId` and by the shared
//!   echo ledger ([`crate::store::EchoLedgerStore`]);
//! - every outcome is an activity row with the seed's title; a field skipped for its value
//!   (a state code that is not a US code) is a Skipped row of its own.
//!
//! Decisions (documented here until core has them):
//! - `*.deletion` of a linked object drops the link and keeps the Turris record (deleting
//!   Turris data from HubSpot is not in the spec); the row says so;
//! - a net-new agency is then offered to auto-invite ([`crate::sync::invites`]);
//! - `*.merge` (`company.merge`, `contact.merge`) moves the link of a merged-away company or
//!   contact (an agency; an agent or agency contact) to the primary one, unless the primary is
//!   linked already (then both Turris records stay, the loser's unlinked, for a person): core's
//!   `plan_merge`; each moved or removed link is a row (`HubSpot webhook: contacts merged` for
//!   contacts);
//! - a contact is an agent, an agency contact or neither by core's `contact_role`: an unlinked
//!   contact syncs only when its primary company (`associatedcompanyid`, read in the same
//!   batch) is linked to an agency; it becomes an agent when agent inbound is on and it matches
//!   the agent filter, else an agency contact of that agency when agency-contact inbound is on
//!   (names and email from the agent mapping's properties, else `firstname`/`lastname`/`email`;
//!   an agency contact with the same email is linked, not duplicated); otherwise it is Skipped
//!   with the reason, and a later edit syncs it once its company is synced. A linked contact
//!   keeps its kind; the primary company's agency becomes its agency (`agency_id`) on create,
//!   update and link, and one without a synced primary company keeps its own. A new (or
//!   updated) agency contact releases the agency's deferred invitation
//!   ([`crate::sync::invites::contact_added`]). Deleting a linked contact drops the link and
//!   keeps the agent or agency contact;
//! - while the connection is not `connected` (status `error`), events wait: they are retried
//!   every [`PAUSED_RETRY`] without spending an attempt (a pause of any length loses nothing)
//!   and processed after a reconnect;
//! - while HubSpot's DAILY limit blocks the portal ([`crate::hubspot::daily_limit`]), events
//!   wait until the reset without counting an attempt.

use std::collections::{BTreeMap, HashMap};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use turris_core::activity::{ActivityDetails, ActivityKind, NewActivity, Outcome};
use turris_core::ids::{AgencyContactId, AgencyId, AgentId, HubSpotId, OrganizationId};
use turris_core::integration::IntegrationSettings;
use turris_core::invitation::InvitationSettings;
use turris_core::mapping::{
    AgencyContactMapping, AgencyMapping, AgentMapping, MappedField, RecordMapping,
};
use turris_core::matching::{MatchedBy, agency_keys, agent_keys};
use turris_core::matrix::{Direction, SyncObject};
use turris_core::planner::{
    ChangeKind, ContactFacts, ContactRole, ECHO_WINDOW, EchoInfo, Existing, InboundChange,
    MergeStep, PlanContext, SkipReason, SyncAction, apply_changes, contact_role, plan, plan_merge,
};
use turris_core::property::{ObjectSchema, ObjectType, PropertyMap};
use turris_core::record::{Agency, AgencyContact, Agent, AgentDraft};
use turris_core::store::{Link, LinkKind, TurrisRef};
use turris_hubspot::HubSpotClient;
use turris_hubspot::webhooks::WebhookEvent;

use crate::app::AppState;
use crate::hubspot::ConnectionError;
use crate::store::{ClaimedInboundEvent, InboundEventId};
use crate::workers::Shutdown;

/// Most events one step claims.
pub const CLAIM_LIMIT: usize = 20_000;
/// How long a claim holds (a step finishes well within it).
const CLAIM_FOR: Duration = Duration::from_secs(120);
/// How often the worker looks for events when nobody woke it.
const POLL: Duration = Duration::from_millis(500);
/// After a wake-up, the worker waits for this much quiet (no further batch) before claiming, so
/// a burst is read from HubSpot in full batches of 100...
const GATHER: Duration = Duration::from_millis(200);
/// ...but never longer than this after the first wake-up.
const MAX_GATHER: Duration = Duration::from_secs(5);
/// Creations remembered to recognise the `propertyChange` events HubSpot sends with them.
const CREATED_MEMORY: usize = 100_000;
/// When events of a paused (status `error`) connection are looked at again.
const PAUSED_RETRY: chrono::Duration = chrono::Duration::seconds(30);
static WAKE: LazyLock<Notify> = LazyLock::new(Notify::new);

/// When each recently created object was created (`occurredAt` of its `creation` event), per
/// organization: HubSpot sends a `propertyChange` per property set at creation, with the same
/// `occurredAt`, and those that arrive after the creation was synced need no read.
static CREATED: LazyLock<Mutex<HashMap<(OrganizationId, HubSpotId), i64>>> =
    LazyLock::new(Default::default);

fn remember_creation(org: &OrganizationId, id: &HubSpotId, occurred_at: i64) {
    let mut created = CREATED.lock().unwrap_or_else(|e| e.into_inner());
    if created.len() >= CREATED_MEMORY {
        created.clear();
    }
    created.insert((org.clone(), id.clone()), occurred_at);
}

/// Whether every event of the object was part of a creation already synced.
fn covered_by_creation(org: &OrganizationId, id: &HubSpotId, object: &ObjectEvents<'_>) -> bool {
    let created = CREATED.lock().unwrap_or_else(|e| e.into_inner());
    created
        .get(&(org.clone(), id.clone()))
        .is_some_and(|at| object.events.iter().all(|e| e.occurred_at <= *at))
}

/// Tells the inbound worker that events were persisted.
pub fn wake(_state: &AppState) {
    WAKE.notify_waiters();
}

/// The worker loop: runs until `shutdown` fires, finishing the step in progress.
pub async fn run(state: AppState, mut shutdown: Shutdown) {
    loop {
        if shutdown.is_fired() {
            return;
        }
        let worked = match step(&state).await {
            Ok(n) => n > 0,
            Err(e) => {
                tracing::error!(error = %crate::error::ErrorChain(&e), "inbound step failed");
                false
            }
        };
        if worked {
            continue;
        }
        let woken = tokio::select! {
            () = WAKE.notified() => true,
            () = tokio::time::sleep(POLL) => false,
            () = shutdown.fired() => return,
        };
        if woken {
            let started = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    () = tokio::time::sleep(GATHER) => break,
                    () = WAKE.notified() => if started.elapsed() >= MAX_GATHER { break },
                    () = shutdown.fired() => return,
                }
            }
        }
    }
}

/// Claims due events and processes them; returns how many were claimed.
pub async fn step(state: &AppState) -> Result<usize, crate::store::DbError> {
    let now = Utc::now();
    let claimed = state
        .db()
        .claim_inbound_events(now, CLAIM_LIMIT, CLAIM_FOR)
        .await?;
    let count = claimed.len();
    let mut by_org: BTreeMap<OrganizationId, Vec<ClaimedInboundEvent>> = BTreeMap::new();
    for event in claimed {
        by_org
            .entry(event.organization.clone())
            .or_default()
            .push(event);
    }
    for (org, events) in by_org {
        let outcome = process_organization(state, &org, &events).await;
        settle(state, &org, &events, outcome).await?;
    }
    Ok(count)
}

/// What became of an organization's claimed events.
enum Settled {
    /// Every event was handled (synced, skipped or dropped with a row).
    Done,
    /// Nothing was handled (HubSpot unreachable or failing): try again after a backoff
    /// ([`super::retry_delay`]), each event counting an attempt.
    RetryAll { error: String },
    /// Nothing was tried (a paused connection, HubSpot's daily limit): try again at `until`,
    /// no attempt counted, so events wait out a pause of any length.
    Postponed { error: String, until: DateTime<Utc> },
}

/// The connection is paused (status `error`) until a reconnect: the events wait.
fn paused() -> Settled {
    Settled::Postponed {
        error: "sync is paused: the HubSpot connection is not active".into(),
        until: Utc::now() + PAUSED_RETRY,
    }
}

async fn settle(
    state: &AppState,
    org: &OrganizationId,
    events: &[ClaimedInboundEvent],
    outcome: Settled,
) -> Result<(), crate::store::DbError> {
    match outcome {
        Settled::Done => {
            let ids: Vec<InboundEventId> = events.iter().map(|e| e.id).collect();
            state.db().mark_inbound_processed(&ids, Utc::now()).await
        }
        Settled::RetryAll { error } => {
            tracing::warn!(org = %org, events = events.len(), error = %error, "inbound events postponed");
            let now = Utc::now();
            for event in events {
                let retry_at = super::retry_delay(event.attempts).map(|delay| now + delay);
                state
                    .db()
                    .mark_inbound_failed(event.id, &error, retry_at)
                    .await?;
            }
            Ok(())
        }
        Settled::Postponed { error, until } => {
            let ids: Vec<InboundEventId> = events.iter().map(|e| e.id).collect();
            state
                .db()
                .postpone_inbound_events(org, &ids, &error, until)
                .await
        }
    }
}

async fn process_organization(
    state: &AppState,
    org: &OrganizationId,
    events: &[ClaimedInboundEvent],
) -> Settled {
    match sync_organization(state, org, events).await {
        Ok(outcome) => outcome,
        Err(e) => {
            if let SyncError::Connection(c) = &e
                && let Some(until) = c.daily_limit_until()
            {
                crate::hubspot::note_daily_limit(state, org, until).await;
                return Settled::Postponed {
                    error: e.to_string(),
                    until,
                };
            }
            if let SyncError::Connection(c) = &e
                && c.is_connection_lost()
            {
                if let Err(store) = crate::hubspot::mark_connection_lost(state, org, c).await {
                    tracing::error!(org = %org, error = %store, "cannot record the lost connection");
                }
                return paused();
            }
            Settled::RetryAll {
                error: e.to_string(),
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error("storage: {0}")]
    Store(#[from] turris_core::store::StoreError),
    #[error("storage: {0}")]
    Db(#[from] crate::store::DbError),
    #[error("{0}")]
    Connection(#[from] ConnectionError),
}

async fn sync_organization(
    state: &AppState,
    org: &OrganizationId,
    events: &[ClaimedInboundEvent],
) -> Result<Settled, SyncError> {
    let Some(mut settings) = state.db().load_settings(org).await? else {
        tracing::warn!(org = %org, "inbound events of an organization without settings dropped");
        return Ok(Settled::Done);
    };
    if !settings.connection.is_active() {
        return Ok(paused());
    }
    let Some(credentials) = state.db().hubspot_credentials(org).await? else {
        tracing::warn!(org = %org, "inbound events of a disconnected organization dropped");
        return Ok(Settled::Done);
    };
    if let Some(until) = crate::hubspot::daily_limit(state, org, credentials.portal_id).await? {
        let error = ConnectionError::DailyLimit { until }.to_string();
        return Ok(Settled::Postponed { error, until });
    }
    let of = |object: &str| -> Vec<&WebhookEvent> {
        events
            .iter()
            .map(|e| &e.event)
            .filter(|e| e.subscription_type.object() == object)
            .collect()
    };
    let (companies, contacts) = (of("company"), of("contact"));
    if companies.is_empty() && contacts.is_empty() {
        return Ok(Settled::Done);
    }
    let client = crate::hubspot::client(state, org, &credentials)?;
    let app_id = credentials.app_id.map(|id| id.to_string());
    let sync = OrgSync {
        state,
        org,
        client: &client,
        app_id: app_id.as_deref(),
    };
    // Companies first: a contact of a company created in the same step finds its agency.
    if !companies.is_empty() {
        let schema = sync.schema(&mut settings, ObjectType::Company).await?;
        sync.companies(&settings, &schema, &companies).await?;
    }
    if !contacts.is_empty() {
        let schema = sync.schema(&mut settings, ObjectType::Contact).await?;
        sync.contacts(&settings, &schema, &contacts).await?;
    }
    Ok(Settled::Done)
}

/// One organization's inbound step.
struct OrgSync<'a> {
    state: &'a AppState,
    org: &'a OrganizationId,
    client: &'a HubSpotClient,
    app_id: Option<&'a str>,
}

/// The events of one HubSpot object in a step, oldest first.
struct ObjectEvents<'e> {
    events: Vec<&'e WebhookEvent>,
}

impl ObjectEvents<'_> {
    fn has(&self, action: &str) -> bool {
        self.events
            .iter()
            .any(|e| e.subscription_type.action() == action)
    }
}

impl OrgSync<'_> {
    /// The cached property schema, fetched (and cached) when missing.
    async fn schema(
        &self,
        settings: &mut IntegrationSettings,
        object: ObjectType,
    ) -> Result<ObjectSchema, SyncError> {
        if let Some(schema) = settings.property_schema(object) {
            return Ok(schema.clone());
        }
        let schema = crate::hubspot::fetch_schema(self.client, object).await?;
        self.state
            .db()
            .save_property_schema(self.org, &schema)
            .await?;
        settings.set_property_schema(schema.clone());
        Ok(schema)
    }

    async fn log(&self, activity: NewActivity) -> Result<(), SyncError> {
        self.state.db().append_activity(self.org, &activity).await?;
        Ok(())
    }

    async fn companies(
        &self,
        settings: &IntegrationSettings,
        schema: &ObjectSchema,
        events: &[&WebhookEvent],
    ) -> Result<(), SyncError> {
        let objects = group(events);
        let now = Utc::now();

        // Deletions first: they need no read.
        let mut to_read = Vec::new();
        for (id, object) in &objects {
            for merge in object
                .events
                .iter()
                .filter(|e| e.subscription_type.action() == "merge")
            {
                self.company_merged(merge, now).await?;
            }
            if object.has("deletion") {
                self.company_deleted(id, now).await?;
            } else if !object.has("creation") && covered_by_creation(self.org, id, object) {
                continue;
            } else if object.has("creation") || object.has("propertyChange") {
                to_read.push(id.clone());
            }
        }
        if to_read.is_empty() {
            return Ok(());
        }
        let mapping = &settings.mapping.agency;
        if !settings
            .matrix
            .is_enabled(SyncObject::Agency, Direction::Inbound)
        {
            for id in &to_read {
                let kind = created_or_changed(&objects[id]);
                self.log(
                    NewActivity::new(ActivityKind::WebhookSkipped, Outcome::Skipped, now)
                        .with_details(ActivityDetails {
                            skip_reason: Some(SkipReason::InboundDisabled.to_string()),
                            hubspot_id: Some(id.to_string()),
                            message: Some(kind.title().to_owned()),
                            ..ActivityDetails::default()
                        }),
                )
                .await?;
            }
            return Ok(());
        }
        let current = self
            .read_current(
                &turris_hubspot::crm::ObjectType::Companies,
                &to_read,
                &wanted_properties(mapping),
            )
            .await?;
        let since = now - ECHO_WINDOW - chrono::Duration::minutes(1);
        let recent = self
            .state
            .db()
            .recent_hubspot_writes(self.org, &to_read, since)
            .await?;
        let echo = EchoInfo {
            app_id: self.app_id,
            recent_writes: &recent,
        };
        let ctx = PlanContext {
            mapping,
            schema,
            matrix: &settings.matrix,
            echo,
        };
        for id in &to_read {
            let object = &objects[id];
            let Some(properties) = current.get(id) else {
                self.log(
                    NewActivity::new(ActivityKind::WebhookSkipped, Outcome::Skipped, now)
                        .with_details(ActivityDetails {
                            skip_reason: Some("the company no longer exists in HubSpot".into()),
                            hubspot_id: Some(id.to_string()),
                            ..ActivityDetails::default()
                        }),
                )
                .await?;
                continue;
            };
            for change in changes(id, object, properties) {
                self.company_change(&ctx, &settings.invitations, &change)
                    .await?;
            }
            if let Some(creation) = object
                .events
                .iter()
                .find(|e| e.subscription_type.action() == "creation")
            {
                remember_creation(self.org, id, creation.occurred_at);
            }
        }
        Ok(())
    }

    async fn contacts(
        &self,
        settings: &IntegrationSettings,
        schema: &ObjectSchema,
        events: &[&WebhookEvent],
    ) -> Result<(), SyncError> {
        let objects = group(events);
        let now = Utc::now();
        let mut to_read = Vec::new();
        for (id, object) in &objects {
            for merge in object
                .events
                .iter()
                .filter(|e| e.subscription_type.action() == "merge")
            {
                self.contact_merged(merge, now).await?;
            }
            if object.has("deletion") {
                self.contact_deleted(id, now).await?;
            } else if !object.has("creation") && covered_by_creation(self.org, id, object) {
                continue;
            } else if object.has("creation") || object.has("propertyChange") {
                to_read.push(id.clone());
            }
        }
        if to_read.is_empty() {
            return Ok(());
        }
        let matrix = &settings.matrix;
        let agent_mapping = settings.mapping.agent.as_ref();
        let agents_on =
            agent_mapping.is_some() && matrix.is_enabled(SyncObject::Agents, Direction::Inbound);
        let contacts_on = matrix.is_enabled(SyncObject::AgencyContacts, Direction::Inbound);
        if !agents_on && !contacts_on {
            for id in &to_read {
                self.log(
                    NewActivity::new(ActivityKind::WebhookSkipped, Outcome::Skipped, now)
                        .with_details(ActivityDetails {
                            skip_reason: Some(SkipReason::InboundDisabled.to_string()),
                            hubspot_id: Some(id.to_string()),
                            message: Some(contact_title(&objects[id]).title().to_owned()),
                            ..ActivityDetails::default()
                        }),
                )
                .await?;
            }
            return Ok(());
        }
        let contact_mapping = AgencyContactMapping::from_settings(&settings.mapping);
        let mut wanted = agent_mapping.map(wanted_properties).unwrap_or_default();
        for property in wanted_properties(&contact_mapping) {
            if !wanted.contains(&property) {
                wanted.push(property);
            }
        }
        wanted.push(PRIMARY_COMPANY);
        let current = self
            .read_current(
                &turris_hubspot::crm::ObjectType::Contacts,
                &to_read,
                &wanted,
            )
            .await?;
        let since = now - ECHO_WINDOW - chrono::Duration::minutes(1);
        let recent = self
            .state
            .db()
            .recent_hubspot_writes(self.org, &to_read, since)
            .await?;
        let echo = EchoInfo {
            app_id: self.app_id,
            recent_writes: &recent,
        };
        let agent_ctx = agent_mapping.map(|mapping| PlanContext {
            mapping,
            schema,
            matrix,
            echo,
        });
        let contact_ctx = PlanContext {
            mapping: &contact_mapping,
            schema,
            matrix,
            echo,
        };
        for id in &to_read {
            let object = &objects[id];
            let Some(properties) = current.get(id) else {
                continue;
            };
            let agency = self.synced_agency(properties).await?;
            let linked = self.contact_link(id).await?;
            let changes = changes(id, object, properties);
            let facts = ContactFacts {
                properties,
                linked: linked.as_ref().map(|l| l.turris.kind()),
                of_synced_agency: agency.is_some(),
                echo_of_own_write: !changes.is_empty() && changes.iter().all(|c| echo.is_echo(c)),
            };
            match (contact_role(matrix, agent_mapping, facts), &agent_ctx) {
                (ContactRole::Agent, Some(ctx)) => {
                    for change in &changes {
                        self.contact_change(ctx, change, agency.as_ref()).await?;
                    }
                }
                (ContactRole::AgencyContact, _) => {
                    for change in &changes {
                        self.agency_contact_change(&contact_ctx, change, agency.as_ref())
                            .await?;
                    }
                }
                (role, _) => {
                    let reason = match role {
                        ContactRole::Skip { reason } => reason,
                        _ => SkipReason::InboundDisabled,
                    };
                    self.log(
                        NewActivity::new(ActivityKind::WebhookSkipped, Outcome::Skipped, now)
                            .with_details(ActivityDetails {
                                skip_reason: Some(reason.to_string()),
                                hubspot_id: Some(id.to_string()),
                                turris_id: linked.as_ref().map(|l| l.turris.id().to_owned()),
                                message: Some(contact_title(object).title().to_owned()),
                                ..ActivityDetails::default()
                            }),
                    )
                    .await?;
                }
            }
            if let Some(creation) = object
                .events
                .iter()
                .find(|e| e.subscription_type.action() == "creation")
            {
                remember_creation(self.org, id, creation.occurred_at);
            }
        }
        Ok(())
    }

    /// The link of a HubSpot contact: to an agent, else to an agency contact.
    async fn contact_link(&self, id: &HubSpotId) -> Result<Option<Link>, SyncError> {
        let db = self.state.db();
        for kind in [LinkKind::Agent, LinkKind::AgencyContact] {
            if let Some(link) = db.link_by_hubspot(self.org, kind, id).await? {
                return Ok(Some(link));
            }
        }
        Ok(None)
    }

    /// The agency the contact's primary company is linked to, if any.
    async fn synced_agency(&self, properties: &PropertyMap) -> Result<Option<AgencyId>, SyncError> {
        let Some(company) = properties
            .get(PRIMARY_COMPANY)
            .and_then(|id| HubSpotId::parse(id).ok())
        else {
            return Ok(None);
        };
        let link = self
            .state
            .db()
            .link_by_hubspot(self.org, LinkKind::Agency, &company)
            .await?;
        Ok(match link.map(|l| l.turris) {
            Some(TurrisRef::Agency(agency)) => Some(agency),
            _ => None,
        })
    }

    async fn contact_deleted(&self, id: &HubSpotId, now: DateTime<Utc>) -> Result<(), SyncError> {
        let Some(link) = self.contact_link(id).await? else {
            return Ok(());
        };
        self.state.db().delete_link(self.org, &link.turris).await?;
        self.log(
            NewActivity::new(
                ActivityKind::WebhookContactPropertyChanged,
                Outcome::Success,
                now,
            )
            .with_details(ActivityDetails {
                message: Some(format!(
                    "contact deleted in HubSpot: link removed, the {} stays in Turris",
                    noun(&link.turris)
                )),
                turris_id: Some(link.turris.id().to_owned()),
                hubspot_id: Some(id.to_string()),
                ..ActivityDetails::default()
            }),
        )
        .await
    }

    /// A merge keeps the primary contact: core's `plan_merge` says which agent or agency
    /// contact follows it and which is unlinked (the primary is linked already).
    async fn contact_merged(
        &self,
        event: &WebhookEvent,
        now: DateTime<Utc>,
    ) -> Result<(), SyncError> {
        let Some(primary) = merge_primary(event) else {
            return Ok(());
        };
        let primary_linked = self.contact_link(&primary).await?.is_some();
        let mut merged = Vec::new();
        for id in merged_ids(event, &primary) {
            if let Some(link) = self.contact_link(&id).await? {
                merged.push(link);
            }
        }
        self.merge_links(
            ActivityKind::WebhookContactsMerged,
            "contact",
            &primary,
            primary_linked,
            &merged,
            now,
        )
        .await
    }

    /// Performs core's merge plan: links follow the primary or are removed; one row each.
    async fn merge_links(
        &self,
        kind: ActivityKind,
        object: &str,
        primary: &HubSpotId,
        primary_linked: bool,
        merged: &[Link],
        now: DateTime<Utc>,
    ) -> Result<(), SyncError> {
        let db = self.state.db();
        for step in plan_merge(primary, primary_linked, merged) {
            let (turris, message) = match step {
                MergeStep::Follow { turris, from } => {
                    db.delete_link(self.org, &turris).await?;
                    db.put_link(
                        self.org,
                        &Link {
                            turris: turris.clone(),
                            hubspot_id: primary.clone(),
                        },
                    )
                    .await?;
                    let message = format!(
                        "{object} {from} was merged into {primary}: the {} now follows {primary}",
                        noun(&turris)
                    );
                    (turris, message)
                }
                MergeStep::Unlink { turris, from } => {
                    db.delete_link(self.org, &turris).await?;
                    let message = format!(
                        "{object} {from} was merged into {primary}, which is linked already: \
                         link removed, the {} stays in Turris",
                        noun(&turris)
                    );
                    (turris, message)
                }
            };
            self.log(
                NewActivity::new(kind, Outcome::Success, now).with_details(ActivityDetails {
                    message: Some(message),
                    turris_id: Some(turris.id().to_owned()),
                    hubspot_id: Some(primary.to_string()),
                    ..ActivityDetails::default()
                }),
            )
            .await?;
        }
        Ok(())
    }

    /// Plans and performs one change of a contact that is (or becomes) an agency contact of
    /// `agency` (its primary company's agency; a linked contact without one keeps its own).
    async fn agency_contact_change(
        &self,
        ctx: &PlanContext<'_, AgencyContactMapping>,
        change: &InboundChange,
        agency: Option<&AgencyId>,
    ) -> Result<(), SyncError> {
        let db = self.state.db();
        let id = &change.object_id;
        let linked = match db
            .link_by_hubspot(self.org, LinkKind::AgencyContact, id)
            .await?
        {
            Some(Link {
                turris: TurrisRef::AgencyContact(contact_id),
                ..
            }) => db.get_agency_contact(self.org, &contact_id).await?,
            _ => None,
        };
        let Some(agency) = agency.or(linked.as_ref().map(|c| &c.agency_id)).cloned() else {
            return Ok(());
        };
        let linked_draft = linked.as_ref().map(AgencyContact::draft);
        let mut matched: Option<AgencyContact> = None;
        let existing = match &linked_draft {
            Some(draft) => Existing::Linked(draft),
            None => {
                let email = ctx
                    .mapping
                    .to_turris(&change.properties)
                    .ok()
                    .and_then(|m| m.draft.email);
                if let Some(email) = email
                    && let Some(contact) = db
                        .find_agency_contact_by_email(self.org, &agency, &email)
                        .await?
                    && db
                        .link_by_turris(self.org, &TurrisRef::AgencyContact(contact.id.clone()))
                        .await?
                        .is_none()
                {
                    matched = Some(contact);
                }
                match matched {
                    Some(_) => Existing::Matched(MatchedBy::Email),
                    None => Existing::NotFound,
                }
            }
        };
        let kind = match change.kind {
            ChangeKind::Created => ActivityKind::WebhookContactCreated,
            _ => ActivityKind::WebhookContactPropertyChanged,
        };
        let now = Utc::now();
        let row = |outcome: Outcome, turris: Option<&AgencyContactId>, message: String| {
            NewActivity::new(kind, outcome, now).with_details(ActivityDetails {
                message: Some(message),
                turris_id: turris.map(ToString::to_string),
                hubspot_id: Some(id.to_string()),
                ..ActivityDetails::default()
            })
        };
        let link = |contact: &AgencyContactId| Link {
            turris: TurrisRef::AgencyContact(contact.clone()),
            hubspot_id: id.clone(),
        };
        match plan(change, ctx, existing) {
            SyncAction::Create { draft, skipped } => {
                let contact = AgencyContact::from_draft(
                    AgencyContactId::parse(&uuid::Uuid::now_v7().to_string())
                        .expect("uuids are valid ids"),
                    agency.clone(),
                    draft,
                );
                db.insert_agency_contact(self.org, &contact).await?;
                db.put_link(self.org, &link(&contact.id)).await?;
                self.log(row(
                    Outcome::Success,
                    Some(&contact.id),
                    format!("agency contact of agency {agency} created"),
                ))
                .await?;
                self.log_skipped_fields(contact.id.as_str(), id, &skipped, now)
                    .await?;
                crate::sync::invites::contact_added(self.state, self.org, &agency).await;
            }
            SyncAction::Update { changes, skipped } => {
                let mut contact = linked.expect("updates are planned for linked records");
                let mut draft = contact.draft();
                apply_changes(&mut draft, &changes);
                contact.set_draft(draft);
                contact.agency_id = agency.clone();
                db.update_agency_contact(self.org, &contact).await?;
                let fields: Vec<&str> = changes.iter().map(|c| c.field.key()).collect();
                self.log(row(
                    Outcome::Success,
                    Some(&contact.id),
                    format!("agency contact updated: {}", fields.join(", ")),
                ))
                .await?;
                self.log_skipped_fields(contact.id.as_str(), id, &skipped, now)
                    .await?;
                // An email added later releases a deferred invitation too.
                crate::sync::invites::contact_added(self.state, self.org, &agency).await;
            }
            SyncAction::Link { .. } => {
                let contact = matched.expect("links are planned for matched records");
                db.put_link(self.org, &link(&contact.id)).await?;
                self.log(row(
                    Outcome::Success,
                    Some(&contact.id),
                    "linked to the existing agency contact (matched by email)".into(),
                ))
                .await?;
            }
            SyncAction::Skip { reason } => {
                self.log(
                    NewActivity::new(ActivityKind::WebhookSkipped, Outcome::Skipped, now)
                        .with_details(ActivityDetails {
                            skip_reason: Some(reason.to_string()),
                            message: Some(kind.title().to_owned()),
                            turris_id: linked.as_ref().map(|c| c.id.to_string()),
                            hubspot_id: Some(id.to_string()),
                            ..ActivityDetails::default()
                        }),
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn contact_change(
        &self,
        ctx: &PlanContext<'_, AgentMapping>,
        change: &InboundChange,
        agency: Option<&AgencyId>,
    ) -> Result<(), SyncError> {
        let db = self.state.db();
        let id = &change.object_id;
        let linked = match db.link_by_hubspot(self.org, LinkKind::Agent, id).await? {
            Some(Link {
                turris: TurrisRef::Agent(agent_id),
                ..
            }) => db.get_agent(self.org, &agent_id).await?,
            _ => None,
        };
        let mut matched: Option<Agent> = None;
        let existing = match &linked {
            Some(agent) => Existing::Linked(&agent.data),
            None => {
                let mut found = None;
                if let Ok(mapped) = ctx.mapping.to_turris(&change.properties) {
                    for key in agent_keys(&mapped.draft) {
                        if let Some(agent) = db.find_agent(self.org, &key).await?
                            && db
                                .link_by_turris(self.org, &TurrisRef::Agent(agent.id.clone()))
                                .await?
                                .is_none()
                        {
                            found = Some((agent, key.matched_by()));
                            break;
                        }
                    }
                }
                match found {
                    Some((agent, by)) => {
                        matched = Some(agent);
                        Existing::Matched(by)
                    }
                    None => Existing::NotFound,
                }
            }
        };
        let kind = match change.kind {
            ChangeKind::Created => ActivityKind::WebhookContactCreated,
            _ => ActivityKind::WebhookContactPropertyChanged,
        };
        let now = Utc::now();
        let row = |outcome: Outcome, turris: Option<&AgentId>, message: String| {
            NewActivity::new(kind, outcome, now).with_details(ActivityDetails {
                message: Some(message),
                turris_id: turris.map(ToString::to_string),
                hubspot_id: Some(id.to_string()),
                ..ActivityDetails::default()
            })
        };
        match plan(change, ctx, existing) {
            SyncAction::Create { draft, skipped } => {
                let agent = Agent {
                    id: AgentId::parse(&uuid::Uuid::now_v7().to_string())
                        .expect("uuids are valid ids"),
                    data: AgentDraft {
                        agency_id: agency.cloned(),
                        ..draft
                    },
                };
                db.insert_agent(self.org, &agent).await?;
                db.put_link(
                    self.org,
                    &Link {
                        turris: TurrisRef::Agent(agent.id.clone()),
                        hubspot_id: id.clone(),
                    },
                )
                .await?;
                self.log(row(
                    Outcome::Success,
                    Some(&agent.id),
                    "agent created".into(),
                ))
                .await?;
                self.log_skipped_fields(agent.id.as_str(), id, &skipped, now)
                    .await?;
            }
            SyncAction::Update { changes, skipped } => {
                let mut agent = linked.expect("updates are planned for linked records");
                apply_changes(&mut agent.data, &changes);
                if let Some(agency) = agency {
                    agent.data.agency_id = Some(agency.clone());
                }
                db.update_agent(self.org, &agent).await?;
                let fields: Vec<&str> = changes.iter().map(|c| c.field.key()).collect();
                self.log(row(
                    Outcome::Success,
                    Some(&agent.id),
                    format!("agent updated: {}", fields.join(", ")),
                ))
                .await?;
                self.log_skipped_fields(agent.id.as_str(), id, &skipped, now)
                    .await?;
            }
            SyncAction::Link { matched_by } => {
                let mut agent = matched.expect("links are planned for matched records");
                if let Some(agency) = agency
                    && agent.data.agency_id.as_ref() != Some(agency)
                {
                    agent.data.agency_id = Some(agency.clone());
                    db.update_agent(self.org, &agent).await?;
                }
                db.put_link(
                    self.org,
                    &Link {
                        turris: TurrisRef::Agent(agent.id.clone()),
                        hubspot_id: id.clone(),
                    },
                )
                .await?;
                let by = serde_json::to_value(matched_by)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                self.log(row(
                    Outcome::Success,
                    Some(&agent.id),
                    format!("linked to the existing agent (matched by {by})"),
                ))
                .await?;
            }
            SyncAction::Skip { reason } => {
                let turris = linked.as_ref().map(|a| &a.id);
                self.log(
                    NewActivity::new(ActivityKind::WebhookSkipped, Outcome::Skipped, now)
                        .with_details(ActivityDetails {
                            skip_reason: Some(reason.to_string()),
                            message: Some(kind.title().to_owned()),
                            turris_id: turris.map(ToString::to_string),
                            hubspot_id: Some(id.to_string()),
                            ..ActivityDetails::default()
                        }),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Current properties of `ids`, one batch read per 100 objects. Ids HubSpot does not know
    /// (deleted since) are absent.
    async fn read_current(
        &self,
        object: &turris_hubspot::crm::ObjectType,
        ids: &[HubSpotId],
        properties: &[&str],
    ) -> Result<BTreeMap<HubSpotId, PropertyMap>, SyncError> {
        let texts: Vec<String> = ids.iter().map(ToString::to_string).collect();
        tracing::debug!(org = %self.org, objects = ids.len(), "reading current properties");
        let outcome = self
            .client
            .batch_read(object, &texts, properties, None)
            .await;
        if let Some(failure) = outcome.failed_chunks.into_iter().next() {
            return Err(ConnectionError::from(failure.error).into());
        }
        Ok(outcome
            .results
            .into_iter()
            .filter_map(|o| {
                let id = HubSpotId::parse(&o.id).ok()?;
                Some((id, PropertyMap::from(o.properties)))
            })
            .collect())
    }

    /// A merge keeps the primary company: a link to a merged-away company follows it to the
    /// primary, unless the primary is linked already (then that link is dropped and both
    /// agencies stay, for a person to reconcile): core's `plan_merge`.
    async fn company_merged(
        &self,
        event: &WebhookEvent,
        now: DateTime<Utc>,
    ) -> Result<(), SyncError> {
        let Some(primary) = merge_primary(event) else {
            return Ok(());
        };
        let db = self.state.db();
        let primary_linked = db
            .link_by_hubspot(self.org, LinkKind::Agency, &primary)
            .await?
            .is_some();
        let mut merged = Vec::new();
        for id in merged_ids(event, &primary) {
            if let Some(link) = db.link_by_hubspot(self.org, LinkKind::Agency, &id).await? {
                merged.push(link);
            }
        }
        self.merge_links(
            ActivityKind::WebhookCompanyPropertyChanged,
            "company",
            &primary,
            primary_linked,
            &merged,
            now,
        )
        .await
    }

    async fn company_deleted(&self, id: &HubSpotId, now: DateTime<Utc>) -> Result<(), SyncError> {
        let db = self.state.db();
        let link = db.link_by_hubspot(self.org, LinkKind::Agency, id).await?;
        let (outcome, message, turris_id) = match link {
            Some(link) => {
                db.delete_link(self.org, &link.turris).await?;
                (
                    Outcome::Success,
                    "company deleted in HubSpot: link removed, the agency stays in Turris",
                    Some(link.turris.id().to_owned()),
                )
            }
            None => (
                Outcome::Skipped,
                "company deleted in HubSpot was not linked",
                None,
            ),
        };
        self.log(
            NewActivity::new(ActivityKind::WebhookCompanyPropertyChanged, outcome, now)
                .with_details(ActivityDetails {
                    message: Some(message.into()),
                    turris_id,
                    hubspot_id: Some(id.to_string()),
                    ..ActivityDetails::default()
                }),
        )
        .await
    }

    async fn company_change(
        &self,
        ctx: &PlanContext<'_, AgencyMapping>,
        invitations: &InvitationSettings,
        change: &InboundChange,
    ) -> Result<(), SyncError> {
        let db = self.state.db();
        let id = &change.object_id;
        let linked = match db.link_by_hubspot(self.org, LinkKind::Agency, id).await? {
            Some(Link {
                turris: TurrisRef::Agency(agency_id),
                ..
            }) => db.get_agency(self.org, &agency_id).await?,
            _ => None,
        };
        let mut matched: Option<Agency> = None;
        let existing = match &linked {
            Some(agency) => Existing::Linked(&agency.data),
            None => match self.find_match(ctx.mapping, &change.properties).await? {
                Some((agency, by)) => {
                    matched = Some(agency);
                    Existing::Matched(by)
                }
                None => Existing::NotFound,
            },
        };
        let action = plan(change, ctx, existing);
        let kind = match change.kind {
            ChangeKind::Created => ActivityKind::WebhookCompanyCreated,
            _ => ActivityKind::WebhookCompanyPropertyChanged,
        };
        let now = Utc::now();
        let details = |turris_id: Option<&AgencyId>, message: String| ActivityDetails {
            message: Some(message),
            turris_id: turris_id.map(ToString::to_string),
            hubspot_id: Some(id.to_string()),
            ..ActivityDetails::default()
        };
        match action {
            SyncAction::Create { draft, skipped } => {
                let agency = Agency {
                    id: AgencyId::parse(&uuid::Uuid::now_v7().to_string())
                        .expect("uuids are valid ids"),
                    data: draft,
                };
                db.insert_agency(self.org, &agency).await?;
                db.put_link(
                    self.org,
                    &Link {
                        turris: TurrisRef::Agency(agency.id.clone()),
                        hubspot_id: id.clone(),
                    },
                )
                .await?;
                self.log(
                    NewActivity::new(kind, Outcome::Success, now)
                        .with_details(details(Some(&agency.id), "agency created".into())),
                )
                .await?;
                self.log_skipped_fields(agency.id.as_str(), id, &skipped, now)
                    .await?;
                crate::sync::invites::agency_created(
                    self.state,
                    self.org,
                    invitations,
                    &agency.id,
                    &change.properties,
                )
                .await;
            }
            SyncAction::Update { changes, skipped } => {
                let mut agency = linked.expect("updates are planned for linked records");
                apply_changes(&mut agency.data, &changes);
                db.update_agency(self.org, &agency).await?;
                let fields: Vec<&str> = changes.iter().map(|c| c.field.key()).collect();
                self.log(
                    NewActivity::new(kind, Outcome::Success, now).with_details(details(
                        Some(&agency.id),
                        format!("agency updated: {}", fields.join(", ")),
                    )),
                )
                .await?;
                self.log_skipped_fields(agency.id.as_str(), id, &skipped, now)
                    .await?;
            }
            SyncAction::Link { matched_by } => {
                let agency = matched.expect("links are planned for matched records");
                db.put_link(
                    self.org,
                    &Link {
                        turris: TurrisRef::Agency(agency.id.clone()),
                        hubspot_id: id.clone(),
                    },
                )
                .await?;
                let by = serde_json::to_value(matched_by)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                self.log(
                    NewActivity::new(kind, Outcome::Success, now).with_details(details(
                        Some(&agency.id),
                        format!("linked to the existing agency (matched by {by})"),
                    )),
                )
                .await?;
            }
            SyncAction::Skip { reason } => {
                let turris = linked.as_ref().map(|a| &a.id);
                self.log(
                    NewActivity::new(ActivityKind::WebhookSkipped, Outcome::Skipped, now)
                        .with_details(ActivityDetails {
                            skip_reason: Some(reason.to_string()),
                            ..details(turris, kind.title().to_owned())
                        }),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// An unlinked agency matching the record by NPN, then producer code.
    async fn find_match(
        &self,
        mapping: &AgencyMapping,
        properties: &PropertyMap,
    ) -> Result<Option<(Agency, turris_core::matching::MatchedBy)>, SyncError> {
        let Ok(mapped) = mapping.to_turris(properties) else {
            return Ok(None);
        };
        let db = self.state.db();
        for key in agency_keys(&mapped.draft) {
            if let Some(agency) = db.find_agency(self.org, &key).await? {
                let linked = db
                    .link_by_turris(self.org, &TurrisRef::Agency(agency.id.clone()))
                    .await?;
                if linked.is_none() {
                    return Ok(Some((agency, key.matched_by())));
                }
            }
        }
        Ok(None)
    }

    async fn log_skipped_fields<F: MappedField>(
        &self,
        turris_id: &str,
        hubspot_id: &HubSpotId,
        skipped: &[turris_core::mapping::SkippedField<F>],
        now: DateTime<Utc>,
    ) -> Result<(), SyncError> {
        for field in skipped {
            self.log(
                NewActivity::new(ActivityKind::WebhookSkipped, Outcome::Skipped, now).with_details(
                    ActivityDetails {
                        skip_reason: Some(format!("{}: {}", field.field.key(), field.reason)),
                        message: Some(format!(
                            "{} value {:?} of {} was not stored",
                            field.field.label(),
                            field.value,
                            field.property
                        )),
                        turris_id: Some(turris_id.to_owned()),
                        hubspot_id: Some(hubspot_id.to_string()),
                        ..ActivityDetails::default()
                    },
                ),
            )
            .await?;
        }
        Ok(())
    }
}

/// The contact property naming its primary company.
const PRIMARY_COMPANY: &str = "associatedcompanyid";

/// What the activity log calls a linked Turris record.
fn noun(turris: &TurrisRef) -> &'static str {
    match turris {
        TurrisRef::Agency(_) => "agency",
        TurrisRef::Agent(_) => "agent",
        TurrisRef::AgencyContact(_) => "agency contact",
    }
}

/// The record a merge keeps.
fn merge_primary(event: &WebhookEvent) -> Option<HubSpotId> {
    event
        .primary_object_id
        .or(event.new_object_id)
        .or(event.object_id)
        .and_then(|id| HubSpotId::parse(&id.to_string()).ok())
}

/// The records a merge archived (HubSpot lists the primary among them too).
fn merged_ids(event: &WebhookEvent, primary: &HubSpotId) -> Vec<HubSpotId> {
    event
        .merged_object_ids
        .iter()
        .filter_map(|id| HubSpotId::parse(&id.to_string()).ok())
        .filter(|id| id != primary)
        .collect()
}

/// Events per object, each object's oldest first.
fn group<'e>(events: &[&'e WebhookEvent]) -> BTreeMap<HubSpotId, ObjectEvents<'e>> {
    let mut objects: BTreeMap<HubSpotId, ObjectEvents<'e>> = BTreeMap::new();
    for event in events {
        let Some(id) = event
            .object_id
            .and_then(|id| HubSpotId::parse(&id.to_string()).ok())
        else {
            continue;
        };
        objects
            .entry(id)
            .or_insert_with(|| ObjectEvents { events: Vec::new() })
            .events
            .push(event);
    }
    for object in objects.values_mut() {
        object.events.sort_by_key(|e| (e.occurred_at, e.event_id));
    }
    objects
}

/// The title a contact's events stand for.
fn contact_title(object: &ObjectEvents<'_>) -> ActivityKind {
    if object.has("creation") {
        ActivityKind::WebhookContactCreated
    } else {
        ActivityKind::WebhookContactPropertyChanged
    }
}

/// The title an object's events stand for.
fn created_or_changed(object: &ObjectEvents<'_>) -> ActivityKind {
    if object.has("creation") {
        ActivityKind::WebhookCompanyCreated
    } else {
        ActivityKind::WebhookCompanyPropertyChanged
    }
}

/// The properties a read needs: the identifier's and every mapped one.
fn wanted_properties<M: RecordMapping>(mapping: &M) -> Vec<&str> {
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

/// The planner's changes for one object's events: one `Created` when HubSpot reported the
/// creation (its `propertyChange` events are covered by the current properties), else the
/// latest event of each changed property.
fn changes(
    id: &HubSpotId,
    object: &ObjectEvents<'_>,
    properties: &PropertyMap,
) -> Vec<InboundChange> {
    let change = |event: &WebhookEvent, kind: ChangeKind| InboundChange {
        object_id: id.clone(),
        kind,
        properties: properties.clone(),
        change_source: event.change_source.clone(),
        source_id: event.source_id.clone(),
        occurred_at: DateTime::from_timestamp_millis(event.occurred_at).unwrap_or_else(Utc::now),
    };
    if let Some(creation) = object
        .events
        .iter()
        .find(|e| e.subscription_type.action() == "creation")
    {
        return vec![change(creation, ChangeKind::Created)];
    }
    let mut latest: BTreeMap<&str, &WebhookEvent> = BTreeMap::new();
    for event in &object.events {
        if event.subscription_type.action() != "propertyChange" {
            continue;
        }
        if let Some(property) = event.property_name.as_deref() {
            latest.insert(property, event);
        }
    }
    latest
        .into_iter()
        .map(|(property, event)| {
            change(
                event,
                ChangeKind::PropertyChanged {
                    property: property.to_owned(),
                    value: event.property_value.clone(),
                },
            )
        })
        .collect()
}
