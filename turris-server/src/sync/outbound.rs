//! Outbound pushes: agencies and agents created or updated through the records API are pushed
//! to HubSpot as companies and contacts while that outbound toggle is on.
//!
//! [`agency_changed`] and [`agent_changed`] queue the record for its organization; one
//! background drain per organization pushes what is queued, so a burst becomes few calls and
//! one organization's pushes never race (an update queued while the create runs waits for its
//! link):
//! - a record without a link is created with every mapped property plus the identifier
//!   filter's value (core's `plan_outbound`), one call per record (batch create answers carry
//!   no per-input key to pair results with records), and the link is stored;
//! - linked records are updated with one batch update per 100;
//! - every call is an activity row (`Create company in HubSpot`, `Update contact in HubSpot`...)
//!   with HubSpot's status and error category, and every write goes to the echo ledger so its
//!   webhook is recognised as our own.
//!
//! The queue is in memory: a push lost to a crash is caught up by the next edit of the record
//! (or bulk reconciliation, to come). Agents are not associated with a company: Turris agents
//! carry no agency to associate with.

use std::collections::{BTreeSet, HashMap};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use chrono::Utc;
use turris_core::activity::{ActivityDetails, ActivityKind, NewActivity, Outcome};
use turris_core::ids::{AgencyId, AgentId, HubSpotId, OrganizationId};
use turris_core::planner::{OutboundAction, plan_outbound, recent_writes};
use turris_core::property::PropertyMap;
use turris_core::store::{Link, TurrisRef};
use turris_hubspot::HubSpotClient;
use turris_hubspot::crm::batch::BatchUpdateInput;
use turris_hubspot::crm::{ObjectType, SimplePublicObjectInputForCreate};

use crate::app::AppState;
use crate::hubspot::ConnectionError;

/// How long a drain lets a burst gather before pushing.
const GATHER: Duration = Duration::from_millis(100);

/// Agencies waiting to be pushed, per organization, and whether a drain runs for it.
#[derive(Default)]
struct Queue {
    agencies: BTreeSet<AgencyId>,
    agents: BTreeSet<AgentId>,
    draining: bool,
}

static QUEUES: LazyLock<Mutex<HashMap<OrganizationId, Queue>>> = LazyLock::new(Default::default);

/// Queues an agency that was created or changed in Turris for a push to HubSpot.
pub fn agency_changed(state: &AppState, org: &OrganizationId, agency: &AgencyId) {
    enqueue(state, org, |queue| {
        queue.agencies.insert(agency.clone());
    });
}

/// Queues an agent that was created or changed in Turris for a push to HubSpot.
pub fn agent_changed(state: &AppState, org: &OrganizationId, agent: &AgentId) {
    enqueue(state, org, |queue| {
        queue.agents.insert(agent.clone());
    });
}

fn enqueue(state: &AppState, org: &OrganizationId, add: impl FnOnce(&mut Queue)) {
    let start = {
        let mut queues = QUEUES.lock().unwrap_or_else(|e| e.into_inner());
        let queue = queues.entry(org.clone()).or_default();
        add(queue);
        !std::mem::replace(&mut queue.draining, true)
    };
    if start {
        let task_state = state.clone();
        let org = org.clone();
        state.spawn_background(async move { drain(task_state, org).await });
    }
}

