//! Activity notes (seed 002's "Activity Tracking"): events in Turris logged as HubSpot notes on
//! the agency's company or the agent's contact, each exactly once. Which events, and what a
//! note says, are decided here; the server queues one note per event in the event's own
//! transaction and writes it with a batch upsert keyed by [`NOTE_ID_PROPERTY`], so a retry
//! after a crash finds the note it made instead of making a second.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The unique note property holding the Turris note id (the key of the upsert).
pub const NOTE_ID_PROPERTY: &str = "turris_note_id";

/// What a note is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// An agency was sent its invitation.
    InvitationSent,
    /// An agency executed a producer agreement.
    AgreementExecuted,
    /// A NIPR sync of an agency or agent failed.
    NiprSyncFailed,
    /// A support ticket about the agent or agency was opened or changed status.
    SupportTicket,
    /// Compliance statuses of an agency or agent changed: one digest per debounce window.
    ComplianceChanged,
}

impl NoteKind {
    /// Every kind.
    pub const ALL: [NoteKind; 5] = [
        NoteKind::InvitationSent,
        NoteKind::AgreementExecuted,
        NoteKind::NiprSyncFailed,
        NoteKind::SupportTicket,
        NoteKind::ComplianceChanged,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            NoteKind::InvitationSent => "invitation_sent",
            NoteKind::AgreementExecuted => "agreement_executed",
            NoteKind::NiprSyncFailed => "nipr_sync_failed",
            NoteKind::SupportTicket => "support_ticket",
            NoteKind::ComplianceChanged => "compliance_changed",
        }
    }

    /// The kind of a wire name.
    pub fn parse(text: &str) -> Option<NoteKind> {
        NoteKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// Which events become notes (all off until an admin turns them on).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NoteToggles {
    /// Invitations sent.
    #[serde(default)]
    pub invitations: bool,
    /// Producer agreements executed.
    #[serde(default)]
    pub agreements: bool,
    /// NIPR syncs that failed.
    #[serde(default)]
    pub nipr_errors: bool,
    /// Support tickets opened or changing status.
    #[serde(default)]
    pub tickets: bool,
    /// Compliance status changes, one digest note per debounce window.
    #[serde(default)]
    pub compliance: bool,
}

impl NoteToggles {
    /// Whether notes of `kind` are written.
    pub fn allows(self, kind: NoteKind) -> bool {
        match kind {
            NoteKind::InvitationSent => self.invitations,
            NoteKind::AgreementExecuted => self.agreements,
            NoteKind::NiprSyncFailed => self.nipr_errors,
            NoteKind::SupportTicket => self.tickets,
            NoteKind::ComplianceChanged => self.compliance,
        }
    }
}

/// The facts a note is written from, stored with the queued note.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteDetails {
    /// The contract template (invitations, agreements).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<String>,
    /// Where the invitation went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_to: Option<String>,
    /// Who signed (`Name <email>`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signers: Vec<String>,
    /// The NIPR sync's kind (`fetch`, `full_refresh`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_kind: Option<String>,
    /// The NIPR error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A support ticket's number, subject, status and link back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<TicketFacts>,
    /// A compliance digest's changes, each pair's status at the window's start and end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compliance: Vec<ComplianceChangeFacts>,
    /// A compliance digest's window: when its first change came and when it closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// One product and state whose compliance status changed within a digest's window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplianceChangeFacts {
    /// The product.
    pub product: String,
    /// The two-letter state.
    pub state: String,
    /// The status when the window opened.
    pub from: String,
    /// The status when it closed.
    pub to: String,
}

/// Most changes one digest lists; the rest are counted.
pub const DIGEST_MAX_CHANGES: usize = 50;

/// What a support-ticket note says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketFacts {
    /// The ticket's number.
    pub number: String,
    /// Its subject.
    pub subject: String,
    /// Its status now.
    pub status: String,
    /// The status before, on a change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_status: Option<String>,
    /// Where the ticket is.
    pub link: String,
}

/// What an event's note says. HubSpot shows the body as HTML: every value is escaped.
///
/// ```
/// use turris_core::notes::{NoteDetails, NoteKind, body};
///
/// let details = NoteDetails {
///     contract: Some("standard".into()),
///     signers: vec!["Ada <ada@x.example>".into()],
///     ..NoteDetails::default()
/// };
/// let text = body(NoteKind::AgreementExecuted, &details);
/// assert!(text.contains("standard") && text.contains("Ada &lt;ada@x.example&gt;"));
/// ```
pub fn body(kind: NoteKind, details: &NoteDetails) -> String {
    let field = |v: &Option<String>| escape(v.as_deref().unwrap_or("–"));
    match kind {
        NoteKind::InvitationSent => format!(
            "<p><strong>Turris: invitation sent</strong></p><p>Contract: {}<br>Sent to: {}</p>",
            field(&details.contract),
            field(&details.sent_to)
        ),
        NoteKind::AgreementExecuted => {
            let signers: Vec<String> = details.signers.iter().map(|s| escape(s)).collect();
            format!(
                "<p><strong>Turris: producer agreement executed</strong></p><p>Contract: {}<br>Signed by: {}</p>",
                field(&details.contract),
                if signers.is_empty() {
                    "–".to_owned()
                } else {
                    signers.join(", ")
                }
            )
        }
        NoteKind::SupportTicket => {
            let ticket = details.ticket.clone().unwrap_or_default();
            let headline = match &ticket.previous_status {
                Some(before) => format!(
                    "Turris: support ticket {} is now {} (was {})",
                    escape(&ticket.number),
                    escape(&ticket.status),
                    escape(before)
                ),
                None => format!(
                    "Turris: support ticket {} opened ({})",
                    escape(&ticket.number),
                    escape(&ticket.status)
                ),
            };
            format!(
                "<p><strong>{headline}</strong></p><p>{}</p><p><a href=\"{}\">Open the ticket in Turris</a></p>",
                escape(&ticket.subject),
                escape(&ticket.link)
            )
        }
        NoteKind::ComplianceChanged => compliance_digest(details),
        NoteKind::NiprSyncFailed => format!(
            "<p><strong>Turris: NIPR sync failed</strong></p><p>Kind: {}<br>Error: {}</p><p>Turris retries on the next sync; check the NPN if it keeps failing.</p>",
            field(&details.sync_kind),
            field(&details.error)
        ),
    }
}

