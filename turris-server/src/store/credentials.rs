//! HubSpot credentials: the token set as JSON, sealed with AES-256-GCM under associated data
//! `hubspot-auth:<organization>`, so a sealed value moved to another organization's row does
//! not open. The portal id, app id, kind and expiry stay in clear for routing and refresh.
//!
//! Refreshes across replicas: `lease_token_refresh` is one `UPDATE ... WHERE organization_id =
//! $1 AND (refresh_lease_until IS NULL OR refresh_lease_until <= $now) RETURNING auth_sealed`,
//! so of two processes racing for a lease exactly one row update happens (PostgreSQL re-checks
//! the `WHERE` of the second after the first commits; SQLite serialises writers), and the
//! winner reads the tokens stored at that moment. `store_refreshed_auth` writes only
//! `WHERE refresh_lease_id = $lease`; a reconnect (`replace_hubspot_auth`) clears the lease, so
//! a refresh that was in flight stores nothing over the new tokens.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use turris_core::ids::OrganizationId;
use uuid::Uuid;

use super::error::{DbError, DbResult, foreign_key_is_not_found};
use super::sql::{Dialect, SqlStore, from_ns, ns, with_pool, wrote};
use crate::crypto::SecretString;
use serde::{Deserialize, Serialize};

/// How the server authenticates to HubSpot for one organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HubSpotAuth {
    /// A public app's OAuth token set.
    OAuth {
        /// The access token (30 minutes).
        access_token: SecretString,
        /// The refresh token.
        refresh_token: SecretString,
        /// When the access token expires.
        expires_at: DateTime<Utc>,
    },
    /// A private app's static token.
    PrivateApp {
        /// The token.
        token: SecretString,
        /// The private app's client secret, which signs the webhooks it sends (v3): with it,
        /// the app's inbound batches are verified for this organization alone.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        webhook_secret: Option<SecretString>,
    },
}

impl HubSpotAuth {
    /// When the access token expires (OAuth only).
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        match self {
            HubSpotAuth::OAuth { expires_at, .. } => Some(*expires_at),
            HubSpotAuth::PrivateApp { .. } => None,
        }
    }

    /// The secret that signs this connection's own webhooks (a private app's client secret).
    pub fn webhook_secret(&self) -> Option<&SecretString> {
        match self {
            HubSpotAuth::PrivateApp { webhook_secret, .. } => webhook_secret.as_ref(),
            HubSpotAuth::OAuth { .. } => None,
        }
    }
}

/// An organization's HubSpot connection secrets, decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSpotCredentials {
    /// The portal (hub) id.
    pub portal_id: u64,
    /// The public app's id (OAuth), for echo detection and subscriptions.
    pub app_id: Option<u64>,
    /// Tokens.
    pub auth: HubSpotAuth,
    /// When it was connected.
    pub connected_at: DateTime<Utc>,
    /// When the tokens were last replaced.
    pub updated_at: DateTime<Utc>,
}

