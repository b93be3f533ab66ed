//! `JobResult` and the conversions from a handler's return value.

use std::any::Any;
use std::fmt;

/// What a handler reports about a finished attempt.
///
/// `success: false` is a failed attempt: the worker retries the job with
/// backoff, as for an `Err`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobResult {
    /// Whether the attempt succeeded.
    pub success: bool,
    /// A short human-readable summary.
    pub message: String,
    /// Structured details for logs.
    pub details: Option<serde_json::Value>,
}

impl JobResult {
    /// A successful result with `message`.
    pub fn success(message: impl Into<String>) -> Self {
        Self {
            success: true,
            message: message.into(),
            details: None,
        }
    }

    /// A failed result with `message`; the job is retried.
    pub fn failure(message: impl Into<String>) -> Self {
        Self {
            success: false,
            message: message.into(),
            details: None,
        }
    }

    /// Attaches structured details.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }
}

/// A handler's error: a message, and whether retrying can help.
///
/// Any error converts into it with `?`, as a retryable error. Return
/// [`JobError::permanent`] for a failure that no retry can fix: the job goes to
/// the dead-letter queue at once.
///
/// Like `anyhow::Error`, it does not implement `std::error::Error`, so that
/// every error type can convert into it.
pub struct JobError {
    message: String,
    permanent: bool,
}

impl JobError {
    /// A failure worth retrying.
    pub fn retry(error: impl fmt::Display) -> Self {
        Self {
            message: error.to_string(),
            permanent: false,
        }
    }

    /// A failure no retry can fix; the job is dead-lettered at once.
    pub fn permanent(error: impl fmt::Display) -> Self {
        Self {
            message: error.to_string(),
            permanent: true,
        }
    }

    /// The error message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the job should skip its remaining attempts.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }

    /// Converts any displayable error, keeping `permanent` when it already is a `JobError`.
    pub(crate) fn from_display<E: fmt::Display + 'static>(error: E) -> Self {
        let any: &dyn Any = &error;
        match any.downcast_ref::<JobError>() {
            Some(job_error) => Self {
                message: job_error.message.clone(),
                permanent: job_error.permanent,
            },
            None => Self::retry(&error),
        }
    }
}

impl<E: std::error::Error> From<E> for JobError {
    fn from(error: E) -> Self {
        Self::retry(crate::error::display_chain(&error))
    }
}

impl fmt::Debug for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobError")
            .field("message", &self.message)
            .field("permanent", &self.permanent)
            .finish()
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A handler return type: `()`, `JobResult`, `Result<(), E>` or
/// `Result<JobResult, E>` for any `E: Display`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a supported job handler return type",
    label = "unsupported return type",
    note = "return `()`, `jobs::JobResult`, `Result<(), E>` or `Result<jobs::JobResult, E>` where `E: std::fmt::Display`"
)]
pub trait IntoJobResult {
    /// Converts the return value into the attempt's outcome.
    fn into_job_result(self) -> Result<JobResult, JobError>;
}

impl IntoJobResult for () {
    fn into_job_result(self) -> Result<JobResult, JobError> {
        Ok(JobResult::success(""))
    }
}

impl IntoJobResult for JobResult {
    fn into_job_result(self) -> Result<JobResult, JobError> {
        Ok(self)
    }
}

impl<E: fmt::Display + 'static> IntoJobResult for Result<(), E> {
    fn into_job_result(self) -> Result<JobResult, JobError> {
        self.map(|()| JobResult::success("")).map_err(JobError::from_display)
    }
}

impl<E: fmt::Display + 'static> IntoJobResult for Result<JobResult, E> {
    fn into_job_result(self) -> Result<JobResult, JobError> {
        self.map_err(JobError::from_display)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permanent_survives_result_conversion() {
        let result: Result<(), JobError> = Err(JobError::permanent("bad address"));
        let error = result.into_job_result().unwrap_err();
        assert!(error.is_permanent());
        assert_eq!(error.message(), "bad address");
    }

    #[test]
    fn plain_error_is_retryable() {
        let result: Result<(), String> = Err("timeout talking to smtp".into());
        let error = result.into_job_result().unwrap_err();
        assert!(!error.is_permanent());
        assert_eq!(error.message(), "timeout talking to smtp");
    }

    #[test]
    fn question_mark_converts_std_errors() {
        fn parse() -> Result<u32, JobError> {
            Ok("x".parse::<u32>()?)
        }
        let error = parse().unwrap_err();
        assert!(error.message().contains("invalid digit"), "{}", error.message());
    }
}
