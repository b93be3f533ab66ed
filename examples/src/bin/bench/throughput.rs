//! Enqueue and processing throughput through the `jobs` API.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jobs::queue::redis::{RedisJobQueue, RedisQueueOptions};
use jobs::{JobPayload, JobQueue, NewJob, Registry, WorkerRunner};
use tokio::sync::Notify;

use crate::Noop;
use crate::figure::Figure;

/// Commands per pipeline for the ceiling, and jobs per `enqueue_many` call.
pub(crate) const PIPELINE: u64 = 1_000;

/// A key prefix no earlier run used, hash-tagged so it also works on a cluster.
pub(crate) fn fresh_prefix(figure: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{{bench-{}-{figure}-{n}}}", std::process::id())
}

/// Deletes every key under `prefix`.
pub(crate) async fn delete_prefix(url: &str, prefix: &str) -> redis::RedisResult<()> {
    let mut connection = redis::Client::open(url)?.get_multiplexed_async_connection().await?;
    let pattern = format!("{}*", prefix.replace('{', "\\{").replace('}', "\\}"));
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut connection)
            .await?;
        if !keys.is_empty() {
            let () = redis::cmd("UNLINK").arg(&keys).query_async(&mut connection).await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

pub(crate) async fn open_queue(url: &str, prefix: &str) -> Result<Arc<RedisJobQueue>, jobs::ConfigError> {
    let options = RedisQueueOptions::default()
        .prefix(prefix)
        .visibility_timeout(Duration::from_secs(60));
    Ok(Arc::new(RedisJobQueue::connect(url, options).await?))
}

fn noop_job(n: u64) -> NewJob {
    Noop { n, sent_ns: 0 }.to_new_job().expect("the payload serializes")
}

/// Single-call enqueue: `producers` tasks each await one `enqueue` at a time.
pub(crate) async fn enqueue(url: &str, jobs: u64, producers: u64) -> Result<Figure, Box<dyn std::error::Error>> {
    let prefix = fresh_prefix("enqueue");
    let queue = open_queue(url, &prefix).await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for producer in 0..producers {
        let queue = queue.clone();
        let share = jobs / producers + u64::from(producer < jobs % producers);
        tasks.push(tokio::spawn(async move {
            for n in 0..share {
                queue.enqueue(noop_job(n)).await?;
            }
            Ok::<(), jobs::EnqueueError>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed();
    delete_prefix(url, &prefix).await?;
    Ok(Figure {
        figure: "enqueue",
        concurrency: Some(producers as usize),
        jobs,
        jobs_per_s: Some(jobs as f64 / elapsed.as_secs_f64()),
        ..Figure::default()
    })
}

/// Batched enqueue: `enqueue_many` with `PIPELINE` jobs per call.
pub(crate) async fn enqueue_batch(url: &str, jobs: u64) -> Result<Figure, Box<dyn std::error::Error>> {
    let prefix = fresh_prefix("enqueue_batch");
    let queue = open_queue(url, &prefix).await?;
    let started = Instant::now();
    fill(&queue, jobs).await?;
    let elapsed = started.elapsed();
    delete_prefix(url, &prefix).await?;
    Ok(Figure {
        figure: "enqueue_batch",
        jobs,
        jobs_per_s: Some(jobs as f64 / elapsed.as_secs_f64()),
        ..Figure::default()
    })
}

/// Enqueues `jobs` no-op jobs in batches.
pub(crate) async fn fill(queue: &RedisJobQueue, jobs: u64) -> Result<(), jobs::EnqueueError> {
    let mut next = 0;
    while next < jobs {
        let end = (next + PIPELINE).min(jobs);
        queue.enqueue_many((next..end).map(noop_job).collect()).await?;
        next = end;
    }
    Ok(())
}

/// Processing: a worker at `concurrency` drains a pre-filled queue of `jobs`.
pub(crate) async fn process(url: &str, jobs: u64, concurrency: usize) -> Result<Figure, Box<dyn std::error::Error>> {
    let prefix = fresh_prefix("process");
    let queue = open_queue(url, &prefix).await?;
    fill(&queue, jobs).await?;

    let elapsed = drain(queue, jobs, concurrency).await?;
    delete_prefix(url, &prefix).await?;
    Ok(Figure {
        figure: "process",
        concurrency: Some(concurrency),
        jobs,
        jobs_per_s: Some(jobs as f64 / elapsed.as_secs_f64()),
        ..Figure::default()
    })
}

/// Runs a worker until `jobs` attempts succeeded and returns how long that took.
pub(crate) async fn drain(
    queue: Arc<RedisJobQueue>,
    jobs: u64,
    concurrency: usize,
) -> Result<Duration, Box<dyn std::error::Error>> {
    let done = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(Notify::new());
    let (counter, signal) = (done.clone(), finished.clone());
    let started = Instant::now();
    let worker = WorkerRunner::from_shared(queue, Arc::new(Registry::from_inventory()?))
        .concurrency(concurrency)
        .poll_interval(Duration::from_millis(5))
        .on_event(move |event| {
            if event.outcome == jobs::JobOutcome::Succeeded && counter.fetch_add(1, Ordering::Relaxed) + 1 == jobs {
                signal.notify_one();
            }
        })
        .start();
    finished.notified().await;
    let elapsed = started.elapsed();
    worker.stop(Duration::from_secs(5)).await;
    Ok(elapsed)
}
