//! What waits in the worker's memory for its endpoint's room: hand-offs taken only as far as
//! their endpoint has a free slot, deferred deliveries, and their leases, renewed and given
//! back a batch per statement. Both are bounded by payload bytes (half of
//! `TURRIS_DELIVERY_WAITING_BYTES` each), published as `turris_webhook_waiting_bytes`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::Utc;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use turris_webhooks::delivery::{EventId, Lease, LeasedDelivery, WebhookId};

use super::{Worker, after};
use crate::delivery::fair::{Deferred, Limits};

impl Worker {
    /// Up to `most` hand-offs, each only when its endpoint has a free slot for it now (by the
    /// limits last read for it, else the defaults): the others stay in the hand-off queue,
    /// leased, where [`Self::renew_waiting`] keeps their leases, rather than in `deferred`.
    pub(super) fn take_handoff(&self, most: usize) -> Vec<LeasedDelivery> {
        if most == 0 {
            return Vec::new();
        }
        let mut room: HashMap<WebhookId, usize> = HashMap::new();
        self.store.take_handoff_where(most, &mut |delivery| {
            let webhook = delivery.event.webhook_id;
            let left = room
                .entry(webhook)
                .or_insert_with(|| self.limiter.room(webhook, self.cached_limits(webhook)));
            if *left == 0 {
                return false;
            }
            *left -= 1;
            true
        })
    }

    /// Renews, in one statement each, the leases of the hand-offs and of the deferred
    /// deliveries that wait in memory and have used a quarter of their lease; those lost (another
    /// worker took them over) stop waiting.
    pub(super) async fn renew_waiting(&self) {
        // Sweeps come every quarter of a lease: what is renewed now keeps at least half a
        // lease until the next one, so an attempt starting meanwhile need not renew first.
        let now = Utc::now();
        let before = after(now, self.settings.lease * 3 / 4);
        let until = after(now, self.settings.lease);
        if let Err(e) = self.store.renew_handoff(before, until).await {
            tracing::warn!(error = %e, "renewing hand-off leases failed");
        }
        let ending = self.lock_deferred().leases_ending(before);
        if ending.is_empty() {
            return;
        }
        match self.store.renew_leases(&ending, until).await {
            Ok(renewed) => {
                let lost = self.lock_deferred().renewed(&ending, &renewed, until);
                if lost > 0 {
                    tracing::info!(
                        lost,
                        "deferred deliveries lost their leases: another worker took them over"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "renewing deferred leases failed"),
        }
    }

    /// Starts deferred deliveries whose endpoint has room now, up to `most`.
    pub(super) fn spawn_deferred(
        self: &Arc<Self>,
        permits: &Arc<Semaphore>,
        in_flight: &mut JoinSet<()>,
        most: usize,
    ) {
        let most = permits.available_permits().min(most);
        if most == 0 || self.lock_deferred().is_empty() {
            return;
        }
        let admitted = self.lock_deferred().admit(&self.limiter, most);
        for (delivery, slot) in admitted {
            // `most` is within the permits: none comes back.
            if let Some(delivery) = self.spawn_one(permits, in_flight, delivery, slot) {
                let limits = self.cached_limits(delivery.event.webhook_id);
                if let Some(over) = self.defer(limits, delivery) {
                    tracing::warn!(event_id = %over.event.event_id, "a deferred delivery found no room: its lease lapses");
                }
            }
        }
    }

    /// Keeps a delivery until its endpoint has room; answers it when too many wait, or too
    /// many bytes (to give back).
    pub(super) fn defer(&self, limits: Limits, delivery: LeasedDelivery) -> Option<LeasedDelivery> {
        self.metrics.deferred.fetch_add(1, Ordering::Relaxed);
        self.lock_deferred().push(limits, delivery)
    }

    /// Gives leases up in one statement: the events are due again at once, for any worker.
    pub(super) async fn give_back(&self, deliveries: &[LeasedDelivery]) {
        if deliveries.is_empty() {
            return;
        }
        let leases: Vec<(EventId, Lease)> = deliveries
            .iter()
            .map(|d| (d.event.event_id, d.lease))
            .collect();
        if let Err(e) = self.store.release_leases(&leases).await {
            tracing::warn!(events = leases.len(), error = %e, "giving leases back failed");
        }
    }

    /// Publishes the payload bytes waiting in memory (hand-offs and deferred) to the metrics.
    pub(super) fn note_waiting(&self) {
        let bytes = self.store.handoff_bytes() + self.lock_deferred().bytes();
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        let metrics = &self.metrics;
        metrics.waiting_bytes.store(bytes, Ordering::Relaxed);
        metrics
            .waiting_bytes_max
            .fetch_max(bytes, Ordering::Relaxed);
    }

    pub(super) fn lock_deferred(&self) -> std::sync::MutexGuard<'_, Deferred> {
        self.deferred.lock().unwrap_or_else(|e| e.into_inner())
    }
}
