//! `/api/v1/admin`: organizations (with the subscription flag), roles, users and API tokens,
//! guarded by the bootstrap admin token. A minted token is shown once.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use turris_core::ids::OrganizationId;
use turris_core::permissions::{Grant, Role, SubscriptionState};
use utoipa::ToSchema;

use super::Routes;
use super::extract::{Json, Path};
use crate::app::AppState;
use crate::auth::Admin;
use crate::crypto::ApiToken;
use crate::error::{ApiError, ApiResult, ErrorDetail};
use crate::store::{
    ApiTokenId, ApiTokenInfo, DbError, NewApiToken, NewUser, Organization, RoleId, StoredRole,
    User, UserId,
};

const ORGS: &str = "/api/v1/admin/organizations";

/// The admin routes.
pub fn routes() -> Routes {
    let p = |suffix: &str| format!("{ORGS}{suffix}");
    Routes::new()
        .get(ORGS, list_organizations)
        .post(ORGS, create_organization)
        .get(&p("/{org}"), get_organization)
        .put(&p("/{org}/subscription"), set_subscription)
        .get(&p("/{org}/roles"), list_roles)
        .post(&p("/{org}/roles"), create_role)
        .get(&p("/{org}/users"), list_users)
        .post(&p("/{org}/users"), create_user)
        .get(&p("/{org}/tokens"), list_tokens)
        .post(&p("/{org}/tokens"), create_token)
        .delete(&p("/{org}/tokens/{token_id}"), revoke_token)
}

fn parse_org(text: &str) -> ApiResult<OrganizationId> {
    OrganizationId::parse(text).map_err(|_| ApiError::not_found("organization"))
}

async fn existing_org(state: &AppState, text: &str) -> ApiResult<Organization> {
    let id = parse_org(text)?;
    state
        .db()
        .organization(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))
}

/// An organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationView {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Whether its subscription is active (premium areas answer 402 otherwise).
    pub subscription_active: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl From<Organization> for OrganizationView {
    fn from(o: Organization) -> Self {
        Self {
            id: o.id.to_string(),
            name: o.name,
            subscription_active: o.subscription == SubscriptionState::Active,
            created_at: o.created_at,
        }
    }
}

/// A new organization.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganization {
    /// Its id: 1 to 128 of `A-Z a-z 0-9 - _ .`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Whether the subscription is active (default true).
    #[serde(default = "yes")]
    pub subscription_active: bool,
}

fn yes() -> bool {
    true
}

fn subscription(active: bool) -> SubscriptionState {
    if active {
        SubscriptionState::Active
    } else {
        SubscriptionState::Inactive
    }
}

/// Every organization.
#[utoipa::path(get, path = "/api/v1/admin/organizations", tag = "admin",
    responses((status = 200, body = [OrganizationView]), (status = 401), (status = 403)),
    security(("admin" = [])))]
pub async fn list_organizations(
    State(state): State<AppState>,
    _: Admin,
) -> ApiResult<Json<Vec<OrganizationView>>> {
    let orgs = state.db().list_organizations().await?;
    Ok(Json(orgs.into_iter().map(Into::into).collect()))
}

/// Creates an organization.
#[utoipa::path(post, path = "/api/v1/admin/organizations", tag = "admin",
    request_body = CreateOrganization,
    responses((status = 201, body = OrganizationView), (status = 401), (status = 403),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("admin" = [])))]
pub async fn create_organization(
    State(state): State<AppState>,
    _: Admin,
    Json(body): Json<CreateOrganization>,
) -> ApiResult<impl IntoResponse> {
    let mut errors = Vec::new();
    let id = OrganizationId::parse(&body.id).map_err(|e| errors.push(detail("id", e.to_string())));
    if body.name.trim().is_empty() {
        errors.push(detail("name", "name is required"));
    }
    let (Ok(id), true) = (id, errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    let org = state
        .db()
        .create_organization(
            &id,
            body.name.trim(),
            subscription(body.subscription_active),
            Utc::now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(OrganizationView::from(org))))
}

fn detail(path: &str, message: impl Into<String>) -> ErrorDetail {
    ErrorDetail {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// One organization.
#[utoipa::path(get, path = "/api/v1/admin/organizations/{org}", tag = "admin",
    params(("org" = String, Path)),
    responses((status = 200, body = OrganizationView), (status = 401), (status = 403), (status = 404)),
    security(("admin" = [])))]
pub async fn get_organization(
    State(state): State<AppState>,
    _: Admin,
    Path(org): Path<String>,
) -> ApiResult<Json<OrganizationView>> {
    Ok(Json(existing_org(&state, &org).await?.into()))
}

