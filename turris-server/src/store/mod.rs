//! Storage on sqlx: SQLite by default, PostgreSQL for several replicas.
//!
//! [`SqlStore`] implements every storage trait the server needs, on either backend:
//! turris-core's [`Store`](turris_core::store::Store) (settings, links, activity, records),
//! turris-webhooks' [`DeliveryStore`], and the server's own traits defined here. The server
//! holds it as `Arc<dyn ServerStore>`.
//!
//! Rules every method follows:
//! - every tenant-scoped method takes the organization id; another organization's ids are
//!   simply not found ([`DbError::NotFound`] or `None`);
//! - tokens, OAuth tokens and webhook secrets are encrypted (AES-256-GCM) or hashed before
//!   they reach the database, and types holding them have a redacted `Debug`;
//! - a broken uniqueness rule is a typed [`DbError::Conflict`], mapped in one place
//!   ([`error::constraint_conflict`]);
//! - changes that produce outbound webhooks (NIPR results, producer agreements, compliance
//!   status changes) write the outbox rows in the same transaction as the change.
//!
//! How the two backends share code is described in [`sql`].

mod activity;
mod credentials;
mod debounce;
mod delivery;
mod echo;
pub mod error;
mod ids;
mod inbound;
mod inputs;
mod jobs;
mod links;
mod oauth;
mod outbound;
mod records;
mod retention;
mod settings;
pub mod sql;
mod tenants;
mod webhooks;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use turris_core::ids::{AgencyId, AgentId, ContractTemplateId, HubSpotId, OrganizationId};
use turris_core::permissions::{Role, SubscriptionState};
use turris_core::planner::RecentWrite;
use turris_core::record::{Agency, AgencyContact, Agent, StateCode};
use turris_core::store::TurrisRef;
use turris_hubspot::webhooks::WebhookEvent;
use turris_webhooks::delivery::{DeliveryStore, EventId, WebhookId};
use turris_webhooks::{
    AgreementSigner, ComplianceStatus, DebouncerState, EntityType, StatusChangeEvent, SyncKind,
    SyncOutcome, WebhookSecret, WebhookType,
};

use crate::crypto::{SecretString, TokenHash};

pub use error::{Conflict, DbError, DbResult, ResultExt};
pub use ids::{
    AgreementId, ApiTokenId, InboundEventId, InvitationId, JobId, NiprSyncId, OutboundPushId,
    RoleId, UserId,
};
pub use sql::{Backend, Database, SqlStore};

/// How long an OAuth `state` is valid.
pub const OAUTH_STATE_TTL: chrono::Duration = chrono::Duration::minutes(10);

// ---------------------------------------------------------------------------------------------
// Organizations, roles, users and API tokens
// ---------------------------------------------------------------------------------------------

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
    /// The principal of a live (not revoked) token with this hash, and notes the use.
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

// ---------------------------------------------------------------------------------------------
// OAuth state
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// HubSpot credentials
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Webhook endpoints
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Turris-side inputs of the records API, and the outbox
// ---------------------------------------------------------------------------------------------

/// An outbound webhook event written in the same transaction as the change that caused it: the
/// store writes one delivery event (a fresh [`EventId`], due at `created_at`) for every
/// webhook of `webhook_type` in the organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    /// The type; webhooks of this type receive it.
    pub webhook_type: WebhookType,
    /// The serialized envelope (`Envelope::to_bytes`), sent unchanged on every attempt.
    pub body: Vec<u8>,
    /// Creation time: the first attempt is due then.
    pub created_at: DateTime<Utc>,
}

/// A delivery event the outbox wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    /// The event id.
    pub event_id: EventId,
    /// The endpoint it goes to.
    pub webhook_id: WebhookId,
}

/// A contract (producer agreement) template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractTemplate {
    /// Its id (what invitation rules name).
    pub id: ContractTemplateId,
    /// Display name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    /// Sent to the agency's contact.
    Sent,
    /// Waiting for an agency contact with an email.
    Deferred,
    /// No contract rule matched and there is no default: a person must pick the contract.
    NeedsAttention,
}

