//! Turris inputs of the records API, and the outbox written in the same transaction.

use turris_core::ids::{AgencyId, AgentId, ContractTemplateId, OrganizationId};
use turris_core::record::{Agency, AgencyDraft, Agent, AgentDraft, Npn, StateCode};
use turris_core::store::RecordStore;
use turris_server::store::{
    AgreementId, ComplianceEntity, ComplianceUpdate, Conflict, DbError, DebounceKey,
    DebounceOutput, DebounceStore, Invitation, InvitationId, InvitationStatus, InvitationStore,
    OutboxEvent, ProducerAgreement, RecordPageStore, SqlStore, TurrisInputStore,
    WebhookEndpointStore,
};
use turris_webhooks::{AgreementSigner, ComplianceStatus, WebhookType};

use super::webhooks::{endpoint, queued};
use super::{org, t, t0};
use crate::support::db::TestDb;

pub(super) async fn agency(store: &SqlStore, org: &OrganizationId, id: &str) -> AgencyId {
    let agency = Agency {
        id: AgencyId::parse(id).unwrap(),
        data: AgencyDraft {
            npn: Some(Npn::parse("123").unwrap()),
            ..AgencyDraft::named("Acme")
        },
    };
    store.insert_agency(org, &agency).await.unwrap();
    agency.id
}

/// Creates the agency `a1` and the contract template `std` in `org`; answers the agency's id.
async fn agency_with_template(store: &SqlStore, org: &OrganizationId) -> AgencyId {
    store
        .create_contract_template(org, &template("std"), "Std", t0())
        .await
        .unwrap();
    agency(store, org, "a1").await
}

fn template(id: &str) -> ContractTemplateId {
    ContractTemplateId::parse(id).unwrap()
}

pub(super) fn outbox(webhook_type: WebhookType, body: &str) -> OutboxEvent {
    OutboxEvent {
        webhook_type,
        body: body.as_bytes().to_vec(),
        created_at: t(1),
    }
}

fn agreement(agency: &AgencyId, template_id: &str) -> ProducerAgreement {
    ProducerAgreement {
        id: AgreementId::new(),
        agency_id: agency.clone(),
        contract_template_id: template(template_id),
        executed_at: t(1),
        signers: vec![AgreementSigner {
            name: "Pat".into(),
            email: "pat@acme.test".into(),
        }],
    }
}

async fn contract_templates_are_unique_per_organization_and_isolated(db: &TestDb) {
    let store = db.store();
    let (acme, other) = (org(&store, "acme").await, org(&store, "other").await);
    let created = store
        .create_contract_template(&acme, &template("standard"), "Standard", t0())
        .await
        .unwrap();
    let again = store
        .create_contract_template(&acme, &template("standard"), "X", t0())
        .await;
    assert!(
        matches!(again, Err(DbError::Conflict(Conflict::ContractTemplate))),
        "{again:?}"
    );
    store
        .create_contract_template(&other, &template("standard"), "Theirs", t0())
        .await
        .expect("ids are per organization");
    assert_eq!(
        store
            .contract_template(&acme, &template("standard"))
            .await
            .unwrap(),
        Some(created.clone())
    );
    assert_eq!(
        store.list_contract_templates(&acme).await.unwrap(),
        [created]
    );
    assert_eq!(
        store.list_contract_templates(&other).await.unwrap()[0].name,
        "Theirs",
        "each organization sees its own"
    );
}

