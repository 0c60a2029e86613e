//! The notes worker: writes queued activity notes ([`crate::store::NoteStore`]) to HubSpot,
//! each exactly once.
//!
//! Every second it leases the due notes (a 15 s fenced lease) and, per organization:
//! - drops the notes of a kind the organization does not log, or when HubSpot is not
//!   connected; waits while the connection is paused;
//! - waits (with backoff) for a record that is not linked to HubSpot yet;
//! - writes the rest with one batch upsert per 100 keyed by the unique note property
//!   `turris_note_id` (made on the portal the first time), so a note whose answer was lost (a
//!   crash, a timeout, a 5xx after the write) is found again rather than written twice;
//! - associates each note with its company (agencies) or contact (agents), which is harmless
//!   to repeat;
//! - deletes the rows it wrote or dropped and postpones the others (one statement each per
//!   organization's batch) and records each write in the CRM sync record.

use std::collections::HashMap;

use chrono::Utc;
use turris_core::audit::{CrmObject, CrmOperation, CrmSyncEntry, SyncTrigger};
use turris_core::ids::OrganizationId;
use turris_core::integration::ConnectionStatus;
use turris_core::notes::{NOTE_ID_PROPERTY, body};
use turris_core::store::TurrisRef;
use turris_hubspot::HubSpotClient;
use turris_hubspot::crm::ObjectType;
use turris_hubspot::crm::associations::{AssociationPair, PublicObjectId};
use turris_hubspot::crm::batch::UpsertInput;
use turris_hubspot::crm::properties::NewProperty;

use crate::app::AppState;
use crate::hubspot::ConnectionError;
use crate::store::{DbError, NoteRetry, QueuedNote};
use crate::sync::lease::LEASE;
use crate::workers::Shutdown;

/// The worker loop: runs until `shutdown` fires.
pub async fn run(state: AppState, shutdown: Shutdown) {
    let step = |s: AppState| async move { step(&s).await };
    super::poll_steps(state, shutdown, super::WRITER_POLL, "notes", step).await
}

/// Leases due notes and writes them; `false` when there were none.
pub async fn step(state: &AppState) -> Result<bool, DbError> {
    let notes = state
        .db()
        .claim_notes(Utc::now(), super::WRITER_CLAIM, LEASE)
        .await?;
    if notes.is_empty() {
        return Ok(false);
    }
    for (org, notes) in super::by_organization(notes, |i| &i.organization) {
        organization(state, &org, notes).await?;
    }
    Ok(true)
}

/// What became of one note.
enum Fate {
    Written,
    Dropped,
    Later {
        failed: bool,
        delay: chrono::Duration,
    },
}

async fn organization(
    state: &AppState,
    org: &OrganizationId,
    notes: Vec<QueuedNote>,
) -> Result<(), DbError> {
    let db = state.db();
    let settings = db.load_settings(org).await?.unwrap_or_default();
    let credentials = db.hubspot_credentials(org).await?;
    let paused = settings.connection.status == ConnectionStatus::Error;
    let mut fates: Vec<(QueuedNote, Fate)> = Vec::new();
    let mut writable: Vec<(QueuedNote, ObjectType, String)> = Vec::new();
    for note in notes {
        let fate = if paused {
            Fate::Later {
                failed: false,
                delay: super::WRITER_PAUSED_RETRY,
            }
        } else if credentials.is_none() || !settings.crm.notes.allows(note.kind) {
            Fate::Dropped
        } else {
            match db.link_by_turris(org, &note.record).await? {
                Some(link) => {
                    let target = match note.record {
                        TurrisRef::Agency(_) => ObjectType::Companies,
                        _ => ObjectType::Contacts,
                    };
                    writable.push((note, target, link.hubspot_id.to_string()));
                    continue;
                }
                None => later(&note),
            }
        };
        fates.push((note, fate));
    }
    if let (Some(credentials), false) = (credentials, writable.is_empty()) {
        let written = match crate::hubspot::client(state, org, &credentials) {
            Ok(client) => write(state, org, &client, writable).await?,
            Err(e) => {
                tracing::warn!(org = %org, error = %e, "notes wait: no HubSpot client");
                writable
                    .into_iter()
                    .map(|(n, ..)| (n, later_failed()))
                    .collect()
            }
        };
        fates.extend(written);
    }
    // Written and dropped notes go in one statement, postponed ones in another (each to its
    // own time), both fenced per note by its lease.
    let now = Utc::now();
    let mut done = Vec::new();
    let mut retries = Vec::new();
    for (note, fate) in &fates {
        match fate {
            Fate::Written | Fate::Dropped => done.push(note.clone()),
            Fate::Later { failed, delay } => retries.push(NoteRetry {
                note,
                next_attempt_at: now + *delay,
                failed: *failed,
            }),
        }
    }
    let postponed = db.retry_notes(&retries).await?;
    let deleted = db.finish_notes(&done).await?;
    let lost = (done.len() + retries.len()) as u64 - (deleted + postponed);
    if lost > 0 {
        tracing::warn!(org = %org, lost, "note leases lost: another worker has them");
    }
    Ok(())
}

