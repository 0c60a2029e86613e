//! The CRM sync record: a durable audit trail of every write Turris makes to HubSpot (seed
//! 002's "CRM Sync Record"). Unlike the activity log (30 days, what happened, for everyone who
//! reads the integration), it keeps what was written, where and why, for
//! [`DEFAULT_RETENTION_DAYS`] by default, for admins.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::activity::Outcome;
use crate::store::TurrisRef;

/// How long sync records are kept unless configured otherwise.
pub const DEFAULT_RETENTION_DAYS: i64 = 400;

/// What kind of HubSpot object a write touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CrmObject {
    /// A company (an agency).
    Company,
    /// A contact (an agent or an agency contact).
    Contact,
    /// A note (an activity logged on a contact or company).
    Note,
    /// A static list.
    List,
    /// A property definition.
    Property,
}

impl CrmObject {
    /// The wire name (`company`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            CrmObject::Company => "company",
            CrmObject::Contact => "contact",
            CrmObject::Note => "note",
            CrmObject::List => "list",
            CrmObject::Property => "property",
        }
    }
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CrmOperation {
    /// Created the object (or found it by its unique Turris id and updated it).
    Create,
    /// Updated properties of an existing object.
    Update,
    /// Associated a contact with a company.
    Associate,
    /// Created a property definition.
    CreateProperty,
    /// Added records to a list.
    AddToList,
    /// Removed records from a list.
    RemoveFromList,
}

impl CrmOperation {
    /// The wire name (`create`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            CrmOperation::Create => "create",
            CrmOperation::Update => "update",
            CrmOperation::Associate => "associate",
            CrmOperation::CreateProperty => "create_property",
            CrmOperation::AddToList => "add_to_list",
            CrmOperation::RemoveFromList => "remove_from_list",
        }
    }
}

/// Why Turris wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SyncTrigger {
    /// A record was created or changed in Turris (records API, reconciliation).
    RecordChange,
    /// A contact's agency is known on both sides.
    Association,
    /// Turris prepared the portal (a property it needs).
    Setup,
    /// A record's tags changed with its state.
    Tags,
    /// An activity was logged as a note.
    ActivityNote,
    /// A support ticket was created or changed.
    SupportTicket,
}

impl SyncTrigger {
    /// The wire name (`record_change`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            SyncTrigger::RecordChange => "record_change",
            SyncTrigger::Association => "association",
            SyncTrigger::Setup => "setup",
            SyncTrigger::Tags => "tags",
            SyncTrigger::ActivityNote => "activity_note",
            SyncTrigger::SupportTicket => "support_ticket",
        }
    }
}

/// One property a write set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PropertyChange {
    /// The HubSpot property.
    pub name: String,
    /// The value before, when Turris knows it (the value it last wrote there); `None` when
    /// unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    /// The value written; `None` clears the property.
    pub new: Option<String>,
}

/// One write to HubSpot, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmSyncEntry {
    /// When HubSpot answered (or the call gave up).
    pub at: DateTime<Utc>,
    /// The HubSpot object kind.
    pub object: CrmObject,
    /// The HubSpot object's id, when there is one (a refused create has none).
    pub object_id: Option<String>,
    /// What the write did.
    pub operation: CrmOperation,
    /// The Turris record it is about, if any.
    pub turris: Option<TurrisRef>,
    /// Why Turris wrote.
    pub trigger: SyncTrigger,
    /// The properties written.
    pub properties: Vec<PropertyChange>,
    /// Success or failure.
    pub outcome: Outcome,
    /// HubSpot's HTTP status; `None` when no answer came.
    pub hubspot_status: Option<u16>,
    /// HubSpot's correlation id, to quote to HubSpot support.
    pub correlation_id: Option<String>,
    /// What went wrong, on failure (never HubSpot's free text, which may echo values).
    pub message: Option<String>,
}

impl CrmSyncEntry {
    /// A successful write of `operation` on `object`, with nothing else filled in yet.
    pub fn new(
        at: DateTime<Utc>,
        object: CrmObject,
        operation: CrmOperation,
        trigger: SyncTrigger,
    ) -> Self {
        Self {
            at,
            object,
            object_id: None,
            operation,
            turris: None,
            trigger,
            properties: Vec::new(),
            outcome: Outcome::Success,
            hubspot_status: None,
            correlation_id: None,
            message: None,
        }
    }

    /// The entry about HubSpot object `id`.
    pub fn object_id(mut self, id: impl Into<String>) -> Self {
        self.object_id = Some(id.into());
        self
    }

