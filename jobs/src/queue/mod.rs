//! The queue trait and the types its operations exchange.
//!
//! A job moves through four states: *ready* (due now), *delayed* (due later),
//! *processing* (reserved by a worker under a lease) and *dead* (in the
//! dead-letter queue). [`JobQueue`] is the contract both backends keep; the
//! shared test suite in `tests/` runs the same cases against each.
//!
//! # The dead-letter queue's size limit
//!
//! Both backends keep at most [`DEFAULT_DEAD_LETTER_LIMIT`] dead jobs unless
//! configured otherwise. When dead-lettering a job takes the queue over its
//! limit, the oldest dead jobs are deleted with their payloads and errors, and
//! the queue logs a warning with how many it deleted. Without a limit, a
//! failure that dead-letters every job (a bad deploy, an unreachable service)
//! fills the backend's memory with payloads nobody reads, and on Redis that
//! memory is the same memory live jobs need.

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

/// The default maximum number of jobs in the dead-letter queue: 10,000.
///
/// It keeps the failures of a long outage for inspection (at 100 failed jobs
/// a minute, the last 100 minutes) while bounding the memory they use: about
/// 15 MB on Redis for 1 KB payloads. The limit also bounds the work of the
/// operations that search the dead-letter queue for one id.
pub const DEFAULT_DEAD_LETTER_LIMIT: usize = 10_000;

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

/// The result of [`JobQueue::enqueue_unique`].
#[derive(Debug, Clone, PartialEq)]
pub enum Enqueued {
    /// The job was stored.
    Created(Job),
    /// A job with the same unique key is queued or running; nothing was stored.
    Duplicate {
        /// The id of the job that holds the key.
        existing_id: String,
    },
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
    ///
    /// A job with a [unique key](NewJob::unique_key) that another queued or
    /// running job holds is not stored, and the error is
    /// [`EnqueueError::Duplicate`].
    async fn enqueue(&self, job: NewJob) -> Result<Job, EnqueueError>;

    /// Stores a job unless another job with the same
    /// [unique key](NewJob::unique_key) is queued or running, in which case it
    /// returns [`Enqueued::Duplicate`] with that job's id. The check and the
    /// store are one atomic step. A job without a unique key is always stored.
    ///
    /// ```
    /// # async fn run(queue: &dyn jobs::JobQueue) -> Result<(), jobs::EnqueueError> {
    /// use jobs::{Enqueued, NewJob};
    ///
    /// let request = NewJob::new("send_invoice", serde_json::json!({"invoice": 42})).unique_key("invoice-42");
    /// match queue.enqueue_unique(request).await? {
    ///     Enqueued::Created(job) => println!("queued job {}", job.id),
    ///     Enqueued::Duplicate { existing_id } => println!("job {existing_id} already sends it"),
    /// }
    /// # Ok(()) }
    /// ```
    async fn enqueue_unique(&self, job: NewJob) -> Result<Enqueued, EnqueueError> {
        match self.enqueue(job).await {
            Ok(job) => Ok(Enqueued::Created(job)),
            Err(EnqueueError::Duplicate { existing_id, .. }) => Ok(Enqueued::Duplicate { existing_id }),
            Err(error) => Err(error),
        }
    }

    /// Stores several jobs. The default enqueues them one by one; backends
    /// override it to batch the round trips. On error, including a duplicate
    /// unique key, the jobs before the failing one are queued and the error
    /// hands back the failing job. Jobs after it are not queued by the default
    /// or the in-memory queue, but the Redis queue sends several batches in
    /// one pipeline, so jobs of a later batch may have been stored. After such
    /// an error, retrying is safe only for jobs with unique keys.
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

    /// Completes a job and deletes it, with its unique key. Has no effect, and
    /// returns [`LeaseOutcome::Lost`], when the lease is no longer held.
    async fn ack(&self, lease: &Lease) -> Result<LeaseOutcome, QueueError>;

    /// Completes several jobs, like [`ack`](JobQueue::ack) on each lease, and
    /// returns one outcome per lease, in order. The default acks them one by
    /// one; backends override it to ack many in one round trip. On error,
    /// some of the leases may have been acked.
    async fn ack_many(&self, leases: &[Lease]) -> Result<Vec<LeaseOutcome>, QueueError> {
        let mut outcomes = Vec::with_capacity(leases.len());
        for lease in leases {
            outcomes.push(self.ack(lease).await?);
        }
        Ok(outcomes)
    }

