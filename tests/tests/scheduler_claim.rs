//! Schedulers that share a queue enqueue each job once per slot in total:
//! each slot is claimed with `JobQueue::claim_once` before the enqueue.
//!
//! Every test runs its schedulers for about 2 s with a 200 ms interval, so
//! about 10 slots pass. Each checks that the queue contains at most one job per
//! slot that passed, plus one, where three schedulers without claims would
//! have enqueued about 30.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jobs::queue::DynQueue;
use jobs::queue::redis::{RedisJobQueue, RedisQueueOptions};
use jobs::{InMemoryJobQueue, JobQueue, NewJob, Scheduler};
use jobs_tests::RedisServer;
use jobs_tests::process::terminate;
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use serde_json::json;
use tokio_util::sync::CancellationToken;

const EVERY: Duration = Duration::from_millis(200);
const RUN_FOR: Duration = Duration::from_secs(2);

async fn connect(server: &RedisServer, prefix: &str) -> DynQueue {
    let options = RedisQueueOptions::default().prefix(prefix);
    let queue = RedisJobQueue::connect(&server.url(), options)
        .await
        .expect("connect to the test Redis");
    Arc::new(queue)
}

async fn raw_connection(server: &RedisServer) -> MultiplexedConnection {
    redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("open a plain connection to the test Redis")
}

/// Returns the slot of `EVERY` in progress now, numbered as the scheduler numbers it.
fn current_slot() -> u128 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    since_epoch.as_nanos() / EVERY.as_nanos()
}

/// Runs one scheduler per queue, each with the same `heartbeat` job every
/// `EVERY`, for `RUN_FOR`. Returns the number of slots that started meanwhile.
async fn run_schedulers(queues: &[DynQueue]) -> u64 {
    let first_slot = current_slot();
    let stop = CancellationToken::new();
    let mut running = Vec::new();
    for queue in queues {
        let mut scheduler = Scheduler::new(queue.clone());
        scheduler.add_job("heartbeat", EVERY, NewJob::new("heartbeat", json!({})));
        running.push(tokio::spawn(scheduler.run(stop.clone())));
    }

    tokio::time::sleep(RUN_FOR).await;
    stop.cancel();
    for scheduler in running {
        scheduler.await.expect("the scheduler task panicked");
    }
    u64::try_from(current_slot() - first_slot).unwrap()
}

async fn queued_jobs(queue: &DynQueue) -> u64 {
    let stats = queue.stats().await.expect("stats");
    stats.ready + stats.delayed + stats.processing
}

/// Checks that `jobs` is at most one per slot, plus one, and that the
/// schedulers enqueued at all.
fn assert_once_per_slot(jobs: u64, slots: u64) {
    assert!(slots >= 5, "only {slots} slots of {EVERY:?} passed in {RUN_FOR:?}");
    assert!(jobs <= slots + 1, "{jobs} jobs enqueued in {slots} slots");
    assert!(jobs >= slots / 2, "only {jobs} jobs enqueued in {slots} slots");
}

#[tokio::test]
async fn redis_schedulers_share_one_prefix() {
    let server = RedisServer::start();
    let mut queues = Vec::new();
    for _ in 0..3 {
        queues.push(connect(&server, "{shared}").await);
    }

    let slots = run_schedulers(&queues).await;

    let jobs = queued_jobs(&queues[0]).await;
    assert_once_per_slot(jobs, slots);
    let mut raw = raw_connection(&server).await;
    let claims: Vec<String> = raw.keys("{shared}:schedule:heartbeat:*").await.unwrap();
    assert_eq!(claims.len() as u64, jobs, "one claim per enqueued job: {claims:?}");
}

#[tokio::test]
async fn memory_schedulers_share_one_queue() {
    let queue: DynQueue = Arc::new(InMemoryJobQueue::new());
    let queues = vec![queue.clone(), queue.clone(), queue.clone()];

    let slots = run_schedulers(&queues).await;

    assert_once_per_slot(queued_jobs(&queue).await, slots);
}

#[tokio::test]
async fn separate_prefixes_do_not_block_each_other() {
    let server = RedisServer::start();
    let first = connect(&server, "first").await;
    let second = connect(&server, "second").await;

    let slots = run_schedulers(&[first.clone(), second.clone()]).await;

    assert_once_per_slot(queued_jobs(&first).await, slots);
    assert_once_per_slot(queued_jobs(&second).await, slots);
}

#[tokio::test]
async fn redis_claim_once_until_ttl() {
    let server = RedisServer::start();
    let queue = connect(&server, "{claims}").await;
    let other_process = connect(&server, "{claims}").await;
    let ttl = Duration::from_millis(300);

    assert!(queue.claim_once("report:7", ttl).await.unwrap());
    assert!(!other_process.claim_once("report:7", ttl).await.unwrap());
    assert!(
        !queue.claim_once("report:7", ttl).await.unwrap(),
        "the first caller too sees the claim"
    );
    assert!(other_process.claim_once("report:8", ttl).await.unwrap());

    let mut raw = raw_connection(&server).await;
    let remaining_ms: i64 = raw.pttl("{claims}:schedule:report:7").await.unwrap();
    assert!(
        (1..=300).contains(&remaining_ms),
        "the claim key expires with the ttl, but PTTL is {remaining_ms}"
    );

    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    assert!(
        other_process.claim_once("report:7", ttl).await.unwrap(),
        "an expired claim can be taken again"
    );
}

fn spawn_worker(server: &RedisServer, schedule: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_crash_worker"))
        .args(["run", "--poll-interval", "50ms"])
        .env("JOBS_DRIVER", "redis")
        .env("REDIS_URL", server.url())
        .env("JOBS_SCHEDULE_JSON", schedule)
        .env("RUST_LOG", "warn")
        .env_remove("JOBS_REDIS_PREFIX")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start crash_worker")
}

#[tokio::test]
async fn worker_processes_enqueue_once_per_slot() {
    let server = RedisServer::start();
    let file = std::env::temp_dir().join(format!("jobs-scheduler-claim-{}.log", std::process::id()));
    let schedule = json!([{
        "name": "heartbeat",
        "interval_seconds": EVERY.as_secs_f64(),
        "job_name": "record",
        "payload": {"file": file, "sleep_ms": 0},
    }])
    .to_string();

    let first_slot = current_slot();
    let mut workers: Vec<Child> = (0..3).map(|_| spawn_worker(&server, &schedule)).collect();
    tokio::time::sleep(RUN_FOR).await;
    for worker in &mut workers {
        terminate(worker);
    }
    let slots = u64::try_from(current_slot() - first_slot).unwrap();
    let _ = std::fs::remove_file(&file);

    let mut raw = raw_connection(&server).await;
    let enqueued: Option<u64> = raw.get("jobs:seq").await.unwrap();
    let enqueued = enqueued.expect("the workers enqueued no job");
    assert!(enqueued <= slots + 1, "{enqueued} jobs enqueued in {slots} slots");
    assert!(enqueued >= 2, "only {enqueued} jobs enqueued in {slots} slots");
}