/// The subscription flag.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSubscription {
    /// Whether the subscription is active.
    pub active: bool,
}

/// Turns the subscription on or off.
#[utoipa::path(put, path = "/api/v1/admin/organizations/{org}/subscription", tag = "admin",
    params(("org" = String, Path)), request_body = SetSubscription,
    responses((status = 200, body = OrganizationView), (status = 401), (status = 403), (status = 404)),
    security(("admin" = [])))]
pub async fn set_subscription(
    State(state): State<AppState>,
    _: Admin,
    Path(org): Path<String>,
    Json(body): Json<SetSubscription>,
) -> ApiResult<Json<OrganizationView>> {
    let id = parse_org(&org)?;
    state
        .db()
        .set_subscription(&id, subscription(body.active))
        .await
        .map_err(|e| match e {
            DbError::NotFound => ApiError::not_found("organization"),
            other => other.into(),
        })?;
    Ok(Json(existing_org(&state, &org).await?.into()))
}

/// A role.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleView {
    /// Its id.
    pub id: RoleId,
    /// Its name.
    pub name: String,
    /// Its grants, `area:capability`.
    pub grants: Vec<String>,
}

impl From<StoredRole> for RoleView {
    fn from(r: StoredRole) -> Self {
        Self {
            id: r.id,
            name: r.role.name,
            grants: r.role.grants.iter().map(Grant::to_string).collect(),
        }
    }
}

/// A new role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRole {
    /// Its name, unique in the organization.
    pub name: String,
    /// Grants such as `integrations:read`, `webhooks:delete`.
    pub grants: Vec<String>,
}

/// The organization's roles.
#[utoipa::path(get, path = "/api/v1/admin/organizations/{org}/roles", tag = "admin",
    params(("org" = String, Path)),
    responses((status = 200, body = [RoleView]), (status = 401), (status = 403), (status = 404)),
    security(("admin" = [])))]
pub async fn list_roles(
    State(state): State<AppState>,
    _: Admin,
    Path(org): Path<String>,
) -> ApiResult<Json<Vec<RoleView>>> {
    let org = existing_org(&state, &org).await?;
    let roles = state.db().list_roles(&org.id).await?;
    Ok(Json(roles.into_iter().map(Into::into).collect()))
}

/// Creates a role.
#[utoipa::path(post, path = "/api/v1/admin/organizations/{org}/roles", tag = "admin",
    params(("org" = String, Path)), request_body = CreateRole,
    responses((status = 201, body = RoleView), (status = 401), (status = 403), (status = 404),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("admin" = [])))]
pub async fn create_role(
    State(state): State<AppState>,
    _: Admin,
    Path(org): Path<String>,
    Json(body): Json<CreateRole>,
) -> ApiResult<impl IntoResponse> {
    let org = existing_org(&state, &org).await?;
    let mut errors = Vec::new();
    if body.name.trim().is_empty() {
        errors.push(detail("name", "name is required"));
    }
    let mut grants = BTreeSet::new();
    for (i, text) in body.grants.iter().enumerate() {
        match text.parse::<Grant>() {
            Ok(g) => {
                grants.insert(g);
            }
            Err(e) => errors.push(detail(&format!("grants[{i}]"), e.to_string())),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let role = Role {
        name: body.name.trim().to_owned(),
        grants,
    };
    let stored = state.db().create_role(&org.id, &role, Utc::now()).await?;
    Ok((StatusCode::CREATED, Json(RoleView::from(stored))))
}

/// A user.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// Its id.
    pub id: UserId,
    /// Email.
    pub email: String,
    /// Name.
    pub name: String,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            email: u.email,
            name: u.name,
        }
    }
}

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Email, unique in the organization.
    pub email: String,
    /// Display name.
    pub name: String,
}

/// The organization's users.
#[utoipa::path(get, path = "/api/v1/admin/organizations/{org}/users", tag = "admin",
    params(("org" = String, Path)),
    responses((status = 200, body = [UserView]), (status = 401), (status = 403), (status = 404)),
    security(("admin" = [])))]
pub async fn list_users(
    State(state): State<AppState>,
    _: Admin,
    Path(org): Path<String>,
) -> ApiResult<Json<Vec<UserView>>> {
    let org = existing_org(&state, &org).await?;
    let users = state.db().list_users(&org.id).await?;
    Ok(Json(users.into_iter().map(Into::into).collect()))
}

/// Creates a user.
#[utoipa::path(post, path = "/api/v1/admin/organizations/{org}/users", tag = "admin",
    params(("org" = String, Path)), request_body = CreateUser,
    responses((status = 201, body = UserView), (status = 401), (status = 403), (status = 404),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("admin" = [])))]