/// An agency invitation (created by inbound sync).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// Its id.
    pub id: InvitationId,
    /// The invited agency.
    pub agency_id: AgencyId,
    /// The contract, when chosen.
    pub contract_template_id: Option<ContractTemplateId>,
    /// Status.
    pub status: InvitationStatus,
    /// The contact email it was sent to, once sent.
    pub sent_to: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its status last changed.
    pub updated_at: DateTime<Utc>,
}

/// An agency or an agent: what compliance and NIPR results are about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "entityType", content = "entityId", rename_all = "snake_case")]
pub enum ComplianceEntity {
    /// An agency.
    Agency(AgencyId),
    /// An agent.
    Agent(AgentId),
}

impl ComplianceEntity {
    /// Agency or agent.
    pub fn entity_type(&self) -> EntityType {
        match self {
            ComplianceEntity::Agency(_) => EntityType::Agency,
            ComplianceEntity::Agent(_) => EntityType::Agent,
        }
    }

    /// The id as text.
    pub fn id(&self) -> &str {
        match self {
            ComplianceEntity::Agency(id) => id.as_str(),
            ComplianceEntity::Agent(id) => id.as_str(),
        }
    }
}

/// A compliance status to set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplianceUpdate {
    /// Agency or agent.
    pub entity: ComplianceEntity,
    /// Product.
    pub product: String,
    /// US state.
    pub state: StateCode,
    /// New status.
    pub status: ComplianceStatus,
}

/// A stored compliance status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplianceRecord {
    /// Agency or agent.
    pub entity: ComplianceEntity,
    /// Product.
    pub product: String,
    /// US state.
    pub state: StateCode,
    /// Status.
    pub status: ComplianceStatus,
    /// When it was last set.
    pub updated_at: DateTime<Utc>,
}

/// What one update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplianceTransition {
    /// The status now stored.
    pub record: ComplianceRecord,
    /// The status before; `None` when the pair had none.
    pub previous: Option<ComplianceStatus>,
    /// Whether the status really changed (a first status of `pending` is no change).
    pub changed: bool,
}

/// A NIPR fetch or full refresh that reached a terminal state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NiprSyncResult {
    /// Its id.
    pub id: NiprSyncId,
    /// Agency or agent.
    pub entity: ComplianceEntity,
    /// Fetch or full refresh.
    pub kind: SyncKind,
    /// Success or error.
    pub outcome: SyncOutcome,
    /// The error, on failure.
    pub error: Option<String>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
}

/// An executed producer agreement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerAgreement {
    /// Its id.
    pub id: AgreementId,
    /// The agency that signed.
    pub agency_id: AgencyId,
    /// The contract template signed.
    pub contract_template_id: ContractTemplateId,
    /// When it was executed.
    pub executed_at: DateTime<Utc>,
    /// Who signed.
    pub signers: Vec<AgreementSigner>,
}

/// The Turris-side inputs of the records API: contract templates, invitations, compliance
/// statuses, NIPR results and producer agreements, plus record listings. Writes that produce
/// webhooks take the outbox rows and write them in the same transaction.
#[async_trait]
pub trait TurrisInputStore: Send + Sync {
    /// Lists agencies by ascending id, after `after`, at most `limit` (clamped to 1..=100).
    async fn list_agencies(
        &self,
        org: &OrganizationId,
        after: Option<&AgencyId>,
        limit: usize,
    ) -> DbResult<Vec<Agency>>;
    /// Lists agents by ascending id, after `after`, at most `limit` (clamped to 1..=100).
    async fn list_agents(
        &self,
        org: &OrganizationId,
        after: Option<&AgentId>,
        limit: usize,
    ) -> DbResult<Vec<Agent>>;

    /// Creates a template; [`Conflict::ContractTemplate`] when the id exists.
    async fn create_contract_template(
        &self,
        org: &OrganizationId,
        id: &ContractTemplateId,
        name: &str,
        now: DateTime<Utc>,
    ) -> DbResult<ContractTemplate>;
    /// One template.
    async fn contract_template(
        &self,
        org: &OrganizationId,
        id: &ContractTemplateId,
    ) -> DbResult<Option<ContractTemplate>>;
    /// Every template, by id.
    async fn list_contract_templates(
        &self,
        org: &OrganizationId,
    ) -> DbResult<Vec<ContractTemplate>>;

