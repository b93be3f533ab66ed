//! The in-memory queue: enqueue and process throughput on one core.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jobs::queue::memory::InMemoryJobQueue;
use jobs::{JobPayload, JobQueue, Registry, WorkerRunner};
use tokio::sync::Notify;

use crate::Noop;
use crate::figure::Figure;

/// Handler slots of the worker; the same as the highest default processing level.
const CONCURRENCY: usize = 64;

/// Runs a worker and a producer on one single-threaded runtime, on a thread of
/// its own, and reports `jobs` divided by the time from the first enqueue to
/// the last ack. The producer enqueues one job per call.
pub(crate) fn measure(jobs: u64) -> Result<Figure, Box<dyn std::error::Error + Send + Sync>> {
    let elapsed = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(enqueue_and_process(jobs))
    })
    .join()
    .map_err(|_| "the in-memory benchmark thread panicked")??;
    Ok(Figure {
        figure: "memory",
        concurrency: Some(CONCURRENCY),
        jobs,
        jobs_per_s: Some(jobs as f64 / elapsed.as_secs_f64()),
        ..Figure::default()
    })
}

async fn enqueue_and_process(jobs: u64) -> Result<Duration, Box<dyn std::error::Error + Send + Sync>> {
    let queue = Arc::new(InMemoryJobQueue::new());
    let done = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(Notify::new());
    let (counter, signal) = (done.clone(), finished.clone());
    let worker = WorkerRunner::from_shared(queue.clone(), Arc::new(Registry::from_inventory()?))
        .concurrency(CONCURRENCY)
        .on_event(move |event| {
            if event.outcome == jobs::JobOutcome::Succeeded && counter.fetch_add(1, Ordering::Relaxed) + 1 == jobs {
                signal.notify_one();
            }
        })
        .start();

    let started = Instant::now();
    for n in 0..jobs {
        queue.enqueue(Noop { n, sent_ns: 0 }.to_new_job()?).await?;
    }
    finished.notified().await;
    let elapsed = started.elapsed();
    worker.stop(Duration::from_secs(5)).await;
    Ok(elapsed)
}
