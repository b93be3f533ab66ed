//! Enqueues four typed jobs, runs a worker until each is settled, and prints
//! what happened to each.
//!
//! ```text
//! cargo run -p examples --bin quickstart
//! JOBS_DRIVER=redis REDIS_URL=redis://127.0.0.1:6379/0 cargo run -p examples --bin quickstart
//! ```
//!
//! The last line counts the jobs that succeeded, the retries that were
//! scheduled and the jobs that ended in the dead-letter queue. Logs are off
//! unless `RUST_LOG` sets a filter, such as `RUST_LOG=info`.
//!
//! On Redis it uses the key prefix `jobs-quickstart` unless `JOBS_REDIS_PREFIX`
//! is set, so it never takes jobs queued by an application under `jobs`.

use std::collections::HashMap;
use std::error::Error;
use std::time::{Duration, Instant};

use examples::demo::{ChargeCard, ResizeImage, SendReminder, SyncInventory};
use jobs::config::REDIS_PREFIX_ENV;
use jobs::{JobEvent, JobOutcome, JobPayload, JobsConfig, Registry, WorkerRunner};
use tokio::sync::mpsc;

const REMINDER_DELAY: Duration = Duration::from_secs(3);
const SETTLE_LIMIT: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
struct Tally {
    succeeded: usize,
    retried: usize,
    dead_lettered: usize,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "off".into()))
        .init();

    let mut config = JobsConfig::from_env()?;
    if std::env::var_os(REDIS_PREFIX_ENV).is_none() {
        config.redis_prefix = "jobs-quickstart".to_owned();
    }
    let queue = config.connect().await?;
    println!("driver: {}", format!("{:?}", config.driver).to_lowercase());

    let started = Instant::now();
    let mut pending = HashMap::new();
    for job in [
        ResizeImage {
            path: "cat.png".into(),
            width: 640,
        }
        .enqueue(&queue)
        .await?,
        SyncInventory {
            warehouse: "LIS-2".into(),
        }
        .enqueue(&queue)
        .await?,
        ChargeCard {
            card: "tok_4242".into(),
            cents: 1299,
        }
        .enqueue(&queue)
        .await?,
        SendReminder { user_id: 42 }.enqueue_in(&queue, REMINDER_DELAY).await?,
    ] {
        println!("enqueued job {} {}", job.id, job.name);
        pending.insert(job.id.clone(), job.name.clone());
    }

    let (sender, mut events) = mpsc::unbounded_channel::<JobEvent>();
    let worker = WorkerRunner::new(queue, Registry::from_inventory()?)
        .concurrency(4)
        .poll_interval(Duration::from_millis(100))
        .on_event(move |event| {
            let _ = sender.send(event.clone());
        })
        .start();

    let mut tally = Tally::default();
    let deadline = tokio::time::Instant::now() + SETTLE_LIMIT;
    while !pending.is_empty() {
        let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await else {
            worker.stop(Duration::from_secs(1)).await;
            return Err(format!("jobs not settled within {SETTLE_LIMIT:?}: {pending:?}").into());
        };
        if !pending.contains_key(&event.job_id) {
            continue;
        }
        println!("{}", describe(&event, started));
        match event.outcome {
            JobOutcome::Succeeded => tally.succeeded += 1,
            JobOutcome::Retrying { .. } => tally.retried += 1,
            JobOutcome::DeadLettered { .. } => tally.dead_lettered += 1,
            _ => {}
        }
        if matches!(event.outcome, JobOutcome::Succeeded | JobOutcome::DeadLettered { .. }) {
            pending.remove(&event.job_id);
        }
    }
    worker.stop(Duration::from_secs(5)).await;

    println!(
        "summary: succeeded={} retried={} dead_lettered={}",
        tally.succeeded, tally.retried, tally.dead_lettered
    );
    Ok(())
}

/// One line per attempt: `+1.02s job 2 sync_inventory attempt 1/5: retrying in 1s: ...`.
fn describe(event: &JobEvent, started: Instant) -> String {
    let what = match &event.outcome {
        JobOutcome::Succeeded => "succeeded".to_owned(),
        JobOutcome::Retrying { error, at } => {
            let wait = (*at - chrono::Utc::now()).num_milliseconds().max(0) as f64 / 1000.0;
            format!("failed, retrying in {wait:.1}s: {error}")
        }
        JobOutcome::DeadLettered { error } => format!("failed, moved to the dead-letter queue: {error}"),
        other => format!("{other:?}"),
    };
    format!(
        "+{:.2}s job {} {} attempt {}/{}: {what}",
        started.elapsed().as_secs_f64(),
        event.job_id,
        event.name,
        event.attempt,
        event.max_attempts
    )
}
