//! Group commit of NIPR results: concurrent posts hand their writes to a writer task, which
//! writes every write waiting at that moment in one transaction and answers each caller after
//! the commit (one task on SQLite, a few on PostgreSQL: [`POSTGRES_WRITERS`]). Under load that
//! is one commit (and one multi-row `INSERT` of the delivery events) for many requests instead
//! of one each; when it is quiet a batch is one request, so nothing waits for a timer.
//!
//! Each write keeps its own answer: an entity that is not in the organization answers
//! [`DbError::NotFound`] to that caller alone (nothing of it is written, the others go on);
//! a write whose statement fails (a duplicate result id: [`DbError::Conflict`]) rolls the
//! transaction back, answers its caller with its error, and the batch is written again
//! without it. A caller is answered `Ok` only after the commit that holds its rows, so a 201
//! still means committed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};
use turris_core::ids::OrganizationId;
use turris_core::notes::{NoteDetails, NoteKind};
use turris_webhooks::SyncOutcome;
use turris_webhooks::WebhookType;
use turris_webhooks::delivery::{
    EventId, EventRecord, EventStatus, Lease, LeasedDelivery, WebhookId,
};
use turris_webhooks::{DataSynchronized, Payload};
use uuid::Uuid;

use super::compliance::entity_type_text;
use super::events::{EventRow, insert_events};
use super::results::insert_results;
use super::{Enqueued, NiprSyncResult, OutboxEvent, enum_text};
use crate::store::error::{DbError, DbResult, foreign_key_is_not_found};
use crate::store::sql::{Backend, Dialect, SqlStore, from_ns, ns, with_pool};

/// One write's own rows inside the open transaction `$tx` of `$pool`: its result (already
/// inserted with the batch's when `$inserted` holds the batch's answers, else inserted alone
/// now), then [`nipr_extras!`]. Evaluates to `DbResult<Option<Option<String>>>`: the entity's
/// NPN as the insert read it, `None` (nothing written) when the entity is not in the
/// organization. Alone, the insert's error is this write's: a duplicate id is a conflict, a
/// missing organization not found.
macro_rules! nipr_rows {
    ($pool:expr, $tx:expr, $inserted:expr, $write:expr, $features:expr) => {{
        let write: &NiprWrite = $write;
        let inserted: &Option<super::results::Inserted> = $inserted;
        let key = (write.org.as_str().to_owned(), write.result.id.0);
        let found = match inserted {
            Some(inserted) => Ok(inserted.get(&key).cloned()),
            None => insert_results($pool, &mut *$tx, &[write])
                .await
                .map(|mut one| one.remove(&key))
                .map_err(foreign_key_is_not_found),
        };
        match found {
            Ok(Some(npn)) => nipr_extras!($tx, write, $features).map(|()| Some(npn)),
            other => other,
        }
    }};
}

/// A stored write's events, one per endpoint of its webhook type (each organization's and
/// type's endpoints read once per batch), added to `$events` and leased to the local worker
/// with `$lease`; evaluates to the write's [`Enqueued`]. Returns from the enclosing function:
/// [`Tried::Failed`] when an endpoint read fails, [`Tried::Offender`] (`$i`) for a bad time.
macro_rules! fan_out {
    ($tx:expr, $endpoints:expr, $events:expr, $i:expr, $write:expr, $outbox:expr, $lease:expr) => {{
        let write: &NiprWrite = $write;
        let org = write.org.as_str().to_owned();
        let mut mine = Vec::new();
        for item in $outbox {
            let key = (org.clone(), item.webhook_type);
            once_per_batch!(
                $endpoints,
                key,
                sqlx::query_as::<_, EndpointRow>(
                    "SELECT id, disabled_at IS NOT NULL, paused_until
                     FROM webhook_endpoints
                     WHERE organization_id = $1 AND webhook_type = $2 ORDER BY id",
                )
                .bind(&org)
                .bind(item.webhook_type.as_str())
                .fetch_all(&mut *$tx)
            );
            let created = match ns(item.created_at) {
                Ok(at) => at,
                Err(e) => return Tried::Offender($i, e),
            };
            mine.extend($events.fan_out(&write.org, item, created, &$endpoints[&key], $lease));
        }
        mine
    }};
}

