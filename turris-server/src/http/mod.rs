//! The HTTP API, one module per area, each with `routes()`/`router()`, merged in [`api`].
//!
//! Routes are registered through [`Routes`], which records every `(method, path)` it adds:
//! the OpenAPI test compares that table with the published document, so a route cannot be
//! added without being documented.

pub mod admin;
pub mod extract;
pub mod health;
pub mod hooks;
pub mod integrations;
pub mod metrics;
pub mod openapi;
pub mod pagination;
pub mod rate_limit;
pub mod reconciliation;
pub mod records;
pub mod webhooks;

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter};

use crate::app::AppState;

/// The API prefix.
pub const API_PREFIX: &str = "/api/v1";

/// One registered route.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RouteInfo {
    /// The HTTP method.
    pub method: Method,
    /// The full path in axum/OpenAPI syntax (`/api/v1/webhooks/{id}`).
    pub path: String,
}

/// A router builder that keeps a table of what it registered.
#[derive(Default)]
pub struct Routes {
    entries: Vec<(String, MethodRouter<AppState>)>,
    table: Vec<RouteInfo>,
}

impl Routes {
    /// No routes.
    pub fn new() -> Self {
        Self::default()
    }

    fn add<H, T>(mut self, method: Method, path: &str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a standard method");
        match self.entries.iter_mut().find(|(p, _)| p == path) {
            Some((_, router)) => {
                let existing = std::mem::take(router);
                *router = existing.on(filter, handler);
            }
            None => self
                .entries
                .push((path.to_owned(), axum::routing::on(filter, handler))),
        }
        self.table.push(RouteInfo {
            method,
            path: path.to_owned(),
        });
        self
    }

    /// `GET path`.
    pub fn get<H: Handler<T, AppState>, T: 'static>(self, path: &str, handler: H) -> Self {
        self.add(Method::GET, path, handler)
    }

    /// `POST path`.
    pub fn post<H: Handler<T, AppState>, T: 'static>(self, path: &str, handler: H) -> Self {
        self.add(Method::POST, path, handler)
    }

    /// `PUT path`.
    pub fn put<H: Handler<T, AppState>, T: 'static>(self, path: &str, handler: H) -> Self {
        self.add(Method::PUT, path, handler)
    }

    /// `PATCH path`.
    pub fn patch<H: Handler<T, AppState>, T: 'static>(self, path: &str, handler: H) -> Self {
        self.add(Method::PATCH, path, handler)
    }

    /// `DELETE path`.
    pub fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &str, handler: H) -> Self {
        self.add(Method::DELETE, path, handler)
    }

    /// Both sets.
    pub fn merge(mut self, other: Routes) -> Self {
        for (path, router) in other.entries {
            assert!(
                !self.entries.iter().any(|(p, _)| *p == path),
                "route {path} registered by two areas"
            );
            self.entries.push((path, router));
        }
        self.table.extend(other.table);
        self
    }

    /// What was registered, sorted.
    pub fn table(&self) -> Vec<RouteInfo> {
        let mut table = self.table.clone();
        table.sort();
        table
    }

    /// The axum router.
    pub fn into_router(self) -> Router<AppState> {
        self.entries
            .into_iter()
            .fold(Router::new(), |router, (path, mr)| router.route(&path, mr))
    }
}

/// Every route of the server.
pub fn api() -> Routes {
    Routes::new()
        .merge(health::routes())
        .merge(openapi::routes())
        .merge(admin::routes())
        .merge(integrations::routes())
        .merge(reconciliation::routes())
        .merge(webhooks::routes())
        .merge(records::routes())
        .merge(hooks::routes())
        .merge(metrics::routes())
}

/// The table of every route, as the router registers them.
pub fn route_table() -> Vec<RouteInfo> {
    api().table()
}
