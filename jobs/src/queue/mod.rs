//! The queue trait and the types its operations exchange.
//!
//! A job moves through four states: *ready* (due now), *delayed* (due later),
//! *processing* (reserved by a worker under a lease) and *dead* (in the
//! dead-letter queue). [`JobQueue`] is the contract both backends keep; the
//! shared test suite in `tests/` runs the same cases against each.

mod lease;
pub mod memory;
#[cfg(feature = "redis")]
pub mod redis;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use lease::{FailOutcome, Failure, Lease, LeaseOutcome, Reserved};

use crate::error::{EnqueueError, QueueError};
use crate::job::{Job, NewJob};

/// How many jobs sit in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueStats {
    /// Jobs due now, waiting for a worker.
    pub ready: u64,
    /// Jobs waiting for their delay or backoff to pass.
    pub delayed: u64,
    /// Jobs reserved by a worker and not yet acked, failed or released.
    pub processing: u64,
    /// Jobs in the dead-letter queue.
    pub dead: u64,
}

/// A job in the dead-letter queue.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DeadJob {
    /// The job as it was when it died, with its attempts and final error.
    pub job: Job,
    /// When it was dead-lettered, if the backend recorded it. Jobs that a
    /// svc-infra worker dead-lettered carry no such time.
    pub died_at: Option<DateTime<Utc>>,
}

/// A job queue: the storage behind producers and workers.
///
/// Every method is atomic with respect to the others: a job is in exactly one
/// state at any time, and a crash of the caller between two calls loses
/// nothing, because a reserved job returns to *ready* when its lease expires.
///
/// Cancel safety: dropping one of these futures before it completes leaves the
/// queue in a valid state, but whether the operation took effect is unknown.
/// For [`reserve`](JobQueue::reserve) that means a job may have been reserved
/// and is then re-delivered when its lease expires.
#[async_trait]
pub trait JobQueue: Send + Sync + 'static {
    /// Stores a job and returns its record with the assigned id.
    async fn enqueue(&self, job: NewJob) -> Result<Job, EnqueueError>;

    /// Stores several jobs. The default enqueues them one by one; backends
    /// override it to batch the round trips. On error, the jobs before the
    /// failing one are queued and the rest are not.
    async fn enqueue_many(&self, jobs: Vec<NewJob>) -> Result<Vec<Job>, EnqueueError> {
        let mut queued = Vec::with_capacity(jobs.len());
        for job in jobs {
            queued.push(self.enqueue(job).await?);
        }
        Ok(queued)
    }

    /// Reserves the next due job under a new lease, counting one attempt.
    ///
    /// Before popping, due delayed jobs become ready and jobs whose lease
    /// expired return to ready (or to the dead-letter queue once their attempts
    /// are used up).
    async fn reserve(&self) -> Result<Option<Reserved>, QueueError>;

    /// Reserves up to `max` jobs. The default calls [`reserve`](JobQueue::reserve)
    /// until the queue is empty or `max` are taken.
    async fn reserve_many(&self, max: usize) -> Result<Vec<Reserved>, QueueError> {
        let mut reserved = Vec::new();
        while reserved.len() < max {
            match self.reserve().await? {
                Some(job) => reserved.push(job),
                None => break,
            }
        }
        Ok(reserved)
    }

    /// Waits until a job may be ready or `max_wait` has passed, whichever is
    /// first. Workers call it when [`reserve`](JobQueue::reserve) found nothing.
    /// It may return early; the default sleeps for `max_wait`.
    async fn wait_for_job(&self, max_wait: Duration) -> Result<(), QueueError> {
        tokio::time::sleep(max_wait).await;
        Ok(())
    }

    /// Completes a job and deletes it. Has no effect, and returns
    /// [`LeaseOutcome::Lost`], when the lease is no longer held.
    async fn ack(&self, lease: &Lease) -> Result<LeaseOutcome, QueueError>;

    /// Records a failed attempt. The job is retried after `failure`'s delay,
    /// or dead-lettered when the failure is permanent or the job has used all
    /// its attempts; either way `last_error` keeps the error.
    async fn fail(&self, lease: &Lease, failure: Failure) -> Result<FailOutcome, QueueError>;

    /// Hands a reserved job back without counting the attempt, at the front of
    /// the ready list. Workers release the jobs still running when they stop.
    async fn release(&self, lease: &Lease) -> Result<LeaseOutcome, QueueError>;

    /// Extends a lease by the job's visibility timeout, counted from now.
    async fn extend_lease(&self, lease: &Lease) -> Result<LeaseOutcome, QueueError>;

    /// Reads a job in any state but acked.
    async fn job(&self, id: &str) -> Result<Option<Job>, QueueError>;

    /// Counts the jobs in each state.
    async fn stats(&self) -> Result<QueueStats, QueueError>;

    /// Lists dead jobs, newest first, skipping `offset` and returning at most `limit`.
    async fn dead_jobs(&self, offset: usize, limit: usize) -> Result<Vec<DeadJob>, QueueError>;

    /// Moves one dead job back to ready with its attempts reset to 0.
    /// Returns `false` when no dead job has that id.
    async fn requeue_dead(&self, id: &str) -> Result<bool, QueueError>;

    /// Moves every dead job back to ready with attempts reset; returns how many.
    async fn requeue_all_dead(&self) -> Result<u64, QueueError>;

    /// Deletes every dead job; returns how many.
    async fn purge_dead(&self) -> Result<u64, QueueError>;

    /// The lease length for jobs that do not set their own.
    fn visibility_timeout(&self) -> Duration;
}

