//! A group commit's NIPR results in one statement per entity table: each result is inserted
//! only when its entity is in its organization, and the statement returns, for each result it
//! inserted, the entity's NPN as it read it. A result it did not return was not inserted (its
//! entity is not there). A batch whose statement fails (a duplicate result id) is written
//! again a result at a time, through the same statement, which finds the one at fault
//! (`group.rs`).

use std::collections::HashMap;

use uuid::Uuid;

use super::{NiprWrite, entity_table, entity_type_text, enum_text};
use crate::store::error::DbResult;
use crate::store::sql::{Dialect, ns};

/// One result's row.
pub(super) struct ResultRow {
    org: String,
    id: Uuid,
    entity_type: &'static str,
    entity_id: String,
    kind: String,
    outcome: String,
    error: Option<String>,
    finished: i64,
}

impl ResultRow {
    pub(super) fn of(write: &NiprWrite) -> DbResult<Self> {
        let result = &write.result;
        Ok(Self {
            org: write.org.as_str().to_owned(),
            id: result.id.0,
            entity_type: entity_type_text(&result.entity),
            entity_id: result.entity.id().to_owned(),
            kind: enum_text(&result.kind)?,
            outcome: enum_text(&result.outcome)?,
            error: result.error.clone(),
            finished: ns(result.finished_at)?,
        })
    }
}

/// What the statements inserted: `(organization, result id)` → the entity's NPN.
pub(super) type Inserted = HashMap<(String, Uuid), Option<String>>;

/// Inserts `writes`' results, a statement per entity table.
pub(super) async fn insert_results<P: InsertResults>(
    _pool: &P,
    conn: &mut <P::Db as sqlx::Database>::Connection,
    writes: &[&NiprWrite],
) -> Result<Inserted, sqlx::Error> {
    let mut by_table: HashMap<&'static str, Vec<ResultRow>> = HashMap::new();
    for write in writes {
        let row = ResultRow::of(write).map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        by_table
            .entry(entity_table(&write.result.entity))
            .or_default()
            .push(row);
    }
    let mut inserted = Inserted::new();
    for (table, rows) in by_table {
        for (org, id, npn) in P::insert_results(conn, table, &rows).await? {
            inserted.insert((org, id), npn);
        }
    }
    Ok(inserted)
}

/// The multi-row insert, per backend.
pub(super) trait InsertResults: Dialect {
    fn insert_results(
        conn: &mut <Self::Db as sqlx::Database>::Connection,
        table: &'static str,
        rows: &[ResultRow],
    ) -> impl std::future::Future<Output = Result<Vec<(String, Uuid, Option<String>)>, sqlx::Error>> + Send;
}

const INSERT: &str = "INSERT INTO nipr_syncs (organization_id, id, entity_type, entity_id, kind, \
     outcome, error, finished_at)";

/// The `SELECT` over the rows `v`, keeping those whose entity is in `table`, and what it
/// returns.
fn select_from_v(table: &str) -> String {
    format!(
        "SELECT v.org, v.id, v.entity_type, v.entity_id, v.kind, v.outcome, v.error, v.finished
         FROM v WHERE EXISTS (SELECT 1 FROM {table} e
             WHERE e.organization_id = v.org AND e.id = v.entity_id)
         RETURNING organization_id, id, (SELECT npn FROM {table} e
             WHERE e.organization_id = nipr_syncs.organization_id
               AND e.id = nipr_syncs.entity_id)"
    )
}

impl InsertResults for sqlx::SqlitePool {
    /// A `VALUES` list (SQLite has no arrays); a batch is at most 256 results, 2,048
    /// variables, well under SQLite's 32,766.
    async fn insert_results(
        conn: &mut sqlx::SqliteConnection,
        table: &'static str,
        rows: &[ResultRow],
    ) -> Result<Vec<(String, Uuid, Option<String>)>, sqlx::Error> {
        let values: Vec<String> = (0..rows.len())
            .map(|i| {
                let p = i * 8;
                let params: Vec<String> = (1..=8).map(|k| format!("${}", p + k)).collect();
                format!("({})", params.join(", "))
            })
            .collect();
        let sql = format!(
            "WITH v(org, id, entity_type, entity_id, kind, outcome, error, finished) AS
                 (VALUES {})
             {INSERT} {}",
            values.join(", "),
            select_from_v(table)
        );
        let mut query = sqlx::query_as(&sql);
        for row in rows {
            query = query
                .bind(&row.org)
                .bind(row.id)
                .bind(row.entity_type)
                .bind(&row.entity_id)
                .bind(&row.kind)
                .bind(&row.outcome)
                .bind(&row.error)
                .bind(row.finished);
        }
        query.fetch_all(&mut *conn).await
    }
}

impl InsertResults for sqlx::PgPool {
    /// One statement over arrays (`UNNEST`): the same text whatever the batch's size.
    async fn insert_results(
        conn: &mut sqlx::PgConnection,
        table: &'static str,
        rows: &[ResultRow],
    ) -> Result<Vec<(String, Uuid, Option<String>)>, sqlx::Error> {
        let sql = format!(
            "WITH v AS (SELECT * FROM UNNEST($1::text[], $2::uuid[], $3::text[], $4::text[],
                 $5::text[], $6::text[], $7::text[], $8::int8[])
                 AS u(org, id, entity_type, entity_id, kind, outcome, error, finished))
             {INSERT} {}",
            select_from_v(table)
        );
        let text = |f: fn(&ResultRow) -> &str| rows.iter().map(f).collect::<Vec<_>>();
        sqlx::query_as(&sql)
            .bind(text(|r| &r.org))
            .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
            .bind(text(|r| r.entity_type))
            .bind(text(|r| &r.entity_id))
            .bind(text(|r| &r.kind))
            .bind(text(|r| &r.outcome))
            .bind(rows.iter().map(|r| r.error.as_deref()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.finished).collect::<Vec<_>>())
            .fetch_all(&mut *conn)
            .await
    }
}