    /// Stores an invitation; [`DbError::NotFound`] when the agency (or a named template) is
    /// not in `org`.
    async fn create_invitation(
        &self,
        org: &OrganizationId,
        invitation: &Invitation,
    ) -> DbResult<()>;
    /// Changes an invitation's status (and where it was sent); [`DbError::NotFound`] if
    /// unknown.
    async fn set_invitation_status(
        &self,
        org: &OrganizationId,
        id: InvitationId,
        status: InvitationStatus,
        sent_to: Option<&str>,
        now: DateTime<Utc>,
    ) -> DbResult<()>;
    /// One invitation.
    async fn invitation(
        &self,
        org: &OrganizationId,
        id: InvitationId,
    ) -> DbResult<Option<Invitation>>;
    /// Invitations, newest first; only one agency's when `agency` is given.
    async fn list_invitations(
        &self,
        org: &OrganizationId,
        agency: Option<&AgencyId>,
    ) -> DbResult<Vec<Invitation>>;

    /// Sets compliance statuses in one transaction. Every entity must exist in `org`
    /// ([`DbError::NotFound`], nothing written). Each real change is also written, in the same
    /// transaction, as a [`StatusChangeEvent`] to the debounce inbox of its type (see
    /// [`DebounceStore`]); a first status counts as a change from `pending`.
    async fn set_compliance_statuses(
        &self,
        org: &OrganizationId,
        updates: &[ComplianceUpdate],
        now: DateTime<Utc>,
    ) -> DbResult<Vec<ComplianceTransition>>;
    /// An entity's statuses, by product then state.
    async fn compliance_statuses(
        &self,
        org: &OrganizationId,
        entity: &ComplianceEntity,
    ) -> DbResult<Vec<ComplianceRecord>>;

    /// Stores a NIPR result and its outbox events in one transaction; [`DbError::NotFound`]
    /// when the entity is not in `org`.
    async fn record_nipr_sync(
        &self,
        org: &OrganizationId,
        result: &NiprSyncResult,
        outbox: &[OutboxEvent],
    ) -> DbResult<Vec<Enqueued>>;
    /// An entity's NIPR results, newest first.
    async fn list_nipr_syncs(
        &self,
        org: &OrganizationId,
        entity: &ComplianceEntity,
    ) -> DbResult<Vec<NiprSyncResult>>;

    /// Stores an executed agreement and its outbox events in one transaction;
    /// [`DbError::NotFound`] when the agency or template is not in `org`.
    async fn record_producer_agreement(
        &self,
        org: &OrganizationId,
        agreement: &ProducerAgreement,
        outbox: &[OutboxEvent],
    ) -> DbResult<Vec<Enqueued>>;
    /// One agreement.
    async fn producer_agreement(
        &self,
        org: &OrganizationId,
        id: AgreementId,
    ) -> DbResult<Option<ProducerAgreement>>;
    /// Agreements, newest first; only one agency's when `agency` is given.
    async fn list_producer_agreements(
        &self,
        org: &OrganizationId,
        agency: Option<&AgencyId>,
    ) -> DbResult<Vec<ProducerAgreement>>;

    /// Writes outbox events alone (for changes with no row of their own, e.g. a flushed
    /// debounce window): one delivery event per webhook of the type.
    async fn enqueue_outbox(
        &self,
        org: &OrganizationId,
        outbox: &[OutboxEvent],
    ) -> DbResult<Vec<Enqueued>>;
}

// ---------------------------------------------------------------------------------------------
// Inbound HubSpot events
// ---------------------------------------------------------------------------------------------

/// What persisting a batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InboundBatch {
    /// Newly stored events.
    pub stored: usize,
    /// Events already stored (HubSpot redelivers), ignored.
    pub duplicates: usize,
}

