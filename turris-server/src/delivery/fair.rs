//! Per-endpoint limits and the fair share of a leasing round.
//!
//! - [`shares`]: a round's free slots go round-robin across organizations, and within an
//!   organization across its endpoints, one slot at a time, each endpoint up to what its
//!   limits leave; the starting organization and endpoint rotate from round to round, so
//!   when there are more endpoints than slots none is always last.
//! - [`Limiter`]: this process's deliveries in flight per endpoint and a token bucket per
//!   endpoint (its rate limit, one second of burst). Every attempt, leased or handed off,
//!   first takes a [`Slot`]; one refused waits in [`Deferred`] (its lease still held, renewed
//!   with every other waiting lease near its end in one statement) until a slot of its
//!   endpoint frees, or gives its lease back to the queue when too many wait. Hand-offs are
//!   taken only as far as their endpoints have room ([`Limiter::room`]).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use turris_webhooks::delivery::{EventId, Lease, LeasedDelivery, WebhookId};

use crate::store::{DueEndpoint, EndpointLimits, Renewal};

/// Limits in force for one endpoint: its own, else the server's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deliveries in flight at once (at least 1).
    pub max_in_flight: u32,
    /// Attempts per second; `0` means none.
    pub rate: u32,
}

impl Limits {
    /// How far a leasing round leases ahead of an endpoint's concurrency limit: its live
    /// leases (every process's) may reach this many times `max_in_flight`. What is leased
    /// beyond the free slots waits in [`Deferred`] and goes out as soon as a slot frees,
    /// without waiting for the next round: a round can only come every few milliseconds, and
    /// the live leases count the attempts whose receiver answered until their commit, so
    /// leasing just the free slots capped an endpoint's backlog in the database at
    /// `max_in_flight` per round (640 a second at 16).
    pub const LEASE_AHEAD: u32 = 4;

    /// The live leases a leasing round lets this endpoint have (see [`Self::LEASE_AHEAD`]).
    pub fn lease_window(&self) -> u32 {
        self.max_in_flight.saturating_mul(Self::LEASE_AHEAD)
    }

    /// `own`'s limits, the defaults where it has none.
    pub fn of(own: EndpointLimits, defaults: Limits) -> Self {
        Self {
            max_in_flight: own.max_in_flight.unwrap_or(defaults.max_in_flight).max(1),
            rate: own.rate_limit.unwrap_or(defaults.rate),
        }
    }
}

/// How many of each endpoint's due events to lease: at most `slots` in all, one at a time
/// round-robin across organizations (then endpoints), each up to `room(endpoint)`. `due` is
/// ordered by organization; `round` rotates where the round starts.
pub fn shares(
    due: &[DueEndpoint],
    slots: usize,
    round: usize,
    mut room: impl FnMut(&DueEndpoint) -> usize,
) -> Vec<(WebhookId, usize)> {
    // Organizations in order, each with its endpoints' (index, room left).
    let mut orgs: Vec<Vec<(usize, usize)>> = Vec::new();
    for (i, endpoint) in due.iter().enumerate() {
        let same = i > 0 && due[i - 1].organization == endpoint.organization;
        if !same {
            orgs.push(Vec::new());
        }
        if let Some(org) = orgs.last_mut() {
            org.push((i, room(endpoint)));
        }
    }
    let mut taken = vec![0usize; due.len()];
    let mut cursors: Vec<usize> = orgs.iter().map(|o| round % o.len().max(1)).collect();
    let mut left = slots;
    let start = round % orgs.len().max(1);
    while left > 0 {
        let mut progressed = false;
        for k in 0..orgs.len() {
            if left == 0 {
                break;
            }
            let o = (start + k) % orgs.len();
            let endpoints = &mut orgs[o];
            // The next endpoint of this organization with room, from its cursor.
            for step in 0..endpoints.len() {
                let e = (cursors[o] + step) % endpoints.len();
                if endpoints[e].1 > 0 {
                    endpoints[e].1 -= 1;
                    taken[endpoints[e].0] += 1;
                    cursors[o] = (e + 1) % endpoints.len();
                    left -= 1;
                    progressed = true;
                    break;
                }
            }
        }
        if !progressed {
            break;
        }
    }
    due.iter()
        .zip(taken)
        .filter(|(_, n)| *n > 0)
        .map(|(e, n)| (e.webhook_id, n))
        .collect()
}

