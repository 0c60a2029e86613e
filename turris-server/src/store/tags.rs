//! Tags ([`turris_core::tags`]): the tags pushes a state change queues in its own transaction
//! (`queue_tags_push!`, `queue_agency_tags_pushes!`), what decides a record's tags (its
//! compliance statuses, its latest NIPR result, and its agency's invitation and agreements), and
//! queueing every linked record's tags push when tags are turned on.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use turris_core::ids::OrganizationId;
use turris_core::invitation::InvitationStatus;
use turris_core::store::TurrisRef;
use turris_core::tags::{ComplianceState, TagFacts};

use super::error::DbResult;
use super::inputs::enum_from;
use super::sql::{Dialect, SqlStore, ns, with_pool};

/// Queues a tags push of `$kind`/`$id` for `$org` inside the transaction `$tx`, when the
/// record is linked (an unlinked record gets its tags with its create) and tags are on (the
/// outbound worker skips a tags push while they are off; turning them on queues every linked
/// record's).
macro_rules! queue_tags_push {
    ($tx:expr, $org:expr, $kind:expr, $id:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO outbound_pushes (organization_id, record_type, record_id, queued_at,
             next_attempt_at, reason)
             SELECT organization_id, kind, turris_id, $4, $4, 'tags' FROM links
             WHERE organization_id = $1 AND kind = $2 AND turris_id = $3
               AND EXISTS (SELECT 1 FROM integration_settings s
                   WHERE s.organization_id = $1 AND s.crm_features LIKE '%,tags,%')",
        )
        .bind($org.as_str())
        .bind($kind)
        .bind($id)
        .bind($now)
        .execute(&mut *$tx)
        .await?
    };
}
pub(crate) use queue_tags_push;

/// Queues a tags push of the agency `$agency` and of each of its linked agency contacts (who
/// carry its onboarding tags) inside the transaction `$tx`.
macro_rules! queue_agency_tags_pushes {
    ($tx:expr, $org:expr, $agency:expr, $now:expr) => {{
        $crate::store::tags::queue_tags_push!($tx, $org, "agency", $agency, $now);
        sqlx::query(
            "INSERT INTO outbound_pushes (organization_id, record_type, record_id, queued_at,
             next_attempt_at, reason)
             SELECT l.organization_id, l.kind, l.turris_id, $3, $3, 'tags'
             FROM agency_contacts c JOIN links l ON l.organization_id = c.organization_id
               AND l.kind = 'agency_contact' AND l.turris_id = c.id
             WHERE c.organization_id = $1 AND c.agency_id = $2
               AND EXISTS (SELECT 1 FROM integration_settings s
                   WHERE s.organization_id = $1 AND s.crm_features LIKE '%,tags,%')",
        )
        .bind($org.as_str())
        .bind($agency)
        .bind($now)
        .execute(&mut *$tx)
        .await?
    }};
}
pub(crate) use queue_agency_tags_pushes;

/// The facts behind records' tags.
#[async_trait]
pub trait TagStore: Send + Sync {
    /// What decides `record`'s tags (all empty for an unknown record).
    async fn tag_facts(&self, org: &OrganizationId, record: &TurrisRef) -> DbResult<TagFacts>;
    /// Queues a tags push of every linked record of `org`; how many.
    async fn queue_all_tags_pushes(
        &self,
        org: &OrganizationId,
        now: DateTime<Utc>,
    ) -> DbResult<u64>;
}

#[async_trait]
impl TagStore for SqlStore {
    async fn tag_facts(&self, org: &OrganizationId, record: &TurrisRef) -> DbResult<TagFacts> {
        let org = org.as_str();
        let (entity, agency) = match record {
            TurrisRef::Agency(id) => (Some(("agency", id.as_str())), Some(id.as_str().to_owned())),
            TurrisRef::Agent(id) => (Some(("agent", id.as_str())), None),
            TurrisRef::AgencyContact(id) => {
                let agency: Option<String> = with_pool!(self, |pool| {
                    sqlx::query_scalar(
                        "SELECT agency_id FROM agency_contacts WHERE organization_id = $1 AND id = $2",
                    )
                    .bind(org)
                    .bind(id.as_str())
                    .fetch_optional(pool)
                    .await?
                });
                (None, agency)
            }
        };
        let mut facts = TagFacts::default();
        if let Some((entity_type, entity_id)) = entity {
            let (statuses, nipr): (Vec<String>, Option<String>) = with_pool!(self, |pool| {
                let statuses = sqlx::query_scalar(
                    "SELECT status FROM compliance_statuses
                     WHERE organization_id = $1 AND entity_type = $2 AND entity_id = $3",
                )
                .bind(org)
                .bind(entity_type)
                .bind(entity_id)
                .fetch_all(pool)
                .await?;
                let nipr = sqlx::query_scalar(
                    "SELECT outcome FROM nipr_syncs
                     WHERE organization_id = $1 AND entity_type = $2 AND entity_id = $3
                     ORDER BY finished_at DESC LIMIT 1",
                )
                .bind(org)
                .bind(entity_type)
                .bind(entity_id)
                .fetch_optional(pool)
                .await?;
                (statuses, nipr)
            });
            facts.compliance = statuses
                .iter()
                .filter_map(|s| compliance_state(s))
                .collect();
            facts.nipr_failed = nipr.as_deref() == Some("error");
        }
        if let Some(agency) = agency {
            let (invitation, agreements): (Option<String>, i64) = with_pool!(self, |pool| {
                let invitation = sqlx::query_scalar(
                    "SELECT status FROM invitations WHERE organization_id = $1 AND agency_id = $2
                     ORDER BY updated_at DESC LIMIT 1",
                )
                .bind(org)
                .bind(&agency)
                .fetch_optional(pool)
                .await?;
                let agreements = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM producer_agreements
                     WHERE organization_id = $1 AND agency_id = $2",
                )
                .bind(org)
                .bind(&agency)
                .fetch_one(pool)
                .await?;
                (invitation, agreements)
            });
            facts.invitation = invitation
                .map(|s| enum_from::<InvitationStatus>(&s))
                .transpose()?;
            facts.agreement_executed = agreements > 0;
        }
        Ok(facts)
    }

    async fn queue_all_tags_pushes(
        &self,
        org: &OrganizationId,
        now: DateTime<Utc>,
    ) -> DbResult<u64> {
        let now = ns(now)?;
        Ok(with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "INSERT INTO outbound_pushes (organization_id, record_type, record_id, queued_at,
                 next_attempt_at, reason)
                 SELECT organization_id, kind, turris_id, $2, $2, 'tags' FROM links
                 WHERE organization_id = $1",
            )
            .bind(org.as_str())
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        }))
    }
}

fn compliance_state(status: &str) -> Option<ComplianceState> {
    Some(match status {
        "compliant" => ComplianceState::Compliant,
        "non_compliant" => ComplianceState::NonCompliant,
        "pending" => ComplianceState::Pending,
        "not_required" => ComplianceState::NotRequired,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stored_compliance_status_has_its_tag_state() {
        use turris_webhooks::ComplianceStatus::*;
        for status in [Compliant, NonCompliant, Pending, NotRequired] {
            let text = super::super::inputs::enum_text(&status).unwrap();
            assert!(compliance_state(&text).is_some(), "{text}");
        }
    }
}
