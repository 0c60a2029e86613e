//! The activity log: every outbound HubSpot call, OAuth refresh, inbound webhook and
//! auto-invite outcome, kept for 30 days and listed newest first.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How long activity is kept.
pub const RETENTION: Duration = Duration::days(30);

/// The oldest timestamp still kept at `now`: entries strictly before it are pruned.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use turris_core::activity::{is_expired, retention_cutoff};
///
/// let now = Utc.with_ymd_and_hms(2026, 3, 31, 12, 0, 0).unwrap();
/// assert_eq!(retention_cutoff(now), Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap());
/// assert!(!is_expired(retention_cutoff(now), now));
/// assert!(is_expired(retention_cutoff(now) - chrono::Duration::seconds(1), now));
/// ```
pub fn retention_cutoff(now: DateTime<Utc>) -> DateTime<Utc> {
    now - RETENTION
}

/// Whether an entry recorded `at` is past retention at `now`.
pub fn is_expired(at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    at < retention_cutoff(now)
}

/// What happened: the titles the Recent Activity modal shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// "Connect HubSpot"
    ConnectHubSpot,
    /// "Create company in HubSpot"
    CreateCompany,
    /// "Update company in HubSpot"
    UpdateCompany,
    /// "Create contact in HubSpot"
    CreateContact,
    /// "Update contact in HubSpot"
    UpdateContact,
    /// "Associate contact with company in HubSpot"
    AssociateContactWithCompany,
    /// "Refresh HubSpot access token"
    RefreshAccessToken,
    /// "HubSpot webhook: company created"
    WebhookCompanyCreated,
    /// "HubSpot webhook: company property changed"
    WebhookCompanyPropertyChanged,
    /// "HubSpot webhook: contact created"
    WebhookContactCreated,
    /// "HubSpot webhook: contact property changed"
    WebhookContactPropertyChanged,
    /// "HubSpot webhook: contacts merged"
    WebhookContactsMerged,
    /// "HubSpot webhook skipped"
    WebhookSkipped,
    /// "Auto-invite sent"
    AutoInviteSent,
    /// "Auto-invite deferred (awaiting contact)"
    AutoInviteDeferred,
    /// "Auto-invite needs attention"
    AutoInviteNeedsAttention,
    /// "Auto-invite skipped"
    AutoInviteSkipped,
    /// "HubSpot daily API limit reached": sync with the portal pauses until the reset.
    DailyLimitReached,
    /// "HubSpot webhooks journal expired": entries were dropped (HubSpot keeps three days)
    /// before Turris read them; changes in that gap reach Turris only by a reconciliation.
    JournalExpired,
    /// "Turris tags property missing in HubSpot": someone deleted `turris_tags`; Turris makes
    /// it again, or turns tags off when it cannot.
    TagsPropertyMissing,
    /// "Turris tag list not kept in HubSpot": a static list mirroring a tag could not be made
    /// or changed (a missing scope); its mirroring is turned off until an admin turns it on.
    TagListFailed,
}