    /// Acks `leases`, like [`ack_many`](JobQueue::ack_many), then reserves up
    /// to `max` jobs, like [`reserve_many`](JobQueue::reserve_many), and
    /// returns both results. A worker calls it when finished jobs free their
    /// slots, so one round trip settles the old jobs and fetches the next
    /// ones. The acks are sent first, so the reserved jobs take the places of
    /// the acked ones rather than adding to them. The default makes the two calls in
    /// turn; backends override it to send both in one round trip.
    async fn ack_and_reserve(
        &self,
        leases: &[Lease],
        max: usize,
    ) -> (Result<Vec<LeaseOutcome>, QueueError>, Result<Vec<Reserved>, QueueError>) {
        let acked = if leases.is_empty() {
            Ok(Vec::new())
        } else {
            self.ack_many(leases).await
        };
        (acked, self.reserve_many(max).await)
    }

    /// Records a failed attempt. The job is retried after `failure`'s delay,
    /// or dead-lettered when the failure is permanent or the job has used all
    /// its attempts; either way `last_error` keeps the error. Dead-lettering
    /// releases the job's unique key, and may delete the oldest dead jobs to
    /// keep the dead-letter queue within its limit.
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

    /// Reads one dead job. Returns `None` when no dead job has that id,
    /// including when the job exists in another state.
    async fn dead_job(&self, id: &str) -> Result<Option<DeadJob>, QueueError>;

    /// Moves one dead job back to ready with its attempts reset to 0.
    /// Returns `false` when no dead job has that id.
    ///
    /// A requeued job with a unique key takes the key again if no other job
    /// holds it. If another job took the key meanwhile, the requeued job runs
    /// anyway, without the key.
    async fn requeue_dead(&self, id: &str) -> Result<bool, QueueError>;

    /// Moves every dead job back to ready with attempts reset; returns how many.
    async fn requeue_all_dead(&self) -> Result<u64, QueueError>;

    /// Deletes every dead job; returns how many.
    async fn purge_dead(&self) -> Result<u64, QueueError>;

    /// Claims `key` for `ttl`: returns `true` to the first caller, and `false`
    /// to every later caller, in any process sharing the queue, until `ttl`
    /// has passed. A claim is never released early. The [`Scheduler`] claims
    /// one key per task and interval, so that only one of the processes
    /// sharing the queue enqueues the task's job.
    ///
    /// On error the claim may or may not have been taken. A caller that acts
    /// only on `Ok(true)` therefore acts at most once per key while the claim lasts.
    ///
    /// [`Scheduler`]: crate::Scheduler
    async fn claim_once(&self, key: &str, ttl: Duration) -> Result<bool, QueueError>;

    /// The lease length for jobs that do not set their own.
    fn visibility_timeout(&self) -> Duration;
}

#[async_trait]
impl<Q: JobQueue + ?Sized> JobQueue for Arc<Q> {
    async fn enqueue(&self, job: NewJob) -> Result<Job, EnqueueError> {
        (**self).enqueue(job).await
    }
    async fn enqueue_unique(&self, job: NewJob) -> Result<Enqueued, EnqueueError> {
        (**self).enqueue_unique(job).await
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
    async fn ack_many(&self, leases: &[Lease]) -> Result<Vec<LeaseOutcome>, QueueError> {
        (**self).ack_many(leases).await
    }
    async fn ack_and_reserve(
        &self,
        leases: &[Lease],
        max: usize,
    ) -> (Result<Vec<LeaseOutcome>, QueueError>, Result<Vec<Reserved>, QueueError>) {
        (**self).ack_and_reserve(leases, max).await
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
    async fn dead_job(&self, id: &str) -> Result<Option<DeadJob>, QueueError> {
        (**self).dead_job(id).await
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
    async fn claim_once(&self, key: &str, ttl: Duration) -> Result<bool, QueueError> {
        (**self).claim_once(key, ttl).await
    }
    fn visibility_timeout(&self) -> Duration {
        (**self).visibility_timeout()
    }
}

/// Logs the dead jobs a queue deleted to keep its dead-letter queue within `limit`.
pub(crate) fn log_dropped_dead(dropped: u64, limit: usize) {
    if dropped > 0 {
        tracing::warn!(
            dropped,
            limit,
            "dead-letter queue over its limit; deleted the oldest dead jobs"
        );
    }
}

/// A shared queue whose backend is chosen at run time, as `easy_jobs` returns it.
pub type DynQueue = Arc<dyn JobQueue>;
