//! HubSpot merges: what a merge does to the links of the records merged away.

use serde::{Deserialize, Serialize};

use crate::ids::HubSpotId;
use crate::store::{Link, TurrisRef};

/// What a HubSpot merge does to one link of a merged-away record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum MergeStep {
    /// The Turris record now follows the surviving (primary) HubSpot record.
    Follow {
        /// The Turris record.
        turris: TurrisRef,
        /// The merged-away HubSpot record it was linked to.
        from: HubSpotId,
    },
    /// The link is removed and the Turris record stays, unlinked, for a person to reconcile:
    /// the primary is linked already.
    Unlink {
        /// The Turris record.
        turris: TurrisRef,
        /// The merged-away HubSpot record it was linked to.
        from: HubSpotId,
    },
}

/// Plans a `*.merge`: HubSpot keeps `primary` and archives the others. `merged` are the links
/// of the merged-away records (any kind; links of `primary` itself, which HubSpot lists among
/// the merged ids, are ignored); `primary_linked` says whether `primary` has a link of its own.
/// The first merged link follows the primary when the primary has none; every other link is
/// removed, and both Turris records stay (one HubSpot record is never linked to two).
///
/// ```
/// use turris_core::ids::{AgentId, HubSpotId};
/// use turris_core::planner::{MergeStep, plan_merge};
/// use turris_core::store::{Link, TurrisRef};
///
/// let id = |s: &str| HubSpotId::parse(s).unwrap();
/// let agent = TurrisRef::Agent(AgentId::parse("g1").unwrap());
/// let merged = [Link { turris: agent.clone(), hubspot_id: id("2") }];
/// assert_eq!(
///     plan_merge(&id("1"), false, &merged),
///     [MergeStep::Follow { turris: agent.clone(), from: id("2") }]
/// );
/// assert_eq!(plan_merge(&id("1"), true, &merged), [MergeStep::Unlink { turris: agent, from: id("2") }]);
/// ```
pub fn plan_merge(primary: &HubSpotId, primary_linked: bool, merged: &[Link]) -> Vec<MergeStep> {
    let mut taken = primary_linked;
    merged
        .iter()
        .filter(|link| link.hubspot_id != *primary)
        .map(|link| {
            let (turris, from) = (link.turris.clone(), link.hubspot_id.clone());
            if taken {
                MergeStep::Unlink { turris, from }
            } else {
                taken = true;
                MergeStep::Follow { turris, from }
            }
        })
        .collect()
}