/// Queues an inserted NIPR result's tags push and, for a failure, its note, inside `$tx`;
/// `$features` is its organization's `crm_features` as the batch read them: a tags push or a
/// note whose feature is off is not even tried (the queueing statements check it again).
/// Evaluates to `DbResult<()>`.
macro_rules! nipr_extras {
    ($tx:expr, $write:expr, $features:expr) => {
        async {
            let write: &NiprWrite = $write;
            let features: &str = $features;
            let (org, result) = (&write.org, &write.result);
            let finished = ns(result.finished_at)?;
            let kind = enum_text(&result.kind)?;
            let entity_type = entity_type_text(&result.entity);
            if features.contains(",tags,") {
                crate::store::tags::queue_tags_push!(
                    $tx,
                    org,
                    entity_type,
                    result.entity.id(),
                    finished
                );
            }
            let note = NoteKind::NiprSyncFailed;
            if result.outcome == SyncOutcome::Error
                && features.contains(&format!(",{},", note.as_str()))
            {
                let details = NoteDetails {
                    sync_kind: Some(kind.clone()),
                    error: result.error.clone(),
                    ..NoteDetails::default()
                };
                let now = ns(Utc::now())?;
                let id = result.entity.id();
                crate::store::notes::queue_note!(
                    $tx,
                    org,
                    note,
                    entity_type,
                    id,
                    &details,
                    finished,
                    now
                );
            }
            Ok::<(), DbError>(())
        }
        .await
    };
}

/// Reads `$map`'s entry for `$key` with `$fetch` (a future of a `sqlx` result) unless the
/// batch read it already; a failed read fails the batch.
macro_rules! once_per_batch {
    ($map:expr, $key:expr, $fetch:expr) => {
        if !$map.contains_key(&$key) {
            match $fetch.await {
                Ok(found) => {
                    $map.insert($key.clone(), found);
                }
                Err(e) => return Tried::Failed(DbError::from(e)),
            }
        }
    };
}

/// The most writes one transaction takes.
const MAX_BATCH: usize = 256;

/// Writer tasks on PostgreSQL: a batch's statements are round trips, so two batches go at
/// once (each its own connection and transaction). Four made batches of about three writes
/// under a 32-client burst; two make them larger, for fewer statements and commits per
/// event (less CPU for the database and the server, and the burst's deliveries keep up).
/// SQLite has one: its writers take turns at the file's one write lock anyway.
const POSTGRES_WRITERS: usize = 2;

/// One NIPR result to store with its outbox events.
#[derive(Debug, Clone)]
pub struct NiprWrite {
    /// The organization.
    pub org: OrganizationId,
    /// The result.
    pub result: NiprSyncResult,
    /// Its outbox events.
    pub outbox: NiprOutbox,
}

/// The outbox events of a [`NiprWrite`].
#[derive(Debug, Clone)]
pub enum NiprOutbox {
    /// These events, as given.
    Events(Vec<OutboxEvent>),
    /// The result's `entity_compliance_data_synchronized` event, created at this time and
    /// built in the transaction with the entity's NPN as the result's insert found it (so
    /// recording a result reads no entity beforehand).
    Synchronized(DateTime<Utc>),
}

impl NiprOutbox {
    /// The events for `write`, whose entity's NPN is `npn`.
    fn events(&self, write: &NiprWrite, npn: Option<String>) -> DbResult<Vec<OutboxEvent>> {
        let at = match self {
            Self::Events(events) => return Ok(events.clone()),
            Self::Synchronized(at) => *at,
        };
        let result = &write.result;
        let payload = Payload::EntityComplianceDataSynchronized(DataSynchronized {
            entity_type: result.entity.entity_type(),
            entity_id: result.entity.id().to_owned(),
            npn,
            kind: result.kind,
            outcome: result.outcome,
            error: result.error.clone(),
            finished_at: result.finished_at,
        });
        let event =
            OutboxEvent::of(&write.org, payload, at).map_err(|e| DbError::Other(Box::new(e)))?;
        Ok(vec![event])
    }
}

type Reply = oneshot::Sender<DbResult<Vec<Enqueued>>>;

/// The way to the writer task, started on first use (and again if its runtime ended).
#[derive(Default)]
pub(crate) struct GroupCommit {
    sender: Mutex<Option<mpsc::Sender<(NiprWrite, Reply)>>>,
}

