//! `GET /metrics` in Prometheus text format. Not built yet (issue 8).

use super::Routes;

/// The metrics routes.
pub fn routes() -> Routes {
    Routes::new()
}
