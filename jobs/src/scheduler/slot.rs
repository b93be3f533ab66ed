//! Slots: the intervals of a task counted on the system clock, and the claim
//! that lets one scheduler among those sharing a queue take each slot.
//!
//! Slot `n` of a task with interval `every` starts at `n × every` after the
//! Unix epoch, so every process numbers the slots alike however long it has
//! been running.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::{debug, error};

use crate::error::display_chain;
use crate::queue::DynQueue;

/// The shortest claim. It covers system clocks that differ by up to a minute
/// between processes, however short the interval.
const MIN_CLAIM_TTL: Duration = Duration::from_secs(60);

/// Returns the slot in progress at `now` for interval `every`. A system clock
/// set before 1970 counts as the epoch.
pub(super) fn slot_at(now: SystemTime, every: Duration) -> u64 {
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let slot = since_epoch.as_nanos() / every.as_nanos().max(1);
    u64::try_from(slot).unwrap_or(u64::MAX)
}

/// Returns how long after `now` slot `slot` starts, or zero when it has started.
pub(super) fn until_slot(slot: u64, every: Duration, now: SystemTime) -> Duration {
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let start = u128::from(slot).saturating_mul(every.as_nanos());
    let remaining = start.saturating_sub(since_epoch.as_nanos());
    Duration::from_nanos(u64::try_from(remaining).unwrap_or(u64::MAX))
}

/// Returns how long the claim on a slot lasts: three intervals, and at least
/// [`MIN_CLAIM_TTL`]. A scheduler that reaches a slot up to that long after
/// another, because it was busy or its clock lags, still finds the claim.
pub(super) fn claim_ttl(every: Duration) -> Duration {
    every.saturating_mul(3).max(MIN_CLAIM_TTL)
}

/// Builds the claim key of slot `slot` of task `task`. The slot is the last
/// `:`-separated part, so keys of different tasks never collide.
pub(super) fn claim_key(task: &str, slot: u64) -> String {
    format!("{task}:{slot}")
}

/// Claims slot `slot` of task `task` on `queue`. Returns `false`, after
/// logging why, when another scheduler claimed it or the claim failed.
pub(super) async fn claim_slot(queue: &DynQueue, task: &str, slot: u64, every: Duration) -> bool {
    match queue.claim_once(&claim_key(task, slot), claim_ttl(every)).await {
        Ok(true) => true,
        Ok(false) => {
            debug!(task, slot, "slot claimed by another scheduler, skipping it");
            false
        }
        Err(failure) => {
            // The claim may have been stored, so enqueueing now could enqueue
            // a second job for this slot. The task runs again at its next slot.
            error!(
                task,
                slot,
                error = %display_chain(&failure),
                "failed to claim the scheduled slot, so no job is enqueued until the next slot"
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64, millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_millis(millis)
    }

    #[test]
    fn slots_count_intervals_since_epoch() {
        let every = Duration::from_secs(300);
        assert_eq!(slot_at(at(0, 0), every), 0);
        assert_eq!(slot_at(at(299, 999), every), 0);
        assert_eq!(slot_at(at(300, 0), every), 1);
        assert_eq!(slot_at(at(1_700_000_100, 0), every), 5_666_667);
        assert_eq!(slot_at(at(10, 450), Duration::from_millis(200)), 52);
    }

    #[test]
    fn next_slot_start_is_in_the_future() {
        let every = Duration::from_millis(200);
        let now = at(10, 450);
        let next = slot_at(now, every) + 1;
        assert_eq!(until_slot(next, every, now), Duration::from_millis(150));
        assert_eq!(
            until_slot(next - 1, every, now),
            Duration::ZERO,
            "a started slot has no wait"
        );
    }

    #[test]
    fn huge_intervals_do_not_overflow() {
        let now = at(1_700_000_000, 0);
        assert_eq!(slot_at(now, Duration::MAX), 0);
        assert_eq!(until_slot(1, Duration::MAX, now), Duration::from_nanos(u64::MAX));
        assert_eq!(claim_ttl(Duration::MAX), Duration::MAX);
    }

    #[test]
    fn claims_outlast_short_intervals() {
        assert_eq!(claim_ttl(Duration::from_millis(200)), MIN_CLAIM_TTL);
        assert_eq!(claim_ttl(Duration::from_secs(3600)), Duration::from_secs(3 * 3600));
    }
}
