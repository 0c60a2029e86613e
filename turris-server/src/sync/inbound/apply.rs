//! Performs core's plan for one change of one HubSpot object, for any record kind.
//!
//! Each outcome is one [`InboundStep`] committed in one transaction (the record, its link, its
//! activity rows and a new agency's invitation), so a crash between them leaves nothing half
//! done. When the step finds the HubSpot object already linked (an earlier attempt or another
//! process committed first), nothing was written and the change is planned again against that
//! link: a retry never creates a second record.

use chrono::{DateTime, Utc};
use turris_core::activity::NewActivity;
use turris_core::ids::{AgencyId, HubSpotId};
use turris_core::invitation::InvitationSettings;
use turris_core::mapping::{MappedField, RecordMapping, SkippedField};
use turris_core::matching::MatchedBy;
use turris_core::planner::{
    EchoInfo, EchoVerdict, Existing, FieldChange, InboundChange, PlanContext, RecentWrite,
    SyncAction, apply_changes, as_hubspot_holds, plan, property_edit_times,
};
use turris_core::store::{Link, LinkKind, TurrisRef};

use super::SyncError;
use super::organization::OrgSync;
use crate::store::{InboundStep, RecordWrite, StepOutcome};
use crate::sync::kinds::RecordKind;

/// How many times a change is planned again after another step linked its object first or
/// changed its record.
const RACES: usize = 5;

/// What applying a change did to the Turris record.
pub(super) enum Applied<R> {
    /// Created it.
    Created(R),
    /// Updated it.
    Updated(R),
    /// Linked an existing one.
    Linked,
    /// Nothing (skipped, with a row saying why).
    Nothing,
}

/// A record kind's planning context, and the invitation settings a new agency is decided by.
pub(super) struct KindContext<'a, 'm, K: RecordKind> {
    pub(super) plan: &'a PlanContext<'m, K::Mapping>,
    pub(super) invitations: &'a InvitationSettings,
}

