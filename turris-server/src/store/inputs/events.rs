//! A group commit's delivery events in as few statements as the backend allows: one over
//! arrays on PostgreSQL, multi-row `VALUES` on SQLite.

use uuid::Uuid;

use crate::store::sql::Dialect;

/// A delivery event of the batch, for the multi-row insert.
pub(super) struct EventRow {
    pub(super) event_id: Uuid,
    pub(super) webhook_id: Uuid,
    pub(super) webhook_type: &'static str,
    pub(super) body: Vec<u8>,
    pub(super) created: i64,
    pub(super) lease: Option<(Uuid, i64)>,
    pub(super) org: String,
}

/// The batch's delivery events in as few statements as the backend allows.
pub(super) async fn insert_events<P: InsertEvents>(
    _pool: &P,
    conn: &mut <P::Db as sqlx::Database>::Connection,
    rows: &[EventRow],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    P::insert_events(conn, rows).await
}

/// The multi-row insert, per backend.
pub(super) trait InsertEvents: Dialect {
    fn insert_events(
        conn: &mut <Self::Db as sqlx::Database>::Connection,
        rows: &[EventRow],
    ) -> impl std::future::Future<Output = Result<(), sqlx::Error>> + Send;
}

const EVENT_INSERT: &str = "INSERT INTO delivery_events (event_id, webhook_id, webhook_type, \
     body, created_at, status, next_attempt_at, lease_id, lease_kind, lease_expires_at, \
     organization_id)";

impl InsertEvents for sqlx::SqlitePool {
    /// Multi-row `VALUES` (SQLite has no arrays), in chunks well under its 32,766 variables.
    async fn insert_events(
        conn: &mut sqlx::SqliteConnection,
        rows: &[EventRow],
    ) -> Result<(), sqlx::Error> {
        use std::fmt::Write;
        for chunk in rows.chunks(512) {
            let mut sql = String::with_capacity(EVENT_INSERT.len() + chunk.len() * 64);
            sql.push_str(EVENT_INSERT);
            sql.push_str(" VALUES ");
            for i in 0..chunk.len() {
                let p = i * 9;
                let _ = write!(
                    sql,
                    "{}(${}, ${}, ${}, ${}, ${}, 'pending', ${}, ${}, ${}, ${}, ${})",
                    if i > 0 { ", " } else { "" },
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5,
                    p + 5,
                    p + 6,
                    p + 7,
                    p + 8,
                    p + 9,
                );
            }
            let mut query = sqlx::query(&sql);
            for row in chunk {
                query = query
                    .bind(row.event_id)
                    .bind(row.webhook_id)
                    .bind(row.webhook_type)
                    .bind(&row.body[..])
                    .bind(row.created)
                    .bind(row.lease.map(|(id, _)| id))
                    .bind(row.lease.map(|_| "scheduled"))
                    .bind(row.lease.map(|(_, expires)| expires))
                    .bind(row.org.as_str());
            }
            query.execute(&mut *conn).await?;
        }
        Ok(())
    }
}

impl InsertEvents for sqlx::PgPool {
    /// One statement over arrays (`UNNEST`): the same text, and so the same prepared
    /// statement, whatever the batch's size.
    async fn insert_events(
        conn: &mut sqlx::PgConnection,
        rows: &[EventRow],
    ) -> Result<(), sqlx::Error> {
        let sql = format!(
            "{EVENT_INSERT} SELECT e, w, t, b, c, 'pending', c, l, k, x, o
             FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::bytea[], $5::int8[],
                         $6::uuid[], $7::text[], $8::int8[], $9::text[])
                 AS u(e, w, t, b, c, l, k, x, o)"
        );
        sqlx::query(&sql)
            .bind(rows.iter().map(|r| r.event_id).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.webhook_id).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.webhook_type).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.body.as_slice()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.created).collect::<Vec<_>>())
            .bind(
                rows.iter()
                    .map(|r| r.lease.map(|(id, _)| id))
                    .collect::<Vec<_>>(),
            )
            .bind(
                rows.iter()
                    .map(|r| r.lease.map(|_| "scheduled"))
                    .collect::<Vec<_>>(),
            )
            .bind(
                rows.iter()
                    .map(|r| r.lease.map(|(_, x)| x))
                    .collect::<Vec<_>>(),
            )
            .bind(rows.iter().map(|r| r.org.as_str()).collect::<Vec<_>>())
            .execute(conn)
            .await?;
        Ok(())
    }
}