/// A digest: one line per changed pair (at most [`DIGEST_MAX_CHANGES`], the rest counted).
fn compliance_digest(details: &NoteDetails) -> String {
    let lines: Vec<String> = details
        .compliance
        .iter()
        .take(DIGEST_MAX_CHANGES)
        .map(|c| {
            format!(
                "{} in {}: {} → {}",
                escape(&c.product),
                escape(&c.state),
                escape(&c.from),
                escape(&c.to)
            )
        })
        .collect();
    let more = details.compliance.len().saturating_sub(DIGEST_MAX_CHANGES);
    let more = if more > 0 {
        format!("<br>and {more} more")
    } else {
        String::new()
    };
    let window = details.window.map_or(String::new(), |(start, end)| {
        format!(
            "<p>Between {} and {} UTC.</p>",
            start.format("%Y-%m-%d %H:%M"),
            end.format("%Y-%m-%d %H:%M")
        )
    });
    let headline = match details.compliance.len() {
        1 => "1 compliance status changed".to_owned(),
        n => format!("{n} compliance statuses changed"),
    };
    format!(
        "<p><strong>Turris: {headline}</strong></p><p>{}{more}</p>{window}",
        lines.join("<br>")
    )
}

fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '&' => "&amp;".to_owned(),
            '"' => "&quot;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toggles_allow_only_their_own_kind_and_default_to_off() {
        let none = NoteToggles::default();
        let agreements = NoteToggles {
            agreements: true,
            ..NoteToggles::default()
        };
        for kind in NoteKind::ALL {
            assert!(!none.allows(kind));
            assert_eq!(agreements.allows(kind), kind == NoteKind::AgreementExecuted);
            assert_eq!(NoteKind::parse(kind.as_str()), Some(kind));
        }
    }

    #[test]
    fn a_ticket_note_has_the_number_the_status_and_a_link_back() {
        let mut ticket = TicketFacts {
            number: "T-1042".into(),
            subject: "License upload fails".into(),
            status: "open".into(),
            previous_status: None,
            link: "https://support.example/t/1042?a=1&b=2".into(),
        };
        let details = NoteDetails {
            ticket: Some(ticket.clone()),
            ..NoteDetails::default()
        };
        let opened = body(NoteKind::SupportTicket, &details);
        assert!(opened.contains("T-1042 opened (open)"), "{opened}");
        assert!(
            opened.contains("href=\"https://support.example/t/1042?a=1&amp;b=2\""),
            "{opened}"
        );
        ticket.previous_status = Some("open".into());
        ticket.status = "solved".into();
        let details = NoteDetails {
            ticket: Some(ticket),
            ..NoteDetails::default()
        };
        let changed = body(NoteKind::SupportTicket, &details);
        assert!(
            changed.contains("T-1042 is now solved (was open)"),
            "{changed}"
        );
    }

    #[test]
    fn a_compliance_digest_lists_each_pair_once_and_counts_what_it_leaves_out() {
        let change = |i: usize| ComplianceChangeFacts {
            product: format!("P&C {i}"),
            state: "TX".into(),
            from: "pending".into(),
            to: "compliant".into(),
        };
        let start = DateTime::parse_from_rfc3339("2026-12-04T10:00:00Z").unwrap();
        let details = NoteDetails {
            compliance: vec![change(1)],
            window: Some((start.into(), (start + chrono::Duration::minutes(5)).into())),
            ..NoteDetails::default()
        };
        let one = body(NoteKind::ComplianceChanged, &details);
        assert!(one.contains("1 compliance status changed"), "{one}");
        assert!(
            one.contains("P&amp;C 1 in TX: pending → compliant"),
            "{one}"
        );
        assert!(
            one.contains("Between 2026-12-04 10:00 and 2026-12-04 10:05 UTC"),
            "{one}"
        );
        let many = NoteDetails {
            compliance: (0..DIGEST_MAX_CHANGES + 3).map(change).collect(),
            ..NoteDetails::default()
        };
        let text = body(NoteKind::ComplianceChanged, &many);
        assert!(text.contains("53 compliance statuses changed"), "{text}");
        assert!(
            text.contains("and 3 more") && !text.contains("P&amp;C 50 "),
            "{text}"
        );
    }

    #[test]
    fn values_are_escaped_and_missing_ones_show_a_dash() {
        let details = NoteDetails {
            sync_kind: Some("fetch".into()),
            error: Some("<script>x</script>".into()),
            ..NoteDetails::default()
        };
        let text = body(NoteKind::NiprSyncFailed, &details);
        assert!(text.contains("&lt;script&gt;") && !text.contains("<script>"));
        let text = body(NoteKind::InvitationSent, &NoteDetails::default());
        assert!(text.contains("Contract: –"));
    }
}
