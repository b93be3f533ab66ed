//! A worker process for the crash tests: `crash_worker run ...`.
//!
//! Its one job, `record`, appends `start <id> <attempt>` to a file, sleeps,
//! then appends `done <id> <attempt>`, so a test that kills the process can
//! count how often each job started and finished.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use jobs::{JobContext, job};
use serde::{Deserialize, Serialize};

/// Where to record the runs, and how long each run takes.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    file: String,
    sleep_ms: u64,
}

#[job(name = "record", max_attempts = 3)]
async fn record(record: Record, context: JobContext) -> Result<(), std::io::Error> {
    append(&record.file, &format!("start {} {}", context.id(), context.attempt()))?;
    tokio::time::sleep(Duration::from_millis(record.sleep_ms)).await;
    append(&record.file, &format!("done {} {}", context.id(), context.attempt()))
}

fn append(path: &str, line: &str) -> Result<(), std::io::Error> {
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    writeln!(file, "{line}")?;
    file.sync_data()
}

#[tokio::main]
async fn main() -> ExitCode {
    jobs::cli::Cli::new().run().await
}
