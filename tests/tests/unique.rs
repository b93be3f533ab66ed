//! Unique keys as Redis stores them: one `{p}:unique:{key}` string per key,
//! holding the job id, with no expiry while the job is queued and the lease
//! deadline as expiry while it runs. The shared suite checks the behaviour on
//! every backend; these tests read the keys back.

use std::time::Duration;

use jobs::queue::redis::{RedisJobQueue, RedisQueueOptions};
use jobs::{Enqueued, Failure, JobQueue, LeaseOutcome, NewJob};
use jobs_tests::RedisServer;
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use serde_json::json;

const PREFIX: &str = "{q}";
const LOCK: &str = "{q}:unique:invoice-42";

async fn open(server: &RedisServer) -> (RedisJobQueue, MultiplexedConnection) {
    let options = RedisQueueOptions::default()
        .prefix(PREFIX)
        .visibility_timeout(Duration::from_secs(30));
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

fn invoice() -> NewJob {
    NewJob::new("invoice", json!({"invoice": 42})).unique_key("invoice-42")
}

/// Returns the lock's expiry in epoch milliseconds: -1 for none, -2 when the lock is missing.
async fn expiry_ms(raw: &mut MultiplexedConnection) -> i64 {
    redis::cmd("PEXPIRETIME")
        .arg(LOCK)
        .query_async(raw)
        .await
        .expect("PEXPIRETIME")
}

/// Returns the lease deadline of job `id` in epoch milliseconds, from `{p}:processing_vt`.
async fn lease_deadline_ms(raw: &mut MultiplexedConnection, id: &str) -> i64 {
    let seconds: f64 = raw.zscore("{q}:processing_vt", id).await.unwrap();
    (seconds * 1000.0).round() as i64
}

#[tokio::test]
async fn lock_follows_job_through_its_states() {
    let server = RedisServer::start();
    let (queue, mut raw) = open(&server).await;

    let Enqueued::Created(job) = queue.enqueue_unique(invoice()).await.unwrap() else {
        panic!("the first job is created");
    };
    let holder: String = raw.get(LOCK).await.unwrap();
    assert_eq!(holder, job.id);
    let stored: String = raw.hget(format!("{{q}}:job:{}", job.id), "unique_key").await.unwrap();
    assert_eq!(stored, "invoice-42");
    assert_eq!(expiry_ms(&mut raw).await, -1, "a queued job's key does not expire");

    let reserved = queue.reserve().await.unwrap().unwrap();
    let deadline = lease_deadline_ms(&mut raw, &job.id).await;
    assert_eq!(
        expiry_ms(&mut raw).await,
        deadline,
        "a running job's key expires with its lease"
    );

    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(queue.extend_lease(&reserved.lease).await.unwrap(), LeaseOutcome::Done);
    let renewed = lease_deadline_ms(&mut raw, &job.id).await;
    assert!(renewed > deadline);
    assert_eq!(expiry_ms(&mut raw).await, renewed, "the key is renewed with the lease");

    let failure = Failure::Retry {
        error: "later".into(),
        delay: Duration::from_secs(60),
    };
    queue.fail(&reserved.lease, failure).await.unwrap();
    assert_eq!(
        expiry_ms(&mut raw).await,
        -1,
        "a job waiting for its retry keeps its key"
    );

    let again = queue.reserve_many(1).await.unwrap();
    assert!(again.is_empty(), "the retry is not due yet");
    let () = raw.zadd("{q}:delayed", &job.id, 0).await.unwrap();
    let retried = queue.reserve().await.unwrap().expect("the retry is due");
    assert_eq!(queue.ack(&retried.lease).await.unwrap(), LeaseOutcome::Done);
    assert_eq!(expiry_ms(&mut raw).await, -2, "ack deletes the key");
}

#[tokio::test]
async fn lock_of_vanished_job_is_replaced() {
    let server = RedisServer::start();
    let (queue, mut raw) = open(&server).await;
    let Enqueued::Created(first) = queue.enqueue_unique(invoice()).await.unwrap() else {
        panic!("the first job is created");
    };
    // A svc-infra worker acks the job: it deletes the hash and its list
    // entries and leaves the lock, which it does not read.
    let () = raw.del(format!("{{q}}:job:{}", first.id)).await.unwrap();
    let () = raw.lrem("{q}:ready", 0, &first.id).await.unwrap();

    let second = queue.enqueue_unique(invoice()).await.unwrap();

    let Enqueued::Created(second) = second else {
        panic!("a lock whose job is gone blocked a new job: {second:?}");
    };
    let holder: String = raw.get(LOCK).await.unwrap();
    assert_eq!(holder, second.id);
}

#[tokio::test]
async fn lock_released_when_reserve_dead_letters() {
    let server = RedisServer::start();
    let (queue, mut raw) = open(&server).await;
    queue.enqueue_unique(invoice().max_attempts(1)).await.unwrap();
    let () = redis::cmd("HSET")
        .arg("{q}:job:1")
        .arg("attempts")
        .arg("1")
        .query_async(&mut raw)
        .await
        .unwrap();

    // The job has used its only attempt, so reserve dead-letters it.
    assert!(queue.reserve().await.unwrap().is_none());

    assert_eq!(expiry_ms(&mut raw).await, -2, "the dead job's key is released");
    assert!(queue.dead_job("1").await.unwrap().is_some());
}
