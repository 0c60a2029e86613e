//! The CRM sync record: every write Turris made to HubSpot, for admins (the integrations
//! update grant), as JSON pages or one CSV file.

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use turris_core::activity::Outcome;
use turris_core::audit::{
    CSV_COLUMNS, CrmObject, CrmOperation, PropertyChange, SyncTrigger, csv_row,
};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::auth::{Authorized, IntegrationsUpdate};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Query};
use crate::store::{CrmSyncRecord, SyncRecordFilter};

/// Default and largest page size.
const PAGE: (usize, usize) = (50, 500);
/// Rows the CSV export reads per query.
const CSV_CHUNK: usize = 1_000;

/// One write to HubSpot.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncRecordView {
    /// Its id.
    pub id: i64,
    /// When HubSpot answered.
    pub at: DateTime<Utc>,
    /// `company`, `contact`, `note`, `list` or `property`.
    pub object: CrmObject,
    /// The HubSpot object's id (`contacts/turris_id` for a property), when there is one.
    pub object_id: Option<String>,
    /// What the write did.
    pub operation: CrmOperation,
    /// `agency`, `agent` or `agency_contact`, when the write is about a Turris record.
    pub turris_kind: Option<String>,
    /// That record's id.
    pub turris_id: Option<String>,
    /// Why Turris wrote.
    pub trigger: SyncTrigger,
    /// The properties written, with the value before where Turris knows it.
    pub properties: Vec<PropertyChange>,
    /// `success` or `failure`.
    pub status: Outcome,
    /// HubSpot's HTTP status.
    pub hubspot_status: Option<u16>,
    /// HubSpot's correlation id (quote it to HubSpot support).
    pub correlation_id: Option<String>,
    /// What went wrong.
    pub message: Option<String>,
}

impl From<CrmSyncRecord> for SyncRecordView {
    fn from(record: CrmSyncRecord) -> Self {
        let e = record.entry;
        Self {
            id: record.id,
            at: e.at,
            object: e.object,
            object_id: e.object_id,
            operation: e.operation,
            turris_kind: e.turris.as_ref().map(|t| t.noun().replace(' ', "_")),
            turris_id: e.turris.as_ref().map(|t| t.id().to_owned()),
            trigger: e.trigger,
            properties: e.properties,
            status: e.outcome,
            hubspot_status: e.hubspot_status,
            correlation_id: e.correlation_id,
            message: e.message,
        }
    }
}

/// A page of sync records, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncRecordList {
    /// The records.
    pub entries: Vec<SyncRecordView>,
    /// Pass as `cursor` for the next (older) page; `null` at the end.
    pub next_cursor: Option<String>,
}

/// The filters, shared by the list and the CSV export.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SyncRecordParams {
    /// Only writes to this kind of HubSpot object.
    pub object: Option<CrmObject>,
    /// Only writes to this HubSpot object.
    pub object_id: Option<String>,
    /// Only this operation.
    pub operation: Option<CrmOperation>,
    /// Only `success` or only `failure`.
    pub status: Option<Outcome>,
    /// Only writes about this Turris record.
    pub turris_id: Option<String>,
    /// At or after this instant (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Before this instant (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// The `next_cursor` of the previous page (the list only).
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50; the list only).
    pub limit: Option<usize>,
}

impl SyncRecordParams {
    fn filter(&self) -> SyncRecordFilter {
        SyncRecordFilter {
            object: self.object,
            object_id: self.object_id.clone(),
            operation: self.operation,
            outcome: self.status,
            turris_id: self.turris_id.clone(),
            since: self.since,
            until: self.until,
        }
    }
}

/// `at` (nanoseconds) and id of the last record of a page.
fn cursor_of(record: &CrmSyncRecord) -> String {
    let at = record.entry.at.timestamp_nanos_opt().unwrap_or(i64::MAX);
    format!("{at}.{}", record.id)
}

fn parse_cursor(text: &str) -> ApiResult<(DateTime<Utc>, i64)> {
    let (at, id) = text
        .split_once('.')
        .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.parse::<i64>().ok()?)))
        .ok_or_else(crate::http::pagination::invalid_cursor)?;
    Ok((DateTime::from_timestamp_nanos(at), id))
}

