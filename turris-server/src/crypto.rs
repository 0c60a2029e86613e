//! Encryption at rest and token hashing.
//!
//! - [`EncryptionKey`]: the AES-256 key from config (64 hex characters or base64 of 32 bytes);
//!   its `Debug` is redacted. Its [`KeyId`] names it in sealed values and errors without
//!   revealing it.
//! - [`KeyRing`]: the current key, which seals, and previous keys, which only open (key
//!   rotation); read from `TURRIS_ENCRYPTION_KEY` or a key file ([`KeyRing::parse_file`]).
//! - [`Cipher`]: AES-256-GCM with a fresh random 96-bit nonce per value, stored as
//!   `"tk1\0" || key id || nonce || ciphertext || tag`. Values sealed before key ids existed
//!   (`nonce || ciphertext || tag`) still open: every configured key is tried. Every value is
//!   sealed with associated data naming where it lives (`"hubspot-auth:org-1"`), so a
//!   ciphertext copied into another row or organization does not decrypt.
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
    /// The value names a key that is not configured.
    #[error("sealed with key {0}, which is not configured")]
    UnknownKey(KeyId),
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

    /// The key's id: what sealed values and error messages name it by.
    ///
    /// ```
    /// use turris_server::crypto::EncryptionKey;
    ///
    /// let key = EncryptionKey::parse(&"0f".repeat(32)).unwrap();
    /// assert_eq!(key.id().to_string().len(), 16);
    /// assert!(!key.to_hex().contains(&key.id().to_string()));
    /// ```
    pub fn id(&self) -> KeyId {
        let digest = Sha256::new()
            .chain_update(b"turris encryption key id v1\0")
            .chain_update(self.0)
            .finalize();
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        KeyId(id)
    }
}

/// A key's public name: the first 8 bytes of a domain-separated SHA-256 of the key, shown as
/// 16 hex characters. It tells keys apart; it reveals nothing usable about the key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId([u8; 8]);

impl KeyId {
    /// The 8 bytes stored in a sealed value.
    pub fn as_bytes(&self) -> &[u8; 8] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// Why a key file was refused. Messages name lines, never their content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileError {
    /// The file holds no key.
    #[error("the key file holds no key")]
    Empty,
    /// A line is not a key.
    #[error("line {line} of the key file is not a key (64 hex characters or base64 of 32 bytes)")]
    InvalidLine {
        /// 1-based.
        line: usize,
    },
    /// The same key twice.
    #[error("line {line} of the key file repeats the key of line {first}")]
    Duplicate {
        /// 1-based.
        line: usize,
        /// Where it first appears.
        first: usize,
    },
}

/// The keys a server holds: the current one seals and opens, previous ones only open.
#[derive(Clone)]
pub struct KeyRing {
    current: EncryptionKey,
    previous: Vec<EncryptionKey>,
}

impl KeyRing {
    /// One key, no previous ones.
    pub fn new(current: EncryptionKey) -> Self {
        Self {
            current,
            previous: Vec::new(),
        }
    }

    /// The current key and keys accepted for opening only.
    pub fn with_previous(current: EncryptionKey, previous: Vec<EncryptionKey>) -> Self {
        Self { current, previous }
    }