async fn drain(state: AppState, org: OrganizationId) {
    loop {
        tokio::time::sleep(GATHER).await;
        let (agencies, agents): (Vec<AgencyId>, Vec<AgentId>) = {
            let mut queues = QUEUES.lock().unwrap_or_else(|e| e.into_inner());
            let Some(queue) = queues.get_mut(&org) else {
                return;
            };
            if queue.agencies.is_empty() && queue.agents.is_empty() {
                queues.remove(&org);
                return;
            }
            (
                std::mem::take(&mut queue.agencies).into_iter().collect(),
                std::mem::take(&mut queue.agents).into_iter().collect(),
            )
        };
        if let Err(e) = push(&state, &org, &agencies, &agents).await {
            tracing::error!(org = %org, error = %e, "outbound push failed");
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum PushError {
    #[error("storage: {0}")]
    Store(#[from] turris_core::store::StoreError),
    #[error("storage: {0}")]
    Db(#[from] crate::store::DbError),
    #[error("{0}")]
    Connection(#[from] ConnectionError),
}

/// A record to push: its reference, and what core planned for it.
type Planned = (TurrisRef, OutboundAction);

async fn push(
    state: &AppState,
    org: &OrganizationId,
    agencies: &[AgencyId],
    agents: &[AgentId],
) -> Result<(), PushError> {
    let db = state.db();
    let Some(settings) = db.load_settings(org).await? else {
        return Ok(());
    };
    if !settings.connection.is_active() {
        return Ok(());
    }
    let Some(credentials) = db.hubspot_credentials(org).await? else {
        return Ok(());
    };
    let link = |turris: TurrisRef| async move {
        db.link_by_turris(org, &turris)
            .await
            .map(|l| l.map(|l| l.hubspot_id))
    };
    let mut companies: Vec<Planned> = Vec::new();
    for id in agencies {
        let Some(agency) = db.get_agency(org, id).await? else {
            continue;
        };
        let turris = TurrisRef::Agency(agency.id.clone());
        let linked = link(turris.clone()).await?;
        let action = plan_outbound(
            &settings.mapping.agency,
            &settings.matrix,
            &agency.data,
            None,
            linked.as_ref(),
        );
        companies.push((turris, action));
    }
    let mut contacts: Vec<Planned> = Vec::new();
    if let Some(mapping) = settings.mapping.agent.as_ref() {
        for id in agents {
            let Some(agent) = db.get_agent(org, id).await? else {
                continue;
            };
            let turris = TurrisRef::Agent(agent.id.clone());
            let linked = link(turris.clone()).await?;
            let action = plan_outbound(
                mapping,
                &settings.matrix,
                &agent.data,
                None,
                linked.as_ref(),
            );
            contacts.push((turris, action));
        }
    }
    let has_work = |planned: &[Planned]| {
        planned
            .iter()
            .any(|(_, a)| !matches!(a, OutboundAction::Skip { .. }))
    };
    if !has_work(&companies) && !has_work(&contacts) {
        return Ok(());
    }
    let client = crate::hubspot::client(state, org, &credentials)?;
    let pusher = Pusher {
        state,
        org,
        client: &client,
    };
    pusher.push(&COMPANIES, companies).await?;
    pusher.push(&CONTACTS, contacts).await?;
    Ok(())
}

/// A HubSpot object we push to, and the titles of its calls.
struct Target {
    object: ObjectType,
    create: ActivityKind,
    update: ActivityKind,
}

const COMPANIES: Target = Target {
    object: ObjectType::Companies,
    create: ActivityKind::CreateCompany,
    update: ActivityKind::UpdateCompany,
};

const CONTACTS: Target = Target {
    object: ObjectType::Contacts,
    create: ActivityKind::CreateContact,
    update: ActivityKind::UpdateContact,
};

/// A call HubSpot refused, as the activity log shows it.
struct Refusal {
    status: Option<u16>,
    category: Option<String>,
    message: String,
}

struct Pusher<'a> {
    state: &'a AppState,
    org: &'a OrganizationId,
    client: &'a HubSpotClient,
}

impl Pusher<'_> {
    async fn push(&self, target: &Target, planned: Vec<Planned>) -> Result<(), PushError> {
        let mut updates = Vec::new();
        for (turris, action) in planned {
            match action {
                OutboundAction::Create { properties } => {
                    self.create(target, &turris, &properties).await?;
                }
                OutboundAction::Update {
                    object_id,
                    properties,
                } => updates.push((turris, object_id, properties)),
                OutboundAction::Skip { .. } => {}
            }
        }
        self.update(target, updates).await
    }

    async fn log(
        &self,
        kind: ActivityKind,
        outcome: Outcome,
        details: ActivityDetails,
    ) -> Result<(), PushError> {
        self.state
            .db()
            .append_activity(
                self.org,
                &NewActivity::new(kind, outcome, Utc::now()).with_details(details),
            )
            .await?;
        Ok(())
    }

    /// What a refused call says, after flipping the connection to error when HubSpot no
    /// longer accepts the credentials.
    async fn refusal(&self, error: turris_hubspot::Error) -> Refusal {
        let (status, category) = (error.status(), error.category().map(str::to_owned));
        let connection = ConnectionError::from(error);
        if connection.is_connection_lost()
            && let Err(e) =
                crate::hubspot::mark_connection_lost(self.state, self.org, &connection).await
        {
            tracing::error!(org = %self.org, error = %e, "cannot record the lost connection");
        }
        Refusal {
            status,
            category,
            message: connection.to_string(),
        }
    }

    async fn failed(
        &self,
        kind: ActivityKind,
        turris: &TurrisRef,
        hubspot_id: Option<&HubSpotId>,
        refusal: &Refusal,
    ) -> Result<(), PushError> {
        self.log(
            kind,
            Outcome::Failure,
            ActivityDetails {
                hubspot_status: refusal.status,
                error_category: refusal.category.clone(),
                message: Some(refusal.message.clone()),
                turris_id: Some(turris.id().to_owned()),
                hubspot_id: hubspot_id.map(ToString::to_string),
                ..ActivityDetails::default()
            },
        )
        .await
    }

    async fn remember(&self, id: &HubSpotId, properties: &PropertyMap) -> Result<(), PushError> {
        let writes = recent_writes(id, properties, Utc::now());
        self.state
            .db()
            .record_hubspot_writes(self.org, &writes)
            .await?;
        Ok(())
    }

    async fn create(
        &self,
        target: &Target,
        turris: &TurrisRef,
        properties: &PropertyMap,
    ) -> Result<(), PushError> {
        let input = SimplePublicObjectInputForCreate {
            properties: to_hubspot(properties),
            associations: Vec::new(),
        };
        let created = match self.client.create_object(&target.object, &input).await {
            Ok(created) => created,
            Err(e) => {
                let refusal = self.refusal(e).await;
                return self.failed(target.create, turris, None, &refusal).await;
            }
        };
        let Ok(hubspot_id) = HubSpotId::parse(&created.id) else {
            tracing::error!(org = %self.org, id = %created.id, "hubspot answered an unexpected id");
            return Ok(());
        };
        self.remember(&hubspot_id, properties).await?;
        self.state
            .db()
            .put_link(
                self.org,
                &Link {
                    turris: turris.clone(),
                    hubspot_id: hubspot_id.clone(),
                },
            )
            .await?;
        self.log(
            target.create,
            Outcome::Success,
            ActivityDetails {
                hubspot_status: Some(201),
                turris_id: Some(turris.id().to_owned()),
                hubspot_id: Some(hubspot_id.to_string()),
                ..ActivityDetails::default()
            },
        )
        .await
    }

    async fn update(
        &self,
        target: &Target,
        updates: Vec<(TurrisRef, HubSpotId, PropertyMap)>,
    ) -> Result<(), PushError> {
        if updates.is_empty() {
            return Ok(());
        }
        let inputs: Vec<BatchUpdateInput> = updates
            .iter()
            .map(|(_, id, properties)| BatchUpdateInput {
                id: id.to_string(),
                id_property: None,
                properties: to_hubspot(properties),
            })
            .collect();
        for (_, id, properties) in &updates {
            // Before the call: the echo may arrive before the answer.
            self.remember(id, properties).await?;
        }
        let outcome = self.client.batch_update(&target.object, &inputs).await;
        let mut refused: Vec<(std::ops::Range<usize>, Refusal)> = Vec::new();
        for failure in outcome.failed_chunks {
            refused.push((failure.inputs, self.refusal(failure.error).await));
        }
        for (index, (turris, id, _)) in updates.iter().enumerate() {
            if let Some((_, refusal)) = refused.iter().find(|(r, _)| r.contains(&index)) {
                self.failed(target.update, turris, Some(id), refusal)
                    .await?;
                continue;
            }
            let per_input = outcome
                .errors
                .iter()
                .find(|e| e.ids().iter().any(|i| i == id.as_str()));
            let (outcome, details) = match per_input {
                Some(error) => (
                    Outcome::Failure,
                    ActivityDetails {
                        hubspot_status: Some(207),
                        error_category: Some(error.category.clone()),
                        message: Some(error.message.clone()),
                        ..ActivityDetails::default()
                    },
                ),
                None => (
                    Outcome::Success,
                    ActivityDetails {
                        hubspot_status: Some(200),
                        ..ActivityDetails::default()
                    },
                ),
            };
            self.log(
                target.update,
                outcome,
                ActivityDetails {
                    turris_id: Some(turris.id().to_owned()),
                    hubspot_id: Some(id.to_string()),
                    ..details
                },
            )
            .await?;
        }
        Ok(())
    }
}

/// HubSpot's property values: an unset value clears the property.
fn to_hubspot(properties: &PropertyMap) -> HashMap<String, String> {
    properties
        .iter()
        .map(|(k, v)| (k.to_owned(), v.unwrap_or_default().to_owned()))
        .collect()
}
