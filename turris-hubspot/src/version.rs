//! Which of HubSpot's API versions the client calls, and the paths that follow from it.
//!
//! HubSpot numbered its APIs (`/crm/v3/objects`, `/crm/v4/associations`, `/oauth/v3/token`)
//! until 2026, and now ships date-based versions twice a year: `/crm/objects/2026-03/...`,
//! `/oauth/2026-03/token`. A version is current for six months and supported for eighteen; the
//! numbered APIs go unsupported in 2027. The 2026-03 objects API has v3's bodies, so a version
//! is a path change; the differences that are not ([`ApiVersion::enforces_validation`],
//! associations' `batch/archive` answering 200 with a body) are named where they matter.

use std::fmt;
use std::str::FromStr;

/// The version new installations use.
pub const DEFAULT_VERSION: ApiVersion = ApiVersion::Dated {
    year: 2026,
    month: 3,
};

/// A HubSpot API version: the numbered (legacy) APIs, or a date-based `YYYY-MM` version.
///
/// Parsed from and shown as `v3` or `2026-03`:
///
/// ```
/// use turris_hubspot::version::{Api, ApiVersion};
///
/// let dated: ApiVersion = "2026-03".parse().unwrap();
/// assert_eq!(dated.path(Api::Objects, "/contacts/batch/read"), "/crm/objects/2026-03/contacts/batch/read");
/// let legacy: ApiVersion = "v3".parse().unwrap();
/// assert_eq!(legacy.path(Api::Objects, "/contacts/batch/read"), "/crm/v3/objects/contacts/batch/read");
/// assert_eq!(legacy.path(Api::Associations, "/companies/contacts/batch/read"), "/crm/v4/associations/companies/contacts/batch/read");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ApiVersion {
    /// CRM v3 (associations v4, lists v3, OAuth v3): what existing installations speak.
    Legacy,
    /// A date-based version.
    Dated {
        /// Release year (2026 or later).
        year: u16,
        /// Release month: HubSpot releases in March (3) and September (9).
        month: u8,
    },
}

impl Default for ApiVersion {
    fn default() -> Self {
        DEFAULT_VERSION
    }
}

/// The API families whose paths carry a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Api {
    /// CRM objects: records, batch, search, notes, and one record's associations.
    Objects,
    /// Associations between object types in batches (`/crm/v4/associations`).
    Associations,
    /// One record's associations (`/crm/v4/objects/{from}/{id}/associations`): v4 in the
    /// numbered APIs, the objects API in dated versions.
    RecordAssociations,
    /// Property definitions.
    Properties,
    /// Lists and their memberships.
    Lists,
    /// Users who own records.
    Owners,
    /// OAuth token, introspection and revoke.
    OAuth,
    /// The portal's account details.
    AccountInfo,
    /// The webhooks journal (dated versions only).
    WebhooksJournal,
    /// The webhooks journal's subscriptions (dated versions only).
    WebhooksJournalSubscriptions,
}

impl Api {
    /// `(prefix, name, legacy number)`: a legacy path is `/{prefix}/{number}/{name}`, a dated
    /// one `/{prefix}/{name}/{date}` (with no name, `/{prefix}/{number|date}`).
    fn parts(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Api::Objects => ("crm", "objects", "v3"),
            Api::Associations => ("crm", "associations", "v4"),
            Api::RecordAssociations => ("crm", "objects", "v4"),
            Api::Properties => ("crm", "properties", "v3"),
            Api::Lists => ("crm", "lists", "v3"),
            Api::Owners => ("crm", "owners", "v3"),
            Api::OAuth => ("oauth", "", "v3"),
            Api::AccountInfo => ("account-info", "", "v3"),
            // Dated only: the numbered APIs have no journal; see `ApiVersion::path`.
            Api::WebhooksJournal => ("webhooks-journal", "journal", ""),
            Api::WebhooksJournalSubscriptions => ("webhooks-journal", "subscriptions", ""),
        }
    }
}

impl ApiVersion {
    /// The path of `rest` (starting with `/`, or empty) in `api` at this version. An API that
    /// exists only in dated versions (the webhooks journal) uses [`DEFAULT_VERSION`] when this
    /// is [`ApiVersion::Legacy`].
    pub fn path(self, api: Api, rest: &str) -> String {
        let (prefix, name, number) = api.parts();
        let this = if number.is_empty() && self == ApiVersion::Legacy {
            DEFAULT_VERSION
        } else {
            self
        };
        let version = match this {
            ApiVersion::Legacy => number.to_owned(),
            ApiVersion::Dated { year, month } => format!("{year:04}-{month:02}"),
        };
        match (this, name.is_empty()) {
            (_, true) => format!("/{prefix}/{version}{rest}"),
            (ApiVersion::Legacy, false) => format!("/{prefix}/{version}/{name}{rest}"),
            (ApiVersion::Dated { .. }, false) => format!("/{prefix}/{name}/{version}{rest}"),
        }
    }

