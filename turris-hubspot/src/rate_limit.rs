//! Client-side throttling: per-portal sliding windows for the general budget and for search.
//!
//! HubSpot counts requests per portal (and per app), so one [`RateLimiter`] should be shared by
//! every client of the process (it is a cheap clone) and keyed by portal id.
//!
//! It also remembers portals whose daily cap is spent ([`RateLimiter::block_until`]): after a
//! 429 `DAILY`, every client of that portal refuses its calls locally with
//! [`Error::DailyLimitBlocked`](crate::Error::DailyLimitBlocked) until the reset, instead of
//! calling HubSpot again and again. HubSpot resets the daily cap at midnight in the portal's
//! time zone. The client blocks until a `Retry-After` HubSpot sent with the 429 if any, else
//! the next midnight at the portal's UTC offset when told it ([`RateLimiter::set_utc_offset`]),
//! else the next midnight UTC (which may be a few hours early or late: a call made too early is
//! refused by HubSpot and blocks again until the following reset).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveTime, Utc};
use tokio::time::Instant;

/// One budget: `requests` per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Requests allowed in the window.
    pub requests: u32,
    /// The window.
    pub per: Duration,
}

impl Budget {
    /// `requests` per `per`.
    pub const fn new(requests: u32, per: Duration) -> Self {
        Budget { requests, per }
    }
}

/// Private-app rate-limit tiers (per 10 seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PrivateAppTier {
    /// Free and Starter: 100 per 10 s.
    FreeOrStarter,
    /// Professional and Enterprise: 190 per 10 s.
    ProfessionalOrEnterprise,
    /// With the API limit increase add-on: 250 per 10 s.
    ApiAddOn,
}

/// The budgets the limiter enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimitConfig {
    /// Every call except search.
    pub general: Budget,
    /// `POST /crm/v3/objects/{type}/search`.
    pub search: Budget,
}

impl RateLimitConfig {
    /// The given budgets.
    pub const fn new(general: Budget, search: Budget) -> Self {
        RateLimitConfig { general, search }
    }

    /// Public (OAuth) apps: 110 per 10 s per portal; search 5 per second.
    pub const fn public_app() -> Self {
        RateLimitConfig {
            general: Budget::new(110, Duration::from_secs(10)),
            search: Budget::new(5, Duration::from_secs(1)),
        }
    }

    /// Private apps of the given tier; search 5 per second.
    pub const fn private_app(tier: PrivateAppTier) -> Self {
        let requests = match tier {
            PrivateAppTier::FreeOrStarter => 100,
            PrivateAppTier::ProfessionalOrEnterprise => 190,
            PrivateAppTier::ApiAddOn => 250,
        };
        RateLimitConfig {
            general: Budget::new(requests, Duration::from_secs(10)),
            search: Budget::new(5, Duration::from_secs(1)),
        }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig::public_app()
    }
}

/// Which budget a call spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BudgetKind {
    /// The general budget.
    General,
    /// The search budget.
    Search,
    /// No budget: HubSpot exempts the call from rate limits (the webhooks journal).
    Unmetered,
}

/// Per-portal sliding-window limits; waits (never fails) when a budget is spent.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: RateLimitConfig,
    buckets: Mutex<HashMap<(String, BudgetKind), SharedBucket>>,
    /// Portals whose daily cap is spent, and when it resets.
    blocked: Mutex<HashMap<String, DateTime<Utc>>>,
    /// Portals' UTC offsets, for their midnight.
    offsets: Mutex<HashMap<String, FixedOffset>>,
}

type SharedBucket = Arc<tokio::sync::Mutex<Bucket>>;

/// A sliding log of the requests sent in the last window. HubSpot counts a rolling window, so
/// a token bucket (which starts full and refills while it is spent) would let a burst send
/// nearly twice the budget within one window; the log never does.
#[derive(Debug)]
struct Bucket {
    capacity: usize,
    window: Duration,
    sent: VecDeque<Instant>,
    paused_until: Option<Instant>,
}

impl Bucket {
    fn new(budget: Budget) -> Self {
        let capacity = budget.requests.max(1) as usize;
        Bucket {
            capacity,
            // A little longer than HubSpot's window, for requests that arrive later than they
            // were sent.
            window: budget.per + budget.per / WINDOW_MARGIN_DIVISOR,
            sent: VecDeque::with_capacity(capacity),
            paused_until: None,
        }
    }

    /// When the next request may go: now while the window has room, else when the oldest
    /// request of the window leaves it.
    fn next_slot(&mut self, now: Instant) -> Instant {
        while self.sent.front().is_some_and(|&at| at + self.window <= now) {
            self.sent.pop_front();
        }
        if self.sent.len() < self.capacity {
            now
        } else {
            self.sent[0] + self.window
        }
    }
}

