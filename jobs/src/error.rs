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
    /// connection, a timeout, a Redis server that is loading or failing over,
    /// or a Redis Cluster slot that is moving (`MOVED`, `ASK`, `TRYAGAIN`).
    ///
    /// A transient error does not mean that the operation had no effect: a
    /// command whose reply was lost may have run. For an enqueue, check
    /// [`EnqueueError::may_have_been_stored`] before retrying.
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
                            | redis::ErrorKind::Server(redis::ServerErrorKind::Moved)
                            | redis::ErrorKind::Server(redis::ServerErrorKind::Ask)
                    )
            }
            QueueError::Corrupt { .. } => false,
            QueueError::Backend(_) => false,
        }
    }

    /// Whether the failed operation may still have changed the queue. True
    /// when the command may have reached the backend although no reply came
    /// back (a timeout, a connection dropped while the command was in
    /// flight), when a Lua script failed part way (Redis keeps the writes a
    /// script made before its error), and for errors of other backends, whose
    /// effect this crate cannot know. False when the command never left this
    /// process or the server rejected it before running it.
    pub(crate) fn may_have_applied(&self) -> bool {
        match self {
            #[cfg(feature = "redis")]
            QueueError::Redis { source, .. } => redis_command_may_have_run(source),
            QueueError::Corrupt { .. } => false,
            QueueError::Backend(_) => true,
        }
    }
}

/// The error code of a Redis server over its `maxmemory` with the
/// `noeviction` policy.
#[cfg(feature = "redis")]
const OUT_OF_MEMORY: &str = "OOM";

/// Checks whether Redis rejected the operation because it is over its `maxmemory`.
#[cfg(feature = "redis")]
fn is_out_of_memory(error: &QueueError) -> bool {
    matches!(error, QueueError::Redis { source, .. } if source.code() == Some(OUT_OF_MEMORY))
}

/// Classifies a Redis error by whether the command may have run on the server.
#[cfg(feature = "redis")]
fn redis_command_may_have_run(error: &redis::RedisError) -> bool {
    use redis::{ErrorKind, ServerErrorKind};

    if error.is_connection_refusal() {
        return false;
    }
    match error.kind() {
        // A timeout or a dropped connection gives no sign of whether the
        // command was sent, so it may have run.
        ErrorKind::Io => true,
        // The server replied, so it ran the command, but the reply was not
        // the expected one.
        ErrorKind::Parse | ErrorKind::UnexpectedReturnType => true,
        // Redis rejects these before it runs the command.
        ErrorKind::Server(
            ServerErrorKind::ExecAbort
            | ServerErrorKind::BusyLoading
            | ServerErrorKind::NoScript
            | ServerErrorKind::Moved
            | ServerErrorKind::Ask
            | ServerErrorKind::TryAgain
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::CrossSlot
            | ServerErrorKind::MasterDown
            | ServerErrorKind::ReadOnly
            | ServerErrorKind::NotBusy
            | ServerErrorKind::NoSub
            | ServerErrorKind::NoPerm,
        ) => false,
        // `ERR` (`ResponseError`) includes errors raised part way through a
        // script. Kinds that later redis versions add count as run too.
        ErrorKind::Server(_) => true,
        // Codes the redis crate does not know, such as WRONGTYPE from inside
        // a script, which may already have written some keys. OOM is the
        // exception. Redis over maxmemory rejects a command before it runs,
        // and rejects a write inside a script only while the script has
        // written nothing, so an OOM reply means that nothing changed.
        ErrorKind::Extension => !matches!(error.code(), Some("NOAUTH" | "BUSY" | OUT_OF_MEMORY)),
        // The client failed before sending anything.
        ErrorKind::AuthenticationFailed
        | ErrorKind::InvalidClientConfig
        | ErrorKind::Client
        | ErrorKind::ClusterConnectionNotFound
        | ErrorKind::RESP3NotSupported => false,
        _ => true,
    }
}

/// A failed enqueue. The job is handed back when one was built.
///
/// # Retrying
///
/// Most failures store nothing. The exception is [`EnqueueError::Queue`] with
/// a command that reached the backend but whose reply was lost, for example
/// after a timeout or a dropped connection: the job may then be in the queue,
/// and [`may_have_been_stored`](EnqueueError::may_have_been_stored) is true.
/// Enqueueing the handed-back job again could then run it twice. A job with a
/// [unique key](crate::NewJob::unique_key) is safe to retry, because while
/// the stored copy is queued or running the retry is rejected as
/// [`EnqueueError::Duplicate`] (or reported as
/// [`Enqueued::Duplicate`](crate::Enqueued::Duplicate) by
/// [`enqueue_unique`](crate::JobQueue::enqueue_unique)).
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
    /// The queue failed to store the job, or failed to confirm that it did;
    /// see [`may_have_been_stored`](EnqueueError::may_have_been_stored).
    #[error("failed to enqueue job `{name}`{note}", name = job.name, note = retry_note(job, source))]
    Queue {
        /// The job that was sent.
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
    /// Returns the job, when the request got as far as building one.
    ///
    /// When [`may_have_been_stored`](EnqueueError::may_have_been_stored) is
    /// true, a copy of this job may already be queued, so enqueueing it again
    /// can run it twice unless it has a unique key.
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

    /// Whether the job may be in the queue despite the error: the command
    /// may have reached the backend and run, but its reply was lost to a
    /// timeout or a dropped connection, or a script failed part way. False
    /// when the request was invalid, a duplicate, refused before it was sent
    /// (a refused connection) or rejected by the server before it ran.
    ///
    /// When it is true, retry only a job with a unique key; see
    /// [Retrying](EnqueueError#retrying).
    pub fn may_have_been_stored(&self) -> bool {
        match self {
            EnqueueError::Queue { source, .. } => source.may_have_applied(),
            EnqueueError::Invalid { .. } | EnqueueError::Serialize { .. } | EnqueueError::Duplicate { .. } => false,
        }
    }
}

/// Builds the part of an enqueue error message that warns when the job may
/// be stored, and states whether a retry is safe.
fn retry_note(job: &NewJob, source: &QueueError) -> String {
    #[cfg(feature = "redis")]
    if is_out_of_memory(source) {
        return ", which was not stored because Redis is full (its used memory is over `maxmemory`); let the \
                workers drain the queue, purge the dead-letter queue or raise `maxmemory`, then enqueue it again"
            .to_owned();
    }
    if !source.may_have_applied() {
        return String::new();
    }
    match &job.unique_key {
        Some(key) => format!(
            ", which may have been stored anyway (a retry with its unique key {key:?} is safe while the stored \
             copy is queued or running)"
        ),
        None => ", which may have been stored anyway (a retry could run it twice unless the job has a unique key)"
            .to_owned(),
    }
}

/// Formats an error and its chain of sources on one line, joined by `: `.
///
/// A source whose message its wrapper already printed is left out. Some
/// errors print their source's message as their own and also return that
/// source: the `RedisError` of redis 1.8 does, so without this check a
/// timeout would read `timed out: timed out`.
pub fn display_chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut wrapper_text = text.clone();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !already_shows(&wrapper_text, &cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        wrapper_text = cause_text;
        source = cause.source();
    }
    text
}

/// Whether a wrapper's message already contains its cause's message: as the
/// whole message, or at its end after `: `.
fn already_shows(wrapper: &str, cause: &str) -> bool {
    wrapper == cause || wrapper.strip_suffix(cause).is_some_and(|start| start.ends_with(": "))
}
