//! Webhook endpoints: the 32-byte secret sealed under associated data
//! `webhook-secret:<webhook id>`; only its last four hex characters are kept in clear, for the
//! masked display. After a rotation the secret it replaced is kept, sealed under
//! `webhook-previous-secret:<webhook id>`, until its overlap ends: deliveries are signed with
//! both meanwhile.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use turris_core::ids::OrganizationId;
use turris_webhooks::delivery::{DisableReason, WebhookId};
use turris_webhooks::{SECRET_LEN, WebhookSecret};
use uuid::Uuid;

use super::delivery::parse_webhook_type;
use super::error::{DbError, DbResult, foreign_key_is_not_found};
use super::sql::{Dialect, SqlStore, for_update, from_ns, ns, with_pool};
use serde::{Deserialize, Serialize};
use turris_webhooks::WebhookType;

/// A webhook endpoint to create. The secret is encrypted; its last four hex characters are
/// kept in clear for the masked display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhookEndpoint {
    /// Its id.
    pub id: WebhookId,
    /// The event type it receives.
    pub webhook_type: WebhookType,
    /// The HTTPS URL (validated by the caller).
    pub url: String,
    /// The signing secret.
    pub secret: WebhookSecret,
}

/// A webhook endpoint as listed: the secret only masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    /// Its id.
    pub id: WebhookId,
    /// The event type it receives.
    pub webhook_type: WebhookType,
    /// The URL.
    pub url: String,
    /// `•••• abcd`.
    pub masked_secret: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// The secret the last rotation replaced, masked, with the end of its overlap (it may have
    /// passed: see [`WebhookEndpoint::previous_secret_at`]).
    pub previous_secret: Option<(String, DateTime<Utc>)>,
    /// When and why it was disabled (410 Gone, or failing too long); `None` while enabled.
    pub disabled: Option<(DateTime<Utc>, DisableReason)>,
    /// Its own delivery limits (`None` in a field: the server's default).
    #[serde(default)]
    pub limits: EndpointLimits,
}

/// An endpoint's own delivery limits; `None` in a field means the server's default
/// (`TURRIS_WEBHOOK_MAX_IN_FLIGHT`, `TURRIS_WEBHOOK_RATE_LIMIT`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointLimits {
    /// Deliveries in flight to it at once.
    pub max_in_flight: Option<u32>,
    /// Delivery attempts per second (`0`: no limit).
    pub rate_limit: Option<u32>,
}

impl WebhookEndpoint {
    /// The replaced secret (masked) and the end of its overlap, while it is still valid at
    /// `now`.
    pub fn previous_secret_at(&self, now: DateTime<Utc>) -> Option<(&str, DateTime<Utc>)> {
        self.previous_secret
            .as_ref()
            .filter(|(_, until)| *until > now)
            .map(|(masked, until)| (masked.as_str(), *until))
    }
}

/// What a delivery worker needs to send to an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryTarget {
    /// The owning organization.
    pub organization: OrganizationId,
    /// The endpoint.
    pub endpoint: WebhookEndpoint,
    /// The decrypted signing secret.
    pub secret: WebhookSecret,
    /// The secret the last rotation replaced (decrypted) and the end of its overlap.
    pub previous_secret: Option<(WebhookSecret, DateTime<Utc>)>,
}

impl DeliveryTarget {
    /// The replaced secret while its overlap lasts at `now`: deliveries carry its signature
    /// too.
    pub fn previous_secret_at(&self, now: DateTime<Utc>) -> Option<&WebhookSecret> {
        self.previous_secret
            .as_ref()
            .filter(|(_, until)| *until > now)
            .map(|(secret, _)| secret)
    }
}

/// A secret rotation: the new secret, and how long the current one stays valid beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRotation {
    /// The new signing secret.
    pub secret: WebhookSecret,
    /// When the replaced secret stops being sent and accepted; `None` (or a time not after
    /// `now`) drops it at once.
    pub previous_until: Option<DateTime<Utc>>,
}

