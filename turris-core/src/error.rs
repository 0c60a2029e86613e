//! Errors: the crate's [`Error`] for rejected values, and [`FieldError`] for validation that
//! reports every problem at once.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A value that could not be parsed into one of the crate's newtypes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An NPN must be 1 to 10 ASCII digits.
    #[error("invalid npn: expected 1 to 10 digits")]
    InvalidNpn,
    /// An email must have one `@` with text on both sides and no whitespace.
    #[error("invalid email: expected an address like ada@example.com")]
    InvalidEmail,
    /// A state code must be one of the US codes (50 states, DC and territories).
    #[error("invalid state code: expected a 2-letter US code such as NY")]
    InvalidStateCode,
    /// An identifier is empty, too long or has characters other than `A-Z a-z 0-9 - _ .`.
    #[error("invalid {kind}: expected 1 to 128 characters from A-Z, a-z, 0-9, '-', '_', '.'")]
    InvalidId {
        /// Which kind of identifier, e.g. `agency id`.
        kind: &'static str,
    },
    /// A HubSpot object id must be 1 to 20 ASCII digits.
    #[error("invalid hubspot id: expected 1 to 20 digits")]
    InvalidHubSpotId,
    /// A permission grant must read `area:capability`, e.g. `webhooks:read`.
    #[error("invalid grant: expected area:capability, e.g. webhooks:read")]
    InvalidGrant,
    /// An activity cursor was not produced by this crate.
    #[error("invalid activity cursor")]
    InvalidCursor,
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One validation problem, with the path of the field it belongs to.
///
/// Paths are dot-separated (`agency.identifier.value`); list items use brackets
/// (`invitations.rules[1].template`). Functions that validate a nested value return paths
/// relative to that value, and the caller nests them with [`FieldError::under`] or
/// [`prefix_all`].
///
/// ```
/// use turris_core::FieldError;
///
/// let error = FieldError::new("value", "value is required").under("agency.identifier");
/// assert_eq!(error.path, "agency.identifier.value");
/// assert_eq!(error.to_string(), "agency.identifier.value: value is required");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// Where the problem is, e.g. `agency.identifier.value`.
    pub path: String,
    /// What is wrong, short and lower-case.
    pub message: String,
}

impl FieldError {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The same problem, nested under `prefix` (`"agency"` + `"name"` = `"agency.name"`).
    pub fn under(mut self, prefix: &str) -> Self {
        self.path = join_path(prefix, &self.path);
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Nests every error under `prefix`; see [`FieldError::under`].
///
/// ```
/// use turris_core::{FieldError, error::prefix_all};
///
/// let errors = prefix_all("agent", vec![FieldError::new("first_name", "first name is required")]);
/// assert_eq!(errors[0].path, "agent.first_name");
/// ```
pub fn prefix_all(prefix: &str, errors: Vec<FieldError>) -> Vec<FieldError> {
    errors.into_iter().map(|e| e.under(prefix)).collect()
}

/// Joins two path segments: `a` + `b` = `a.b`, `a` + `[0]` = `a[0]`, `""` + `b` = `b`.
pub(crate) fn join_path(prefix: &str, path: &str) -> String {
    if prefix.is_empty() {
        path.to_owned()
    } else if path.is_empty() {
        prefix.to_owned()
    } else if path.starts_with('[') {
        format!("{prefix}{path}")
    } else {
        format!("{prefix}.{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_with_dots_and_brackets() {
        fn check(prefix: &str, path: &str, expected: &str) {
            assert_eq!(join_path(prefix, path), expected, "{prefix:?} + {path:?}");
        }
        check("agency", "name", "agency.name");
        check("agency.identifier", "value", "agency.identifier.value");
        check("rules", "[2]", "rules[2]");
        check("", "name", "name");
        check("agency.identifier", "", "agency.identifier");
    }
}
