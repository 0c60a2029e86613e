//! The rows of a batch of attempts: each event's update (fenced by its lease) and its
//! attempt's insert. On PostgreSQL the whole batch is one `UPDATE ... FROM UNNEST(...)` and one
//! `INSERT ... SELECT FROM UNNEST(...)`, two round trips whatever its size; on SQLite one
//! `UPDATE ... FROM (VALUES ...)` and one multi-row `INSERT` per [`SQLITE_ROWS`] attempts (each
//! statement is a trip to the connection's own thread and back).
//!
//! Either way the lease fencing is per row: an event whose lease was replaced (or that was
//! deleted) is not updated and gets no attempt row, and only that attempt reports it.

use std::collections::{HashMap, HashSet};

use turris_webhooks::delivery::{AttemptKind, LeaseKind, NextStep};
use uuid::Uuid;

use super::delivery::attempt_kind_text;
use super::error::{DbError, DbResult};
use super::health::AttemptToRecord;
use super::sql::{Dialect, ns};

/// One attempt's values, as its statements bind them.
pub(super) struct Row<'a> {
    item: &'a AttemptToRecord,
    kind: AttemptKind,
    /// 1 for a scheduled lease (it counts toward `automatic_attempts`), else 0.
    automatic: i32,
    /// The new status, or keep it.
    status: Option<&'static str>,
    /// Whether `next_at` replaces the schedule.
    set_next: bool,
    next_at: Option<i64>,
    started: i64,
    finished: i64,
}

impl<'a> Row<'a> {
    fn of(item: &'a AttemptToRecord) -> DbResult<Self> {
        let (kind, automatic) = match item.lease.kind {
            LeaseKind::Scheduled => (AttemptKind::Automatic, 1i32),
            LeaseKind::Resend => (AttemptKind::Resend, 0i32),
        };
        let (status, set_next, next_at) = match item.next {
            NextStep::Delivered => (Some("delivered"), true, None),
            NextStep::RetryAt(at) => (Some("pending"), true, Some(ns(at)?)),
            NextStep::Exhausted => (Some("failed"), true, None),
            NextStep::Unchanged => (None, false, None),
        };
        Ok(Self {
            item,
            kind,
            automatic,
            status,
            set_next,
            next_at,
            started: ns(item.report.started_at)?,
            finished: ns(item.report.finished_at)?,
        })
    }
}

/// The kind of attempt `item` is.
pub(super) fn kind_of(item: &AttemptToRecord) -> AttemptKind {
    match item.lease.kind {
        LeaseKind::Scheduled => AttemptKind::Automatic,
        LeaseKind::Resend => AttemptKind::Resend,
    }
}

/// Writes the attempts' rows inside the open transaction on `conn`; for each attempt, in
/// order, its number, or `None` when its lease was lost.
pub(super) async fn write_rows<P: AttemptRows>(
    _pool: &P,
    conn: &mut <P::Db as sqlx::Database>::Connection,
    attempts: &[AttemptToRecord],
) -> DbResult<Vec<Option<i32>>> {
    let rows = attempts.iter().map(Row::of).collect::<DbResult<Vec<_>>>()?;
    P::write_rows(conn, &rows).await
}

/// How each backend writes a batch's rows.
pub(super) trait AttemptRows: Dialect {
    fn write_rows(
        conn: &mut <Self::Db as sqlx::Database>::Connection,
        rows: &[Row<'_>],
    ) -> impl std::future::Future<Output = DbResult<Vec<Option<i32>>>> + Send;
}

/// One attempt counted on its event, fenced by its lease (`$1` event, `$2` lease).
pub(super) const UPDATE_ONE: &str = "UPDATE delivery_events SET
         attempt_count = attempt_count + 1,
         automatic_attempts = automatic_attempts + $3,
         status = COALESCE($4, status),
         next_attempt_at = CASE WHEN $5 THEN $6 ELSE next_attempt_at END,
         lease_id = NULL, lease_kind = NULL, lease_expires_at = NULL
     WHERE event_id = $1 AND lease_id = $2
     RETURNING attempt_count";

/// One attempt's row.
pub(super) const INSERT_ONE: &str =
    "INSERT INTO delivery_attempts (event_id, number, kind, started_at,
         finished_at, status_code, error, url, success, response_body)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// Binds one attempt's row (`$row`, numbered `$number`) in [`INSERT_ONE`]'s order.
