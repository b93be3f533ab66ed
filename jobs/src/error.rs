//! Error types of the queues and of enqueueing.

use std::error::Error as StdError;

use crate::job::NewJob;

/// A job request that no queue accepts, whatever its state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidJob {
    /// The name is empty.
    #[error("job name is empty; use ASCII letters, digits, `_`, `-`, `.` or `:`")]
    EmptyName,
    /// The name contains a character outside the allowed set.
    #[error("job name {name:?} contains {character:?}; use only ASCII letters, digits, `_`, `-`, `.` or `:`")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// The first character outside the allowed set.
        character: char,
    },
    /// `max_attempts` is 0.
    #[error("job `{name}` has max_attempts = 0; it must be at least 1 (1 means one run and no retry)")]
    ZeroMaxAttempts {
        /// The job name.
        name: String,
    },
    /// The per-job visibility timeout is zero.
    #[error("job `{name}` has a zero visibility timeout; give a positive duration or leave it unset")]
    ZeroVisibilityTimeout {
        /// The job name.
        name: String,
    },
    /// The unique key is the empty string.
    #[error("job `{name}` has an empty unique key; give a non-empty key or leave it unset")]
    EmptyUniqueKey {
        /// The job name.
        name: String,
    },
}

/// A queue operation that failed because of the backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// A Redis command or script failed, or the connection is down.
    #[cfg(feature = "redis")]
    #[error("redis operation `{operation}` failed")]
    Redis {
        /// The queue operation that issued the command.
        operation: &'static str,
        /// The error from the Redis client.
        #[source]
        source: redis::RedisError,
    },
    /// A stored job could not be read back.
    #[error("job {id} is stored with an invalid `{field}` field: {value:?}")]
    Corrupt {
        /// The job id.
        id: String,
        /// The field that failed to parse.
        field: &'static str,
        /// The stored value.
        value: String,
    },
    /// An error of a queue implemented outside this crate.
    #[error("queue backend failed")]
    Backend(#[source] Box<dyn StdError + Send + Sync>),
}

impl QueueError {
    /// Whether the operation may succeed if tried again later: a dropped
    /// connection, a timeout, a Redis server that is loading or failing over.
    pub fn is_transient(&self) -> bool {
        match self {
            #[cfg(feature = "redis")]
            QueueError::Redis { source, .. } => {
                source.is_io_error()
                    || source.is_timeout()
                    || source.is_connection_dropped()
                    || source.is_connection_refusal()
                    || matches!(
                        source.kind(),
                        redis::ErrorKind::Server(redis::ServerErrorKind::BusyLoading)
                            | redis::ErrorKind::Server(redis::ServerErrorKind::TryAgain)
                            | redis::ErrorKind::Server(redis::ServerErrorKind::ClusterDown)
                            | redis::ErrorKind::Server(redis::ServerErrorKind::MasterDown)
                    )
            }
            QueueError::Corrupt { .. } => false,
            QueueError::Backend(_) => false,
        }
    }
}

/// A failed enqueue. Nothing was queued; the job is handed back when one was built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnqueueError {
    /// The request itself is invalid.
    #[error("{source}")]
    Invalid {
        /// What is wrong with the request.
        source: InvalidJob,
        /// The rejected job.
        job: Box<NewJob>,
    },
    /// The payload could not be serialized to JSON.
    #[error("failed to serialize the payload of job `{name}`")]
    Serialize {
        /// The job name.
        name: String,
        /// The error from serde_json.
        #[source]
        source: serde_json::Error,
    },
    /// The queue failed to store the job.
    #[error("failed to enqueue job `{name}`", name = job.name)]
    Queue {
        /// The job that was not queued.
        job: Box<NewJob>,
        /// The backend's error.
        #[source]
        source: QueueError,
    },
    /// Another job with the same unique key is queued or running, so this
    /// one was not stored. [`JobQueue::enqueue_unique`](crate::JobQueue::enqueue_unique)
    /// reports this as [`Enqueued::Duplicate`](crate::Enqueued::Duplicate) instead.
    #[error(
        "job `{name}` was not enqueued: job {existing_id} with unique key {key:?} is already queued or running",
        name = job.name,
        key = job.unique_key.as_deref().unwrap_or_default()
    )]
    Duplicate {
        /// The id of the job that holds the key.
        existing_id: String,
        /// The job that was not queued.
        job: Box<NewJob>,
    },
}

impl EnqueueError {
    /// The job that was not queued, when the request got as far as building one.
    pub fn into_job(self) -> Option<NewJob> {
        match self {
            EnqueueError::Invalid { job, .. }
            | EnqueueError::Queue { job, .. }
            | EnqueueError::Duplicate { job, .. } => Some(*job),
            EnqueueError::Serialize { .. } => None,
        }
    }

    /// Whether the request was rejected as invalid, so retrying cannot help.
    pub fn is_invalid(&self) -> bool {
        match self {
            EnqueueError::Invalid { .. } | EnqueueError::Serialize { .. } => true,
            EnqueueError::Queue { .. } | EnqueueError::Duplicate { .. } => false,
        }
    }

    /// Whether another job with the same unique key is queued or running.
    pub fn is_duplicate(&self) -> bool {
        match self {
            EnqueueError::Duplicate { .. } => true,
            EnqueueError::Invalid { .. } | EnqueueError::Serialize { .. } | EnqueueError::Queue { .. } => false,
        }
    }
}

/// Formats an error and its chain of sources on one line, joined by `: `.
pub fn display_chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
