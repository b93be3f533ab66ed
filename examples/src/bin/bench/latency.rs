//! Enqueue-to-start latency on an idle queue.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jobs::{JobPayload, Registry, WorkerRunner};

use crate::Noop;
use crate::figure::Figure;
use crate::throughput::{delete_prefix, fresh_prefix, open_queue};

static SAMPLES: Mutex<Vec<u64>> = Mutex::new(Vec::new());

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_nanos() as u64
}

/// Records the time since `sent_ns`; the handler calls it when it starts.
pub(crate) fn record(sent_ns: u64) {
    let waited = now_ns().saturating_sub(sent_ns);
    SAMPLES
        .lock()
        .expect("no handler panics while holding the lock")
        .push(waited);
}

/// Enqueues `jobs` jobs one at a time, `gap` apart, to an idle worker, and
/// reports the time from each enqueue call to its handler's start.
pub(crate) async fn measure(url: &str, jobs: u64, gap: Duration) -> Result<Figure, Box<dyn std::error::Error>> {
    let prefix = fresh_prefix("latency");
    let queue = open_queue(url, &prefix).await?;
    SAMPLES.lock().unwrap().clear();
    let worker = WorkerRunner::from_shared(queue.clone(), std::sync::Arc::new(Registry::from_inventory()?))
        .concurrency(16)
        .start();
    tokio::time::sleep(Duration::from_millis(500)).await;

    for n in 0..jobs {
        Noop { n, sent_ns: now_ns() }.enqueue(&*queue).await?;
        tokio::time::sleep(gap).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while (SAMPLES.lock().unwrap().len() as u64) < jobs && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    worker.stop(Duration::from_secs(5)).await;
    delete_prefix(url, &prefix).await?;

    let mut samples = SAMPLES.lock().unwrap().clone();
    samples.sort_unstable();
    let millis = |ns: u64| ns as f64 / 1e6;
    let at = |quantile: f64| samples[((samples.len() - 1) as f64 * quantile).round() as usize];
    if samples.len() as u64 != jobs {
        return Err(format!("only {} of {jobs} latency jobs ran within 30 s", samples.len()).into());
    }
    Ok(Figure {
        figure: "latency",
        concurrency: Some(16),
        jobs,
        p50_ms: Some(millis(at(0.50))),
        p99_ms: Some(millis(at(0.99))),
        max_ms: Some(millis(*samples.last().expect("at least one sample"))),
        ..Figure::default()
    })
}
