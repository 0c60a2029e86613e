//! Encryption at rest and token hashing.
//!
//! - [`EncryptionKey`]: the AES-256 key from config (64 hex characters or base64 of 32 bytes);
//!   its `Debug` is redacted.
//! - [`Cipher`]: AES-256-GCM with a fresh random 96-bit nonce per value, stored as
//!   `nonce || ciphertext || tag`. Every value is sealed with associated data naming where it
//!   lives (`"hubspot-auth:org-1"`), so a ciphertext copied into another row or organization
//!   does not decrypt.
//! - [`ApiToken`] and [`TokenHash`]: bearer tokens are random, shown once, and stored as their
//!   SHA-256. Lookup is by hash: the database compares digests of attacker input, never the
//!   token itself, so its timing reveals nothing usable (finding a token from a digest prefix
//!   is a preimage search). Comparing two hashes in memory ([`TokenHash`]'s `PartialEq`, used
//!   for the bootstrap admin token) is constant-time.
//! - [`SecretString`]: OAuth and private-app tokens in memory, with a redacted `Debug`.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Why a key, token or ciphertext was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The key is neither 64 hex characters nor base64 of 32 bytes.
    #[error("encryption key must be 64 hex characters or base64 of 32 bytes")]
    InvalidKey,
    /// The ciphertext is damaged, was sealed under another key or for another place.
    #[error("ciphertext does not decrypt")]
    Decrypt,
    /// The operating system's random source failed.
    #[error("random source unavailable")]
    Random,
}

const NONCE_LEN: usize = 12;

/// Fills a buffer from the operating system's random source.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|_| CryptoError::Random)?;
    Ok(bytes)
}

/// 32 random bytes as URL-safe base64 without padding (43 characters): OAuth `state` values.
pub fn random_token_text() -> Result<String, CryptoError> {
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// The AES-256 key that seals tokens and secrets at rest.
#[derive(Clone)]
pub struct EncryptionKey([u8; 32]);

impl EncryptionKey {
    /// Parses 64 hex characters (either case) or standard base64 of exactly 32 bytes.
    ///
    /// ```
    /// use turris_server::crypto::EncryptionKey;
    ///
    /// let key = EncryptionKey::parse(&"0f".repeat(32)).unwrap();
    /// assert_eq!(format!("{key:?}"), "EncryptionKey([redacted])");
    /// assert!(EncryptionKey::parse("short").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, CryptoError> {
        let text = text.trim();
        let mut key = [0u8; 32];
        if text.len() == 64 && hex::decode_to_slice(text, &mut key).is_ok() {
            return Ok(Self(key));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| CryptoError::InvalidKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::InvalidKey)?;
        Ok(Self(key))
    }

    /// A fresh random key (tests, `demo`).
    pub fn generate() -> Result<Self, CryptoError> {
        random_bytes().map(Self)
    }

    /// The key as 64 hex characters, to print once when generating one.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionKey([redacted])")
    }
}

/// AES-256-GCM with a random nonce per value.
#[derive(Clone)]
pub struct Cipher {
    aead: Aes256Gcm,
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cipher([redacted])")
    }
}

impl Cipher {
    /// A cipher under `key`.
    pub fn new(key: &EncryptionKey) -> Self {
        Self {
            aead: Aes256Gcm::new(&key.0.into()),
        }
    }

    /// Seals `plaintext` for the place named by `aad`: `nonce || ciphertext || tag`.
    ///
    /// ```
    /// use turris_server::crypto::{Cipher, EncryptionKey};
    ///
    /// let cipher = Cipher::new(&EncryptionKey::generate().unwrap());
    /// let sealed = cipher.encrypt(b"hello", b"place").unwrap();
    /// assert_eq!(cipher.decrypt(&sealed, b"place").unwrap(), b"hello");
    /// assert!(cipher.decrypt(&sealed, b"elsewhere").is_err());
    /// ```
    pub fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce_bytes = random_bytes::<NONCE_LEN>()?;
        let nonce = Nonce::from_slice(&nonce_bytes);
        let sealed = self
            .aead
            .encrypt(
                nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| CryptoError::Decrypt)?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens a value sealed by [`Cipher::encrypt`] with the same `aad`.
    pub fn decrypt(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < NONCE_LEN {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        self.aead
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| CryptoError::Decrypt)
    }
}

