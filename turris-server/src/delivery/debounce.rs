//! The debounce worker: closes due windows of compliance status changes into events.
//!
//! Each step runs inside [`DebounceStore::advance_debounce`]: the persisted state and the
//! changes recorded since the last step go into a [`Debouncer`], the windows due now are
//! flushed, and the new state, the consumed changes and the outbox rows are saved in one
//! transaction. A crash before the commit repeats the step; after it, nothing is left to
//! repeat: each window is sent once.

use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use turris_core::notes::{ComplianceChangeFacts, NoteDetails};
use turris_webhooks::{
    ComplianceStatus, ComplianceStatusChanges, DebounceConfig, Debouncer, DebouncerState,
    EntityType, Envelope, StatusChangeEvent,
};

use crate::app::AppState;
use crate::store::{DbResult, DebounceKey, DebounceOutput, DebounceStore, DigestNote, OutboxEvent};
use crate::workers::Shutdown;

/// Runs a debounce round every tick until `shutdown` fires.
pub async fn run(state: AppState, mut shutdown: Shutdown) {
    let settings = state.config().delivery.clone();
    let config = settings.debounce();
    while !shutdown.is_fired() {
        if let Err(e) = round(state.db(), config, Utc::now(), &state).await {
            tracing::warn!(error = %crate::error::ErrorChain(&e), "debounce round failed");
        }
        tokio::select! {
            () = tokio::time::sleep(settings.debounce_tick) => {}
            () = shutdown.fired() => break,
        }
    }
}

/// One round at `now`: every debouncer with new changes or a window due. Returns how many
/// windows were flushed.
pub async fn round(
    store: &dyn DebounceStore,
    config: DebounceConfig,
    now: DateTime<Utc>,
    state: &AppState,
) -> DbResult<usize> {
    let mut flushed = 0;
    for key in store.debounce_due(now).await? {
        let enqueued = store
            .advance_debounce(
                &key,
                Box::new(move |persisted, changes| step(config, now, persisted, changes)),
            )
            .await;
        match enqueued {
            Ok(events) if !events.is_empty() => {
                flushed += 1;
                state
                    .delivery_metrics()
                    .debounce_flushes
                    .fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    organization = %key.organization,
                    webhook_type = key.webhook_type.as_str(),
                    events = events.len(),
                    "debounce window flushed"
                );
            }
            Ok(_) => {}
            Err(e) => log_failed(&key, &e),
        }
    }
    Ok(flushed)
}

fn log_failed(key: &DebounceKey, error: &crate::store::DbError) {
    tracing::warn!(
        organization = %key.organization,
        webhook_type = key.webhook_type.as_str(),
        error = %crate::error::ErrorChain(error),
        "debounce step failed"
    );
}

/// Adds the new changes to the persisted windows and closes those due at `now`.
pub fn step(
    config: DebounceConfig,
    now: DateTime<Utc>,
    persisted: DebouncerState,
    changes: Vec<StatusChangeEvent>,
) -> DebounceOutput {
    let mut debouncer = Debouncer::from_state(config, persisted);
    for change in changes {
        debouncer.record(change);
    }
    let mut outbox = Vec::new();
    let mut notes = Vec::new();
    for batch in debouncer.flush_due(now) {
        notes.extend(digests(&batch.payload));
        let envelope = Envelope::new(batch.organization, batch.webhook_type, batch.payload);
        match envelope.to_bytes() {
            Ok(body) => outbox.push(OutboxEvent {
                webhook_type: batch.webhook_type,
                body: body.to_vec(),
                created_at: now,
            }),
            Err(e) => tracing::error!(error = %e, "serializing a status change batch"),
        }
    }
    DebounceOutput {
        state: debouncer.state().clone(),
        next_due: debouncer.next_due(),
        outbox,
        notes,
    }
}

/// One digest note per entity of a flushed window.
fn digests(window: &ComplianceStatusChanges) -> Vec<DigestNote> {
    window
        .entities
        .iter()
        .map(|entity| DigestNote {
            entity_type: match entity.entity_type {
                EntityType::Agency => "agency",
                _ => "agent",
            },
            entity_id: entity.entity_id.clone(),
            details: NoteDetails {
                compliance: entity
                    .changes
                    .iter()
                    .map(|c| ComplianceChangeFacts {
                        product: c.product.clone(),
                        state: c.state.clone(),
                        from: status_text(c.previous_status),
                        to: status_text(c.status),
                    })
                    .collect(),
                window: Some((window.window_start, window.window_end)),
                ..NoteDetails::default()
            },
            at: window.window_end,
        })
        .collect()
}

fn status_text(status: ComplianceStatus) -> String {
    match status {
        ComplianceStatus::Compliant => "compliant",
        ComplianceStatus::NonCompliant => "non-compliant",
        ComplianceStatus::Pending => "pending",
        ComplianceStatus::NotRequired => "not required",
        _ => "other",
    }
    .to_owned()
}