/// An inbound event handed to a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedInboundEvent {
    /// Its id in the store.
    pub id: InboundEventId,
    /// The organization it was routed to.
    pub organization: OrganizationId,
    /// The event as HubSpot sent it.
    pub event: WebhookEvent,
    /// When it was received.
    pub received_at: DateTime<Utc>,
    /// Processing attempts before this one.
    pub attempts: u32,
    /// The claim expires then; mark the event before.
    pub claimed_until: DateTime<Utc>,
}

/// Inbound HubSpot webhook events: persisted before acknowledging, deduplicated on
/// (event id, object id, occurredAt, subscription type, property name) per organization,
/// then claimed by workers.
#[async_trait]
pub trait InboundEventStore: Send + Sync {
    /// Persists a batch for `org` in one transaction, skipping events already stored.
    async fn persist_inbound_events(
        &self,
        org: &OrganizationId,
        events: &[WebhookEvent],
        received_at: DateTime<Utc>,
    ) -> DbResult<InboundBatch>;
    /// Claims up to `limit` unprocessed events that are due (oldest first) for `claim_for`;
    /// a claimed event is not handed out again until the claim expires.
    async fn claim_inbound_events(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        claim_for: Duration,
    ) -> DbResult<Vec<ClaimedInboundEvent>>;
    /// Marks events processed: never claimed again.
    async fn mark_inbound_processed(
        &self,
        ids: &[InboundEventId],
        now: DateTime<Utc>,
    ) -> DbResult<()>;
    /// Records a failed attempt: retried at `retry_at`, or given up when `None`.
    async fn mark_inbound_failed(
        &self,
        id: InboundEventId,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> DbResult<()>;
    /// Puts claimed events of `org` back until `until` without counting an attempt (HubSpot's
    /// daily limit: nothing was tried).
    async fn postpone_inbound_events(
        &self,
        org: &OrganizationId,
        ids: &[InboundEventId],
        reason: &str,
        until: DateTime<Utc>,
    ) -> DbResult<()>;
}

// ---------------------------------------------------------------------------------------------
// Debounce state
// ---------------------------------------------------------------------------------------------

/// A debouncer's identity: one per organization and debounced webhook type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DebounceKey {
    /// The organization.
    pub organization: OrganizationId,
    /// `agency_compliance_status_changes` or `agent_compliance_status_changes`.
    pub webhook_type: WebhookType,
}

/// What a debounce step leaves behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebounceOutput {
    /// The state to persist.
    pub state: DebouncerState,
    /// When the next window closes (`Debouncer::next_due`), for [`DebounceStore::debounce_due`].
    pub next_due: Option<DateTime<Utc>>,
    /// Outbox events for the flushed windows.
    pub outbox: Vec<OutboxEvent>,
}

/// One step of a debouncer, run inside the store's transaction: it gets the persisted state
/// and the changes recorded since the last step (oldest first), and returns the new state and
/// the events to enqueue. The store saves both and marks the changes consumed atomically, so a
/// crash loses nothing and flushes each window exactly once.
pub type DebounceStep =
    Box<dyn FnOnce(DebouncerState, Vec<StatusChangeEvent>) -> DebounceOutput + Send>;

/// Persisted debouncer state and the inbox of compliance status changes.
#[async_trait]
pub trait DebounceStore: Send + Sync {
    /// The persisted state (`None` before the first save).
    async fn load_debounce_state(&self, key: &DebounceKey) -> DbResult<Option<DebouncerState>>;
    /// Saves the state.
    async fn save_debounce_state(
        &self,
        key: &DebounceKey,
        state: &DebouncerState,
        next_due: Option<DateTime<Utc>>,
    ) -> DbResult<()>;
    /// Runs `step` on the state and pending changes, then saves the state, marks the changes
    /// consumed and writes the outbox events, in one transaction (rows locked on PostgreSQL,
    /// so two processes never run one debouncer at once).
    async fn advance_debounce(
        &self,
        key: &DebounceKey,
        step: DebounceStep,
    ) -> DbResult<Vec<Enqueued>>;
    /// Debouncers with unconsumed changes, or whose next window closes at or before `now`.
    async fn debounce_due(&self, now: DateTime<Utc>) -> DbResult<Vec<DebounceKey>>;
}