/// Webhook endpoints. No update of the URL or type (the API answers 405); the limits change.
#[async_trait]
pub trait WebhookEndpointStore: Send + Sync {
    /// Creates an endpoint; [`DbError::NotFound`] for an unknown organization.
    async fn create_webhook(
        &self,
        org: &OrganizationId,
        endpoint: &NewWebhookEndpoint,
        now: DateTime<Utc>,
    ) -> DbResult<WebhookEndpoint>;
    /// Creates an endpoint unless the organization has `limit` already (`Ok(None)` then),
    /// counted under a lock on the organization, so concurrent creations cannot pass the
    /// limit together; [`DbError::NotFound`] for an unknown organization.
    async fn create_webhook_within(
        &self,
        org: &OrganizationId,
        endpoint: &NewWebhookEndpoint,
        limit: usize,
        now: DateTime<Utc>,
    ) -> DbResult<Option<WebhookEndpoint>>;
    /// The organization's endpoints, oldest first, secrets masked.
    async fn list_webhooks(&self, org: &OrganizationId) -> DbResult<Vec<WebhookEndpoint>>;
    /// One endpoint, secret masked.
    async fn webhook(
        &self,
        org: &OrganizationId,
        id: WebhookId,
    ) -> DbResult<Option<WebhookEndpoint>>;
    /// An endpoint with its decrypted secret, for delivery (events carry only the webhook id).
    async fn delivery_target(&self, id: WebhookId) -> DbResult<Option<DeliveryTarget>>;
    /// Replaces an endpoint's secret, keeping the replaced one until
    /// `rotation.previous_until` (a secret replaced earlier is dropped: two at most). `None`
    /// when the endpoint is not the organization's.
    async fn rotate_webhook_secret(
        &self,
        org: &OrganizationId,
        id: WebhookId,
        rotation: &SecretRotation,
        now: DateTime<Utc>,
    ) -> DbResult<Option<WebhookEndpoint>>;
    /// Deletes an endpoint, its secret, and its events and attempts, in one transaction:
    /// queued deliveries stop (a worker holding a lease finds the event gone and the target
    /// missing), and its history goes with it, since the API can no longer reach it.
    /// `false` when unknown.
    async fn delete_webhook(&self, org: &OrganizationId, id: WebhookId) -> DbResult<bool>;
    /// Sets an endpoint's own delivery limits (`None` fields: the server's defaults); `false`
    /// when the endpoint is not the organization's.
    async fn set_webhook_limits(
        &self,
        org: &OrganizationId,
        id: WebhookId,
        limits: EndpointLimits,
    ) -> DbResult<bool>;
}

pub(super) fn aad(id: WebhookId) -> Vec<u8> {
    format!("webhook-secret:{id}").into_bytes()
}

pub(super) fn previous_aad(id: WebhookId) -> Vec<u8> {
    format!("webhook-previous-secret:{id}").into_bytes()
}

fn last4(secret: &WebhookSecret) -> String {
    hex::encode(&secret.as_bytes()[SECRET_LEN - 2..])
}

const MASK: &str = "•••• ";

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: Uuid,
    organization_id: String,
    webhook_type: String,
    url: String,
    secret_sealed: Vec<u8>,
    secret_last4: String,
    created_at: i64,
    previous_secret_sealed: Option<Vec<u8>>,
    previous_secret_last4: Option<String>,
    previous_secret_expires_at: Option<i64>,
    disabled_at: Option<i64>,
    disabled_reason: Option<String>,
    max_in_flight: Option<i32>,
    rate_limit: Option<i32>,
}

const ENDPOINT_COLUMNS: &str = "id, organization_id, webhook_type, url, secret_sealed, \
     secret_last4, created_at, previous_secret_sealed, previous_secret_last4, \
     previous_secret_expires_at, disabled_at, disabled_reason, max_in_flight, rate_limit";

