//! Behaviour of the Redis queue that the shared suite cannot see: the keys and
//! fields in Redis, hashes written by other producers, connection failures.
//!
//! Every test starts its own `redis-server` on a free loopback port and reads
//! the keys back through a plain `redis` connection.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jobs::queue::redis::{RedisJobQueue, RedisQueueOptions};
use jobs::{ConfigError, FailOutcome, Failure, JobQueue, LeaseOutcome, NewJob, Payload, QueueError};
use jobs_tests::RedisServer;
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use serde_json::json;
use tracing_subscriber::util::SubscriberInitExt;

const SHORT_LEASE: Duration = Duration::from_millis(300);

struct Fixture {
    server: RedisServer,
    queue: RedisJobQueue,
    raw: MultiplexedConnection,
}

async fn fixture(options: RedisQueueOptions) -> Fixture {
    let server = RedisServer::start();
    let queue = RedisJobQueue::connect(&server.url(), options)
        .await
        .expect("connect to the test Redis");
    let raw = raw_connection(&server).await;
    Fixture { server, queue, raw }
}

async fn default_fixture() -> Fixture {
    fixture(RedisQueueOptions::default()).await
}

async fn raw_connection(server: &RedisServer) -> MultiplexedConnection {
    redis::Client::open(server.url())
        .expect("parse the test URL")
        .get_multiplexed_async_connection()
        .await
        .expect("open a plain connection")
}

fn job(name: &str) -> NewJob {
    NewJob::new(name, json!({"n": 1}))
}

fn retry(error: &str, delay: Duration) -> Failure {
    Failure::Retry {
        error: error.to_owned(),
        delay,
    }
}

async fn hash(raw: &mut MultiplexedConnection, key: &str) -> HashMap<String, String> {
    raw.hgetall(key).await.expect("HGETALL")
}

async fn key_type(raw: &mut MultiplexedConnection, key: &str) -> String {
    redis::cmd("TYPE").arg(key).query_async(raw).await.expect("TYPE")
}

async fn job_keys(raw: &mut MultiplexedConnection, prefix: &str) -> Vec<String> {
    raw.keys(format!("{prefix}:job:*")).await.expect("KEYS")
}

#[tokio::test]
async fn enqueue_reserve_ack_deletes_job() {
    let Fixture {
        queue,
        mut raw,
        server: _server,
    } = default_fixture().await;

    let stored = queue.enqueue(job("send_email")).await.unwrap();
    assert_eq!(stored.id, "1");
    assert_eq!(stored.attempts, 0);

    let reserved = queue.reserve().await.unwrap().expect("a job is ready");
    assert_eq!(reserved.job.id, "1");
    assert_eq!(reserved.job.name, "send_email");
    assert_eq!(reserved.job.payload.to_value().unwrap(), json!({"n": 1}));
    assert_eq!(reserved.job.attempts, 1);
    assert_eq!(reserved.lease.visibility_timeout(), Duration::from_secs(60));

    assert_eq!(queue.ack(&reserved.lease).await.unwrap(), LeaseOutcome::Done);
    assert_eq!(queue.job("1").await.unwrap(), None);
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.ready, stats.delayed, stats.processing, stats.dead), (0, 0, 0, 0));
    let processing: Vec<String> = raw.lrange("jobs:processing", 0, -1).await.unwrap();
    assert!(processing.is_empty(), "{processing:?}");
}

#[tokio::test]
async fn delayed_job_not_reserved_before_due() {
    let Fixture {
        queue, server: _server, ..
    } = default_fixture().await;

    let delay = Duration::from_millis(300);
    queue.enqueue(job("later").delay(delay)).await.unwrap();

    assert!(queue.reserve().await.unwrap().is_none());
    assert_eq!(queue.stats().await.unwrap().delayed, 1);

    tokio::time::sleep(delay + Duration::from_millis(100)).await;
    let reserved = queue.reserve().await.unwrap().expect("the delay has passed");
    assert_eq!(reserved.job.name, "later");
}

#[tokio::test]
async fn wait_for_job_wakes_when_delayed_job_due() {
    let Fixture {
        queue, server: _server, ..
    } = default_fixture().await;
    queue
        .enqueue(job("later").delay(Duration::from_millis(300)))
        .await
        .unwrap();

    let started = Instant::now();
    queue.wait_for_job(Duration::from_secs(10)).await.unwrap();
    let waited = started.elapsed();

    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    assert!(queue.reserve().await.unwrap().is_some());
}