/// A secret string (an OAuth or private-app token) whose `Debug` is redacted.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretString {
    fn from(secret: String) -> Self {
        Self(secret)
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([redacted])")
    }
}

/// The prefix of every API token, so leaked tokens are easy to recognise and scan for.
pub const API_TOKEN_PREFIX: &str = "trs_";

/// A bearer API token in clear: returned once when minted, never stored.
#[derive(Clone)]
pub struct ApiToken(String);

impl ApiToken {
    /// A fresh token: `trs_` + 43 URL-safe base64 characters (256 random bits).
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(Self(format!("{API_TOKEN_PREFIX}{}", random_token_text()?)))
    }

    /// Wraps a token presented by a client (or configured as the bootstrap admin token).
    pub fn from_presented(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The token text, to show once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the database stores and looks up.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken([redacted])")
    }
}

/// The SHA-256 of a token (API token or OAuth `state`). Equality is constant-time.
#[derive(Clone, Copy, Eq)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// The hash of `token`.
    ///
    /// ```
    /// use turris_server::crypto::TokenHash;
    ///
    /// assert_eq!(TokenHash::of("a"), TokenHash::of("a"));
    /// assert_ne!(TokenHash::of("a"), TokenHash::of("b"));
    /// ```
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// From stored bytes; `None` unless exactly 32.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl PartialEq for TokenHash {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A digest is not secret, but short is enough to tell two apart in a log.
        write!(f, "TokenHash({}…)", hex::encode(&self.0[..4]))
    }
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_from_hex_or_base64_of_32_bytes() {
        fn check(text: &str, ok: bool) {
            assert_eq!(EncryptionKey::parse(text).is_ok(), ok, "{text:?}");
        }
        check(&"ab".repeat(32), true);
        check(&"AB".repeat(32), true);
        check(
            &base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
            true,
        );
        check(&"ab".repeat(31), false);
        check(
            &base64::engine::general_purpose::STANDARD.encode([7u8; 31]),
            false,
        );
        check("", false);
        check(&"zz".repeat(32), false);
    }

    #[test]
    fn hex_and_base64_of_the_same_bytes_are_the_same_key() {
        let cipher = Cipher::new(&EncryptionKey::parse(&"07".repeat(32)).unwrap());
        let sealed = cipher.encrypt(b"x", b"aad").unwrap();
        let other = Cipher::new(
            &EncryptionKey::parse(&base64::engine::general_purpose::STANDARD.encode([7u8; 32]))
                .unwrap(),
        );
        assert_eq!(other.decrypt(&sealed, b"aad").unwrap(), b"x");
    }

    #[test]
    fn each_encryption_uses_a_fresh_nonce() {
        let cipher = Cipher::new(&EncryptionKey::generate().unwrap());
        let a = cipher.encrypt(b"same", b"").unwrap();
        let b = cipher.encrypt(b"same", b"").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), NONCE_LEN + 4 + 16);
    }

    #[test]
    fn tampered_or_foreign_ciphertexts_do_not_decrypt() {
        let cipher = Cipher::new(&EncryptionKey::generate().unwrap());
        let mut sealed = cipher.encrypt(b"secret", b"a").unwrap();
        let other = Cipher::new(&EncryptionKey::generate().unwrap());
        assert_eq!(other.decrypt(&sealed, b"a"), Err(CryptoError::Decrypt));
        assert_eq!(
            cipher.decrypt(&sealed[..5], b"a"),
            Err(CryptoError::Decrypt)
        );
        sealed[NONCE_LEN] ^= 1;
        assert_eq!(cipher.decrypt(&sealed, b"a"), Err(CryptoError::Decrypt));
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let token = ApiToken::generate().unwrap();
        assert!(token.expose().starts_with(API_TOKEN_PREFIX));
        assert_eq!(token.expose().len(), API_TOKEN_PREFIX.len() + 43);
        assert!(!format!("{token:?}").contains(token.expose()));
        let secret = SecretString::new("hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert!(!format!("{:?}", token.hash()).contains(&hex::encode(token.hash().as_bytes())));
    }

    #[test]
    fn constant_time_eq_compares_whole_slices() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
