//! Sending an ack, fail or release again after a transient queue error, while
//! the lease still holds.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::renew::LeaseDeadline;
use crate::error::{QueueError, display_chain};

/// The first pause before a settle is sent again; it doubles up to [`MAX_RETRY_PAUSE`].
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(100);

/// The longest pause between two sends of a settle.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(1);

/// The share of the lease length before the deadline at which retries stop,
/// so the last send reaches the queue while the lease still holds.
const DEADLINE_MARGIN_DIVISOR: u32 = 5;

/// The result of a settle, and whether it was sent more than once.
pub(super) struct Settled<T> {
    pub(super) result: Result<T, QueueError>,
    pub(super) retried: bool,
}

/// Calls `send` until it succeeds, fails with an error that is not
/// transient, the next send would start within a fifth of the lease length
/// of `deadline`, or `abort` fires.
///
/// Sending again is safe: each settle script checks the lease token, so a
/// repeat of a settle that took effect but whose reply was lost finds the
/// lease gone and returns a lost lease instead of settling twice.
pub(super) async fn with_retries<T, F, Fut>(
    operation: &str,
    lease_length: Duration,
    deadline: &LeaseDeadline,
    abort: &CancellationToken,
    mut send: F,
) -> Settled<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, QueueError>>,
{
    let margin = lease_length / DEADLINE_MARGIN_DIVISOR;
    let mut pause = FIRST_RETRY_PAUSE;
    let mut retried = false;
    loop {
        let result = send().await;
        let error = match result {
            Err(error) if error.is_transient() => error,
            result => return Settled { result, retried },
        };
        let next_send = Instant::now() + pause;
        if abort.is_cancelled() || next_send + margin >= deadline.get() {
            return Settled {
                result: Err(error),
                retried,
            };
        }
        warn!(
            operation,
            error = %display_chain(&error),
            retry_in_ms = pause.as_millis() as u64,
            "failed to settle job; sending it again while the lease holds"
        );
        tokio::select! {
            () = abort.cancelled() => return Settled { result: Err(error), retried },
            () = tokio::time::sleep_until(next_send) => {}
        }
        retried = true;
        pause = (pause * 2).min(MAX_RETRY_PAUSE);
    }
}
