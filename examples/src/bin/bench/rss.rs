//! Worker memory: the peak resident set of a worker process that drained N jobs.

use std::process::Command;

use crate::figure::Figure;
use crate::throughput::{delete_prefix, drain, fill, fresh_prefix, open_queue};

const CONCURRENCY: usize = 64;

/// Fills a queue with `jobs` jobs, then runs a child worker process that
/// drains it, and reports the child's peak RSS.
pub(crate) fn measure(url: &str, jobs: u64) -> Result<Figure, Box<dyn std::error::Error>> {
    let prefix = fresh_prefix("rss");
    let runtime = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| {
        runtime.block_on(async {
            fill(&*open_queue(url, &prefix).await?, jobs)
                .await
                .map_err(Box::<dyn std::error::Error>::from)
        })
    })?;

    let output = Command::new(std::env::current_exe()?)
        .args(["--redis-url", url, "--rss-child", &jobs.to_string()])
        .env("JOBS_BENCH_PREFIX", &prefix)
        .output()?;
    if !output.status.success() {
        return Err(format!("the worker child failed: {}", String::from_utf8_lossy(&output.stderr)).into());
    }
    let rss_mb: f64 = String::from_utf8_lossy(&output.stdout).trim().parse()?;
    tokio::task::block_in_place(|| runtime.block_on(delete_prefix(url, &prefix)))?;
    Ok(Figure {
        figure: "rss",
        concurrency: Some(CONCURRENCY),
        jobs,
        rss_mb: Some(rss_mb),
        ..Figure::default()
    })
}

/// The child: drains `jobs` jobs under `JOBS_BENCH_PREFIX` and prints its peak RSS in MB.
pub(crate) async fn child(url: &str, jobs: u64) -> Result<(), Box<dyn std::error::Error>> {
    let prefix = std::env::var("JOBS_BENCH_PREFIX")?;
    drain(open_queue(url, &prefix).await?, jobs, CONCURRENCY).await?;
    println!("{:.1}", peak_rss_mb()?);
    Ok(())
}

/// Reads `VmHWM`, the peak resident set size, from `/proc/self/status` (Linux only).
fn peak_rss_mb() -> Result<f64, Box<dyn std::error::Error>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .ok_or("no VmHWM line in /proc/self/status")?;
    let kilobytes: f64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kilobytes / 1024.0)
}