/// Every write Turris made to HubSpot (CRM Sync Record), newest first, filtered.
#[utoipa::path(get, path = "/api/v1/integrations/hubspot/sync-records", tag = "integrations",
    params(SyncRecordParams),
    responses((status = 200, body = SyncRecordList),
        (status = 400, description = "Invalid cursor or filter", body = crate::error::ErrorBody),
        (status = 401), (status = 402), (status = 403)),
    security(("bearer" = [])))]
pub async fn sync_records(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsUpdate>,
    Query(params): Query<SyncRecordParams>,
) -> ApiResult<Json<SyncRecordList>> {
    let limit = params.limit.unwrap_or(PAGE.0);
    if !(1..=PAGE.1).contains(&limit) {
        return Err(ApiError::bad_request("limit must be between 1 and 500"));
    }
    let before = params.cursor.as_deref().map(parse_cursor).transpose()?;
    let mut records = state
        .db()
        .sync_records(auth.org(), &params.filter(), before, limit + 1)
        .await?;
    let more = records.len() > limit;
    records.truncate(limit);
    let next_cursor = records.last().filter(|_| more).map(cursor_of);
    Ok(Json(SyncRecordList {
        entries: records.into_iter().map(SyncRecordView::from).collect(),
        next_cursor,
    }))
}

/// The same records as one CSV file (RFC 4180, a header row, newest first), read from the
/// database a chunk at a time while it is sent.
#[utoipa::path(get, path = "/api/v1/integrations/hubspot/sync-records.csv", tag = "integrations",
    params(SyncRecordParams),
    responses((status = 200, content_type = "text/csv", body = String,
            description = "Columns: at, object, object_id, operation, turris_kind, turris_id, trigger, outcome, hubspot_status, correlation_id, properties, message, id"),
        (status = 401), (status = 402), (status = 403)),
    security(("bearer" = [])))]
pub async fn sync_records_csv(
    State(state): State<AppState>,
    auth: Authorized<IntegrationsUpdate>,
    Query(params): Query<SyncRecordParams>,
) -> ApiResult<Response> {
    let org = auth.org().clone();
    let filter = params.filter();
    let header = csv_line(CSV_COLUMNS.iter().map(|c| c.to_string()))?;
    // `None` before the first chunk; then the last record's position; `Done` at the end.
    enum At {
        Start,
        After((DateTime<Utc>, i64)),
        Done,
    }
    let body = futures::stream::once(async move { Ok::<_, std::io::Error>(header) }).chain(
        futures::stream::unfold(At::Start, move |at| {
            let (state, org, filter) = (state.clone(), org.clone(), filter.clone());
            async move {
                let before = match at {
                    At::Start => None,
                    At::After(position) => Some(position),
                    At::Done => return None,
                };
                let chunk = state
                    .db()
                    .sync_records(&org, &filter, before, CSV_CHUNK)
                    .await;
                let records = match chunk {
                    Ok(records) => records,
                    Err(e) => {
                        tracing::error!(org = %org, error = %crate::error::ErrorChain(&e), "sync record export failed");
                        return Some((Err(std::io::Error::other("database")), At::Done));
                    }
                };
                let next = match records.last() {
                    Some(last) if records.len() == CSV_CHUNK => {
                        At::After((last.entry.at, last.id))
                    }
                    _ => At::Done,
                };
                let mut text = Vec::new();
                for record in &records {
                    let row = csv_row(&record.id.to_string(), &record.entry);
                    match csv_line(row) {
                        Ok(line) => text.extend(line),
                        Err(e) => return Some((Err(std::io::Error::other(e.to_string())), At::Done)),
                    }
                }
                Some((Ok(text), next))
            }
        }),
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"turris-crm-sync-records.csv\"",
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// One CSV line, quoted where RFC 4180 needs it.
fn csv_line(cells: impl IntoIterator<Item = String>) -> Result<Vec<u8>, ApiError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(cells.into_iter().collect::<Vec<_>>())
        .and_then(|()| writer.flush().map_err(csv::Error::from))
        .map_err(|e| ApiError::internal("csv", &e))?;
    writer
        .into_inner()
        .map_err(|e| ApiError::internal("csv", e.error()))
}