    /// Reads a key file: one key per line (64 hex characters or base64 of 32 bytes); the
    /// first is the current key, every later one a previous key, accepted for decryption only.
    /// Blank lines and lines starting with `#` are ignored.
    ///
    /// ```
    /// use turris_server::crypto::KeyRing;
    ///
    /// let file = format!("# rotated 2026-12-04\n{}\n\n{}\n", "0a".repeat(32), "0b".repeat(32));
    /// let ring = KeyRing::parse_file(&file).unwrap();
    /// assert_eq!(ring.previous().len(), 1);
    /// assert!(KeyRing::parse_file("# nothing\n").is_err());
    /// ```
    pub fn parse_file(text: &str) -> Result<Self, KeyFileError> {
        let mut keys: Vec<(usize, EncryptionKey)> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let key = EncryptionKey::parse(line)
                .map_err(|_| KeyFileError::InvalidLine { line: line_no })?;
            if let Some((first, _)) = keys.iter().find(|(_, k)| k.id() == key.id()) {
                return Err(KeyFileError::Duplicate {
                    line: line_no,
                    first: *first,
                });
            }
            keys.push((line_no, key));
        }
        let mut keys = keys.into_iter().map(|(_, k)| k);
        let current = keys.next().ok_or(KeyFileError::Empty)?;
        Ok(Self::with_previous(current, keys.collect()))
    }

    /// The key that seals.
    pub fn current(&self) -> &EncryptionKey {
        &self.current
    }

    /// The keys that only open.
    pub fn previous(&self) -> &[EncryptionKey] {
        &self.previous
    }

    /// Every key, the current one first.
    pub fn all(&self) -> impl Iterator<Item = &EncryptionKey> {
        std::iter::once(&self.current).chain(&self.previous)
    }

    /// How to name a configured key in a message: `current key 1a2b…` or `previous key 2 …`.
    pub fn describe(&self, id: KeyId) -> Option<String> {
        if self.current.id() == id {
            return Some(format!("the current key (id {id})"));
        }
        self.previous
            .iter()
            .position(|k| k.id() == id)
            .map(|n| format!("previous key {} (id {id})", n + 1))
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("current", &self.current.id())
            .field(
                "previous",
                &self
                    .previous
                    .iter()
                    .map(EncryptionKey::id)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl From<EncryptionKey> for KeyRing {
    fn from(key: EncryptionKey) -> Self {
        Self::new(key)
    }
}

/// Which key a sealed value names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SealedWith {
    /// A value with a key id.
    Key(KeyId),
    /// A value sealed before key ids were recorded.
    Unversioned,
}

impl SealedWith {
    /// Reads the header of a sealed value.
    pub fn of(sealed: &[u8]) -> Self {
        match versioned(sealed) {
            Some((id, _)) => SealedWith::Key(id),
            None => SealedWith::Unversioned,
        }
    }
}

/// The first bytes of a sealed value with a key id.
const MAGIC: &[u8; 4] = b"tk1\0";
const KEY_ID_LEN: usize = 8;
const TAG_LEN: usize = 16;

fn versioned(sealed: &[u8]) -> Option<(KeyId, &[u8])> {
    let rest = sealed.strip_prefix(MAGIC.as_slice())?;
    if rest.len() < KEY_ID_LEN + NONCE_LEN + TAG_LEN {
        return None;
    }
    let (id, body) = rest.split_at(KEY_ID_LEN);
    Some((KeyId(id.try_into().expect("eight bytes")), body))
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionKey([redacted])")
    }
}

/// AES-256-GCM with a random nonce per value, under a [`KeyRing`].
#[derive(Clone)]
pub struct Cipher {
    current: KeyId,
    keys: Vec<(KeyId, Aes256Gcm)>,
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cipher([redacted])")
    }
}

impl Cipher {
    /// A cipher under one key.
    pub fn new(key: &EncryptionKey) -> Self {
        Self::with_keys(&KeyRing::new(key.clone()))
    }

    /// A cipher that seals with the ring's current key and opens with any of its keys.
    pub fn with_keys(ring: &KeyRing) -> Self {
        Self {
            current: ring.current().id(),
            keys: ring
                .all()
                .map(|k| (k.id(), Aes256Gcm::new(&k.0.into())))
                .collect(),
        }
    }

    /// The id of the key that seals.
    pub fn current_key(&self) -> KeyId {
        self.current
    }

    /// Whether `sealed` is already sealed with the current key (nothing to re-seal).
    pub fn is_current(&self, sealed: &[u8]) -> bool {
        SealedWith::of(sealed) == SealedWith::Key(self.current)
    }

    /// Seals `plaintext` for the place named by `aad`:
    /// `"tk1\0" || key id || nonce || ciphertext || tag`.
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
        let aead = &self.keys[0].1;
        let sealed = aead
            .encrypt(
                nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| CryptoError::Decrypt)?;
        let mut out = Vec::with_capacity(MAGIC.len() + KEY_ID_LEN + NONCE_LEN + sealed.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.current.0);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens a value sealed by [`Cipher::encrypt`] with the same `aad`, under any key of the
    /// ring; values without a key id (sealed before ids existed) are tried with every key.
    pub fn decrypt(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if let Some((id, body)) = versioned(sealed) {
            match self.keys.iter().find(|(k, _)| *k == id) {
                Some((_, aead)) => {
                    if let Ok(plain) = open(aead, body, aad) {
                        return Ok(plain);
                    }
                }
                // An unversioned value whose random nonce begins like a header (2^-32) is
                // still tried below; otherwise the key is missing.
                None if self.open_unversioned(sealed, aad).is_err() => {
                    return Err(CryptoError::UnknownKey(id));
                }
                None => {}
            }
        }
        self.open_unversioned(sealed, aad)
    }

    fn open_unversioned(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.keys
            .iter()
            .find_map(|(_, aead)| open(aead, sealed, aad).ok())
            .ok_or(CryptoError::Decrypt)
    }
}