#[tokio::test]
async fn failed_job_retries_after_delay_with_error() {
    let Fixture {
        queue,
        mut raw,
        server: _server,
    } = default_fixture().await;
    queue.enqueue(job("flaky")).await.unwrap();

    let first = queue.reserve().await.unwrap().unwrap();
    let delay = Duration::from_millis(300);
    let outcome = queue.fail(&first.lease, retry("boom", delay)).await.unwrap();
    assert!(matches!(outcome, FailOutcome::Retrying { .. }), "{outcome:?}");

    assert!(queue.reserve().await.unwrap().is_none());
    let stored = hash(&mut raw, "jobs:job:1").await;
    assert_eq!(stored["last_error"], "boom");
    assert!(!stored.contains_key("lease"));
    assert!(!stored.contains_key("visible_at"));
    let due: Option<f64> = raw.zscore("jobs:delayed", "1").await.unwrap();
    assert!(due.is_some());

    tokio::time::sleep(delay + Duration::from_millis(100)).await;
    let second = queue.reserve().await.unwrap().expect("the retry is due");
    assert_eq!(second.job.attempts, 2);
    assert_eq!(second.job.last_error.as_deref(), Some("boom"));
}

#[tokio::test]
async fn exhausted_job_dead_lettered_with_last_error() {
    let Fixture {
        queue,
        mut raw,
        server: _server,
    } = default_fixture().await;
    queue.enqueue(job("doomed").max_attempts(2)).await.unwrap();

    let first = queue.reserve().await.unwrap().unwrap();
    let outcome = queue.fail(&first.lease, retry("first", Duration::ZERO)).await;
    assert!(matches!(outcome, Ok(FailOutcome::Retrying { .. })), "{outcome:?}");
    let second = queue.reserve().await.unwrap().expect("zero delay retries at once");
    let outcome = queue.fail(&second.lease, retry("second", Duration::ZERO)).await;
    assert_eq!(outcome.unwrap(), FailOutcome::DeadLettered);

    let dead = queue.dead_jobs(0, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].job.attempts, 2);
    assert_eq!(dead[0].job.max_attempts, 2);
    assert_eq!(dead[0].job.last_error.as_deref(), Some("second"));
    assert!(dead[0].died_at.is_some());

    let dlq: Vec<String> = raw.lrange("jobs:dlq", 0, -1).await.unwrap();
    assert_eq!(dlq, ["1"]);
    let stored = hash(&mut raw, "jobs:job:1").await;
    assert!(!stored.contains_key("lease"));
    assert!(stored.contains_key("died_at"));
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.ready, stats.delayed, stats.processing, stats.dead), (0, 0, 0, 1));
}

#[tokio::test]
async fn permanent_failure_dead_letters_with_attempts_left() {
    let Fixture {
        queue, server: _server, ..
    } = default_fixture().await;
    queue.enqueue(job("bad_input")).await.unwrap();
    let reserved = queue.reserve().await.unwrap().unwrap();

    let failure = Failure::Permanent {
        error: "payload rejected".to_owned(),
    };
    let outcome = queue.fail(&reserved.lease, failure).await.unwrap();

    assert_eq!(outcome, FailOutcome::DeadLettered);
    let dead = queue.dead_jobs(0, 10).await.unwrap();
    assert_eq!(dead[0].job.last_error.as_deref(), Some("payload rejected"));
}

#[tokio::test]
async fn expired_lease_requeues_job() {
    let Fixture {
        queue,
        mut raw,
        server: _server,
    } = fixture(RedisQueueOptions::default().visibility_timeout(SHORT_LEASE)).await;
    queue.enqueue(job("slow")).await.unwrap();
    let first = queue.reserve().await.unwrap().unwrap();
    assert_eq!(first.lease.visibility_timeout(), SHORT_LEASE);

    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(100)).await;
    let second = queue.reserve().await.unwrap().expect("the lease expired");

    assert_eq!(second.job.id, first.job.id);
    assert_eq!(second.job.attempts, 2);
    assert_ne!(second.lease.token(), first.lease.token());
    let processing: Vec<String> = raw.lrange("jobs:processing", 0, -1).await.unwrap();
    assert_eq!(processing, ["1"]);
}