    /// The entry about Turris record `turris`.
    pub fn turris(mut self, turris: &TurrisRef) -> Self {
        self.turris = Some(turris.clone());
        self
    }

    /// The properties written, without their values before.
    pub fn wrote<'a>(
        mut self,
        properties: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> Self {
        self.properties = properties
            .into_iter()
            .map(|(name, new)| PropertyChange {
                name: name.to_owned(),
                old: None,
                new: new.map(str::to_owned),
            })
            .collect();
        self.properties.sort_by(|a, b| a.name.cmp(&b.name));
        self
    }

    /// HubSpot's answer: its status and, on failure, what went wrong.
    pub fn answered(mut self, status: Option<u16>, failure: Option<String>) -> Self {
        self.hubspot_status = status;
        if let Some(message) = failure {
            self.outcome = Outcome::Failure;
            self.message = Some(message);
        }
        self
    }

    /// HubSpot's correlation id of the call.
    pub fn correlation(mut self, id: Option<String>) -> Self {
        self.correlation_id = id;
        self
    }
}

/// The columns of the CSV export, in order.
pub const CSV_COLUMNS: [&str; 13] = [
    "at",
    "object",
    "object_id",
    "operation",
    "turris_kind",
    "turris_id",
    "trigger",
    "outcome",
    "hubspot_status",
    "correlation_id",
    "properties",
    "message",
    "id",
];

/// An entry as one CSV row of [`CSV_COLUMNS`] (`id` is the stored record's id). Properties are
/// one cell, `name: old -> new` joined by `; ` (an unknown old value is left out, a cleared
/// value is empty).
///
/// ```
/// use chrono::Utc;
/// use turris_core::audit::{CrmObject, CrmOperation, CrmSyncEntry, SyncTrigger, csv_row};
///
/// let entry = CrmSyncEntry::new(Utc::now(), CrmObject::Company, CrmOperation::Update, SyncTrigger::RecordChange)
///     .object_id("42")
///     .wrote([("name", Some("Acme")), ("city", None)]);
/// let row = csv_row("r1", &entry);
/// assert_eq!(row[10], "city: -> ; name: -> Acme");
/// ```
pub fn csv_row(id: &str, entry: &CrmSyncEntry) -> [String; 13] {
    let (kind, turris_id) = match &entry.turris {
        Some(t) => (t.noun().replace(' ', "_"), t.id().to_owned()),
        None => (String::new(), String::new()),
    };
    let properties = entry
        .properties
        .iter()
        .map(|p| match &p.old {
            Some(old) => format!("{}: {old} -> {}", p.name, p.new.as_deref().unwrap_or("")),
            None => format!("{}: -> {}", p.name, p.new.as_deref().unwrap_or("")),
        })
        .collect::<Vec<_>>()
        .join("; ");
    [
        entry
            .at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        entry.object.as_str().to_owned(),
        entry.object_id.clone().unwrap_or_default(),
        entry.operation.as_str().to_owned(),
        kind,
        turris_id,
        entry.trigger.as_str().to_owned(),
        match entry.outcome {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Skipped => "skipped",
        }
        .to_owned(),
        entry
            .hubspot_status
            .map(|s| s.to_string())
            .unwrap_or_default(),
        entry.correlation_id.clone().unwrap_or_default(),
        properties,
        entry.message.clone().unwrap_or_default(),
        id.to_owned(),
    ]
}

/// What the CRM sync record says of a connection's writes: the card's health line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncHealth {
    /// The last write HubSpot took.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Writes that failed within the period looked at (the last 24 hours).
    pub failures: u64,
    /// The latest of those failures.
    pub last_failure: Option<CrmSyncEntry>,
}