#[async_trait]
impl<Q: JobQueue + ?Sized> JobQueue for Arc<Q> {
    async fn enqueue(&self, job: NewJob) -> Result<Job, EnqueueError> {
        (**self).enqueue(job).await
    }
    async fn enqueue_many(&self, jobs: Vec<NewJob>) -> Result<Vec<Job>, EnqueueError> {
        (**self).enqueue_many(jobs).await
    }
    async fn reserve(&self) -> Result<Option<Reserved>, QueueError> {
        (**self).reserve().await
    }
    async fn reserve_many(&self, max: usize) -> Result<Vec<Reserved>, QueueError> {
        (**self).reserve_many(max).await
    }
    async fn wait_for_job(&self, max_wait: Duration) -> Result<(), QueueError> {
        (**self).wait_for_job(max_wait).await
    }
    async fn ack(&self, lease: &Lease) -> Result<LeaseOutcome, QueueError> {
        (**self).ack(lease).await
    }
    async fn fail(&self, lease: &Lease, failure: Failure) -> Result<FailOutcome, QueueError> {
        (**self).fail(lease, failure).await
    }
    async fn release(&self, lease: &Lease) -> Result<LeaseOutcome, QueueError> {
        (**self).release(lease).await
    }
    async fn extend_lease(&self, lease: &Lease) -> Result<LeaseOutcome, QueueError> {
        (**self).extend_lease(lease).await
    }
    async fn job(&self, id: &str) -> Result<Option<Job>, QueueError> {
        (**self).job(id).await
    }
    async fn stats(&self) -> Result<QueueStats, QueueError> {
        (**self).stats().await
    }
    async fn dead_jobs(&self, offset: usize, limit: usize) -> Result<Vec<DeadJob>, QueueError> {
        (**self).dead_jobs(offset, limit).await
    }
    async fn requeue_dead(&self, id: &str) -> Result<bool, QueueError> {
        (**self).requeue_dead(id).await
    }
    async fn requeue_all_dead(&self) -> Result<u64, QueueError> {
        (**self).requeue_all_dead().await
    }
    async fn purge_dead(&self) -> Result<u64, QueueError> {
        (**self).purge_dead().await
    }
    fn visibility_timeout(&self) -> Duration {
        (**self).visibility_timeout()
    }
}

/// A shared queue whose backend is chosen at run time, as `easy_jobs` returns it.
pub type DynQueue = Arc<dyn JobQueue>;
