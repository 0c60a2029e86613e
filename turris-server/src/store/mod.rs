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
mod attempts;
mod credentials;
mod debounce;
mod delivery;
mod echo;
pub mod error;
mod fairness;
mod handoff;
mod health;
mod ids;
mod inbound;
mod inputs;
mod invitations;
mod jobs;
mod journal;
mod links;
pub(crate) mod lists;
mod notes;
mod oauth;
mod outbound;
mod polling;
mod queue;
mod records;
mod recover;
mod retention;
mod sealed;
mod settings;
pub mod sql;
mod sync_records;
mod sync_step;
mod tags;
mod tenants;
mod tickets;
mod webhooks;

use turris_webhooks::delivery::DeliveryStore;

pub use error::{Conflict, DbError, DbResult, ResultExt};
pub use handoff::HandoffTerms;
pub use ids::{
    AgreementId, ApiTokenId, InboundEventId, InvitationId, JobId, NiprSyncId, OutboundPushId,
    RoleId, UserId,
};
pub use sql::{Backend, Database, SqlStore};

pub use credentials::*;
pub use debounce::*;
pub use echo::*;
pub use fairness::*;
pub use health::*;
pub use inbound::*;
pub use inputs::*;
pub use invitations::*;
pub use jobs::*;
pub use journal::*;
pub use lists::{ListMember, ListStore};
pub use notes::{NoteRetry, NoteStore, QueuedNote};
pub use oauth::*;
pub use outbound::*;
pub use polling::*;
pub use queue::*;
pub use records::RecordPageStore;
pub use recover::*;
pub use retention::*;
pub use sealed::{KeyCheckError, ResealReport};
pub use sync_records::*;
pub use sync_step::*;
pub use tags::*;
pub use tenants::*;
pub use tickets::*;
pub use webhooks::*;

/// Declares [`ServerStore`] from its traits, and implements it for every type with them all.
macro_rules! server_store {
    ($($bound:path),+ $(,)?) => {
        /// Every storage trait the server uses, for `Arc<dyn ServerStore>`.
        pub trait ServerStore: $($bound +)+ {}

        impl<T> ServerStore for T where T: $($bound +)+ {}
    };
}

server_store!(
    turris_core::store::Store,
    DeliveryStore,
    TenantStore,
    OAuthStateStore,
    CredentialStore,
    WebhookEndpointStore,
    TurrisInputStore,
    InvitationStore,
    RecordPageStore,
    InboundEventStore,
    DebounceStore,
    EchoLedgerStore,
    JobStore,
    DeliveryStatsStore,
    RetentionStore,
    OutboundOutboxStore,
    JournalStore,
    PollCursorStore,
    InboundStepStore,
    EndpointHealthStore,
    SyncRecordStore,
    TagStore,
    NoteStore,
    ListStore,
    TicketStore,
    FairLeaseStore,
    RecoverJobStore,
);
