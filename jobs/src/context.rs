//! The facts about its job that a running handler can read.

use tokio_util::sync::CancellationToken;

use crate::job::Job;

/// The running job's context: its id, attempt number, the previous attempt's
/// error and a cancellation signal.
#[derive(Debug, Clone)]
pub struct JobContext {
    job: Job,
    cancellation: CancellationToken,
}

impl JobContext {
    /// A context for `job`, cancelled through `cancellation`.
    pub fn new(job: Job, cancellation: CancellationToken) -> Self {
        Self { job, cancellation }
    }

    /// The job's id.
    pub fn id(&self) -> &str {
        &self.job.id
    }

    /// The job's name.
    pub fn name(&self) -> &str {
        &self.job.name
    }

    /// The attempt number: 1 on the first run.
    pub fn attempt(&self) -> u32 {
        self.job.attempts
    }

    /// The attempts the job has before it is dead-lettered.
    pub fn max_attempts(&self) -> u32 {
        self.job.max_attempts
    }

    /// The error of the previous attempt, if it failed.
    pub fn last_error(&self) -> Option<&str> {
        self.job.last_error.as_deref()
    }

    /// The whole job record.
    pub fn job(&self) -> &Job {
        &self.job
    }

    /// Cancelled when the worker starts shutting down. A handler that can stop
    /// early watches it and returns; one that ignores it runs on until the
    /// worker's grace period ends, when it is dropped and the job released.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancellation
    }
}
