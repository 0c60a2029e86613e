//! Signed Turris webhooks: signing, verification, delivery and debouncing.
//!
//! # Verifying a request
//!
//! Every delivery is a `POST` with a JSON body `{"webhookType", "upstreamEntityId", "payload"}`
//! and these headers:
//!
//! | header | value |
//! |---|---|
//! | `X-Turris-Signature` | lower-case hex HMAC-SHA256 of `{timestamp}.{raw body}` |
//! | `X-Turris-Timestamp` | unix seconds when the request was signed |
//! | `X-Turris-Event-Id` | the event id, stable across retries and resends |
//! | `webhook-id` | Standard Webhooks: the same event id |
//! | `webhook-timestamp` | Standard Webhooks: the same timestamp |
//! | `webhook-signature` | Standard Webhooks: `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{raw body}` |
//!
//! The HMAC key is the webhook secret **decoded from hex** (32 bytes), not its 64 characters.
//! Verify the raw bytes before parsing JSON, compare in constant time, and reject timestamps
//! more than 5 minutes away from now. The Standard Webhooks headers let any Standard Webhooks
//! library verify too, with the secret written `whsec_` + base64 of the 32 key bytes
//! ([`WebhookSecret::to_standard_webhooks`]); they also sign the event id.
//!
//! ```
//! use turris_webhooks::{SignedHeaders, Verifier, VerifyError, WebhookSecret};
//!
//! let secret = WebhookSecret::generate().unwrap();
//! let body = br#"{"webhookType":"producer_agreement_executed","upstreamEntityId":"org_1","payload":{}}"#;
//! let now = chrono::Utc::now();
//! let headers = SignedHeaders::new(&secret, "evt_1", now.timestamp(), body).to_header_map();
//!
//! let verifier = Verifier::new([secret]);
//! assert_eq!(verifier.verify(&headers, body, now), Ok(()));
//! assert_eq!(verifier.verify(&headers, b"{}", now), Err(VerifyError::Mismatch));
//! ```
//!
//! # Sending
//!
//! [`Envelope::to_bytes`] serializes once; those bytes are stored with the event
//! ([`delivery::DeliveryStore`]), signed and sent unchanged on every attempt by the
//! [`delivery::DeliveryEngine`]. The [`delivery::Dispatcher`] leases due deliveries, runs them
//! concurrently and schedules retries by the [`delivery::RetryPolicy`]. Endpoint URLs are
//! [`WebhookUrl`]s checked against a [`UrlPolicy`] (SSRF guard), again at connection time.
//! Compliance status changes go through the [`Debouncer`] first.
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
    DEFAULT_TOLERANCE, EVENT_ID_HEADER, SIGNATURE_HEADER, STANDARD_ID_HEADER,
    STANDARD_SIGNATURE_HEADER, STANDARD_TIMESTAMP_HEADER, SignedHeaders, TIMESTAMP_HEADER,
    Verifier, VerifyError, sign, sign_standard,
};
pub use crate::url::{AllowRule, UrlError, UrlPolicy, WebhookUrl, non_public_reason};

/// Errors of this crate, for callers that want one type.
#[derive(Debug, thiserror::Error)]
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
