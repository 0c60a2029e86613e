//! The invariants a run must end with, checked over a [`Snapshot`] of both sides taken after
//! quiescence. Pure: a test builds a snapshot by hand and sees each invariant break.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A HubSpot record as the sandbox holds it (live ones only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HubSpotRecord {
    /// Its id.
    pub id: String,
    /// Its properties.
    pub properties: BTreeMap<String, String>,
}

impl HubSpotRecord {
    fn get(&self, name: &str) -> Option<&str> {
        self.properties
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// A Turris record: id, the agency it belongs to (agency contacts), and its fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TurrisRecord {
    /// Its id.
    pub id: String,
    /// An agency contact's agency.
    pub agency_id: Option<String>,
    /// Its non-empty fields (`name`, `npn`, `first_name`, ...).
    pub fields: BTreeMap<String, String>,
}

/// One row of the links table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LinkRow {
    /// `agency`, `agent` or `agency_contact`.
    pub kind: String,
    /// The Turris id.
    pub turris_id: String,
    /// The HubSpot id.
    pub hubspot_id: String,
}

/// An activity row, reduced to what the checker reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityRow {
    /// Its title.
    pub title: String,
    /// `success`, `failure` or `skipped`.
    pub status: String,
    /// The skip reason, if any.
    pub skip_reason: Option<String>,
    /// The message, if any.
    pub message: Option<String>,
    /// The Turris id, if any.
    pub turris_id: Option<String>,
}

/// A value the run expects a field to have: the last write to it on the side that owns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// `hubspot` or `turris`.
    pub side: Side,
    /// The record's id on that side.
    pub id: String,
    /// The property or field.
    pub field: String,
    /// The value (`None`: any of `allowed`).
    pub value: Option<String>,
    /// When `value` is `None`: the values it may have (each HubSpot wrote, or unset).
    pub allowed: Vec<String>,
}

/// A side of the sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// HubSpot.
    HubSpot,
    /// Turris.
    Turris,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::HubSpot => "HubSpot",
            Side::Turris => "Turris",
        })
    }
}

/// Both sides after quiescence.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Live companies.
    pub companies: Vec<HubSpotRecord>,
    /// Live contacts.
    pub contacts: Vec<HubSpotRecord>,
    /// Agencies.
    pub agencies: Vec<TurrisRecord>,
    /// Agency contacts.
    pub agency_contacts: Vec<TurrisRecord>,
    /// Every link.
    pub links: Vec<LinkRow>,
    /// Every activity row.
    pub activity: Vec<ActivityRow>,
    /// (agency id, status) of every invitation.
    pub invitations: Vec<(String, String)>,
    /// Inbound events still pending, and those given up (`failed`).
    pub events_pending: i64,
    /// Inbound events given up.
    pub events_failed: i64,
    /// Outbound pushes still queued.
    pub pushes_pending: i64,
    /// Webhook events the sandbox has not delivered or given up.
    pub webhooks_pending: usize,
    /// Whether the system reached quiescence before the deadline.
    pub quiesced: bool,
    /// HubSpot writes made during the quiet period after quiescence (an echo loop keeps writing).
    pub writes_while_quiet: u64,
    /// Inbound events received during the quiet period.
    pub events_while_quiet: i64,
    /// What the run's last writes say the fields hold.
    pub expectations: Vec<Expectation>,
}

/// A broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The invariant, in a few words (stable, for grouping).
    pub invariant: &'static str,
    /// What broke it.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.invariant, self.detail)
    }
}

/// Every invariant the snapshot breaks (empty: the run is correct).
pub fn check(s: &Snapshot) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut fail = |invariant: &'static str, detail: String| {
        out.push(Violation { invariant, detail });
    };
    quiescence(s, &mut fail);
    links(s, &mut fail);
    duplicates(s, &mut fail);
    fields(s, &mut fail);
    for a in s.activity.iter().filter(|a| a.status == "skipped") {
        if a.skip_reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
            fail(
                "every skip has its reason",
                format!("{:?} skipped without a reason", a.title),
            );
        }
    }
    let mut invitations: BTreeMap<&str, usize> = BTreeMap::new();
    for (agency, status) in &s.invitations {
        if status == "sent" {
            *invitations.entry(agency).or_default() += 1;
        }
    }
    for (agency, n) in invitations.into_iter().filter(|(_, n)| *n > 1) {
        fail(
            "no invitation sent twice",
            format!("agency {agency} was sent {n} invitations"),
        );
    }
    out
}

