//! What is queued for HubSpot beside a Turris input (activity notes, tags pushes): nothing for
//! a feature that is off or an organization without a connection, and settled in batches.

use std::time::Duration;

use chrono::Utc;
use turris_core::ids::{AgencyId, ContractTemplateId, HubSpotId, OrganizationId};
use turris_core::integration::IntegrationSettings;
use turris_core::record::{Agency, AgencyDraft};
use turris_core::store::{Link, LinkStore, RecordStore, SettingsStore, TurrisRef};
use turris_server::store::{
    AgreementId, ComplianceEntity, CredentialStore, InvitationStore, NiprSyncId, NiprSyncResult,
    NoteRetry, NoteStore, ProducerAgreement, QueuedNote, SqlStore, TurrisInputStore,
};
use turris_webhooks::{AgreementSigner, SyncKind, SyncOutcome};

use super::credentials::{credentials, oauth};
use super::{org, t, t0};
use crate::support::db::TestDb;

async fn agency(store: &SqlStore, org: &OrganizationId) -> AgencyId {
    store
        .create_contract_template(org, &ContractTemplateId::parse("std").unwrap(), "Std", t0())
        .await
        .unwrap();
    let agency = Agency {
        id: AgencyId::parse("a1").unwrap(),
        data: AgencyDraft::named("Acme"),
    };
    store.insert_agency(org, &agency).await.unwrap();
    agency.id
}

/// Records an executed agreement of `agency` (which queues an `agreement_executed` note when
/// notes of that kind are on).
async fn execute_agreement(store: &SqlStore, org: &OrganizationId, agency: &AgencyId) {
    let agreement = ProducerAgreement {
        id: AgreementId::new(),
        agency_id: agency.clone(),
        contract_template_id: ContractTemplateId::parse("std").unwrap(),
        executed_at: t(1),
        signers: vec![AgreementSigner {
            name: "Pat".into(),
            email: "pat@acme.test".into(),
        }],
    };
    store
        .record_producer_agreement(org, &agreement, &[])
        .await
        .unwrap();
}

/// Records a failed NIPR sync of `agency` through the group commit (which queues a
/// `nipr_sync_failed` note when notes of that kind are on).
async fn fail_nipr_sync(store: &SqlStore, org: &OrganizationId, agency: &AgencyId) {
    let result = NiprSyncResult {
        id: NiprSyncId::new(),
        entity: ComplianceEntity::Agency(agency.clone()),
        kind: SyncKind::Fetch,
        outcome: SyncOutcome::Error,
        error: Some("NIPR timed out".into()),
        finished_at: t(2),
    };
    store.record_nipr_sync(org, &result, &[]).await.unwrap();
}

async fn notes_on(store: &SqlStore, org: &OrganizationId, agreements: bool, nipr: bool) {
    let mut settings = store.load_settings(org).await.unwrap().unwrap_or_default();
    settings.crm.notes.agreements = agreements;
    settings.crm.notes.nipr_errors = nipr;
    store.save_settings(org, &settings).await.unwrap();
}

async fn notes_are_queued_only_for_a_connected_organization_that_logs_their_kind(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let agency = agency(&store, &acme).await;
    let pending = || async { store.pending_notes(&acme).await.unwrap() };

    // No settings and no connection (the load tool's organization): nothing is queued.
    execute_agreement(&store, &acme, &agency).await;
    fail_nipr_sync(&store, &acme, &agency).await;
    assert_eq!(pending().await, 0, "no connection, no notes");

    // Notes on, still no connection: nothing either.
    notes_on(&store, &acme, true, true).await;
    execute_agreement(&store, &acme, &agency).await;
    fail_nipr_sync(&store, &acme, &agency).await;
    assert_eq!(pending().await, 0, "not connected");

    // Connected: one note per event of a kind that is on.
    store
        .connect_hubspot(&acme, &credentials(1001, oauth("access", 1800)))
        .await
        .unwrap();
    execute_agreement(&store, &acme, &agency).await;
    fail_nipr_sync(&store, &acme, &agency).await;
    assert_eq!(pending().await, 2, "connected and on: both kinds");

    // A kind turned off is no longer queued; the other still is.
    notes_on(&store, &acme, false, true).await;
    execute_agreement(&store, &acme, &agency).await;
    fail_nipr_sync(&store, &acme, &agency).await;
    assert_eq!(pending().await, 3, "only the NIPR failure");

    // A settings change through a partial update keeps what is on.
    store
        .set_connection(&acme, &IntegrationSettings::default().connection)
        .await
        .unwrap();
    fail_nipr_sync(&store, &acme, &agency).await;
    assert_eq!(pending().await, 4, "still on after a partial update");
}

