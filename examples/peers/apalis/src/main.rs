//! The apalis + apalis-redis side of examples/peers/run.sh.
//!
//! ```text
//! apalis-peer REDIS_URL enqueue|enqueue_bulk|process JOBS [CONCURRENCY]
//! ```
//!
//! Prints one line: `apalis <figure> <concurrency> <jobs> <jobs per second>`.
//! CONCURRENCY is the number of producer tasks for `enqueue` and the worker
//! concurrency for `process`. `process` first fills the queue with `push_bulk` and then times a worker
//! with a no-op handler until it has run every job.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use apalis::prelude::*;
use apalis_redis::{Config, RedisStorage};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Noop {
    n: u64,
}

static DONE: AtomicU64 = AtomicU64::new(0);
static TARGET: OnceLock<u64> = OnceLock::new();
static FINISHED: Mutex<Option<Instant>> = Mutex::new(None);

async fn noop(_job: Noop, worker: WorkerContext) -> Result<(), BoxDynError> {
    if DONE.fetch_add(1, Ordering::Relaxed) + 1 == *TARGET.get().expect("the job count is set") {
        *FINISHED.lock().expect("the lock is never poisoned") = Some(Instant::now());
        worker.stop()?;
    }
    Ok(())
}

async fn fill(storage: &mut RedisStorage<Noop>, jobs: u64) -> Result<(), Box<dyn std::error::Error>> {
    let mut next = 0;
    while next < jobs {
        let end = (next + 1_000).min(jobs);
        storage.push_bulk((next..end).map(|n| Noop { n }).collect()).await?;
        next = end;
    }
    Ok(())
}

/// Single-call enqueue: `producers` tasks, each with its own clone of the
/// storage, push their share of the jobs one `push` at a time.
async fn enqueue(
    storage: &RedisStorage<Noop>,
    jobs: u64,
    producers: usize,
) -> Result<Duration, Box<dyn std::error::Error>> {
    let producers = producers as u64;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for producer in 0..producers {
        let mut storage = storage.clone();
        let share = jobs / producers + u64::from(producer < jobs % producers);
        tasks.push(tokio::spawn(async move {
            for n in 0..share {
                storage.push(Noop { n }).await.map_err(|error| error.to_string())?;
            }
            Ok::<(), String>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(started.elapsed())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: apalis-peer REDIS_URL enqueue|enqueue_bulk|process JOBS [CONCURRENCY]";
    let (url, figure, jobs) = match &args[1..] {
        [url, figure, jobs, ..] => (url.clone(), figure.as_str(), jobs.parse::<u64>()?),
        _ => return Err(usage.into()),
    };
    let concurrency: usize = args.get(4).map(|c| c.parse()).transpose()?.unwrap_or(1);
    let queue = format!("apalis-peer-{figure}-{concurrency}-{}", std::process::id());
    let connection = apalis_redis::connect(url).await?;
    let mut storage = RedisStorage::<Noop>::new(connection).with_config(Config::default().queue(&queue));

    let elapsed = match figure {
        "enqueue" => enqueue(&storage, jobs, concurrency).await?,
        "enqueue_bulk" => {
            let started = Instant::now();
            fill(&mut storage, jobs).await?;
            started.elapsed()
        }
        "process" => {
            fill(&mut storage, jobs).await?;
            TARGET.set(jobs).expect("the job count is set once");
            let worker = WorkerBuilder::new(format!("peer-{concurrency}"))
                .backend(storage)
                .concurrency(concurrency)
                .build(noop);
            let started = Instant::now();
            tokio::time::timeout(Duration::from_secs(600), worker.run()).await??;
            let finished = FINISHED.lock().expect("the lock is never poisoned").take();
            finished.ok_or("the worker stopped before it ran every job")? - started
        }
        other => return Err(format!("unknown figure `{other}`; {usage}").into()),
    };
    println!(
        "apalis {figure} {concurrency} {jobs} {:.0}",
        jobs as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
