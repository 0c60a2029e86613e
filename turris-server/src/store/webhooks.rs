//! Webhook endpoints: the 32-byte secret sealed under associated data
//! `webhook-secret:<webhook id>`; only its last four hex characters are kept in clear, for the
//! masked display.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use turris_core::ids::OrganizationId;
use turris_webhooks::delivery::WebhookId;
use turris_webhooks::{SECRET_LEN, WebhookSecret};
use uuid::Uuid;

use super::delivery::parse_webhook_type;
use super::error::{DbError, DbResult, foreign_key_is_not_found};
use super::sql::{Dialect, SqlStore, from_ns, ns, with_pool};
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
}

/// Webhook endpoints. No update: the API answers 405.
#[async_trait]
pub trait WebhookEndpointStore: Send + Sync {
    /// Creates an endpoint; [`DbError::NotFound`] for an unknown organization.
    async fn create_webhook(
        &self,
        org: &OrganizationId,
        endpoint: &NewWebhookEndpoint,
        now: DateTime<Utc>,
    ) -> DbResult<WebhookEndpoint>;
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
    /// Deletes an endpoint, its secret, and its events and attempts, in one transaction:
    /// queued deliveries stop (a worker holding a lease finds the event gone and the target
    /// missing), and its history goes with it, since the API can no longer reach it.
    /// `false` when unknown.
    async fn delete_webhook(&self, org: &OrganizationId, id: WebhookId) -> DbResult<bool>;
}

pub(super) fn aad(id: WebhookId) -> Vec<u8> {
    format!("webhook-secret:{id}").into_bytes()
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
}

const ENDPOINT_COLUMNS: &str =
    "id, organization_id, webhook_type, url, secret_sealed, secret_last4, created_at";

impl EndpointRow {
    fn endpoint(&self) -> DbResult<WebhookEndpoint> {
        Ok(WebhookEndpoint {
            id: WebhookId(self.id),
            webhook_type: parse_webhook_type(&self.webhook_type)?,
            url: self.url.clone(),
            masked_secret: format!("{MASK}{}", self.secret_last4),
            created_at: from_ns(self.created_at),
        })
    }
}

impl SqlStore {
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
        let sealed = self
            .cipher()
            .encrypt(endpoint.secret.as_bytes(), &aad(endpoint.id))?;
        let last4 = hex::encode(&endpoint.secret.as_bytes()[SECRET_LEN - 2..]);
        let created = ns(now)?;
        with_pool!(self, |pool| {
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
            .execute(pool)
            .await
            .map_err(foreign_key_is_not_found)?;
        });
        Ok(WebhookEndpoint {
            id: endpoint.id,
            webhook_type: endpoint.webhook_type,
            url: endpoint.url.clone(),
            masked_secret: endpoint.secret.masked(),
            created_at: from_ns(created),
        })
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
        let bytes = self.cipher().decrypt(&row.secret_sealed, &aad(id))?;
        let bytes: [u8; SECRET_LEN] = bytes
            .try_into()
            .map_err(|_| DbError::corrupt("webhook secret length"))?;
        Ok(Some(DeliveryTarget {
            organization: OrganizationId::parse(&row.organization_id).map_err(DbError::corrupt)?,
            endpoint: row.endpoint()?,
            secret: WebhookSecret::from_bytes(bytes),
        }))
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
}
