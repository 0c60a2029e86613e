//! Signature checks of HubSpot requests: v3 (HMAC-SHA256, timestamped), v2 and v1.
//!
//! v3: `X-HubSpot-Signature-v3` = base64(HMAC-SHA256(client secret, method + URI + body +
//! timestamp)), with `X-HubSpot-Request-Timestamp` in milliseconds; the URI is the full
//! `https://host/path?query` with HubSpot's listed percent-escapes decoded. Requests older than
//! five minutes are refused. v2 (`X-HubSpot-Signature-Version: v2`) is hex SHA-256 of
//! secret + method + URI + body; v1 is hex SHA-256 of secret + body.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Header of the v3 signature.
pub const SIGNATURE_V3_HEADER: &str = "X-HubSpot-Signature-v3";
/// Header of the v3 timestamp (milliseconds since the epoch).
pub const TIMESTAMP_HEADER: &str = "X-HubSpot-Request-Timestamp";
/// Header of the v1/v2 signature.
pub const SIGNATURE_HEADER: &str = "X-HubSpot-Signature";
/// Header naming the v1/v2 version.
pub const SIGNATURE_VERSION_HEADER: &str = "X-HubSpot-Signature-Version";
/// How old a v3 request may be.
pub const MAX_AGE_MS: i64 = 5 * 60 * 1000;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The timestamp header is not a number.
    #[error("invalid timestamp")]
    InvalidTimestamp,
    /// The request is older than five minutes (or too far in the future).
    #[error("request timestamp outside the 5 minute window")]
    Expired,
    /// The signature does not match.
    #[error("signature mismatch")]
    Mismatch,
    /// A header the check needs is missing or not text.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// `X-HubSpot-Signature-Version` names a version we do not know.
    #[error("unknown signature version")]
    UnknownVersion,
}

/// Which signature version a request passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureVersion {
    /// HMAC-SHA256 with timestamp.
    V3,
    /// SHA-256 of secret + method + URI + body.
    V2,
    /// SHA-256 of secret + body.
    V1,
}

/// The escapes HubSpot decodes in the URI before signing (v3).
const DECODED: [(&str, char); 12] = [
    ("%3A", ':'),
    ("%2F", '/'),
    ("%3F", '?'),
    ("%40", '@'),
    ("%21", '!'),
    ("%24", '$'),
    ("%27", '\''),
    ("%28", '('),
    ("%29", ')'),
    ("%2A", '*'),
    ("%2C", ','),
    ("%3B", ';'),
];

