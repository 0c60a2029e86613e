//! `/api/v1/integrations`: the cards, HubSpot connect (OAuth and private app), reconnect,
//! delete, properties, mapping, sync matrix, invitations, activity and webhook status.

mod activity;
mod cards;
mod connect;
mod properties;
mod settings;
mod sync_records;
mod tags;

pub use activity::*;
pub use cards::*;
pub use connect::*;
pub use properties::*;
pub use settings::*;
pub use sync_records::*;
pub use tags::*;

use super::Routes;

/// Why the OAuth flow was started. The purpose rides on the `state` HubSpot hands back (a
/// suffix after the random part), so a reconnect callback replaces only the tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OAuthPurpose {
    Connect,
    Reconnect,
}

const RECONNECT_SUFFIX: &str = ".reconnect";

/// What the card says about HubSpot.
pub const HUBSPOT_DESCRIPTION: &str =
    "Sync your agency relationships, agency contacts, and agents between Turris and HubSpot.";

/// The reminder answered when the integration is deleted.
pub const DELETE_REMINDER: &str = "Deleting the integration in Turris does not remove the Turris app from your HubSpot account. To finish the cleanup, open HubSpot and go to HubSpot → Settings → Integrations → Connected Apps and remove the Turris app there.";

const BASE: &str = "/api/v1/integrations";

/// The integrations routes.
pub fn routes() -> Routes {
    let p = |suffix: &str| format!("{BASE}{suffix}");
    Routes::new()
        .get(&p(""), list_cards)
        .get(&p("/hubspot"), get_hubspot)
        .delete(&p("/hubspot"), delete_hubspot)
        .post(&p("/hubspot/connect"), connect)
        .get(&p("/hubspot/callback"), callback)
        .post(&p("/hubspot/private-app"), connect_private_app)
        .post(&p("/hubspot/reconnect"), reconnect)
        .post(&p("/hubspot/private-app/reconnect"), reconnect_private_app)
        .get(&p("/hubspot/properties"), properties)
        .get(&p("/hubspot/mapping"), get_mapping)
        .put(&p("/hubspot/mapping"), put_mapping)
        .get(&p("/hubspot/sync"), get_sync)
        .put(&p("/hubspot/sync"), put_sync)
        .get(&p("/hubspot/inbound-mode"), get_inbound_mode)
        .put(&p("/hubspot/inbound-mode"), put_inbound_mode)
        .get(&p("/hubspot/invitations"), get_invitations)
        .put(&p("/hubspot/invitations"), put_invitations)
        .post(&p("/hubspot/invitations/{id}/contract"), assign_contract)
        .get(&p("/hubspot/activity"), activity)
        .get(&p("/hubspot/webhook-status"), webhook_status)
        .get(&p("/hubspot/tags"), get_tags)
        .put(&p("/hubspot/tags"), put_tags)
        .get(&p("/hubspot/notes"), get_notes)
        .put(&p("/hubspot/notes"), put_notes)
        .get(&p("/hubspot/sync-records"), sync_records)
        .get(&p("/hubspot/sync-records.csv"), sync_records_csv)
}
