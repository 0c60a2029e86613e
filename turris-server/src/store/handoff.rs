//! Events this process wrote, leased to its own delivery worker and handed to it in memory
//! after the commit (no round trip to lease them again), waiting until the worker takes them.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};
use turris_webhooks::delivery::{EventId, Lease, LeaseId, LeaseKind, LeasedDelivery};

use super::sql::{SqlStore, plus};

/// Events written already leased to this process's delivery worker, waiting for it.
#[derive(Default)]
pub(crate) struct Handoff {
    /// How long the leases last; `None` while no local worker takes hand-offs.
    lease_for: std::sync::Mutex<Option<Duration>>,
    queue: std::sync::Mutex<VecDeque<LeasedDelivery>>,
}

/// Beyond this many waiting hand-offs, new events are left to polling (any replica).
const HANDOFF_CAP: usize = 1024;

impl SqlStore {
    /// The lease for events written now, when a local worker takes hand-offs and is not
    /// too far behind.
    pub(crate) fn handoff_lease(&self) -> Option<Lease> {
        let lease_for = (*self
            .handoff
            .lease_for
            .lock()
            .unwrap_or_else(|e| e.into_inner()))?;
        let waiting = self
            .handoff
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len();
        (waiting < HANDOFF_CAP).then(|| Lease {
            id: LeaseId::new(),
            kind: LeaseKind::Scheduled,
            expires_at: plus(Utc::now(), lease_for),
        })
    }

    /// Queues committed, leased events for the local worker.
    pub(crate) fn hand_off(&self, handed: Vec<LeasedDelivery>) {
        if !handed.is_empty() {
            self.handoff
                .queue
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(handed);
        }
    }

    /// Starts (`Some`) or stops (`None`) writing new events leased to the local worker.
    pub(crate) fn set_handoff(&self, lease_for: Option<Duration>) {
        *self
            .handoff
            .lease_for
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = lease_for;
    }

    /// Up to `limit` hand-offs, oldest first.
    pub(crate) fn take_handoff(&self, limit: usize) -> Vec<LeasedDelivery> {
        let mut queue = self.handoff.queue.lock().unwrap_or_else(|e| e.into_inner());
        let n = limit.min(queue.len());
        queue.drain(..n).collect()
    }

    /// Up to `limit` hand-offs that `room` lets go now, oldest first; the others keep their
    /// place.
    pub(crate) fn take_handoff_where(
        &self,
        limit: usize,
        room: &mut (dyn FnMut(&LeasedDelivery) -> bool + Send),
    ) -> Vec<LeasedDelivery> {
        let mut queue = self.handoff.queue.lock().unwrap_or_else(|e| e.into_inner());
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
        kept.append(&mut queue);
        *queue = kept;
        taken
    }

    /// How many hand-offs wait.
    pub(crate) fn handoff_waiting(&self) -> usize {
        self.handoff
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// The waiting hand-offs whose lease ends before `before`.
    pub(crate) fn handoff_leases_ending(&self, before: DateTime<Utc>) -> Vec<(EventId, Lease)> {
        let queue = self.handoff.queue.lock().unwrap_or_else(|e| e.into_inner());
        queue
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
        let mut queue = self.handoff.queue.lock().unwrap_or_else(|e| e.into_inner());
        queue.retain_mut(|d| renewal.keep(d));
    }
}