/// Decodes exactly the percent-escapes HubSpot lists (case-insensitive hex); everything else
/// (e.g. `%20`, `%26`) stays as sent.
pub fn decode_uri(uri: &str) -> String {
    let mut out = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let candidate = rest.get(pos..pos + 3);
        match candidate.and_then(|c| DECODED.iter().find(|(e, _)| e.eq_ignore_ascii_case(c))) {
            Some((_, ch)) => {
                out.push(*ch);
                rest = &rest[pos + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[pos + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Computes the v3 signature (base64) of a request.
pub fn sign_v3(
    client_secret: &str,
    method: &str,
    uri: &str,
    body: &[u8],
    timestamp: &str,
) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(client_secret.as_bytes())
        .expect("hmac accepts keys of any length");
    mac.update(method.as_bytes());
    mac.update(decode_uri(uri).as_bytes());
    mac.update(body);
    mac.update(timestamp.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// A request as received, for v3 verification.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// HTTP method (`POST`).
    pub method: &'a str,
    /// The full URI HubSpot called: `https://host/path?query`, as received.
    pub uri: &'a str,
    /// The raw body.
    pub body: &'a [u8],
    /// `X-HubSpot-Signature-v3`.
    pub signature: &'a str,
    /// `X-HubSpot-Request-Timestamp` (milliseconds).
    pub timestamp: &'a str,
}

/// Verifies a v3 signature at `now_ms` (milliseconds since the epoch; pass the clock in so
/// tests are deterministic). Refuses requests more than five minutes old (or ahead).
pub fn verify_v3(
    client_secret: &str,
    request: &SignedRequest<'_>,
    now_ms: i64,
) -> Result<(), SignatureError> {
    let ts: i64 = request
        .timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::InvalidTimestamp)?;
    // `abs_diff` cannot overflow, whatever the two clocks say (`now_ms - ts` can).
    if now_ms.abs_diff(ts) > MAX_AGE_MS.unsigned_abs() {
        return Err(SignatureError::Expired);
    }
    let expected = sign_v3(
        client_secret,
        request.method,
        request.uri,
        request.body,
        request.timestamp,
    );
    constant_time_eq(expected.as_bytes(), request.signature.trim().as_bytes())
}

/// Computes the v1 signature: hex SHA-256 of secret + body.
pub fn sign_v1(client_secret: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(client_secret.as_bytes());
    hasher.update(body);
    hex::encode(hasher.finalize())
}

/// Verifies a v1 signature (`X-HubSpot-Signature` with version `v1`).
pub fn verify_v1(client_secret: &str, body: &[u8], signature: &str) -> Result<(), SignatureError> {
    let expected = sign_v1(client_secret, body);
    constant_time_eq(
        expected.as_bytes(),
        signature.trim().to_ascii_lowercase().as_bytes(),
    )
}

/// Computes the v2 signature: hex SHA-256 of secret + method + URI + body.
pub fn sign_v2(client_secret: &str, method: &str, uri: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(client_secret.as_bytes());
    hasher.update(method.as_bytes());
    hasher.update(uri.as_bytes());
    hasher.update(body);
    hex::encode(hasher.finalize())
}

/// Verifies a v2 signature (`X-HubSpot-Signature` with version `v2`). The URI is used exactly
/// as received (v2 decodes nothing).
pub fn verify_v2(
    client_secret: &str,
    method: &str,
    uri: &str,
    body: &[u8],
    signature: &str,
) -> Result<(), SignatureError> {
    let expected = sign_v2(client_secret, method, uri, body);
    constant_time_eq(
        expected.as_bytes(),
        signature.trim().to_ascii_lowercase().as_bytes(),
    )
}

/// Verifies whichever signature the request carries: v3 when `X-HubSpot-Signature-v3` is
/// present (then nothing else is accepted), else v1 or v2 as `X-HubSpot-Signature-Version`
/// says. v1 and v2 carry no timestamp, so they do not protect against replays; call
/// [`verify_v3`] directly to require v3.
pub fn verify_any_version(
    client_secret: &str,
    method: &str,
    uri: &str,
    headers: &http::HeaderMap,
    body: &[u8],
    now_ms: i64,
) -> Result<SignatureVersion, SignatureError> {
    let header = |name: &'static str| -> Result<Option<&str>, SignatureError> {
        match headers.get(name) {
            None => Ok(None),
            Some(v) => v
                .to_str()
                .map(Some)
                .map_err(|_| SignatureError::MissingHeader(name)),
        }
    };
    if let Some(signature) = header(SIGNATURE_V3_HEADER)? {
        let timestamp =
            header(TIMESTAMP_HEADER)?.ok_or(SignatureError::MissingHeader(TIMESTAMP_HEADER))?;
        let request = SignedRequest {
            method,
            uri,
            body,
            signature,
            timestamp,
        };
        return verify_v3(client_secret, &request, now_ms).map(|()| SignatureVersion::V3);
    }
    let signature =
        header(SIGNATURE_HEADER)?.ok_or(SignatureError::MissingHeader(SIGNATURE_V3_HEADER))?;
    match header(SIGNATURE_VERSION_HEADER)?.map(str::trim) {
        None | Some("v1") => {
            verify_v1(client_secret, body, signature).map(|()| SignatureVersion::V1)
        }
        Some("v2") => {
            verify_v2(client_secret, method, uri, body, signature).map(|()| SignatureVersion::V2)
        }
        Some(_) => Err(SignatureError::UnknownVersion),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> Result<(), SignatureError> {
    if bool::from(a.ct_eq(b)) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listed_escapes_are_decoded() {
        let cases = [
            ("https://x.io/a%3Ab%2Fc", "https://x.io/a:b/c"),
            (
                "https://x.io/?q=%40%21%24%27%28%29%2A%2C%3B%3F",
                "https://x.io/?q=@!$'()*,;?",
            ),
            ("https://x.io/?q=a%20b%26c", "https://x.io/?q=a%20b%26c"),
            ("https://x.io/?q=%3a%2f", "https://x.io/?q=:/"),
            ("https://x.io/100%", "https://x.io/100%"),
            ("https://x.io/%zz", "https://x.io/%zz"),
        ];
        for (input, expected) in cases {
            assert_eq!(decode_uri(input), expected, "{input}");
        }
    }

    #[test]
    fn any_version_prefers_v3_and_falls_back_to_the_named_version() {
        let body = b"[]";
        let uri = "https://x.io/h";
        let mut headers = http::HeaderMap::new();
        assert_eq!(
            verify_any_version("s", "POST", uri, &headers, body, 1000),
            Err(SignatureError::MissingHeader(SIGNATURE_V3_HEADER))
        );
        headers.insert(SIGNATURE_HEADER, sign_v1("s", body).parse().unwrap());
        assert_eq!(
            verify_any_version("s", "POST", uri, &headers, body, 1000),
            Ok(SignatureVersion::V1)
        );
        headers.insert(SIGNATURE_VERSION_HEADER, "v2".parse().unwrap());
        assert_eq!(
            verify_any_version("s", "POST", uri, &headers, body, 1000),
            Err(SignatureError::Mismatch)
        );
        headers.insert(
            SIGNATURE_HEADER,
            sign_v2("s", "POST", uri, body).parse().unwrap(),
        );
        assert_eq!(
            verify_any_version("s", "POST", uri, &headers, body, 1000),
            Ok(SignatureVersion::V2)
        );
        // Once a v3 signature is present, a bad one is not rescued by a good v2.
        headers.insert(SIGNATURE_V3_HEADER, "bogus".parse().unwrap());
        assert_eq!(
            verify_any_version("s", "POST", uri, &headers, body, 1000),
            Err(SignatureError::MissingHeader(TIMESTAMP_HEADER))
        );
        headers.insert(TIMESTAMP_HEADER, "1000".parse().unwrap());
        assert_eq!(
            verify_any_version("s", "POST", uri, &headers, body, 1000),
            Err(SignatureError::Mismatch)
        );
        headers.insert(
            SIGNATURE_V3_HEADER,
            sign_v3("s", "POST", uri, body, "1000").parse().unwrap(),
        );
        assert_eq!(
            verify_any_version("s", "POST", uri, &headers, body, 1000),
            Ok(SignatureVersion::V3)
        );
    }

    #[test]
    fn v3_refuses_a_stale_or_garbled_timestamp() {
        let sig = sign_v3("s", "POST", "https://x.io/h", b"[]", "1000");
        let req = SignedRequest {
            method: "POST",
            uri: "https://x.io/h",
            body: b"[]",
            signature: &sig,
            timestamp: "1000",
        };
        assert_eq!(verify_v3("s", &req, 1000 + MAX_AGE_MS), Ok(()));
        assert_eq!(
            verify_v3("s", &req, 1001 + MAX_AGE_MS),
            Err(SignatureError::Expired)
        );
        let bad = SignedRequest {
            timestamp: "soon",
            ..req
        };
        assert_eq!(
            verify_v3("s", &bad, 1000),
            Err(SignatureError::InvalidTimestamp)
        );
    }

    #[test]
    fn v3_refuses_timestamps_at_the_ends_of_the_range_without_overflowing() {
        let check = |timestamp: &str, now_ms: i64| {
            let sig = sign_v3("s", "POST", "https://x.io/h", b"[]", timestamp);
            let req = SignedRequest {
                method: "POST",
                uri: "https://x.io/h",
                body: b"[]",
                signature: &sig,
                timestamp,
            };
            assert_eq!(
                verify_v3("s", &req, now_ms),
                Err(SignatureError::Expired),
                "{timestamp} at {now_ms}"
            );
        };
        check(&i64::MIN.to_string(), 1_700_000_000_000);
        check(&i64::MIN.to_string(), 0);
        check(&i64::MAX.to_string(), -1_700_000_000_000);
        check(&i64::MAX.to_string(), i64::MIN);
        check("0", i64::MIN);
        check("-1", i64::MAX);
    }
}