async fn invitations_need_an_agency_of_the_organization(db: &TestDb) {
    let store = db.store();
    let (acme, other) = (org(&store, "acme").await, org(&store, "other").await);
    let agency_id = agency_with_template(&store, &acme).await;
    let invitation = Invitation {
        id: InvitationId::new(),
        agency_id: agency_id.clone(),
        contract_template_id: Some(template("std")),
        status: InvitationStatus::Deferred,
        sent_to: None,
        created_at: t0(),
        updated_at: t0(),
    };
    store.create_invitation(&acme, &invitation).await.unwrap();
    assert!(
        matches!(
            store.create_invitation(&other, &invitation).await,
            Err(DbError::NotFound)
        ),
        "another organization's agency is not found"
    );
    let no_template = Invitation {
        id: InvitationId::new(),
        contract_template_id: Some(template("missing")),
        ..invitation.clone()
    };
    assert!(matches!(
        store.create_invitation(&acme, &no_template).await,
        Err(DbError::NotFound)
    ));
    store
        .set_invitation_status(
            &acme,
            invitation.id,
            InvitationStatus::Sent,
            Some("p@a.test"),
            t(5),
        )
        .await
        .unwrap();
    let read = store
        .invitation(&acme, invitation.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (read.status, read.sent_to.as_deref(), read.updated_at),
        (InvitationStatus::Sent, Some("p@a.test"), t(5))
    );
    assert_eq!(
        store
            .list_invitations(&acme, Some(&agency_id))
            .await
            .unwrap(),
        vec![read.clone()]
    );
    assert_eq!(store.list_invitations(&acme, None).await.unwrap(), [read]);
    assert_eq!(store.invitation(&other, invitation.id).await.unwrap(), None);
    assert!(
        store
            .list_invitations(&other, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store
            .set_invitation_status(&other, invitation.id, InvitationStatus::Sent, None, t(6))
            .await,
        Err(DbError::NotFound)
    ));
}

async fn compliance_updates_report_real_changes_and_feed_the_debounce_inbox(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let agency_id = agency(&store, &acme, "a1").await;
    let entity = ComplianceEntity::Agency(agency_id.clone());
    let update = |state: &str, status| ComplianceUpdate {
        entity: entity.clone(),
        product: "life".into(),
        state: StateCode::parse(state).unwrap(),
        status,
    };
    let first = store
        .set_compliance_statuses(
            &acme,
            &[
                update("TX", ComplianceStatus::Pending),
                update("CA", ComplianceStatus::Compliant),
            ],
            t(1),
        )
        .await
        .unwrap();
    assert_eq!(
        first
            .iter()
            .map(|c| (c.previous, c.changed))
            .collect::<Vec<_>>(),
        [(None, false), (None, true)]
    );
    let second = store
        .set_compliance_statuses(&acme, &[update("TX", ComplianceStatus::NonCompliant)], t(2))
        .await
        .unwrap();
    assert_eq!(
        (second[0].previous, second[0].changed),
        (Some(ComplianceStatus::Pending), true)
    );
    let records = store.compliance_statuses(&acme, &entity).await.unwrap();
    assert_eq!(
        records
            .iter()
            .map(|r| (r.state.as_str(), r.status))
            .collect::<Vec<_>>(),
        [
            ("CA", ComplianceStatus::Compliant),
            ("TX", ComplianceStatus::NonCompliant)
        ]
    );

    let key = DebounceKey {
        organization: acme.clone(),
        webhook_type: WebhookType::AgencyComplianceStatusChanges,
    };
    assert_eq!(store.debounce_due(t(2)).await.unwrap(), vec![key.clone()]);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    store
        .advance_debounce(
            &key,
            Box::new(move |state, changes| {
                sink.lock().unwrap().extend(changes);
                DebounceOutput {
                    state,
                    next_due: None,
                    outbox: vec![],
                    notes: vec![],
                }
            }),
        )
        .await
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.iter()
            .map(|c| (
                c.state.as_str(),
                c.previous_status,
                c.status,
                c.name.as_str(),
                c.npn.as_deref()
            ))
            .collect::<Vec<_>>(),
        [
            (
                "CA",
                ComplianceStatus::Pending,
                ComplianceStatus::Compliant,
                "Acme",
                Some("123")
            ),
            (
                "TX",
                ComplianceStatus::Pending,
                ComplianceStatus::NonCompliant,
                "Acme",
                Some("123")
            ),
        ],
        "one change per real transition, in order, with the entity's name and NPN"
    );

    let other = org(&store, "other").await;
    let foreign = store
        .set_compliance_statuses(&other, &[update("TX", ComplianceStatus::Compliant)], t(3))
        .await;
    assert!(
        matches!(foreign, Err(DbError::NotFound)),
        "another organization's agency"
    );
    let ghost_agent = ComplianceUpdate {
        entity: ComplianceEntity::Agent(AgentId::parse("nobody").unwrap()),
        ..update("TX", ComplianceStatus::Compliant)
    };
    let partial = store
        .set_compliance_statuses(
            &acme,
            &[update("NY", ComplianceStatus::Compliant), ghost_agent],
            t(4),
        )
        .await;
    assert!(matches!(partial, Err(DbError::NotFound)));
    assert_eq!(
        store
            .compliance_statuses(&acme, &entity)
            .await
            .unwrap()
            .len(),
        2,
        "a refused batch writes nothing"
    );
    assert!(
        store.debounce_due(t(4)).await.unwrap().is_empty(),
        "and feeds no change"
    );
}

