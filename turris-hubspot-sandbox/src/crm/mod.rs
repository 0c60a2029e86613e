//! The CRM APIs: properties, objects (companies, contacts, notes), associations v4 and lists.

pub(crate) mod associations;
pub(crate) mod lists;
pub(crate) mod objects;
pub(crate) mod properties;

use std::sync::Arc;

use axum::Router;

use super::state::Shared;

/// Every CRM route.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .merge(properties::router())
        .merge(objects::router())
        .merge(associations::router())
        .merge(lists::router())
}
