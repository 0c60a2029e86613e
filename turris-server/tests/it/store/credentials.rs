//! HubSpot credentials: connect once, reconnect keeps settings, delete removes the integration.

use turris_core::ids::{AgencyId, HubSpotId};
use turris_core::integration::IntegrationSettings;
use turris_core::record::{Agency, AgencyDraft};
use turris_core::store::{Link, LinkStore, RecordStore, SettingsStore, TurrisRef};
use turris_server::crypto::SecretString;
use turris_server::store::{
    Conflict, CredentialStore, DbError, EchoLedgerStore, HubSpotAuth, HubSpotCredentials,
    InboundEventStore,
};

use super::{org, t, t0};
use crate::support::db::TestDb;

pub fn oauth(access: &str, expires_in: i64) -> HubSpotAuth {
    HubSpotAuth::OAuth {
        access_token: SecretString::new(access),
        refresh_token: SecretString::new(format!("{access}-refresh")),
        expires_at: t(expires_in),
    }
}

pub fn credentials(portal_id: u64, auth: HubSpotAuth) -> HubSpotCredentials {
    HubSpotCredentials {
        portal_id,
        app_id: Some(77),
        auth,
        connected_at: t0(),
        updated_at: t0(),
    }
}

async fn credentials_are_read_back_decrypted_and_one_portal_per_organization(db: &TestDb) {
    let store = db.store();
    let (acme, other) = (org(&store, "acme").await, org(&store, "other").await);
    let creds = credentials(1001, oauth("access-1", 1800));
    store.connect_hubspot(&acme, &creds).await.unwrap();
    assert_eq!(
        store.hubspot_credentials(&acme).await.unwrap(),
        Some(creds.clone())
    );
    assert_eq!(
        store.hubspot_credentials(&other).await.unwrap(),
        None,
        "isolated"
    );

    let twice = store
        .connect_hubspot(&acme, &credentials(1002, oauth("x", 1)))
        .await;
    assert!(
        matches!(twice, Err(DbError::Conflict(Conflict::AlreadyConnected))),
        "{twice:?}"
    );
    let taken = store
        .connect_hubspot(&other, &credentials(1001, oauth("y", 1)))
        .await;
    assert!(
        matches!(taken, Err(DbError::Conflict(Conflict::PortalInUse))),
        "{taken:?}"
    );

    assert_eq!(
        store.organization_by_portal(1001).await.unwrap(),
        Some(acme.clone())
    );
    assert_eq!(store.organization_by_portal(9999).await.unwrap(), None);

    let private = credentials(
        2002,
        HubSpotAuth::PrivateApp {
            token: SecretString::new("pat-1"),
            webhook_secret: Some(SecretString::new("app-client-secret")),
        },
    );
    store.connect_hubspot(&other, &private).await.unwrap();
    assert_eq!(
        store.hubspot_credentials(&other).await.unwrap(),
        Some(private)
    );
    assert_eq!(
        store.oauth_expiring_before(t(1801)).await.unwrap(),
        vec![acme.clone()],
        "only OAuth tokens expire"
    );
    assert!(
        store
            .oauth_expiring_before(t(1800))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn reconnecting_replaces_only_the_tokens(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    store
        .connect_hubspot(&acme, &credentials(1001, oauth("old", 60)))
        .await
        .unwrap();
    let mut settings = IntegrationSettings::default();
    settings.matrix.agency.outbound = true;
    store.save_settings(&acme, &settings).await.unwrap();
    let link = Link {
        turris: TurrisRef::Agency(AgencyId::parse("a1").unwrap()),
        hubspot_id: HubSpotId::parse("5").unwrap(),
    };
    store.put_link(&acme, &link).await.unwrap();

    store
        .replace_hubspot_auth(&acme, &oauth("new", 3600), t(30))
        .await
        .unwrap();
    let creds = store.hubspot_credentials(&acme).await.unwrap().unwrap();
    assert_eq!(creds.auth, oauth("new", 3600));
    assert_eq!(
        (creds.portal_id, creds.connected_at, creds.updated_at),
        (1001, t0(), t(30))
    );
    assert_eq!(
        store.load_settings(&acme).await.unwrap(),
        Some(settings),
        "settings stay"
    );
    assert_eq!(
        store.link_by_turris(&acme, &link.turris).await.unwrap(),
        Some(link)
    );

    let other = org(&store, "other").await;
    assert!(matches!(
        store
            .replace_hubspot_auth(&other, &oauth("x", 1), t(1))
            .await,
        Err(DbError::NotFound)
    ));
}

async fn deleting_the_integration_removes_tokens_settings_and_links_but_keeps_records(db: &TestDb) {
    let store = db.store();
    let (acme, other) = (org(&store, "acme").await, org(&store, "other").await);
    for (o, portal) in [(&acme, 1), (&other, 2)] {
        store
            .connect_hubspot(o, &credentials(portal, oauth("t", 60)))
            .await
            .unwrap();
        store
            .save_settings(o, &IntegrationSettings::default())
            .await
            .unwrap();
        store
            .put_link(
                o,
                &Link {
                    turris: TurrisRef::Agency(AgencyId::parse("a1").unwrap()),
                    hubspot_id: HubSpotId::parse("5").unwrap(),
                },
            )
            .await
            .unwrap();
    }
    let agency = Agency {
        id: AgencyId::parse("a1").unwrap(),
        data: AgencyDraft::named("Acme"),
    };
    store.insert_agency(&acme, &agency).await.unwrap();
    let event: turris_hubspot::webhooks::WebhookEvent = serde_json::from_value(serde_json::json!({
        "eventId": 1, "portalId": 1, "occurredAt": 1, "subscriptionType": "company.creation",
        "objectId": 5
    }))
    .unwrap();
    store
        .persist_inbound_events(&acme, std::slice::from_ref(&event), t0())
        .await
        .unwrap();
    store
        .persist_inbound_events(&other, &[event], t0())
        .await
        .unwrap();
    let write = turris_core::planner::RecentWrite {
        object_id: HubSpotId::parse("5").unwrap(),
        property: "name".into(),
        value: Some("Acme".into()),
        at: t0(),
        edited_at: t0(),
    };
    store.record_hubspot_writes(&acme, &[write]).await.unwrap();

    assert!(store.delete_integration(&acme).await.unwrap());
    assert_eq!(store.hubspot_credentials(&acme).await.unwrap(), None);
    assert_eq!(store.load_settings(&acme).await.unwrap(), None);
    assert_eq!(
        store
            .link_by_turris(&acme, &TurrisRef::Agency(agency.id.clone()))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.get_agency(&acme, &agency.id).await.unwrap(),
        Some(agency),
        "records stay"
    );
    assert_eq!(
        store.organization_by_portal(1).await.unwrap(),
        None,
        "the portal is free"
    );
    assert!(
        !store.delete_integration(&acme).await.unwrap(),
        "nothing left to delete"
    );
    let pending = store
        .claim_inbound_events(t(1), 10, 10, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        pending
            .iter()
            .map(|e| e.organization.clone())
            .collect::<Vec<_>>(),
        vec![other.clone()],
        "the old connection's unprocessed events are dropped, another organization's stay"
    );
    assert!(
        store
            .recent_hubspot_writes(&acme, &[HubSpotId::parse("5").unwrap()], t(-10))
            .await
            .unwrap()
            .is_empty(),
        "the echo ledger goes with the connection"
    );

    assert!(
        store.hubspot_credentials(&other).await.unwrap().is_some(),
        "other untouched"
    );
    assert!(store.load_settings(&other).await.unwrap().is_some());
    store
        .connect_hubspot(&acme, &credentials(1, oauth("again", 60)))
        .await
        .expect("connect again after delete");
}

both_databases!(db:
    credentials_are_read_back_decrypted_and_one_portal_per_organization,
    reconnecting_replaces_only_the_tokens,
    deleting_the_integration_removes_tokens_settings_and_links_but_keeps_records,
);
