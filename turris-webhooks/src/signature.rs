//! The `X-Turris-Signature` scheme (and the Standard Webhooks headers sent beside it).
//!
//! Signed message: `{timestamp}.{raw body}`, HMAC-SHA256 keyed with the secret's 32 bytes,
//! written as 64 lower-case hex characters. The Standard Webhooks signature covers
//! `{event id}.{timestamp}.{raw body}` with the same key and is written `v1,<base64>`.

use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::Sha256;

use crate::secret::WebhookSecret;

type HmacSha256 = Hmac<Sha256>;

/// `X-Turris-Signature`: lower-case hex HMAC-SHA256 of `{timestamp}.{body}`.
pub const SIGNATURE_HEADER: &str = "x-turris-signature";
/// `X-Turris-Timestamp`: unix seconds when the request was signed.
pub const TIMESTAMP_HEADER: &str = "x-turris-timestamp";
/// `X-Turris-Event-Id`: the event id, stable across retries and resends.
pub const EVENT_ID_HEADER: &str = "x-turris-event-id";
/// Standard Webhooks `webhook-id` (same value as `X-Turris-Event-Id`).
pub const STANDARD_ID_HEADER: &str = "webhook-id";
/// Standard Webhooks `webhook-timestamp` (same value as `X-Turris-Timestamp`).
pub const STANDARD_TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// Standard Webhooks `webhook-signature`: `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`.
pub const STANDARD_SIGNATURE_HEADER: &str = "webhook-signature";

/// The tolerance a [`Verifier`] uses unless told otherwise: 5 minutes in both directions.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

const MAC_LEN: usize = 32;

fn keyed(secret: &WebhookSecret) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    <HmacSha256 as Mac>::new_from_slice(secret.as_bytes()).expect("hmac takes any key length")
}

fn mac_turris(mut mac: HmacSha256, timestamp: &[u8], body: &[u8]) -> HmacSha256 {
    mac.update(timestamp);
    mac.update(b".");
    mac.update(body);
    mac
}

/// Signs `{timestamp}.{body}`: the lower-case hex value of `X-Turris-Signature`.
///
/// ```
/// use turris_webhooks::{sign, WebhookSecret};
///
/// let secret = WebhookSecret::parse(&"00".repeat(32)).unwrap();
/// let signature = sign(&secret, 1_700_000_000, b"{}");
/// assert_eq!(signature, "a9dc44c8eda3de70e9cbf3e488895f1abc26acb1461d3124a3cb886af35251cf");
/// ```
pub fn sign(secret: &WebhookSecret, timestamp: i64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    let mac = mac_turris(keyed(secret), ts.as_bytes(), body);
    hex::encode(mac.finalize().into_bytes())
}

/// Signs `{id}.{timestamp}.{body}` the Standard Webhooks way: `v1,<base64>`.
pub fn sign_standard(
    secret: &WebhookSecret,
    event_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let mut mac = keyed(secret);
    mac.update(event_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let encoded = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    format!("v1,{encoded}")
}

/// Every header a signed delivery carries: the Turris ones and the Standard Webhooks ones.
///
/// ```
/// use turris_webhooks::{SignedHeaders, Verifier, WebhookSecret};
///
/// let secret = WebhookSecret::generate().unwrap();
/// let body = br#"{"webhookType":"producer_agreement_executed"}"#;
/// let signed = SignedHeaders::new(&secret, "0190b2f0-0000-7000-8000-000000000001", 1_700_000_000, body);
/// let headers = signed.to_header_map();
/// assert_eq!(headers["x-turris-timestamp"], "1700000000");
/// assert_eq!(headers["webhook-id"], "0190b2f0-0000-7000-8000-000000000001");
/// assert!(headers["webhook-signature"].to_str().unwrap().starts_with("v1,"));
///
/// let verifier = Verifier::new(vec![secret]);
/// assert!(verifier.verify_ignoring_timestamp(&headers, body).is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// The event id (`X-Turris-Event-Id` and `webhook-id`).
    pub event_id: String,
    /// Unix seconds (`X-Turris-Timestamp` and `webhook-timestamp`).
    pub timestamp: i64,
    /// Lower-case hex HMAC-SHA256 of `{timestamp}.{body}` (`X-Turris-Signature`).
    pub signature: String,
    /// `v1,<base64>` over `{id}.{timestamp}.{body}` (`webhook-signature`).
    pub standard_signature: String,
}

impl SignedHeaders {
    /// Signs `body` for the event `event_id` at `timestamp` (unix seconds).
    pub fn new(secret: &WebhookSecret, event_id: &str, timestamp: i64, body: &[u8]) -> Self {
        Self {
            event_id: event_id.to_owned(),
            timestamp,
            signature: sign(secret, timestamp, body),
            standard_signature: sign_standard(secret, event_id, timestamp, body),
        }
    }

