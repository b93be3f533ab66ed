//! One attempt: run the handler while renewing the lease, then ack or fail.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, error, info, warn};

use super::event::{JobEvent, JobOutcome};
use super::slot::Slot;
use crate::context::JobContext;
use crate::error::display_chain;
use crate::queue::{FailOutcome, Failure, JobQueue, Lease, LeaseOutcome, Reserved};
use crate::registry::Registry;
use crate::registry::error::DispatchError;
use crate::registry::result::JobResult;

/// Runs one reserved job to its outcome.
///
/// `shutdown` is handed to the handler as its cancellation signal; when
/// `abort` fires before the handler finishes, the handler is dropped and the
/// job released without counting the attempt.
pub(crate) async fn execute<Q: JobQueue + ?Sized>(
    queue: &Q,
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
    attempt(queue, registry, reserved, shutdown, abort, slot)
        .instrument(span)
        .await
}

async fn attempt<Q: JobQueue + ?Sized>(
    queue: &Q,
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

    // Another producer may store a hash without a `name` field. No handler
    // can ever match it, so retrying would only delay the dead-lettering.
    if job.name.is_empty() {
        let error = format!(
            "job {} is stored with no name (its `name` field is missing or empty), so no handler can run it",
            job.id
        );
        event.outcome = fail(queue, &lease, Failure::Permanent { error }).await;
        return event;
    }

    let dispatched = {
        let context = JobContext::new(job, shutdown);
        let run = registry.dispatch_with(context);
        let renew = renew_lease(queue, &lease);
        tokio::select! {
            biased;
            () = abort.cancelled() => None,
            result = run => Some(result),
            () = renew => unreachable!("lease renewal never completes"),
        }
    };
    event.elapsed = started.elapsed();

    event.outcome = match dispatched {
        None => release(queue, &lease).await,
        Some(Ok(result)) if result.success => ack(queue, slot, &lease, &result).await,
        Some(Ok(result)) => {
            let error = format!("job `{}` reported failure: {}", event.name, result.message);
            let delay = backoff.delay_after(attempts);
            fail(queue, &lease, Failure::Retry { error, delay }).await
        }
        Some(Err(dispatch_error)) => {
            fail(
                queue,
                &lease,
                failure_of(&dispatch_error, backoff.delay_after(attempts)),
            )
            .await
        }
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

/// Extends the lease every third of its length while the handler runs. Never
/// returns: after a lost lease or a failed renewal it keeps waiting, so the
/// handler still runs to its end.
async fn renew_lease<Q: JobQueue + ?Sized>(queue: &Q, lease: &Lease) {
    let period = lease.visibility_timeout() / 3;
    let mut held = true;
    loop {
        tokio::time::sleep(period).await;
        if !held {
            continue;
        }
        match queue.extend_lease(lease).await {
            Ok(LeaseOutcome::Done) => debug!(job.id = lease.job_id(), "lease extended"),
            Ok(LeaseOutcome::Lost) => {
                warn!(
                    job.id = lease.job_id(),
                    "lease lost while the handler runs; another worker may run this job"
                );
                held = false;
            }
            Err(error) => {
                warn!(job.id = lease.job_id(), error = %display_chain(&error), "failed to extend lease; retrying")
            }
        }
    }
}

async fn ack<Q: JobQueue + ?Sized>(queue: &Q, slot: &mut Slot, lease: &Lease, result: &JobResult) -> JobOutcome {
    match slot.ack(queue, lease).await {
        Ok(LeaseOutcome::Done) => {
            debug!(message = %result.message, "job succeeded");
            JobOutcome::Succeeded
        }
        Ok(LeaseOutcome::Lost) => {
            warn!("job succeeded but its lease had expired; the ack was ignored");
            JobOutcome::LeaseLost
        }
        Err(error) => unsettled("ack", error),
    }
}

async fn fail<Q: JobQueue + ?Sized>(queue: &Q, lease: &Lease, failure: Failure) -> JobOutcome {
    let error_text = failure.error().to_owned();
    match queue.fail(lease, failure).await {
        Ok(FailOutcome::Retrying { at }) => {
            info!(error = %error_text, retry_at = %at, "job failed; retrying");
            JobOutcome::Retrying { error: error_text, at }
        }
        Ok(FailOutcome::DeadLettered) => {
            error!(error = %error_text, "job failed; moved to the dead-letter queue");
            JobOutcome::DeadLettered { error: error_text }
        }
        Ok(FailOutcome::LeaseLost) => {
            warn!(error = %error_text, "job failed but its lease had expired; the failure was ignored");
            JobOutcome::LeaseLost
        }
        Err(error) => unsettled("fail", error),
    }
}

async fn release<Q: JobQueue + ?Sized>(queue: &Q, lease: &Lease) -> JobOutcome {
    match queue.release(lease).await {
        Ok(LeaseOutcome::Done) => {
            info!("worker stopping; job released without counting the attempt");
            JobOutcome::Released
        }
        Ok(LeaseOutcome::Lost) => {
            warn!("worker stopping; job's lease had already expired");
            JobOutcome::LeaseLost
        }
        Err(error) => unsettled("release", error),
    }
}

fn unsettled(operation: &str, error: crate::error::QueueError) -> JobOutcome {
    let text = display_chain(&error);
    error!(operation, error = %text, "failed to settle job; it returns to the queue when its lease expires");
    JobOutcome::Unsettled { error: text }
}
