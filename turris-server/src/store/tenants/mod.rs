//! Organizations, roles, users and API tokens.
mod principals;
mod tokens;

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use turris_core::ids::OrganizationId;
use turris_core::permissions::{Grant, Role, SubscriptionState};
use uuid::Uuid;

use super::error::{DbError, DbResult, foreign_key_is_not_found};
use super::sql::{Dialect, SqlStore, from_ns, ns, with_pool, wrote};
use crate::crypto::TokenHash;
pub(crate) use principals::PrincipalCache;
use serde::{Deserialize, Serialize};
pub use tokens::{ApiTokenInfo, NewApiToken, Principal};
use tokens::{LAST_USED_RESOLUTION, PrincipalRow, TOKEN_COLUMNS, TokenRow};

use super::*;

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// Its id.
    pub id: OrganizationId,
    /// Display name.
    pub name: String,
    /// Whether it has an active subscription (the premium gate).
    pub subscription: SubscriptionState,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A role of an organization: a name and the permission grants of core's matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRole {
    /// Its id.
    pub id: RoleId,
    /// The name and grants. Names are unique within the organization.
    pub role: Role,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A user of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Email, unique within the organization (compared as given).
    pub email: String,
    /// Display name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A user to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Email.
    pub email: String,
    /// Display name.
    pub name: String,
}

/// Organizations, roles, users and API tokens. Admin operations; the bootstrap admin token
/// comes from config and is never stored.
#[async_trait]
pub trait TenantStore: Send + Sync {
    /// Creates an organization; [`Conflict::Organization`] when the id exists.
    async fn create_organization(
        &self,
        id: &OrganizationId,
        name: &str,
        subscription: SubscriptionState,
        now: DateTime<Utc>,
    ) -> DbResult<Organization>;
    /// One organization.
    async fn organization(&self, id: &OrganizationId) -> DbResult<Option<Organization>>;
    /// Every organization, by id.
    async fn list_organizations(&self) -> DbResult<Vec<Organization>>;
    /// Turns the subscription on or off; [`DbError::NotFound`] for an unknown organization.
    async fn set_subscription(
        &self,
        id: &OrganizationId,
        subscription: SubscriptionState,
    ) -> DbResult<()>;

    /// Creates a role; [`Conflict::RoleName`] when the name is taken, [`DbError::NotFound`]
    /// for an unknown organization.
    async fn create_role(
        &self,
        org: &OrganizationId,
        role: &Role,
        now: DateTime<Utc>,
    ) -> DbResult<StoredRole>;
    /// One role.
    async fn role(&self, org: &OrganizationId, id: RoleId) -> DbResult<Option<StoredRole>>;
    /// The organization's roles, by name.
    async fn list_roles(&self, org: &OrganizationId) -> DbResult<Vec<StoredRole>>;

    /// Creates a user; [`Conflict::UserEmail`] when the email is taken, [`DbError::NotFound`]
    /// for an unknown organization.
    async fn create_user(
        &self,
        org: &OrganizationId,
        user: &NewUser,
        now: DateTime<Utc>,
    ) -> DbResult<User>;
    /// One user.
    async fn user(&self, org: &OrganizationId, id: UserId) -> DbResult<Option<User>>;
    /// The organization's users, by email.
    async fn list_users(&self, org: &OrganizationId) -> DbResult<Vec<User>>;

