//! Static files embedded in the binary: htmx (vendored from the npm package `htmx.org`, 0BSD
//! licence), the stylesheet and a few lines of plain JavaScript. No CDN, no build step.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::app::AppState;

const HTMX: &str = include_str!("../../assets/htmx.min.js");
const CSS: &str = include_str!("../../assets/console.css");
const JS: &str = include_str!("../../assets/console.js");

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/console/assets/htmx.min.js",
            get(|| async { serve(HTMX, "text/javascript") }),
        )
        .route(
            "/console/assets/console.css",
            get(|| async { serve(CSS, "text/css") }),
        )
        .route(
            "/console/assets/console.js",
            get(|| async { serve(JS, "text/javascript") }),
        )
}

fn serve(body: &'static str, content_type: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
}
