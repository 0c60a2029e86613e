//! Short, renewed leases for sync work.
//!
//! Inbound claims and outbound organization leases last [`LEASE`] and are renewed every
//! [`RENEW_EVERY`] while the work runs ([`renewing`]), so the work of a process that died is
//! taken over within about [`LEASE`], and a process that is merely slow keeps what it holds.
//! Every lease carries a fencing token that the store checks on each write that settles the
//! work: a process whose lease lapsed and was taken over writes nothing, and stops.

use std::future::Future;
use std::time::Duration;

/// How long a claim or lease holds without renewal.
pub const LEASE: Duration = Duration::from_secs(15);
/// How often running work renews it (three renewals per lease, so one slow renewal is no loss).
pub const RENEW_EVERY: Duration = Duration::from_secs(5);

/// Runs `work`, calling `renew` every `every` until it completes. `renew` answers whether the
/// lease is still held; when it is not, the work is dropped where it stands (its open
/// transactions roll back) and `None` is returned: another process now owns it.
///
/// The work keeps running while a renewal is in flight: a renewal's `UPDATE` can wait on row
/// locks the work's own open transaction holds (settling the claimed events), and a work that
/// was not polled meanwhile never committed: the process deadlocked with itself, holding its
/// events locked so no other replica could take them over (found by the sync simulation).
pub(crate) async fn renewing<T, R: Future<Output = bool>>(
    work: impl Future<Output = T>,
    every: Duration,
    mut renew: impl FnMut() -> R,
) -> Option<T> {
    tokio::pin!(work);
    let mut heartbeat = tokio::time::interval(every);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    heartbeat.tick().await;
    let mut renewal: Option<std::pin::Pin<Box<R>>> = None;
    loop {
        tokio::select! {
            biased;
            done = &mut work => return Some(done),
            held = async { renewal.as_mut().expect("guarded").await }, if renewal.is_some() => {
                renewal = None;
                if !held {
                    return None;
                }
            }
            _ = heartbeat.tick(), if renewal.is_none() => renewal = Some(Box::pin(renew())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    const TICK: Duration = Duration::from_millis(1);

    #[tokio::test]
    async fn work_that_outlives_its_lease_is_dropped_when_a_renewal_fails() {
        let renewals = AtomicU32::new(0);
        let outcome = renewing(std::future::pending::<()>(), TICK, || {
            let held = renewals.fetch_add(1, Ordering::SeqCst) < 2;
            std::future::ready(held)
        })
        .await;
        assert_eq!(outcome, None);
        assert_eq!(
            renewals.load(Ordering::SeqCst),
            3,
            "renewed twice, lost on the third"
        );
    }

    #[tokio::test]
    async fn work_that_finishes_returns_its_output_after_the_renewals_it_needed() {
        let renewals = AtomicU32::new(0);
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let mut tx = Some(tx);
        let work = async { rx.await.unwrap() };
        let outcome = renewing(work, TICK, || {
            let n = renewals.fetch_add(1, Ordering::SeqCst) + 1;
            if n == 2
                && let Some(tx) = tx.take()
            {
                tx.send(42).unwrap();
            }
            std::future::ready(true)
        })
        .await;
        assert_eq!(outcome, Some(42));
        assert_eq!(renewals.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn the_work_goes_on_while_a_renewal_waits_for_it() {
        // The renewal waits for the work to move on, as an UPDATE renewing a claim waits on
        // the row locks of the work's open transaction; it gives up (lease lost) only if the
        // work stood still for a thousand turns of the scheduler.
        let started = tokio::sync::Notify::new();
        let (moved_on, seen) = tokio::sync::watch::channel(false);
        let work = async {
            started.notified().await;
            moved_on.send_replace(true);
            42
        };
        let renew = || {
            started.notify_one();
            let seen = seen.clone();
            async move {
                for _ in 0..1_000 {
                    if *seen.borrow() {
                        return true;
                    }
                    tokio::task::yield_now().await;
                }
                false
            }
        };
        assert_eq!(renewing(work, TICK, renew).await, Some(42));
        assert!(*seen.borrow());
    }
}
