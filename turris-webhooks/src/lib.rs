#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "axum")]
mod axum;
mod clock;
mod debounce;
pub mod delivery;
mod envelope;
mod payload;
mod secret;
mod signature;
mod url;

#[cfg(feature = "axum")]
pub use crate::axum::{VerifiedTurrisWebhook, WebhookRejection};
pub use crate::clock::{Clock, ManualClock, SystemClock};
pub use crate::debounce::{
    DebounceConfig, Debouncer, DebouncerState, StatusChangeBatch, StatusChangeEvent,
};
pub use crate::delivery::{Attempt, EventId, RetryPolicy, WebhookId};
pub use crate::envelope::{Envelope, EnvelopeError, UnknownWebhookType, WebhookType};
pub use crate::payload::{
    AgreementSigner, ComplianceStatus, ComplianceStatusChanges, DataSynchronized, EntityChanges,
    EntityType, Payload, ProducerAgreementExecuted, StatusChange, SyncKind, SyncOutcome,
};
pub use crate::secret::{SECRET_LEN, SecretError, WebhookSecret};
pub use crate::signature::{
    DEFAULT_TOLERANCE, EVENT_ID_HEADER, MAX_SIGNATURES, SIGNATURE_HEADER, STANDARD_ID_HEADER,
    STANDARD_SIGNATURE_HEADER, STANDARD_TIMESTAMP_HEADER, SignedHeaders, TIMESTAMP_HEADER,
    Verifier, VerifyError, sign, sign_standard,
};
pub use crate::url::{AllowRule, UrlError, UrlPolicy, WebhookUrl, non_public_reason};

/// Errors of this crate, for callers that want one type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A secret could not be parsed or generated.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// A request failed verification.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// A URL was refused.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// An envelope could not be serialized or parsed.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// A delivery store failed.
    #[error(transparent)]
    Store(#[from] delivery::StoreError),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
