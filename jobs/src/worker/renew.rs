//! Lease renewal while a handler runs, and the lease deadline it keeps.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{Instrument, debug, warn};

use crate::error::display_chain;
use crate::queue::{JobQueue, Lease, LeaseOutcome};

/// The task in which an attempt renews its lease.
pub(crate) enum Renewal<Q: ?Sized> {
    /// In a task of its own, which any thread of the runtime may run, so a
    /// handler that blocks its thread does not stop the renewal. On a
    /// current-thread runtime that task shares the handler's only thread.
    Task(Arc<Q>),
    /// In the attempt's own task, so a handler that blocks its thread stops
    /// the renewal until it yields.
    Inline,
}

/// The latest time at which the lease is known to be held: the reserve call
/// or the last renewal, plus the lease length, both measured from when the
/// worker sent them, so never later than the queue's deadline (for queues
/// whose clock runs at the same rate as the worker's).
#[derive(Clone)]
pub(super) struct LeaseDeadline(Arc<Mutex<Instant>>);

impl LeaseDeadline {
    pub(super) fn new(deadline: Instant) -> Self {
        Self(Arc::new(Mutex::new(deadline)))
    }

    pub(super) fn get(&self) -> Instant {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, deadline: Instant) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = deadline;
    }
}

/// A running renewal; dropping it stops a renewal task.
pub(super) enum Renewing {
    Task(JoinHandle<()>),
    Inline(Lease, LeaseDeadline),
}

impl Renewing {
    /// Starts renewing `lease`. This yields once after spawning a renewal
    /// task, so the task is polled and waits on the timer before the handler
    /// runs: tokio keeps a task just spawned in its thread's LIFO slot, which
    /// other threads do not steal from, so a handler blocking that thread
    /// would otherwise hold back the renewal's first poll.
    pub(super) async fn start<Q: JobQueue + ?Sized>(
        renewal: Renewal<Q>,
        lease: &Lease,
        deadline: &LeaseDeadline,
    ) -> Self {
        match renewal {
            Renewal::Task(queue) => {
                let (lease, deadline) = (lease.clone(), deadline.clone());
                let task = async move { renew_lease(&*queue, &lease, &deadline).await };
                let handle = tokio::spawn(task.in_current_span());
                tokio::task::yield_now().await;
                Self::Task(handle)
            }
            Renewal::Inline => Self::Inline(lease.clone(), deadline.clone()),
        }
    }

    /// Renews the lease here for an inline renewal; never completes.
    pub(super) async fn run_inline<Q: JobQueue + ?Sized>(&self, queue: &Q) {
        match self {
            Self::Task(_) => std::future::pending().await,
            Self::Inline(lease, deadline) => renew_lease(queue, lease, deadline).await,
        }
    }
}

impl Drop for Renewing {
    fn drop(&mut self) {
        if let Self::Task(handle) = self {
            handle.abort();
        }
    }
}

/// Extends the lease every third of its length and moves `deadline` after
/// each extension. Never returns: after a lost lease or a failed renewal it
/// keeps waiting, so the handler still runs to its end.
async fn renew_lease<Q: JobQueue + ?Sized>(queue: &Q, lease: &Lease, deadline: &LeaseDeadline) {
    let period = lease.visibility_timeout() / 3;
    // A job that starts late, because the reserve reply waited, renews sooner,
    // so its first renewal still comes a third of the lease before expiry.
    let left = deadline.get().saturating_duration_since(Instant::now());
    let mut wait = period.min(left.saturating_sub(period));
    let mut held = true;
    loop {
        tokio::time::sleep(wait).await;
        wait = period;
        if !held {
            continue;
        }
        let sent = Instant::now();
        match queue.extend_lease(lease).await {
            Ok(LeaseOutcome::Done) => {
                deadline.set(sent + lease.visibility_timeout());
                debug!(job.id = lease.job_id(), "lease extended");
            }
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
