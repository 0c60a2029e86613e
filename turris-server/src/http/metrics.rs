//! `GET /metrics` in Prometheus text format: the delivery queue (read from the database, so
//! every replica's work), and this process's attempts by outcome and latency histograms.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use chrono::Utc;

use super::Routes;
use crate::app::AppState;

/// The metrics routes.
pub fn routes() -> Routes {
    Routes::new().get("/metrics", metrics)
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text format (version 0.0.4)", content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let queue = match state.db().delivery_queue_stats(Utc::now()).await {
        Ok(stats) => Some(stats),
        Err(e) => {
            tracing::warn!(error = %crate::error::ErrorChain(&e), "metrics: reading queue statistics");
            None
        }
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.delivery_metrics().render(queue),
    )
}
