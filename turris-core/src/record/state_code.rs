use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Every code [`StateCode::parse`] accepts: the 50 states, DC, and the inhabited territories
/// (American Samoa, Guam, Northern Mariana Islands, Puerto Rico, US Virgin Islands).
pub const US_STATE_CODES: [&str; 56] = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
    "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY",
    "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV",
    "WI", "WY", "DC", "AS", "GU", "MP", "PR", "VI",
];

/// A 2-letter US state code, as Turris stores it.
///
/// Parsing is exact: upper case, no surrounding whitespace, so `"ny"` and `"NY "` are refused
/// like `"New York"`, and the mapping engine reports them as skipped fields.
///
/// ```
/// use turris_core::StateCode;
///
/// assert_eq!(StateCode::parse("NY").unwrap().as_str(), "NY");
/// assert_eq!(StateCode::parse("PR").unwrap().as_str(), "PR");
/// assert!(StateCode::parse("ny").is_err());
/// assert!(StateCode::parse("XX").is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StateCode(u8);

#[cfg(feature = "openapi")]
crate::openapi::string_schema!(
    StateCode,
    "A 2-letter US state code, upper case (territories included).",
    "^[A-Z]{2}$",
    "NY"
);

impl StateCode {
    /// Parses a state code.
    pub fn parse(value: &str) -> Result<Self> {
        US_STATE_CODES
            .iter()
            .position(|code| *code == value)
            .map(|index| Self(index as u8))
            .ok_or(Error::InvalidStateCode)
    }

    /// The code, e.g. `NY`.
    pub fn as_str(self) -> &'static str {
        US_STATE_CODES[usize::from(self.0)]
    }
}

impl fmt::Display for StateCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for StateCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StateCode({})", self.as_str())
    }
}

impl TryFrom<String> for StateCode {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(&value)
    }
}

impl From<StateCode> for String {
    fn from(code: StateCode) -> String {
        code.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_code_parses_and_the_list_has_no_duplicates() {
        let mut seen = std::collections::HashSet::new();
        for code in US_STATE_CODES {
            assert_eq!(StateCode::parse(code).unwrap().as_str(), code);
            assert!(seen.insert(code), "{code} listed twice");
        }
        assert_eq!(seen.len(), 56);
    }

    #[test]
    fn anything_but_an_exact_code_is_refused() {
        fn check(input: &str, ok: bool) {
            assert_eq!(StateCode::parse(input).is_ok(), ok, "{input:?}");
        }
        check("NY", true);
        check("DC", true);
        check("VI", true);
        check("ny", false);
        check("Ny", false);
        check(" NY", false);
        check("NY ", false);
        check("New York", false);
        check("XX", false);
        check("", false);
        check("UM", false);
    }

    #[test]
    fn state_codes_serialize_as_strings() {
        let code: StateCode = serde_json::from_str("\"TX\"").unwrap();
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"TX\"");
        assert!(serde_json::from_str::<StateCode>("\"tx\"").is_err());
    }
}
