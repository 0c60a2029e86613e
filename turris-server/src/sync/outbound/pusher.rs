//! The HubSpot side of an outbound push: batch creates and updates, and what each call's
//! answer becomes (links, echo-ledger entries, activity rows, CRM sync records, retries).

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use turris_core::activity::{ActivityDetails, ActivityKind, NewActivity, Outcome};
use turris_core::audit::{CrmObject, CrmOperation, CrmSyncEntry, SyncTrigger};
use turris_core::ids::{HubSpotId, OrganizationId};
use turris_core::planner::{OutboundAction, RecentWrite, recent_writes};
use turris_core::property::PropertyMap;
use turris_core::store::{Link, TurrisRef};
use turris_core::tags::TAGS_PROPERTY;
use turris_hubspot::HubSpotClient;
use turris_hubspot::crm::ObjectType;
use turris_hubspot::crm::batch::{BatchUpdateInput, ChunkAnswer};

use super::{Planned, PushError};
use crate::app::AppState;
use crate::hubspot::ConnectionError;
use crate::store::{OutboundClaim, PushReason};

/// A HubSpot object we push to, and the titles of its calls.
pub(super) struct Target {
    object: ObjectType,
    audit: CrmObject,
    create: ActivityKind,
    update: ActivityKind,
}

pub(super) const COMPANIES: Target = Target {
    object: ObjectType::Companies,
    audit: CrmObject::Company,
    create: ActivityKind::CreateCompany,
    update: ActivityKind::UpdateCompany,
};

pub(super) const CONTACTS: Target = Target {
    object: ObjectType::Contacts,
    audit: CrmObject::Contact,
    create: ActivityKind::CreateContact,
    update: ActivityKind::UpdateContact,
};

/// A call HubSpot refused, as the activity log shows it.
pub(super) struct Refusal {
    status: Option<u16>,
    category: Option<String>,
    correlation_id: Option<String>,
    message: String,
    /// Whether trying again later may succeed: no answer, 429, 5xx, or a refused token (the
    /// connection is then paused until a reconnect).
    transient: bool,
}

pub(super) struct Pusher<'a> {
    pub(super) state: &'a AppState,
    pub(super) org: &'a OrganizationId,
    pub(super) claim: &'a OutboundClaim,
    pub(super) client: &'a HubSpotClient,
    /// Records whose call failed for a reason that may pass.
    pub(super) retry: Mutex<Vec<(TurrisRef, String)>>,
    /// When each pushed property of each record was last edited in Turris.
    pub(super) edit_times: HashMap<TurrisRef, super::EditTimes>,
}

