//! Turris inputs of the records API, and the outbox written in the same transaction.

use turris_core::ids::{AgencyId, AgentId, ContractTemplateId, OrganizationId};
use turris_core::record::{Agency, AgencyDraft, Agent, AgentDraft, Npn, StateCode};
use turris_core::store::RecordStore;
use turris_server::store::{
    AgreementId, ComplianceEntity, ComplianceUpdate, Conflict, DbError, DebounceKey,
    DebounceOutput, DebounceStore, Invitation, InvitationId, InvitationStatus, InvitationStore,
    NiprOutbox, NiprSyncId, NiprSyncResult, NiprWrite, OutboxEvent, ProducerAgreement,
    RecordPageStore, SqlStore, TurrisInputStore, WebhookEndpointStore,
};
use turris_webhooks::delivery::{DeliveryStore, PageRequest};
use turris_webhooks::{AgreementSigner, ComplianceStatus, SyncKind, SyncOutcome, WebhookType};

use super::webhooks::{endpoint, queued};
use super::{agent_p1, org, t, t0};
use crate::support::db::TestDb;

async fn agency(store: &SqlStore, org: &OrganizationId, id: &str) -> AgencyId {
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

fn outbox(webhook_type: WebhookType, body: &str) -> OutboxEvent {
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

async fn nipr_results_enqueue_one_event_per_webhook_of_their_type(db: &TestDb) {
    let store = db.store();
    let (acme, other) = (org(&store, "acme").await, org(&store, "other").await);
    let agent = agent_p1(&store, &acme).await;
    let synced = [
        endpoint(WebhookType::EntityComplianceDataSynchronized),
        endpoint(WebhookType::EntityComplianceDataSynchronized),
    ];
    for hook in &synced {
        store.create_webhook(&acme, hook, t0()).await.unwrap();
    }
    let unrelated = endpoint(WebhookType::ProducerAgreementExecuted);
    store.create_webhook(&acme, &unrelated, t0()).await.unwrap();
    let theirs = endpoint(WebhookType::EntityComplianceDataSynchronized);
    store.create_webhook(&other, &theirs, t0()).await.unwrap();

    let result = NiprSyncResult {
        id: NiprSyncId::new(),
        entity: ComplianceEntity::Agent(agent.id.clone()),
        kind: SyncKind::Fetch,
        outcome: SyncOutcome::Success,
        error: None,
        finished_at: t(1),
    };
    let body = r#"{"webhookType":"entity_compliance_data_synchronized"}"#;
    let enqueued = store
        .record_nipr_sync(
            &acme,
            &result,
            &[outbox(WebhookType::EntityComplianceDataSynchronized, body)],
        )
        .await
        .unwrap();
    let mut targets: Vec<_> = enqueued.iter().map(|e| e.webhook_id).collect();
    targets.sort();
    let mut expected: Vec<_> = synced.iter().map(|h| h.id).collect();
    expected.sort();
    assert_eq!(
        targets, expected,
        "every webhook of the type, and only those"
    );
    for e in &enqueued {
        let event = store.event(e.event_id).await.unwrap().expect("queued");
        assert_eq!(&event.body[..], body.as_bytes());
        assert_eq!(event.next_attempt_at, Some(t(1)));
    }
    assert!(queued(&store, theirs.id).await.is_empty());
    assert_eq!(
        store
            .list_nipr_syncs(&acme, &result.entity, None, 10)
            .await
            .unwrap(),
        vec![result.clone()]
    );
    assert!(
        store
            .list_nipr_syncs(&other, &result.entity, None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let unknown = NiprSyncResult {
        id: NiprSyncId::new(),
        entity: ComplianceEntity::Agent(AgentId::parse("ghost").unwrap()),
        ..result.clone()
    };
    let refused = store
        .record_nipr_sync(
            &acme,
            &unknown,
            &[outbox(WebhookType::EntityComplianceDataSynchronized, body)],
        )
        .await;
    assert!(matches!(refused, Err(DbError::NotFound)));
    let due = store
        .lease_due(t(10), 100, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(due.len(), 2, "a refused result queues nothing");
}

/// `record_nipr_result` builds the event itself, with the NPN the entity has when the result is
/// stored (read by the result's own insert); an unknown entity stores nothing.
async fn a_nipr_results_event_carries_the_npn_its_transaction_read(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let agency_id = agency(&store, &acme, "a1").await;
    let agent = agent_p1(&store, &acme).await;
    let hook = endpoint(WebhookType::EntityComplianceDataSynchronized);
    store.create_webhook(&acme, &hook, t0()).await.unwrap();
    let result = |entity: ComplianceEntity| NiprSyncResult {
        id: NiprSyncId::new(),
        entity,
        kind: SyncKind::FullRefresh,
        outcome: SyncOutcome::Error,
        error: Some("NIPR timed out".into()),
        finished_at: t(1),
    };
    let body = |enqueued: &[turris_server::store::Enqueued]| {
        let store = &store;
        let id = enqueued[0].event_id;
        async move {
            let event = store.event(id).await.unwrap().expect("queued");
            serde_json::from_slice::<serde_json::Value>(&event.body).unwrap()
        }
    };

    let of_agency = store
        .record_nipr_result(
            &acme,
            &result(ComplianceEntity::Agency(agency_id.clone())),
            t(2),
        )
        .await
        .unwrap();
    assert_eq!(of_agency.len(), 1);
    let sent = body(&of_agency).await;
    assert_eq!(sent["webhookType"], "entity_compliance_data_synchronized");
    assert_eq!(sent["upstreamEntityId"], "acme");
    assert_eq!(sent["payload"]["entityType"], "agency");
    assert_eq!(sent["payload"]["entityId"], "a1");
    assert_eq!(sent["payload"]["npn"], "123");
    assert_eq!(sent["payload"]["error"], "NIPR timed out");
    let event = store.event(of_agency[0].event_id).await.unwrap().unwrap();
    assert_eq!(event.next_attempt_at, Some(t(2)), "due when it was created");

    // The NPN is the one stored when the result is, not when the caller looked.
    let renamed = Agent {
        data: AgentDraft {
            npn: Some(Npn::parse("4455").unwrap()),
            ..agent.data.clone()
        },
        ..agent.clone()
    };
    store.update_agent(&acme, &renamed).await.unwrap();
    let of_agent = store
        .record_nipr_result(
            &acme,
            &result(ComplianceEntity::Agent(agent.id.clone())),
            t(3),
        )
        .await
        .unwrap();
    assert_eq!(body(&of_agent).await["payload"]["npn"], "4455");

    let ghost = result(ComplianceEntity::Agent(AgentId::parse("ghost").unwrap()));
    let refused = store.record_nipr_result(&acme, &ghost, t(4)).await;
    assert!(matches!(refused, Err(DbError::NotFound)), "{refused:?}");
    assert_eq!(
        queued(&store, hook.id).await.len(),
        2,
        "nothing queued for it"
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

/// NIPR results written together (the group commit's one transaction) keep their own answers:
/// a duplicate id answers its own write the conflict and an unknown entity its own write not
/// found, while the others commit with their events; concurrent callers of `record_nipr_sync`
/// (which share transactions) get the same.
async fn a_group_commit_fails_only_the_writes_that_fail(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let agent = agent_p1(&store, &acme).await;
    let hook = endpoint(WebhookType::EntityComplianceDataSynchronized);
    store.create_webhook(&acme, &hook, t0()).await.unwrap();
    let failed = |id: NiprSyncId, entity: &AgentId| NiprSyncResult {
        id,
        entity: ComplianceEntity::Agent(entity.clone()),
        kind: SyncKind::Fetch,
        outcome: SyncOutcome::Error,
        error: Some("NIPR timed out".into()),
        finished_at: t(1),
    };
    let body = r#"{"webhookType":"entity_compliance_data_synchronized"}"#;
    let write = |result: &NiprSyncResult| NiprWrite {
        org: acme.clone(),
        result: result.clone(),
        outbox: NiprOutbox::Events(vec![outbox(
            WebhookType::EntityComplianceDataSynchronized,
            body,
        )]),
    };
    let first = failed(NiprSyncId::new(), &agent.id);
    let ghost = failed(NiprSyncId::new(), &AgentId::parse("ghost").unwrap());
    let last = failed(NiprSyncId::new(), &agent.id);
    let answers = store
        .write_nipr_batch(&[write(&first), write(&first), write(&ghost), write(&last)])
        .await;
    assert_eq!(answers.len(), 4);
    assert_eq!(answers[0].as_ref().expect("committed").len(), 1);
    assert!(
        matches!(answers[1], Err(DbError::Conflict(Conflict::NiprSync))),
        "{:?}",
        answers[1]
    );
    assert!(
        matches!(answers[2], Err(DbError::NotFound)),
        "{:?}",
        answers[2]
    );
    assert_eq!(answers[3].as_ref().expect("committed").len(), 1);
    let stored = store
        .list_nipr_syncs(&acme, &first.entity, None, 10)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    let events = |n| {
        let store = &store;
        async move {
            let page = store
                .list_events(hook.id, PageRequest::first(100))
                .await
                .unwrap();
            assert_eq!(page.items.len(), n, "one event per committed result");
        }
    };
    events(2).await;

    let mut callers = tokio::task::JoinSet::new();
    for i in 0..16 {
        let (store, acme) = (store.clone(), acme.clone());
        let result = failed(if i == 7 { first.id } else { NiprSyncId::new() }, &agent.id);
        let outbox = [outbox(WebhookType::EntityComplianceDataSynchronized, body)];
        callers.spawn(async move { store.record_nipr_sync(&acme, &result, &outbox).await });
    }
    let (mut committed, mut conflicts) = (0, 0);
    while let Some(answer) = callers.join_next().await {
        match answer.unwrap() {
            Ok(enqueued) => {
                assert_eq!(enqueued.len(), 1);
                committed += 1;
            }
            Err(DbError::Conflict(Conflict::NiprSync)) => conflicts += 1,
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!((committed, conflicts), (15, 1));
    events(17).await;
}

both_databases!(db:
    contract_templates_are_unique_per_organization_and_isolated,
    invitations_need_an_agency_of_the_organization,
    compliance_updates_report_real_changes_and_feed_the_debounce_inbox,
    nipr_results_enqueue_one_event_per_webhook_of_their_type,
    a_nipr_results_event_carries_the_npn_its_transaction_read,
    a_refused_producer_agreement_leaves_no_outbox_rows,
    agencies_and_agents_list_by_id_in_pages,
    a_group_commit_fails_only_the_writes_that_fail,
);
