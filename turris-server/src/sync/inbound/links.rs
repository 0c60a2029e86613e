//! Deletions and merges in HubSpot: links are dropped or follow the primary object, and the
//! Turris records stay (deleting Turris data from HubSpot is not in the spec). Each link
//! change commits with its activity row in one transaction.

use chrono::{DateTime, Utc};
use turris_core::activity::{ActivityKind, NewActivity};
use turris_core::ids::HubSpotId;
use turris_core::planner::{MergeStep, plan_merge};
use turris_core::store::{Link, LinkKind, TurrisRef};

use super::SyncError;
use super::organization::OrgSync;
use crate::store::{InboundStep, StepOutcome};

/// A kind of HubSpot object inbound sync reads, and the links its objects can have.
pub(super) struct HubSpotObject {
    /// What messages call it.
    pub(super) name: &'static str,
    /// The kinds of link one of its objects can have, in lookup order.
    pub(super) links: &'static [LinkKind],
    /// The title of a change to it.
    pub(super) changed: ActivityKind,
    /// The title of a merge of it.
    pub(super) merged: ActivityKind,
}

/// Companies: agencies.
pub(super) const COMPANY: HubSpotObject = HubSpotObject {
    name: "company",
    links: &[LinkKind::Agency],
    changed: ActivityKind::WebhookCompanyPropertyChanged,
    merged: ActivityKind::WebhookCompanyPropertyChanged,
};

/// Contacts: agents, else agency contacts.
pub(super) const CONTACT: HubSpotObject = HubSpotObject {
    name: "contact",
    links: &[LinkKind::Agent, LinkKind::AgencyContact],
    changed: ActivityKind::WebhookContactPropertyChanged,
    merged: ActivityKind::WebhookContactsMerged,
};

impl OrgSync<'_> {
    /// A deleted object: its link is dropped and the Turris record stays.
    pub(super) async fn deleted(
        &self,
        object: &HubSpotObject,
        id: &HubSpotId,
        now: DateTime<Utc>,
    ) -> Result<(), SyncError> {
        let name = object.name;
        match self.link(object.links, id).await? {
            Some(link) => {
                let row = NewActivity::success(object.changed, now)
                    .message(format!(
                        "{name} deleted in HubSpot: link removed, the {} stays in Turris",
                        link.turris.noun()
                    ))
                    .turris(link.turris.id())
                    .hubspot(id);
                self.relink(&link.turris, None, row).await?;
                Ok(())
            }
            None => {
                let row = NewActivity::webhook_skipped(
                    format!("{name} deleted in HubSpot was not linked"),
                    now,
                )
                .message(object.changed.title());
                self.log(row.hubspot(id)).await
            }
        }
    }

    /// Drops `turris`' link, links it to `to` instead when given, and logs `row`, in one
    /// transaction: a crash leaves the link as it was and the event to process again, never a
    /// link gone with no row saying why. `false` (nothing written) when `to` is linked to
    /// another record already.
    async fn relink(
        &self,
        turris: &TurrisRef,
        to: Option<&HubSpotId>,
        row: NewActivity,
    ) -> Result<bool, SyncError> {
        let link = to.map(|hubspot_id| Link {
            turris: turris.clone(),
            hubspot_id: hubspot_id.clone(),
        });
        let step = InboundStep {
            unlink: Some(turris),
            link: link.as_ref(),
            activity: vec![row],
            ..InboundStep::default()
        };
        let outcome = self.state.db().commit_inbound_step(self.org, &step).await?;
        Ok(outcome == StepOutcome::Committed)
    }

    /// A merge keeps `primary`: core's `plan_merge` says which link follows it and which is
    /// removed (the primary is linked already); one row each.
    pub(super) async fn merged(
        &self,
        object: &HubSpotObject,
        primary: &HubSpotId,
        merged_ids: &[HubSpotId],
        now: DateTime<Utc>,
    ) -> Result<(), SyncError> {
        let primary_linked = self.link(object.links, primary).await?.is_some();
        let mut merged = Vec::new();
        for id in merged_ids {
            if let Some(link) = self.link(object.links, id).await? {
                merged.push(link);
            }
        }
        let name = object.name;
        let row = |turris: &TurrisRef, message: String| {
            NewActivity::success(object.merged, now)
                .message(message)
                .turris(turris.id())
                .hubspot(primary)
        };
        let unlinked = |turris: &TurrisRef, from: &HubSpotId| {
            let message = format!(
                "{name} {from} was merged into {primary}, which is linked already: \
                 link removed, the {} stays in Turris",
                turris.noun()
            );
            row(turris, message)
        };
        for step in plan_merge(primary, primary_linked, &merged) {
            match step {
                MergeStep::Follow { turris, from } => {
                    let message = format!(
                        "{name} {from} was merged into {primary}: the {} now follows {primary}",
                        turris.noun()
                    );
                    if !self
                        .relink(&turris, Some(primary), row(&turris, message))
                        .await?
                    {
                        // Another record took the primary meanwhile.
                        self.relink(&turris, None, unlinked(&turris, &from)).await?;
                    }
                }
                MergeStep::Unlink { turris, from } => {
                    self.relink(&turris, None, unlinked(&turris, &from)).await?;
                }
            }
        }
        Ok(())
    }
}