/// HubSpot credentials, encrypted at rest. One portal per organization and one organization
/// per portal (inbound events are routed by portal id).
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// Stores a new connection; [`Conflict::AlreadyConnected`] when the organization has one,
    /// [`Conflict::PortalInUse`] when another organization has that portal.
    async fn connect_hubspot(
        &self,
        org: &OrganizationId,
        credentials: &HubSpotCredentials,
    ) -> DbResult<()>;
    /// The organization's credentials, decrypted.
    async fn hubspot_credentials(
        &self,
        org: &OrganizationId,
    ) -> DbResult<Option<HubSpotCredentials>>;
    /// Replaces only the tokens (reconnect, refresh): settings and links stay.
    /// [`DbError::NotFound`] when not connected.
    async fn replace_hubspot_auth(
        &self,
        org: &OrganizationId,
        auth: &HubSpotAuth,
        now: DateTime<Utc>,
    ) -> DbResult<()>;
    /// Deletes the integration in one transaction: credentials, core settings (mapping,
    /// matrix, invitations, schema cache, subscriptions), links, unprocessed inbound events and
    /// the echo ledger. Turris records, activity and jobs stay. `false` when there was no
    /// credential, setting or link to delete.
    async fn delete_integration(&self, org: &OrganizationId) -> DbResult<bool>;
    /// The organization connected to a portal (routing of inbound events).
    async fn organization_by_portal(&self, portal_id: u64) -> DbResult<Option<OrganizationId>>;
    /// Organizations whose OAuth access token expires before `before` (the refresh worker).
    async fn oauth_expiring_before(&self, before: DateTime<Utc>) -> DbResult<Vec<OrganizationId>>;
    /// Takes the refresh lease of the organization's tokens until `until`, unless another
    /// lease holds after `now`; answers the tokens stored now either way.
    async fn lease_token_refresh(
        &self,
        org: &OrganizationId,
        lease: uuid::Uuid,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> DbResult<TokenRefreshLease>;
    /// Stores refreshed tokens and gives the lease up; `false` (nothing stored) when `lease`
    /// no longer holds (it lapsed and another process took it, or a reconnect replaced the
    /// tokens).
    async fn store_refreshed_auth(
        &self,
        org: &OrganizationId,
        lease: uuid::Uuid,
        auth: &HubSpotAuth,
        now: DateTime<Utc>,
    ) -> DbResult<bool>;
    /// Gives the refresh lease up without new tokens.
    async fn release_token_refresh(&self, org: &OrganizationId, lease: uuid::Uuid) -> DbResult<()>;
    /// Records that HubSpot's DAILY limit of the organization's portal is spent until
    /// `until`; `true` when that is news (no block lasting past `now` was recorded).
    async fn block_until_daily_reset(
        &self,
        org: &OrganizationId,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> DbResult<bool>;
    /// Until when the organization's portal is blocked by HubSpot's DAILY limit, if that is
    /// after `now`.
    async fn daily_limit_until(
        &self,
        org: &OrganizationId,
        now: DateTime<Utc>,
    ) -> DbResult<Option<DateTime<Utc>>>;
}

/// What [`CredentialStore::lease_token_refresh`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRefreshLease {
    /// The lease is ours: refresh these tokens.
    Taken(HubSpotAuth),
    /// Another process holds it: these are the tokens stored now.
    Busy(HubSpotAuth),
    /// The organization is not connected.
    NotConnected,
}

pub(super) fn aad(org: &OrganizationId) -> Vec<u8> {
    format!("hubspot-auth:{org}").into_bytes()
}

fn kind(auth: &HubSpotAuth) -> &'static str {
    match auth {
        HubSpotAuth::OAuth { .. } => "oauth",
        HubSpotAuth::PrivateApp { .. } => "private_app",
    }
}

#[derive(sqlx::FromRow)]
struct CredentialRow {
    portal_id: i64,
    app_id: Option<i64>,
    auth_sealed: Vec<u8>,
    connected_at: i64,
    updated_at: i64,
}

impl SqlStore {
    fn open_auth(&self, org: &OrganizationId, sealed: &[u8]) -> DbResult<HubSpotAuth> {
        let json = self.cipher().decrypt(sealed, &aad(org))?;
        Ok(serde_json::from_slice(&json)?)
    }

    fn seal_auth(&self, org: &OrganizationId, auth: &HubSpotAuth) -> DbResult<Vec<u8>> {
        let json = serde_json::to_vec(auth)?;
        Ok(self.cipher().encrypt(&json, &aad(org))?)
    }
}

fn portal(value: u64) -> DbResult<i64> {
    i64::try_from(value).map_err(|_| DbError::OutOfRange("portal and app ids must fit in i64"))
}

