//! Identifier newtypes. Each has a `parse` constructor; ids are opaque strings chosen by the
//! caller (the server uses UUIDs), so the domain stays free of randomness.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $example:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            #[doc = concat!("Parses a ", $kind, ": 1 to 128 characters from `A-Z a-z 0-9 - _ .`.")]
            ///
            /// ```
            #[doc = concat!("use turris_core::ids::", stringify!($name), ";")]
            ///
            #[doc = concat!("let id = ", stringify!($name), "::parse(\"", $example, "\").unwrap();")]
            #[doc = concat!("assert_eq!(id.as_str(), \"", $example, "\");")]
            #[doc = concat!("assert!(", stringify!($name), "::parse(\"no spaces\").is_err());")]
            /// ```
            pub fn parse(value: &str) -> Result<Self> {
                if !value.is_empty() && value.len() <= 128 && value.chars().all(is_id_char) {
                    Ok(Self(value.to_owned()))
                } else {
                    Err(Error::InvalidId { kind: $kind })
                }
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(value: String) -> Result<Self> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        #[cfg(feature = "openapi")]
        crate::openapi::string_schema!(
            $name,
            concat!("An opaque ", $kind, ": 1 to 128 characters from `A-Z a-z 0-9 - _ .`."),
            "^[A-Za-z0-9._-]{1,128}$",
            $example
        );
    };
}

string_id!(
    /// A Turris organization (the tenant). Every stored value belongs to exactly one.
    OrganizationId,
    "organization id",
    "org-1"
);
string_id!(
    /// A Turris agency.
    AgencyId,
    "agency id",
    "agency-1"
);
string_id!(
    /// A Turris agent.
    AgentId,
    "agent id",
    "agent-1"
);
string_id!(
    /// A contact person of a Turris agency.
    AgencyContactId,
    "agency contact id",
    "contact-1"
);
string_id!(
    /// A Turris contract (producer agreement) template.
    ContractTemplateId,
    "contract template id",
    "standard-agreement"
);

/// A HubSpot object id (a company or contact id): 1 to 20 ASCII digits.
///
/// ```
/// use turris_core::ids::HubSpotId;
///
/// assert_eq!(HubSpotId::parse("12345").unwrap().as_str(), "12345");
/// assert!(HubSpotId::parse("12a").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HubSpotId(String);

impl HubSpotId {
    /// Parses a HubSpot object id.
    pub fn parse(value: &str) -> Result<Self> {
        if !value.is_empty() && value.len() <= 20 && value.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(value.to_owned()))
        } else {
            Err(Error::InvalidHubSpotId)
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HubSpotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for HubSpotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HubSpotId({:?})", self.0)
    }
}

impl TryFrom<String> for HubSpotId {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(&value)
    }
}

impl From<HubSpotId> for String {
    fn from(id: HubSpotId) -> String {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_only_safe_characters_and_lengths() {
        fn check(input: &str, ok: bool) {
            assert_eq!(AgencyId::parse(input).is_ok(), ok, "{input:?}");
        }
        check("agency-1", true);
        check("0190f1e2-7c1a-7b2e-9d3c-1a2b3c4d5e6f", true);
        check("a.b_c", true);
        check("", false);
        check("has space", false);
        check("slash/es", false);
        check(&"x".repeat(128), true);
        check(&"x".repeat(129), false);
    }

    #[test]
    fn hubspot_ids_are_digits_only() {
        fn check(input: &str, ok: bool) {
            assert_eq!(HubSpotId::parse(input).is_ok(), ok, "{input:?}");
        }
        check("1", true);
        check("18446744073709551615", true);
        check("", false);
        check("-1", false);
        check("123456789012345678901", false);
    }

    #[test]
    fn ids_serialize_as_plain_strings_and_reject_bad_input() {
        let id: AgencyId = serde_json::from_str("\"agency-7\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"agency-7\"");
        assert!(serde_json::from_str::<AgencyId>("\"bad id\"").is_err());
        assert!(serde_json::from_str::<HubSpotId>("\"x1\"").is_err());
    }
}
