//! A worker process for the crash tests: `crash_worker run ...`.
//!
//! Its one job, `record`, appends `start <id> <attempt>` to a file, sleeps,
//! then appends `done <id> <attempt>`, so a test that kills the process can
//! count how often each job started and finished. With `with_pid` set in the
//! payload, each line also ends with the worker's process id. With `abort`
//! set, the handler aborts the whole process right after the `start` line.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use jobs::{JobContext, job};
use serde::{Deserialize, Serialize};

/// Where to record the runs, how long each run takes, and how it ends.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    file: String,
    sleep_ms: u64,
    #[serde(default)]
    with_pid: bool,
    #[serde(default)]
    abort: bool,
}

#[job(name = "record", max_attempts = 3)]
async fn record(record: Record, context: JobContext) -> Result<(), std::io::Error> {
    let pid = if record.with_pid {
        format!(" {}", std::process::id())
    } else {
        String::new()
    };
    append(
        &record.file,
        &format!("start {} {}{pid}", context.id(), context.attempt()),
    )?;
    if record.abort {
        std::process::abort();
    }
    tokio::time::sleep(Duration::from_millis(record.sleep_ms)).await;
    append(
        &record.file,
        &format!("done {} {}{pid}", context.id(), context.attempt()),
    )
}

fn append(path: &str, line: &str) -> Result<(), std::io::Error> {
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    // One write per line: with O_APPEND, lines from concurrent jobs and
    // processes then never interleave. No fsync: a killed process's writes
    // are already in the kernel's page cache, and only the process dies.
    file.write_all(format!("{line}\n").as_bytes())
}

#[tokio::main]
async fn main() -> ExitCode {
    jobs::cli::Cli::new().run().await
}
