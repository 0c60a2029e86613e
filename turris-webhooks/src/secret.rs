//! Webhook signing secrets: 32 random bytes shown once as 64 lower-case hex characters.

use std::fmt;

/// Length of a webhook secret in bytes.
pub const SECRET_LEN: usize = 32;

/// Why a secret could not be parsed or generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The text is not 64 characters long.
    #[error("secret must be 64 hex characters, got {0}")]
    WrongLength(usize),
    /// The text has a character outside `0-9a-fA-F`.
    #[error("secret must contain only hex characters")]
    NotHex,
    /// The operating system's random source failed.
    #[error("os random source failed")]
    Random,
}

/// A webhook signing secret: 32 bytes, written as 64 lower-case hex characters.
///
/// The key used for HMAC-SHA256 is the decoded bytes, not the hex text. `Debug` prints
/// `[redacted]` and there is no `Display`: the hex form is only available through the explicit
/// [`WebhookSecret::to_hex`], for the one time it is shown to its owner.
///
/// ```
/// use turris_webhooks::WebhookSecret;
///
/// let secret = WebhookSecret::parse(&"ab".repeat(32)).unwrap();
/// assert_eq!(secret.masked(), "•••• abab");
/// assert_eq!(format!("{secret:?}"), "WebhookSecret([redacted])");
/// assert_eq!(secret.to_hex(), "ab".repeat(32));
/// ```
#[derive(Clone)]
pub struct WebhookSecret([u8; SECRET_LEN]);

impl PartialEq for WebhookSecret {
    /// Constant-time, so comparing secrets leaks nothing through timing.
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq as _;
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for WebhookSecret {}

impl WebhookSecret {
    /// A fresh secret from the operating system's random source.
    pub fn generate() -> Result<Self, SecretError> {
        let mut bytes = [0u8; SECRET_LEN];
        getrandom::fill(&mut bytes).map_err(|_| SecretError::Random)?;
        Ok(Self(bytes))
    }

    /// Parses 64 hex characters (either case).
    pub fn parse(hex_text: &str) -> Result<Self, SecretError> {
        if hex_text.len() != SECRET_LEN * 2 {
            return Err(SecretError::WrongLength(hex_text.chars().count()));
        }
        let mut bytes = [0u8; SECRET_LEN];
        hex::decode_to_slice(hex_text, &mut bytes).map_err(|_| SecretError::NotHex)?;
        Ok(Self(bytes))
    }

    /// A secret with the given key bytes.
    pub fn from_bytes(bytes: [u8; SECRET_LEN]) -> Self {
        Self(bytes)
    }

    /// The key bytes: what HMAC-SHA256 is keyed with.
    pub fn as_bytes(&self) -> &[u8; SECRET_LEN] {
        &self.0
    }

    /// The full secret as 64 lower-case hex characters. Show it once, then never again.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The secret as Standard Webhooks libraries expect it: `whsec_` + base64 of the key bytes.
    pub fn to_standard_webhooks(&self) -> String {
        use base64::Engine as _;
        format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(self.0)
        )
    }

    /// `•••• ` followed by the last four hex characters, for lists.
    pub fn masked(&self) -> String {
        let hex = hex::encode(&self.0[SECRET_LEN - 2..]);
        format!("•••• {hex}")
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_64_lower_case_hex_characters_and_differ() {
        let a = WebhookSecret::generate().unwrap();
        let b = WebhookSecret::generate().unwrap();
        assert_ne!(a, b);
        let hex = a.to_hex();
        assert_eq!(hex.len(), 64);
        assert!(
            hex.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        );
        assert_eq!(WebhookSecret::parse(&hex).unwrap(), a);
    }

    #[test]
    fn parse_accepts_upper_case_and_rejects_bad_input() {
        let upper = "AB".repeat(32);
        assert_eq!(
            WebhookSecret::parse(&upper).unwrap().to_hex(),
            "ab".repeat(32)
        );
        assert_eq!(
            WebhookSecret::parse("abc"),
            Err(SecretError::WrongLength(3))
        );
        assert_eq!(
            WebhookSecret::parse(&"zz".repeat(32)),
            Err(SecretError::NotHex)
        );
        assert_eq!(
            WebhookSecret::parse(&"é".repeat(32)),
            Err(SecretError::NotHex)
        );
    }

    #[test]
    fn masked_shows_only_the_last_four_hex_characters() {
        let mut bytes = [0u8; 32];
        bytes[30] = 0x12;
        bytes[31] = 0xef;
        assert_eq!(WebhookSecret::from_bytes(bytes).masked(), "•••• 12ef");
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let s = WebhookSecret::parse(&"5a".repeat(32)).unwrap();
        let dbg = format!("{s:?} {:#?}", Some(&s));
        assert!(!dbg.contains("5a5a"));
        assert!(dbg.contains("[redacted]"));
    }
}
