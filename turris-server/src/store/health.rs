//! Recording attempts in batches, and what they mean for their endpoint: its run of failures,
//! disabling it (410 Gone, or failing for the configured period), enabling it again, and the
//! notifications those write, all in the transaction of the attempt or the change. The
//! attempts' own rows are written by `attempts`.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use turris_core::ids::OrganizationId;
use turris_webhooks::delivery::{
    Attempt, AttemptReport, DisableReason, HealthVerdict, Lease, NextStep, StoreError, WebhookId,
    judge, requested_pause,
};
use uuid::Uuid;

use super::delivery::backend;
use super::error::{DbError, DbResult};
use super::sql::{Dialect, SqlStore, from_ns, ns, with_pool};

/// One attempt for [`EndpointHealthStore::record_attempts`].
#[derive(Debug, Clone)]
pub struct AttemptToRecord {
    /// The event.
    pub event_id: turris_webhooks::delivery::EventId,
    /// Its webhook, whose health the attempt updates.
    pub webhook_id: WebhookId,
    /// The lease it was made under.
    pub lease: Lease,
    /// What happened.
    pub report: AttemptReport,
    /// What happens next.
    pub next: NextStep,
    /// A run of failures this long disables the endpoint (`None`: only 410 Gone does).
    pub disable_after: Option<Duration>,
}

/// An endpoint an attempt just disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisabledEndpoint {
    /// Its organization.
    pub organization: OrganizationId,
    /// The webhook.
    pub webhook_id: WebhookId,
    /// Its URL.
    pub url: String,
    /// Why.
    pub reason: DisableReason,
    /// When.
    pub at: DateTime<Utc>,
}

/// What a batch of attempts recorded.
#[derive(Debug, Clone, Default)]
pub struct RecordedAttempts {
    /// One per attempt, in order: the attempt, or [`StoreError::LeaseLost`] when its lease was
    /// replaced or its event deleted.
    pub results: Vec<Result<Attempt, StoreError>>,
    /// Endpoints these attempts disabled (each once).
    pub disabled: Vec<DisabledEndpoint>,
}

/// `disabled` or `enabled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// The endpoint was disabled: its events wait.
    Disabled,
    /// The endpoint was enabled again.
    Enabled,
}

/// Something that happened to an endpoint, for its owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookNotification {
    /// The webhook.
    pub webhook_id: WebhookId,
    /// Disabled or enabled.
    pub kind: NotificationKind,
    /// Why it was disabled.
    pub reason: Option<DisableReason>,
    /// What happened, in a sentence.
    pub message: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// Attempts and the health of endpoints.
#[async_trait]
pub trait EndpointHealthStore: Send + Sync {
    /// Records several attempts in one transaction, each exactly as
    /// [`turris_webhooks::delivery::DeliveryStore::record_attempt`] would (one commit instead of
    /// one per attempt), and updates each endpoint's health: a success ends its run of
    /// failures; 410 Gone, or a run of failures of `disable_after`, disables it and writes a
    /// notification.
    async fn record_attempts(
        &self,
        attempts: &[AttemptToRecord],
    ) -> Result<RecordedAttempts, StoreError>;
    /// Enables an endpoint: its run of failures is forgotten, its pending events are leased
    /// again, and a notification says so. `None` for an unknown or another organization's
    /// endpoint, `Some(false)` when it was not disabled (nothing changes).
    async fn enable_webhook(
        &self,
        org: &OrganizationId,
        id: WebhookId,
        now: DateTime<Utc>,
    ) -> DbResult<Option<bool>>;
    /// An endpoint's notifications, newest first, at most `limit`.
    async fn webhook_notifications(
        &self,
        org: &OrganizationId,
        id: WebhookId,
        limit: usize,
    ) -> DbResult<Vec<WebhookNotification>>;
}

