//! One attempt: run the handler while renewing the lease, then ack or fail,
//! sending the settle again after transient errors while the lease holds.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, error, info, warn};

use super::event::{JobEvent, JobOutcome};
use super::renew::{LeaseDeadline, Renewal, Renewing};
use super::settle::{self, Settled};
use super::slot::Slot;
use crate::context::JobContext;
use crate::error::{QueueError, display_chain};
use crate::queue::{FailOutcome, Failure, JobQueue, Lease, LeaseOutcome, Reserved};
use crate::registry::Registry;
use crate::registry::error::DispatchError;
use crate::registry::result::JobResult;

/// Runs one reserved job to its outcome.
///
/// `shutdown` is handed to the handler as its cancellation signal; when
/// `abort` fires before the handler finishes, the handler is dropped and the
/// job released without counting the attempt. `renewal` selects where the
/// lease is renewed while the handler runs, and `slot` how a success is acked.
pub(crate) async fn execute<Q: JobQueue + ?Sized>(
    queue: &Q,
    renewal: Renewal<Q>,
    registry: &Registry,
    reserved: Reserved,
    shutdown: CancellationToken,
    abort: &CancellationToken,
    slot: &mut Slot,
) -> JobEvent {
    let span = tracing::info_span!(
        "job",
        job.id = %reserved.job.id,
        job.name = %reserved.job.name,
        attempt = reserved.job.attempts
    );
    attempt(queue, renewal, registry, reserved, shutdown, abort, slot)
        .instrument(span)
        .await
}

/// A held lease and what settling it needs.
struct HeldLease<'a, Q: ?Sized> {
    queue: &'a Q,
    lease: Lease,
    deadline: LeaseDeadline,
    abort: &'a CancellationToken,
}

impl<Q: JobQueue + ?Sized> HeldLease<'_, Q> {
    /// Sends a settle with [`settle::with_retries`].
    async fn settle<T, F, Fut>(&self, operation: &str, send: F) -> Settled<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, QueueError>>,
    {
        let length = self.lease.visibility_timeout();
        settle::with_retries(operation, length, &self.deadline, self.abort, send).await
    }
}

async fn attempt<Q: JobQueue + ?Sized>(
    queue: &Q,
    renewal: Renewal<Q>,
    registry: &Registry,
    reserved: Reserved,
    shutdown: CancellationToken,
    abort: &CancellationToken,
    slot: &mut Slot,
) -> JobEvent {
    let Reserved { job, lease } = reserved;
    let mut event = JobEvent {
        job_id: job.id.clone(),
        name: job.name.clone(),
        attempt: job.attempts,
        max_attempts: job.max_attempts,
        elapsed: Duration::ZERO,
        outcome: JobOutcome::Succeeded,
    };
    let backoff = job.backoff;
    let attempts = job.attempts;
    let started = Instant::now();
    let held = HeldLease {
        queue,
        deadline: LeaseDeadline::new(slot.reserved_at() + lease.visibility_timeout()),
        lease,
        abort,
    };

    // The reserve reply can arrive late, for example when a handler blocked
    // the thread that reads it. A lease that has expired by now may already
    // belong to another worker, so the job is not run here.
    if held.deadline.get() <= started {
        warn!("the job's lease expired before its handler could start; it runs when the queue hands it out again");
        event.outcome = JobOutcome::LeaseLost;
        return event;
    }

    // Another producer may store a hash without a `name` field. No handler
    // can ever match it, so retrying would only delay the dead-lettering.
    if job.name.is_empty() {
        let error = format!(
            "job {} is stored with no name (its `name` field is missing or empty), so no handler can run it",
            job.id
        );
        event.outcome = fail(&held, Failure::Permanent { error }).await;
        return event;
    }

    let dispatched = {
        let context = JobContext::new(job, shutdown);
        let run = registry.dispatch_with(context);
        let renewing = Renewing::start(renewal, &held.lease, &held.deadline).await;
        tokio::select! {
            biased;
            () = abort.cancelled() => None,
            result = run => Some(result),
            () = renewing.run_inline(queue) => unreachable!("lease renewal never completes"),
        }
    };
    event.elapsed = started.elapsed();

    event.outcome = match dispatched {
        None => release(&held).await,
        Some(Ok(result)) if result.success => ack(&held, slot, &result).await,
        Some(Ok(result)) => {
            let error = format!("job `{}` reported failure: {}", event.name, result.message);
            let delay = backoff.delay_after(attempts);
            fail(&held, Failure::Retry { error, delay }).await
        }
        Some(Err(dispatch_error)) => fail(&held, failure_of(&dispatch_error, backoff.delay_after(attempts))).await,
    };
    event
}

