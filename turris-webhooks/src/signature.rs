//! The `X-Turris-Signature` scheme (and the Standard Webhooks headers sent beside it).
//!
//! Signed message: `{timestamp}.{raw body}`, HMAC-SHA256 keyed with the secret's 32 bytes,
//! written as 64 lower-case hex characters. The Standard Webhooks signature covers
//! `{event id}.{timestamp}.{raw body}` with the same key and is written `v1,<base64>`.
//!
//! During a secret rotation's overlap a request is signed with both secrets:
//! `X-Turris-Signature` is sent as two header lines, the previous secret's signature first
//! (a receiver that reads one value, still holding the previous secret, keeps working), then
//! the new secret's; `webhook-signature` carries `v1,<new> v1,<previous>` space-separated, as
//! the Standard Webhooks specification defines. The [`Verifier`] reads every line of
//! `X-Turris-Signature` and splits each on commas and spaces (a proxy may fold the two lines
//! into `a, b`), and accepts the request when any signature matches any of its secrets.

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

/// The most signatures a [`Verifier`] reads from one request's `X-Turris-Signature` (two during
/// a rotation; more is refused as malformed, so a request cannot make the check arbitrarily
/// costly).
pub const MAX_SIGNATURES: usize = 8;

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
///
/// During a rotation's overlap, [`SignedHeaders::rotating`] signs with both secrets:
///
/// ```
/// use turris_webhooks::{SignedHeaders, Verifier, WebhookSecret};
///
/// let (old, new) = (WebhookSecret::generate().unwrap(), WebhookSecret::generate().unwrap());
/// let body = b"{}";
/// let headers = SignedHeaders::rotating(&new, Some(&old), "evt_1", 1_700_000_000, body).to_header_map();
/// assert_eq!(headers.get_all("x-turris-signature").iter().count(), 2);
/// assert_eq!(headers["webhook-signature"].to_str().unwrap().split(' ').count(), 2);
/// // A receiver holding either secret accepts the request.
/// assert!(Verifier::new([old]).verify_ignoring_timestamp(&headers, body).is_ok());
/// assert!(Verifier::new([new]).verify_ignoring_timestamp(&headers, body).is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// The event id (`X-Turris-Event-Id` and `webhook-id`).
    pub event_id: String,
    /// Unix seconds (`X-Turris-Timestamp` and `webhook-timestamp`).
    pub timestamp: i64,
    /// Lower-case hex HMAC-SHA256 of `{timestamp}.{body}` with the current secret
    /// (`X-Turris-Signature`).
    pub signature: String,
    /// The same with the previous secret during a rotation's overlap: sent as the first
    /// `X-Turris-Signature` line, before [`SignedHeaders::signature`].
    pub previous_signature: Option<String>,
    /// `v1,<base64>` over `{id}.{timestamp}.{body}` (`webhook-signature`); during an overlap
    /// `v1,<current> v1,<previous>`.
    pub standard_signature: String,
}

impl SignedHeaders {
    /// Signs `body` for the event `event_id` at `timestamp` (unix seconds).
    pub fn new(secret: &WebhookSecret, event_id: &str, timestamp: i64, body: &[u8]) -> Self {
        Self::rotating(secret, None, event_id, timestamp, body)
    }

    /// Signs `body` with `secret` and, during a rotation's overlap, with `previous` too.
    pub fn rotating(
        secret: &WebhookSecret,
        previous: Option<&WebhookSecret>,
        event_id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Self {
        let mut standard_signature = sign_standard(secret, event_id, timestamp, body);
        if let Some(previous) = previous {
            standard_signature.push(' ');
            standard_signature.push_str(&sign_standard(previous, event_id, timestamp, body));
        }
        Self {
            event_id: event_id.to_owned(),
            timestamp,
            signature: sign(secret, timestamp, body),
            previous_signature: previous.map(|p| sign(p, timestamp, body)),
            standard_signature,
        }
    }

    /// The headers as `(name, value)` pairs, in a fixed order: six, or seven during an
    /// overlap (`X-Turris-Signature` twice, the previous secret's first).
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let ts = self.timestamp.to_string();
        let mut pairs = Vec::with_capacity(7);
        if let Some(previous) = &self.previous_signature {
            pairs.push((SIGNATURE_HEADER, previous.clone()));
        }
        pairs.extend([
            (SIGNATURE_HEADER, self.signature.clone()),
            (TIMESTAMP_HEADER, ts.clone()),
            (EVENT_ID_HEADER, self.event_id.clone()),
            (STANDARD_ID_HEADER, self.event_id.clone()),
            (STANDARD_TIMESTAMP_HEADER, ts),
            (STANDARD_SIGNATURE_HEADER, self.standard_signature.clone()),
        ]);
        pairs
    }