    /// The six headers as `(name, value)` pairs, in a fixed order.
    pub fn pairs(&self) -> [(&'static str, String); 6] {
        let ts = self.timestamp.to_string();
        [
            (SIGNATURE_HEADER, self.signature.clone()),
            (TIMESTAMP_HEADER, ts.clone()),
            (EVENT_ID_HEADER, self.event_id.clone()),
            (STANDARD_ID_HEADER, self.event_id.clone()),
            (STANDARD_TIMESTAMP_HEADER, ts),
            (STANDARD_SIGNATURE_HEADER, self.standard_signature.clone()),
        ]
    }

    /// The six headers in an [`http::HeaderMap`]. Header values that are not valid (an event
    /// id with control characters) are left out, which makes verification fail loudly.
    pub fn to_header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(6);
        for (name, value) in self.pairs() {
            if let Ok(value) = HeaderValue::from_str(&value) {
                map.insert(HeaderName::from_static(name), value);
            }
        }
        map
    }
}

/// Why a request failed verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required header is absent.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// `X-Turris-Timestamp` is not a whole number of unix seconds.
    #[error("malformed timestamp")]
    MalformedTimestamp,
    /// The timestamp is older than the tolerance allows.
    #[error("timestamp too old")]
    TooOld,
    /// The timestamp is further in the future than the tolerance allows.
    #[error("timestamp too far in the future")]
    TooNew,
    /// `X-Turris-Signature` is not 64 lower-case hex characters.
    #[error("malformed signature")]
    MalformedSignature,
    /// The signature matches none of the secrets.
    #[error("signature mismatch")]
    Mismatch,
}

