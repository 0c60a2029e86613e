//! Auto-invite of net-new agencies created by inbound sync.
//!
//! Core decides ([`InvitationSettings::decide`] on the HubSpot company: mode, contract rules in
//! order, default template, else needs attention) and says where to send
//! ([`invitation::delivery`]: an agency contact with an email, else deferred). The invitation
//! and its activity row are written in the same transaction as the agency and its link
//! ([`for_new_agency`], committed by [`crate::store::InboundStepStore`]), so a crash never
//! leaves an agency without its invitation. A deferred invitation is sent when a contact with
//! an email is added to the agency ([`contact_added`]); sending it marks it `sent` and logs the
//! row in one transaction that only a still-deferred invitation passes, so it is sent once.
//! A failed release is not only logged: the sweep ([`run`]) sends every deferred invitation
//! whose agency has a contact with an email, every [`SWEEP`].
//!
//! Sending is recording the invitation as `sent` with the address: Turris' invitation email
//! itself is outside this server.

use std::time::Duration;

use chrono::{DateTime, Utc};
use turris_core::activity::{ActivityDetails, ActivityKind, NewActivity, Outcome};
use turris_core::ids::{AgencyId, ContractTemplateId, OrganizationId};
use turris_core::invitation::{self, Delivery, InvitationSettings};
use turris_core::property::PropertyMap;

use crate::app::AppState;
use crate::store::{DbError, Invitation, InvitationId, InvitationStatus, InvitationWrite};
use crate::workers::Shutdown;

/// How often deferred invitations whose agency has a contact with an email are sent.
pub const SWEEP: Duration = Duration::from_secs(60);
/// Most agencies one sweep looks at.
const SWEEP_LIMIT: usize = 100;

/// What inbound sync writes with a new agency: an activity row when core invites nobody, or
/// the invitation with its rows.
pub struct NewAgencyInvite {
    /// Rows to log with the agency (core invites nobody).
    pub activity: Vec<NewActivity>,
    /// The invitation to store with the agency.
    pub invitation: Option<InvitationWrite>,
}

fn row(
    kind: ActivityKind,
    outcome: Outcome,
    agency: &AgencyId,
    message: String,
    at: DateTime<Utc>,
) -> NewActivity {
    // A skipped invitation (deferred, needs attention) gives its reason where the activity
    // list shows skip reasons, not only in the message.
    let skip_reason = (outcome == Outcome::Skipped).then(|| message.clone());
    NewActivity::new(kind, outcome, at).with_details(ActivityDetails {
        turris_id: Some(agency.to_string()),
        message: Some(message),
        skip_reason,
        ..ActivityDetails::default()
    })
}

/// Core's invitation of an agency inbound sync creates from `company` (a new agency has no
/// contact yet, so an invitation is deferred until it has one).
pub fn for_new_agency(
    settings: &InvitationSettings,
    agency: &AgencyId,
    company: &PropertyMap,
    now: DateTime<Utc>,
) -> NewAgencyInvite {
    let decision = settings.decide(company);
    let planned = invitation::outcome(&decision, &[]);
    let Some((status, template, sent_to)) = planned.invitation else {
        let skipped =
            NewActivity::new(planned.kind, planned.outcome, now).with_details(ActivityDetails {
                turris_id: Some(agency.to_string()),
                skip_reason: Some(planned.message),
                ..ActivityDetails::default()
            });
        return NewAgencyInvite {
            activity: vec![skipped],
            invitation: None,
        };
    };
    let invitation = Invitation {
        id: InvitationId::new(),
        agency_id: agency.clone(),
        contract_template_id: template,
        status,
        sent_to,
        created_at: now,
        updated_at: now,
    };
    NewAgencyInvite {
        activity: Vec::new(),
        invitation: Some(InvitationWrite {
            invitation,
            stored: row(planned.kind, planned.outcome, agency, planned.message, now),
            // A rule naming a template that was deleted since: a person must pick one.
            template_missing: row(
                ActivityKind::AutoInviteNeedsAttention,
                Outcome::Failure,
                agency,
                "the invitation could not be stored: its contract template no longer exists"
                    .to_owned(),
                now,
            ),
        }),
    }
}

/// Sends the agency's deferred invitations now that it has a contact (if it has an email).
/// A failure is logged here and retried by the sweep ([`run`]).
pub async fn contact_added(state: &AppState, org: &OrganizationId, agency: &AgencyId) {
    if let Err(e) = send_deferred(state, org, agency).await {
        tracing::error!(org = %org, agency = %agency, error = %crate::error::ErrorChain(&e), "deferred invitation not sent yet: the sweep retries it");
    }
}

/// The sweep loop: runs until `shutdown` fires.
pub async fn run(state: AppState, mut shutdown: Shutdown) {
    loop {
        if let Err(e) = sweep(&state).await {
            tracing::error!(error = %crate::error::ErrorChain(&e), "deferred invitations sweep failed");
        }
        tokio::select! {
            () = tokio::time::sleep(SWEEP) => {},
            () = shutdown.fired() => return,
        }
    }
}

/// Sends the deferred invitations of agencies that have a contact with an email; returns how
/// many agencies it looked at.
pub async fn sweep(state: &AppState) -> Result<usize, DbError> {
    let ready = state.db().deferred_invitations_ready(SWEEP_LIMIT).await?;
    for (org, agency) in &ready {
        send_deferred(state, org, agency).await?;
    }
    Ok(ready.len())
}

async fn send_deferred(
    state: &AppState,
    org: &OrganizationId,
    agency: &AgencyId,
) -> Result<(), DbError> {
    let deferred: Vec<Invitation> = state
        .db()
        .list_invitations(org, Some(agency))
        .await?
        .into_iter()
        .filter(|i| i.status == InvitationStatus::Deferred)
        .collect();
    if deferred.is_empty() {
        return Ok(());
    }
    let contacts = state.db().list_agency_contacts(org, agency).await?;
    let Delivery::Send { email, .. } = invitation::delivery(&contacts) else {
        return Ok(());
    };
    for pending in deferred {
        let template = pending
            .contract_template_id
            .as_ref()
            .map(ContractTemplateId::to_string)
            .unwrap_or_default();
        let now = Utc::now();
        let sent = row(
            ActivityKind::AutoInviteSent,
            Outcome::Success,
            agency,
            format!("invited with contract {template}, sent to {email}"),
            now,
        );
        // Only a still-deferred invitation is sent: another process may have sent it.
        state
            .db()
            .send_deferred_invitation(org, pending.id, &email, &sent, now)
            .await?;
    }
    Ok(())
}
