//! Integration settings: saved, partly updated, deleted, and per organization.

use super::{base_time, fresh_org};
use crate::ids::OrganizationId;
use crate::integration::{Connection, ConnectionStatus, IntegrationSettings, WebhookStatus};
use crate::property::{ObjectSchema, ObjectType, PropertyDefinition, PropertyType};
use crate::store::{Store, StoreError};
use crate::{Condition, IdentifierFilter};

/// Settings are absent, saved, loaded whole, partly updated and deleted.
pub async fn settings_round_trip<S: Store + ?Sized>(store: &S) {
    let org = fresh_org("settings");
    assert!(
        store.load_settings(&org).await.unwrap().is_none(),
        "new organization has no settings"
    );
    let connection = connected();
    partial_updates_need_saved_settings(store, &org, &connection).await;
    let mut settings = agency_filter_settings();
    store.save_settings(&org, &settings).await.unwrap();
    assert_eq!(
        store.load_settings(&org).await.unwrap().as_ref(),
        Some(&settings),
        "settings load as saved"
    );
    partial_updates_keep_the_rest(store, &org, &settings, &connection).await;
    settings.matrix.agency.outbound = true;
    save_replaces_and_delete_removes(store, &org, &settings).await;
}

fn connected() -> Connection {
    Connection {
        status: ConnectionStatus::Connected,
        portal_id: Some(42),
        connected_at: Some(base_time()),
        connected_by: Some("Ada Lovelace <ada@example.com>".into()),
        error: None,
    }
}

/// `set_connection`, `save_property_schema` and `set_subscription_status` update saved
/// settings: before any are saved, each is not found.
async fn partial_updates_need_saved_settings<S: Store + ?Sized>(
    store: &S,
    org: &OrganizationId,
    connection: &Connection,
) {
    assert!(
        matches!(
            store.set_connection(org, connection).await,
            Err(StoreError::NotFound)
        ),
        "set_connection without settings is not found"
    );
    let empty = ObjectSchema::new(ObjectType::Company, vec![]);
    assert!(
        matches!(
            store.save_property_schema(org, &empty).await,
            Err(StoreError::NotFound)
        ),
        "save_property_schema without settings is not found"
    );
    assert!(
        matches!(
            store
                .set_subscription_status(org, ObjectType::Company, "name", WebhookStatus::Live)
                .await,
            Err(StoreError::NotFound)
        ),
        "set_subscription_status without settings is not found"
    );
}

fn agency_filter_settings() -> IntegrationSettings {
    let mut settings = IntegrationSettings::default();
    settings.mapping.agency.identifier = Some(IdentifierFilter::ApplyFilter(Condition::is_one_of(
        "type",
        ["Agency", "MGA"],
    )));
    settings.mapping.agency.npn = Some("agency_npn".into());
    settings
}

/// The connection, one object's schema and a subscription's status change alone.
async fn partial_updates_keep_the_rest<S: Store + ?Sized>(
    store: &S,
    org: &OrganizationId,
    settings: &IntegrationSettings,
    connection: &Connection,
) {
    store.set_connection(org, connection).await.unwrap();
    let contacts = ObjectSchema::new(
        ObjectType::Contact,
        vec![PropertyDefinition::new(
            "email",
            "Email",
            PropertyType::String,
            "text",
            true,
        )],
    );
    store.save_property_schema(org, &contacts).await.unwrap();
    store
        .set_subscription_status(org, ObjectType::Company, "name", WebhookStatus::Pending)
        .await
        .unwrap();
    store
        .set_subscription_status(org, ObjectType::Company, "name", WebhookStatus::Live)
        .await
        .unwrap();
    let loaded = store
        .load_settings(org)
        .await
        .unwrap()
        .expect("settings exist");
    assert_eq!(&loaded.connection, connection, "connection updated");
    assert_eq!(
        loaded.subscription_status(ObjectType::Company, "name"),
        Some(WebhookStatus::Live),
        "subscription updated"
    );
    assert_eq!(
        loaded.mapping, settings.mapping,
        "partial updates keep the mapping"
    );
    assert_eq!(
        loaded.contact_schema.as_ref(),
        Some(&contacts),
        "schema cache updated"
    );
    assert_eq!(
        loaded.company_schema, None,
        "the other object's schema untouched"
    );
}

async fn save_replaces_and_delete_removes<S: Store + ?Sized>(
    store: &S,
    org: &OrganizationId,
    settings: &IntegrationSettings,
) {
    store.save_settings(org, settings).await.unwrap();
    assert!(
        store
            .load_settings(org)
            .await
            .unwrap()
            .unwrap()
            .matrix
            .agency
            .outbound,
        "save replaces"
    );

    assert!(
        store.delete_settings(org).await.unwrap(),
        "delete reports it deleted"
    );
    assert!(
        store.load_settings(org).await.unwrap().is_none(),
        "deleted settings are gone"
    );
    assert!(
        !store.delete_settings(org).await.unwrap(),
        "deleting twice reports nothing deleted"
    );
}

/// One organization's settings are invisible to another.
pub async fn settings_are_isolated_per_organization<S: Store + ?Sized>(store: &S) {
    let (a, b) = (fresh_org("settings-iso"), fresh_org("settings-iso"));
    store
        .save_settings(&a, &IntegrationSettings::default())
        .await
        .unwrap();
    assert!(
        store.load_settings(&b).await.unwrap().is_none(),
        "other organization sees no settings"
    );
    assert!(
        !store.delete_settings(&b).await.unwrap(),
        "other organization cannot delete them"
    );
    assert!(
        store.load_settings(&a).await.unwrap().is_some(),
        "settings survive another organization's delete"
    );
}