impl OrgSync<'_> {
    /// Plans `change` with core's planner and performs the action: the record is created,
    /// updated or linked (following `agency`, its primary company's agency, when its kind
    /// does), or skipped; every outcome is an activity row. A kind that belongs to an agency
    /// is not planned without one.
    pub(super) async fn apply<K: RecordKind>(
        &self,
        ctx: &KindContext<'_, '_, K>,
        change: &InboundChange,
        agency: Option<&AgencyId>,
    ) -> Result<Applied<K::Record>, SyncError> {
        for _ in 0..RACES {
            if let Some(applied) = self.apply_once::<K>(ctx, change, agency).await? {
                return Ok(applied);
            }
        }
        // Failing the step fails its events, which are retried after a delay: dropping the
        // change would leave the record on a value HubSpot no longer has.
        Err(SyncError::Raced {
            object: change.object_id.clone(),
        })
    }

    /// Whether the contact `id` is linked as the other contact kind (an agent, when `K` makes
    /// agency contacts, and the reverse): one contact is one Turris record, so the change is
    /// skipped with a row saying so (another step may have just linked it).
    async fn linked_as_other_contact<K: RecordKind>(
        &self,
        id: &HubSpotId,
    ) -> Result<bool, SyncError> {
        let other = match K::LINK {
            LinkKind::Agent => LinkKind::AgencyContact,
            LinkKind::AgencyContact => LinkKind::Agent,
            LinkKind::Agency => return Ok(false),
        };
        let Some(link) = self.state.db().link_by_hubspot(self.org, other, id).await? else {
            return Ok(false);
        };
        let reason = format!("the contact is linked to an {} already", link.turris.noun());
        let row = NewActivity::webhook_skipped(reason, Utc::now())
            .turris(link.turris.id())
            .hubspot(id);
        self.log(row).await?;
        Ok(true)
    }

    /// One attempt of [`apply`](Self::apply); `None` when another step linked the object first.
    async fn apply_once<K: RecordKind>(
        &self,
        ctx: &KindContext<'_, '_, K>,
        change: &InboundChange,
        agency: Option<&AgencyId>,
    ) -> Result<Option<Applied<K::Record>>, SyncError> {
        let db = self.state.db();
        let id = &change.object_id;
        let linked = match db.link_by_hubspot(self.org, K::LINK, id).await? {
            Some(link) => K::load(db, self.org, &link.turris).await?,
            None => None,
        };
        if linked.is_none() && self.linked_as_other_contact::<K>(id).await? {
            return Ok(Some(Applied::Nothing));
        }
        let own_agency = linked.as_ref().and_then(K::agency);
        let agency = turris_core::planner::followed_agency(own_agency.as_ref(), agency);
        if K::BELONGS_TO_AGENCY && agency.is_none() {
            return Ok(Some(Applied::Nothing));
        }
        let linked_draft = linked.as_ref().map(K::draft);
        let matched = match &linked {
            Some(_) => None,
            None => {
                self.unlinked_match::<K>(ctx, change, agency.as_ref())
                    .await?
            }
        };
        let existing = match (&linked_draft, &matched) {
            (Some(draft), _) => Existing::Linked(draft),
            (None, Some((_, by))) => Existing::Matched(*by),
            (None, None) => Existing::NotFound,
        };
        let now = Utc::now();
        let (pending, recent) = match &linked {
            Some(record) => self.writes_now::<K>(ctx, record, id, now).await?,
            None => (Vec::new(), None),
        };
        let plan_ctx = PlanContext {
            echo: EchoInfo {
                pending: &pending,
                recent_writes: recent.as_deref().unwrap_or(ctx.plan.echo.recent_writes),
                ..ctx.plan.echo
            },
            ..*ctx.plan
        };
        let step = Planned { change, now };
        Ok(match plan(change, &plan_ctx, existing) {
            SyncAction::Create { draft, skipped } => {
                let record = K::create(draft, agency.as_ref());
                self.create::<K>(ctx, &step, record, &skipped).await?
            }
            SyncAction::Update { changes, skipped } => {
                let record = linked.expect("updates are planned for linked records");
                let (push_back, held) =
                    push_back::<K>(ctx.plan.mapping, &plan_ctx.echo, change, &record, &changes);
                let update = Update {
                    changes: &changes,
                    skipped: &skipped,
                    push_back,
                    held,
                };
                self.update::<K>(&step, record, update, agency.as_ref())
                    .await?
            }
            SyncAction::Link { matched_by } => {
                let (record, _) = matched.expect("links are planned for matched records");
                self.link_matched::<K>(&step, record, matched_by, agency.as_ref())
                    .await?
            }
            SyncAction::Skip { reason } => {
                self.skipped::<K>(&step, &reason.to_string(), linked.as_ref())
                    .await?
            }
        })
    }

    /// A planned skip: its activity row, with the reason.
    async fn skipped<K: RecordKind>(
        &self,
        step: &Planned<'_>,
        reason: &str,
        linked: Option<&K::Record>,
    ) -> Result<Option<Applied<K::Record>>, SyncError> {
        let change = step.change;
        let row = NewActivity::webhook_skipped(reason.to_owned(), step.now)
            .message(K::activity(&change.kind).title())
            .turris_opt(linked.map(|r| K::turris(r).id().to_owned()))
            .hubspot(&change.object_id);
        self.log(row).await?;
        Ok(Some(Applied::Nothing))
    }

    /// The unlinked Turris record an unlinked HubSpot object matches by the matching keys, and
    /// by which key.
    async fn unlinked_match<K: RecordKind>(
        &self,
        ctx: &KindContext<'_, '_, K>,
        change: &InboundChange,
        agency: Option<&AgencyId>,
    ) -> Result<Option<(K::Record, MatchedBy)>, SyncError> {
        let Ok(mapped) = ctx.plan.mapping.to_turris(&change.properties) else {
            return Ok(None);
        };
        Ok(K::find_unlinked(self.state.db(), self.org, &mapped.draft, agency).await?)
    }

    /// A linked record's queued edits, then our writes to its object: read now, not with the
    /// step's batch, since a push may have finished meanwhile (its rows gone, its writes in
    /// the ledger). The ledger is read after the rows, so a push is seen in one or the other.
    async fn writes_now<K: RecordKind>(
        &self,
        ctx: &KindContext<'_, '_, K>,
        record: &K::Record,
        object: &HubSpotId,
        now: DateTime<Utc>,
    ) -> Result<(Vec<RecentWrite>, Option<Vec<RecentWrite>>), SyncError> {
        let pending = self
            .pending_writes::<K>(ctx.plan.mapping, record, object)
            .await?;
        let recent = self
            .recent_writes(std::slice::from_ref(object), now)
            .await?;
        Ok((pending, Some(recent)))
    }

    /// The Turris edits of `record` not pushed yet, as the writes to `object` they will become
    /// (core's echo verdict lets a HubSpot edit older than one of them lose to it).
    async fn pending_writes<K: RecordKind>(
        &self,
        mapping: &K::Mapping,
        record: &K::Record,
        object: &HubSpotId,
    ) -> Result<Vec<RecentWrite>, SyncError> {
        let db = self.state.db();
        let edits = db
            .pending_turris_edits(self.org, &K::turris(record))
            .await?;
        if edits.is_empty() {
            return Ok(Vec::new());
        }
        let edits: Vec<_> = edits
            .into_iter()
            .map(|(at, previous)| (at, previous.as_deref().and_then(K::stored_draft)))
            .collect();
        let times = property_edit_times(mapping, &edits, &K::draft(record));
        Ok(times
            .into_iter()
            .map(|(property, at)| RecentWrite {
                object_id: object.clone(),
                property,
                value: None,
                at,
                edited_at: at,
            })
            .collect())
    }

    /// Updates the linked `record` with its rows (and its push back to HubSpot) in one step.
    async fn update<K: RecordKind>(
        &self,
        step: &Planned<'_>,
        mut record: K::Record,
        update: Update<'_, K>,
        agency: Option<&AgencyId>,
    ) -> Result<Option<Applied<K::Record>>, SyncError> {
        let read = record.clone();
        let mut draft = K::draft(&record);
        apply_changes(&mut draft, update.changes);
        K::set_draft(&mut record, draft);
        K::follow(&mut record, agency);
        let fields: Vec<&str> = update.changes.iter().map(|c| c.field.key()).collect();
        let noun = <K::Mapping as RecordMapping>::NOUN;
        let message = match fields.is_empty() {
            false => format!("{noun} updated: {}", fields.join(", ")),
            true => format!("{noun} unchanged: the HubSpot edit goes back over our older value"),
        };
        let held = update.held.map(|draft| {
            let mut held = read.clone();
            K::set_draft(&mut held, draft);
            held
        });
        let mut activity = vec![step.row::<K>(&record, message)];
        let id = &step.change.object_id;
        activity.extend(skipped_rows(
            &K::turris(&record),
            id,
            update.skipped,
            step.now,
        ));
        let written = InboundStep {
            record: Some(RecordWrite::Update {
                record: K::synced(&record),
                read: K::synced(&read),
            }),
            activity,
            push_back: update.push_back,
            held_in_hubspot: held.as_ref().map(K::synced),
            ..InboundStep::default()
        };
        let committed = self.commit(&written).await?;
        if committed && update.push_back.is_some() {
            crate::sync::outbound::wake(self.state);
        }
        Ok(committed.then_some(Applied::Updated(record)))
    }

    /// Creates `record` with its link, rows and (an agency's) invitation in one step.
    async fn create<K: RecordKind>(
        &self,
        ctx: &KindContext<'_, '_, K>,
        step: &Planned<'_>,
        record: K::Record,
        skipped: &[SkippedField<<K::Mapping as RecordMapping>::Field>],
    ) -> Result<Option<Applied<K::Record>>, SyncError> {
        let properties = &step.change.properties;
        let extra = K::created_with(&record, ctx.invitations, properties, step.now);
        let link = step.link::<K>(&record);
        let mut activity = vec![step.row::<K>(&record, K::created_message(&record))];
        let id = &step.change.object_id;
        activity.extend(skipped_rows(&K::turris(&record), id, skipped, step.now));
        activity.extend(extra.activity);
        let written = InboundStep {
            record: Some(RecordWrite::Insert(K::synced(&record))),
            link: Some(&link),
            activity,
            invitation: extra.invitation,
            ..InboundStep::default()
        };
        Ok(self
            .commit(&written)
            .await?
            .then_some(Applied::Created(record)))
    }

    /// Links a matched unlinked record (moved to `agency` when its kind follows it).
    async fn link_matched<K: RecordKind>(
        &self,
        step: &Planned<'_>,
        mut record: K::Record,
        matched_by: MatchedBy,
        agency: Option<&AgencyId>,
    ) -> Result<Option<Applied<K::Record>>, SyncError> {
        let read = record.clone();
        let moved = K::follow(&mut record, agency);
        let link = step.link::<K>(&record);
        let by = serde_json::to_value(matched_by)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let noun = <K::Mapping as RecordMapping>::NOUN;
        let message = format!("linked to the existing {noun} (matched by {by})");
        let written = InboundStep {
            record: moved.then(|| RecordWrite::Update {
                record: K::synced(&record),
                read: K::synced(&read),
            }),
            link: Some(&link),
            activity: vec![step.row::<K>(&record, message)],
            ..InboundStep::default()
        };
        Ok(self.commit(&written).await?.then_some(Applied::Linked))
    }

    /// Commits one step; `false` when the HubSpot object was linked to another record first,
    /// or the record changed since the step read it (nothing written).
    async fn commit(&self, step: &InboundStep<'_>) -> Result<bool, SyncError> {
        match self.state.db().commit_inbound_step(self.org, step).await? {
            StepOutcome::Committed => Ok(true),
            StepOutcome::AlreadyLinked(link) => {
                tracing::debug!(org = %self.org, object = %link.hubspot_id, "already linked by another step: planning again");
                Ok(false)
            }
            StepOutcome::Changed => {
                tracing::debug!(org = %self.org, "the record changed since it was read: planning again");
                Ok(false)
            }
        }
    }
}