#[tokio::test]
async fn expired_lease_on_last_attempt_dead_letters() {
    let Fixture {
        queue, server: _server, ..
    } = fixture(RedisQueueOptions::default().visibility_timeout(SHORT_LEASE)).await;
    queue.enqueue(job("slow").max_attempts(1)).await.unwrap();
    queue.reserve().await.unwrap().unwrap();

    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(100)).await;
    assert!(queue.reserve().await.unwrap().is_none());

    let dead = queue.dead_jobs(0, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    let error = dead[0].job.last_error.as_deref().unwrap_or_default();
    assert!(error.contains("lease expired on attempt 1 of 1"), "{error}");
}

#[tokio::test]
async fn stale_lease_after_requeue_has_no_effect() {
    let Fixture {
        queue, server: _server, ..
    } = fixture(RedisQueueOptions::default().visibility_timeout(SHORT_LEASE)).await;
    queue.enqueue(job("slow")).await.unwrap();
    let stale = queue.reserve().await.unwrap().unwrap();
    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(100)).await;
    let current = queue.reserve().await.unwrap().unwrap();

    assert_eq!(queue.ack(&stale.lease).await.unwrap(), LeaseOutcome::Lost);
    let failure = retry("late", Duration::ZERO);
    assert_eq!(queue.fail(&stale.lease, failure).await.unwrap(), FailOutcome::LeaseLost);
    assert_eq!(queue.release(&stale.lease).await.unwrap(), LeaseOutcome::Lost);
    assert_eq!(queue.extend_lease(&stale.lease).await.unwrap(), LeaseOutcome::Lost);

    let stored = queue.job(&current.job.id).await.unwrap().expect("still stored");
    assert_eq!(stored.attempts, 2);
    assert_eq!(stored.last_error, None);
    assert_eq!(queue.stats().await.unwrap().processing, 1);
    assert_eq!(queue.ack(&current.lease).await.unwrap(), LeaseOutcome::Done);
}

#[tokio::test]
async fn extended_lease_is_not_requeued() {
    let Fixture {
        queue,
        mut raw,
        server: _server,
    } = fixture(RedisQueueOptions::default().visibility_timeout(SHORT_LEASE)).await;
    queue.enqueue(job("long")).await.unwrap();
    let reserved = queue.reserve().await.unwrap().unwrap();
    let before: f64 = raw.zscore("jobs:processing_vt", "1").await.unwrap();

    tokio::time::sleep(Duration::from_millis(200)).await;
    let outcome = queue.extend_lease(&reserved.lease).await.unwrap();
    assert_eq!(outcome, LeaseOutcome::Done);
    let after: f64 = raw.zscore("jobs:processing_vt", "1").await.unwrap();
    assert!(after > before, "deadline {before} -> {after}");

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(queue.reserve().await.unwrap().is_none());
    assert_eq!(queue.ack(&reserved.lease).await.unwrap(), LeaseOutcome::Done);
}

#[tokio::test]
async fn release_returns_job_uncounted_first_in_line() {
    let Fixture {
        queue, server: _server, ..
    } = default_fixture().await;
    queue.enqueue(job("first")).await.unwrap();
    queue.enqueue(job("second")).await.unwrap();
    let reserved = queue.reserve().await.unwrap().unwrap();
    assert_eq!(reserved.job.name, "first");

    assert_eq!(queue.release(&reserved.lease).await.unwrap(), LeaseOutcome::Done);
    assert_eq!(queue.job("1").await.unwrap().unwrap().attempts, 0);

    let again = queue.reserve().await.unwrap().unwrap();
    assert_eq!(again.job.name, "first");
    assert_eq!(again.job.attempts, 1);
}

#[tokio::test]
async fn garbage_id_in_ready_is_skipped() {
    let Fixture {
        queue,
        mut raw,
        server: _server,
    } = default_fixture().await;
    let () = raw.lpush("jobs:ready", "no-such-job").await.unwrap();
    queue.enqueue(job("real")).await.unwrap();

    let reserved = queue.reserve().await.unwrap().expect("the real job is ready");

    assert_eq!(reserved.job.name, "real");
    let processing: Vec<String> = raw.lrange("jobs:processing", 0, -1).await.unwrap();
    assert_eq!(processing, ["1"]);
    let ready: usize = raw.llen("jobs:ready").await.unwrap();
    assert_eq!(ready, 0);
}