    /// Stores a token's hash; [`DbError::NotFound`] when the user or role is not in `org`.
    async fn create_api_token(
        &self,
        org: &OrganizationId,
        token: &NewApiToken,
        now: DateTime<Utc>,
    ) -> DbResult<ApiTokenInfo>;
    /// The principal of a live (neither revoked nor expired at `now`) token with this hash, and
    /// notes the use.
    async fn authenticate(
        &self,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> DbResult<Option<Principal>>;
    /// The organization's tokens, newest first.
    async fn list_api_tokens(&self, org: &OrganizationId) -> DbResult<Vec<ApiTokenInfo>>;
    /// Revokes a token; `false` when unknown or already revoked.
    async fn revoke_api_token(
        &self,
        org: &OrganizationId,
        id: ApiTokenId,
        now: DateTime<Utc>,
    ) -> DbResult<bool>;
}

#[derive(sqlx::FromRow)]
pub(super) struct OrganizationRow {
    id: String,
    name: String,
    subscription_active: bool,
    created_at: i64,
}

impl OrganizationRow {
    pub(super) fn organization(self) -> DbResult<Organization> {
        Ok(Organization {
            id: OrganizationId::parse(&self.id).map_err(DbError::corrupt)?,
            name: self.name,
            subscription: if self.subscription_active {
                SubscriptionState::Active
            } else {
                SubscriptionState::Inactive
            },
            created_at: from_ns(self.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct RoleRow {
    id: Uuid,
    name: String,
    grants: String,
    created_at: i64,
}

impl RoleRow {
    pub(super) fn role(self) -> DbResult<StoredRole> {
        let grants: BTreeSet<Grant> = serde_json::from_str(&self.grants)?;
        Ok(StoredRole {
            id: RoleId(self.id),
            role: Role {
                name: self.name,
                grants,
            },
            created_at: from_ns(self.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    email: String,
    name: String,
    created_at: i64,
}

impl UserRow {
    fn user(self) -> User {
        User {
            id: UserId(self.id),
            email: self.email,
            name: self.name,
            created_at: from_ns(self.created_at),
        }
    }
}

#[async_trait]
impl TenantStore for SqlStore {
    async fn create_organization(
        &self,
        id: &OrganizationId,
        name: &str,
        subscription: SubscriptionState,
        now: DateTime<Utc>,
    ) -> DbResult<Organization> {
        let created = ns(now)?;
        with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "INSERT INTO organizations (id, name, subscription_active, created_at)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id.as_str())
            .bind(name)
            .bind(subscription == SubscriptionState::Active)
            .bind(created)
            .execute(pool)
            .await?;
        });
        Ok(Organization {
            id: id.clone(),
            name: name.to_owned(),
            subscription,
            created_at: from_ns(created),
        })
    }

    async fn organization(&self, id: &OrganizationId) -> DbResult<Option<Organization>> {
        let row: Option<OrganizationRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, subscription_active, created_at FROM organizations WHERE id = $1",
            )
            .bind(id.as_str())
            .fetch_optional(pool)
            .await?
        });
        row.map(OrganizationRow::organization).transpose()
    }

    async fn list_organizations(&self) -> DbResult<Vec<Organization>> {
        let rows: Vec<OrganizationRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, subscription_active, created_at FROM organizations ORDER BY id",
            )
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(OrganizationRow::organization)
            .collect()
    }

    async fn set_subscription(
        &self,
        id: &OrganizationId,
        subscription: SubscriptionState,
    ) -> DbResult<()> {
        let updated = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query("UPDATE organizations SET subscription_active = $2 WHERE id = $1")
                .bind(id.as_str())
                .bind(subscription == SubscriptionState::Active)
                .execute(pool)
                .await?
                .rows_affected()
        });
        self.principals().forget_all();
        wrote(updated, DbError::NotFound)
    }

    async fn create_role(
        &self,
        org: &OrganizationId,
        role: &Role,
        now: DateTime<Utc>,
    ) -> DbResult<StoredRole> {
        let id = RoleId::new();
        let created = ns(now)?;
        let grants = serde_json::to_string(&role.grants)?;
        with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "INSERT INTO roles (id, organization_id, name, grants, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id.0)
            .bind(org.as_str())
            .bind(&role.name)
            .bind(&grants)
            .bind(created)
            .execute(pool)
            .await
            .map_err(foreign_key_is_not_found)?;
        });
        Ok(StoredRole {
            id,
            role: role.clone(),
            created_at: from_ns(created),
        })
    }