/// `nonce || ciphertext || tag` under one key.
fn open(aead: &Aes256Gcm, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < NONCE_LEN {
        return Err(CryptoError::Decrypt);
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    aead.decrypt(
        Nonce::from_slice(nonce),
        Payload {
            msg: ciphertext,
            aad,
        },
    )
    .map_err(|_| CryptoError::Decrypt)
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
        assert_eq!(a.len(), MAGIC.len() + KEY_ID_LEN + NONCE_LEN + 4 + 16);
    }

    #[test]
    fn tampered_or_foreign_ciphertexts_do_not_decrypt() {
        let cipher = Cipher::new(&EncryptionKey::generate().unwrap());
        let mut sealed = cipher.encrypt(b"secret", b"a").unwrap();
        let other = Cipher::new(&EncryptionKey::generate().unwrap());
        assert!(matches!(
            other.decrypt(&sealed, b"a"),
            Err(CryptoError::UnknownKey(_))
        ));
        assert_eq!(
            cipher.decrypt(&sealed[..5], b"a"),
            Err(CryptoError::Decrypt)
        );
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(cipher.decrypt(&sealed, b"a"), Err(CryptoError::Decrypt));
    }

    /// What `Cipher::encrypt` wrote before sealed values carried a key id.
    fn seal_unversioned(key: &EncryptionKey, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let nonce = random_bytes::<NONCE_LEN>().unwrap();
        let aead = Aes256Gcm::new(&key.0.into());
        let mut out = nonce.to_vec();
        out.extend(
            aead.encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .unwrap(),
        );
        out
    }

    #[test]
    fn sealed_values_name_their_key_and_old_unversioned_values_still_open() {
        let key = EncryptionKey::generate().unwrap();
        let cipher = Cipher::new(&key);
        let sealed = cipher.encrypt(b"v", b"aad").unwrap();
        assert_eq!(SealedWith::of(&sealed), SealedWith::Key(key.id()));
        assert!(cipher.is_current(&sealed));
        let old = seal_unversioned(&key, b"old", b"aad");
        assert_eq!(SealedWith::of(&old), SealedWith::Unversioned);
        assert!(!cipher.is_current(&old));
        assert_eq!(cipher.decrypt(&old, b"aad").unwrap(), b"old");
        assert_eq!(cipher.decrypt(&old, b"other"), Err(CryptoError::Decrypt));
    }

    #[test]
    fn previous_keys_open_but_only_the_current_key_seals() {
        let old = EncryptionKey::generate().unwrap();
        let new = EncryptionKey::generate().unwrap();
        let before = Cipher::new(&old).encrypt(b"v", b"a").unwrap();
        let unversioned = seal_unversioned(&old, b"u", b"a");
        let rotated = Cipher::with_keys(&KeyRing::with_previous(new.clone(), vec![old.clone()]));
        assert_eq!(rotated.decrypt(&before, b"a").unwrap(), b"v");
        assert_eq!(rotated.decrypt(&unversioned, b"a").unwrap(), b"u");
        let after = rotated.encrypt(b"v", b"a").unwrap();
        assert_eq!(SealedWith::of(&after), SealedWith::Key(new.id()));
        assert!(!rotated.is_current(&before));
        let without_old = Cipher::new(&new);
        assert_eq!(
            without_old.decrypt(&before, b"a"),
            Err(CryptoError::UnknownKey(old.id())),
            "the error names the missing key"
        );
        assert_eq!(
            without_old.decrypt(&unversioned, b"a"),
            Err(CryptoError::Decrypt)
        );
    }

    #[test]
    fn key_files_list_the_current_key_first_and_refuse_bad_lines_by_number() {
        let a = "0a".repeat(32);
        let b = base64::engine::general_purpose::STANDARD.encode([0x0b; 32]);
        let ring = KeyRing::parse_file(&format!("# keys\n\n{a}\n  {b}  \n")).unwrap();
        assert_eq!(ring.current().to_hex(), a);
        assert_eq!(ring.previous().len(), 1);
        assert_eq!(
            ring.describe(ring.current().id()).unwrap(),
            format!("the current key (id {})", ring.current().id())
        );
        fn check(text: &str, expected: KeyFileError) {
            let error = KeyRing::parse_file(text).unwrap_err();
            assert_eq!(error, expected, "{text:?}");
            assert!(!error.to_string().contains("zz"), "no content in {error}");
        }
        check("", KeyFileError::Empty);
        check("# only a comment", KeyFileError::Empty);
        check(
            &format!("{a}\nzzzz-not-a-key\n"),
            KeyFileError::InvalidLine { line: 2 },
        );
        check(
            &format!("{a}\n{a}\n"),
            KeyFileError::Duplicate { line: 2, first: 1 },
        );
        assert!(!format!("{ring:?}").contains(&a));
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