#[tokio::test]
async fn long_run_of_garbage_ids_is_skipped() {
    let Fixture {
        queue,
        mut raw,
        server: _server,
    } = default_fixture().await;
    let garbage: Vec<String> = (0..250).map(|n| format!("missing-{n}")).collect();
    let () = raw.lpush("jobs:ready", &garbage).await.unwrap();
    queue.enqueue(job("real")).await.unwrap();

    let reserved = queue.reserve().await.unwrap();

    assert_eq!(reserved.map(|r| r.job.name).as_deref(), Some("real"));
}

#[tokio::test]
async fn duplicate_ready_entry_reserved_once() {
    let Fixture {
        queue,
        mut raw,
        server: _server,
    } = default_fixture().await;
    queue.enqueue(job("once")).await.unwrap();
    // Two copies of one id, as svc-infra's non-atomic promotion can leave.
    let () = raw.lpush("jobs:ready", "1").await.unwrap();

    let reserved = queue.reserve_many(5).await.unwrap();

    assert_eq!(reserved.len(), 1);
    let processing: Vec<String> = raw.lrange("jobs:processing", 0, -1).await.unwrap();
    assert_eq!(processing, ["1"]);
    let ready: usize = raw.llen("jobs:ready").await.unwrap();
    assert_eq!(ready, 0);
}

#[tokio::test]
async fn reserve_many_crosses_batches() {
    let Fixture {
        queue, server: _server, ..
    } = default_fixture().await;
    let jobs: Vec<NewJob> = (0..250).map(|_| job("bulk")).collect();
    queue.enqueue_many(jobs).await.unwrap();

    let reserved = queue.reserve_many(300).await.unwrap();

    assert_eq!(reserved.len(), 250);
    let ids: Vec<&str> = reserved.iter().map(|r| r.job.id.as_str()).collect();
    assert_eq!(ids[0], "1");
    assert_eq!(ids[249], "250");
    assert_eq!(queue.stats().await.unwrap().processing, 250);
}

#[tokio::test]
async fn non_numeric_attempts_dead_lettered() {
    let Fixture {
        queue,
        mut raw,
        server: _server,
    } = default_fixture().await;
    let () = raw
        .hset_multiple("jobs:job:77", &[("name", "poison"), ("attempts", "abc")])
        .await
        .unwrap();
    let () = raw.lpush("jobs:ready", "77").await.unwrap();
    queue.enqueue(job("healthy")).await.unwrap();

    let reserved = queue.reserve().await.unwrap().expect("the healthy job is ready");
    assert_eq!(reserved.job.name, "healthy");

    let dead = queue.dead_jobs(0, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].job.id, "77");
    let error = dead[0].job.last_error.as_deref().unwrap_or_default();
    assert!(error.contains("`attempts`"), "{error}");
    assert!(error.contains("abc"), "{error}");
    let processing: Vec<String> = raw.lrange("jobs:processing", 0, -1).await.unwrap();
    assert_eq!(processing, ["1"]);
}

#[tokio::test]
async fn acked_jobs_leave_no_hash() {
    let Fixture {
        queue,
        mut raw,
        server: _server,
    } = default_fixture().await;
    let jobs: Vec<NewJob> = (0..20).map(|_| job("batch")).collect();
    queue.enqueue_many(jobs).await.unwrap();

    let reserved = queue.reserve_many(20).await.unwrap();
    assert_eq!(reserved.len(), 20);
    for item in &reserved {
        assert_eq!(queue.ack(&item.lease).await.unwrap(), LeaseOutcome::Done);
    }

    assert_eq!(job_keys(&mut raw, "jobs").await, Vec::<String>::new());
    let vt: usize = raw.zcard("jobs:processing_vt").await.unwrap();
    assert_eq!(vt, 0);
}