/// Checks `X-Turris-Signature` against one or more secrets (several during a rotation).
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use turris_webhooks::{sign, Verifier, VerifyError, WebhookSecret};
///
/// let old = WebhookSecret::generate().unwrap();
/// let new = WebhookSecret::generate().unwrap();
/// let body = br#"{"hello":"world"}"#;
/// let signature = sign(&new, 1_700_000_000, body);
///
/// let verifier = Verifier::new(vec![old, new]);
/// let now = Utc.timestamp_opt(1_700_000_030, 0).unwrap();
/// assert_eq!(verifier.verify_parts(&signature, "1700000000", body, now), Ok(()));
/// let later = Utc.timestamp_opt(1_700_000_000 + 301, 0).unwrap();
/// assert_eq!(verifier.verify_parts(&signature, "1700000000", body, later), Err(VerifyError::TooOld));
/// ```
#[derive(Clone)]
pub struct Verifier {
    keys: Vec<HmacSha256>,
    tolerance: Duration,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("secrets", &format_args!("[{} redacted]", self.keys.len()))
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

impl Verifier {
    /// A verifier that accepts a signature made with any of `secrets`.
    pub fn new(secrets: impl IntoIterator<Item = WebhookSecret>) -> Self {
        Self {
            keys: secrets.into_iter().map(|s| keyed(&s)).collect(),
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// Accepts timestamps up to `tolerance` away from now, in both directions.
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The tolerance in use.
    pub fn tolerance(&self) -> Duration {
        self.tolerance
    }

    /// Verifies the headers and raw body of a request received at `now`.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), VerifyError> {
        let (signature, timestamp) = signature_headers(headers)?;
        self.verify_raw(signature, timestamp, body, Some(now))
    }

    /// [`Verifier::verify`] with the system clock.
    pub fn verify_now(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
        self.verify(headers, body, Utc::now())
    }

    /// Verifies the signature but not the age of the timestamp (for replaying stored requests).
    pub fn verify_ignoring_timestamp(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), VerifyError> {
        let (signature, timestamp) = signature_headers(headers)?;
        self.verify_raw(signature, timestamp, body, None)
    }

    /// Verifies from the header values as strings, for callers without an [`http::HeaderMap`].
    pub fn verify_parts(
        &self,
        signature: &str,
        timestamp: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), VerifyError> {
        self.verify_raw(signature.as_bytes(), timestamp.as_bytes(), body, Some(now))
    }

    /// [`Verifier::verify_parts`] without the timestamp age check.
    pub fn verify_parts_ignoring_timestamp(
        &self,
        signature: &str,
        timestamp: &str,
        body: &[u8],
    ) -> Result<(), VerifyError> {
        self.verify_raw(signature.as_bytes(), timestamp.as_bytes(), body, None)
    }

    fn verify_raw(
        &self,
        signature: &[u8],
        timestamp: &[u8],
        body: &[u8],
        now: Option<DateTime<Utc>>,
    ) -> Result<(), VerifyError> {
        let ts = parse_timestamp(timestamp)?;
        if let Some(now) = now {
            let tolerance = i64::try_from(self.tolerance.as_secs()).unwrap_or(i64::MAX);
            let now = now.timestamp();
            if now.saturating_sub(ts) > tolerance {
                return Err(VerifyError::TooOld);
            }
            if ts.saturating_sub(now) > tolerance {
                return Err(VerifyError::TooNew);
            }
        }
        let expected = decode_signature(signature)?;
        // Every key is tried, so timing does not tell which one matched.
        let mut matched = false;
        for key in &self.keys {
            let mac = mac_turris(key.clone(), timestamp, body);
            matched |= mac.verify_slice(&expected).is_ok();
        }
        if matched {
            Ok(())
        } else {
            Err(VerifyError::Mismatch)
        }
    }
}

// Parsed once at compile time, so a lookup only hashes.
const SIGNATURE_NAME: HeaderName = HeaderName::from_static(SIGNATURE_HEADER);
const TIMESTAMP_NAME: HeaderName = HeaderName::from_static(TIMESTAMP_HEADER);

fn signature_headers(headers: &HeaderMap) -> Result<(&[u8], &[u8]), VerifyError> {
    let signature = headers
        .get(&SIGNATURE_NAME)
        .ok_or(VerifyError::MissingHeader("X-Turris-Signature"))?;
    let timestamp = headers
        .get(&TIMESTAMP_NAME)
        .ok_or(VerifyError::MissingHeader("X-Turris-Timestamp"))?;
    Ok((signature.as_bytes(), timestamp.as_bytes()))
}

/// Hex digit values for lower-case `0-9a-f`; `0xff` marks every other byte.
const HEX_VALUES: [u8; 256] = {
    let mut table = [0xff_u8; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// Decodes 64 lower-case hex characters into a stack buffer, in one pass without branches on
/// the digits (upper case is refused: the signature is sent in lower case).
fn decode_signature(signature: &[u8]) -> Result<[u8; MAC_LEN], VerifyError> {
    if signature.len() != MAC_LEN * 2 {
        return Err(VerifyError::MalformedSignature);
    }
    let mut out = [0u8; MAC_LEN];
    let mut invalid = 0u8;
    for (byte, pair) in out.iter_mut().zip(signature.chunks_exact(2)) {
        let hi = HEX_VALUES[usize::from(pair[0])];
        let lo = HEX_VALUES[usize::from(pair[1])];
        invalid |= hi | lo;
        *byte = (hi << 4) | lo;
    }
    // Valid digits are below 16; 0xff has the high bits set.
    if invalid & 0xf0 != 0 {
        return Err(VerifyError::MalformedSignature);
    }
    Ok(out)
}

fn parse_timestamp(raw: &[u8]) -> Result<i64, VerifyError> {
    if raw.is_empty() || raw.len() > 18 || !raw.iter().all(u8::is_ascii_digit) {
        return Err(VerifyError::MalformedTimestamp);
    }
    Ok(raw
        .iter()
        .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_signature_reads_every_lower_case_digit_and_refuses_anything_else() {
        let text = "0123456789abcdef".repeat(4);
        let decoded = decode_signature(text.as_bytes()).unwrap();
        assert_eq!(decoded.to_vec(), hex::decode(&text).unwrap());
        for bad in [b'A', b'F', b'g', b'/', b':', b'`', b'G', b' ', 0, 0xff] {
            for position in [0, 1, 33, 63] {
                let mut t = text.clone().into_bytes();
                t[position] = bad;
                assert_eq!(
                    decode_signature(&t),
                    Err(VerifyError::MalformedSignature),
                    "{bad} at {position}"
                );
            }
        }
        assert_eq!(
            decode_signature(&text.as_bytes()[..63]),
            Err(VerifyError::MalformedSignature)
        );
    }

    #[test]
    fn timestamps_are_plain_unsigned_decimal() {
        assert_eq!(parse_timestamp(b"0"), Ok(0));
        assert_eq!(parse_timestamp(b"1732233600"), Ok(1_732_233_600));
        assert_eq!(
            parse_timestamp(b"999999999999999999"),
            Ok(999_999_999_999_999_999)
        );
        for bad in [
            &b""[..],
            b"1000000000000000000",
            b"-1",
            b"+1",
            b"1.0",
            b" 1",
            b"\xd9\xa1",
        ] {
            assert_eq!(
                parse_timestamp(bad),
                Err(VerifyError::MalformedTimestamp),
                "{bad:?}"
            );
        }
    }
}
