//! Leases: a worker's claim on a reserved job, and the outcomes of using it.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::job::Job;

/// A worker's claim on one reserved job.
///
/// The token is new at every reservation. Ack, fail, release and renewal
/// check it, so a worker whose lease expired (and whose job was handed to
/// another worker) cannot complete, fail or renew the job it no longer holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lease {
    job_id: String,
    token: String,
    visibility_timeout: Duration,
}

impl Lease {
    /// A lease on `job_id` under `token`, renewed by `visibility_timeout` at a time.
    /// Queue backends create leases; workers only pass them back.
    pub fn new(job_id: impl Into<String>, token: impl Into<String>, visibility_timeout: Duration) -> Self {
        Self {
            job_id: job_id.into(),
            token: token.into(),
            visibility_timeout,
        }
    }

    /// The id of the leased job.
    pub fn job_id(&self) -> &str {
        &self.job_id
    }

    /// The token that identifies this reservation.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// How long the lease lasts after each reservation or renewal.
    pub fn visibility_timeout(&self) -> Duration {
        self.visibility_timeout
    }
}

/// A job reserved by [`JobQueue::reserve`](crate::JobQueue::reserve).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Reserved {
    /// The job, with `attempts` already counting this attempt.
    pub job: Job,
    /// The claim to pass to ack, fail, release or renewal.
    pub lease: Lease,
}

impl Reserved {
    /// Pairs a job with its lease.
    pub fn new(job: Job, lease: Lease) -> Self {
        Self { job, lease }
    }
}

/// Why an attempt failed, and whether to try again.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// Retry after `delay`, unless the job has used all its attempts.
    Retry {
        /// The error to record in `last_error`.
        error: String,
        /// How long to wait before the next attempt.
        delay: Duration,
    },
    /// Dead-letter the job now, whatever attempts it has left.
    Permanent {
        /// The error to record in `last_error`.
        error: String,
    },
}

impl Failure {
    /// The error text to record.
    pub fn error(&self) -> &str {
        match self {
            Failure::Retry { error, .. } | Failure::Permanent { error } => error,
        }
    }
}

/// The result of an ack, release or lease renewal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseOutcome {
    /// The lease was held and the operation took effect.
    Done,
    /// The lease had expired or the job was gone; nothing changed.
    Lost,
}

/// The result of [`JobQueue::fail`](crate::JobQueue::fail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// The job waits for its next attempt at `at`.
    Retrying {
        /// When the next attempt becomes due.
        at: DateTime<Utc>,
    },
    /// The job is in the dead-letter queue.
    DeadLettered,
    /// The lease had expired or the job was gone; nothing changed.
    LeaseLost,
}