#[tokio::test]
async fn keys_and_fields_match_svc_infra_layout() {
    let Fixture {
        queue,
        mut raw,
        server: _server,
    } = fixture(RedisQueueOptions::default().prefix("layout")).await;
    assert_eq!(queue.prefix(), "layout");
    queue.enqueue(job("now")).await.unwrap();
    queue
        .enqueue(job("later").delay(Duration::from_secs(60)))
        .await
        .unwrap();

    assert_eq!(key_type(&mut raw, "layout:ready").await, "list");
    assert_eq!(key_type(&mut raw, "layout:delayed").await, "zset");
    assert_eq!(key_type(&mut raw, "layout:seq").await, "string");
    let seq: String = raw.get("layout:seq").await.unwrap();
    assert_eq!(seq, "2");

    let new = hash(&mut raw, "layout:job:1").await;
    assert_eq!(new["id"], "1");
    assert_eq!(new["name"], "now");
    assert_eq!(new["payload"], r#"{"n":1}"#);
    assert_eq!(new["attempts"], "0");
    assert_eq!(new["max_attempts"], "5");
    assert_eq!(new["backoff_seconds"], "60");
    assert_eq!(new["backoff_ms"], "60000");
    assert_eq!(new["backoff_strategy"], "linear");
    assert!(is_svc_infra_time(&new["available_at"]), "{}", new["available_at"]);

    let reserved = queue.reserve().await.unwrap().unwrap();
    assert_eq!(key_type(&mut raw, "layout:processing").await, "list");
    assert_eq!(key_type(&mut raw, "layout:processing_vt").await, "zset");
    let leased = hash(&mut raw, "layout:job:1").await;
    assert_eq!(leased["attempts"], "1");
    assert_eq!(leased["lease"], reserved.lease.token());
    let deadline: f64 = raw.zscore("layout:processing_vt", "1").await.unwrap();
    let visible_at: i64 = leased["visible_at"].parse().expect("visible_at is an integer");
    assert_eq!(visible_at, deadline.floor() as i64);

    let failure = Failure::Permanent {
        error: "stop".to_owned(),
    };
    queue.fail(&reserved.lease, failure).await.unwrap();
    assert_eq!(key_type(&mut raw, "layout:dlq").await, "list");
    let dead = hash(&mut raw, "layout:job:1").await;
    assert_eq!(dead["last_error"], "stop");
    assert!(is_svc_infra_time(&dead["died_at"]), "{}", dead["died_at"]);
}

/// `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`, the form svc-infra writes.
fn is_svc_infra_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    let pattern = "dddd-dd-ddTdd:dd:dd.dddddd+00:00".as_bytes();
    bytes.len() == pattern.len()
        && bytes.iter().zip(pattern).all(|(&byte, &expected)| match expected {
            b'd' => byte.is_ascii_digit(),
            other => byte == other,
        })
}

#[tokio::test]
async fn python_style_hash_reserved_with_defaults() {
    let Fixture {
        queue,
        mut raw,
        server: _server,
    } = default_fixture().await;
    let () = raw
        .hset_multiple("jobs:job:py-1", &[("name", "ping"), ("payload", "{\"a\": 1}")])
        .await
        .unwrap();
    let () = raw.lpush("jobs:ready", "py-1").await.unwrap();

    let reserved = queue.reserve().await.unwrap().expect("the Python job is ready");

    assert_eq!(reserved.job.id, "py-1");
    assert_eq!(reserved.job.name, "ping");
    assert_eq!(reserved.job.payload.as_str(), "{\"a\": 1}");
    assert_eq!(reserved.job.attempts, 1);
    assert_eq!(reserved.job.max_attempts, 5);
    assert_eq!(reserved.job.backoff_seconds(), 60);
    assert_eq!(queue.ack(&reserved.lease).await.unwrap(), LeaseOutcome::Done);
}

#[tokio::test]
async fn dead_jobs_skip_missing_hashes() {
    let Fixture {
        queue,
        mut raw,
        server: _server,
    } = default_fixture().await;
    queue.enqueue(job("doomed").max_attempts(1)).await.unwrap();
    let reserved = queue.reserve().await.unwrap().unwrap();
    queue
        .fail(&reserved.lease, retry("gone", Duration::ZERO))
        .await
        .unwrap();
    let () = raw.lpush("jobs:dlq", "vanished").await.unwrap();

    let dead = queue.dead_jobs(0, 10).await.unwrap();

    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].job.id, "1");
    // The offset and limit count positions in the list, the skipped id included.
    assert!(queue.dead_jobs(0, 1).await.unwrap().is_empty());
    assert_eq!(queue.dead_jobs(1, 1).await.unwrap().len(), 1);
}

#[tokio::test]
async fn requeued_dead_job_keeps_last_error() {
    let Fixture {
        queue,
        mut raw,
        server: _server,
    } = default_fixture().await;
    queue.enqueue(job("doomed").max_attempts(1)).await.unwrap();
    let reserved = queue.reserve().await.unwrap().unwrap();
    queue
        .fail(&reserved.lease, retry("bad day", Duration::ZERO))
        .await
        .unwrap();

    assert!(queue.requeue_dead("1").await.unwrap());
    assert!(!queue.requeue_dead("1").await.unwrap());

    let stored = hash(&mut raw, "jobs:job:1").await;
    assert_eq!(stored["attempts"], "0");
    assert_eq!(stored["last_error"], "bad day");
    assert!(!stored.contains_key("died_at"));
    let again = queue.reserve().await.unwrap().unwrap();
    assert_eq!(again.job.attempts, 1);
}