impl Pusher<'_> {
    pub(super) async fn push(
        &self,
        target: &Target,
        planned: Vec<Planned>,
    ) -> Result<(), PushError> {
        let mut creates = Vec::new();
        let mut updates = Vec::new();
        for (turris, action) in planned {
            match action {
                OutboundAction::Create { properties } => creates.push((turris, properties)),
                OutboundAction::Update {
                    object_id,
                    properties,
                } => updates.push((turris, object_id, properties)),
                OutboundAction::Skip { .. } => {}
            }
        }
        self.create(target, creates).await?;
        self.update(target, updates).await
    }

    pub(super) async fn log(
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
    pub(super) async fn refusal(
        &self,
        error: turris_hubspot::Error,
        object: Option<&ObjectType>,
    ) -> Refusal {
        let (status, category) = (error.status(), error.category().map(str::to_owned));
        let correlation_id = error.hubspot().and_then(|e| e.correlation_id.clone());
        if let Some(object) = object
            && tags_property_missing(&error)
        {
            // Someone deleted turris_tags: made again (or tags turned off), sent again.
            let gone = crate::sync::tags::property_gone(self.state, self.org, self.client, object);
            let message = gone.await.unwrap_or_else(|e| {
                tracing::error!(org = %self.org, error = %crate::error::ErrorChain(&e), "cannot record the missing tags property");
                format!("the {TAGS_PROPERTY} property is missing in HubSpot")
            });
            return Refusal {
                status,
                category,
                correlation_id,
                message,
                transient: true,
            };
        }
        // Only the property and HubSpot's code: HubSpot's own message may echo what was sent.
        let broken: Vec<String> = error
            .hubspot()
            .map(|e| {
                e.validation_failures()
                    .iter()
                    .filter_map(|f| {
                        let property = f.property.as_deref()?;
                        Some(format!(
                            "{property}: {}",
                            f.code.as_deref().unwrap_or("invalid")
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !broken.is_empty() {
            // The portal's own rules (2026-09): no retry helps; the record or the rule must change.
            return Refusal {
                status,
                category,
                correlation_id,
                message: format!(
                    "HubSpot refused the record for this portal's property rules ({}); fix the \
                     record in Turris or the rule in HubSpot, then save the record again",
                    broken.join(", ")
                ),
                transient: false,
            };
        }
        let transient = status.is_none_or(|s| s == 429 || s == 401 || s == 403 || s >= 500);
        let connection = ConnectionError::from(error);
        if let Some(until) = connection.daily_limit_until() {
            crate::hubspot::note_daily_limit(self.state, self.org, until).await;
        }
        if connection.is_connection_lost()
            && let Err(e) =
                crate::hubspot::mark_connection_lost(self.state, self.org, &connection).await
        {
            tracing::error!(org = %self.org, error = %e, "cannot record the lost connection");
        }
        Refusal {
            status,
            category,
            correlation_id,
            message: connection.to_string(),
            transient,
        }
    }

    pub(super) async fn failed(
        &self,
        kind: ActivityKind,
        turris: &TurrisRef,
        hubspot_id: Option<&HubSpotId>,
        refusal: &Refusal,
    ) -> Result<(), PushError> {
        if refusal.transient {
            self.retry
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((turris.clone(), refusal.message.clone()));
        }
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

    /// The ledger entries of writing `properties` of `turris` to `id` now, each dated by the
    /// Turris edit that changed it (else the claim's newest edit of the record, else now).
    fn writes(
        &self,
        turris: &TurrisRef,
        id: &HubSpotId,
        properties: &PropertyMap,
        now: DateTime<Utc>,
    ) -> Vec<RecentWrite> {
        let newest = self
            .claim
            .pushes
            .iter()
            .filter(|p| p.record == *turris && p.reason == PushReason::Record)
            .map(|p| p.queued_at)
            .max()
            .unwrap_or(now);
        let times = self.edit_times.get(turris);
        let mut writes = recent_writes(id, properties, now, newest);
        for write in &mut writes {
            if let Some(at) = times.and_then(|t| t.get(&write.property)) {
                write.edited_at = *at;
            }
        }
        writes
    }

    async fn remember(
        &self,
        turris: &TurrisRef,
        id: &HubSpotId,
        properties: &PropertyMap,
    ) -> Result<(), PushError> {
        let writes = self.writes(turris, id, properties, Utc::now());
        self.state
            .db()
            .record_hubspot_writes(self.org, &writes)
            .await?;
        Ok(())
    }

    /// Creates the records with one batch per 100, each input keyed by its Turris id (an
    /// upsert on the `turris_id` property, so a create whose answer was lost and is sent again
    /// finds its record; see [`crate::sync::creates`]) and paired with its Turris record.
    async fn create(
        &self,
        target: &Target,
        creates: Vec<(TurrisRef, PropertyMap)>,
    ) -> Result<(), PushError> {
        if creates.is_empty() {
            return Ok(());
        }
        let inputs = creates
            .iter()
            .map(|(turris, properties)| (turris.id().to_owned(), to_hubspot(properties)))
            .collect();
        let mut outcome =
            crate::sync::creates::create(self.state, self.client, self.org, &target.object, inputs)
                .await;
        let mut refused: Vec<(std::ops::Range<usize>, Refusal)> = Vec::new();
        let answered = std::mem::take(&mut outcome.answered);
        for failure in outcome.failed_chunks {
            refused.push((
                failure.inputs,
                self.refusal(failure.error, Some(&target.object)).await,
            ));
        }
        let created: HashMap<&str, &str> = outcome
            .results
            .iter()
            .filter_map(|r| Some((r.object_write_trace_id.as_deref()?, r.id.as_str())))
            .collect();
        let mut audit = Vec::with_capacity(creates.len());
        for (index, (turris, properties)) in creates.iter().enumerate() {
            let entry = written(target, CrmOperation::Create, turris, properties)
                .correlation(correlation_of(&answered, index));
            if let Some((_, refusal)) = refused.iter().find(|(r, _)| r.contains(&index)) {
                audit.push(refusal.recorded(entry));
                self.failed(target.create, turris, None, refusal).await?;
                continue;
            }
            let Some(id) = created.get(turris.id()) else {
                // A per-input failure of a multi-status answer names the input by its trace id.
                let error = outcome
                    .errors
                    .iter()
                    .find(|e| e.context.values().flatten().any(|v| v == turris.id()));
                let (category, message) = match error {
                    Some(e) => (Some(e.category.clone()), e.message.clone()),
                    None => (None, "HubSpot created no record for this input".to_owned()),
                };
                audit.push(entry.answered(Some(207), Some(input_refused(category.as_deref()))));
                self.log(
                    target.create,
                    Outcome::Failure,
                    ActivityDetails {
                        hubspot_status: Some(207),
                        error_category: category,
                        message: Some(message),
                        turris_id: Some(turris.id().to_owned()),
                        ..ActivityDetails::default()
                    },
                )
                .await?;
                continue;
            };
            let Ok(hubspot_id) = HubSpotId::parse(id) else {
                tracing::error!(org = %self.org, id = %id, "hubspot answered an unexpected id");
                continue;
            };
            audit.push(
                entry
                    .object_id(hubspot_id.to_string())
                    .answered(Some(201), None),
            );
            self.link(target, turris, hubspot_id, properties).await?;
        }
        self.record(&audit).await
    }

    /// Stores a created record's link, its echo-ledger entries and its row in one transaction,
    /// under the lease. HubSpot may answer with an object another Turris record is linked to (a
    /// merge made one record of two): this record then fails alone, the others go on.
    async fn link(
        &self,
        target: &Target,
        turris: &TurrisRef,
        hubspot_id: HubSpotId,
        properties: &PropertyMap,
    ) -> Result<(), PushError> {
        let now = Utc::now();
        let row =
            NewActivity::new(target.create, Outcome::Success, now).with_details(ActivityDetails {
                hubspot_status: Some(201),
                turris_id: Some(turris.id().to_owned()),
                hubspot_id: Some(hubspot_id.to_string()),
                ..ActivityDetails::default()
            });
        let link = Link {
            turris: turris.clone(),
            hubspot_id: hubspot_id.clone(),
        };
        let writes = self.writes(turris, &hubspot_id, properties, now);
        let committed = self
            .state
            .db()
            .commit_outbound_link(self.claim, &link, &writes, &row)
            .await;
        let Err(crate::store::DbError::Conflict(conflict)) = committed else {
            return Ok(committed?);
        };
        let message = format!(
            "HubSpot answered with {} {hubspot_id}, which cannot be linked to this record ({}); \
             merge or unlink the duplicate in Turris, then save the record again",
            target.audit.as_str(),
            conflict.message()
        );
        self.log(
            target.create,
            Outcome::Failure,
            ActivityDetails {
                message: Some(message),
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
        for (turris, id, properties) in &updates {
            // Before the call: the echo may arrive before the answer.
            self.remember(turris, id, properties).await?;
        }
        let mut outcome = self.client.batch_update(&target.object, &inputs).await;
        let answered = std::mem::take(&mut outcome.answered);
        let mut refused: Vec<(std::ops::Range<usize>, Refusal)> = Vec::new();
        for failure in outcome.failed_chunks {
            refused.push((
                failure.inputs,
                self.refusal(failure.error, Some(&target.object)).await,
            ));
        }
        let mut audit = Vec::with_capacity(updates.len());
        for (index, (turris, id, properties)) in updates.iter().enumerate() {
            let entry = written(target, CrmOperation::Update, turris, properties)
                .object_id(id.to_string())
                .correlation(correlation_of(&answered, index));
            if let Some((_, refusal)) = refused.iter().find(|(r, _)| r.contains(&index)) {
                audit.push(refusal.recorded(entry));
                self.failed(target.update, turris, Some(id), refusal)
                    .await?;
                continue;
            }
            let per_input = outcome
                .errors
                .iter()
                .find(|e| e.ids().iter().any(|i| i == id.as_str()));
            audit.push(match per_input {
                Some(error) => {
                    entry.answered(Some(207), Some(input_refused(Some(&error.category))))
                }
                None => entry.answered(Some(200), None),
            });
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
        self.record(&audit).await
    }

    /// Appends writes to the CRM sync record.
    pub(super) async fn record(&self, entries: &[CrmSyncEntry]) -> Result<(), PushError> {
        self.state
            .db()
            .append_sync_records(self.org, entries)
            .await?;
        Ok(())
    }
}

impl Refusal {
    /// `entry` as this refusal left it.
    pub(super) fn recorded(&self, entry: CrmSyncEntry) -> CrmSyncEntry {
        entry
            .answered(self.status, Some(self.message.clone()))
            .correlation(self.correlation_id.clone())
    }
}

/// The correlation id of HubSpot's answer covering input `index`.
pub(crate) fn correlation_of(answered: &[ChunkAnswer], index: usize) -> Option<String> {
    answered
        .iter()
        .find(|a| a.inputs.contains(&index))
        .and_then(|a| a.correlation_id.clone())
}

/// A sync record of writing `properties` of `turris` to `target`.
fn written(
    target: &Target,
    operation: CrmOperation,
    turris: &TurrisRef,
    properties: &PropertyMap,
) -> CrmSyncEntry {
    let trigger = match turris_core::tags::only_tags(properties) {
        true => SyncTrigger::Tags,
        false => SyncTrigger::RecordChange,
    };
    CrmSyncEntry::new(Utc::now(), target.audit, operation, trigger)
        .turris(turris)
        .wrote(properties.iter())
}

/// What a sync record says of one input HubSpot refused in a multi-status answer: its
/// category only (HubSpot's message may echo the values sent).
fn input_refused(category: Option<&str>) -> String {
    format!(
        "HubSpot refused this input ({})",
        category.unwrap_or("no reason given")
    )
}

/// Whether HubSpot refused a write because `turris_tags` does not exist (someone deleted it).
fn tags_property_missing(error: &turris_hubspot::Error) -> bool {
    error.hubspot().is_some_and(|e| {
        e.validation_failures().iter().any(|f| {
            f.property.as_deref() == Some(TAGS_PROPERTY)
                && f.code.as_deref() == Some("PROPERTY_DOESNT_EXIST")
        })
    })
}

/// HubSpot's property values: an unset value clears the property.
fn to_hubspot(properties: &PropertyMap) -> HashMap<String, String> {
    properties
        .iter()
        .map(|(k, v)| (k.to_owned(), v.unwrap_or_default().to_owned()))
        .collect()
}
