//! Auto-invite of net-new agencies created by inbound sync.
//!
//! Core decides ([`InvitationSettings::decide`] on the HubSpot company: mode, contract rules in
//! order, default template, else needs attention) and says where to send
//! ([`invitation::delivery`]: an agency contact with an email, else deferred). The server
//! stores the invitation and logs the outcome with the seed's titles. A deferred invitation is
//! sent when a contact with an email is added to the agency ([`contact_added`]).
//!
//! Sending is recording the invitation as `sent` with the address: Turris' invitation email
//! itself is outside this server.

use chrono::Utc;
use turris_core::activity::{ActivityDetails, ActivityKind, NewActivity, Outcome};
use turris_core::ids::{AgencyId, ContractTemplateId, OrganizationId};
use turris_core::invitation::{self, Delivery, InvitationSettings, InviteDecision};
use turris_core::property::PropertyMap;

use crate::app::AppState;
use crate::store::{Invitation, InvitationId, InvitationStatus};

/// Decides and records the invitation of an agency inbound sync just created from `company`.
/// Failures are logged, never returned: the agency is created either way.
pub async fn agency_created(
    state: &AppState,
    org: &OrganizationId,
    settings: &InvitationSettings,
    agency: &AgencyId,
    company: &PropertyMap,
) {
    if let Err(e) = invite(state, org, settings, agency, company).await {
        tracing::error!(org = %org, agency = %agency, error = %crate::error::ErrorChain(&e), "auto-invite failed");
    }
}

async fn log(
    state: &AppState,
    org: &OrganizationId,
    kind: ActivityKind,
    outcome: Outcome,
    agency: &AgencyId,
    details: ActivityDetails,
) -> Result<(), crate::store::DbError> {
    let entry = NewActivity::new(kind, outcome, Utc::now()).with_details(ActivityDetails {
        turris_id: Some(agency.to_string()),
        ..details
    });
    state.db().append_activity(org, &entry).await?;
    Ok(())
}

async fn invite(
    state: &AppState,
    org: &OrganizationId,
    settings: &InvitationSettings,
    agency: &AgencyId,
    company: &PropertyMap,
) -> Result<(), crate::store::DbError> {
    let now = Utc::now();
    let decision = settings.decide(company);
    let contacts = match decision {
        InviteDecision::Invite { .. } => state.db().list_agency_contacts(org, agency).await?,
        _ => Vec::new(),
    };
    let planned = invitation::outcome(&decision, &contacts);
    let Some((status, template, sent_to)) = planned.invitation else {
        let details = ActivityDetails {
            skip_reason: Some(planned.message),
            ..ActivityDetails::default()
        };
        return log(state, org, planned.kind, planned.outcome, agency, details).await;
    };
    let record = Invitation {
        id: InvitationId::new(),
        agency_id: agency.clone(),
        contract_template_id: template,
        status,
        sent_to,
        created_at: now,
        updated_at: now,
    };
    if let Err(e) = state.db().create_invitation(org, &record).await {
        // A rule naming a template that was deleted since: a person must pick one.
        return log(
            state,
            org,
            ActivityKind::AutoInviteNeedsAttention,
            Outcome::Failure,
            agency,
            ActivityDetails {
                message: Some(format!("the invitation could not be stored: {e}")),
                ..ActivityDetails::default()
            },
        )
        .await;
    }
    log(
        state,
        org,
        planned.kind,
        planned.outcome,
        agency,
        ActivityDetails {
            message: Some(planned.message),
            ..ActivityDetails::default()
        },
    )
    .await
}

/// Sends the agency's deferred invitations now that it has a contact (if it has an email).
pub async fn contact_added(state: &AppState, org: &OrganizationId, agency: &AgencyId) {
    if let Err(e) = send_deferred(state, org, agency).await {
        tracing::error!(org = %org, agency = %agency, error = %crate::error::ErrorChain(&e), "deferred invitation not sent");
    }
}

async fn send_deferred(
    state: &AppState,
    org: &OrganizationId,
    agency: &AgencyId,
) -> Result<(), crate::store::DbError> {
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
        state
            .db()
            .set_invitation_status(
                org,
                pending.id,
                InvitationStatus::Sent,
                Some(&email),
                Utc::now(),
            )
            .await?;
        let template = pending
            .contract_template_id
            .as_ref()
            .map(ContractTemplateId::to_string)
            .unwrap_or_default();
        log(
            state,
            org,
            ActivityKind::AutoInviteSent,
            Outcome::Success,
            agency,
            ActivityDetails {
                message: Some(format!("invited with contract {template}, sent to {email}")),
                ..ActivityDetails::default()
            },
        )
        .await?;
    }
    Ok(())
}
