//! Webhook endpoints: masked lists, decrypted delivery targets, delete stops deliveries.

use turris_core::ids::OrganizationId;
use turris_server::store::{DbError, NewWebhookEndpoint, SecretRotation, WebhookEndpointStore};
use turris_webhooks::delivery::{
    AttemptReport, DeliveryStore, EventId, EventRecord, NewEvent, PageRequest, WebhookId,
};
use turris_webhooks::{WebhookSecret, WebhookType};

use super::{org, t, t0};
use crate::support::db::TestDb;

/// An envelope body for tests.
pub fn body(text: &str) -> axum::body::Bytes {
    axum::body::Bytes::from(text.to_owned())
}

/// The first ten events queued for `webhook`.
pub async fn queued(store: &impl DeliveryStore, webhook: WebhookId) -> Vec<EventRecord> {
    store
        .list_events(webhook, PageRequest::first(10))
        .await
        .unwrap()
        .items
}

/// An attempt that started at `t(started)`, ended at `t(finished)` and was answered `status`.
pub fn attempt_report(status: u16, started: i64, finished: i64) -> AttemptReport {
    AttemptReport {
        started_at: t(started),
        finished_at: t(finished),
        status_code: Some(status),
        error: (status >= 300).then(|| format!("endpoint answered {status}")),
        url: "https://hooks.example.com/turris".into(),
        success: (200..300).contains(&status),
        response_body: None,
        retry_after: None,
    }
}

/// A producer-agreement event for `webhook_id`, created at `created_at`, with an empty body.
pub fn new_event(webhook_id: WebhookId, created_at: chrono::DateTime<chrono::Utc>) -> NewEvent {
    NewEvent {
        event_id: EventId::new(),
        webhook_id,
        webhook_type: WebhookType::ProducerAgreementExecuted,
        body: body("{}"),
        created_at,
    }
}

pub fn endpoint(webhook_type: WebhookType) -> NewWebhookEndpoint {
    NewWebhookEndpoint {
        id: WebhookId::new(),
        webhook_type,
        url: "https://hooks.example.com/turris".into(),
        secret: WebhookSecret::generate().unwrap(),
    }
}

async fn endpoints_list_masked_and_deliver_with_the_decrypted_secret(db: &TestDb) {
    let store = db.store();
    let (acme, other) = (org(&store, "acme").await, org(&store, "other").await);
    let new = endpoint(WebhookType::ProducerAgreementExecuted);
    let created = store.create_webhook(&acme, &new, t0()).await.unwrap();
    assert_eq!(created.masked_secret, new.secret.masked());
    let listed = store.list_webhooks(&acme).await.unwrap();
    assert_eq!(listed, vec![created.clone()]);
    assert!(
        !format!("{listed:?}").contains(&new.secret.to_hex()),
        "lists never show the secret"
    );
    assert_eq!(
        store.webhook(&acme, new.id).await.unwrap(),
        Some(created.clone())
    );

    let target = store
        .delivery_target(new.id)
        .await
        .unwrap()
        .expect("target");
    assert_eq!(target.secret, new.secret);
    assert_eq!(target.organization, acme);
    assert_eq!(target.endpoint, created);

    assert_eq!(
        store.webhook(&other, new.id).await.unwrap(),
        None,
        "isolated"
    );
    assert!(store.list_webhooks(&other).await.unwrap().is_empty());
    assert!(
        !store.delete_webhook(&other, new.id).await.unwrap(),
        "not deletable by another"
    );
    assert!(store.delivery_target(new.id).await.unwrap().is_some());
    let ghost = OrganizationId::parse("ghost").unwrap();
    let refused = store.create_webhook(&ghost, &new, t0()).await;
    assert!(matches!(refused, Err(DbError::NotFound)), "{refused:?}");
}

