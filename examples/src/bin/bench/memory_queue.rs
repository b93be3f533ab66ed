//! The in-memory queue alone, with no worker: batched enqueue, reserve and
//! ack on one core.

use std::time::{Duration, Instant};

use jobs::queue::memory::InMemoryJobQueue;
use jobs::{JobPayload, JobQueue, Lease};

use crate::Noop;
use crate::figure::Figure;

/// Jobs per `enqueue_many`, `reserve_many` and `ack_many` call.
const BATCH: u64 = 1_000;

/// Enqueues `jobs` in batches, then reserves and acks them in batches, on a
/// single-threaded runtime on a thread of its own. Reports `jobs` divided by
/// the time of all three steps, so it measures the queue's bookkeeping
/// without task spawns, handlers or lease renewal.
pub(crate) fn measure(jobs: u64) -> Result<Figure, Box<dyn std::error::Error + Send + Sync>> {
    let elapsed = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(enqueue_reserve_ack(jobs))
    })
    .join()
    .map_err(|_| "the in-memory queue benchmark thread panicked")??;
    Ok(Figure {
        figure: "memory_queue",
        concurrency: None,
        jobs,
        jobs_per_s: Some(jobs as f64 / elapsed.as_secs_f64()),
        ..Figure::default()
    })
}

async fn enqueue_reserve_ack(jobs: u64) -> Result<Duration, Box<dyn std::error::Error + Send + Sync>> {
    let queue = InMemoryJobQueue::new();
    let mut batches = Vec::new();
    for start in (0..jobs).step_by(BATCH as usize) {
        let batch = (start..jobs.min(start + BATCH))
            .map(|n| Noop { n, sent_ns: 0 }.to_new_job())
            .collect::<Result<Vec<_>, _>>()?;
        batches.push(batch);
    }

    let started = Instant::now();
    for batch in batches {
        queue.enqueue_many(batch).await?;
    }
    let mut acked = 0;
    while acked < jobs {
        let leases: Vec<Lease> = queue
            .reserve_many(BATCH as usize)
            .await?
            .into_iter()
            .map(|reserved| reserved.lease)
            .collect();
        if leases.is_empty() {
            return Err(format!("the queue ran out of jobs after {acked} of {jobs} were acked").into());
        }
        acked += queue.ack_many(&leases).await?.len() as u64;
    }
    Ok(started.elapsed())
}
