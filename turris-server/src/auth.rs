//! Authentication and permissions.
//!
//! - [`Caller`]: a bearer API token looked up by its SHA-256; it names an organization, a user
//!   and a role. No token or an unknown token is a 401.
//! - [`Authorized<N>`]: a caller whose role grants what `N` needs ([`Need`]: an area and a
//!   capability of core's permission matrix). The premium areas (integrations, webhooks,
//!   records) answer 402 `subscription_required` for an organization without an active subscription,
//!   then 403 when the role lacks the grant.
//! - [`Admin`]: the bootstrap admin token from the config, for `/api/v1/admin/...`.
//!
//! Every handler takes the organization from the caller, never from the request, so another
//! organization's ids are simply not found (404).

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use chrono::Utc;
use turris_core::ids::OrganizationId;
use turris_core::permissions::{Area, Capability, Grant, Role, SubscriptionState};

use crate::app::AppState;
use crate::crypto::{ApiToken, TokenHash};
use crate::error::ApiError;
use crate::store::UserId;

/// The bearer token of a request, if it has one.
pub(crate) fn bearer(parts: &Parts) -> Option<&str> {
    bearer_header(&parts.headers)
}

/// The bearer token of these headers, if they have one.
pub(crate) fn bearer_header(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// An authenticated API caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The caller's organization: every query is scoped to it.
    pub org: OrganizationId,
    /// The user the token belongs to.
    pub user: UserId,
    /// The user's role.
    pub role: Role,
    /// The organization's subscription.
    pub subscription: SubscriptionState,
}

impl Caller {
    /// The caller a token's principal makes.
    pub fn from_principal(principal: crate::store::Principal) -> Self {
        Caller {
            org: principal.organization.id,
            user: principal.user.id,
            role: principal.role.role,
            subscription: principal.organization.subscription,
        }
    }

    /// Whether the role grants `capability` in `area`.
    pub fn allows(&self, area: Area, capability: Capability) -> bool {
        self.role.allows(area, capability)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let token = bearer(parts).ok_or_else(ApiError::unauthorized)?;
        let hash = ApiToken::from_presented(token).hash();
        let principal = state
            .db()
            .authenticate(&hash, Utc::now())
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        let caller = Caller::from_principal(principal);
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

/// What an endpoint needs: one grant of the permission matrix.
pub trait Need: Send + Sync + 'static {
    /// The area.
    const AREA: Area;
    /// The capability.
    const CAPABILITY: Capability;
}

macro_rules! needs {
    ($($(#[$doc:meta])* $name:ident = $area:ident : $cap:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;
        impl Need for $name {
            const AREA: Area = Area::$area;
            const CAPABILITY: Capability = Capability::$cap;
        }
    )*};
}

needs! {
    /// `integrations:read`.
    IntegrationsRead = Integrations: Read;
    /// `integrations:create`.
    IntegrationsCreate = Integrations: Create;
    /// `integrations:update`.
    IntegrationsUpdate = Integrations: Update;
    /// `integrations:delete`.
    IntegrationsDelete = Integrations: Delete;
    /// `webhooks:read`.
    WebhooksRead = Webhooks: Read;
    /// `webhooks:create`.
    WebhooksCreate = Webhooks: Create;
    /// `webhooks:update`.
    WebhooksUpdate = Webhooks: Update;
    /// `webhooks:delete`.
    WebhooksDelete = Webhooks: Delete;
    /// `records:read`.
    RecordsRead = Records: Read;
    /// `records:create`.
    RecordsCreate = Records: Create;
    /// `records:update`.
    RecordsUpdate = Records: Update;
    /// `records:delete`.
    RecordsDelete = Records: Delete;
}

/// A caller allowed to do what `N` needs, in an organization with an active subscription.
#[derive(Debug, Clone)]
pub struct Authorized<N: Need> {
    /// The caller.
    pub caller: Caller,
    _need: PhantomData<N>,
}

impl<N: Need> Authorized<N> {
    /// The premium gate (402), then the grant (403): what every extraction checks. The console
    /// calls it with the session's caller, so pages and the API refuse the same requests.
    pub(crate) fn check(caller: Caller) -> Result<Self, ApiError> {
        caller.subscription.require_premium()?;
        if !caller.allows(N::AREA, N::CAPABILITY) {
            return Err(ApiError::forbidden(Grant::new(N::AREA, N::CAPABILITY)));
        }
        Ok(Self {
            caller,
            _need: PhantomData,
        })
    }

    /// The caller's organization.
    pub fn org(&self) -> &OrganizationId {
        &self.caller.org
    }
}

impl<N: Need> FromRequestParts<AppState> for Authorized<N> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        Self::check(caller)
    }
}

/// The holder of the bootstrap admin token.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(expected) = state.config().admin_token.as_deref() else {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "admin_disabled",
                "admin endpoints are disabled: no admin token is configured",
            ));
        };
        let presented = bearer(parts).ok_or_else(ApiError::unauthorized)?;
        if TokenHash::of(presented) == TokenHash::of(expected) {
            Ok(Admin)
        } else {
            Err(ApiError::unauthorized())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    #[test]
    fn bearer_tokens_are_read_case_insensitively_and_must_be_present() {
        fn check(header: Option<&str>, expected: Option<&str>) {
            let mut request = Request::builder();
            if let Some(h) = header {
                request = request.header(AUTHORIZATION, h);
            }
            let (parts, ()) = request.body(()).unwrap().into_parts();
            assert_eq!(bearer(&parts), expected, "{header:?}");
        }
        check(Some("Bearer trs_abc"), Some("trs_abc"));
        check(Some("bearer trs_abc"), Some("trs_abc"));
        check(Some("Basic dXNlcg=="), None);
        check(Some("Bearer "), None);
        check(Some("Bearer"), None);
        check(None, None);
    }
}