async fn deleting_an_endpoint_invalidates_its_secret_and_stops_its_deliveries(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let doomed = endpoint(WebhookType::ProducerAgreementExecuted);
    let kept = endpoint(WebhookType::ProducerAgreementExecuted);
    store.create_webhook(&acme, &doomed, t0()).await.unwrap();
    store.create_webhook(&acme, &kept, t0()).await.unwrap();
    let event = |webhook_id| new_event(webhook_id, t0());
    let (queued, leased, other) = (event(doomed.id), event(doomed.id), event(kept.id));
    store
        .enqueue(vec![queued.clone(), leased.clone(), other.clone()])
        .await
        .unwrap();
    let lease = store
        .lease_for_resend(leased.event_id, t(1), std::time::Duration::from_secs(60))
        .await
        .unwrap();

    assert!(store.delete_webhook(&acme, doomed.id).await.unwrap());
    assert!(
        !store.delete_webhook(&acme, doomed.id).await.unwrap(),
        "deleted once"
    );
    assert_eq!(
        store.delivery_target(doomed.id).await.unwrap(),
        None,
        "the secret is gone"
    );
    assert_eq!(
        store.event(queued.event_id).await.unwrap(),
        None,
        "queued events stop"
    );
    let due = store
        .lease_due(t(100), 10, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        due.iter().map(|l| l.event.event_id).collect::<Vec<_>>(),
        [other.event_id],
        "only the remaining endpoint's event is due"
    );
    let report = attempt_report(200, 1, 2);
    assert_eq!(
        store
            .record_attempt(
                leased.event_id,
                &lease.lease,
                &report,
                turris_webhooks::delivery::NextStep::Delivered
            )
            .await
            .map(|a| a.number),
        Err(turris_webhooks::delivery::StoreError::NotFound),
        "a worker mid-attempt finds the event gone"
    );
}