impl ActivityKind {
    /// The title shown in the activity list.
    pub fn title(self) -> &'static str {
        match self {
            ActivityKind::ConnectHubSpot => "Connect HubSpot",
            ActivityKind::CreateCompany => "Create company in HubSpot",
            ActivityKind::UpdateCompany => "Update company in HubSpot",
            ActivityKind::CreateContact => "Create contact in HubSpot",
            ActivityKind::UpdateContact => "Update contact in HubSpot",
            ActivityKind::AssociateContactWithCompany => {
                "Associate contact with company in HubSpot"
            }
            ActivityKind::RefreshAccessToken => "Refresh HubSpot access token",
            ActivityKind::WebhookCompanyCreated => "HubSpot webhook: company created",
            ActivityKind::WebhookCompanyPropertyChanged => {
                "HubSpot webhook: company property changed"
            }
            ActivityKind::WebhookContactCreated => "HubSpot webhook: contact created",
            ActivityKind::WebhookContactPropertyChanged => {
                "HubSpot webhook: contact property changed"
            }
            ActivityKind::WebhookContactsMerged => "HubSpot webhook: contacts merged",
            ActivityKind::WebhookSkipped => "HubSpot webhook skipped",
            ActivityKind::AutoInviteSent => "Auto-invite sent",
            ActivityKind::AutoInviteDeferred => "Auto-invite deferred (awaiting contact)",
            ActivityKind::AutoInviteNeedsAttention => "Auto-invite needs attention",
            ActivityKind::AutoInviteSkipped => "Auto-invite skipped",
            ActivityKind::DailyLimitReached => "HubSpot daily API limit reached",
            ActivityKind::JournalExpired => "HubSpot webhooks journal expired",
            ActivityKind::TagsPropertyMissing => "Turris tags property missing in HubSpot",
            ActivityKind::TagListFailed => "Turris tag list not kept in HubSpot",
        }
    }

    /// The direction this kind of event always has.
    pub fn direction(self) -> ActivityDirection {
        match self {
            ActivityKind::ConnectHubSpot
            | ActivityKind::CreateCompany
            | ActivityKind::UpdateCompany
            | ActivityKind::CreateContact
            | ActivityKind::UpdateContact
            | ActivityKind::AssociateContactWithCompany
            | ActivityKind::RefreshAccessToken
            | ActivityKind::DailyLimitReached
            | ActivityKind::TagsPropertyMissing
            | ActivityKind::TagListFailed => ActivityDirection::Outbound,
            ActivityKind::WebhookCompanyCreated
            | ActivityKind::WebhookCompanyPropertyChanged
            | ActivityKind::WebhookContactCreated
            | ActivityKind::WebhookContactPropertyChanged
            | ActivityKind::WebhookContactsMerged
            | ActivityKind::WebhookSkipped
            | ActivityKind::JournalExpired => ActivityDirection::Inbound,
            ActivityKind::AutoInviteSent
            | ActivityKind::AutoInviteDeferred
            | ActivityKind::AutoInviteNeedsAttention
            | ActivityKind::AutoInviteSkipped => ActivityDirection::Internal,
        }
    }
}

/// Which way data moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActivityDirection {
    /// HubSpot → Turris.
    Inbound,
    /// Turris → HubSpot.
    Outbound,
    /// Inside Turris (auto-invites).
    Internal,
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Completed.
    Success,
    /// Failed; see the details.
    Failure,
    /// Intentionally not processed; see the skip reason.
    Skipped,
}

/// The details column. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivityDetails {
    /// HubSpot's HTTP status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hubspot_status: Option<u16>,
    /// HubSpot's error category (`VALIDATION_ERROR`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_category: Option<String>,
    /// A message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Why it was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    /// The Turris record id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turris_id: Option<String>,
    /// The HubSpot object id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hubspot_id: Option<String>,
}

/// An activity to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewActivity {
    /// What happened.
    pub kind: ActivityKind,
    /// Which way.
    pub direction: ActivityDirection,
    /// How it ended.
    pub outcome: Outcome,
    /// When.
    pub at: DateTime<Utc>,
    /// Details.
    #[serde(default)]
    pub details: ActivityDetails,
}

impl NewActivity {
    /// An activity of `kind`, with the kind's direction and no details.
    ///
    /// ```
    /// use chrono::Utc;
    /// use turris_core::activity::{ActivityDirection, ActivityKind, NewActivity, Outcome};
    ///
    /// let a = NewActivity::new(ActivityKind::AutoInviteDeferred, Outcome::Skipped, Utc::now());
    /// assert_eq!(a.kind.title(), "Auto-invite deferred (awaiting contact)");
    /// assert_eq!(a.direction, ActivityDirection::Internal);
    /// ```
    pub fn new(kind: ActivityKind, outcome: Outcome, at: DateTime<Utc>) -> Self {
        Self {
            kind,
            direction: kind.direction(),
            outcome,
            at,
            details: ActivityDetails::default(),
        }
    }

    /// The same activity with these details.
    pub fn with_details(mut self, details: ActivityDetails) -> Self {
        self.details = details;
        self
    }

    /// A success of `kind`.
    pub fn success(kind: ActivityKind, at: DateTime<Utc>) -> Self {
        Self::new(kind, Outcome::Success, at)
    }

    /// A failure of `kind`.
    pub fn failure(kind: ActivityKind, at: DateTime<Utc>) -> Self {
        Self::new(kind, Outcome::Failure, at)
    }

    /// A skipped HubSpot webhook, with why.
    ///
    /// ```
    /// use chrono::Utc;
    /// use turris_core::activity::{ActivityKind, NewActivity, Outcome};
    ///
    /// let a = NewActivity::webhook_skipped("echo of our own write", Utc::now())
    ///     .message("HubSpot webhook: company created")
    ///     .hubspot("101");
    /// assert_eq!((a.kind, a.outcome), (ActivityKind::WebhookSkipped, Outcome::Skipped));
    /// assert_eq!(a.details.skip_reason.as_deref(), Some("echo of our own write"));
    /// assert_eq!(a.details.hubspot_id.as_deref(), Some("101"));
    /// ```
    pub fn webhook_skipped(reason: impl Into<String>, at: DateTime<Utc>) -> Self {
        Self::new(ActivityKind::WebhookSkipped, Outcome::Skipped, at).skip_reason(reason)
    }

