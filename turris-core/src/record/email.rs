use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// An email address, checked the one way every Turris rule checks it: deliberately small, no
/// whitespace and one `@` with text on both sides. Kept as written.
///
/// ```
/// use turris_core::record::Email;
///
/// assert_eq!(Email::parse("ada@example.com").unwrap().as_str(), "ada@example.com");
/// for bad in ["", "ada", "@example.com", "ada@", "a@b@c", "ada @example.com"] {
///     assert!(Email::parse(bad).is_err(), "{bad:?}");
/// }
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

#[cfg(feature = "openapi")]
crate::openapi::string_schema!(
    Email,
    "An email address: no whitespace, one `@` with text on both sides.",
    "^[^@\\s]+@[^@\\s]+$",
    "ada@example.com"
);

impl Email {
    /// Parses an address; no trimming.
    pub fn parse(value: &str) -> Result<Self> {
        if Self::is_valid(value) {
            Ok(Self(value.to_owned()))
        } else {
            Err(Error::InvalidEmail)
        }
    }

    /// Whether `value` is an address [`Email::parse`] accepts.
    pub fn is_valid(value: &str) -> bool {
        match value.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && !value.chars().any(char::is_whitespace)
            }
            None => false,
        }
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({:?})", self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(email: Email) -> String {
        email.0
    }
}