type Fail<'a> = dyn FnMut(&'static str, String) + 'a;

fn quiescence(s: &Snapshot, fail: &mut Fail<'_>) {
    if !s.quiesced {
        fail(
            "quiescence",
            format!(
                "not quiet: {} inbound events pending, {} pushes queued, {} webhooks undelivered",
                s.events_pending, s.pushes_pending, s.webhooks_pending
            ),
        );
    }
    if s.events_pending > 0 || s.events_failed > 0 {
        fail(
            "no event left unprocessed",
            format!(
                "{} inbound events pending, {} given up",
                s.events_pending, s.events_failed
            ),
        );
    }
    if s.writes_while_quiet > 0 || s.events_while_quiet > 0 {
        fail(
            "no echo loop",
            format!(
                "after quiescence the server still wrote to HubSpot {} times and received {} events",
                s.writes_while_quiet, s.events_while_quiet
            ),
        );
    }
}

/// Every matching HubSpot record is linked to exactly one Turris record and vice versa.
fn links(s: &Snapshot, fail: &mut Fail<'_>) {
    let companies: BTreeMap<&str, &HubSpotRecord> =
        s.companies.iter().map(|c| (c.id.as_str(), c)).collect();
    let contacts: BTreeSet<&str> = s.contacts.iter().map(|c| c.id.as_str()).collect();
    let mut by_hubspot: ByHubSpot<'_> = BTreeMap::new();
    let mut by_turris: ByTurris<'_> = BTreeMap::new();
    for link in &s.links {
        let object = if link.kind == "agency" {
            "company"
        } else {
            "contact"
        };
        by_hubspot
            .entry((object, link.hubspot_id.as_str()))
            .or_default()
            .push(link);
        by_turris
            .entry(link.turris_id.as_str())
            .or_default()
            .push(link);
        let live = match object {
            "company" => companies.contains_key(link.hubspot_id.as_str()),
            _ => contacts.contains(link.hubspot_id.as_str()),
        };
        if !live {
            fail(
                "every link names a live HubSpot record",
                format!(
                    "{} {} → {object} {} which is gone",
                    link.kind, link.turris_id, link.hubspot_id
                ),
            );
        }
    }
    for ((object, id), rows) in by_hubspot.iter().filter(|(_, r)| r.len() > 1) {
        fail(
            "a HubSpot record is linked to exactly one Turris record",
            format!("{object} {id} is linked {} times: {rows:?}", rows.len()),
        );
    }
    for (id, rows) in by_turris.iter().filter(|(_, r)| r.len() > 1) {
        fail(
            "a Turris record is linked to exactly one HubSpot record",
            format!("{id} is linked {} times: {rows:?}", rows.len()),
        );
    }
    coverage(s, &by_hubspot, &by_turris, fail);
}

/// Who is linked by HubSpot object (`company`/`contact`, id) and by Turris id.
type ByHubSpot<'a> = BTreeMap<(&'a str, &'a str), Vec<&'a LinkRow>>;
type ByTurris<'a> = BTreeMap<&'a str, Vec<&'a LinkRow>>;

