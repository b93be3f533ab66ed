//! Const comparisons behind `#[job(declared)]`: the keys written on such a
//! handler must equal what its payload type declares, and the generated
//! `const` assertions call these functions to check it at compile time.

use std::time::Duration;

use crate::backoff::{Backoff, BackoffStrategy};

/// Returns whether two strings are equal, in a const context.
pub const fn str_eq(left: &str, right: &str) -> bool {
    let (left, right) = (left.as_bytes(), right.as_bytes());
    if left.len() != right.len() {
        return false;
    }
    let mut index = 0;
    while index < left.len() {
        if left[index] != right[index] {
            return false;
        }
        index += 1;
    }
    true
}

/// Returns whether an optional declared duration is `written`.
pub const fn duration_is(declared: Option<Duration>, written: Duration) -> bool {
    match declared {
        Some(declared) => declared.as_nanos() == written.as_nanos(),
        None => false,
    }
}

/// Returns whether `backoff` is exponential.
pub const fn backoff_is_exponential(backoff: Backoff) -> bool {
    matches!(backoff.strategy(), BackoffStrategy::Exponential { .. })
}

/// Returns whether the base delay of `backoff` is `seconds`.
pub const fn backoff_base_is(backoff: Backoff, seconds: u64) -> bool {
    backoff.base().as_nanos() == Duration::from_secs(seconds).as_nanos()
}

/// Returns whether `backoff` is exponential with the cap `max_delay`.
pub const fn backoff_max_delay_is(backoff: Backoff, max_delay: Duration) -> bool {
    match backoff.strategy() {
        BackoffStrategy::Exponential {
            max_delay: declared, ..
        } => declared.as_nanos() == max_delay.as_nanos(),
        BackoffStrategy::Linear => false,
    }
}

/// Returns whether `backoff` is exponential with `jitter` set as written.
pub const fn backoff_jitter_is(backoff: Backoff, jitter: bool) -> bool {
    match backoff.strategy() {
        BackoffStrategy::Exponential { jitter: declared, .. } => declared == jitter,
        BackoffStrategy::Linear => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_eq_compares_bytes() {
        assert!(str_eq("send_email", "send_email"));
        assert!(!str_eq("send_email", "send_emails"));
        assert!(!str_eq("send_email", "send_mail_"));
        assert!(str_eq("", ""));
    }

    #[test]
    fn backoff_checks_match_strategy() {
        let exponential = Backoff::exponential(Duration::from_secs(5), Duration::from_secs(600), true);
        assert!(backoff_is_exponential(exponential));
        assert!(backoff_base_is(exponential, 5));
        assert!(backoff_max_delay_is(exponential, Duration::from_secs(600)));
        assert!(backoff_jitter_is(exponential, true));
        assert!(!backoff_jitter_is(exponential, false));

        let linear = Backoff::linear(Duration::from_secs(60));
        assert!(!backoff_is_exponential(linear));
        assert!(!backoff_max_delay_is(linear, Duration::from_secs(600)));
        assert!(!backoff_jitter_is(linear, false));
    }

    #[test]
    fn duration_is_needs_a_declared_value() {
        assert!(duration_is(
            Some(Duration::from_secs(60)),
            Duration::from_millis(60_000)
        ));
        assert!(!duration_is(None, Duration::from_secs(60)));
    }
}