// ---------------------------------------------------------------------------------------------
// Echo ledger, jobs and queue statistics
// ---------------------------------------------------------------------------------------------

/// Our recent writes to HubSpot (turris-core's [`RecentWrite`]), shared by every replica so
/// the echo of a write is recognised whichever process receives the webhook.
#[async_trait]
pub trait EchoLedgerStore: Send + Sync {
    /// Remembers writes we just made.
    async fn record_hubspot_writes(
        &self,
        org: &OrganizationId,
        writes: &[RecentWrite],
    ) -> DbResult<()>;
    /// Our writes to these objects at or after `since`, oldest first.
    async fn recent_hubspot_writes(
        &self,
        org: &OrganizationId,
        objects: &[HubSpotId],
        since: DateTime<Utc>,
    ) -> DbResult<Vec<RecentWrite>>;
    /// Forgets writes made strictly before `before`, in every organization.
    async fn prune_hubspot_writes_before(&self, before: DateTime<Utc>) -> DbResult<u64>;
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// In progress (or interrupted by a restart: resume it).
    Running,
    /// Finished; its state holds the result.
    Completed,
    /// Gave up; its state says why.
    Failed,
}

/// A long-running job of an organization (bulk reconciliation), with its progress as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// The organization.
    pub organization: OrganizationId,
    /// What it does (`"reconcile_companies"`); at most one runs per organization and kind.
    pub kind: String,
    /// Where it stands.
    pub status: JobStatus,
    /// Progress, cursor and result, as the job defines them.
    pub state: serde_json::Value,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// When its state last changed.
    pub updated_at: DateTime<Utc>,
}

/// Jobs that survive restarts: a worker saves its cursor as it goes and resumes from the
/// running jobs on start.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Starts a job; [`Conflict::JobRunning`] while one of that kind runs for `org`,
    /// [`DbError::NotFound`] for an unknown organization.
    async fn create_job(
        &self,
        org: &OrganizationId,
        kind: &str,
        state: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> DbResult<Job>;
    /// Saves progress or the outcome; [`DbError::NotFound`] for an unknown job.
    async fn update_job(
        &self,
        org: &OrganizationId,
        id: JobId,
        status: JobStatus,
        state: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> DbResult<()>;
    /// One job.
    async fn job(&self, org: &OrganizationId, id: JobId) -> DbResult<Option<Job>>;
    /// The organization's jobs of a kind, newest first.
    async fn list_jobs(&self, org: &OrganizationId, kind: &str) -> DbResult<Vec<Job>>;
    /// Every running job, oldest first (to resume after a restart).
    async fn running_jobs(&self) -> DbResult<Vec<Job>>;
    /// Leases up to `limit` running jobs of `kind` whose lease is free or lapsed at `now`,
    /// oldest first, each until `now + lease_for` under a fresh lease id. On PostgreSQL the
    /// rows are taken `FOR UPDATE SKIP LOCKED`, so processes claim disjoint jobs.
    async fn claim_jobs(
        &self,
        kind: &str,
        now: DateTime<Utc>,
        lease_for: Duration,
        limit: usize,
    ) -> DbResult<Vec<(Job, JobLease)>>;
    /// Saves a leased running job's progress or outcome, and extends its lease until
    /// `lease_until` (`None` releases it). `false`, and nothing saved, when the lease is no
    /// longer this one (taken over after it lapsed) or the job is no longer running.
    async fn save_leased_job(
        &self,
        job: &Job,
        lease: &JobLease,
        status: JobStatus,
        state: &serde_json::Value,
        lease_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> DbResult<bool>;
    /// The organization's jobs of these kinds, newest first, strictly after `after` (the
    /// `(created_at, id)` of the previous page's last job), at most `limit` (1..=1000).
    async fn job_page(
        &self,
        org: &OrganizationId,
        kinds: &[&str],
        after: Option<(DateTime<Utc>, JobId)>,
        limit: usize,
    ) -> DbResult<Vec<Job>>;
}

/// A process's claim on a running job ([`JobStore::claim_jobs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobLease {
    /// Drawn at each claim.
    pub id: uuid::Uuid,
    /// When it lapses unless renewed.
    pub expires_at: DateTime<Utc>,
}

/// The delivery queue at a glance (`/metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeliveryQueueStats {
    /// Events waiting for an automatic attempt (leased or not).
    pub pending: u64,
    /// Pending events due now and not leased: the backlog.
    pub due: u64,
    /// Events under a live lease (an attempt in progress).
    pub leased: u64,
    /// Events whose automatic attempts are exhausted.
    pub failed: u64,
}