    /// Whether HubSpot enforces the portal's admin-configured property validation on every CRM
    /// write (from 2026-09): a violation is a 400 `VALIDATION_ERROR` naming the property, which
    /// no retry fixes (see [`crate::HubSpotError::validation_failures`]).
    pub fn enforces_validation(self) -> bool {
        self >= ApiVersion::Dated {
            year: 2026,
            month: 9,
        }
    }

    /// Whether this is a date-based version.
    pub fn is_dated(self) -> bool {
        matches!(self, ApiVersion::Dated { .. })
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiVersion::Legacy => f.write_str("v3"),
            ApiVersion::Dated { year, month } => write!(f, "{year:04}-{month:02}"),
        }
    }
}

/// Why a string is not an [`ApiVersion`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a HubSpot API version: use `v3` or a date-based release such as `2026-03` \
     or `2026-09` (March or September, 2026 or later)"
)]
pub struct InvalidVersion(String);

impl FromStr for ApiVersion {
    type Err = InvalidVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidVersion(s.to_owned());
        let s = s.trim();
        if s.eq_ignore_ascii_case("v3") || s.eq_ignore_ascii_case("legacy") {
            return Ok(ApiVersion::Legacy);
        }
        let (year, month) = s.split_once('-').ok_or_else(invalid)?;
        if year.len() != 4 || month.len() != 2 {
            return Err(invalid());
        }
        let year: u16 = year.parse().map_err(|_| invalid())?;
        let month: u8 = month.parse().map_err(|_| invalid())?;
        if year < 2026 || !matches!(month, 3 | 9) {
            return Err(invalid());
        }
        Ok(ApiVersion::Dated { year, month })
    }
}

impl serde::Serialize for ApiVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ApiVersion {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2603: ApiVersion = ApiVersion::Dated {
        year: 2026,
        month: 3,
    };
    const V2609: ApiVersion = ApiVersion::Dated {
        year: 2026,
        month: 9,
    };

    #[test]
    fn every_api_has_its_legacy_and_dated_path() {
        let cases = [
            (Api::Objects, "/crm/v3/objects/x", "/crm/objects/2026-03/x"),
            (
                Api::Associations,
                "/crm/v4/associations/x",
                "/crm/associations/2026-03/x",
            ),
            (
                Api::RecordAssociations,
                "/crm/v4/objects/x",
                "/crm/objects/2026-03/x",
            ),
            (
                Api::Properties,
                "/crm/v3/properties/x",
                "/crm/properties/2026-03/x",
            ),
            (Api::Lists, "/crm/v3/lists/x", "/crm/lists/2026-03/x"),
            (Api::Owners, "/crm/v3/owners/x", "/crm/owners/2026-03/x"),
            (Api::OAuth, "/oauth/v3/x", "/oauth/2026-03/x"),
            (
                Api::AccountInfo,
                "/account-info/v3/x",
                "/account-info/2026-03/x",
            ),
            (
                Api::WebhooksJournal,
                "/webhooks-journal/journal/2026-03/x",
                "/webhooks-journal/journal/2026-03/x",
            ),
        ];
        for (api, legacy, dated) in cases {
            assert_eq!(ApiVersion::Legacy.path(api, "/x"), legacy, "{api:?}");
            assert_eq!(V2603.path(api, "/x"), dated, "{api:?}");
        }
        assert_eq!(V2609.path(Api::OAuth, "/token"), "/oauth/2026-09/token");
    }

    #[test]
    fn versions_parse_show_and_order() {
        assert_eq!("2026-03".parse::<ApiVersion>().unwrap(), V2603);
        assert_eq!(" 2026-09 ".parse::<ApiVersion>().unwrap(), V2609);
        assert_eq!("V3".parse::<ApiVersion>().unwrap(), ApiVersion::Legacy);
        for bad in [
            "",
            "v4",
            "2026-3",
            "2026-04",
            "2025-09",
            "26-03",
            "2026-03-01",
            "x-y",
        ] {
            let err = bad.parse::<ApiVersion>().unwrap_err();
            assert!(err.to_string().contains("2026-03"), "{bad}: {err}");
        }
        assert_eq!(V2609.to_string(), "2026-09");
        assert_eq!(ApiVersion::Legacy.to_string(), "v3");
        assert_eq!(ApiVersion::default(), V2603);
        assert!(ApiVersion::Legacy < V2603 && V2603 < V2609);
        assert!(V2609.enforces_validation());
        assert!(!V2603.enforces_validation() && !ApiVersion::Legacy.enforces_validation());
        let json = serde_json::to_string(&V2609).unwrap();
        assert_eq!(json, "\"2026-09\"");
        assert_eq!(serde_json::from_str::<ApiVersion>(&json).unwrap(), V2609);
        assert!(serde_json::from_str::<ApiVersion>("\"2026-13\"").is_err());
    }
}
