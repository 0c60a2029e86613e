//! The webhooks journal's read position, under a fenced lease, and each organization's
//! journal-subscription fingerprint.
//!
//! The app reads one global journal (every portal it is installed in), so one process at a
//! time holds `hubspot_journal` (row `global`): the lease is taken with an atomic upsert that
//! only replaces an expired one and carries a random token; every later write names the token
//! and changes nothing once another process took over, so a page is read by one replica and a
//! late writer cannot move the position back.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use turris_core::ids::OrganizationId;
use turris_hubspot::webhooks::WebhookEvent;
use uuid::Uuid;

use super::error::DbResult;
use super::sql::{Dialect, SqlStore, ns, plus, with_pool};

/// The journal held by this process: its token, and the last offset read (`None`: start at
/// the earliest entry HubSpot keeps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalLease {
    /// The fencing token.
    pub token: String,
    /// The last offset read.
    pub position: Option<String>,
}

/// Storage of the journal reader.
#[async_trait]
pub trait JournalStore: Send + Sync {
    /// Takes the journal for `lease_for` unless another process holds an unexpired lease.
    async fn lease_journal(
        &self,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> DbResult<Option<JournalLease>>;

    /// Records the new position and renews the lease; `false` (nothing written) when the lease
    /// was lost to another process.
    async fn advance_journal(
        &self,
        lease: &JournalLease,
        position: Option<&str>,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> DbResult<bool>;

    /// Lets the lease go (another process may read at once).
    async fn release_journal(&self, lease: &JournalLease) -> DbResult<()>;

    /// What `org`'s journal subscriptions were last made for.
    async fn journal_fingerprint(&self, org: &OrganizationId) -> DbResult<Option<String>>;

    /// Records what `org`'s journal subscriptions were made for.
    async fn set_journal_fingerprint(
        &self,
        org: &OrganizationId,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> DbResult<()>;

    /// Whether a change like `event` (same object, time, type and property) is stored for
    /// `org` already, whatever its event id: a webhook and a journal entry of one change.
    async fn change_stored(&self, org: &OrganizationId, event: &WebhookEvent) -> DbResult<bool>;
}

const ROW: &str = "global";

#[async_trait]
impl JournalStore for SqlStore {
    async fn lease_journal(
        &self,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> DbResult<Option<JournalLease>> {
        let token = Uuid::new_v4().to_string();
        let (now_ns, until) = (ns(now)?, ns(plus(now, lease_for))?);
        let taken: Option<(Option<String>,)> = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query_as(
                "INSERT INTO hubspot_journal (id, lease_token, leased_until, updated_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE
                 SET lease_token = excluded.lease_token, leased_until = excluded.leased_until
                 WHERE hubspot_journal.leased_until <= $4
                 RETURNING position",
            )
            .bind(ROW)
            .bind(&token)
            .bind(until)
            .bind(now_ns)
            .fetch_optional(pool)
            .await?
        });
        Ok(taken.map(|(position,)| JournalLease { token, position }))
    }

    async fn advance_journal(
        &self,
        lease: &JournalLease,
        position: Option<&str>,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> DbResult<bool> {
        let (now_ns, until) = (ns(now)?, ns(plus(now, lease_for))?);
        let written = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "UPDATE hubspot_journal SET position = $2, leased_until = $3, updated_at = $4
                 WHERE id = $1 AND lease_token = $5",
            )
            .bind(ROW)
            .bind(position)
            .bind(until)
            .bind(now_ns)
            .bind(&lease.token)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(written == 1)
    }

    async fn release_journal(&self, lease: &JournalLease) -> DbResult<()> {
        with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "UPDATE hubspot_journal SET leased_until = 0 WHERE id = $1 AND lease_token = $2",
            )
            .bind(ROW)
            .bind(&lease.token)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    async fn journal_fingerprint(&self, org: &OrganizationId) -> DbResult<Option<String>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT fingerprint FROM hubspot_journal_subscriptions WHERE organization_id = $1",
            )
            .bind(org.as_str())
            .fetch_optional(pool)
            .await?
        }))
    }

    async fn set_journal_fingerprint(
        &self,
        org: &OrganizationId,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        let now_ns = ns(now)?;
        with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "INSERT INTO hubspot_journal_subscriptions (organization_id, fingerprint, updated_at)
                 VALUES ($1, $2, $3)
                 ON CONFLICT (organization_id) DO UPDATE
                 SET fingerprint = excluded.fingerprint, updated_at = excluded.updated_at",
            )
            .bind(org.as_str())
            .bind(fingerprint)
            .bind(now_ns)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    async fn change_stored(&self, org: &OrganizationId, event: &WebhookEvent) -> DbResult<bool> {
        let object = event.object_id.or(event.from_object_id).unwrap_or(0);
        let found: Option<i32> = with_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT 1 FROM inbound_events WHERE organization_id = $1 AND object_id = $2
                 AND occurred_at = $3 AND subscription_type = $4 AND property_name = $5 LIMIT 1",
            )
            .bind(org.as_str())
            .bind(i64::try_from(object).unwrap_or(i64::MAX))
            .bind(event.occurred_at)
            .bind(event.subscription_type.to_string())
            .bind(event.property_name.as_deref().unwrap_or(""))
            .fetch_optional(pool)
            .await?
        });
        Ok(found.is_some())
    }
}
