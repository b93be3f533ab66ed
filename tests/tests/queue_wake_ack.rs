//! Waking idle workers and acking many leases at once, on every backend.

use std::time::{Duration, Instant};

use jobs::{JobQueue, LeaseOutcome, NewJob, QueueStats};
use jobs_tests::{Backend, TestQueue, backend_tests};
use serde_json::json;
use tokio::task::JoinSet;

const LONG_LEASE: Duration = Duration::from_secs(30);
const SHORT_LEASE: Duration = Duration::from_millis(400);

/// Far longer than any wake-up takes, so a wait that runs this long means
/// the enqueue did not wake the waiter.
const LONG_WAIT: Duration = Duration::from_secs(20);

/// How soon after an enqueue the waiter must return. The Redis queue ends
/// each blocking call after half its response timeout (5 s by default), so a
/// waiter that returns within 1 s was woken by the enqueue, not by the end
/// of its block.
const WAKE_BOUND: Duration = Duration::from_secs(1);

fn job(n: usize) -> NewJob {
    NewJob::new("a", json!({ "n": n }))
}

backend_tests!(
    enqueue_wakes_idle_waiter,
    wait_returns_at_once_when_ready,
    ack_many_settles_held_leases,
    ack_many_reports_stale_leases_lost,
    concurrent_acks_settle_every_job,
);

async fn enqueue_wakes_idle_waiter(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = test.queue.clone();
    let waiter = tokio::spawn(async move {
        queue.wait_for_job(LONG_WAIT).await.unwrap();
        Instant::now()
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiter.is_finished(), "the waiter returned before any job was enqueued");

    let enqueued_at = Instant::now();
    test.queue.enqueue(job(1)).await.unwrap();

    let returned_at = tokio::time::timeout(LONG_WAIT, waiter)
        .await
        .expect("the waiter returns within its max wait")
        .unwrap();
    let woke_after = returned_at.saturating_duration_since(enqueued_at);
    assert!(
        woke_after < WAKE_BOUND,
        "the waiter returned {woke_after:?} after the enqueue"
    );
    assert!(test.queue.reserve().await.unwrap().is_some());
}

async fn wait_returns_at_once_when_ready(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    test.queue.enqueue(job(1)).await.unwrap();

    let waited = tokio::time::timeout(LONG_WAIT / 2, test.queue.wait_for_job(LONG_WAIT)).await;

    assert!(waited.expect("a ready job ends the wait").is_ok());
}

async fn ack_many_settles_held_leases(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;
    for n in 0..3 {
        queue.enqueue(job(n)).await.unwrap();
    }
    let reserved = queue.reserve_many(3).await.unwrap();
    let leases: Vec<_> = reserved.iter().map(|reserved| reserved.lease.clone()).collect();

    let outcomes = queue.ack_many(&leases).await.unwrap();

    assert_eq!(outcomes, vec![LeaseOutcome::Done; 3]);
    assert_eq!(queue.stats().await.unwrap(), QueueStats::default());
    for reserved in &reserved {
        assert_eq!(
            queue.job(&reserved.job.id).await.unwrap(),
            None,
            "job {}",
            reserved.job.id
        );
    }
}

async fn ack_many_reports_stale_leases_lost(backend: Backend) {
    let test = TestQueue::open(backend, SHORT_LEASE).await;
    let queue = &test.queue;
    queue.enqueue(job(1)).await.unwrap();
    queue.enqueue(job(2)).await.unwrap();
    let stale = queue.reserve().await.unwrap().unwrap();
    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(200)).await;
    let current = queue.reserve_many(2).await.unwrap();
    assert_eq!(current.len(), 2, "the expired job and the second job are both due");
    let redelivered = current.iter().find(|reserved| reserved.job.id == stale.job.id).unwrap();
    let other = current.iter().find(|reserved| reserved.job.id != stale.job.id).unwrap();

    let leases = [stale.lease.clone(), other.lease.clone()];
    let outcomes = queue.ack_many(&leases).await.unwrap();

    assert_eq!(outcomes, vec![LeaseOutcome::Lost, LeaseOutcome::Done]);
    let still_running = queue
        .job(&stale.job.id)
        .await
        .unwrap()
        .expect("the stale ack leaves the job");
    assert_eq!(still_running.attempts, 2);
    assert_eq!(queue.ack(&redelivered.lease).await.unwrap(), LeaseOutcome::Done);
    assert_eq!(queue.stats().await.unwrap(), QueueStats::default());
}

async fn concurrent_acks_settle_every_job(backend: Backend) {
    const JOBS: usize = 250;
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;
    queue.enqueue_many((0..JOBS).map(job).collect()).await.unwrap();
    let mut reserved = Vec::new();
    while reserved.len() < JOBS {
        let batch = queue.reserve_many(JOBS - reserved.len()).await.unwrap();
        assert!(!batch.is_empty(), "{} of {JOBS} jobs reserved", reserved.len());
        reserved.extend(batch);
    }
    let first_lease = reserved[0].lease.clone();

    let mut acks = JoinSet::new();
    for reserved in reserved {
        let queue = queue.clone();
        acks.spawn(async move { queue.ack(&reserved.lease).await.unwrap() });
    }
    let outcomes = acks.join_all().await;

    assert_eq!(outcomes.len(), JOBS);
    assert!(
        outcomes.iter().all(|outcome| *outcome == LeaseOutcome::Done),
        "{outcomes:?}"
    );
    assert_eq!(queue.stats().await.unwrap(), QueueStats::default());
    assert_eq!(
        queue.ack(&first_lease).await.unwrap(),
        LeaseOutcome::Lost,
        "a second ack finds no lease"
    );
}