#[derive(Debug)]
struct EndpointState {
    in_flight: u32,
    tokens: f64,
    refilled: Instant,
}

/// This process's deliveries in flight and rate budget per endpoint.
#[derive(Debug, Default)]
pub struct Limiter {
    endpoints: Mutex<HashMap<WebhookId, EndpointState>>,
    /// Notified when a slot frees: deferred deliveries may go.
    pub freed: Notify,
}

/// One admitted attempt; dropping it frees the endpoint's slot.
#[derive(Debug)]
pub struct Slot {
    limiter: Arc<Limiter>,
    webhook: WebhookId,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(state) = self.limiter.lock().get_mut(&self.webhook) {
            state.in_flight = state.in_flight.saturating_sub(1);
        }
        self.limiter.freed.notify_one();
    }
}

/// Deliveries of this process waiting for a slot of their endpoint, leases held: at most
/// [`Self::CAP`] of them and `max_bytes` of their payloads.
#[derive(Debug)]
pub struct Deferred {
    endpoints: HashMap<WebhookId, (Limits, VecDeque<LeasedDelivery>)>,
    len: usize,
    bytes: usize,
    max_bytes: usize,
}

/// A delivery's payload bytes.
fn size(delivery: &LeasedDelivery) -> usize {
    delivery.event.body.len()
}

impl Deferred {
    /// The most deliveries that wait here; beyond, they go back to the queue.
    pub const CAP: usize = 4096;