    /// The headers in an [`http::HeaderMap`] (repeated names appended in order). Header
    /// values that are not valid (an event id with control characters) are left out, which
    /// makes verification fail loudly.
    pub fn to_header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(7);
        for (name, value) in self.pairs() {
            if let Ok(value) = HeaderValue::from_str(&value) {
                map.append(HeaderName::from_static(name), value);
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
    /// No value of `X-Turris-Signature` is 64 lower-case hex characters (or it holds more
    /// than [`MAX_SIGNATURES`] values).
    #[error("malformed signature")]
    MalformedSignature,
    /// The signature matches none of the secrets.
    #[error("signature mismatch")]
    Mismatch,
}

/// Checks `X-Turris-Signature` against one or more secrets (several during a rotation).
///
/// The header may hold several signatures (see the module documentation): on several lines,
/// or separated by commas or spaces; the request is accepted when any of them matches any
/// secret.
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
        let (signatures, timestamp) = signature_headers(headers)?;
        self.verify_raw(signatures, timestamp, body, Some(now))
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
        let (signatures, timestamp) = signature_headers(headers)?;
        self.verify_raw(signatures, timestamp, body, None)
    }

    /// Verifies from the header values as strings, for callers without an [`http::HeaderMap`].
    pub fn verify_parts(
        &self,
        signature: &str,
        timestamp: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), VerifyError> {
        self.verify_raw(
            [signature.as_bytes()],
            timestamp.as_bytes(),
            body,
            Some(now),
        )
    }

    /// [`Verifier::verify_parts`] without the timestamp age check.
    pub fn verify_parts_ignoring_timestamp(
        &self,
        signature: &str,
        timestamp: &str,
        body: &[u8],
    ) -> Result<(), VerifyError> {
        self.verify_raw([signature.as_bytes()], timestamp.as_bytes(), body, None)
    }

    fn verify_raw<'a>(
        &self,
        signatures: impl IntoIterator<Item = &'a [u8]>,
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
        let candidates = Candidates::read(signatures)?;
        // Every key is tried against every signature, so timing does not tell which matched.
        let mut matched = subtle::Choice::from(0);
        for key in &self.keys {
            let tag = mac_turris(key.clone(), timestamp, body)
                .finalize()
                .into_bytes();
            for expected in candidates.iter() {
                matched |= subtle::ConstantTimeEq::ct_eq(&tag[..], &expected[..]);
            }
        }
        if bool::from(matched) {
            Ok(())
        } else {
            Err(VerifyError::Mismatch)
        }
    }
}

/// The well-formed signatures of a request, at most [`MAX_SIGNATURES`], without allocating.
struct Candidates {
    decoded: [[u8; MAC_LEN]; MAX_SIGNATURES],
    len: usize,
}

impl Candidates {
    /// Splits each header value on commas and spaces. Malformed values are skipped as long as
    /// one is well formed; none well formed, or more than [`MAX_SIGNATURES`] values, is
    /// [`VerifyError::MalformedSignature`].
    fn read<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Result<Self, VerifyError> {
        let mut this = Self {
            decoded: [[0; MAC_LEN]; MAX_SIGNATURES],
            len: 0,
        };
        let mut seen = 0;
        for value in values {
            let parts = value
                .split(|b| *b == b',' || *b == b' ' || *b == b'\t')
                .filter(|p| !p.is_empty());
            for part in parts {
                seen += 1;
                if seen > MAX_SIGNATURES {
                    return Err(VerifyError::MalformedSignature);
                }
                if let Ok(decoded) = decode_signature(part) {
                    this.decoded[this.len] = decoded;
                    this.len += 1;
                }
            }
        }
        if this.len == 0 {
            return Err(VerifyError::MalformedSignature);
        }
        Ok(this)
    }

    fn iter(&self) -> impl Iterator<Item = &[u8; MAC_LEN]> {
        self.decoded[..self.len].iter()
    }
}

// Parsed once at compile time, so a lookup only hashes.
const SIGNATURE_NAME: HeaderName = HeaderName::from_static(SIGNATURE_HEADER);
const TIMESTAMP_NAME: HeaderName = HeaderName::from_static(TIMESTAMP_HEADER);

fn signature_headers(
    headers: &HeaderMap,
) -> Result<(impl Iterator<Item = &[u8]>, &[u8]), VerifyError> {
    let mut signatures = headers.get_all(&SIGNATURE_NAME).iter().peekable();
    if signatures.peek().is_none() {
        return Err(VerifyError::MissingHeader("X-Turris-Signature"));
    }
    let timestamp = headers
        .get(&TIMESTAMP_NAME)
        .ok_or(VerifyError::MissingHeader("X-Turris-Timestamp"))?;
    Ok((signatures.map(HeaderValue::as_bytes), timestamp.as_bytes()))
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