/// Tried again after a backoff, or dropped once the retries are spent.
fn later(note: &QueuedNote) -> Fate {
    match super::retry_delay(note.attempts) {
        Some(delay) => Fate::Later {
            failed: true,
            delay,
        },
        None => Fate::Dropped,
    }
}

fn later_failed() -> Fate {
    Fate::Later {
        failed: true,
        delay: super::RETRY_FIRST,
    }
}

/// A note HubSpot holds, to associate with its record: the note, its HubSpot id, and the
/// record's object.
type Made = (QueuedNote, String, String);

/// What writing a set of notes gave: each note's fate, and the sync records of the writes.
#[derive(Default)]
struct Written {
    fates: Vec<(QueuedNote, Fate)>,
    audit: Vec<CrmSyncEntry>,
}

/// Upserts the notes keyed by their Turris note id, associates them, and records each write.
async fn write(
    state: &AppState,
    org: &OrganizationId,
    client: &HubSpotClient,
    notes: Vec<(QueuedNote, ObjectType, String)>,
) -> Result<Vec<(QueuedNote, Fate)>, DbError> {
    if let Err(e) = ensure_note_key(state, org, client).await {
        tracing::warn!(org = %org, error = %crate::hubspot::Upstream(&e), "notes wait: the turris_note_id property cannot be made");
        let connection = ConnectionError::from(e);
        let transient = !matches!(connection, ConnectionError::Rejected { .. });
        return Ok(notes
            .into_iter()
            .map(|(n, ..)| {
                let fate = if transient { later_failed() } else { later(&n) };
                (n, fate)
            })
            .collect());
    }
    let mut written = Written::default();
    let made = upsert(client, notes, &mut written).await;
    for (target, notes) in made {
        associate(client, &target, notes, &mut written).await;
    }
    state.db().append_sync_records(org, &written.audit).await?;
    Ok(written.fates)
}

/// One batch upsert per 100 notes; the notes HubSpot holds, by the object they go on.
async fn upsert(
    client: &HubSpotClient,
    notes: Vec<(QueuedNote, ObjectType, String)>,
    written: &mut Written,
) -> HashMap<ObjectType, Vec<Made>> {
    let inputs: Vec<UpsertInput> = notes.iter().map(|(note, ..)| upsert_input(note)).collect();
    let outcome = client.batch_upsert(&ObjectType::Notes, &inputs).await;
    let answered = &outcome.answered;
    let made: HashMap<String, String> = outcome
        .results
        .iter()
        .filter_map(|r| {
            let key = r.object.property(NOTE_ID_PROPERTY)?.to_owned();
            Some((key, r.object.id.clone()))
        })
        .collect();
    let mut pairs: HashMap<ObjectType, Vec<Made>> = HashMap::new();
    for (index, (note, target, object_id)) in notes.into_iter().enumerate() {
        let entry = note_entry(&note, CrmOperation::Create)
            .correlation(super::outbound::correlation_of(answered, index));
        if let Some(failure) = outcome
            .failed_chunks
            .iter()
            .find(|f| f.inputs.contains(&index))
        {
            let status = failure.error.status();
            let why = "HubSpot did not take the note; it is tried again".to_owned();
            written.audit.push(entry.answered(status, Some(why)));
            let transient = status.is_none_or(|s| s == 429 || s >= 500 || s == 401);
            let fate = if transient {
                later_failed()
            } else {
                later(&note)
            };
            written.fates.push((note, fate));
            continue;
        }
        let Some(note_id) = made.get(&note.id).cloned() else {
            let why = "HubSpot refused the note".to_owned();
            written.audit.push(entry.answered(Some(207), Some(why)));
            let fate = later(&note);
            written.fates.push((note, fate));
            continue;
        };
        written
            .audit
            .push(entry.object_id(note_id.clone()).answered(Some(200), None));
        pairs
            .entry(target)
            .or_default()
            .push((note, note_id, object_id));
    }
    pairs
}

