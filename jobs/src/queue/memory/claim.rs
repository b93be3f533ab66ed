//! The claims of [`JobQueue::claim_once`](crate::JobQueue::claim_once) in the
//! in-memory queue: a map from key to expiry, pruned as it grows.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

/// The smallest map size at which expired claims are pruned.
const MIN_PRUNE_LEN: usize = 64;

/// The claimed keys and when each claim expires.
#[derive(Debug)]
pub(super) struct Claims {
    /// The expiry of each claim; `None` for a `ttl` too long to add to an `Instant`.
    expiries: HashMap<String, Option<Instant>>,
    /// The map size at which the next insert prunes expired claims. Pruning
    /// sets it to twice the live claims, so the map holds at most about twice
    /// the live claims and pruning costs O(1) per insert, amortized.
    prune_at: usize,
}

impl Default for Claims {
    fn default() -> Self {
        Self {
            expiries: HashMap::new(),
            prune_at: MIN_PRUNE_LEN,
        }
    }
}

impl Claims {
    /// Claims `key` until `now + ttl`. Returns `false` when an unexpired claim holds it.
    pub(super) fn claim(&mut self, key: &str, ttl: Duration, now: Instant) -> bool {
        let live = |expiry: &Option<Instant>| expiry.is_none_or(|at| at > now);
        if self.expiries.get(key).is_some_and(live) {
            return false;
        }
        if self.expiries.len() >= self.prune_at {
            self.expiries.retain(|_, expiry| live(expiry));
            self.prune_at = (self.expiries.len() * 2).max(MIN_PRUNE_LEN);
        }
        self.expiries.insert(key.to_owned(), now.checked_add(ttl));
        true
    }

    /// Returns the number of claims kept, expired ones included.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.expiries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_claim_fails_until_expiry() {
        let mut claims = Claims::default();
        let start = Instant::now();
        let ttl = Duration::from_secs(10);

        assert!(claims.claim("cleanup:1", ttl, start));
        assert!(!claims.claim("cleanup:1", ttl, start + Duration::from_secs(9)));
        assert!(
            claims.claim("cleanup:2", ttl, start),
            "another key is claimed independently"
        );
        assert!(
            claims.claim("cleanup:1", ttl, start + ttl),
            "the claim expires after its ttl"
        );
    }

    #[test]
    fn huge_ttl_never_expires() {
        let mut claims = Claims::default();
        let start = Instant::now();

        assert!(claims.claim("forever", Duration::MAX, start));
        assert!(!claims.claim("forever", Duration::MAX, start + Duration::from_secs(1_000_000)));
    }

    #[test]
    fn expired_claims_are_pruned() {
        let mut claims = Claims::default();
        let start = Instant::now();
        let ttl = Duration::from_secs(1);

        for tick in 0..10_000u64 {
            let now = start + Duration::from_millis(500) * tick as u32;
            assert!(claims.claim(&format!("task:{tick}"), ttl, now));
        }

        assert!(
            claims.len() <= MIN_PRUNE_LEN,
            "{} claims kept, but only 2 are live",
            claims.len()
        );
    }
}
