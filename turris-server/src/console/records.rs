//! stub
use crate::app::AppState;
use axum::Router;
pub(super) fn routes() -> Router<AppState> {
    Router::new()
}
