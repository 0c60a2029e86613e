//! NIPR results: one event per webhook of their type, the NPN it carries, and the group
//! commit that writes concurrent results in one transaction.

use turris_core::ids::AgentId;
use turris_core::record::{Agent, AgentDraft, Npn};
use turris_core::store::RecordStore;
use turris_server::store::{
    ComplianceEntity, Conflict, DbError, NiprOutbox, NiprSyncId, NiprSyncResult, NiprWrite,
    TurrisInputStore, WebhookEndpointStore,
};
use turris_webhooks::delivery::{DeliveryStore, PageRequest};
use turris_webhooks::{SyncKind, SyncOutcome, WebhookType};

use super::inputs::{agency, outbox};
use super::webhooks::{endpoint, queued};
use super::{agent_p1, org, t, t0};
use crate::support::db::TestDb;

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
    nipr_results_enqueue_one_event_per_webhook_of_their_type,
    a_nipr_results_event_carries_the_npn_its_transaction_read,
    a_group_commit_fails_only_the_writes_that_fail,
);