fn disabled_message(reason: DisableReason, after: Option<Duration>) -> String {
    match (reason, after) {
        (DisableReason::Gone, _) => {
            "Disabled: the endpoint answered 410 Gone. Its events wait until it is enabled again."
                .to_owned()
        }
        (_, after) => format!(
            "Disabled: every attempt failed for {}. Its events wait until it is enabled again.",
            after.map_or_else(|| "too long".to_owned(), human)
        ),
    }
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{} days", s / 86_400),
        s if s >= 3600 && s % 3600 == 0 => format!("{} hours", s / 3600),
        s if s >= 60 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

/// An endpoint's health as a batch reads it: organization, URL, failing since, disabled at.
type HealthRow = (String, String, Option<i64>, Option<i64>);

/// Applies one attempt to its endpoint's health inside the open transaction `$tx` (a
/// `Retry-After` pause, the run of failures, disabling); evaluates
/// to `Result<Option<DisabledEndpoint>, DbError>` (`Some` when this attempt disabled it).
macro_rules! apply_health {
    ($tx:expr, $item:expr, $known:expr) => {
        async {
            let item: &AttemptToRecord = $item;
            // Each endpoint is read once per batch; the writes below keep `$known` current.
            let known: &mut HashMap<Uuid, Option<HealthRow>> = $known;
            let row = match known.get(&item.webhook_id.0) {
                Some(row) => row.clone(),
                None => {
                    let row: Option<HealthRow> = sqlx::query_as(
                        "SELECT organization_id, url, failing_since, disabled_at
                         FROM webhook_endpoints WHERE id = $1",
                    )
                    .bind(item.webhook_id.0)
                    .fetch_optional(&mut *$tx)
                    .await?;
                    known.insert(item.webhook_id.0, row.clone());
                    row
                }
            };
            let Some((org, url, failing_since, disabled_at)) = row else {
                return Ok::<_, DbError>(None);
            };
            let mut remember = |failing: Option<i64>, disabled: Option<i64>| {
                if let Some(Some(row)) = known.get_mut(&item.webhook_id.0) {
                    row.2 = failing;
                    row.3 = disabled;
                }
            };
            let set_failing = |since: Option<i64>| {
                sqlx::query("UPDATE webhook_endpoints SET failing_since = $2 WHERE id = $1")
                    .bind(item.webhook_id.0)
                    .bind(since)
            };
            let at = item.report.finished_at;
            if let Some(pause) = requested_pause(&item.report) {
                // Retry-After holds every delivery to the endpoint back, not only this one.
                let until = ns(super::sql::plus(at, pause))?;
                sqlx::query(
                    "UPDATE webhook_endpoints SET paused_until = $2
                     WHERE id = $1 AND (paused_until IS NULL OR paused_until < $2)",
                )
                .bind(item.webhook_id.0)
                .bind(until)
                .execute(&mut *$tx)
                .await?;
            }
            match judge(&item.report, failing_since.map(from_ns), item.disable_after) {
                HealthVerdict::Healthy if failing_since.is_some() => {
                    set_failing(None).execute(&mut *$tx).await?;
                    remember(None, disabled_at);
                }
                HealthVerdict::Healthy => {}
                HealthVerdict::Failing { since } => {
                    if failing_since != Some(ns(since)?) {
                        set_failing(Some(ns(since)?)).execute(&mut *$tx).await?;
                        remember(Some(ns(since)?), disabled_at);
                    }
                }
                HealthVerdict::Disable(_) if disabled_at.is_some() => {}
                HealthVerdict::Disable(reason) => {
                    let disabled = sqlx::query(
                        "UPDATE webhook_endpoints SET disabled_at = $2, disabled_reason = $3,
                             failing_since = COALESCE(failing_since, $2)
                         WHERE id = $1 AND disabled_at IS NULL",
                    )
                    .bind(item.webhook_id.0)
                    .bind(ns(at)?)
                    .bind(reason.as_str())
                    .execute(&mut *$tx)
                    .await?
                    .rows_affected();
                    if disabled == 0 {
                        return Ok(None);
                    }
                    remember(failing_since.or(Some(ns(at)?)), Some(ns(at)?));
                    sqlx::query(
                        "INSERT INTO webhook_notifications (organization_id, webhook_id, kind,
                         reason, message, at) VALUES ($1, $2, 'disabled', $3, $4, $5)",
                    )
                    .bind(&org)
                    .bind(item.webhook_id.0)
                    .bind(reason.as_str())
                    .bind(disabled_message(reason, item.disable_after))
                    .bind(ns(at)?)
                    .execute(&mut *$tx)
                    .await?;
                    return Ok(Some(DisabledEndpoint {
                        organization: OrganizationId::parse(&org).map_err(DbError::corrupt)?,
                        webhook_id: item.webhook_id,
                        url,
                        reason,
                        at,
                    }));
                }
            }
            Ok(None)
        }
        .await
    };
}