/// The upsert input of a note: its body and time, keyed by its Turris note id.
fn upsert_input(note: &QueuedNote) -> UpsertInput {
    let properties = HashMap::from([
        ("hs_note_body".to_owned(), body(note.kind, &note.details)),
        (
            "hs_timestamp".to_owned(),
            note.occurred_at.timestamp_millis().to_string(),
        ),
        (NOTE_ID_PROPERTY.to_owned(), note.id.clone()),
    ]);
    UpsertInput {
        id: note.id.clone(),
        id_property: NOTE_ID_PROPERTY.to_owned(),
        properties,
        object_write_trace_id: Some(note.id.clone()),
    }
}

/// Associates notes HubSpot holds with their `target` records (harmless to repeat).
async fn associate(
    client: &HubSpotClient,
    target: &ObjectType,
    notes: Vec<Made>,
    written: &mut Written,
) {
    let inputs: Vec<AssociationPair> = notes
        .iter()
        .map(|(_, note_id, object_id)| AssociationPair {
            from: PublicObjectId {
                id: note_id.clone(),
            },
            to: PublicObjectId {
                id: object_id.clone(),
            },
        })
        .collect();
    let associated = client
        .batch_associate_default(&ObjectType::Notes, target, &inputs)
        .await;
    for (note, note_id, object_id) in notes {
        let entry = note_entry(&note, CrmOperation::Associate)
            .object_id(note_id)
            .wrote([(target.as_str(), Some(object_id.as_str()))]);
        match &associated {
            Ok(()) => {
                written.audit.push(entry.answered(Some(200), None));
                written.fates.push((note, Fate::Written));
            }
            Err(e) => {
                // The note exists: the retry's upsert finds it and associates again.
                let why = "the note is not attached yet; it is tried again".to_owned();
                written.audit.push(entry.answered(e.status(), Some(why)));
                written.fates.push((note, later_failed()));
            }
        }
    }
}

/// The sync record of a note's write.
fn note_entry(note: &QueuedNote, operation: CrmOperation) -> CrmSyncEntry {
    CrmSyncEntry::new(
        Utc::now(),
        CrmObject::Note,
        operation,
        SyncTrigger::ActivityNote,
    )
    .turris(&note.record)
    .wrote([("note_kind", Some(note.kind.as_str()))])
}

/// Makes the unique `turris_note_id` property on notes unless this process knows it exists.
async fn ensure_note_key(
    state: &AppState,
    org: &OrganizationId,
    client: &HubSpotClient,
) -> Result<(), turris_hubspot::Error> {
    let key = (org.clone(), format!("notes/{NOTE_ID_PROPERTY}"));
    if state.sync().has_id_property(&key) {
        return Ok(());
    }
    let mut property = NewProperty::unique_text(NOTE_ID_PROPERTY, "Turris note ID", "notes");
    property.description = Some("The Turris event this note logs. Set by Turris.".to_owned());
    if client
        .ensure_property(&ObjectType::Notes, &property)
        .await?
    {
        crate::sync::creates::record_property(state, org, &ObjectType::Notes, NOTE_ID_PROPERTY)
            .await;
    }
    state.sync().remember_id_property(key);
    Ok(())
}