#[async_trait]
impl CredentialStore for SqlStore {
    async fn connect_hubspot(
        &self,
        org: &OrganizationId,
        credentials: &HubSpotCredentials,
    ) -> DbResult<()> {
        let sealed = self.seal_auth(org, &credentials.auth)?;
        let expires = credentials.auth.expires_at().map(ns).transpose()?;
        let app_id = credentials.app_id.map(portal).transpose()?;
        let (connected, updated) = (ns(credentials.connected_at)?, ns(credentials.updated_at)?);
        let portal_id = portal(credentials.portal_id)?;
        with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "INSERT INTO hubspot_credentials (organization_id, portal_id, app_id, auth_kind,
                 auth_sealed, expires_at, connected_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(org.as_str())
            .bind(portal_id)
            .bind(app_id)
            .bind(kind(&credentials.auth))
            .bind(&sealed)
            .bind(expires)
            .bind(connected)
            .bind(updated)
            .execute(pool)
            .await
            .map_err(foreign_key_is_not_found)?;
        });
        Ok(())
    }

    async fn hubspot_credentials(
        &self,
        org: &OrganizationId,
    ) -> DbResult<Option<HubSpotCredentials>> {
        let row: Option<CredentialRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT portal_id, app_id, auth_sealed, connected_at, updated_at
                 FROM hubspot_credentials WHERE organization_id = $1",
            )
            .bind(org.as_str())
            .fetch_optional(pool)
            .await?
        });
        let Some(row) = row else {
            return Ok(None);
        };
        let json = self.cipher().decrypt(&row.auth_sealed, &aad(org))?;
        Ok(Some(HubSpotCredentials {
            portal_id: row.portal_id as u64,
            app_id: row.app_id.map(|a| a as u64),
            auth: serde_json::from_slice(&json)?,
            connected_at: from_ns(row.connected_at),
            updated_at: from_ns(row.updated_at),
        }))
    }

    async fn replace_hubspot_auth(
        &self,
        org: &OrganizationId,
        auth: &HubSpotAuth,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        let sealed = self.seal_auth(org, auth)?;
        let expires = auth.expires_at().map(ns).transpose()?;
        let updated_at = ns(now)?;
        let updated = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "UPDATE hubspot_credentials SET auth_kind = $2, auth_sealed = $3, expires_at = $4,
                 updated_at = $5, refresh_lease_id = NULL, refresh_lease_until = NULL
                 WHERE organization_id = $1",
            )
            .bind(org.as_str())
            .bind(kind(auth))
            .bind(&sealed)
            .bind(expires)
            .bind(updated_at)
            .execute(pool)
            .await?
            .rows_affected()
        });
        wrote(updated, DbError::NotFound)
    }

    async fn delete_integration(&self, org: &OrganizationId) -> DbResult<bool> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let mut deleted = 0;
            for sql in [
                "DELETE FROM hubspot_credentials WHERE organization_id = $1",
                "DELETE FROM integration_settings WHERE organization_id = $1",
                "DELETE FROM links WHERE organization_id = $1",
            ] {
                deleted += sqlx::query(sql)
                    .bind(org.as_str())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            // What only made sense for the old connection: unprocessed events from its portal
            // (a reconnect may bring another portal) and the echo ledger of its writes.
            for sql in [
                "DELETE FROM inbound_events WHERE organization_id = $1 AND status = 'pending'",
                "DELETE FROM hubspot_writes WHERE organization_id = $1",
            ] {
                sqlx::query(sql)
                    .bind(org.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(deleted > 0)
        })
    }

    async fn organization_by_portal(&self, portal_id: u64) -> DbResult<Option<OrganizationId>> {
        let Ok(portal_id) = i64::try_from(portal_id) else {
            return Ok(None);
        };
        let org: Option<String> = with_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT organization_id FROM hubspot_credentials WHERE portal_id = $1",
            )
            .bind(portal_id)
            .fetch_optional(pool)
            .await?
        });
        org.map(|o| OrganizationId::parse(&o).map_err(DbError::corrupt))
            .transpose()
    }

    async fn oauth_expiring_before(&self, before: DateTime<Utc>) -> DbResult<Vec<OrganizationId>> {
        let before = super::sql::ns_saturating(before);
        let orgs: Vec<String> = with_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT organization_id FROM hubspot_credentials
                 WHERE auth_kind = 'oauth' AND expires_at < $1 ORDER BY expires_at",
            )
            .bind(before)
            .fetch_all(pool)
            .await?
        });
        orgs.iter()
            .map(|o| OrganizationId::parse(o).map_err(DbError::corrupt))
            .collect()
    }

    async fn lease_token_refresh(
        &self,
        org: &OrganizationId,
        lease: Uuid,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> DbResult<TokenRefreshLease> {
        let (until, now) = (ns(until)?, ns(now)?);
        let (taken, stored): (Option<Vec<u8>>, Option<Vec<u8>>) = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            let taken: Option<Vec<u8>> = sqlx::query_scalar(
                "UPDATE hubspot_credentials SET refresh_lease_id = $2, refresh_lease_until = $3
                 WHERE organization_id = $1
                 AND (refresh_lease_until IS NULL OR refresh_lease_until <= $4)
                 RETURNING auth_sealed",
            )
            .bind(org.as_str())
            .bind(lease)
            .bind(until)
            .bind(now)
            .fetch_optional(pool)
            .await?;
            let stored: Option<Vec<u8>> = if taken.is_some() {
                None
            } else {
                sqlx::query_scalar(
                    "SELECT auth_sealed FROM hubspot_credentials WHERE organization_id = $1",
                )
                .bind(org.as_str())
                .fetch_optional(pool)
                .await?
            };
            (taken, stored)
        });
        Ok(match (taken, stored) {
            (Some(sealed), _) => TokenRefreshLease::Taken(self.open_auth(org, &sealed)?),
            (None, Some(sealed)) => TokenRefreshLease::Busy(self.open_auth(org, &sealed)?),
            (None, None) => TokenRefreshLease::NotConnected,
        })
    }

    async fn store_refreshed_auth(
        &self,
        org: &OrganizationId,
        lease: Uuid,
        auth: &HubSpotAuth,
        now: DateTime<Utc>,
    ) -> DbResult<bool> {
        let sealed = self.seal_auth(org, auth)?;
        let expires = auth.expires_at().map(ns).transpose()?;
        let updated_at = ns(now)?;
        let updated = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "UPDATE hubspot_credentials SET auth_kind = $3, auth_sealed = $4, expires_at = $5,
                 updated_at = $6, refresh_lease_id = NULL, refresh_lease_until = NULL
                 WHERE organization_id = $1 AND refresh_lease_id = $2",
            )
            .bind(org.as_str())
            .bind(lease)
            .bind(kind(auth))
            .bind(&sealed)
            .bind(expires)
            .bind(updated_at)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(updated == 1)
    }

    async fn release_token_refresh(&self, org: &OrganizationId, lease: Uuid) -> DbResult<()> {
        with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "UPDATE hubspot_credentials SET refresh_lease_id = NULL, refresh_lease_until = NULL
                 WHERE organization_id = $1 AND refresh_lease_id = $2",
            )
            .bind(org.as_str())
            .bind(lease)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    async fn block_until_daily_reset(
        &self,
        org: &OrganizationId,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> DbResult<bool> {
        let (until, now) = (ns(until)?, ns(now)?);
        let updated = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "UPDATE hubspot_credentials SET daily_limit_until = $2
                 WHERE organization_id = $1
                 AND (daily_limit_until IS NULL OR daily_limit_until <= $3)",
            )
            .bind(org.as_str())
            .bind(until)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(updated == 1)
    }

    async fn daily_limit_until(
        &self,
        org: &OrganizationId,
        now: DateTime<Utc>,
    ) -> DbResult<Option<DateTime<Utc>>> {
        let now = ns(now)?;
        let until: Option<Option<i64>> = with_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT daily_limit_until FROM hubspot_credentials
                 WHERE organization_id = $1 AND daily_limit_until > $2",
            )
            .bind(org.as_str())
            .bind(now)
            .fetch_optional(pool)
            .await?
        });
        Ok(until.flatten().map(from_ns))
    }
}