async fn a_refused_producer_agreement_leaves_no_outbox_rows(db: &TestDb) {
    let store = db.store();
    let (acme, other) = (org(&store, "acme").await, org(&store, "other").await);
    let agency_id = agency_with_template(&store, &acme).await;
    let hook = endpoint(WebhookType::ProducerAgreementExecuted);
    store.create_webhook(&acme, &hook, t0()).await.unwrap();
    let event = [outbox(WebhookType::ProducerAgreementExecuted, "{}")];

    let missing_template = agreement(&agency_id, "missing");
    assert!(matches!(
        store
            .record_producer_agreement(&acme, &missing_template, &event)
            .await,
        Err(DbError::NotFound)
    ));
    assert!(
        matches!(
            store
                .record_producer_agreement(&other, &agreement(&agency_id, "std"), &event)
                .await,
            Err(DbError::NotFound)
        ),
        "another organization's agency and template"
    );
    assert!(
        queued(&store, hook.id).await.is_empty(),
        "nothing was queued for refused agreements"
    );

    let signed = agreement(&agency_id, "std");
    let enqueued = store
        .record_producer_agreement(&acme, &signed, &event)
        .await
        .unwrap();
    assert_eq!(enqueued.len(), 1);
    assert_eq!(enqueued[0].webhook_id, hook.id);
    let duplicate = store
        .record_producer_agreement(&acme, &signed, &event)
        .await;
    assert!(
        matches!(
            duplicate,
            Err(DbError::Conflict(Conflict::ProducerAgreement))
        ),
        "{duplicate:?}"
    );
    assert_eq!(
        queued(&store, hook.id).await.len(),
        1,
        "the duplicate rolled back its outbox row"
    );
    assert_eq!(
        store.producer_agreement(&acme, signed.id).await.unwrap(),
        Some(signed.clone())
    );
    assert_eq!(
        store.producer_agreement(&other, signed.id).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .list_producer_agreements(&acme, Some(&agency_id), None, 10)
            .await
            .unwrap(),
        [signed]
    );
}

async fn agencies_and_agents_list_by_id_in_pages(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    for id in ["c", "a", "b", "B"] {
        agency(&store, &acme, id).await;
    }
    let first = store.list_agencies(&acme, None, 2).await.unwrap();
    assert_eq!(
        first.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["B", "a"],
        "bytewise order"
    );
    let rest = store
        .list_agencies(&acme, Some(&first[1].id), 10)
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["b", "c"]
    );
    let other = org(&store, "other").await;
    assert!(
        store
            .list_agencies(&other, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let agent = Agent {
        id: AgentId::parse("p1").unwrap(),
        data: AgentDraft::named("A", "B"),
    };
    store.insert_agent(&acme, &agent).await.unwrap();
    assert_eq!(
        store.list_agents(&acme, None, 0).await.unwrap(),
        [agent],
        "limit 0 means 1"
    );
}

both_databases!(db:
    contract_templates_are_unique_per_organization_and_isolated,
    invitations_need_an_agency_of_the_organization,
    compliance_updates_report_real_changes_and_feed_the_debounce_inbox,
    a_refused_producer_agreement_leaves_no_outbox_rows,
    agencies_and_agents_list_by_id_in_pages,
);
