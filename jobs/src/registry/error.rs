//! Errors of building a registry and of dispatching a job to a handler.

use std::time::Duration;

use crate::registry::registration::Origin;

/// A registry that cannot be built.
///
/// `Debug` prints the same message as `Display`, so a `main` that returns this
/// error with `?` shows what to fix.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Two handlers claim one job name.
    #[error("job `{name}` has two handlers: {first} and {second}; give one of them another `name`")]
    DuplicateJob {
        /// The job name.
        name: String,
        /// One handler.
        first: String,
        /// The other handler.
        second: String,
    },
    /// `JOB_DEFAULT_TIMEOUT_SECONDS` is not a positive number.
    #[error(
        "JOB_DEFAULT_TIMEOUT_SECONDS={value:?} is not a positive number of seconds; set it to a value such as 300 or unset it"
    )]
    InvalidDefaultTimeout {
        /// The value of the variable.
        value: String,
    },
    /// `JOB_DEFAULT_TIMEOUT_SECONDS` is not valid UTF-8.
    #[error(transparent)]
    NotUnicode(#[from] crate::config::NotUnicodeError),
    /// A handler takes `Data<T>` but the registry was given no `T`.
    #[error(
        "job `{name}` handler {handler} needs state of type `{type_name}`, which the registry was not given; add it with `Registry::builder().state(value)`, and pass that registry to `jobs::cli::Cli::new().registry(registry)` when the worker runs the CLI"
    )]
    MissingState {
        /// The job name.
        name: String,
        /// The handler, with where it is defined.
        handler: String,
        /// The missing state type.
        type_name: &'static str,
    },
    /// Two state values of one type were given to the registry.
    #[error(
        "state of type `{type_name}` was given to the registry twice; give each type once, and wrap values that share a type in distinct newtypes"
    )]
    DuplicateState {
        /// The state type.
        type_name: &'static str,
    },
}

impl std::fmt::Debug for RegistryError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, formatter)
    }
}

/// Why dispatching a job did not produce a [`JobResult`](crate::JobResult).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DispatchError {
    /// No handler is registered under the job's name.
    #[error(
        "no handler is registered for job `{name}`; register one with #[job(name = \"{name}\")] in the worker binary"
    )]
    UnknownJob {
        /// The job name.
        name: String,
    },
    /// The handler ran past its timeout and was cancelled.
    #[error("job `{name}` exceeded its timeout of {}", humantime::format_duration(*.timeout))]
    Timeout {
        /// The job name.
        name: String,
        /// The time limit it exceeded.
        timeout: Duration,
    },
    /// The payload does not decode into the handler's payload type.
    #[error("payload of job `{name}` does not decode into `{payload_type}`: {message}")]
    Decode {
        /// The job name.
        name: String,
        /// The handler's payload type.
        payload_type: &'static str,
        /// The decode error.
        message: String,
    },
    /// The handler returned an error.
    #[error("job `{name}` failed: {message}")]
    Failed {
        /// The job name.
        name: String,
        /// The handler's error message.
        message: String,
        /// Whether the handler marked the error permanent.
        permanent: bool,
    },
    /// The handler panicked.
    #[error("job `{name}` panicked: {message}")]
    Panicked {
        /// The job name.
        name: String,
        /// The panic message.
        message: String,
    },
}

impl DispatchError {
    /// Whether the job should go to the dead-letter queue at once instead of
    /// being retried: a payload that cannot decode, or a permanent error.
    pub fn is_permanent(&self) -> bool {
        match self {
            DispatchError::Decode { .. } => true,
            DispatchError::Failed { permanent, .. } => *permanent,
            DispatchError::UnknownJob { .. } | DispatchError::Timeout { .. } | DispatchError::Panicked { .. } => false,
        }
    }

    /// Whether no handler is registered for the job.
    pub fn is_unknown_job(&self) -> bool {
        matches!(self, DispatchError::UnknownJob { .. })
    }

    /// Whether the handler timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, DispatchError::Timeout { .. })
    }
}

pub(crate) fn duplicate(name: &str, first: &Origin, second: &Origin) -> RegistryError {
    RegistryError::DuplicateJob {
        name: name.to_owned(),
        first: first.to_string(),
        second: second.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_error_debug_shows_message() {
        let error = RegistryError::DuplicateState { type_name: "Pool" };

        assert_eq!(format!("{error:?}"), error.to_string());
    }
}
