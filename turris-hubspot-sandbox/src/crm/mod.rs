//! The CRM APIs: properties, objects (companies, contacts, notes), associations v4 and lists.

pub(crate) mod associations;
pub(crate) mod lists;
pub(crate) mod objects;
pub(crate) mod properties;

use std::sync::Arc;

use axum::Router;

use super::state::Shared;

/// Every CRM route, with the portal's property rules on writes (`crate::validation`).
pub(crate) fn router(shared: &Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
        .merge(properties::router())
        .merge(objects::router())
        .merge(associations::router())
        .merge(lists::router())
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(shared),
            crate::validation::enforce,
        ))
}
