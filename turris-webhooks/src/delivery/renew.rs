//! Short leases renewed while an attempt runs.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::EventId;
use super::store::{DeliveryStore, Lease, StoreError};

/// The lease a delivery takes by default: short, so a crashed worker's event is taken over
/// soon, and renewed every third of it while the attempt runs (see [`renewing`]).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// Runs `attempt` while renewing `lease` to `now() + lease_for` every third of `lease_for`
/// (the attempt's own timeout still bounds it). `None` when the lease is lost (another
/// worker holds the event now, or it is gone): the attempt is dropped, since its result could
/// not be recorded anyway. A store error while renewing is logged and the attempt goes on;
/// the next renewal may succeed.
pub async fn renewing<T>(
    store: &dyn DeliveryStore,
    event_id: EventId,
    lease: &mut Lease,
    lease_for: Duration,
    now: impl Fn() -> DateTime<Utc>,
    attempt: impl Future<Output = T>,
) -> Option<T> {
    tokio::pin!(attempt);
    let every = (lease_for / 3).max(Duration::from_millis(50));
    loop {
        tokio::select! {
            outcome = &mut attempt => return Some(outcome),
            () = tokio::time::sleep(every) => {
                let until = crate::clock::saturating_add(now(), lease_for);
                match store.renew_lease(event_id, lease, until).await {
                    Ok(renewed) => *lease = renewed,
                    Err(StoreError::LeaseLost | StoreError::NotFound) => return None,
                    Err(e) => tracing::warn!(event_id = %event_id, error = %e, "renewing a delivery lease failed"),
                }
            }
        }
    }
}
