//! OAuth `state` values: only their SHA-256 is stored. Consuming is one conditional `UPDATE`
//! (unused and unexpired), so two concurrent callbacks with the same state cannot both win;
//! when it matches nothing, a read says which refusal applies.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use turris_core::ids::OrganizationId;
use uuid::Uuid;

use super::error::{DbError, DbResult, foreign_key_is_not_found};
use super::sql::{Dialect, SqlStore, from_ns, ns, with_pool};
use super::*;
use crate::crypto::{SecretString, TokenHash, random_token_text};

/// How long an OAuth `state` is valid.
pub const OAUTH_STATE_TTL: chrono::Duration = chrono::Duration::minutes(10);

/// A `state` handed to HubSpot's authorize URL. Its text is returned once; only its hash is
/// stored.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthState {
    /// The random `state` value (43 URL-safe characters).
    pub state: SecretString,
    /// The organization that asked to connect.
    pub organization: OrganizationId,
    /// The user who asked.
    pub user: UserId,
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for OAuthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthState")
            .field("state", &self.state)
            .field("organization", &self.organization)
            .field("user", &self.user)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What consuming a `state` found. Only [`StateConsumed::Valid`] may proceed; the other
/// outcomes let the callback answer with a precise error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateConsumed {
    /// First use within its lifetime: the connect may proceed for this organization and user.
    Valid {
        /// The organization.
        organization: OrganizationId,
        /// The user.
        user: UserId,
    },
    /// It was already used (a replayed callback).
    AlreadyUsed,
    /// It is past its 10 minutes.
    Expired,
    /// No such state was ever issued.
    Unknown,
}

/// OAuth `state` values: random, bound to an organization and user, single use, 10 minutes.
#[async_trait]
pub trait OAuthStateStore: Send + Sync {
    /// Issues a new state for `org` and `user`, valid until `now + OAUTH_STATE_TTL`.
    async fn create_oauth_state(
        &self,
        org: &OrganizationId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> DbResult<OAuthState>;
    /// Consumes a state: valid exactly once, before it expires.
    async fn consume_oauth_state(&self, state: &str, now: DateTime<Utc>)
    -> DbResult<StateConsumed>;
}

#[derive(sqlx::FromRow)]
struct StateRow {
    organization_id: String,
    user_id: Uuid,
}

#[derive(sqlx::FromRow)]
struct StateStatusRow {
    expires_at: i64,
    consumed_at: Option<i64>,
}

#[async_trait]
impl OAuthStateStore for SqlStore {
    async fn create_oauth_state(
        &self,
        org: &OrganizationId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> DbResult<OAuthState> {
        let state = random_token_text()?;
        let expires_at = now + OAUTH_STATE_TTL;
        let (created, expires) = (ns(now)?, ns(expires_at)?);
        with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "INSERT INTO oauth_states (state_hash, organization_id, user_id, created_at,
                 expires_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&TokenHash::of(&state).as_bytes()[..])
            .bind(org.as_str())
            .bind(user.0)
            .bind(created)
            .bind(expires)
            .execute(pool)
            .await
            .map_err(foreign_key_is_not_found)?;
        });
        Ok(OAuthState {
            state: SecretString::new(state),
            organization: org.clone(),
            user,
            expires_at: from_ns(expires),
        })
    }

    async fn consume_oauth_state(
        &self,
        state: &str,
        now: DateTime<Utc>,
    ) -> DbResult<StateConsumed> {
        let hash = TokenHash::of(state);
        let now_ns = ns(now)?;
        let consumed: Option<StateRow> = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query_as(
                "UPDATE oauth_states SET consumed_at = $2
                 WHERE state_hash = $1 AND consumed_at IS NULL AND expires_at > $2
                 RETURNING organization_id, user_id",
            )
            .bind(&hash.as_bytes()[..])
            .bind(now_ns)
            .fetch_optional(pool)
            .await?
        });
        if let Some(row) = consumed {
            return Ok(StateConsumed::Valid {
                organization: OrganizationId::parse(&row.organization_id)
                    .map_err(DbError::corrupt)?,
                user: UserId(row.user_id),
            });
        }
        let status: Option<StateStatusRow> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT expires_at, consumed_at FROM oauth_states WHERE state_hash = $1")
                .bind(&hash.as_bytes()[..])
                .fetch_optional(pool)
                .await?
        });
        Ok(match status {
            None => StateConsumed::Unknown,
            Some(s) if s.consumed_at.is_some() => StateConsumed::AlreadyUsed,
            Some(s) if s.expires_at <= now_ns => StateConsumed::Expired,
            // Consumed by a concurrent callback between the two statements.
            Some(_) => StateConsumed::AlreadyUsed,
        })
    }
}
