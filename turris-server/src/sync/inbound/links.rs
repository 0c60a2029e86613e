//! Deletions and merges in HubSpot: links are dropped or follow the primary object, and the
//! Turris records stay (deleting Turris data from HubSpot is not in the spec).

use chrono::{DateTime, Utc};
use turris_core::activity::{ActivityKind, NewActivity};
use turris_core::ids::HubSpotId;
use turris_core::planner::{MergeStep, plan_merge};
use turris_core::store::{Link, LinkKind};

use super::SyncError;
use super::organization::OrgSync;

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
        let row = match self.link(object.links, id).await? {
            Some(link) => {
                self.state.db().delete_link(self.org, &link.turris).await?;
                NewActivity::success(object.changed, now)
                    .message(format!(
                        "{name} deleted in HubSpot: link removed, the {} stays in Turris",
                        link.turris.noun()
                    ))
                    .turris(link.turris.id())
            }
            None => NewActivity::webhook_skipped(
                format!("{name} deleted in HubSpot was not linked"),
                now,
            )
            .message(object.changed.title()),
        };
        self.log(row.hubspot(id)).await
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
        let db = self.state.db();
        let primary_linked = self.link(object.links, primary).await?.is_some();
        let mut merged = Vec::new();
        for id in merged_ids {
            if let Some(link) = self.link(object.links, id).await? {
                merged.push(link);
            }
        }
        let name = object.name;
        for step in plan_merge(primary, primary_linked, &merged) {
            let (turris, message) = match step {
                MergeStep::Follow { turris, from } => {
                    db.delete_link(self.org, &turris).await?;
                    let link = Link {
                        turris: turris.clone(),
                        hubspot_id: primary.clone(),
                    };
                    db.put_link(self.org, &link).await?;
                    let message = format!(
                        "{name} {from} was merged into {primary}: the {} now follows {primary}",
                        turris.noun()
                    );
                    (turris, message)
                }
                MergeStep::Unlink { turris, from } => {
                    db.delete_link(self.org, &turris).await?;
                    let message = format!(
                        "{name} {from} was merged into {primary}, which is linked already: \
                         link removed, the {} stays in Turris",
                        turris.noun()
                    );
                    (turris, message)
                }
            };
            let row = NewActivity::success(object.merged, now)
                .message(message)
                .turris(turris.id())
                .hubspot(primary);
            self.log(row).await?;
        }
        Ok(())
    }
}