/// Fields a planned update changes, those it could not store, when the user's edit it
/// pushes back to HubSpot was made (if it does), and the record as HubSpot holds it when the
/// update changes nothing (Turris holds the edit already).
struct Update<'a, K: RecordKind> {
    changes: &'a [FieldChange<<K::Mapping as RecordMapping>::Field>],
    skipped: &'a [SkippedField<<K::Mapping as RecordMapping>::Field>],
    push_back: Option<DateTime<Utc>>,
    held: Option<Draft<K>>,
}

type Draft<K> = <<K as RecordKind>::Mapping as RecordMapping>::Draft;

/// A user's edit our older value may have overwritten in HubSpot goes back: when it was made,
/// and, if the update changes nothing (Turris holds the edit already), `record` as HubSpot
/// holds it, for the push to compare with (core's [`as_hubspot_holds`]).
fn push_back<K: RecordKind>(
    mapping: &K::Mapping,
    echo: &EchoInfo<'_>,
    change: &InboundChange,
    record: &K::Record,
    changes: &[FieldChange<<K::Mapping as RecordMapping>::Field>],
) -> (Option<DateTime<Utc>>, Option<Draft<K>>) {
    let EchoVerdict::Overwritten { property, .. } = echo.verdict(change) else {
        return (None, None);
    };
    let held = changes.is_empty().then(|| {
        let value = change.properties.get(&property);
        as_hubspot_holds(mapping, &K::draft(record), &property, value)
    });
    (Some(change.occurred_at), held)
}

