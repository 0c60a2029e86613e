//! `POST /hooks/hubspot`: HubSpot's inbound webhooks. Not built yet (issue 7).

use super::Routes;

/// The inbound webhook routes.
pub fn routes() -> Routes {
    Routes::new()
}