impl SyncHealth {
    /// What to do about the failures, from the latest one's answer; `None` when there is none.
    ///
    /// ```
    /// use chrono::Utc;
    /// use turris_core::audit::{CrmObject, CrmOperation, CrmSyncEntry, SyncHealth, SyncTrigger};
    ///
    /// let refused = CrmSyncEntry::new(Utc::now(), CrmObject::Company, CrmOperation::Update, SyncTrigger::RecordChange)
    ///     .answered(Some(403), Some("refused".into()));
    /// let health = SyncHealth { failures: 3, last_failure: Some(refused), ..SyncHealth::default() };
    /// assert!(health.advice().unwrap().starts_with("Reconnect HubSpot"));
    /// ```
    pub fn advice(&self) -> Option<&'static str> {
        let failure = self.last_failure.as_ref().filter(|_| self.failures > 0)?;
        Some(match failure.hubspot_status {
            Some(401 | 403) => {
                "Reconnect HubSpot: it refused Turris's credentials or the connection lacks a \
                 scope (the failed write in the CRM sync record names it)."
            }
            Some(429) => {
                "HubSpot's rate limit: Turris waits and sends the writes again; nothing to do \
                 unless it lasts for hours (then lower other apps' use of the portal)."
            }
            Some(s) if s >= 500 => {
                "HubSpot answered with errors: Turris sends the writes again; check \
                 status.hubspot.com if it lasts."
            }
            None => {
                "HubSpot did not answer: Turris sends the writes again; check this server's \
                 network if it lasts."
            }
            Some(_) => {
                "HubSpot refused some records' values: open the CRM sync record filtered by \
                 failures and fix the record or the field mapping it names."
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_advice_follows_the_latest_failures_answer_and_is_none_without_failures() {
        let failed = |status| {
            let entry = CrmSyncEntry::new(
                Utc::now(),
                CrmObject::Contact,
                CrmOperation::Create,
                SyncTrigger::RecordChange,
            )
            .answered(status, Some("x".into()));
            SyncHealth {
                failures: 1,
                last_failure: Some(entry),
                ..SyncHealth::default()
            }
        };
        let starts = |status, with: &str| {
            let advice = failed(status).advice().unwrap();
            assert!(advice.starts_with(with), "{status:?}: {advice}");
        };
        starts(Some(401), "Reconnect HubSpot");
        starts(Some(429), "HubSpot's rate limit");
        starts(Some(502), "HubSpot answered with errors");
        starts(None, "HubSpot did not answer");
        starts(Some(400), "HubSpot refused some records' values");
        starts(Some(207), "HubSpot refused some records' values");
        assert_eq!(SyncHealth::default().advice(), None);
        let old = SyncHealth {
            failures: 0,
            ..failed(Some(500))
        };
        assert_eq!(
            old.advice(),
            None,
            "a failure outside the period is no advice"
        );
    }
    use crate::ids::AgencyId;

    #[test]
    fn the_wire_names_are_the_serde_names() {
        for object in [
            CrmObject::Company,
            CrmObject::Contact,
            CrmObject::Note,
            CrmObject::List,
            CrmObject::Property,
        ] {
            assert_eq!(serde_json::to_value(object).unwrap(), object.as_str());
        }
        for op in [
            CrmOperation::Create,
            CrmOperation::Update,
            CrmOperation::Associate,
            CrmOperation::CreateProperty,
            CrmOperation::AddToList,
            CrmOperation::RemoveFromList,
        ] {
            assert_eq!(serde_json::to_value(op).unwrap(), op.as_str());
        }
        for t in [
            SyncTrigger::RecordChange,
            SyncTrigger::Association,
            SyncTrigger::Setup,
            SyncTrigger::Tags,
            SyncTrigger::ActivityNote,
            SyncTrigger::SupportTicket,
        ] {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
    }

    #[test]
    fn a_failed_answer_marks_the_entry_failed_and_keeps_the_status_and_correlation_id() {
        let entry = CrmSyncEntry::new(
            Utc::now(),
            CrmObject::Contact,
            CrmOperation::Create,
            SyncTrigger::RecordChange,
        )
        .answered(Some(400), Some("VALIDATION_ERROR".into()))
        .correlation(Some("c-1".into()));
        assert_eq!(entry.outcome, Outcome::Failure);
        let row = csv_row("r", &entry);
        assert_eq!(row[7], "failure");
        assert_eq!(row[8], "400");
        assert_eq!(row[9], "c-1");
        assert_eq!(row[11], "VALIDATION_ERROR");
    }

    #[test]
    fn the_row_names_the_turris_record_and_each_property_with_its_old_value_when_known() {
        let agency = TurrisRef::Agency(AgencyId::parse("ag-1").unwrap());
        let mut entry = CrmSyncEntry::new(
            Utc::now(),
            CrmObject::Company,
            CrmOperation::Update,
            SyncTrigger::Tags,
        )
        .turris(&agency)
        .wrote([("turris_tags", Some("compliant"))]);
        entry.properties[0].old = Some("pending".into());
        let row = csv_row("r", &entry);
        assert_eq!((row[4].as_str(), row[5].as_str()), ("agency", "ag-1"));
        assert_eq!(row[6], "tags");
        assert_eq!(row[10], "turris_tags: pending -> compliant");
        assert_eq!(row.len(), CSV_COLUMNS.len());
    }
}
