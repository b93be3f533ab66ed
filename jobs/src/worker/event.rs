//! What happened to each attempt, for logs, metrics and tests.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The outcome of one attempt, reported to [`WorkerRunner::on_event`](crate::WorkerRunner::on_event).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct JobEvent {
    /// The job id.
    pub job_id: String,
    /// The job name.
    pub name: String,
    /// The attempt number, from 1.
    pub attempt: u32,
    /// The job's attempt limit.
    pub max_attempts: u32,
    /// How long the handler ran.
    pub elapsed: Duration,
    /// What became of the job.
    pub outcome: JobOutcome,
}

/// What became of a job after one attempt.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum JobOutcome {
    /// The handler succeeded and the job was acked.
    Succeeded,
    /// The attempt failed; the job runs again at `at`.
    Retrying {
        /// The error recorded in `last_error`.
        error: String,
        /// When the next attempt becomes due.
        at: DateTime<Utc>,
    },
    /// The attempt failed and the job is in the dead-letter queue.
    DeadLettered {
        /// The final error.
        error: String,
    },
    /// The lease had expired before the worker settled the job, so another
    /// worker may have it; the queue ignored this worker's ack or fail.
    LeaseLost,
    /// The worker stopped before the handler finished and handed the job back
    /// without counting the attempt.
    Released,
    /// The queue could not record the outcome; the job returns when its lease expires.
    Unsettled {
        /// The queue error.
        error: String,
    },
}