#[derive(sqlx::FromRow)]
struct NotificationRow {
    webhook_id: Uuid,
    kind: String,
    reason: Option<String>,
    message: String,
    at: i64,
}

#[async_trait]
impl EndpointHealthStore for SqlStore {
    async fn record_attempts(
        &self,
        attempts: &[AttemptToRecord],
    ) -> Result<RecordedAttempts, StoreError> {
        let mut recorded = RecordedAttempts::default();
        if attempts.is_empty() {
            return Ok(recorded);
        }
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(backend)?;
            let numbers = super::attempts::write_rows(pool, &mut *tx, attempts)
                .await
                .map_err(backend)?;
            let mut known = HashMap::new();
            for (item, number) in attempts.iter().zip(numbers) {
                let Some(number) = number else {
                    recorded.results.push(Err(StoreError::LeaseLost));
                    continue;
                };
                let kind = super::attempts::kind_of(item);
                recorded
                    .results
                    .push(Ok(Attempt::from_report(number as u32, kind, &item.report)));
                if let Some(disabled) = apply_health!(tx, item, &mut known).map_err(backend)? {
                    recorded.disabled.push(disabled);
                }
            }
            tx.commit().await.map_err(backend)?;
        });
        Ok(recorded)
    }

    async fn enable_webhook(
        &self,
        org: &OrganizationId,
        id: WebhookId,
        now: DateTime<Utc>,
    ) -> DbResult<Option<bool>> {
        let at = ns(now)?;
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let disabled: Option<Option<i64>> = sqlx::query_scalar(
                "SELECT disabled_at FROM webhook_endpoints WHERE id = $1 AND organization_id = $2",
            )
            .bind(id.0)
            .bind(org.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let Some(disabled) = disabled else {
                return Ok(None);
            };
            if disabled.is_none() {
                return Ok(Some(false));
            }
            sqlx::query(
                "UPDATE webhook_endpoints SET disabled_at = NULL, disabled_reason = NULL,
                     failing_since = NULL
                 WHERE id = $1",
            )
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO webhook_notifications (organization_id, webhook_id, kind, reason,
                 message, at) VALUES ($1, $2, 'enabled', NULL, $3, $4)",
            )
            .bind(org.as_str())
            .bind(id.0)
            .bind("Enabled again: waiting events are delivered.")
            .bind(at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Some(true))
        })
    }

    async fn webhook_notifications(
        &self,
        org: &OrganizationId,
        id: WebhookId,
        limit: usize,
    ) -> DbResult<Vec<WebhookNotification>> {
        let rows: Vec<NotificationRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT webhook_id, kind, reason, message, at FROM webhook_notifications
                 WHERE organization_id = $1 AND webhook_id = $2
                 ORDER BY at DESC, id DESC LIMIT $3",
            )
            .bind(org.as_str())
            .bind(id.0)
            .bind(limit.clamp(1, 1_000) as i64)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|r| {
                Ok(WebhookNotification {
                    webhook_id: WebhookId(r.webhook_id),
                    kind: match r.kind.as_str() {
                        "disabled" => NotificationKind::Disabled,
                        "enabled" => NotificationKind::Enabled,
                        other => return Err(DbError::corrupt(format!("notification {other}"))),
                    },
                    reason: r.reason.as_deref().and_then(DisableReason::parse),
                    message: r.message,
                    at: from_ns(r.at),
                })
            })
            .collect()
    }
}
