//! The Redis dead-letter queue's size limit and one-job reads, checked on the
//! keys: which dead jobs go, how many one script call deletes, and the
//! warning that counts them.

use std::time::Duration;

use jobs::queue::redis::{RedisJobQueue, RedisQueueOptions};
use jobs::{FailOutcome, Failure, JobQueue, NewJob};
use jobs_tests::RedisServer;
use jobs_tests::logs::CapturedLogs;
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use serde_json::json;

async fn open(server: &RedisServer, options: RedisQueueOptions) -> (RedisJobQueue, MultiplexedConnection) {
    let queue = RedisJobQueue::connect(&server.url(), options)
        .await
        .expect("connect to the test Redis");
    let raw = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    (queue, raw)
}

/// Enqueues one job and fails it permanently; returns its id.
async fn kill_one(queue: &RedisJobQueue, n: usize) -> String {
    let job = queue.enqueue(NewJob::new("doomed", json!({ "n": n }))).await.unwrap();
    let reserved = queue.reserve().await.unwrap().expect("the job is due");
    let failure = Failure::Permanent {
        error: format!("failure {n}"),
    };
    assert_eq!(
        queue.fail(&reserved.lease, failure).await.unwrap(),
        FailOutcome::DeadLettered
    );
    job.id
}

/// Writes `count` dead jobs straight into Redis, oldest first, as svc-infra
/// workers leave them: a hash without `died_at`, and the id in the queue.
async fn write_dead_jobs(raw: &mut MultiplexedConnection, count: usize) {
    for n in 0..count {
        let id = format!("old-{n}");
        let () = raw
            .hset_multiple(format!("jobs:job:{id}"), &[("name", "old"), ("attempts", "5")])
            .await
            .unwrap();
        let () = raw.lpush("jobs:dlq", &id).await.unwrap();
    }
}

async fn dead_count(raw: &mut MultiplexedConnection) -> usize {
    raw.llen("jobs:dlq").await.unwrap()
}

#[tokio::test]
async fn limit_drops_oldest_and_logs_count() {
    let server = RedisServer::start();
    let (queue, mut raw) = open(&server, RedisQueueOptions::default().dead_letter_limit(3)).await;
    let (logs, _guard) = CapturedLogs::scoped();

    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(kill_one(&queue, n).await);
    }

    let kept: Vec<String> = raw.lrange("jobs:dlq", 0, -1).await.unwrap();
    assert_eq!(
        kept,
        [ids[4].clone(), ids[3].clone(), ids[2].clone()],
        "the newest three are kept"
    );
    for dropped in &ids[..2] {
        let exists: bool = raw.exists(format!("jobs:job:{dropped}")).await.unwrap();
        assert!(!exists, "the hash of dropped job {dropped} is left");
    }
    let log = logs.text();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("dead-letter queue over its limit"))
        .collect();
    assert_eq!(warnings.len(), 2, "{log}");
    for warning in warnings {
        assert!(warning.contains("WARN"), "{warning}");
        assert!(warning.contains("dropped=1"), "{warning}");
        assert!(warning.contains("limit=3"), "{warning}");
    }
}

#[tokio::test]
async fn one_call_deletes_at_most_a_batch() {
    let server = RedisServer::start();
    let (queue, mut raw) = open(&server, RedisQueueOptions::default().dead_letter_limit(10)).await;
    write_dead_jobs(&mut raw, 250).await;

    // Each dead-lettering call deletes its own job's share plus at most 100
    // more, so a queue far over its limit shrinks over several calls.
    kill_one(&queue, 0).await;
    assert_eq!(dead_count(&mut raw).await, 150);
    kill_one(&queue, 1).await;
    assert_eq!(dead_count(&mut raw).await, 50);
    kill_one(&queue, 2).await;
    assert_eq!(dead_count(&mut raw).await, 10);

    let oldest_kept: Vec<String> = raw.lrange("jobs:dlq", -1, -1).await.unwrap();
    assert_eq!(oldest_kept, ["old-243"]);
    let job_keys: Vec<String> = raw.keys("jobs:job:*").await.unwrap();
    assert_eq!(job_keys.len(), 10, "the dropped jobs' hashes are deleted");
}

#[tokio::test]
async fn reserve_trims_after_lease_expiry() {
    let server = RedisServer::start();
    let options = RedisQueueOptions::default()
        .dead_letter_limit(10)
        .visibility_timeout(Duration::from_millis(200));
    let (queue, mut raw) = open(&server, options).await;
    write_dead_jobs(&mut raw, 20).await;
    queue
        .enqueue(NewJob::new("crasher", json!({})).max_attempts(1))
        .await
        .unwrap();
    queue.reserve().await.unwrap().expect("the job is due");
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The lease expired on the last attempt, so this reserve dead-letters the job.
    assert!(queue.reserve().await.unwrap().is_none());

    assert_eq!(dead_count(&mut raw).await, 10);
    let newest: Vec<String> = raw.lrange("jobs:dlq", 0, 0).await.unwrap();
    assert_eq!(newest, ["1"]);
}

#[tokio::test]
async fn dead_job_reads_deep_and_foreign_entries() {
    let server = RedisServer::start();
    let (queue, mut raw) = open(&server, RedisQueueOptions::default()).await;
    write_dead_jobs(&mut raw, 5000).await;
    let () = raw.lpush("jobs:dlq", "no-hash").await.unwrap();

    let oldest = queue
        .dead_job("old-0")
        .await
        .unwrap()
        .expect("the oldest dead job is found");

    assert_eq!(oldest.job.name, "old");
    assert_eq!(oldest.job.attempts, 5);
    assert_eq!(oldest.died_at, None, "svc-infra records no time of death");
    assert_eq!(queue.dead_job("no-hash").await.unwrap(), None);
    assert_eq!(queue.dead_job("absent").await.unwrap(), None);
}