/// Queue statistics.
#[async_trait]
pub trait DeliveryStatsStore: Send + Sync {
    /// Counts at `now`.
    async fn delivery_queue_stats(&self, now: DateTime<Utc>) -> DbResult<DeliveryQueueStats>;
    /// Notified (`notify_one`) after every commit of this store that queued deliveries, so a
    /// delivery worker of this process wakes at once instead of at its next poll.
    fn enqueue_signal(&self) -> std::sync::Arc<tokio::sync::Notify>;
    /// With `Some(lease)`, outbox rows written by this store from now on are leased to this
    /// process's delivery worker for `lease` and handed to it through [`Self::take_handoff`]
    /// after the commit (no lease round trip; a crash leaves them to whoever leases them once
    /// the lease expires). `None` stops it. Off until a worker turns it on.
    fn set_handoff(&self, lease_for: Option<Duration>);
    /// Up to `limit` events handed off since the last call, oldest first, with their leases.
    fn take_handoff(&self, limit: usize) -> Vec<turris_webhooks::delivery::LeasedDelivery>;
    /// Records several attempts in one transaction, each exactly as
    /// [`DeliveryStore::record_attempt`] would (one commit instead of one per attempt). One
    /// result per attempt, in order: the attempt, or [`StoreError::LeaseLost`] when its lease
    /// was replaced or its event deleted.
    async fn record_attempts(
        &self,
        attempts: &[AttemptToRecord],
    ) -> Result<
        Vec<Result<turris_webhooks::delivery::Attempt, turris_webhooks::delivery::StoreError>>,
        turris_webhooks::delivery::StoreError,
    >;
}

/// One attempt for [`DeliveryStatsStore::record_attempts`].
#[derive(Debug, Clone)]
pub struct AttemptToRecord {
    /// The event.
    pub event_id: EventId,
    /// The lease it was made under.
    pub lease: turris_webhooks::delivery::Lease,
    /// What happened.
    pub report: turris_webhooks::delivery::AttemptReport,
    /// What happens next.
    pub next: turris_webhooks::delivery::NextStep,
}

// ---------------------------------------------------------------------------------------------
// Outbound sync's outbox
// ---------------------------------------------------------------------------------------------

/// A queued push of an agency or agent to HubSpot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundPush {
    /// Its row.
    pub id: OutboundPushId,
    /// The agency or agent to push (as it is when pushed, not when queued).
    pub record: TurrisRef,
    /// When it was queued.
    pub queued_at: DateTime<Utc>,
    /// Attempts that failed for a reason worth retrying.
    pub attempts: u32,
}

/// An organization's due pushes, leased to one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundClaim {
    /// The organization.
    pub organization: OrganizationId,
    /// The lease: nobody else claims the organization's pushes until it expires or is
    /// released by [`OutboundOutboxStore::finish_outbound`].
    pub lease: String,
    /// When the lease expires.
    pub expires_at: DateTime<Utc>,
    /// The pushes, oldest first (one record may appear more than once).
    pub pushes: Vec<OutboundPush>,
}

/// A claimed push to try again later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRetry {
    /// The push.
    pub push: OutboundPushId,
    /// When.
    pub next_attempt_at: DateTime<Utc>,
    /// Why the attempt failed, or why it waits.
    pub error: String,
    /// Whether an attempt failed (counted in [`OutboundPush::attempts`]); `false` when the
    /// push only waits (a paused connection).
    pub failed_attempt: bool,
}