    /// None waiting yet; at most `max_bytes` of payloads will.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            endpoints: HashMap::new(),
            len: 0,
            bytes: 0,
            max_bytes,
        }
    }

    /// Keeps `delivery` until its endpoint has room; gives it back when full (by count or
    /// by bytes).
    pub fn push(&mut self, limits: Limits, delivery: LeasedDelivery) -> Option<LeasedDelivery> {
        if self.len >= Self::CAP || self.bytes.saturating_add(size(&delivery)) > self.max_bytes {
            return Some(delivery);
        }
        self.bytes += size(&delivery);
        let entry = self
            .endpoints
            .entry(delivery.event.webhook_id)
            .or_insert_with(|| (limits, VecDeque::new()));
        entry.0 = limits;
        entry.1.push_back(delivery);
        self.len += 1;
        None
    }

    /// Up to `most` waiting deliveries that the limiter admits now, each with its slot.
    pub fn admit(&mut self, limiter: &Arc<Limiter>, most: usize) -> Vec<(LeasedDelivery, Slot)> {
        let mut admitted = Vec::new();
        for (webhook, (limits, waiting)) in &mut self.endpoints {
            while admitted.len() < most && !waiting.is_empty() {
                let Some(slot) = limiter.admit(*webhook, *limits) else {
                    break;
                };
                if let Some(delivery) = waiting.pop_front() {
                    admitted.push((delivery, slot));
                }
            }
        }
        self.len -= admitted.len();
        self.bytes -= admitted.iter().map(|(d, _)| size(d)).sum::<usize>();
        self.endpoints.retain(|_, (_, waiting)| !waiting.is_empty());
        admitted
    }

    /// The leases of waiting deliveries that end before `before` (to renew in one batch).
    pub fn leases_ending(&self, before: DateTime<Utc>) -> Vec<(EventId, Lease)> {
        self.endpoints
            .values()
            .flat_map(|(_, waiting)| waiting)
            .filter(|d| d.lease.expires_at < before)
            .map(|d| (d.event.event_id, d.lease))
            .collect()
    }

    /// After a renewal of `asked`: the `renewed` ones now last until `until`; the others lost
    /// their lease (another worker has them) and stop waiting. How many were dropped.
    pub fn renewed(
        &mut self,
        asked: &[(EventId, Lease)],
        renewed: &[EventId],
        until: DateTime<Utc>,
    ) -> usize {
        let renewal = Renewal::new(asked, renewed, until);
        let before = self.len;
        for (_, waiting) in self.endpoints.values_mut() {
            waiting.retain_mut(|d| renewal.keep(d));
        }
        self.endpoints.retain(|_, (_, waiting)| !waiting.is_empty());
        self.len = self.endpoints.values().map(|(_, w)| w.len()).sum();
        self.bytes = self.endpoints.values().flat_map(|(_, w)| w).map(size).sum();
        before - self.len
    }

    /// Everything waiting (shutdown).
    pub fn drain(&mut self) -> Vec<LeasedDelivery> {
        self.len = 0;
        self.bytes = 0;
        self.endpoints
            .drain()
            .flat_map(|(_, (_, waiting))| waiting)
            .collect()
    }

    /// How many wait.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The payload bytes that wait.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Limiter {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<WebhookId, EndpointState>> {
        self.endpoints.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn refill(state: &mut EndpointState, limits: Limits, now: Instant) {
        if limits.rate > 0 {
            let elapsed = now.duration_since(state.refilled).as_secs_f64();
            let rate = f64::from(limits.rate);
            state.tokens = (state.tokens + elapsed * rate).min(rate);
        }
        state.refilled = now;
    }

    fn state(
        map: &mut HashMap<WebhookId, EndpointState>,
        webhook: WebhookId,
        limits: Limits,
    ) -> &mut EndpointState {
        let now = Instant::now();
        let state = map.entry(webhook).or_insert_with(|| EndpointState {
            in_flight: 0,
            tokens: f64::from(limits.rate),
            refilled: now,
        });
        Self::refill(state, limits, now);
        state
    }

    /// How many attempts the rate limit allows now (`usize::MAX` without one).
    pub fn rate_room(&self, webhook: WebhookId, limits: Limits) -> usize {
        if limits.rate == 0 {
            return usize::MAX;
        }
        let mut map = self.lock();
        Self::state(&mut map, webhook, limits).tokens.floor() as usize
    }

    /// How many more attempts of `webhook` it would admit now: its free slots in this process,
    /// within its rate budget.
    pub fn room(&self, webhook: WebhookId, limits: Limits) -> usize {
        let mut map = self.lock();
        let state = Self::state(&mut map, webhook, limits);
        let free = limits.max_in_flight.saturating_sub(state.in_flight) as usize;
        if limits.rate > 0 {
            free.min(state.tokens.floor() as usize)
        } else {
            free
        }
    }

    /// A slot for one attempt, or `None` when the endpoint has `max_in_flight` attempts in
    /// this process or no rate budget left.
    pub fn admit(self: &Arc<Self>, webhook: WebhookId, limits: Limits) -> Option<Slot> {
        let mut map = self.lock();
        let state = Self::state(&mut map, webhook, limits);
        if state.in_flight >= limits.max_in_flight || (limits.rate > 0 && state.tokens < 1.0) {
            return None;
        }
        state.in_flight += 1;
        if limits.rate > 0 {
            state.tokens -= 1.0;
        }
        drop(map);
        Some(Slot {
            limiter: self.clone(),
            webhook,
        })
    }

    /// Forgets idle endpoints (none in flight and a full budget), bounding the map.
    pub fn prune(&self) {
        let mut map = self.lock();
        if map.len() > 10_000 {
            map.retain(|_, s| s.in_flight > 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use turris_core::ids::OrganizationId;
    use turris_webhooks::delivery::LeaseId;
    use uuid::Uuid;

    use super::*;

    fn endpoint(org: &str, n: u128) -> DueEndpoint {
        DueEndpoint {
            webhook_id: WebhookId(Uuid::from_u128(n)),
            organization: OrganizationId::parse(org).unwrap(),
            limits: EndpointLimits::default(),
            in_flight: 0,
        }
    }

    fn check(due: &[DueEndpoint], slots: usize, round: usize, room: &[usize], expected: &[usize]) {
        let got = shares(due, slots, round, |e| {
            room[due.iter().position(|d| d == e).unwrap()]
        });
        let got: Vec<usize> = due
            .iter()
            .map(|e| {
                got.iter()
                    .find(|(id, _)| *id == e.webhook_id)
                    .map_or(0, |(_, n)| *n)
            })
            .collect();
        assert_eq!(got, expected, "slots {slots}, round {round}, room {room:?}");
    }

    #[test]
    fn slots_go_round_robin_across_organizations_then_endpoints() {
        // Organization a has three endpoints, b one: b gets as much as all of a's.
        let due = [
            endpoint("org_a", 1),
            endpoint("org_a", 2),
            endpoint("org_a", 3),
            endpoint("org_b", 4),
        ];
        check(&due, 4, 0, &[100; 4], &[1, 1, 0, 2]);
        check(&due, 8, 0, &[100; 4], &[2, 1, 1, 4]);
        // The next round starts elsewhere: a's third endpoint is not always last.
        check(&due, 4, 1, &[100; 4], &[0, 1, 1, 2]);
        check(&due, 4, 2, &[100; 4], &[1, 0, 1, 2]);
    }

    #[test]
    fn an_endpoint_at_its_limit_leaves_its_slots_to_the_others() {
        let due = [
            endpoint("org_a", 1),
            endpoint("org_a", 2),
            endpoint("org_b", 3),
        ];
        // The first endpoint (a slow one with a backlog) has no room: the others share all.
        check(&due, 6, 0, &[0, 100, 100], &[0, 3, 3]);
        check(&due, 6, 0, &[1, 100, 1], &[1, 4, 1]);
        // Less room than slots in all: each gets its room, nothing more.
        check(&due, 64, 0, &[2, 3, 1], &[2, 3, 1]);
        check(&due, 0, 0, &[2, 3, 1], &[0, 0, 0]);
        check(&[], 10, 3, &[], &[]);
    }

    #[test]
    fn the_limiter_admits_up_to_the_concurrency_and_the_rate() {
        let limiter = Arc::new(Limiter::default());
        let webhook = WebhookId(Uuid::from_u128(7));
        let two = Limits {
            max_in_flight: 2,
            rate: 0,
        };
        let first = limiter.admit(webhook, two).expect("a first slot");
        let _second = limiter.admit(webhook, two).expect("a second slot");
        assert!(
            limiter.admit(webhook, two).is_none(),
            "two in flight at most"
        );
        drop(first);
        assert!(
            limiter.admit(webhook, two).is_some(),
            "a freed slot is reused"
        );

        let other = WebhookId(Uuid::from_u128(8));
        let three_a_second = Limits {
            max_in_flight: 100,
            rate: 3,
        };
        assert_eq!(limiter.rate_room(other, three_a_second), 3);
        let slots: Vec<_> = (0..3)
            .map(|_| {
                limiter
                    .admit(other, three_a_second)
                    .expect("within the rate")
            })
            .collect();
        assert_eq!(slots.len(), 3);
        assert!(
            limiter.admit(other, three_a_second).is_none(),
            "a fourth attempt in the same second waits"
        );
    }

    fn leased(webhook: WebhookId, lease: LeaseId, expires_at: DateTime<Utc>) -> LeasedDelivery {
        use turris_webhooks::WebhookType;
        use turris_webhooks::delivery::{EventRecord, EventStatus, LeaseKind};
        LeasedDelivery {
            event: EventRecord {
                event_id: EventId::new(),
                webhook_id: webhook,
                webhook_type: WebhookType::ProducerAgreementExecuted,
                body: Default::default(),
                created_at: expires_at,
                status: EventStatus::Pending,
                attempt_count: 0,
                automatic_attempts: 0,
                next_attempt_at: Some(expires_at),
            },
            lease: Lease {
                id: lease,
                kind: LeaseKind::Scheduled,
                expires_at,
            },
        }
    }

    #[test]
    fn waiting_leases_near_their_end_are_renewed_together_and_lost_ones_stop_waiting() {
        let at = |secs: i64| DateTime::<Utc>::from_timestamp(1_800_000_000 + secs, 0).unwrap();
        let one = Limits {
            max_in_flight: 1,
            rate: 0,
        };
        let (a, b) = (WebhookId(Uuid::from_u128(1)), WebhookId(Uuid::from_u128(2)));
        let lease = LeaseId::new();
        let mut deferred = Deferred::new(usize::MAX);
        let soon = [
            leased(a, lease, at(5)),
            leased(a, lease, at(6)),
            leased(b, lease, at(7)),
        ];
        let later = leased(b, lease, at(60));
        for d in soon.iter().chain([&later]) {
            assert!(deferred.push(one, d.clone()).is_none());
        }
        let ending = deferred.leases_ending(at(10));
        assert_eq!(
            ending.len(),
            3,
            "the three ending before 10 s, in one batch"
        );
        assert!(ending.iter().all(|(e, _)| *e != later.event.event_id));

        // Two were renewed; the third was taken over meanwhile.
        let renewed = [soon[0].event.event_id, soon[2].event.event_id];
        assert_eq!(deferred.renewed(&ending, &renewed, at(100)), 1, "one lost");
        assert_eq!(deferred.len(), 3);
        assert!(
            deferred.leases_ending(at(99)).len() == 1,
            "only the untouched one"
        );
        let left = deferred.drain();
        let expiry = |id: EventId| {
            left.iter()
                .find(|d| d.event.event_id == id)
                .map(|d| d.lease.expires_at)
        };
        assert_eq!(expiry(soon[0].event.event_id), Some(at(100)));
        assert_eq!(expiry(soon[1].event.event_id), None, "it stopped waiting");
        assert_eq!(expiry(soon[2].event.event_id), Some(at(100)));
        assert_eq!(expiry(later.event.event_id), Some(at(60)));
    }

    #[test]
    fn an_endpoints_room_is_its_free_slots_within_its_rate() {
        let limiter = Arc::new(Limiter::default());
        let webhook = WebhookId(Uuid::from_u128(9));
        let three = Limits {
            max_in_flight: 3,
            rate: 0,
        };
        assert_eq!(limiter.room(webhook, three), 3);
        let _slot = limiter.admit(webhook, three).unwrap();
        assert_eq!(limiter.room(webhook, three), 2);
        let slow = Limits {
            max_in_flight: 3,
            rate: 1,
        };
        let other = WebhookId(Uuid::from_u128(10));
        assert_eq!(limiter.room(other, slow), 1, "one attempt a second");
    }

    #[test]
    fn deferred_deliveries_hold_at_most_their_byte_budget_and_the_rest_go_back() {
        let at = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        let one = Limits {
            max_in_flight: 1,
            rate: 0,
        };
        let limiter = Arc::new(Limiter::default());
        let webhook = WebhookId(Uuid::from_u128(3));
        let of_size = |bytes: usize| {
            let mut delivery = leased(webhook, LeaseId::new(), at);
            delivery.event.body = vec![b'x'; bytes].into();
            delivery
        };
        let mut deferred = Deferred::new(250);
        assert!(deferred.push(one, of_size(100)).is_none());
        assert!(deferred.push(one, of_size(100)).is_none());
        let over = of_size(100);
        let back = deferred.push(one, over.clone());
        assert_eq!(back, Some(over), "a third would make 300 bytes: given back");
        assert!(deferred.push(one, of_size(50)).is_none(), "50 more fit");
        assert_eq!((deferred.len(), deferred.bytes()), (3, 250));

        // One goes (its endpoint has room for one): its bytes are free again.
        let admitted = deferred.admit(&limiter, 10);
        assert_eq!(admitted.len(), 1);
        assert_eq!(deferred.bytes(), 150);
        assert!(deferred.push(one, of_size(100)).is_none());
        assert!(deferred.push(one, of_size(1)).is_some(), "full again");
        assert_eq!(deferred.drain().len(), 3);
        assert_eq!(deferred.bytes(), 0);
    }
}
