//! The job record, the enqueue request and the per-job options.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::backoff::{Backoff, MAX_DELAY};
use crate::error::InvalidJob;
use crate::payload::Payload;

/// The default number of attempts before a job is dead-lettered.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// A job as stored in a queue.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Job {
    /// The queue-assigned id: a decimal counter on both queues, as in svc-infra.
    pub id: String,
    /// The job name, which selects the handler.
    pub name: String,
    /// The payload the handler decodes.
    pub payload: Payload,
    /// When the job became, or becomes, available to workers: the enqueue time
    /// plus the delay, then after each failure the time of the next attempt.
    pub available_at: DateTime<Utc>,
    /// How many times the job has been reserved. A handler sees 1 on its first
    /// attempt; a graceful release gives the attempt back.
    pub attempts: u32,
    /// After this many attempts a failure dead-letters the job. At least 1.
    pub max_attempts: u32,
    /// The retry policy. [`Job::backoff_seconds`] is its base.
    pub backoff: Backoff,
    /// The error of the latest failed attempt, kept when the job is dead-lettered.
    pub last_error: Option<String>,
    /// The lease length for this job, when it differs from the queue's default.
    pub visibility_timeout: Option<Duration>,
    /// The key that keeps a second job with the same key from being queued
    /// while this one is queued or running; see [`NewJob::unique_key`].
    pub unique_key: Option<String>,
}

impl Job {
    /// The base of the retry delay in whole seconds, as svc-infra stores it.
    pub fn backoff_seconds(&self) -> u64 {
        self.backoff.base().as_secs()
    }

    /// Whether a failure of the current attempt dead-letters the job.
    pub fn is_last_attempt(&self) -> bool {
        self.attempts >= self.max_attempts
    }
}

/// The options a job type declares, from `#[job(...)]` or set by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobOptions {
    /// Attempts before the job is dead-lettered; at least 1.
    pub max_attempts: u32,
    /// The retry policy.
    pub backoff: Backoff,
    /// The handler's time limit; `None` falls back to the registry's default.
    pub timeout: Option<Duration>,
    /// The lease length; `None` uses the queue's visibility timeout.
    pub visibility_timeout: Option<Duration>,
}

impl JobOptions {
    /// Five attempts, linear 60 s backoff, no timeout of its own, the queue's
    /// visibility timeout.
    pub const DEFAULT: Self = Self {
        max_attempts: DEFAULT_MAX_ATTEMPTS,
        backoff: Backoff::linear(Backoff::DEFAULT_BASE),
        timeout: None,
        visibility_timeout: None,
    };

    /// Sets the number of attempts.
    pub const fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// Sets the retry policy.
    pub const fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets the handler's time limit.
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the lease length.
    pub const fn visibility_timeout(mut self, visibility_timeout: Duration) -> Self {
        self.visibility_timeout = Some(visibility_timeout);
        self
    }
}

impl Default for JobOptions {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A job to enqueue: the name, the payload, and when and how to run it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NewJob {
    /// The job name.
    pub name: String,
    /// The payload.
    pub payload: Payload,
    /// How long to wait before the first attempt. Zero runs it at once.
    pub delay: Duration,
    /// Attempts before the job is dead-lettered; must be at least 1.
    pub max_attempts: u32,
    /// The retry policy.
    pub backoff: Backoff,
    /// The lease length, when it differs from the queue's default.
    pub visibility_timeout: Option<Duration>,
    /// The unique key, if any; see [`NewJob::unique_key`].
    pub unique_key: Option<String>,
}

impl NewJob {
    /// A job with the default options, due at once.
    pub fn new(name: impl Into<String>, payload: impl Into<Payload>) -> Self {
        Self {
            name: name.into(),
            payload: payload.into(),
            delay: Duration::ZERO,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            backoff: Backoff::default(),
            visibility_timeout: None,
            unique_key: None,
        }
    }

    /// Applies a job type's declared options.
    pub fn options(mut self, options: &JobOptions) -> Self {
        self.max_attempts = options.max_attempts;
        self.backoff = options.backoff;
        self.visibility_timeout = options.visibility_timeout;
        self
    }

    /// Delays the first attempt. Delays above [`MAX_DELAY`] are clamped to it.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay.min(MAX_DELAY);
        self
    }