/// Three notes of a connected organization claimed for `lease` by a first worker, and one of
/// them taken by a second worker once that lease lapsed; the store, the organization, both
/// claims and when the second was taken.
async fn three_notes_one_taken_over(
    db: &TestDb,
    lease: Duration,
) -> (
    SqlStore,
    OrganizationId,
    Vec<QueuedNote>,
    Vec<QueuedNote>,
    chrono::DateTime<Utc>,
) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let agency = agency(&store, &acme).await;
    notes_on(&store, &acme, true, false).await;
    store
        .connect_hubspot(&acme, &credentials(1001, oauth("access", 1800)))
        .await
        .unwrap();
    for _ in 0..3 {
        execute_agreement(&store, &acme, &agency).await;
    }
    let now = Utc::now();
    let first = store.claim_notes(now, 10, lease).await.unwrap();
    assert_eq!(first.len(), 3);
    // The first claim's lease lapses and another worker takes one of its notes.
    let later = now + chrono::Duration::seconds(20);
    let second = store.claim_notes(later, 1, lease).await.unwrap();
    assert_eq!(second.len(), 1);
    (store, acme, first, second, later)
}

async fn written_notes_are_deleted_in_one_call_fenced_by_their_leases(db: &TestDb) {
    let lease = Duration::from_secs(15);
    let (store, acme, first, second, _) = three_notes_one_taken_over(db, lease).await;

    assert_eq!(
        store.finish_notes(&first).await.unwrap(),
        2,
        "the notes the first claim still held, in one call"
    );
    assert_eq!(
        store.pending_notes(&acme).await.unwrap(),
        1,
        "the other's note stays"
    );
    assert_eq!(store.finish_notes(&second).await.unwrap(), 1);
    assert_eq!(store.pending_notes(&acme).await.unwrap(), 0);
    assert_eq!(store.finish_notes(&[]).await.unwrap(), 0);
}

async fn failed_notes_are_postponed_in_one_call_each_to_its_time_fenced_by_their_leases(
    db: &TestDb,
) {
    let (lease, long) = (Duration::from_secs(15), Duration::from_secs(3600));
    let (store, _, first, second, later) = three_notes_one_taken_over(db, lease).await;
    let taken = &second[0].id;

    let minutes = |m: i64| later + chrono::Duration::minutes(m);
    let retries: Vec<NoteRetry<'_>> = (0..)
        .zip(&first)
        .map(|(i, note)| NoteRetry {
            note,
            next_attempt_at: minutes(i + 1),
            failed: i != 1,
        })
        .collect();
    assert_eq!(
        store.retry_notes(&retries).await.unwrap(),
        2,
        "the notes the first claim still held, in one call"
    );
    assert!(
        store
            .claim_notes(later, 10, lease)
            .await
            .unwrap()
            .is_empty(),
        "the other's note is still its own"
    );
    assert_eq!(store.finish_notes(&second).await.unwrap(), 1);
    assert_eq!(store.retry_notes(&[]).await.unwrap(), 0);

    // Each postponed note is due at its own time, a failed attempt counted where it said so.
    for retry in retries.iter().filter(|r| &r.note.id != taken) {
        let at = retry.next_attempt_at;
        let early = at - chrono::Duration::seconds(1);
        assert!(store.claim_notes(early, 10, long).await.unwrap().is_empty());
        let due = store.claim_notes(at, 10, long).await.unwrap();
        let got: Vec<_> = due.iter().map(|n| (n.id.as_str(), n.attempts)).collect();
        let expected = (retry.note.id.as_str(), u32::from(retry.failed));
        assert_eq!(got, vec![expected], "due at {at}");
    }
}

/// The tags pushes queued.
async fn tags_pushes(db: &TestDb) -> i64 {
    let sql = "SELECT COUNT(*) FROM outbound_pushes WHERE reason = 'tags'";
    match db.database.pools() {
        turris_server::store::sql::Pools::Sqlite(pool) => {
            sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
        }
        turris_server::store::sql::Pools::Postgres(pool) => {
            sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
        }
    }
}

async fn a_linked_record_gets_a_tags_push_only_while_tags_are_on(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let agency = agency(&store, &acme).await;
    store
        .put_link(
            &acme,
            &Link {
                turris: TurrisRef::Agency(agency.clone()),
                hubspot_id: HubSpotId::parse("9001").unwrap(),
            },
        )
        .await
        .unwrap();
    fail_nipr_sync(&store, &acme, &agency).await;
    assert_eq!(tags_pushes(db).await, 0, "tags are off");

    let mut settings = IntegrationSettings::default();
    settings.crm.tags = true;
    store.save_settings(&acme, &settings).await.unwrap();
    fail_nipr_sync(&store, &acme, &agency).await;
    assert_eq!(tags_pushes(db).await, 1, "tags are on");
}

both_databases!(db:
    notes_are_queued_only_for_a_connected_organization_that_logs_their_kind,
    written_notes_are_deleted_in_one_call_fenced_by_their_leases,
    failed_notes_are_postponed_in_one_call_each_to_its_time_fenced_by_their_leases,
    a_linked_record_gets_a_tags_push_only_while_tags_are_on,
);