/// Several callers' failure when their shared transaction failed as a whole (it began or
/// committed with an error): each caller gets this, naming the one error.
#[derive(Debug, thiserror::Error)]
#[error("the group commit failed")]
struct BatchFailed(#[source] Arc<DbError>);

/// What one try of a batch came to.
enum Tried {
    /// Committed: each write's answer, in the order of `pending`.
    Committed(Vec<DbResult<Vec<Enqueued>>>),
    /// The write at this index of `writes` failed a statement: rolled back.
    Offender(usize, DbError),
    /// The transaction failed as a whole (begin, a shared statement, commit).
    Failed(DbError),
    /// The statement inserting every result at once failed: rolled back, to be written again
    /// a result at a time.
    OneByOne,
}

/// An endpoint the outbox writes to: id, disabled, paused until.
type EndpointRow = (Uuid, bool, Option<i64>);

/// The batch's delivery events, and those handed off to this process' worker.
#[derive(Default)]
struct BatchEvents {
    rows: Vec<EventRow>,
    handed: Vec<LeasedDelivery>,
}

impl BatchEvents {
    /// One event of `item` per endpoint of its webhook type, leased to the local worker with
    /// `lease` (and its expiry) unless the endpoint is held: a disabled or paused
    /// (Retry-After) endpoint's events are stored but not handed off, and wait until it may be
    /// sent to again.
    fn fan_out(
        &mut self,
        org: &OrganizationId,
        item: &OutboxEvent,
        created: i64,
        endpoints: &[EndpointRow],
        lease: Option<(Lease, i64)>,
    ) -> Vec<Enqueued> {
        let mut enqueued = Vec::with_capacity(endpoints.len());
        for &(webhook, disabled, paused_until) in endpoints {
            let held = disabled || paused_until.unwrap_or(0) > created;
            let lease = lease.filter(|_| !held);
            let event_id = EventId::new();
            self.rows.push(EventRow {
                event_id: event_id.0,
                webhook_id: webhook,
                webhook_type: item.webhook_type.as_str(),
                body: item.body.clone(),
                created,
                lease: lease.map(|(l, expires)| (l.id.0, expires)),
                org: org.as_str().to_owned(),
            });
            if let Some((lease, _)) = lease {
                self.handed
                    .push(leased(event_id, WebhookId(webhook), item, created, lease));
            }
            enqueued.push(Enqueued {
                event_id,
                webhook_id: WebhookId(webhook),
            });
        }
        enqueued
    }
}

impl SqlStore {
    /// Stores `write` through the writer task (see the module docs); directly when no tokio
    /// runtime runs a writer task.
    pub(crate) async fn record_nipr_grouped(&self, write: NiprWrite) -> DbResult<Vec<Enqueued>> {
        let Some(sender) = self.group_sender() else {
            return self
                .write_nipr_batch(&[write])
                .await
                .pop()
                .unwrap_or(Err(DbError::corrupt("group commit answered nothing")));
        };
        let (reply, answer) = oneshot::channel();
        if let Err(mpsc::error::SendError((write, _))) = sender.send((write, reply)).await {
            // The writer's runtime ended: write alone.
            return self
                .write_nipr_batch(&[write])
                .await
                .pop()
                .unwrap_or(Err(DbError::corrupt("group commit answered nothing")));
        }
        // Dropped without an answer only when the writer task was cancelled (its runtime
        // shut down): whether the write committed is unknown, as for a lost connection.
        answer
            .await
            .unwrap_or_else(|_| Err(DbError::corrupt("the group commit writer stopped")))
    }

    fn group_sender(&self) -> Option<mpsc::Sender<(NiprWrite, Reply)>> {
        let mut sender = self
            .group_commit()
            .sender
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(s) = sender.as_ref().filter(|s| !s.is_closed()) {
            return Some(s.clone());
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        // The tasks' store has no writer of its own, so it holds no sender: the tasks end
        // when every store sharing this one's sender is gone.
        let writers = match self.database().backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => POSTGRES_WRITERS,
        };
        for _ in 0..writers {
            runtime.spawn(write_in_groups(self.without_group_commit(), rx.clone()));
        }
        *sender = Some(tx.clone());
        Some(tx)
    }

    /// Writes `writes` in as few transactions as their answers allow (one unless a write
    /// fails a statement); one answer per write, in order.
    pub async fn write_nipr_batch(&self, writes: &[NiprWrite]) -> Vec<DbResult<Vec<Enqueued>>> {
        let mut answers: Vec<Option<DbResult<Vec<Enqueued>>>> =
            writes.iter().map(|_| None).collect();
        let mut pending: Vec<usize> = (0..writes.len()).collect();
        let mut at_once = true;
        while !pending.is_empty() {
            match self.try_nipr_batch(writes, &pending, at_once).await {
                Tried::Committed(results) => {
                    for (i, result) in pending.iter().zip(results) {
                        answers[*i] = Some(result);
                    }
                    break;
                }
                Tried::Offender(i, error) => {
                    answers[i] = Some(Err(error));
                    pending.retain(|&j| j != i);
                }
                Tried::OneByOne => at_once = false,
                Tried::Failed(error) => {
                    let shared = Arc::new(error);
                    for i in &pending {
                        answers[*i] =
                            Some(Err(DbError::Other(Box::new(BatchFailed(shared.clone())))));
                    }
                    break;
                }
            }
        }
        answers
            .into_iter()
            .map(|a| a.unwrap_or(Err(DbError::corrupt("group commit left a write"))))
            .collect()
    }

    /// One try of the `pending` writes in one transaction: their results inserted `at_once`
    /// (one statement per entity table), else a result at a time.
    async fn try_nipr_batch(
        &self,
        writes: &[NiprWrite],
        pending: &[usize],
        at_once: bool,
    ) -> Tried {
        let lease = self.handoff_lease();
        let lease_expires = match lease.map(|l| ns(l.expires_at)).transpose() {
            Ok(at) => at,
            Err(e) => return Tried::Failed(e),
        };
        let mut stored: Vec<bool> = Vec::with_capacity(pending.len());
        let mut endpoints: HashMap<(String, WebhookType), Vec<EndpointRow>> = HashMap::new();
        // Each organization's CRM writes that are on, read once per batch.
        let mut features: HashMap<String, String> = HashMap::new();
        let mut events = BatchEvents::default();
        let mut enqueued: Vec<Vec<Enqueued>> = Vec::with_capacity(pending.len());
        with_pool!(self, |pool| {
            let mut tx = match pool.begin_write().await {
                Ok(tx) => tx,
                Err(e) => return Tried::Failed(e.into()),
            };
            let inserted = match at_once {
                true => {
                    let batch: Vec<&NiprWrite> = pending.iter().map(|&i| &writes[i]).collect();
                    match insert_results(pool, &mut *tx, &batch).await {
                        Ok(inserted) => Some(inserted),
                        Err(_) => return Tried::OneByOne,
                    }
                }
                false => None,
            };
            for &i in pending {
                let write = &writes[i];
                let org = write.org.as_str().to_owned();
                once_per_batch!(features, org, async {
                    sqlx::query_scalar::<_, String>(
                        "SELECT crm_features FROM integration_settings WHERE organization_id = $1",
                    )
                    .bind(&org)
                    .fetch_optional(&mut *tx)
                    .await
                    .map(Option::unwrap_or_default)
                });
                let rows = nipr_rows!(pool, tx, &inserted, write, &features[&org]);
                let outbox = match rows {
                    Ok(Some(npn)) => match write.outbox.events(write, npn) {
                        Ok(outbox) => outbox,
                        Err(e) => return Tried::Offender(i, e),
                    },
                    Ok(None) => {
                        stored.push(false);
                        enqueued.push(Vec::new());
                        continue;
                    }
                    Err(e) => return Tried::Offender(i, e),
                };
                stored.push(true);
                let lease = lease.zip(lease_expires);
                enqueued.push(fan_out!(tx, endpoints, events, i, write, &outbox, lease));
            }
            if let Err(e) = insert_events(pool, &mut *tx, &events.rows).await {
                return Tried::Failed(e.into());
            }
            if let Err(e) = tx.commit().await {
                return Tried::Failed(e.into());
            }
        });
        let queued = events.rows.len();
        self.hand_off(events.handed).await;
        self.signal_enqueued(queued);
        committed(stored, enqueued)
    }
}

/// Each write's answer once the batch committed: its events, or not found (`stored` false).
fn committed(stored: Vec<bool>, enqueued: Vec<Vec<Enqueued>>) -> Tried {
    Tried::Committed(
        stored
            .into_iter()
            .zip(enqueued)
            .map(|(stored, enqueued)| stored.then_some(enqueued).ok_or(DbError::NotFound))
            .collect(),
    )
}

/// A writer task: every write waiting when it is free goes in one transaction.
async fn write_in_groups(
    store: SqlStore,
    queue: Arc<tokio::sync::Mutex<mpsc::Receiver<(NiprWrite, Reply)>>>,
) {
    let mut batch: Vec<(NiprWrite, Reply)> = Vec::with_capacity(MAX_BATCH);
    loop {
        let received = queue.lock().await.recv_many(&mut batch, MAX_BATCH).await;
        if received == 0 {
            break;
        }
        let (writes, replies): (Vec<NiprWrite>, Vec<Reply>) = batch.drain(..).unzip();
        let answers = store.write_nipr_batch(&writes).await;
        for (reply, answer) in replies.into_iter().zip(answers) {
            let _ = reply.send(answer);
        }
    }
}

/// A handed-off event as the local worker receives it.
fn leased(
    event_id: EventId,
    webhook_id: WebhookId,
    item: &OutboxEvent,
    created: i64,
    lease: Lease,
) -> LeasedDelivery {
    LeasedDelivery {
        event: EventRecord {
            event_id,
            webhook_id,
            webhook_type: item.webhook_type,
            body: axum::body::Bytes::from(item.body.clone()),
            created_at: from_ns(created),
            status: EventStatus::Pending,
            attempt_count: 0,
            automatic_attempts: 0,
            next_attempt_at: Some(from_ns(created)),
        },
        lease,
    }
}