macro_rules! bind_attempt {
    ($query:expr, $row:expr, $number:expr) => {{
        let row: &Row<'_> = $row;
        let report = &row.item.report;
        $query
            .bind(row.item.event_id.0)
            .bind($number)
            .bind(attempt_kind_text(row.kind))
            .bind(row.started)
            .bind(row.finished)
            .bind(report.status_code.map(i32::from))
            .bind(&report.error)
            .bind(&report.url)
            .bind(report.success)
            .bind(&report.response_body)
    }};
}

/// Each attempt's two statements on `$conn`; evaluates to `DbResult<Vec<Option<i32>>>`.
macro_rules! row_by_row {
    ($conn:expr, $rows:expr) => {
        async {
            let rows: &[Row<'_>] = $rows;
            let mut numbers = Vec::with_capacity(rows.len());
            for row in rows {
                let item = row.item;
                let number: Option<i32> = sqlx::query_scalar(UPDATE_ONE)
                    .bind(item.event_id.0)
                    .bind(item.lease.id.0)
                    .bind(row.automatic)
                    .bind(row.status)
                    .bind(row.set_next)
                    .bind(row.next_at)
                    .fetch_optional(&mut *$conn)
                    .await?;
                if let Some(number) = number {
                    bind_attempt!(sqlx::query(INSERT_ONE), row, number)
                        .execute(&mut *$conn)
                        .await?;
                }
                numbers.push(number);
            }
            Ok::<_, DbError>(numbers)
        }
        .await
    };
}

/// Whether one event has two attempts in `rows`.
fn repeats_an_event(rows: &[Row<'_>]) -> bool {
    let mut seen = HashSet::with_capacity(rows.len());
    !rows.iter().all(|r| seen.insert(r.item.event_id.0))
}

/// The rows whose attempt was counted, each with its number.
fn recorded<'r, 'a>(rows: &'r [Row<'a>], numbers: &[Option<i32>]) -> Vec<(&'r Row<'a>, i32)> {
    rows.iter()
        .zip(numbers)
        .filter_map(|(r, n)| n.map(|n| (r, n)))
        .collect()
}

/// Attempts per SQLite statement (ten values each, well under its 32,766 variables).
const SQLITE_ROWS: usize = 500;

impl AttemptRows for sqlx::SqlitePool {
    async fn write_rows(
        conn: &mut sqlx::SqliteConnection,
        rows: &[Row<'_>],
    ) -> DbResult<Vec<Option<i32>>> {
        // One event twice in a batch (a stale attempt beside the live one) is told apart by
        // its lease only row by row; one attempt is two statements either way.
        if rows.len() == 1 || repeats_an_event(rows) {
            return row_by_row!(conn, rows);
        }
        let mut numbers = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(SQLITE_ROWS) {
            let counted = sqlite_finish_leased(conn, chunk).await?;
            let recorded = recorded(chunk, &counted);
            if !recorded.is_empty() {
                sqlite_insert_attempts(conn, &recorded).await?;
            }
            numbers.extend(counted);
        }
        Ok(numbers)
    }
}

/// `n` rows of `width` placeholders each, numbered from `$1`: `($1, $2), ($3, $4)`.
fn placeholders(n: usize, width: usize) -> String {
    (0..n)
        .map(|row| {
            let cells: Vec<String> = (1..=width)
                .map(|c| format!("${}", row * width + c))
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// SQLite's [`pg_finish_leased`]: one statement over a `VALUES` list.
async fn sqlite_finish_leased(
    conn: &mut sqlx::SqliteConnection,
    rows: &[Row<'_>],
) -> DbResult<Vec<Option<i32>>> {
    let sql = format!(
        "UPDATE delivery_events SET
             attempt_count = attempt_count + 1,
             automatic_attempts = automatic_attempts + v.column3,
             status = COALESCE(v.column4, status),
             next_attempt_at = CASE WHEN v.column5 THEN v.column6 ELSE next_attempt_at END,
             lease_id = NULL, lease_kind = NULL, lease_expires_at = NULL
         FROM (VALUES {}) AS v
         WHERE delivery_events.event_id = v.column1 AND delivery_events.lease_id = v.column2
         RETURNING event_id, attempt_count",
        placeholders(rows.len(), 6)
    );
    let mut query = sqlx::query_as::<_, (Uuid, i32)>(&sql);
    for row in rows {
        query = query
            .bind(row.item.event_id.0)
            .bind(row.item.lease.id.0)
            .bind(row.automatic)
            .bind(row.status)
            .bind(row.set_next)
            .bind(row.next_at);
    }
    Ok(numbers_of(rows, query.fetch_all(&mut *conn).await?))
}

/// SQLite's [`pg_insert_attempts`]: one multi-row `INSERT`.
async fn sqlite_insert_attempts(
    conn: &mut sqlx::SqliteConnection,
    recorded: &[(&Row<'_>, i32)],
) -> DbResult<()> {
    let sql = format!(
        "INSERT INTO delivery_attempts (event_id, number, kind, started_at, finished_at,
             status_code, error, url, success, response_body) VALUES {}",
        placeholders(recorded.len(), 10)
    );
    let mut query = sqlx::query(&sql);
    for (row, number) in recorded {
        query = bind_attempt!(query, *row, *number);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

impl AttemptRows for sqlx::PgPool {
    async fn write_rows(
        conn: &mut sqlx::PgConnection,
        rows: &[Row<'_>],
    ) -> DbResult<Vec<Option<i32>>> {
        // One event twice in a batch (a stale attempt beside the live one) is told apart by
        // its lease only row by row.
        if repeats_an_event(rows) {
            return row_by_row!(conn, rows);
        }
        let numbers = pg_finish_leased(conn, rows).await?;
        let recorded = recorded(rows, &numbers);
        if !recorded.is_empty() {
            pg_insert_attempts(conn, &recorded).await?;
        }
        Ok(numbers)
    }
}

/// Counts each row's attempt on its event, fenced by its lease, in one statement: the
/// attempt's number, or `None` where the lease was lost.
async fn pg_finish_leased(
    conn: &mut sqlx::PgConnection,
    rows: &[Row<'_>],
) -> DbResult<Vec<Option<i32>>> {
    let updated: Vec<(Uuid, i32)> = sqlx::query_as(
        "UPDATE delivery_events d SET
                 attempt_count = d.attempt_count + 1,
                 automatic_attempts = d.automatic_attempts + u.automatic,
                 status = COALESCE(u.status, d.status),
                 next_attempt_at = CASE WHEN u.set_next THEN u.next_at ELSE d.next_attempt_at END,
                 lease_id = NULL, lease_kind = NULL, lease_expires_at = NULL
             FROM UNNEST($1::uuid[], $2::uuid[], $3::int4[], $4::text[], $5::bool[], $6::int8[])
                 AS u(event_id, lease_id, automatic, status, set_next, next_at)
             WHERE d.event_id = u.event_id AND d.lease_id = u.lease_id
             RETURNING d.event_id, d.attempt_count",
    )
    .bind(rows.iter().map(|r| r.item.event_id.0).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.item.lease.id.0).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.automatic).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.status).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.set_next).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.next_at).collect::<Vec<_>>())
    .fetch_all(&mut *conn)
    .await?;
    Ok(numbers_of(rows, updated))
}

/// Each row's attempt number from the `(event, number)` pairs an update returned, `None` where
/// its lease was lost.
fn numbers_of(rows: &[Row<'_>], updated: Vec<(Uuid, i32)>) -> Vec<Option<i32>> {
    let updated: HashMap<Uuid, i32> = updated.into_iter().collect();
    rows.iter()
        .map(|r| updated.get(&r.item.event_id.0).copied())
        .collect()
}

/// Inserts the attempts of `recorded` (each with its number) in one statement.
async fn pg_insert_attempts(
    conn: &mut sqlx::PgConnection,
    recorded: &[(&Row<'_>, i32)],
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO delivery_attempts (event_id, number, kind, started_at, finished_at,
                 status_code, error, url, success, response_body)
             SELECT * FROM UNNEST($1::uuid[], $2::int4[], $3::text[], $4::int8[], $5::int8[],
                 $6::int4[], $7::text[], $8::text[], $9::bool[], $10::text[])",
    )
    .bind(
        recorded
            .iter()
            .map(|(r, _)| r.item.event_id.0)
            .collect::<Vec<_>>(),
    )
    .bind(recorded.iter().map(|(_, n)| *n).collect::<Vec<_>>())
    .bind(
        recorded
            .iter()
            .map(|(r, _)| attempt_kind_text(r.kind))
            .collect::<Vec<_>>(),
    )
    .bind(recorded.iter().map(|(r, _)| r.started).collect::<Vec<_>>())
    .bind(recorded.iter().map(|(r, _)| r.finished).collect::<Vec<_>>())
    .bind(
        recorded
            .iter()
            .map(|(r, _)| r.item.report.status_code.map(i32::from))
            .collect::<Vec<_>>(),
    )
    .bind(
        recorded
            .iter()
            .map(|(r, _)| r.item.report.error.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        recorded
            .iter()
            .map(|(r, _)| r.item.report.url.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        recorded
            .iter()
            .map(|(r, _)| r.item.report.success)
            .collect::<Vec<_>>(),
    )
    .bind(
        recorded
            .iter()
            .map(|(r, _)| r.item.report.response_body.as_deref())
            .collect::<Vec<_>>(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
