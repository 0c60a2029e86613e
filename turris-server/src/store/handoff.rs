//! Events this process wrote, leased to its own delivery worker and handed to it in memory
//! after the commit (no round trip to lease them again), waiting until the worker takes them.

//!
//! What waits is bounded by count ([`HANDOFF_CAP`]) and by payload bytes (the worker's
//! [`HandoffTerms::max_bytes`]): past either, new events are written without a lease and wait
//! in the database for a leasing round (any replica's). A commit's events that would take the
//! queue past its bytes have their leases given back at once, in one statement, and no event
//! is written leased again until the worker has taken some.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use turris_webhooks::delivery::{EventId, Lease, LeaseId, LeaseKind, LeasedDelivery};

use super::fairness::FairLeaseStore;
use super::sql::{SqlStore, plus};

/// Events written already leased to this process's delivery worker, waiting for it.
#[derive(Default)]
pub(crate) struct Handoff {
    /// The local worker's terms; `None` while no local worker takes hand-offs.
    terms: Mutex<Option<HandoffTerms>>,
    queue: Mutex<Waiting>,
}

/// What a local delivery worker takes hand-offs on ([`super::DeliveryStatsStore::set_handoff`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandoffTerms {
    /// How long their leases last.
    pub lease_for: Duration,
    /// The most payload bytes (event bodies) that wait to be taken.
    pub max_bytes: usize,
}

/// The hand-offs waiting, oldest first, and their payload bytes.
#[derive(Default)]
struct Waiting {
    deliveries: VecDeque<LeasedDelivery>,
    bytes: usize,
    /// Leases were given back for want of room: none is written until some are taken.
    overflowed: bool,
}

impl Waiting {
    /// Takes `taken` out of the count (after it left `deliveries`).
    fn took(&mut self, taken: &[LeasedDelivery]) {
        if !taken.is_empty() {
            self.bytes -= taken.iter().map(size).sum::<usize>();
            self.overflowed = false;
        }
    }
}

/// A hand-off's payload bytes.
fn size(delivery: &LeasedDelivery) -> usize {
    delivery.event.body.len()
}

/// Beyond this many waiting hand-offs, new events are left to polling (any replica).
const HANDOFF_CAP: usize = 1024;

impl SqlStore {
    fn handoff_queue(&self) -> MutexGuard<'_, Waiting> {
        self.handoff.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn handoff_terms(&self) -> Option<HandoffTerms> {
        *self.handoff.terms.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The lease for events written now, when a local worker takes hand-offs and is not
    /// too far behind (by count and by bytes).
    pub(crate) fn handoff_lease(&self) -> Option<Lease> {
        let terms = self.handoff_terms()?;
        let waiting = self.handoff_queue();
        let room = waiting.deliveries.len() < HANDOFF_CAP
            && waiting.bytes < terms.max_bytes
            && !waiting.overflowed;
        room.then(|| Lease {
            id: LeaseId::new(),
            kind: LeaseKind::Scheduled,
            expires_at: plus(Utc::now(), terms.lease_for),
        })
    }

    /// Queues committed, leased events for the local worker, as far as its bytes allow: the
    /// leases of the others (from the first that does not fit) are given back in one
    /// statement, so they are due at once for any worker.
    pub(crate) async fn hand_off(&self, handed: Vec<LeasedDelivery>) {
        if handed.is_empty() {
            return;
        }
        // Stopped meanwhile: the stopping worker still takes what waits.
        let max_bytes = self.handoff_terms().map_or(usize::MAX, |t| t.max_bytes);
        let over: Vec<(EventId, Lease)> = {
            let mut waiting = self.handoff_queue();
            let mut over = Vec::new();
            for delivery in handed {
                if over.is_empty() && waiting.bytes.saturating_add(size(&delivery)) <= max_bytes {
                    waiting.bytes += size(&delivery);
                    waiting.deliveries.push_back(delivery);
                } else {
                    over.push((delivery.event.event_id, delivery.lease));
                }
            }
            waiting.overflowed |= !over.is_empty();
            over
        };
        if over.is_empty() {
            return;
        }
        if let Err(e) = self.release_leases(&over).await {
            // Their leases lapse instead, and a leasing round takes them then.
            tracing::warn!(events = over.len(), error = %e, "giving back hand-offs beyond the budget failed");
        }
    }

    /// Starts (`Some`) or stops (`None`) writing new events leased to the local worker.
    pub(crate) fn set_handoff(&self, terms: Option<HandoffTerms>) {
        *self.handoff.terms.lock().unwrap_or_else(|e| e.into_inner()) = terms;
    }

    /// Up to `limit` hand-offs, oldest first.
    pub(crate) fn take_handoff(&self, limit: usize) -> Vec<LeasedDelivery> {
        let mut waiting = self.handoff_queue();
        let n = limit.min(waiting.deliveries.len());
        let taken: Vec<_> = waiting.deliveries.drain(..n).collect();
        waiting.took(&taken);
        taken
    }

    /// Up to `limit` hand-offs that `room` lets go now, oldest first; the others keep their
    /// place.
    pub(crate) fn take_handoff_where(
        &self,
        limit: usize,
        room: &mut (dyn FnMut(&LeasedDelivery) -> bool + Send),
    ) -> Vec<LeasedDelivery> {
        let mut waiting = self.handoff_queue();
        let queue = &mut waiting.deliveries;
        let mut taken = Vec::new();
        let mut kept = VecDeque::with_capacity(queue.len());
        while let Some(delivery) = queue.pop_front() {
            if taken.len() < limit && room(&delivery) {
                taken.push(delivery);
            } else {
                kept.push_back(delivery);
            }
            if taken.len() == limit {
                break;
            }
        }
        kept.append(queue);
        *queue = kept;
        waiting.took(&taken);
        taken
    }

    /// How many hand-offs wait.
    pub(crate) fn handoff_waiting(&self) -> usize {
        self.handoff_queue().deliveries.len()
    }

    /// The payload bytes of the hand-offs that wait.
    pub(crate) fn handoff_bytes(&self) -> usize {
        self.handoff_queue().bytes
    }

    /// The waiting hand-offs whose lease ends before `before`.
    pub(crate) fn handoff_leases_ending(&self, before: DateTime<Utc>) -> Vec<(EventId, Lease)> {
        self.handoff_queue()
            .deliveries
            .iter()
            .filter(|d| d.lease.expires_at < before)
            .map(|d| (d.event.event_id, d.lease))
            .collect()
    }

    /// After a renewal of `asked`: the `renewed` ones now last until `until`; the others lost
    /// their lease and leave the queue (another worker has them).
    pub(crate) fn handoff_renewed(
        &self,
        asked: &[(EventId, Lease)],
        renewed: &[EventId],
        until: DateTime<Utc>,
    ) {
        let renewal = super::fairness::Renewal::new(asked, renewed, until);
        let mut waiting = self.handoff_queue();
        waiting.deliveries.retain_mut(|d| renewal.keep(d));
        waiting.bytes = waiting.deliveries.iter().map(size).sum();
    }
}
