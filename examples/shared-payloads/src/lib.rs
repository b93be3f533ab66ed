//! Job payload types shared by the services that enqueue them and the worker
//! that runs their handlers.
//!
//! Each type declares its job name and options with `#[derive(JobPayload)]`,
//! so a producer depends on this crate alone and links no handler code. The
//! worker registers a handler for each type with `#[job(declared)]`.

use jobs::JobPayload;
use serde::{Deserialize, Serialize};

/// Renders a monthly report and mails it to its owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JobPayload)]
#[job(
    name = "report.generate",
    max_attempts = 4,
    timeout = "2m",
    backoff = "exponential",
    backoff_seconds = 10,
    max_backoff = "10m",
    jitter
)]
pub struct GenerateReport {
    /// The account the report covers.
    pub account_id: u64,
    /// The month, as `YYYY-MM`.
    pub month: String,
}
