//! API tokens: what is stored (only a hash), what lists show, and who a valid token is.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Organization, OrganizationRow, RoleRow, StoredRole, User};
use crate::crypto::TokenHash;
use crate::store::error::DbResult;
use crate::store::sql::from_ns;
use crate::store::{ApiTokenId, RoleId, UserId};

/// An API token to store: only its hash is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    /// The SHA-256 of the token text (`ApiToken::hash`).
    pub hash: TokenHash,
    /// The user it acts as (same organization).
    pub user: UserId,
    /// The role it is granted (same organization).
    pub role: RoleId,
    /// A label for lists ("CI", "Zapier").
    pub label: String,
    /// When it stops authenticating; `None` for never.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A stored API token, without any secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenInfo {
    /// Its id.
    pub id: ApiTokenId,
    /// The user it acts as.
    pub user: UserId,
    /// The role it is granted.
    pub role: RoleId,
    /// Its label.
    pub label: String,
    /// When it was minted.
    pub created_at: DateTime<Utc>,
    /// When it last authenticated a request (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; revoked tokens never authenticate.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it expires; expired tokens never authenticate.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Who a valid token is: everything the auth middleware needs, in one lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token.
    pub token: ApiTokenInfo,
    /// Its organization (with the subscription state for the premium gate).
    pub organization: Organization,
    /// Its user.
    pub user: User,
    /// Its role.
    pub role: StoredRole,
}

/// `last_used_at` is written at most this often per token, so authentication is a read.
pub(super) const LAST_USED_RESOLUTION: chrono::Duration = chrono::Duration::minutes(1);

#[derive(sqlx::FromRow)]
pub(super) struct TokenRow {
    id: Uuid,
    user_id: Uuid,
    role_id: Uuid,
    label: String,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
    expires_at: Option<i64>,
}

impl TokenRow {
    pub(super) fn info(self) -> ApiTokenInfo {
        ApiTokenInfo {
            id: ApiTokenId(self.id),
            user: UserId(self.user_id),
            role: RoleId(self.role_id),
            label: self.label,
            created_at: from_ns(self.created_at),
            last_used_at: self.last_used_at.map(from_ns),
            revoked_at: self.revoked_at.map(from_ns),
            expires_at: self.expires_at.map(from_ns),
        }
    }
}

pub(super) const TOKEN_COLUMNS: &str =
    "id, user_id, role_id, label, created_at, last_used_at, revoked_at, expires_at";

#[derive(sqlx::FromRow)]
pub(super) struct PrincipalRow {
    pub(super) id: Uuid,
    user_id: Uuid,
    role_id: Uuid,
    label: String,
    created_at: i64,
    pub(super) last_used_at: Option<i64>,
    expires_at: Option<i64>,
    pub(super) token_hash: Vec<u8>,
    org_id: String,
    org_name: String,
    subscription_active: bool,
    org_created_at: i64,
    email: String,
    user_name: String,
    user_created_at: i64,
    role_name: String,
    grants: String,
    role_created_at: i64,
}

impl PrincipalRow {
    /// The principal this joined row describes, its token last used at `last_used_at`.
    pub(super) fn principal(self, last_used_at: Option<DateTime<Utc>>) -> DbResult<Principal> {
        let organization = OrganizationRow {
            id: self.org_id,
            name: self.org_name,
            subscription_active: self.subscription_active,
            created_at: self.org_created_at,
        }
        .organization()?;
        let role = RoleRow {
            id: self.role_id,
            name: self.role_name,
            grants: self.grants,
            created_at: self.role_created_at,
        }
        .role()?;
        Ok(Principal {
            token: ApiTokenInfo {
                id: ApiTokenId(self.id),
                user: UserId(self.user_id),
                role: RoleId(self.role_id),
                label: self.label,
                created_at: from_ns(self.created_at),
                last_used_at,
                revoked_at: None,
                expires_at: self.expires_at.map(from_ns),
            },
            organization,
            user: User {
                id: UserId(self.user_id),
                email: self.email,
                name: self.user_name,
                created_at: from_ns(self.user_created_at),
            },
            role,
        })
    }
}