impl EndpointRow {
    fn endpoint(&self) -> DbResult<WebhookEndpoint> {
        Ok(WebhookEndpoint {
            id: WebhookId(self.id),
            webhook_type: parse_webhook_type(&self.webhook_type)?,
            url: self.url.clone(),
            masked_secret: format!("{MASK}{}", self.secret_last4),
            created_at: from_ns(self.created_at),
            previous_secret: match (&self.previous_secret_last4, self.previous_secret_expires_at) {
                (Some(last4), Some(until)) => Some((format!("{MASK}{last4}"), from_ns(until))),
                _ => None,
            },
            disabled: match (self.disabled_at, self.disabled_reason.as_deref()) {
                (Some(at), Some(reason)) => Some((
                    from_ns(at),
                    DisableReason::parse(reason)
                        .ok_or_else(|| DbError::corrupt(format!("disable reason {reason}")))?,
                )),
                _ => None,
            },
            limits: EndpointLimits {
                max_in_flight: self.max_in_flight.map(|n| n.max(0) as u32),
                rate_limit: self.rate_limit.map(|n| n.max(0) as u32),
            },
        })
    }

    fn open(
        &self,
        sealed: &[u8],
        aad: &[u8],
        cipher: &crate::crypto::Cipher,
    ) -> DbResult<WebhookSecret> {
        let bytes = cipher.decrypt(sealed, aad)?;
        let bytes: [u8; SECRET_LEN] = bytes
            .try_into()
            .map_err(|_| DbError::corrupt("webhook secret length"))?;
        Ok(WebhookSecret::from_bytes(bytes))
    }
}

impl SqlStore {
    /// Writes `rotation` if the row still holds the secret it was read with.
    async fn swap_secret(
        &self,
        row: &EndpointRow,
        rotation: &SecretRotation,
        now: DateTime<Utc>,
    ) -> DbResult<bool> {
        let id = WebhookId(row.id);
        let sealed = self
            .cipher()
            .encrypt(rotation.secret.as_bytes(), &aad(id))?;
        let keep = rotation.previous_until.filter(|until| *until > now);
        let (previous_sealed, previous_last4, previous_until) = match keep {
            Some(until) => {
                let current = row.open(&row.secret_sealed, &aad(id), self.cipher())?;
                let resealed = self
                    .cipher()
                    .encrypt(current.as_bytes(), &previous_aad(id))?;
                (
                    Some(resealed),
                    Some(row.secret_last4.clone()),
                    Some(ns(until)?),
                )
            }
            None => (None, None, None),
        };
        let updated = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "UPDATE webhook_endpoints SET secret_sealed = $2, secret_last4 = $3,
                     previous_secret_sealed = $4, previous_secret_last4 = $5,
                     previous_secret_expires_at = $6
                 WHERE id = $1 AND secret_sealed = $7",
            )
            .bind(row.id)
            .bind(&sealed)
            .bind(last4(&rotation.secret))
            .bind(previous_sealed)
            .bind(previous_last4)
            .bind(previous_until)
            .bind(&row.secret_sealed)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(updated > 0)
    }

    async fn endpoint_row(
        &self,
        org: Option<&OrganizationId>,
        id: WebhookId,
    ) -> DbResult<Option<EndpointRow>> {
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints
             WHERE id = $1 AND ($2 IS NULL OR organization_id = $2)"
        );
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(id.0)
                .bind(org.map(|o| o.as_str()))
                .fetch_optional(pool)
                .await?
        }))
    }
}

#[async_trait]
impl WebhookEndpointStore for SqlStore {
    async fn create_webhook(
        &self,
        org: &OrganizationId,
        endpoint: &NewWebhookEndpoint,
        now: DateTime<Utc>,
    ) -> DbResult<WebhookEndpoint> {
        self.create_webhook_within(org, endpoint, usize::MAX, now)
            .await?
            .ok_or(DbError::NotFound)
    }