    /// With this message.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.details.message = Some(message.into());
        self
    }

    /// With why it was skipped.
    pub fn skip_reason(mut self, reason: impl Into<String>) -> Self {
        self.details.skip_reason = Some(reason.into());
        self
    }

    /// About this Turris record.
    pub fn turris(mut self, id: impl ToString) -> Self {
        self.details.turris_id = Some(id.to_string());
        self
    }

    /// About this Turris record, when there is one.
    pub fn turris_opt(mut self, id: Option<impl ToString>) -> Self {
        self.details.turris_id = id.map(|id| id.to_string());
        self
    }

    /// About this HubSpot object.
    pub fn hubspot(mut self, id: impl ToString) -> Self {
        self.details.hubspot_id = Some(id.to_string());
        self
    }
}

/// A stored activity's id, assigned by the store; unique within an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ActivityId(pub u64);

/// A recorded activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// Its id.
    pub id: ActivityId,
    /// What was recorded.
    #[serde(flatten)]
    pub entry: NewActivity,
}

impl Activity {
    /// The position in the newest-first order: later `at` first, then higher id first. Two
    /// entries never share a position, so pages are stable even when timestamps tie.
    pub fn position(&self) -> (DateTime<Utc>, ActivityId) {
        (self.entry.at, self.id)
    }
}

/// An opaque page cursor: where the previous page ended. Clients pass it back unchanged.
///
/// ```
/// use chrono::Utc;
/// use turris_core::activity::{ActivityCursor, ActivityId};
///
/// let at = Utc::now();
/// let cursor = ActivityCursor::after(at, ActivityId(7));
/// let parsed = ActivityCursor::parse(cursor.as_str()).unwrap();
/// assert_eq!(parsed.position(), (at, ActivityId(7)));
/// assert!(ActivityCursor::parse("garbage").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ActivityCursor {
    text: String,
    at: DateTime<Utc>,
    id: ActivityId,
}

impl ActivityCursor {
    /// The cursor for "entries older than `(at, id)`".
    pub fn after(at: DateTime<Utc>, id: ActivityId) -> Self {
        let text = format!(
            "a1.{}.{}.{}",
            at.timestamp(),
            at.timestamp_subsec_nanos(),
            id.0
        );
        Self { text, at, id }
    }

    /// Parses a cursor produced by [`ActivityCursor::as_str`].
    pub fn parse(text: &str) -> Result<Self> {
        let mut parts = text.split('.');
        let (Some("a1"), Some(secs), Some(nanos), Some(id), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(Error::InvalidCursor);
        };
        let secs: i64 = secs.parse().map_err(|_| Error::InvalidCursor)?;
        let nanos: u32 = nanos.parse().map_err(|_| Error::InvalidCursor)?;
        let id: u64 = id.parse().map_err(|_| Error::InvalidCursor)?;
        let at = DateTime::from_timestamp(secs, nanos).ok_or(Error::InvalidCursor)?;
        let cursor = Self::after(at, ActivityId(id));
        // Only the canonical text is accepted, so one position has one cursor.
        if cursor.text != text {
            return Err(Error::InvalidCursor);
        }
        Ok(cursor)
    }

    /// The text form.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The last position of the previous page; the next page holds the entries strictly
    /// after it in newest-first order.
    pub fn position(&self) -> (DateTime<Utc>, ActivityId) {
        (self.at, self.id)
    }

    /// Whether `activity` belongs after this cursor (is older in newest-first order).
    pub fn admits(&self, activity: &Activity) -> bool {
        activity.position() < self.position()
    }
}

impl fmt::Debug for ActivityCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActivityCursor({:?})", self.text)
    }
}

impl TryFrom<String> for ActivityCursor {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(&value)
    }
}

impl From<ActivityCursor> for String {
    fn from(cursor: ActivityCursor) -> String {
        cursor.text
    }
}

