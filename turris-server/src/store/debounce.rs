//! Debounce state: one JSON document per (organization, webhook type), and the inbox of
//! compliance status changes that `set_compliance_statuses` writes with each change.
//! [`DebounceStore::advance_debounce`] runs a step and saves everything it produced in one
//! transaction; on PostgreSQL the state row is locked (`FOR UPDATE`) for the step, so two
//! processes never run one debouncer at once.

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use turris_core::ids::OrganizationId;
use turris_webhooks::{DebouncerState, StatusChangeEvent};

use super::delivery::parse_webhook_type;
use super::error::{DbError, DbResult};
use super::inputs::commit_with_outbox;
use super::sql::{Dialect, SqlStore, for_update, ns, ns_saturating, with_pool};
use turris_webhooks::WebhookType;

use super::*;

/// A debouncer's identity: one per organization and debounced webhook type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DebounceKey {
    /// The organization.
    pub organization: OrganizationId,
    /// `agency_compliance_status_changes` or `agent_compliance_status_changes`.
    pub webhook_type: WebhookType,
}

/// What a debounce step leaves behind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DebounceOutput {
    /// The state to persist.
    pub state: DebouncerState,
    /// When the next window closes (`Debouncer::next_due`), for [`DebounceStore::debounce_due`].
    pub next_due: Option<DateTime<Utc>>,
    /// Outbox events for the flushed windows.
    pub outbox: Vec<OutboxEvent>,
    /// One compliance digest note per entity of each flushed window (queued with the outbox,
    /// so a window's digest is queued exactly once).
    pub notes: Vec<DigestNote>,
}

/// A compliance digest: an agency's or agent's changes within one debounce window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestNote {
    /// `agency` or `agent`.
    pub entity_type: &'static str,
    /// Its Turris id.
    pub entity_id: String,
    /// The changes and the window.
    pub details: turris_core::notes::NoteDetails,
    /// When the window closed (the note's time).
    pub at: DateTime<Utc>,
}

/// One step of a debouncer, run inside the store's transaction: it gets the persisted state
/// and the changes recorded since the last step (oldest first), and returns the new state and
/// the events to enqueue. The store saves both and marks the changes consumed atomically, so a
/// crash loses nothing and flushes each window exactly once.
pub type DebounceStep =
    Box<dyn FnOnce(DebouncerState, Vec<StatusChangeEvent>) -> DebounceOutput + Send>;

/// Persisted debouncer state and the inbox of compliance status changes.
#[async_trait]
pub trait DebounceStore: Send + Sync {
    /// The persisted state (`None` before the first save).
    async fn load_debounce_state(&self, key: &DebounceKey) -> DbResult<Option<DebouncerState>>;
    /// Saves the state.
    async fn save_debounce_state(
        &self,
        key: &DebounceKey,
        state: &DebouncerState,
        next_due: Option<DateTime<Utc>>,
    ) -> DbResult<()>;
    /// Runs `step` on the state and pending changes, then saves the state, marks the changes
    /// consumed and writes the outbox events, in one transaction (rows locked on PostgreSQL,
    /// so two processes never run one debouncer at once).
    async fn advance_debounce(
        &self,
        key: &DebounceKey,
        step: DebounceStep,
    ) -> DbResult<Vec<Enqueued>>;
    /// Debouncers with unconsumed changes, or whose next window closes at or before `now`.
    async fn debounce_due(&self, now: DateTime<Utc>) -> DbResult<Vec<DebounceKey>>;
}

#[derive(sqlx::FromRow)]
struct ChangeRow {
    id: i64,
    change: String,
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    organization_id: String,
    webhook_type: String,
}