pub async fn create_user(
    State(state): State<AppState>,
    _: Admin,
    Path(org): Path<String>,
    Json(body): Json<CreateUser>,
) -> ApiResult<impl IntoResponse> {
    let org = existing_org(&state, &org).await?;
    let mut errors = Vec::new();
    let email = body.email.trim();
    if !turris_core::record::Email::is_valid(email) {
        errors.push(detail(
            "email",
            "email must be an address like ada@example.com",
        ));
    }
    if body.name.trim().is_empty() {
        errors.push(detail("name", "name is required"));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let user = state
        .db()
        .create_user(
            &org.id,
            &NewUser {
                email: email.to_owned(),
                name: body.name.trim().to_owned(),
            },
            Utc::now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(UserView::from(user))))
}

/// An API token, without its value.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    /// Its id.
    pub id: ApiTokenId,
    /// The user it acts as.
    pub user_id: UserId,
    /// The role it is granted.
    pub role_id: RoleId,
    /// Its label.
    pub label: String,
    /// When it was minted.
    pub created_at: DateTime<Utc>,
    /// When it was last used.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it expires (`null`: never); an expired token answers 401.
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<ApiTokenInfo> for TokenView {
    fn from(t: ApiTokenInfo) -> Self {
        Self {
            id: t.id,
            user_id: t.user,
            role_id: t.role,
            label: t.label,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
            expires_at: t.expires_at,
        }
    }
}

/// A new token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// The user it acts as.
    pub user_id: UserId,
    /// The role it is granted.
    pub role_id: RoleId,
    /// A label ("CI", "Zapier").
    #[serde(default)]
    pub label: String,
    /// When the token stops working (RFC 3339, in the future); omitted, it never expires.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A minted token: the value is shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    /// The token.
    #[serde(flatten)]
    pub info: TokenView,
    /// The bearer token. Store it now: it is never shown again.
    pub token: String,
}

/// The organization's tokens (never their values).
#[utoipa::path(get, path = "/api/v1/admin/organizations/{org}/tokens", tag = "admin",
    params(("org" = String, Path)),
    responses((status = 200, body = [TokenView]), (status = 401), (status = 403), (status = 404)),
    security(("admin" = [])))]
pub async fn list_tokens(
    State(state): State<AppState>,
    _: Admin,
    Path(org): Path<String>,
) -> ApiResult<Json<Vec<TokenView>>> {
    let org = existing_org(&state, &org).await?;
    let tokens = state.db().list_api_tokens(&org.id).await?;
    Ok(Json(tokens.into_iter().map(Into::into).collect()))
}

/// Mints a token for a user and a role of the organization.
#[utoipa::path(post, path = "/api/v1/admin/organizations/{org}/tokens", tag = "admin",
    params(("org" = String, Path)), request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 401), (status = 403), (status = 404),
        (status = 422, description = "Unknown user or role", body = crate::error::ErrorBody)),
    security(("admin" = [])))]
pub async fn create_token(
    State(state): State<AppState>,
    _: Admin,
    Path(org): Path<String>,
    Json(body): Json<CreateToken>,
) -> ApiResult<impl IntoResponse> {
    let org = existing_org(&state, &org).await?;
    let mut errors = Vec::new();
    if state.db().user(&org.id, body.user_id).await?.is_none() {
        errors.push(detail("user_id", "no such user in this organization"));
    }
    if state.db().role(&org.id, body.role_id).await?.is_none() {
        errors.push(detail("role_id", "no such role in this organization"));
    }
    let now = Utc::now();
    if body.expires_at.is_some_and(|at| at <= now) {
        errors.push(detail("expires_at", "must be in the future"));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let token = ApiToken::generate().map_err(|e| ApiError::internal("minting a token", &e))?;
    let info = state
        .db()
        .create_api_token(
            &org.id,
            &NewApiToken {
                hash: token.hash(),
                user: body.user_id,
                role: body.role_id,
                label: body.label,
                expires_at: body.expires_at,
            },
            now,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            info: info.into(),
            token: token.expose().to_owned(),
        }),
    ))
}

/// Revokes a token.
#[utoipa::path(delete, path = "/api/v1/admin/organizations/{org}/tokens/{token_id}", tag = "admin",
    params(("org" = String, Path), ("token_id" = String, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)),
    security(("admin" = [])))]
pub async fn revoke_token(
    State(state): State<AppState>,
    _: Admin,
    Path((org, token_id)): Path<(String, ApiTokenId)>,
) -> ApiResult<StatusCode> {
    let org = existing_org(&state, &org).await?;
    if state
        .db()
        .revoke_api_token(&org.id, token_id, Utc::now())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("token"))
    }
}