/// The longest [`RateLimiter::pause`]: a day (HubSpot's longest limit is daily), so a huge wait
/// cannot overflow the clock.
pub const MAX_PAUSE: Duration = Duration::from_secs(24 * 60 * 60);

/// The window is stretched by `per / WINDOW_MARGIN_DIVISOR` (2 %).
const WINDOW_MARGIN_DIVISOR: u32 = 50;

impl RateLimiter {
    /// A limiter with these budgets.
    pub fn new(config: RateLimitConfig) -> Self {
        RateLimiter {
            inner: Arc::new(Inner {
                config,
                buckets: Mutex::new(HashMap::new()),
                blocked: Mutex::new(HashMap::new()),
                offsets: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The budgets.
    pub fn config(&self) -> RateLimitConfig {
        self.inner.config
    }

    fn bucket(&self, portal: &str, kind: BudgetKind) -> SharedBucket {
        let mut buckets = self.inner.buckets.lock().unwrap_or_else(|e| e.into_inner());
        buckets
            .entry((portal.to_owned(), kind))
            .or_insert_with(|| {
                let budget = match kind {
                    BudgetKind::General | BudgetKind::Unmetered => self.inner.config.general,
                    BudgetKind::Search => self.inner.config.search,
                };
                Arc::new(tokio::sync::Mutex::new(Bucket::new(budget)))
            })
            .clone()
    }

    /// Waits until `portal` may spend one request of `kind`, then spends it.
    pub async fn acquire(&self, portal: &str, kind: BudgetKind) {
        if kind == BudgetKind::Unmetered {
            return;
        }
        let bucket = self.bucket(portal, kind);
        // Holding the (fair, FIFO) async lock while waiting queues callers in arrival order.
        let mut bucket = bucket.lock().await;
        if let Some(until) = bucket.paused_until.take() {
            tokio::time::sleep_until(until).await;
        }
        loop {
            let now = Instant::now();
            let slot = bucket.next_slot(now);
            if slot <= now {
                bucket.sent.push_back(now);
                return;
            }
            tokio::time::sleep_until(slot).await;
        }
    }

    /// HubSpot answered 429: every caller of `portal`'s `kind` budget waits `wait` (at most
    /// [`MAX_PAUSE`]) before its next request.
    pub async fn pause(&self, portal: &str, kind: BudgetKind, wait: Duration) {
        if kind == BudgetKind::Unmetered {
            return;
        }
        let bucket = self.bucket(portal, kind);
        let mut bucket = bucket.lock().await;
        let until = Instant::now() + wait.min(MAX_PAUSE);
        bucket.paused_until = Some(bucket.paused_until.map_or(until, |u| u.max(until)));
    }
}

impl RateLimiter {
    /// Refuses `portal`'s calls until `until` (HubSpot answered 429 `DAILY`). A later block
    /// already recorded is kept.
    pub fn block_until(&self, portal: &str, until: DateTime<Utc>) {
        let mut blocked = self.inner.blocked.lock().unwrap_or_else(|e| e.into_inner());
        let entry = blocked.entry(portal.to_owned()).or_insert(until);
        *entry = (*entry).max(until);
    }

    /// Until when `portal`'s calls are refused, if that is after `now`.
    pub fn blocked_until(&self, portal: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut blocked = self.inner.blocked.lock().unwrap_or_else(|e| e.into_inner());
        match blocked.get(portal) {
            Some(until) if *until > now => Some(*until),
            Some(_) => {
                blocked.remove(portal);
                None
            }
            None => None,
        }
    }

    /// Lifts a block early (the operator knows the cap was raised).
    pub fn unblock(&self, portal: &str) {
        let mut blocked = self.inner.blocked.lock().unwrap_or_else(|e| e.into_inner());
        blocked.remove(portal);
    }

    /// The portal's offset from UTC (from its account details' `utcOffset`), so its daily
    /// reset is its own midnight.
    pub fn set_utc_offset(&self, portal: &str, offset: FixedOffset) {
        let mut offsets = self.inner.offsets.lock().unwrap_or_else(|e| e.into_inner());
        offsets.insert(portal.to_owned(), offset);
    }

    /// When `portal`'s daily cap resets after `now`: the next midnight at its UTC offset when
    /// known, else the next midnight UTC.
    pub fn next_daily_reset(&self, portal: &str, now: DateTime<Utc>) -> DateTime<Utc> {
        let offset = self
            .inner
            .offsets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(portal)
            .copied()
            .unwrap_or(FixedOffset::east_opt(0).expect("zero offset"));
        next_midnight(now, offset)
    }
}

/// The first midnight after `now` at `offset`, in UTC.
fn next_midnight(now: DateTime<Utc>, offset: FixedOffset) -> DateTime<Utc> {
    let local = now.with_timezone(&offset);
    let tomorrow = local.date_naive() + chrono::Days::new(1);
    let midnight = tomorrow.and_time(NaiveTime::MIN);
    midnight
        .and_local_timezone(offset)
        .single()
        .map_or(now + chrono::Duration::days(1), |m| m.with_timezone(&Utc))
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter::new(RateLimitConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    fn limiter(general: u32, search: u32) -> RateLimiter {
        RateLimiter::new(RateLimitConfig {
            general: Budget::new(general, Duration::from_secs(10)),
            search: Budget::new(search, Duration::from_secs(1)),
        })
    }

    /// Whether `portal` may send a request of `kind` right now (spending it if so).
    fn goes_now(limiter: &RateLimiter, portal: &str, kind: BudgetKind) -> bool {
        limiter.acquire(portal, kind).now_or_never().is_some()
    }

    #[tokio::test]
    async fn a_spent_budget_makes_the_next_caller_wait_instead_of_failing() {
        let limiter = limiter(2, 5);
        assert!(goes_now(&limiter, "1", BudgetKind::General));
        assert!(goes_now(&limiter, "1", BudgetKind::General));
        // The third request is pending (waiting for the window to move), not an error.
        assert!(!goes_now(&limiter, "1", BudgetKind::General));
    }

    #[tokio::test]
    async fn a_pause_holds_back_the_next_caller_of_that_portal_only() {
        let limiter = limiter(100, 5);
        limiter
            .pause("1", BudgetKind::General, Duration::from_secs(10))
            .await;
        assert!(!goes_now(&limiter, "1", BudgetKind::General));
        assert!(goes_now(&limiter, "2", BudgetKind::General));
        assert!(goes_now(&limiter, "1", BudgetKind::Search));
    }

    #[tokio::test]
    async fn a_pause_of_any_length_holds_back_the_next_caller_without_overflowing() {
        let limiter = limiter(100, 5);
        limiter.pause("1", BudgetKind::General, Duration::MAX).await;
        assert!(!goes_now(&limiter, "1", BudgetKind::General));
    }

    #[tokio::test]
    async fn portals_and_budgets_do_not_share_buckets() {
        let limiter = limiter(1, 1);
        assert!(goes_now(&limiter, "1", BudgetKind::General));
        assert!(goes_now(&limiter, "2", BudgetKind::General));
        assert!(goes_now(&limiter, "1", BudgetKind::Search));
        assert!(!goes_now(&limiter, "1", BudgetKind::General));
    }

    #[test]
    fn a_blocked_portal_stays_blocked_until_the_reset_and_other_portals_are_not() {
        let limiter = limiter(10, 5);
        let now = Utc::now();
        let until = now + chrono::Duration::hours(3);
        limiter.block_until("1", until);
        limiter.block_until("1", now + chrono::Duration::hours(1));
        assert_eq!(limiter.blocked_until("1", now), Some(until));
        assert_eq!(limiter.blocked_until("2", now), None);
        assert_eq!(limiter.blocked_until("1", until), None);
    }

    #[test]
    fn the_daily_reset_is_the_next_midnight_at_the_portals_offset_else_utc() {
        let check = |now: &str, offset_hours: Option<i32>, expected: &str| {
            let limiter = limiter(10, 5);
            if let Some(hours) = offset_hours {
                limiter.set_utc_offset("1", FixedOffset::east_opt(hours * 3600).unwrap());
            }
            let now = DateTime::parse_from_rfc3339(now)
                .unwrap()
                .with_timezone(&Utc);
            let reset = limiter.next_daily_reset("1", now);
            assert_eq!(reset.to_rfc3339(), expected, "{now} at {offset_hours:?}");
        };
        check("2026-11-27T15:30:00Z", None, "2026-11-28T00:00:00+00:00");
        check("2026-11-27T00:00:00Z", None, "2026-11-28T00:00:00+00:00");
        // 15:30 UTC is 10:30 in New York (UTC-5): its midnight is 05:00 UTC.
        check(
            "2026-11-27T15:30:00Z",
            Some(-5),
            "2026-11-28T05:00:00+00:00",
        );
        // 23:30 UTC is already the 28th in Berlin (UTC+1): its next midnight is the 29th.
        check("2026-11-27T23:30:00Z", Some(1), "2026-11-28T23:00:00+00:00");
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_burst_never_sends_more_than_the_budget_within_one_window() {
        let limiter = limiter(10, 5);
        let mut sent = Vec::new();
        for _ in 0..35 {
            limiter.acquire("1", BudgetKind::General).await;
            sent.push(Instant::now());
        }
        // Any 11 consecutive requests span more than the 10-second window.
        for (first, eleventh) in sent.iter().zip(sent.iter().skip(10)) {
            assert!(*eleventh - *first > Duration::from_secs(10));
        }
        // And the limiter does not hold back more than it must: the first ten go at once.
        assert_eq!(sent[9], sent[0]);
    }
}
