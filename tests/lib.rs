//! End-to-end tests across the Turris crates (in `it/`), and the smallest Turris webhook
//! receiver they check.
//!
//! The receiver, [`receive`], is what a customer's service needs to accept Turris webhooks: it
//! depends on `turris-webhooks` without default features, so it pulls neither reqwest nor
//! tokio, and works with any HTTP server that hands it the headers and the raw body.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use chrono::{DateTime, Utc};
use http::HeaderMap;
use turris_webhooks::{EVENT_ID_HEADER, Envelope, EnvelopeError, Payload, Verifier, VerifyError};

/// A verified webhook, its payload parsed into the struct its type names.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// `X-Turris-Event-Id`: the same on every retry and resend.
    pub event_id: String,
    /// The envelope with its typed payload.
    pub envelope: Envelope<Payload>,
}

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// The signature or the timestamp did not verify: answer 401.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The request has no event id: answer 400.
    #[error("missing x-turris-event-id header")]
    MissingEventId,
    /// The body is not an envelope, or its payload does not fit its type: answer 400.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
}

/// Verifies a request received at `now` (signature over the raw body, timestamp within the
/// tolerance), then parses it.
pub fn receive(
    verifier: &Verifier,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Received, ReceiveError> {
    verifier.verify(headers, body, now)?;
    let event_id = headers
        .get(EVENT_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or(ReceiveError::MissingEventId)?
        .to_owned();
    let envelope: Envelope = serde_json::from_slice(body).map_err(EnvelopeError::from)?;
    Ok(Received {
        event_id,
        envelope: envelope.typed()?,
    })
}