#[async_trait]
impl DebounceStore for SqlStore {
    async fn load_debounce_state(&self, key: &DebounceKey) -> DbResult<Option<DebouncerState>> {
        let state: Option<String> = with_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT state FROM debounce_states WHERE organization_id = $1 AND webhook_type = $2",
            )
            .bind(key.organization.as_str())
            .bind(key.webhook_type.as_str())
            .fetch_optional(pool)
            .await?
        });
        Ok(state.map(|s| serde_json::from_str(&s)).transpose()?)
    }

    async fn save_debounce_state(
        &self,
        key: &DebounceKey,
        state: &DebouncerState,
        next_due: Option<DateTime<Utc>>,
    ) -> DbResult<()> {
        let json = serde_json::to_string(state)?;
        let next_due = next_due.map(ns).transpose()?;
        with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "INSERT INTO debounce_states (organization_id, webhook_type, state, next_due_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (organization_id, webhook_type)
                 DO UPDATE SET state = excluded.state, next_due_at = excluded.next_due_at",
            )
            .bind(key.organization.as_str())
            .bind(key.webhook_type.as_str())
            .bind(&json)
            .bind(next_due)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    async fn advance_debounce(
        &self,
        key: &DebounceKey,
        step: DebounceStep,
    ) -> DbResult<Vec<Enqueued>> {
        let org = &key.organization;
        let empty = serde_json::to_string(&DebouncerState::default())?;
        let now = ns(Utc::now())?;
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO debounce_states (organization_id, webhook_type, state, next_due_at)
                 VALUES ($1, $2, $3, NULL) ON CONFLICT (organization_id, webhook_type) DO NOTHING",
            )
            .bind(org.as_str())
            .bind(key.webhook_type.as_str())
            .bind(&empty)
            .execute(&mut *tx)
            .await?;
            let state: String = sqlx::query_scalar(&format!(
                "SELECT state FROM debounce_states WHERE organization_id = $1
                 AND webhook_type = $2 {}",
                for_update(pool)
            ))
            .bind(org.as_str())
            .bind(key.webhook_type.as_str())
            .fetch_one(&mut *tx)
            .await?;
            let state: DebouncerState = serde_json::from_str(&state)?;
            let rows: Vec<ChangeRow> = sqlx::query_as(
                "SELECT id, change FROM compliance_changes WHERE organization_id = $1
                 AND webhook_type = $2 AND consumed_at IS NULL ORDER BY id",
            )
            .bind(org.as_str())
            .bind(key.webhook_type.as_str())
            .fetch_all(&mut *tx)
            .await?;
            let changes = rows
                .iter()
                .map(|r| serde_json::from_str::<StatusChangeEvent>(&r.change))
                .collect::<Result<Vec<_>, _>>()?;
            let output = step(state, changes);
            sqlx::query(
                "UPDATE debounce_states SET state = $3, next_due_at = $4
                 WHERE organization_id = $1 AND webhook_type = $2",
            )
            .bind(org.as_str())
            .bind(key.webhook_type.as_str())
            .bind(serde_json::to_string(&output.state)?)
            .bind(output.next_due.map(ns).transpose()?)
            .execute(&mut *tx)
            .await?;
            // Exactly the rows the step saw: a change committed meanwhile waits for the next.
            for row in &rows {
                sqlx::query("UPDATE compliance_changes SET consumed_at = $2 WHERE id = $1")
                    .bind(row.id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            for digest in &output.notes {
                let (kind, at) = (
                    turris_core::notes::NoteKind::ComplianceChanged,
                    ns(digest.at)?,
                );
                let (entity_type, id, details) =
                    (digest.entity_type, &digest.entity_id, &digest.details);
                super::notes::queue_note!(tx, org, kind, entity_type, id, details, at, now);
            }
            Ok(commit_with_outbox!(self, tx, org, &output.outbox))
        })
    }

    async fn debounce_due(&self, now: DateTime<Utc>) -> DbResult<Vec<DebounceKey>> {
        let now = ns_saturating(now);
        let rows: Vec<KeyRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT organization_id, webhook_type FROM debounce_states WHERE next_due_at <= $1
                 UNION
                 SELECT DISTINCT organization_id, webhook_type FROM compliance_changes
                 WHERE consumed_at IS NULL",
            )
            .bind(now)
            .fetch_all(pool)
            .await?
        });
        let mut keys = BTreeSet::new();
        for row in rows {
            keys.insert((row.organization_id, row.webhook_type));
        }
        keys.into_iter()
            .map(|(org, ty)| {
                Ok(DebounceKey {
                    organization: OrganizationId::parse(&org).map_err(DbError::corrupt)?,
                    webhook_type: parse_webhook_type(&ty)?,
                })
            })
            .collect()
    }
}