    async fn create_webhook_within(
        &self,
        org: &OrganizationId,
        endpoint: &NewWebhookEndpoint,
        limit: usize,
        now: DateTime<Utc>,
    ) -> DbResult<Option<WebhookEndpoint>> {
        let sealed = self
            .cipher()
            .encrypt(endpoint.secret.as_bytes(), &aad(endpoint.id))?;
        let last4 = last4(&endpoint.secret);
        let created = ns(now)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let inserted = with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let lock = format!(
                "SELECT id FROM organizations WHERE id = $1 {}",
                for_update(pool)
            );
            let found: Option<String> = sqlx::query_scalar(&lock)
                .bind(org.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            if found.is_none() {
                return Err(DbError::NotFound);
            }
            let count: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM webhook_endpoints WHERE organization_id = $1",
            )
            .bind(org.as_str())
            .fetch_one(&mut *tx)
            .await?;
            if count >= limit {
                false
            } else {
                sqlx::query(
                    "INSERT INTO webhook_endpoints (id, organization_id, webhook_type, url,
                     secret_sealed, secret_last4, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(endpoint.id.0)
                .bind(org.as_str())
                .bind(endpoint.webhook_type.as_str())
                .bind(&endpoint.url)
                .bind(&sealed)
                .bind(&last4)
                .bind(created)
                .execute(&mut *tx)
                .await
                .map_err(foreign_key_is_not_found)?;
                tx.commit().await?;
                true
            }
        });
        Ok(inserted.then(|| WebhookEndpoint {
            id: endpoint.id,
            webhook_type: endpoint.webhook_type,
            url: endpoint.url.clone(),
            masked_secret: endpoint.secret.masked(),
            created_at: from_ns(created),
            previous_secret: None,
            disabled: None,
            limits: EndpointLimits::default(),
        }))
    }

    async fn list_webhooks(&self, org: &OrganizationId) -> DbResult<Vec<WebhookEndpoint>> {
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE organization_id = $1
             ORDER BY created_at, id"
        );
        let rows: Vec<EndpointRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(org.as_str())
                .fetch_all(pool)
                .await?
        });
        rows.iter().map(EndpointRow::endpoint).collect()
    }

    async fn webhook(
        &self,
        org: &OrganizationId,
        id: WebhookId,
    ) -> DbResult<Option<WebhookEndpoint>> {
        self.endpoint_row(Some(org), id)
            .await?
            .map(|row| row.endpoint())
            .transpose()
    }

    async fn delivery_target(&self, id: WebhookId) -> DbResult<Option<DeliveryTarget>> {
        let Some(row) = self.endpoint_row(None, id).await? else {
            return Ok(None);
        };
        let secret = row.open(&row.secret_sealed, &aad(id), self.cipher())?;
        let previous = match (&row.previous_secret_sealed, row.previous_secret_expires_at) {
            (Some(sealed), Some(until)) => Some((
                row.open(sealed, &previous_aad(id), self.cipher())?,
                from_ns(until),
            )),
            _ => None,
        };
        Ok(Some(DeliveryTarget {
            organization: OrganizationId::parse(&row.organization_id).map_err(DbError::corrupt)?,
            endpoint: row.endpoint()?,
            secret,
            previous_secret: previous,
        }))
    }

    async fn rotate_webhook_secret(
        &self,
        org: &OrganizationId,
        id: WebhookId,
        rotation: &SecretRotation,
        now: DateTime<Utc>,
    ) -> DbResult<Option<WebhookEndpoint>> {
        // Compare-and-swap on the sealed secret: a concurrent rotation makes this one read
        // again, so the secret kept as previous is always the one that was current.
        for _ in 0..5 {
            let Some(row) = self.endpoint_row(Some(org), id).await? else {
                return Ok(None);
            };
            if self.swap_secret(&row, rotation, now).await? {
                return self.webhook(org, id).await;
            }
        }
        Err(DbError::corrupt(
            "webhook secret kept changing during a rotation",
        ))
    }

    async fn delete_webhook(&self, org: &OrganizationId, id: WebhookId) -> DbResult<bool> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let deleted =
                sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1 AND organization_id = $2")
                    .bind(id.0)
                    .bind(org.as_str())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            if deleted > 0 {
                // Attempts go with their events (ON DELETE CASCADE).
                sqlx::query("DELETE FROM delivery_events WHERE webhook_id = $1")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(deleted > 0)
        })
    }

    async fn set_webhook_limits(
        &self,
        org: &OrganizationId,
        id: WebhookId,
        limits: EndpointLimits,
    ) -> DbResult<bool> {
        let as_column = |n: Option<u32>| n.map(|n| i32::try_from(n).unwrap_or(i32::MAX));
        let updated = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "UPDATE webhook_endpoints SET max_in_flight = $3, rate_limit = $4
                 WHERE id = $1 AND organization_id = $2",
            )
            .bind(id.0)
            .bind(org.as_str())
            .bind(as_column(limits.max_in_flight))
            .bind(as_column(limits.rate_limit))
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(updated > 0)
    }
}