/// Writes `count` dead jobs straight into Redis, as a svc-infra worker leaves them.
async fn write_dead_jobs(raw: &mut MultiplexedConnection, count: usize) {
    for n in 0..count {
        let id = format!("dead-{n}");
        let () = raw
            .hset_multiple(format!("jobs:job:{id}"), &[("name", "old"), ("attempts", "5")])
            .await
            .unwrap();
        let () = raw.lpush("jobs:dlq", &id).await.unwrap();
    }
}

#[tokio::test]
async fn requeue_all_dead_crosses_batches() {
    let Fixture {
        queue,
        mut raw,
        server: _server,
    } = default_fixture().await;
    write_dead_jobs(&mut raw, 250).await;

    assert_eq!(queue.requeue_all_dead().await.unwrap(), 250);

    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.ready, stats.dead), (250, 0));
    let first = queue.reserve().await.unwrap().unwrap();
    assert_eq!(first.job.id, "dead-0", "the oldest dead job comes first");
    assert_eq!(first.job.attempts, 1);
}

#[tokio::test]
async fn purge_dead_crosses_batches() {
    let Fixture {
        queue,
        mut raw,
        server: _server,
    } = default_fixture().await;
    write_dead_jobs(&mut raw, 150).await;

    assert_eq!(queue.purge_dead().await.unwrap(), 150);

    assert_eq!(queue.stats().await.unwrap().dead, 0);
    assert_eq!(job_keys(&mut raw, "jobs").await, Vec::<String>::new());
}

#[tokio::test]
async fn enqueue_many_spans_pipelines() {
    let Fixture {
        queue, server: _server, ..
    } = default_fixture().await;
    let jobs: Vec<NewJob> = (0..2100).map(|_| job("bulk")).collect();

    let stored = queue.enqueue_many(jobs).await.unwrap();

    assert_eq!(stored.len(), 2100);
    assert_eq!(stored[0].id, "1");
    assert_eq!(stored[2099].id, "2100");
    assert_eq!(queue.stats().await.unwrap().ready, 2100);
}

#[tokio::test]
async fn enqueue_many_stops_at_invalid_job() {
    let Fixture {
        queue, server: _server, ..
    } = default_fixture().await;
    let jobs = vec![job("ok"), job("ok"), job("not valid"), job("ok")];

    let error = queue.enqueue_many(jobs).await.unwrap_err();

    assert!(error.is_invalid(), "{error}");
    assert_eq!(error.into_job().unwrap().name, "not valid");
    assert_eq!(queue.stats().await.unwrap().ready, 2);
}

#[tokio::test]
async fn hash_tagged_prefix_works() {
    let Fixture {
        queue,
        mut raw,
        server: _server,
    } = fixture(RedisQueueOptions::default().prefix("{jobs}")).await;
    queue.enqueue(job("tagged")).await.unwrap();

    let reserved = queue.reserve().await.unwrap().unwrap();
    assert_eq!(queue.ack(&reserved.lease).await.unwrap(), LeaseOutcome::Done);

    let seq: String = raw.get("{jobs}:seq").await.unwrap();
    assert_eq!(seq, "1");
}

#[tokio::test]
async fn invalid_payload_text_is_kept() {
    let Fixture {
        queue,
        mut raw,
        server: _server,
    } = default_fixture().await;
    let () = raw
        .hset_multiple("jobs:job:x", &[("name", "a"), ("payload", "{not json")])
        .await
        .unwrap();
    let () = raw.lpush("jobs:ready", "x").await.unwrap();

    let reserved = queue.reserve().await.unwrap().unwrap();

    assert_eq!(reserved.job.payload, Payload::from_stored("{not json"));
}

#[tokio::test]
async fn unreachable_server_reported_with_masked_url() {
    let port = {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("redis://:s3cret@127.0.0.1:{port}/0");

    let started = Instant::now();
    let error = RedisJobQueue::connect(&url, RedisQueueOptions::default())
        .await
        .unwrap_err();

    assert!(started.elapsed() < Duration::from_secs(6), "{:?}", started.elapsed());
    assert!(matches!(error, ConfigError::RedisUnreachable { .. }), "{error:?}");
    let text = error.to_string();
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains(":***@127.0.0.1"), "{text}");
}