/// Every record that should be linked is: partner companies, contacts of synced companies,
/// agencies, agency contacts of linked agencies (unless a row says why not).
fn coverage(
    s: &Snapshot,
    by_hubspot: &ByHubSpot<'_>,
    by_turris: &ByTurris<'_>,
    fail: &mut Fail<'_>,
) {
    let agencies: BTreeSet<&str> = s.agencies.iter().map(|a| a.id.as_str()).collect();
    for company in s
        .companies
        .iter()
        .filter(|c| c.get("type") == Some("PARTNER"))
    {
        if !by_hubspot.contains_key(&("company", company.id.as_str())) {
            fail(
                "every matching HubSpot record is linked",
                format!("partner company {} has no agency", company.id),
            );
        }
    }
    for agency in &s.agencies {
        if by_turris.contains_key(agency.id.as_str()) || explained(s, &agency.id) {
            continue;
        }
        fail(
            "every Turris record is linked",
            format!(
                "agency {} ({:?}) has no company and no row saying why",
                agency.id,
                agency.fields.get("name")
            ),
        );
    }
    // Agency contacts: of a linked agency, whose company is not gone.
    let linked_agencies: BTreeSet<&str> = s
        .links
        .iter()
        .filter(|l| l.kind == "agency")
        .map(|l| l.turris_id.as_str())
        .collect();
    for contact in &s.agency_contacts {
        let of_linked = contact
            .agency_id
            .as_deref()
            .is_some_and(|a| linked_agencies.contains(a) && agencies.contains(a));
        if of_linked && !by_turris.contains_key(contact.id.as_str()) && !explained(s, &contact.id) {
            fail(
                "every Turris record is linked",
                format!(
                    "agency contact {} of a linked agency has no contact",
                    contact.id
                ),
            );
        }
    }
    let synced_companies: BTreeSet<&str> = s
        .links
        .iter()
        .filter(|l| l.kind == "agency")
        .map(|l| l.hubspot_id.as_str())
        .collect();
    for contact in &s.contacts {
        let primary = contact.get("associatedcompanyid");
        if primary.is_some_and(|p| synced_companies.contains(p))
            && !by_hubspot.contains_key(&("contact", contact.id.as_str()))
        {
            fail(
                "every matching HubSpot record is linked",
                format!(
                    "contact {} of a synced company has no agency contact",
                    contact.id
                ),
            );
        }
    }
}

/// An unlinked Turris record is explained by a row naming it: its HubSpot record was deleted or
/// merged away, so the link was dropped and the record stays.
fn explained(s: &Snapshot, turris_id: &str) -> bool {
    s.activity.iter().any(|a| {
        a.turris_id.as_deref() == Some(turris_id)
            && a.message.as_deref().is_some_and(|m| {
                let m = m.to_lowercase();
                m.contains("deleted") || m.contains("merged") || m.contains("link removed")
            })
    })
}

/// No two records on one side are the same record: NPNs and emails never repeat in a run.
fn duplicates(s: &Snapshot, fail: &mut Fail<'_>) {
    let mut seen: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for c in &s.companies {
        if let Some(npn) = c.get("npn") {
            seen.entry(("HubSpot company npn", npn))
                .or_default()
                .push(&c.id);
        }
    }
    for c in &s.contacts {
        if let Some(email) = c.get("email") {
            seen.entry(("HubSpot contact email", email))
                .or_default()
                .push(&c.id);
        }
    }
    for a in &s.agencies {
        if let Some(npn) = a.fields.get("npn") {
            seen.entry(("agency npn", npn)).or_default().push(&a.id);
        }
    }
    for a in &s.agency_contacts {
        if let Some(email) = a.fields.get("email") {
            seen.entry(("agency contact email", email))
                .or_default()
                .push(&a.id);
        }
    }
    for ((what, value), ids) in seen.into_iter().filter(|(_, ids)| ids.len() > 1) {
        fail(
            "0 duplicates",
            format!("{what} {value} is held by {} records: {ids:?}", ids.len()),
        );
    }
}

/// Field values converge to the last write on the side that owns the field.
fn fields(s: &Snapshot, fail: &mut Fail<'_>) {
    let hubspot: BTreeMap<&str, &HubSpotRecord> = s
        .companies
        .iter()
        .chain(&s.contacts)
        .map(|r| (r.id.as_str(), r))
        .collect();
    let turris: BTreeMap<&str, &TurrisRecord> = s
        .agencies
        .iter()
        .chain(&s.agency_contacts)
        .map(|r| (r.id.as_str(), r))
        .collect();
    for e in &s.expectations {
        let actual = match e.side {
            Side::HubSpot => hubspot.get(e.id.as_str()).map(|r| r.get(&e.field)),
            Side::Turris => turris
                .get(e.id.as_str())
                .map(|r| r.fields.get(&e.field).map(String::as_str)),
        };
        let Some(actual) = actual else {
            continue; // the record is gone: the link invariants speak for it
        };
        let ok = match &e.value {
            Some(v) => actual == Some(v.as_str()),
            None => actual.is_none_or(|a| e.allowed.iter().any(|v| v == a)),
        };
        if !ok {
            fail(
                "fields converge to the last write",
                format!(
                    "{} {} {}: {:?}, expected {}",
                    e.side,
                    e.id,
                    e.field,
                    actual,
                    match &e.value {
                        Some(v) => format!("{v:?}"),
                        None => format!("one of {:?}", e.allowed),
                    }
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests;
