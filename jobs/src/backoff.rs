//! Retry delays: how long a failed job waits before its next attempt.

use std::time::Duration;

/// The longest delay the queues schedule. Longer delays and backoffs are
/// clamped to it, so no arithmetic on a job's due time can overflow.
pub const MAX_DELAY: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// How the delay before a retry grows with the number of attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackoffStrategy {
    /// `backoff_seconds × attempts`: 60, 120, 180, 240 s with the default base.
    /// This is what svc-infra computes, and the default.
    Linear,
    /// `backoff_seconds × 2^(attempts - 1)`, capped at `max_delay`.
    ///
    /// With `jitter`, the delay is drawn uniformly from the upper half of that
    /// value, `[d/2, d]`, so workers that failed together do not retry together.
    Exponential {
        /// The cap on the computed delay, applied before jitter.
        max_delay: Duration,
        /// Whether to randomize the delay within `[d/2, d]`.
        jitter: bool,
    },
}

/// A validated retry policy: the strategy and its base delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Backoff {
    strategy: BackoffStrategy,
    base: Duration,
}

impl Backoff {
    /// The default base delay, 60 s, as in svc-infra.
    pub const DEFAULT_BASE: Duration = Duration::from_secs(60);

    /// The default cap of exponential backoff, one hour.
    pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(60 * 60);

    /// Linear backoff: the delay after attempt `n` is `base × n`.
    pub const fn linear(base: Duration) -> Self {
        Self {
            strategy: BackoffStrategy::Linear,
            base: clamp(base),
        }
    }

    /// Exponential backoff: the delay after attempt `n` is
    /// `min(base × 2^(n-1), max_delay)`, randomized within its upper half when
    /// `jitter` is set.
    pub const fn exponential(base: Duration, max_delay: Duration, jitter: bool) -> Self {
        Self {
            strategy: BackoffStrategy::Exponential {
                max_delay: clamp(max_delay),
                jitter,
            },
            base: clamp(base),
        }
    }

    /// The strategy.
    pub const fn strategy(&self) -> BackoffStrategy {
        self.strategy
    }

    /// The base delay (`backoff_seconds` in the job record).
    pub const fn base(&self) -> Duration {
        self.base
    }

    /// Computes the delay after the job's `attempts`-th attempt failed.
    ///
    /// `attempts` counts reservations, so it is at least 1 after a failure; 0
    /// is treated as 1. The result never exceeds [`MAX_DELAY`].
    pub fn delay_after(&self, attempts: u32) -> Duration {
        let attempts = attempts.max(1);
        match self.strategy {
            BackoffStrategy::Linear => clamp(self.base.saturating_mul(attempts)),
            BackoffStrategy::Exponential { max_delay, jitter } => {
                let factor = 2u32.checked_pow(attempts - 1).unwrap_or(u32::MAX);
                let delay = self.base.saturating_mul(factor).min(max_delay);
                if jitter { jittered(delay) } else { delay }
            }
        }
    }
}

impl Default for Backoff {
    /// Linear backoff with a 60 s base.
    fn default() -> Self {
        Self::linear(Self::DEFAULT_BASE)
    }
}

const fn clamp(delay: Duration) -> Duration {
    if delay.as_secs() > MAX_DELAY.as_secs() {
        MAX_DELAY
    } else {
        delay
    }
}

fn jittered(delay: Duration) -> Duration {
    let half = delay / 2;
    let spread = delay - half;
    let nanos = spread.as_nanos().min(u64::MAX as u128) as u64;
    half + Duration::from_nanos(rand::random_range(0..=nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_matches_svc_infra() {
        let backoff = Backoff::default();
        let delays: Vec<u64> = (1..=4).map(|n| backoff.delay_after(n).as_secs()).collect();
        assert_eq!(delays, [60, 120, 180, 240]);
    }

    #[test]
    fn zero_attempts_counts_as_one() {
        assert_eq!(Backoff::default().delay_after(0), Duration::from_secs(60));
    }

    #[test]
    fn exponential_doubles_up_to_cap() {
        let backoff = Backoff::exponential(Duration::from_secs(10), Duration::from_secs(100), false);
        let delays: Vec<u64> = (1..=6).map(|n| backoff.delay_after(n).as_secs()).collect();
        assert_eq!(delays, [10, 20, 40, 80, 100, 100]);
    }

    #[test]
    fn jitter_stays_in_upper_half() {
        let backoff = Backoff::exponential(Duration::from_secs(8), Duration::from_secs(3600), true);
        for _ in 0..1000 {
            let delay = backoff.delay_after(3);
            assert!(delay >= Duration::from_secs(16), "{delay:?} below half of 32 s");
            assert!(delay <= Duration::from_secs(32), "{delay:?} above 32 s");
        }
    }

    #[test]
    fn huge_values_saturate() {
        let linear = Backoff::linear(Duration::MAX);
        assert_eq!(linear.delay_after(u32::MAX), MAX_DELAY);
        let exponential = Backoff::exponential(Duration::from_secs(u64::MAX), Duration::MAX, true);
        assert!(exponential.delay_after(u32::MAX) <= MAX_DELAY);
        assert!(exponential.delay_after(u32::MAX) >= MAX_DELAY / 2);
    }
}
