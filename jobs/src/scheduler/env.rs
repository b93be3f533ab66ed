//! `JOBS_SCHEDULE_JSON`: a schedule of jobs written as JSON.

use std::time::Duration;

use serde::Deserialize;

use crate::job::{NewJob, validate_name};
use crate::payload::Payload;

/// The environment variable holding the schedule.
pub const SCHEDULE_ENV: &str = "JOBS_SCHEDULE_JSON";

/// One entry of `JOBS_SCHEDULE_JSON`: enqueue `job_name` with `payload` every
/// `interval_seconds`.
///
/// ```json
/// [{"name": "cleanup", "interval_seconds": 300, "job_name": "cleanup_sessions", "payload": {"older_than_days": 30}}]
/// ```
///
/// Entries with a Python `target` import path, which svc-infra accepts, have
/// no meaning in a Rust binary and are rejected.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ScheduleEntry {
    /// The task name.
    pub name: String,
    /// The period in seconds; 60 when omitted.
    #[serde(default = "default_interval")]
    pub interval_seconds: f64,
    /// The job to enqueue.
    pub job_name: String,
    /// Its payload; `{}` when omitted.
    #[serde(default)]
    pub payload: Option<serde_json::Value>,
    /// A delay before each enqueued job becomes due.
    #[serde(default)]
    pub delay_seconds: f64,
}

fn default_interval() -> f64 {
    60.0
}

impl ScheduleEntry {
    /// The period.
    pub fn every(&self) -> Duration {
        Duration::from_secs_f64(self.interval_seconds)
    }

    /// The job this entry enqueues.
    pub fn new_job(&self) -> NewJob {
        let payload = self.payload.clone().map(Payload::from).unwrap_or_default();
        NewJob::new(&self.job_name, payload).delay(Duration::from_secs_f64(self.delay_seconds))
    }
}

/// A schedule that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// The text is not a JSON array of entries.
    #[error(
        "JOBS_SCHEDULE_JSON is invalid: {reason}; expected a JSON array such as [{{\"name\": \"cleanup\", \"interval_seconds\": 300, \"job_name\": \"cleanup\"}}]"
    )]
    Invalid {
        /// What is wrong.
        reason: String,
    },
    /// One entry is unusable.
    #[error("JOBS_SCHEDULE_JSON entry {index} ({name:?}) is invalid: {reason}")]
    InvalidEntry {
        /// The entry's position, from 0.
        index: usize,
        /// The entry's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

/// Parses and checks a schedule; every entry must be valid.
pub fn parse_schedule(text: &str) -> Result<Vec<ScheduleEntry>, ScheduleError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let entries: Vec<ScheduleEntry> = serde_json::from_str(text).map_err(|error| ScheduleError::Invalid {
        reason: error.to_string(),
    })?;
    for (index, entry) in entries.iter().enumerate() {
        let repeated = entries[..index].iter().any(|earlier| earlier.name == entry.name);
        let checked = if repeated {
            Err("another entry has the same name; give each entry its own `name`".to_owned())
        } else {
            check_entry(entry)
        };
        checked.map_err(|reason| ScheduleError::InvalidEntry {
            index,
            name: entry.name.clone(),
            reason,
        })?;
    }
    Ok(entries)
}

fn check_entry(entry: &ScheduleEntry) -> Result<(), String> {
    const MAX_SECONDS: f64 = crate::backoff::MAX_DELAY.as_secs() as f64;
    if !(entry.interval_seconds.is_finite() && entry.interval_seconds > 0.0 && entry.interval_seconds <= MAX_SECONDS) {
        return Err(format!(
            "interval_seconds = {} must be a positive number of seconds",
            entry.interval_seconds
        ));
    }
    if !(entry.delay_seconds.is_finite() && entry.delay_seconds >= 0.0 && entry.delay_seconds <= MAX_SECONDS) {
        return Err(format!(
            "delay_seconds = {} must be zero or a positive number of seconds",
            entry.delay_seconds
        ));
    }
    validate_name(&entry.job_name).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_job_entries() {
        let entries = parse_schedule(
            r#"[{"name": "cleanup", "interval_seconds": 300, "job_name": "cleanup_sessions", "payload": {"days": 30}},
                {"name": "ping", "job_name": "health.ping"}]"#,
        )
        .unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].every(), Duration::from_secs(300));
        assert_eq!(entries[0].new_job().payload.as_str(), r#"{"days":30}"#);
        assert_eq!(entries[1].every(), Duration::from_secs(60));
        assert_eq!(entries[1].new_job().payload.as_str(), "{}");
    }

    #[test]
    fn python_target_is_rejected() {
        let error = parse_schedule(r#"[{"name": "x", "target": "app.tasks:cleanup", "job_name": "x"}]"#).unwrap_err();
        assert!(error.to_string().contains("unknown field `target`"), "{error}");
    }

    #[test]
    fn bad_entries_name_the_entry() {
        let error = parse_schedule(r#"[{"name": "x", "interval_seconds": 0, "job_name": "x"}]"#).unwrap_err();
        assert!(error.to_string().contains("entry 0 (\"x\")"), "{error}");
        let error = parse_schedule(r#"[{"name": "y", "job_name": "bad name"}]"#).unwrap_err();
        assert!(error.to_string().contains("\"bad name\""), "{error}");
        let error = parse_schedule(r#"[{"name": "a", "job_name": "x"}, {"name": "a", "job_name": "y"}]"#).unwrap_err();
        assert!(error.to_string().contains("entry 1 (\"a\")"), "{error}");
        assert!(error.to_string().contains("same name"), "{error}");
        let error = parse_schedule(r#"{"name": "z"}"#).unwrap_err();
        assert!(error.to_string().contains("expected a JSON array"), "{error}");
    }
}
