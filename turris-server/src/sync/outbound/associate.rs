//! Contact-to-company associations of an outbound push: an agent's or agency contact's
//! contact follows its agency's company once both are linked.

use chrono::Utc;
use turris_core::activity::{ActivityDetails, ActivityKind, Outcome};
use turris_core::audit::{CrmObject, CrmOperation, CrmSyncEntry, SyncTrigger};
use turris_core::ids::{AgencyId, HubSpotId};
use turris_core::planner::RecentWrite;
use turris_core::store::TurrisRef;
use turris_hubspot::crm::ObjectType;
use turris_hubspot::crm::associations::{AssociationPair, PublicObjectId};

use super::PushError;
use super::pusher::{Pusher, Refusal};

impl Pusher<'_> {
    /// Associates each agent's or agency contact's contact with its agency's company
    /// (unlabeled, type 279), one batch call per 100 pairs, once both are linked; one activity
    /// row per pair.
    pub(super) async fn associate(
        &self,
        employed: &[(TurrisRef, AgencyId)],
    ) -> Result<(), PushError> {
        let pairs = self.linked_pairs(employed).await?;
        let db = self.state.db();
        if pairs.is_empty() {
            return Ok(());
        }
        // Before the call: the contact's `associatedcompanyid` change may come back first.
        let now = Utc::now();
        let writes: Vec<RecentWrite> = pairs
            .iter()
            .map(|(_, contact, company)| RecentWrite {
                object_id: contact.clone(),
                property: "associatedcompanyid".to_owned(),
                value: Some(company.to_string()),
                at: now,
                edited_at: now,
            })
            .collect();
        db.record_hubspot_writes(self.org, &writes).await?;
        let inputs: Vec<AssociationPair> = pairs
            .iter()
            .map(|(_, contact, company)| AssociationPair {
                from: PublicObjectId {
                    id: contact.to_string(),
                },
                to: PublicObjectId {
                    id: company.to_string(),
                },
            })
            .collect();
        let refusal = match self
            .client
            .batch_associate_default(&ObjectType::Contacts, &ObjectType::Companies, &inputs)
            .await
        {
            Ok(()) => None,
            Err(e) => Some(self.refusal(e, None).await),
        };
        let audit = association_records(&pairs, refusal.as_ref());
        self.record(&audit).await?;
        for (turris, contact, company) in &pairs {
            let message = format!("contact {contact} associated with company {company}");
            match &refusal {
                Some(refusal) => {
                    self.failed(
                        ActivityKind::AssociateContactWithCompany,
                        turris,
                        Some(contact),
                        refusal,
                    )
                    .await?;
                }
                None => {
                    self.log(
                        ActivityKind::AssociateContactWithCompany,
                        Outcome::Success,
                        ActivityDetails {
                            hubspot_status: Some(200),
                            message: Some(message),
                            turris_id: Some(turris.id().to_owned()),
                            hubspot_id: Some(contact.to_string()),
                            ..ActivityDetails::default()
                        },
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }

    /// The (record, contact, company) pairs of `employed` whose contact and agency are both
    /// linked.
    async fn linked_pairs(
        &self,
        employed: &[(TurrisRef, AgencyId)],
    ) -> Result<Vec<(TurrisRef, HubSpotId, HubSpotId)>, PushError> {
        let db = self.state.db();
        let mut pairs: Vec<(TurrisRef, HubSpotId, HubSpotId)> = Vec::new();
        for (turris, agency) in employed {
            let contact = db.link_by_turris(self.org, turris).await?;
            let company = db
                .link_by_turris(self.org, &TurrisRef::Agency(agency.clone()))
                .await?;
            if let (Some(contact), Some(company)) = (contact, company) {
                pairs.push((turris.clone(), contact.hubspot_id, company.hubspot_id));
            }
        }
        Ok(pairs)
    }
}

/// The sync records of one batch of contact-to-company associations.
fn association_records(
    pairs: &[(TurrisRef, HubSpotId, HubSpotId)],
    refusal: Option<&Refusal>,
) -> Vec<CrmSyncEntry> {
    pairs
        .iter()
        .map(|(turris, contact, company)| {
            let entry = CrmSyncEntry::new(
                Utc::now(),
                CrmObject::Contact,
                CrmOperation::Associate,
                SyncTrigger::Association,
            )
            .object_id(contact.to_string())
            .turris(turris)
            .wrote([("associated_company", Some(company.as_str()))]);
            match refusal {
                Some(refusal) => refusal.recorded(entry),
                None => entry.answered(Some(200), None),
            }
        })
        .collect()
}
