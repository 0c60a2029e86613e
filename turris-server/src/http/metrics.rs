//! `GET /metrics` in Prometheus text format: the delivery queue (read from the database, so
//! every replica's work), and this process's attempts by outcome and latency histograms.
//!
//! On the API's listener it needs `Authorization: Bearer $TURRIS_METRICS_TOKEN` (403
//! `metrics_disabled` when no metrics token is configured); `TURRIS_METRICS_LISTEN` serves it
//! without a token on a listener of its own, for a private network ([`internal_router`]).

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::Utc;

use super::Routes;
use crate::app::AppState;
use crate::crypto::TokenHash;
use crate::error::ApiError;

/// A scraper holding the metrics token.
#[derive(Debug, Clone, Copy)]
pub struct MetricsScraper;

impl FromRequestParts<AppState> for MetricsScraper {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(expected) = state.config().metrics_token.as_deref() else {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "metrics_disabled",
                "metrics are served here only with TURRIS_METRICS_TOKEN, or on TURRIS_METRICS_LISTEN",
            ));
        };
        let presented = crate::auth::bearer(parts).ok_or_else(ApiError::unauthorized)?;
        if TokenHash::of(presented) == TokenHash::of(expected) {
            Ok(MetricsScraper)
        } else {
            Err(ApiError::unauthorized())
        }
    }
}

/// `/metrics` without a token, for `TURRIS_METRICS_LISTEN`'s own listener.
pub fn internal_router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(|State(state): State<AppState>| async move { render(&state).await }),
        )
        .with_state(state)
}

/// The metrics routes.
pub fn routes() -> Routes {
    Routes::new().get("/metrics", metrics)
}

/// Prometheus metrics, for the holder of the metrics token.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text format (version 0.0.4)", content_type = "text/plain", body = String),
        (status = 401), (status = 403, description = "No metrics token is configured (`metrics_disabled`)")),
    security(("metrics" = [])))]
pub async fn metrics(State(state): State<AppState>, _: MetricsScraper) -> impl IntoResponse {
    render(&state).await
}

async fn render(state: &AppState) -> impl IntoResponse + use<> {
    let queue = match state.db().delivery_queue_stats(Utc::now()).await {
        Ok(stats) => Some(stats),
        Err(e) => {
            tracing::warn!(error = %crate::error::ErrorChain(&e), "metrics: reading queue statistics");
            None
        }
    };
    let top = crate::delivery::metrics::TOP_ORGANIZATIONS;
    let by_organization = match state.db().due_by_organization(Utc::now(), top).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %crate::error::ErrorChain(&e), "metrics: reading the queue per organization");
            Vec::new()
        }
    };
    let mut body = state.delivery_metrics().render(queue, &by_organization);
    body.push_str(&render_workers(&state.workers().records()));
    body.push_str(&render_overloaded(state.overloaded()));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}

/// API requests refused at the in-flight bound (429 `overloaded`).
fn render_overloaded(refused: u64) -> String {
    format!(
        "# HELP turris_api_overloaded_total API requests answered 429 overloaded because the \
         process was working on as many requests as it takes at once.\n\
         # TYPE turris_api_overloaded_total counter\nturris_api_overloaded_total {refused}\n"
    )
}

/// The supervised workers: restarts after a panic, and whether each keeps failing.
fn render_workers(
    records: &std::collections::BTreeMap<&'static str, crate::workers::WorkerRecord>,
) -> String {
    use std::fmt::Write;
    let mut out = String::from(
        "# HELP turris_worker_restarts_total Background worker restarts after a panic.\n\
         # TYPE turris_worker_restarts_total counter\n",
    );
    for (name, record) in records {
        let _ = writeln!(
            out,
            "turris_worker_restarts_total{{worker=\"{name}\"}} {}",
            record.restarts
        );
    }
    out.push_str(
        "# HELP turris_worker_failing Whether a background worker keeps panicking (1: /readyz \
         answers 503).\n# TYPE turris_worker_failing gauge\n",
    );
    for (name, record) in records {
        let _ = writeln!(
            out,
            "turris_worker_failing{{worker=\"{name}\"}} {}",
            u8::from(record.failing)
        );
    }
    out
}