/// Delivery events carry their webhook's organization (set when queued, backfilled by the
/// migration for older rows), and the server's history reads are scoped by it: another
/// organization's ids find nothing even when both ids are right.
async fn delivery_events_carry_their_organization_and_history_reads_are_scoped_by_it(db: &TestDb) {
    use turris_server::store::DeliveryStatsStore;
    use turris_webhooks::delivery::PageRequest;

    let store = db.store();
    let (acme, other) = (org(&store, "acme").await, org(&store, "other").await);
    let hook = endpoint(WebhookType::ProducerAgreementExecuted);
    store.create_webhook(&acme, &hook, t0()).await.unwrap();
    let event = new_event(hook.id, t(1));
    store.enqueue(vec![event.clone()]).await.unwrap();
    let page = || PageRequest {
        limit: 10,
        before: None,
    };
    let found = store
        .org_event(&acme, hook.id, event.event_id)
        .await
        .unwrap();
    assert_eq!(found.map(|e| e.event_id), Some(event.event_id));
    assert_eq!(
        store
            .org_event(&other, hook.id, event.event_id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .org_events(&acme, hook.id, page())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert!(
        store
            .org_events(&other, hook.id, page())
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // A row from before the column existed is backfilled by the migration's statement.
    let migration = match db.backend {
        turris_server::store::Backend::Sqlite => include_str!(
            "../../../migrations/sqlite/20261204100004_delivery_events_organization.sql"
        ),
        turris_server::store::Backend::Postgres => include_str!(
            "../../../migrations/postgres/20261204100004_delivery_events_organization.sql"
        ),
    };
    let backfill =
        &migration[migration.find("UPDATE").unwrap()..migration.find("CREATE INDEX").unwrap()];
    let clear = "UPDATE delivery_events SET organization_id = NULL";
    db.execute(clear).await;
    assert!(
        store
            .org_event(&acme, hook.id, event.event_id)
            .await
            .unwrap()
            .is_none()
    );
    db.execute(backfill).await;
    assert!(
        store
            .org_event(&acme, hook.id, event.event_id)
            .await
            .unwrap()
            .is_some()
    );
}

async fn rotating_a_secret_keeps_the_replaced_one_until_its_overlap_ends(db: &TestDb) {
    let store = db.store();
    let (acme, other) = (org(&store, "acme").await, org(&store, "other").await);
    let new = endpoint(WebhookType::ProducerAgreementExecuted);
    store.create_webhook(&acme, &new, t0()).await.unwrap();
    let second = WebhookSecret::generate().unwrap();
    let rotation = |secret: &WebhookSecret, until: Option<i64>| SecretRotation {
        secret: secret.clone(),
        previous_until: until.map(t),
    };

    // Another organization's rotation finds nothing and changes nothing.
    assert_eq!(
        store
            .rotate_webhook_secret(&other, new.id, &rotation(&second, Some(3600)), t(10))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.delivery_target(new.id).await.unwrap().unwrap().secret,
        new.secret
    );

    let rotated = store
        .rotate_webhook_secret(&acme, new.id, &rotation(&second, Some(3600)), t(10))
        .await
        .unwrap()
        .expect("rotated");
    assert_eq!(rotated.masked_secret, second.masked());
    assert_eq!(
        rotated.previous_secret,
        Some((new.secret.masked(), t(3600)))
    );
    assert_eq!(
        rotated.previous_secret_at(t(3599)).map(|p| p.1),
        Some(t(3600))
    );
    assert_eq!(
        rotated.previous_secret_at(t(3600)),
        None,
        "the overlap has ended"
    );
    let target = store.delivery_target(new.id).await.unwrap().unwrap();
    assert_eq!(target.secret, second);
    assert_eq!(target.previous_secret_at(t(3599)), Some(&new.secret));
    assert_eq!(target.previous_secret_at(t(3600)), None);
    assert!(!format!("{rotated:?}").contains(&second.to_hex()));

    // Rotating again during the overlap keeps only the secret it replaces.
    let third = WebhookSecret::generate().unwrap();
    store
        .rotate_webhook_secret(&acme, new.id, &rotation(&third, Some(7200)), t(20))
        .await
        .unwrap()
        .unwrap();
    let target = store.delivery_target(new.id).await.unwrap().unwrap();
    assert_eq!(target.secret, third);
    assert_eq!(target.previous_secret, Some((second.clone(), t(7200))));

    // No overlap: the replaced secret is dropped at once.
    let fourth = WebhookSecret::generate().unwrap();
    let rotated = store
        .rotate_webhook_secret(&acme, new.id, &rotation(&fourth, None), t(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rotated.previous_secret, None);
    let target = store.delivery_target(new.id).await.unwrap().unwrap();
    assert_eq!((target.secret, target.previous_secret), (fourth, None));
}

async fn an_organization_may_register_only_so_many_endpoints_even_at_once(db: &TestDb) {
    let store = db.store();
    let (acme, other) = (org(&store, "acme").await, org(&store, "other").await);
    let mut creations = Vec::new();
    for _ in 0..6 {
        let store = store.clone();
        let acme = acme.clone();
        creations.push(tokio::spawn(async move {
            let new = endpoint(WebhookType::ProducerAgreementExecuted);
            store
                .create_webhook_within(&acme, &new, 3, t0())
                .await
                .unwrap()
        }));
    }
    let mut created = 0;
    for creation in creations {
        created += usize::from(creation.await.unwrap().is_some());
    }
    assert_eq!(
        created, 3,
        "exactly the limit, however the creations interleave"
    );
    assert_eq!(store.list_webhooks(&acme).await.unwrap().len(), 3);
    let refused = endpoint(WebhookType::ProducerAgreementExecuted);
    assert_eq!(
        store
            .create_webhook_within(&acme, &refused, 3, t0())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.delivery_target(refused.id).await.unwrap(),
        None,
        "nothing stored"
    );
    // Another organization has its own count.
    let theirs = endpoint(WebhookType::ProducerAgreementExecuted);
    assert!(
        store
            .create_webhook_within(&other, &theirs, 3, t0())
            .await
            .unwrap()
            .is_some()
    );
    let unknown = OrganizationId::parse("nobody").unwrap();
    let refused = store
        .create_webhook_within(&unknown, &theirs, 3, t0())
        .await;
    assert!(matches!(refused, Err(DbError::NotFound)), "{refused:?}");
}

both_databases!(db:
    an_organization_may_register_only_so_many_endpoints_even_at_once,
    rotating_a_secret_keeps_the_replaced_one_until_its_overlap_ends,
    delivery_events_carry_their_organization_and_history_reads_are_scoped_by_it,
    endpoints_list_masked_and_deliver_with_the_decrypted_secret,
    deleting_an_endpoint_invalidates_its_secret_and_stops_its_deliveries,
);