    async fn role(&self, org: &OrganizationId, id: RoleId) -> DbResult<Option<StoredRole>> {
        let row: Option<RoleRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, grants, created_at FROM roles
                 WHERE organization_id = $1 AND id = $2",
            )
            .bind(org.as_str())
            .bind(id.0)
            .fetch_optional(pool)
            .await?
        });
        row.map(RoleRow::role).transpose()
    }

    async fn list_roles(&self, org: &OrganizationId) -> DbResult<Vec<StoredRole>> {
        let rows: Vec<RoleRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, grants, created_at FROM roles WHERE organization_id = $1
                 ORDER BY name",
            )
            .bind(org.as_str())
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(RoleRow::role).collect()
    }

    async fn create_user(
        &self,
        org: &OrganizationId,
        user: &NewUser,
        now: DateTime<Utc>,
    ) -> DbResult<User> {
        let id = UserId::new();
        let created = ns(now)?;
        with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "INSERT INTO users (id, organization_id, email, name, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id.0)
            .bind(org.as_str())
            .bind(&user.email)
            .bind(&user.name)
            .bind(created)
            .execute(pool)
            .await
            .map_err(foreign_key_is_not_found)?;
        });
        Ok(User {
            id,
            email: user.email.clone(),
            name: user.name.clone(),
            created_at: from_ns(created),
        })
    }

    async fn user(&self, org: &OrganizationId, id: UserId) -> DbResult<Option<User>> {
        let row: Option<UserRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, email, name, created_at FROM users WHERE organization_id = $1 AND id = $2",
            )
            .bind(org.as_str())
            .bind(id.0)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(UserRow::user))
    }

    async fn list_users(&self, org: &OrganizationId) -> DbResult<Vec<User>> {
        let rows: Vec<UserRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, email, name, created_at FROM users WHERE organization_id = $1
                 ORDER BY email",
            )
            .bind(org.as_str())
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(UserRow::user).collect())
    }

    async fn create_api_token(
        &self,
        org: &OrganizationId,
        token: &NewApiToken,
        now: DateTime<Utc>,
    ) -> DbResult<ApiTokenInfo> {
        let id = ApiTokenId::new();
        let created = ns(now)?;
        let expires = token.expires_at.map(ns).transpose()?;
        // The user and the role must belong to the organization: insert only when they do.
        let inserted = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "INSERT INTO api_tokens (id, organization_id, user_id, role_id, label, token_hash,
                 created_at, expires_at)
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8
                 WHERE EXISTS (SELECT 1 FROM users WHERE organization_id = $2 AND id = $3)
                   AND EXISTS (SELECT 1 FROM roles WHERE organization_id = $2 AND id = $4)",
            )
            .bind(id.0)
            .bind(org.as_str())
            .bind(token.user.0)
            .bind(token.role.0)
            .bind(&token.label)
            .bind(&token.hash.as_bytes()[..])
            .bind(created)
            .bind(expires)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if inserted == 0 {
            return Err(DbError::NotFound);
        }
        Ok(ApiTokenInfo {
            id,
            user: token.user,
            role: token.role,
            label: token.label.clone(),
            created_at: from_ns(created),
            last_used_at: None,
            revoked_at: None,
            expires_at: expires.map(from_ns),
        })
    }

    async fn authenticate(
        &self,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> DbResult<Option<Principal>> {
        if let Some(principal) = self.principals().get(hash, now) {
            return Ok(Some(principal));
        }
        let generation = self.principals().generation();
        let row: Option<PrincipalRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT t.id, t.user_id, t.role_id, t.label, t.created_at, t.last_used_at,
                        t.expires_at, t.token_hash, o.id AS org_id, o.name AS org_name, o.subscription_active,
                        o.created_at AS org_created_at, u.email, u.name AS user_name,
                        u.created_at AS user_created_at, r.name AS role_name, r.grants,
                        r.created_at AS role_created_at
                 FROM api_tokens t
                 JOIN organizations o ON o.id = t.organization_id
                 JOIN users u ON u.id = t.user_id AND u.organization_id = t.organization_id
                 JOIN roles r ON r.id = t.role_id AND r.organization_id = t.organization_id
                 WHERE t.token_hash = $1 AND t.revoked_at IS NULL
                   AND (t.expires_at IS NULL OR t.expires_at > $2)",
            )
            .bind(&hash.as_bytes()[..])
            .bind(ns(now)?)
            .fetch_optional(pool)
            .await?
        });
        // The index found the row by digest; compare again in constant time.
        let Some(row) = row.filter(|r| TokenHash::from_slice(&r.token_hash) == Some(*hash)) else {
            return Ok(None);
        };
        let mut last_used_at = row.last_used_at.map(from_ns);
        if last_used_at.is_none_or(|at| now - at >= LAST_USED_RESOLUTION) {
            let used = ns(now)?;
            with_pool!(self, |pool| {
                let _turn = pool.turn().await;
                sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
                    .bind(row.id)
                    .bind(used)
                    .execute(pool)
                    .await?;
            });
            last_used_at = Some(from_ns(used));
        }
        let principal = row.principal(last_used_at)?;
        self.principals().remember(hash, &principal, generation);
        Ok(Some(principal))
    }

    async fn list_api_tokens(&self, org: &OrganizationId) -> DbResult<Vec<ApiTokenInfo>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE organization_id = $1
             ORDER BY created_at DESC, id DESC"
        );
        let rows: Vec<TokenRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(org.as_str())
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(TokenRow::info).collect())
    }

    async fn revoke_api_token(
        &self,
        org: &OrganizationId,
        id: ApiTokenId,
        now: DateTime<Utc>,
    ) -> DbResult<bool> {
        let revoked = ns(now)?;
        let updated = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "UPDATE api_tokens SET revoked_at = $3
                 WHERE organization_id = $1 AND id = $2 AND revoked_at IS NULL",
            )
            .bind(org.as_str())
            .bind(id.0)
            .bind(revoked)
            .execute(pool)
            .await?
            .rows_affected()
        });
        self.principals().forget_all();
        Ok(updated > 0)
    }
}