fn failure_of(error: &DispatchError, delay: Duration) -> Failure {
    let text = display_chain(error);
    if error.is_permanent() {
        Failure::Permanent { error: text }
    } else {
        Failure::Retry { error: text, delay }
    }
}

/// Acks through `slot`, which may combine the ack with the fetch loop's next
/// reserve, and sends the ack again directly after a transient error.
///
/// A resent ack that finds the lease gone while the lease deadline is still
/// ahead means that an earlier send took effect: the lease cannot have
/// expired, and no other worker can have taken the job.
async fn ack<Q: JobQueue + ?Sized>(held: &HeldLease<'_, Q>, slot: &mut Slot, result: &JobResult) -> JobOutcome {
    let settled = match slot.ack(held.queue, &held.lease).await {
        (Err(error), _) if error.is_transient() => {
            let resent = held.settle("ack", || held.queue.ack(&held.lease)).await;
            Settled {
                retried: true,
                ..resent
            }
        }
        (result, retried) => Settled { result, retried },
    };
    match settled.result {
        Ok(LeaseOutcome::Done) => {
            debug!(message = %result.message, "job succeeded");
            JobOutcome::Succeeded
        }
        Ok(LeaseOutcome::Lost) if settled.retried && Instant::now() < held.deadline.get() => {
            debug!(
                message = %result.message,
                "job succeeded; the ack was sent again and found the lease gone before its deadline, so an earlier send took effect"
            );
            JobOutcome::Succeeded
        }
        Ok(LeaseOutcome::Lost) if settled.retried => {
            debug!(
                "job succeeded; the queue no longer holds the lease after the ack was sent again, so an earlier send took effect or the lease expired"
            );
            JobOutcome::LeaseLost
        }
        Ok(LeaseOutcome::Lost) => {
            warn!("job succeeded but its lease had expired; the ack was ignored");
            JobOutcome::LeaseLost
        }
        Err(error) => unsettled("ack", error),
    }
}

async fn fail<Q: JobQueue + ?Sized>(held: &HeldLease<'_, Q>, failure: Failure) -> JobOutcome {
    let error_text = failure.error().to_owned();
    let settled = held
        .settle("fail", || held.queue.fail(&held.lease, failure.clone()))
        .await;
    match settled.result {
        Ok(FailOutcome::Retrying { at }) => {
            info!(error = %error_text, retry_at = %at, "job failed; retrying");
            JobOutcome::Retrying { error: error_text, at }
        }
        Ok(FailOutcome::DeadLettered) => {
            error!(error = %error_text, "job failed; moved to the dead-letter queue");
            JobOutcome::DeadLettered { error: error_text }
        }
        Ok(FailOutcome::LeaseLost) if settled.retried => {
            debug!(error = %error_text, "job failed; the queue no longer holds the lease after the failure was sent again, so an earlier send took effect or the lease expired");
            JobOutcome::LeaseLost
        }
        Ok(FailOutcome::LeaseLost) => {
            warn!(error = %error_text, "job failed but its lease had expired; the failure was ignored");
            JobOutcome::LeaseLost
        }
        Err(error) => unsettled("fail", error),
    }
}

async fn release<Q: JobQueue + ?Sized>(held: &HeldLease<'_, Q>) -> JobOutcome {
    let settled = held.settle("release", || held.queue.release(&held.lease)).await;
    match settled.result {
        Ok(LeaseOutcome::Done) => {
            info!("worker stopping; job released without counting the attempt");
            JobOutcome::Released
        }
        Ok(LeaseOutcome::Lost) if settled.retried => {
            debug!(
                "worker stopping; the queue no longer holds the lease after the release was sent again, so an earlier send took effect or the lease expired"
            );
            JobOutcome::LeaseLost
        }
        Ok(LeaseOutcome::Lost) => {
            warn!("worker stopping; job's lease had already expired");
            JobOutcome::LeaseLost
        }
        Err(error) => unsettled("release", error),
    }
}

fn unsettled(operation: &str, error: QueueError) -> JobOutcome {
    let text = display_chain(&error);
    error!(operation, error = %text, "failed to settle job; it returns to the queue when its lease expires");
    JobOutcome::Unsettled { error: text }
}
