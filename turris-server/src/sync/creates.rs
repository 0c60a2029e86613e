//! Creating HubSpot records so that a lost answer cannot create one twice.
//!
//! A create HubSpot carried out but whose answer never reached us (a crash, a timeout, a 502
//! after the write) used to be sent again and make a second record. Records are now created
//! by batch upsert keyed by a unique property holding the Turris id (`turris_id`, made on the
//! portal the first time it is needed): sending the same input again finds the record made the
//! first time. Where the property cannot be made (a connection without the schema-write scope),
//! creates fall back to a plain batch create keyed by `objectWriteTraceId`, and say so in the
//! log once per object and process.

use std::collections::HashMap;

use chrono::Utc;
use turris_core::audit::{CrmObject, CrmOperation, CrmSyncEntry, SyncTrigger};
use turris_core::ids::OrganizationId;
use turris_hubspot::HubSpotClient;
use turris_hubspot::crm::batch::{BatchOutcome, ChunkFailure, TracedCreateInput, UpsertInput};
use turris_hubspot::crm::properties::NewProperty;
use turris_hubspot::crm::{ObjectType, SimplePublicObject, SimplePublicObjectInputForCreate};

use crate::app::AppState;

/// The unique property holding a record's Turris id in HubSpot.
pub const TURRIS_ID_PROPERTY: &str = "turris_id";

/// Whether `object` of `org`'s portal has the Turris-id property, making it when needed:
/// `Ok(false)` only when HubSpot refuses it for good (the connection lacks the schema-write
/// scope); a call that failed on the way (transport, 429, 5xx) is an `Err`, so the creates wait
/// for a retry instead of falling back to plain creates that a lost answer would make twice.
async fn keyed(
    state: &AppState,
    client: &HubSpotClient,
    org: &OrganizationId,
    object: &ObjectType,
) -> Result<bool, turris_hubspot::Error> {
    let key = (org.clone(), object.as_str().to_owned());
    if state.sync().has_id_property(&key) {
        return Ok(true);
    }
    let group = match object {
        ObjectType::Contacts => "contactinformation",
        _ => "companyinformation",
    };
    let mut property = NewProperty::unique_text(TURRIS_ID_PROPERTY, "Turris ID", group);
    property.description =
        Some("The Turris record this HubSpot record is synced with. Set by Turris.".to_owned());
    match client.ensure_property(object, &property).await {
        Ok(created) => {
            if created {
                record_property(state, org, object, TURRIS_ID_PROPERTY).await;
            }
            state.sync().remember_id_property(key);
            Ok(true)
        }
        Err(e) if is_refusal(&e) => {
            tracing::warn!(org = %org, object = %object, error = %crate::hubspot::Upstream(&e),
                "the turris_id property cannot be made; creates fall back to plain batch creates");
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Writes a property Turris made on `org`'s portal to the CRM sync record (logged when the
/// record cannot be written: the property exists either way).
pub async fn record_property(
    state: &AppState,
    org: &OrganizationId,
    object: &ObjectType,
    name: &str,
) {
    let entry = CrmSyncEntry::new(
        Utc::now(),
        CrmObject::Property,
        CrmOperation::CreateProperty,
        SyncTrigger::Setup,
    )
    .object_id(format!("{object}/{name}"))
    .answered(Some(201), None);
    if let Err(e) = state.db().append_sync_records(org, &[entry]).await {
        tracing::warn!(org = %org, error = %crate::error::ErrorChain(&e), "sync record of a new property not written");
    }
}

/// HubSpot's lasting refusal to make a property: a 4xx other than 401 (a token being renewed)
/// and 429 (a limit that passes).
fn is_refusal(e: &turris_hubspot::Error) -> bool {
    e.status()
        .is_some_and(|s| (400..500).contains(&s) && s != 401 && s != 429)
}

/// Creates one record per `(turris id, properties)`, keyed by the Turris id; every result
/// carries its input's Turris id as `object_write_trace_id`.
pub async fn create(
    state: &AppState,
    client: &HubSpotClient,
    org: &OrganizationId,
    object: &ObjectType,
    inputs: Vec<(String, HashMap<String, String>)>,
) -> BatchOutcome<SimplePublicObject> {
    let n = inputs.len();
    let keyed = match keyed(state, client, org, object).await {
        Ok(keyed) => keyed,
        // Every input fails with the call's error, and is sent again as a retry.
        Err(error) => {
            return BatchOutcome {
                failed_chunks: vec![ChunkFailure {
                    inputs: 0..n,
                    error,
                }],
                ..BatchOutcome::default()
            };
        }
    };
    if !keyed {
        let traced: Vec<TracedCreateInput> = inputs
            .into_iter()
            .map(|(id, properties)| TracedCreateInput {
                input: SimplePublicObjectInputForCreate {
                    properties,
                    associations: Vec::new(),
                },
                object_write_trace_id: id,
            })
            .collect();
        return client.batch_create_traced(object, &traced).await;
    }
    let upserts: Vec<UpsertInput> = inputs
        .into_iter()
        .map(|(id, mut properties)| {
            properties.insert(TURRIS_ID_PROPERTY.to_owned(), id.clone());
            UpsertInput {
                id: id.clone(),
                id_property: TURRIS_ID_PROPERTY.to_owned(),
                properties,
                object_write_trace_id: Some(id),
            }
        })
        .collect();
    let outcome = client.batch_upsert(object, &upserts).await;
    BatchOutcome {
        results: outcome
            .results
            .into_iter()
            .map(|r| {
                let mut record = r.object;
                if record.object_write_trace_id.is_none() {
                    record.object_write_trace_id =
                        record.property(TURRIS_ID_PROPERTY).map(str::to_owned);
                }
                record
            })
            .collect(),
        errors: outcome.errors,
        failed_chunks: outcome.failed_chunks,
        answered: outcome.answered,
    }
}
