//! Who a token is, remembered for a second: every API request authenticates its bearer token,
//! and at hundreds of requests a second the same few tokens were read from the database once
//! per request (a join of four tables, the largest share of a small request's statements).
//!
//! An entry lives [`TTL`] at most and never past its token's expiry. Everything that can
//! change a principal in this process (revoking a token, the organization's subscription)
//! empties the cache, and a read that raced such a change is not remembered (the generation
//! counter), so on one replica a revocation takes effect at once. Another replica's cache
//! learns of it within [`TTL`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::Principal;
use crate::crypto::TokenHash;

/// How long a principal read from the database answers for its token.
pub(crate) const TTL: Duration = Duration::from_secs(1);

/// The most tokens remembered; past it the cache starts again empty.
const MAX_ENTRIES: usize = 4096;

/// Principals by token digest (see the module docs).
#[derive(Debug)]
pub(crate) struct PrincipalCache {
    ttl: Duration,
    generation: AtomicU64,
    entries: Mutex<HashMap<[u8; 32], (Instant, Principal)>>,
}

impl Default for PrincipalCache {
    fn default() -> Self {
        Self::with_ttl(TTL)
    }
}

impl PrincipalCache {
    /// A cache whose entries answer for `ttl` (zero: nothing is remembered).
    pub(crate) fn with_ttl(ttl: Duration) -> Self {
        Self {
            ttl,
            generation: AtomicU64::new(0),
            entries: Mutex::default(),
        }
    }

    /// The generation to hand back to [`Self::remember`] with what is read after this call.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The principal of `hash` if it was read within the TTL and its token is live at `now`.
    pub(crate) fn get(&self, hash: &TokenHash, now: DateTime<Utc>) -> Option<Principal> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (read_at, principal) = entries.get(hash.as_bytes())?;
        let fresh = read_at.elapsed() < self.ttl;
        let live = principal.token.expires_at.is_none_or(|at| at > now);
        (fresh && live).then(|| principal.clone())
    }

    /// Remembers `principal`, read after [`Self::generation`] answered `generation`, unless
    /// something changed principals since.
    pub(crate) fn remember(&self, hash: &TokenHash, principal: &Principal, generation: u64) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Checked under the lock that `forget_all` takes after bumping the generation.
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(*hash.as_bytes(), (Instant::now(), principal.clone()));
    }

    /// Forgets every principal: called after any write that can change one.
    pub(crate) fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration as Span;
    use turris_core::ids::OrganizationId;
    use turris_core::permissions::{Role, SubscriptionState};

    use super::*;
    use crate::store::tenants::{ApiTokenInfo, Organization, StoredRole, User};
    use crate::store::{ApiTokenId, RoleId, UserId};

    const HOUR: Duration = Duration::from_secs(3600);

    fn principal(expires_at: Option<DateTime<Utc>>) -> Principal {
        let now = Utc::now();
        let (user, role) = (UserId::new(), RoleId::new());
        Principal {
            token: ApiTokenInfo {
                id: ApiTokenId::new(),
                user,
                role,
                label: "CI".into(),
                created_at: now,
                last_used_at: None,
                revoked_at: None,
                expires_at,
            },
            organization: Organization {
                id: OrganizationId::parse("acme").unwrap(),
                name: "Acme".into(),
                subscription: SubscriptionState::Active,
                created_at: now,
            },
            user: User {
                id: user,
                email: "ops@acme.test".into(),
                name: "Ops".into(),
                created_at: now,
            },
            role: StoredRole {
                id: role,
                role: Role::admin(),
                created_at: now,
            },
        }
    }

    #[test]
    fn a_remembered_principal_answers_for_its_token_only() {
        let cache = PrincipalCache::with_ttl(HOUR);
        let (hash, other) = (TokenHash::of("tok_a"), TokenHash::of("tok_b"));
        let p = principal(None);
        assert_eq!(cache.get(&hash, Utc::now()), None);
        cache.remember(&hash, &p, cache.generation());
        assert_eq!(cache.get(&hash, Utc::now()), Some(p));
        assert_eq!(cache.get(&other, Utc::now()), None);
    }

    #[test]
    fn a_change_to_principals_forgets_them_and_a_read_that_raced_it_is_not_remembered() {
        let cache = PrincipalCache::with_ttl(HOUR);
        let hash = TokenHash::of("tok_a");
        cache.remember(&hash, &principal(None), cache.generation());
        // A read starts, a revocation lands while it runs, then the read ends.
        let before = cache.generation();
        cache.forget_all();
        assert_eq!(cache.get(&hash, Utc::now()), None);
        cache.remember(&hash, &principal(None), before);
        assert_eq!(cache.get(&hash, Utc::now()), None);
        // A read that began after the change is remembered.
        cache.remember(&hash, &principal(None), cache.generation());
        assert!(cache.get(&hash, Utc::now()).is_some());
    }

    #[test]
    fn a_token_past_its_expiry_is_not_served_from_memory() {
        let cache = PrincipalCache::with_ttl(HOUR);
        let hash = TokenHash::of("tok_a");
        let expires = Utc::now() + Span::minutes(5);
        cache.remember(&hash, &principal(Some(expires)), cache.generation());
        assert!(cache.get(&hash, expires - Span::seconds(1)).is_some());
        assert_eq!(cache.get(&hash, expires), None);
    }

    #[test]
    fn a_zero_ttl_remembers_nothing() {
        let cache = PrincipalCache::with_ttl(Duration::ZERO);
        let hash = TokenHash::of("tok_a");
        cache.remember(&hash, &principal(None), cache.generation());
        assert_eq!(cache.get(&hash, Utc::now()), None);
    }
}
