//! Performs core's plan for one change of one HubSpot object, for any record kind.

use chrono::{DateTime, Utc};
use turris_core::activity::NewActivity;
use turris_core::ids::{AgencyId, HubSpotId};
use turris_core::mapping::{MappedField, RecordMapping, SkippedField};
use turris_core::planner::{Existing, InboundChange, PlanContext, SyncAction, apply_changes, plan};
use turris_core::store::{Link, TurrisRef};

use super::SyncError;
use super::organization::OrgSync;
use crate::sync::kinds::RecordKind;

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

impl OrgSync<'_> {
    /// Plans `change` with core's planner and performs the action: the record is created,
    /// updated or linked (following `agency`, its primary company's agency, when its kind
    /// does), or skipped; every outcome is an activity row. A kind that belongs to an agency
    /// is not planned without one.
    pub(super) async fn apply<K: RecordKind>(
        &self,
        ctx: &PlanContext<'_, K::Mapping>,
        change: &InboundChange,
        agency: Option<&AgencyId>,
    ) -> Result<Applied<K::Record>, SyncError> {
        let db = self.state.db();
        let id = &change.object_id;
        let linked = match db.link_by_hubspot(self.org, K::LINK, id).await? {
            Some(link) => K::load(db, self.org, &link.turris).await?,
            None => None,
        };
        let own_agency = linked.as_ref().and_then(K::agency);
        let agency = turris_core::planner::followed_agency(own_agency.as_ref(), agency);
        if K::BELONGS_TO_AGENCY && agency.is_none() {
            return Ok(Applied::Nothing);
        }
        let linked_draft = linked.as_ref().map(K::draft);
        let mut matched = None;
        let existing = match &linked_draft {
            Some(draft) => Existing::Linked(draft),
            None => {
                if let Ok(mapped) = ctx.mapping.to_turris(&change.properties) {
                    matched =
                        K::find_unlinked(db, self.org, &mapped.draft, agency.as_ref()).await?;
                }
                match &matched {
                    Some((_, by)) => Existing::Matched(*by),
                    None => Existing::NotFound,
                }
            }
        };
        let action = plan(change, ctx, existing);
        let now = Utc::now();
        let kind = K::activity(&change.kind);
        let row = |record: &K::Record, message: String| {
            NewActivity::success(kind, now)
                .message(message)
                .turris(K::turris(record).id())
                .hubspot(id)
        };
        let link = |record: &K::Record| Link {
            turris: K::turris(record),
            hubspot_id: id.clone(),
        };
        let noun = <K::Mapping as RecordMapping>::NOUN;
        Ok(match action {
            SyncAction::Create { draft, skipped } => {
                let record = K::create(draft, agency.as_ref());
                K::insert(db, self.org, &record).await?;
                db.put_link(self.org, &link(&record)).await?;
                self.log(row(&record, K::created_message(&record))).await?;
                self.log_skipped_fields(&K::turris(&record), id, &skipped, now)
                    .await?;
                Applied::Created(record)
            }
            SyncAction::Update { changes, skipped } => {
                let mut record = linked.expect("updates are planned for linked records");
                let mut draft = K::draft(&record);
                apply_changes(&mut draft, &changes);
                K::set_draft(&mut record, draft);
                K::follow(&mut record, agency.as_ref());
                K::update(db, self.org, &record).await?;
                let fields: Vec<&str> = changes.iter().map(|c| c.field.key()).collect();
                let message = format!("{noun} updated: {}", fields.join(", "));
                self.log(row(&record, message)).await?;
                self.log_skipped_fields(&K::turris(&record), id, &skipped, now)
                    .await?;
                Applied::Updated(record)
            }
            SyncAction::Link { matched_by } => {
                let (mut record, _) = matched.expect("links are planned for matched records");
                if K::follow(&mut record, agency.as_ref()) {
                    K::update(db, self.org, &record).await?;
                }
                db.put_link(self.org, &link(&record)).await?;
                let by = serde_json::to_value(matched_by)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let message = format!("linked to the existing {noun} (matched by {by})");
                self.log(row(&record, message)).await?;
                Applied::Linked
            }
            SyncAction::Skip { reason } => {
                let skipped = NewActivity::webhook_skipped(reason.to_string(), now)
                    .message(kind.title())
                    .turris_opt(linked.as_ref().map(|r| K::turris(r).id().to_owned()))
                    .hubspot(id);
                self.log(skipped).await?;
                Applied::Nothing
            }
        })
    }

    /// One Skipped row per mapped value that was not stored (a state code that is not a US
    /// code, say).
    async fn log_skipped_fields<F: MappedField>(
        &self,
        turris: &TurrisRef,
        hubspot_id: &HubSpotId,
        skipped: &[SkippedField<F>],
        now: DateTime<Utc>,
    ) -> Result<(), SyncError> {
        for field in skipped {
            let row = NewActivity::webhook_skipped(
                format!("{}: {}", field.field.key(), field.reason),
                now,
            )
            .message(format!(
                "{} value {:?} of {} was not stored",
                field.field.label(),
                field.value,
                field.property
            ))
            .turris(turris.id())
            .hubspot(hubspot_id);
            self.log(row).await?;
        }
        Ok(())
    }
}