/// One page of activity, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityPage {
    /// The entries.
    pub entries: Vec<Activity>,
    /// The cursor of the next page; `None` at the end of history.
    pub next: Option<ActivityCursor>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn every_kind_has_the_seed_title_and_a_fixed_direction() {
        fn check(kind: ActivityKind, title: &str, direction: ActivityDirection) {
            assert_eq!(
                (kind.title(), kind.direction()),
                (title, direction),
                "{kind:?}"
            );
        }
        use ActivityDirection::*;
        check(
            ActivityKind::CreateCompany,
            "Create company in HubSpot",
            Outbound,
        );
        check(
            ActivityKind::UpdateCompany,
            "Update company in HubSpot",
            Outbound,
        );
        check(
            ActivityKind::AssociateContactWithCompany,
            "Associate contact with company in HubSpot",
            Outbound,
        );
        check(
            ActivityKind::RefreshAccessToken,
            "Refresh HubSpot access token",
            Outbound,
        );
        check(
            ActivityKind::WebhookCompanyCreated,
            "HubSpot webhook: company created",
            Inbound,
        );
        check(
            ActivityKind::WebhookCompanyPropertyChanged,
            "HubSpot webhook: company property changed",
            Inbound,
        );
        check(
            ActivityKind::WebhookContactsMerged,
            "HubSpot webhook: contacts merged",
            Inbound,
        );
        check(
            ActivityKind::WebhookSkipped,
            "HubSpot webhook skipped",
            Inbound,
        );
        check(ActivityKind::AutoInviteSent, "Auto-invite sent", Internal);
        check(
            ActivityKind::AutoInviteDeferred,
            "Auto-invite deferred (awaiting contact)",
            Internal,
        );
        check(
            ActivityKind::AutoInviteNeedsAttention,
            "Auto-invite needs attention",
            Internal,
        );
        check(
            ActivityKind::AutoInviteSkipped,
            "Auto-invite skipped",
            Internal,
        );
        check(
            ActivityKind::DailyLimitReached,
            "HubSpot daily API limit reached",
            Outbound,
        );
        check(
            ActivityKind::JournalExpired,
            "HubSpot webhooks journal expired",
            Inbound,
        );
        check(
            ActivityKind::TagsPropertyMissing,
            "Turris tags property missing in HubSpot",
            Outbound,
        );
        check(
            ActivityKind::TagListFailed,
            "Turris tag list not kept in HubSpot",
            Outbound,
        );
    }

    #[test]
    fn retention_keeps_exactly_thirty_days() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        fn check(at: DateTime<Utc>, now: DateTime<Utc>, expired: bool) {
            assert_eq!(is_expired(at, now), expired, "{at}");
        }
        check(now, now, false);
        check(now - Duration::days(29), now, false);
        check(now - Duration::days(30), now, false);
        check(
            now - Duration::days(30) - Duration::nanoseconds(1),
            now,
            true,
        );
        check(now - Duration::days(31), now, true);
    }

    #[test]
    fn cursors_round_trip_and_reject_foreign_text() {
        let at =
            Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap() + Duration::nanoseconds(123_456_789);
        let cursor = ActivityCursor::after(at, ActivityId(u64::MAX));
        let back: ActivityCursor =
            serde_json::from_value(serde_json::to_value(&cursor).unwrap()).unwrap();
        assert_eq!(back.position(), (at, ActivityId(u64::MAX)));
        let ancient = DateTime::from_timestamp(-62_000_000_000, 5).unwrap();
        let cursor = ActivityCursor::after(ancient, ActivityId(0));
        assert_eq!(
            ActivityCursor::parse(cursor.as_str()).unwrap().position(),
            (ancient, ActivityId(0))
        );
        for bad in [
            "",
            "a1",
            "a1.1.1",
            "a1.zz.1.1",
            "a1.1.1.1.1",
            "b1.1.1.1",
            "a1.1.1.-1",
            "a1.1.2000000000.1",
            "a1.01.1.1",
            "a1.+1.1.1",
        ] {
            assert_eq!(
                ActivityCursor::parse(bad),
                Err(Error::InvalidCursor),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn activities_serialize_flat_with_snake_case_kinds() {
        let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let activity = Activity {
            id: ActivityId(3),
            entry: NewActivity::new(ActivityKind::CreateCompany, Outcome::Failure, at)
                .with_details(ActivityDetails {
                    hubspot_status: Some(400),
                    error_category: Some("VALIDATION_ERROR".into()),
                    ..Default::default()
                }),
        };
        let json = serde_json::to_value(&activity).unwrap();
        assert_eq!(json["id"], 3);
        assert_eq!(json["kind"], "create_company");
        assert_eq!(json["direction"], "outbound");
        assert_eq!(json["outcome"], "failure");
        assert_eq!(json["details"]["hubspot_status"], 400);
        assert_eq!(serde_json::from_value::<Activity>(json).unwrap(), activity);
    }
}