    /// Runs the job at `at`; a time in the past runs it at once.
    pub fn run_at(self, at: DateTime<Utc>) -> Self {
        let delay = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        self.delay(delay)
    }

    /// Sets the number of attempts.
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// Sets the retry policy.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets the lease length for this job.
    pub fn visibility_timeout(mut self, visibility_timeout: Duration) -> Self {
        self.visibility_timeout = Some(visibility_timeout);
        self
    }

    /// Makes the job unique by `key`: while a job with the same key is queued
    /// (ready, delayed or waiting for a retry) or running, enqueueing this one
    /// stores nothing and reports the existing job's id instead. See
    /// [`JobQueue::enqueue_unique`](crate::JobQueue::enqueue_unique).
    ///
    /// The key is released when its job is acked or dead-lettered. While the
    /// job runs, the key lasts until the lease deadline and is renewed with
    /// the lease, so the key of a job whose worker died frees itself when the
    /// lease expires. The expired job still runs again: it takes its key back
    /// when it returns to the queue, unless a job enqueued meanwhile took it,
    /// in which case both run.
    pub fn unique_key(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }

    /// Checks the name and the options; queues call this before storing a job.
    pub fn validate(&self) -> Result<(), InvalidJob> {
        validate_name(&self.name)?;
        if self.max_attempts == 0 {
            return Err(InvalidJob::ZeroMaxAttempts {
                name: self.name.clone(),
            });
        }
        if self.visibility_timeout == Some(Duration::ZERO) {
            return Err(InvalidJob::ZeroVisibilityTimeout {
                name: self.name.clone(),
            });
        }
        if self.unique_key.as_deref() == Some("") {
            return Err(InvalidJob::EmptyUniqueKey {
                name: self.name.clone(),
            });
        }
        Ok(())
    }

    /// The job record a queue stores for this request.
    pub(crate) fn into_job(self, id: String, now: DateTime<Utc>) -> Job {
        let available_at = now + chrono::Duration::from_std(self.delay).unwrap_or(chrono::Duration::MAX);
        Job {
            id,
            name: self.name,
            payload: self.payload,
            available_at,
            attempts: 0,
            max_attempts: self.max_attempts,
            backoff: self.backoff,
            last_error: None,
            visibility_timeout: self.visibility_timeout,
            unique_key: self.unique_key,
        }
    }
}

/// Checks a job name: non-empty ASCII letters, digits, `_`, `-`, `.` and `:`.
pub fn validate_name(name: &str) -> Result<(), InvalidJob> {
    if name.is_empty() {
        return Err(InvalidJob::EmptyName);
    }
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':');
    if let Some(bad) = name.chars().find(|&c| !valid(c)) {
        return Err(InvalidJob::InvalidName {
            name: name.to_owned(),
            character: bad,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_max_attempts_rejected() {
        let job = NewJob::new("a", Payload::default()).max_attempts(0);
        let err = job.validate().unwrap_err();
        assert!(err.to_string().contains("max_attempts"), "{err}");
    }

    #[test]
    fn empty_unique_key_rejected() {
        let job = NewJob::new("a", Payload::default()).unique_key("");
        let err = job.validate().unwrap_err();
        assert!(err.to_string().contains("empty unique key"), "{err}");
    }

    #[test]
    fn names_follow_the_character_rule() {
        assert!(validate_name("send_email").is_ok());
        assert!(validate_name("webhook.user-created:v2").is_ok());
        assert!(validate_name("").is_err());
        let err = validate_name("send email").unwrap_err();
        assert!(err.to_string().contains("' '"), "{err}");
    }

    #[test]
    fn past_run_at_runs_at_once() {
        let job = NewJob::new("a", Payload::default()).run_at(Utc::now() - chrono::Duration::hours(1));
        assert_eq!(job.delay, Duration::ZERO);
    }

    #[test]
    fn huge_delay_is_clamped() {
        let job = NewJob::new("a", Payload::default()).delay(Duration::MAX);
        assert_eq!(job.delay, MAX_DELAY);
        let stored = job.into_job("1".into(), Utc::now());
        assert!(stored.available_at > Utc::now());
    }
}
