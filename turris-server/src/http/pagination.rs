//! Cursor pagination parameters shared by the list endpoints.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// The default page size.
pub const DEFAULT_LIMIT: usize = 50;
/// The largest page size.
pub const MAX_LIMIT: usize = 100;

/// `?cursor=...&limit=...`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    /// The `next_cursor` of the previous page; omit for the first page.
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<usize>,
}

impl PageParams {
    /// The page size, clamped to `1..=MAX_LIMIT`.
    pub fn limit(&self) -> usize {
        self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
    }
}

impl PageParams {
    /// The position the page starts after, for lists ordered newest first by time then id.
    pub fn after(&self) -> ApiResult<Option<(DateTime<Utc>, Uuid)>> {
        self.cursor.as_deref().map(parse_time_cursor).transpose()
    }
}

/// The cursor after an item of a newest-first list: its time (ns) and id, `{ns}.{uuid}`.
pub fn time_cursor(at: DateTime<Utc>, id: Uuid) -> String {
    format!("{}.{id}", at.timestamp_nanos_opt().unwrap_or(i64::MAX))
}

/// The answer to a cursor no page gave out: 400 `invalid_cursor`.
pub fn invalid_cursor() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "invalid_cursor",
        "the cursor is not valid",
    )
}

fn parse_time_cursor(text: &str) -> ApiResult<(DateTime<Utc>, Uuid)> {
    let invalid = invalid_cursor;
    let (at, id) = text.split_once('.').ok_or_else(invalid)?;
    let at = at.parse::<i64>().map_err(|_| invalid())?;
    let id = id.parse::<Uuid>().map_err(|_| invalid())?;
    Ok((DateTime::from_timestamp_nanos(at), id))
}
