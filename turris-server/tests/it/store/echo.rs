//! The echo ledger, shared by replicas.

use turris_core::ids::HubSpotId;
use turris_core::planner::RecentWrite;
use turris_server::store::EchoLedgerStore;

use super::{org, t};
use crate::support::db::TestDb;

fn write(object: &str, property: &str, value: Option<&str>, secs: i64) -> RecentWrite {
    RecentWrite {
        object_id: HubSpotId::parse(object).unwrap(),
        property: property.into(),
        value: value.map(str::to_owned),
        at: t(secs),
        edited_at: t(secs),
    }
}

async fn writes_recorded_by_one_replica_are_seen_by_another(db: &TestDb) {
    let store = db.store();
    let replica = db.second_store().await;
    let (acme, other) = (org(&store, "acme").await, org(&store, "other").await);
    let writes = [
        write("100", "name", Some("Acme"), 0),
        write("100", "phone", None, 1),
        write("200", "name", Some("Beta"), 2),
        write("300", "name", Some("Old"), -500),
    ];
    store.record_hubspot_writes(&acme, &writes).await.unwrap();
    store
        .record_hubspot_writes(&other, &writes[..1])
        .await
        .unwrap();

    let ids = |ids: &[&str]| {
        ids.iter()
            .map(|i| HubSpotId::parse(i).unwrap())
            .collect::<Vec<_>>()
    };
    let seen = replica
        .recent_hubspot_writes(&acme, &ids(&["100", "300"]), t(-300))
        .await
        .unwrap();
    assert_eq!(
        seen,
        writes[..2],
        "only the asked objects, within the window, oldest first"
    );
    assert!(
        replica
            .recent_hubspot_writes(&acme, &[], t(-300))
            .await
            .unwrap()
            .is_empty(),
        "no objects, no writes"
    );
    assert_eq!(
        replica
            .recent_hubspot_writes(&other, &ids(&["100", "200"]), t(-300))
            .await
            .unwrap(),
        writes[..1],
        "per organization"
    );
    assert_eq!(store.prune_hubspot_writes_before(t(1)).await.unwrap(), 3);
    assert_eq!(
        replica
            .recent_hubspot_writes(&acme, &ids(&["100", "200"]), t(-1000))
            .await
            .unwrap(),
        writes[1..3]
    );
}

both_databases!(db: writes_recorded_by_one_replica_are_seen_by_another);