/// Outbound sync's outbox: agencies, agents and agency contacts written by the records API with
/// their push queued in the same transaction, drained per organization under a lease.
#[async_trait]
pub trait OutboundOutboxStore: Send + Sync {
    /// Inserts an agency and queues its push, in one transaction.
    async fn insert_agency_with_push(&self, org: &OrganizationId, agency: &Agency) -> DbResult<()>;
    /// Replaces an agency's data and queues its push; [`DbError::NotFound`] if unknown.
    async fn update_agency_with_push(&self, org: &OrganizationId, agency: &Agency) -> DbResult<()>;
    /// Inserts an agent and queues its push, in one transaction.
    async fn insert_agent_with_push(&self, org: &OrganizationId, agent: &Agent) -> DbResult<()>;
    /// Replaces an agent's data and queues its push; [`DbError::NotFound`] if unknown.
    async fn update_agent_with_push(&self, org: &OrganizationId, agent: &Agent) -> DbResult<()>;
    /// Inserts an agency contact and queues its push, in one transaction;
    /// [`DbError::NotFound`] if its agency is unknown.
    async fn insert_agency_contact_with_push(
        &self,
        org: &OrganizationId,
        contact: &AgencyContact,
    ) -> DbResult<()>;
    /// Replaces an agency contact and queues its push; [`DbError::NotFound`] if it or its
    /// agency is unknown.
    async fn update_agency_contact_with_push(
        &self,
        org: &OrganizationId,
        contact: &AgencyContact,
    ) -> DbResult<()>;
    /// Leases one organization whose lease is free (or expired) and that has pushes due at
    /// `now`, and returns up to `limit` of them; `None` when there is none.
    async fn claim_outbound(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease_for: Duration,
    ) -> DbResult<Option<OutboundClaim>>;
    /// Deletes the claimed pushes except `retries`, which are postponed, and releases the
    /// lease, in one transaction; [`DbError::NotFound`] (nothing changed) when the lease was
    /// lost to another process, which then pushes them again.
    async fn finish_outbound(
        &self,
        claim: &OutboundClaim,
        retries: &[OutboundRetry],
    ) -> DbResult<()>;
    /// How many pushes of the organization are queued.
    async fn pending_outbound(&self, org: &OrganizationId) -> DbResult<u64>;
}

// ---------------------------------------------------------------------------------------------
// Retention
// ---------------------------------------------------------------------------------------------

/// Periodic pruning, across organizations.
#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// Deletes activity entries recorded strictly before `before`, in every organization.
    async fn prune_activity_before(&self, before: DateTime<Utc>) -> DbResult<u64>;
    /// Deletes delivered or failed events created strictly before `before`, with their
    /// attempts and payloads; pending events stay. Returns how many events.
    async fn prune_deliveries_before(&self, before: DateTime<Utc>) -> DbResult<u64>;
    /// Deletes processed or failed inbound events received strictly before `before`, consumed
    /// compliance changes recorded before it, and OAuth states expired before it. Returns how
    /// many inbound events.
    async fn prune_inbound_before(&self, before: DateTime<Utc>) -> DbResult<u64>;
}

/// Every storage trait the server uses, for `Arc<dyn ServerStore>`.
pub trait ServerStore:
    turris_core::store::Store
    + DeliveryStore
    + TenantStore
    + OAuthStateStore
    + CredentialStore
    + WebhookEndpointStore
    + TurrisInputStore
    + InboundEventStore
    + DebounceStore
    + EchoLedgerStore
    + JobStore
    + DeliveryStatsStore
    + RetentionStore
    + OutboundOutboxStore
{
}

impl<T> ServerStore for T where
    T: turris_core::store::Store
        + DeliveryStore
        + TenantStore
        + OAuthStateStore
        + CredentialStore
        + WebhookEndpointStore
        + TurrisInputStore
        + InboundEventStore
        + DebounceStore
        + EchoLedgerStore
        + JobStore
        + DeliveryStatsStore
        + RetentionStore
        + OutboundOutboxStore
{
}