/// What the rows and the link of one planned change share.
struct Planned<'a> {
    change: &'a InboundChange,
    now: DateTime<Utc>,
}

impl Planned<'_> {
    fn row<K: RecordKind>(&self, record: &K::Record, message: String) -> NewActivity {
        NewActivity::success(K::activity(&self.change.kind), self.now)
            .message(message)
            .turris(K::turris(record).id())
            .hubspot(&self.change.object_id)
    }

    fn link<K: RecordKind>(&self, record: &K::Record) -> Link {
        Link {
            turris: K::turris(record),
            hubspot_id: self.change.object_id.clone(),
        }
    }
}

/// One Skipped row per mapped value that was not stored (a state code that is not a US code,
/// say).
fn skipped_rows<F: MappedField>(
    turris: &TurrisRef,
    hubspot_id: &HubSpotId,
    skipped: &[SkippedField<F>],
    now: DateTime<Utc>,
) -> Vec<NewActivity> {
    skipped
        .iter()
        .map(|field| {
            NewActivity::webhook_skipped(format!("{}: {}", field.field.key(), field.reason), now)
                .message(format!(
                    "{} value {:?} of {} was not stored",
                    field.field.label(),
                    field.value,
                    field.property
                ))
                .turris(turris.id())
                .hubspot(hubspot_id)
        })
        .collect()
}
