use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A National Producer Number: 1 to 10 ASCII digits, kept as written (leading zeros stay).
///
/// ```
/// use turris_core::Npn;
///
/// assert_eq!(Npn::parse("1234567").unwrap().as_str(), "1234567");
/// assert!(Npn::parse(" 1234567").is_err());
/// assert!(Npn::parse("12345678901").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Npn(String);

impl Npn {
    /// Parses an NPN; no trimming.
    pub fn parse(value: &str) -> Result<Self> {
        if (1..=10).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(value.to_owned()))
        } else {
            Err(Error::InvalidNpn)
        }
    }

    /// The NPN as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(feature = "openapi")]
crate::openapi::string_schema!(
    Npn,
    "A National Producer Number: 1 to 10 digits, leading zeros kept.",
    "^[0-9]{1,10}$",
    "1234567"
);

impl fmt::Display for Npn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Npn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Npn({:?})", self.0)
    }
}

impl TryFrom<String> for Npn {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(&value)
    }
}

impl From<Npn> for String {
    fn from(npn: Npn) -> String {
        npn.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npns_are_one_to_ten_digits_without_whitespace() {
        fn check(input: &str, ok: bool) {
            assert_eq!(Npn::parse(input).is_ok(), ok, "{input:?}");
        }
        check("1", true);
        check("0012345", true);
        check("1234567890", true);
        check("12345678901", false);
        check("", false);
        check("12 34", false);
        check("1234567 ", false);
        check("-123", false);
        check("12a", false);
    }
}
