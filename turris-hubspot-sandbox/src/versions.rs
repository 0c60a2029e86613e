//! Date-based API versions beside the numbered ones.
//!
//! HubSpot's 2026-03 objects, properties, associations, lists, owners, account and OAuth APIs
//! have the bodies of v3/v4 at new paths (`/crm/objects/2026-03/contacts` for
//! `/crm/v3/objects/contacts`). The sandbox serves both: before routing, a dated path is
//! rewritten onto its numbered twin and the version it came with is kept in a
//! [`DatedVersion`] request extension, so handlers answer where the versions differ
//! (associations' `batch/archive` answers 200 with a body; 2026-09 enforces the portal's
//! required properties, see `crate::validation`) and the traffic counters tell which version a
//! client spoke (`Stats::versions`). Counters and faults keep the numbered path templates, so
//! one fault or one count covers a call whichever version it used.

use axum::extract::Request;
use axum::http::Uri;

/// The date-based version a request was made with (`2026-03`, `2026-09`), when it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct DatedVersion {
    /// Release year.
    pub(crate) year: u16,
    /// Release month (3 or 9).
    pub(crate) month: u8,
}

impl DatedVersion {
    /// Whether HubSpot enforces admin-configured property validation on writes (2026-09 on).
    pub(crate) fn enforces_validation(self) -> bool {
        (self.year, self.month) >= (2026, 9)
    }

    fn parse(s: &str) -> Option<Self> {
        let (year, month) = s.split_once('-')?;
        if year.len() != 4 || month.len() != 2 {
            return None;
        }
        let year: u16 = year.parse().ok()?;
        let month: u8 = month.parse().ok()?;
        (year >= 2026 && matches!(month, 3 | 9)).then_some(DatedVersion { year, month })
    }
}

impl std::fmt::Display for DatedVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// The dated version named in `path` (`/webhooks-journal/journal/2026-03/...`), if any.
pub(crate) fn dated_in(path: &str) -> Option<DatedVersion> {
    path.trim_start_matches('/')
        .split('/')
        .take(3)
        .find_map(DatedVersion::parse)
}

/// The numbered path a dated `path` stands for, with its version; `None` for any other path.
pub(crate) fn numbered(path: &str) -> Option<(String, DatedVersion)> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let version = DatedVersion::parse(segments.get(2).copied().unwrap_or_default())
        .or_else(|| DatedVersion::parse(segments.get(1).copied().unwrap_or_default()))?;
    let rest = |from: usize| {
        segments
            .get(from..)
            .map(|s| s.join("/"))
            .unwrap_or_default()
    };
    let joined = |head: &str, from: usize| {
        let tail = rest(from);
        if tail.is_empty() {
            head.to_owned()
        } else {
            format!("{head}/{tail}")
        }
    };
    let mapped = match segments.as_slice() {
        // One record's associations were v4 under objects: /crm/objects/V/{type}/{id}/associations/...
        ["crm", "objects", v, _, _, "associations", ..] if DatedVersion::parse(v).is_some() => {
            joined("/crm/v4/objects", 3)
        }
        ["crm", "objects", v, ..] if DatedVersion::parse(v).is_some() => {
            joined("/crm/v3/objects", 3)
        }
        ["crm", "associations", v, ..] if DatedVersion::parse(v).is_some() => {
            joined("/crm/v4/associations", 3)
        }
        ["crm", api @ ("properties" | "lists" | "owners"), v, ..]
            if DatedVersion::parse(v).is_some() =>
        {
            joined(&format!("/crm/v3/{api}"), 3)
        }
        [api @ ("oauth" | "account-info"), v, ..] if DatedVersion::parse(v).is_some() => {
            joined(&format!("/{api}/v3"), 2)
        }
        _ => return None,
    };
    // Keep a trailing slash (`POST /crm/lists/2026-03/`).
    let mapped = if path.ends_with('/') && !mapped.ends_with('/') {
        format!("{mapped}/")
    } else {
        mapped
    };
    Some((mapped, version))
}

/// Rewrites a dated request onto its numbered route (see the module documentation). Runs
/// before routing, around the whole router.
pub(crate) fn rewrite(mut req: Request) -> Request {
    let Some((path, version)) = numbered(req.uri().path()) else {
        return req;
    };
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let mut parts = req.uri().clone().into_parts();
    match path_and_query.parse() {
        Ok(pq) => parts.path_and_query = Some(pq),
        Err(_) => return req,
    }
    if let Ok(uri) = Uri::from_parts(parts) {
        *req.uri_mut() = uri;
        req.extensions_mut().insert(version);
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dated_paths_map_onto_their_numbered_twins() {
        let v = |p: &str| numbered(p).map(|(path, v)| (path, v.to_string()));
        let cases = [
            ("/crm/objects/2026-03/contacts", "/crm/v3/objects/contacts"),
            (
                "/crm/objects/2026-09/companies/batch/upsert",
                "/crm/v3/objects/companies/batch/upsert",
            ),
            (
                "/crm/objects/2026-03/contacts/51",
                "/crm/v3/objects/contacts/51",
            ),
            (
                "/crm/objects/2026-03/contacts/51/associations/companies",
                "/crm/v4/objects/contacts/51/associations/companies",
            ),
            (
                "/crm/objects/2026-03/contacts/51/associations/default/companies/7",
                "/crm/v4/objects/contacts/51/associations/default/companies/7",
            ),
            (
                "/crm/associations/2026-03/contacts/companies/batch/archive",
                "/crm/v4/associations/contacts/companies/batch/archive",
            ),
            (
                "/crm/properties/2026-03/companies",
                "/crm/v3/properties/companies",
            ),
            ("/crm/lists/2026-03/", "/crm/v3/lists/"),
            (
                "/crm/lists/2026-03/9/memberships/add",
                "/crm/v3/lists/9/memberships/add",
            ),
            ("/crm/owners/2026-03", "/crm/v3/owners"),
            ("/oauth/2026-03/token", "/oauth/v3/token"),
            (
                "/oauth/2026-03/token/introspect",
                "/oauth/v3/token/introspect",
            ),
            ("/account-info/2026-03/details", "/account-info/v3/details"),
        ];
        for (dated, plain) in cases {
            let (path, version) = v(dated).unwrap_or_else(|| panic!("{dated} not mapped"));
            assert_eq!(path, plain);
            assert!(dated.contains(&version), "{dated}: {version}");
        }
        for other in [
            "/crm/v3/objects/contacts",
            "/crm/objects/2026-04/contacts",
            "/crm/objects/2025-09/contacts",
            "/oauth/authorize",
            "/_sandbox/stats",
            "/webhooks-journal/journal/2026-03/earliest",
        ] {
            assert_eq!(numbered(other), None, "{other}");
        }
    }

    #[test]
    fn only_2026_09_and_later_enforce_validation() {
        assert!(
            !DatedVersion {
                year: 2026,
                month: 3
            }
            .enforces_validation()
        );
        assert!(
            DatedVersion {
                year: 2026,
                month: 9
            }
            .enforces_validation()
        );
        assert!(
            DatedVersion {
                year: 2027,
                month: 3
            }
            .enforces_validation()
        );
    }
}