#[tokio::test]
async fn malformed_url_reported_with_masked_url() {
    let error = RedisJobQueue::connect("redis://:s3cret@host:port", RedisQueueOptions::default())
        .await
        .unwrap_err();

    assert!(matches!(error, ConfigError::InvalidRedisUrl { .. }), "{error:?}");
    let text = error.to_string();
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains("redis://:***@host:port"), "{text}");
}

#[tokio::test]
async fn empty_prefix_rejected() {
    let server = RedisServer::start();
    let error = RedisJobQueue::connect(&server.url(), RedisQueueOptions::default().prefix(""))
        .await
        .unwrap_err();
    assert!(matches!(error, ConfigError::InvalidPrefix { .. }), "{error:?}");
}

/// Log output captured in memory.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Connects to `server` while capturing the log, and returns the log.
async fn connect_and_capture_log(server: &RedisServer) -> String {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let _guard = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish()
        .set_default();
    RedisJobQueue::connect(&server.url(), RedisQueueOptions::default())
        .await
        .expect("connect to the test Redis");
    logs.text()
}

#[tokio::test]
async fn evicting_policy_logs_warning() {
    let server = RedisServer::start_with_args(&["--maxmemory-policy", "allkeys-lru"]);

    let log = connect_and_capture_log(&server).await;

    assert!(log.contains("WARN"), "{log}");
    assert!(log.contains("maxmemory-policy"), "{log}");
    assert!(log.contains("allkeys-lru"), "{log}");
}

#[tokio::test]
async fn noeviction_policy_logs_nothing() {
    let server = RedisServer::start();

    let log = connect_and_capture_log(&server).await;

    assert!(!log.contains("maxmemory-policy"), "{log}");
}

#[tokio::test]
async fn enqueue_fails_in_bounded_time_when_server_down() {
    let options = RedisQueueOptions::default().response_timeout(Duration::from_secs(1));
    let Fixture { mut server, queue, .. } = fixture(options).await;
    server.kill();

    let started = Instant::now();
    let error = queue.enqueue(job("lost")).await.unwrap_err();
    let elapsed = started.elapsed();

    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert!(!error.is_invalid());
    let source = match &error {
        jobs::EnqueueError::Queue { source, .. } => source,
        other => panic!("expected a queue error, got {other:?}"),
    };
    assert!(matches!(source, QueueError::Redis { .. }), "{source:?}");
    assert!(source.is_transient(), "{source:?}");
    assert_eq!(error.into_job().unwrap().name, "lost");
}

#[tokio::test]
async fn queue_recovers_after_server_restart() {
    let Fixture { mut server, queue, .. } = default_fixture().await;
    queue.enqueue(job("before")).await.unwrap();
    server.restart();

    // The restarted server is empty and has no scripts cached, so this also
    // covers loading the scripts again.
    let deadline = Instant::now() + Duration::from_secs(10);
    let stored = loop {
        match queue.enqueue(job("after")).await {
            Ok(stored) => break stored,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("no recovery within 10 s: {error}"),
        }
    };
    assert_eq!(stored.id, "1");

    let batch = queue.enqueue_many(vec![job("a"), job("b")]).await.unwrap();
    assert_eq!(batch.len(), 2);
    assert_eq!(queue.reserve_many(5).await.unwrap().len(), 3);
}

#[tokio::test]
async fn pipeline_reloads_flushed_script() {
    let Fixture {
        queue,
        mut raw,
        server: _server,
    } = default_fixture().await;
    queue.enqueue(job("warm")).await.unwrap();
    let () = redis::cmd("SCRIPT").arg("FLUSH").query_async(&mut raw).await.unwrap();

    let stored = queue.enqueue_many(vec![job("a"), job("b")]).await.unwrap();

    let ids: Vec<&str> = stored.iter().map(|job| job.id.as_str()).collect();
    assert_eq!(ids, ["2", "3"]);
    assert_eq!(queue.stats().await.unwrap().ready, 3);
}

#[test]
fn queue_is_send_sync_and_clone() {
    fn assert_traits<T: Send + Sync + Clone + 'static>() {}
    assert_traits::<RedisJobQueue>();
}
