//! Faults found by attacking the Redis queue and the worker with bad data,
//! a full Redis and misbehaving handlers. Each test states what must hold.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jobs::queue::redis::{RedisJobQueue, RedisQueueOptions};
use jobs::{DynQueue, JobOptions, JobQueue, NewJob, QueueStats, Registry, WorkerRunner, display_chain};
use jobs_tests::RedisServer;
use redis::aio::MultiplexedConnection;
use serde_json::json;

async fn connect(server: &RedisServer, options: RedisQueueOptions) -> DynQueue {
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
        .unwrap()
}

/// The attempts each job id ran, shared by the handlers of several workers.
type Runs = Arc<Mutex<HashMap<String, Vec<u32>>>>;

/// Builds a registry whose job `count` records each run and succeeds, after
/// blocking its thread for `block_first_attempt` on the first attempt.
fn counting_registry(runs: &Runs, block_first_attempt: Duration) -> Registry {
    let mut registry = Registry::new();
    let runs = runs.clone();
    registry
        .register("count", JobOptions::DEFAULT, move |context| {
            let attempt = context.attempt();
            runs.lock()
                .unwrap()
                .entry(context.id().to_owned())
                .or_default()
                .push(attempt);
            async move {
                if attempt == 1 {
                    std::thread::sleep(block_first_attempt);
                }
            }
        })
        .unwrap();
    registry
}

fn start_worker(queue: DynQueue, registry: Registry, concurrency: usize) -> jobs::Worker {
    WorkerRunner::new(queue, registry)
        .concurrency(concurrency)
        .poll_interval(Duration::from_millis(20))
        .start()
}

/// Waits until the queue is empty or `limit` passes, and returns the last stats.
async fn wait_until_empty(queue: &DynQueue, limit: Duration) -> QueueStats {
    let deadline = Instant::now() + limit;
    loop {
        let stats = queue.stats().await.unwrap();
        if stats == QueueStats::default() || Instant::now() > deadline {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Writes one raw Redis command whose arguments may be any bytes.
async fn write_raw(raw: &mut MultiplexedConnection, args: &[&[u8]]) {
    let mut command = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for arg in &args[1..] {
        command.arg(*arg);
    }
    let _: redis::Value = command.query_async(raw).await.unwrap();
}

/// Stores job `count` under the id `0xFF 0xFE`, which is not UTF-8, with the
/// extra hash fields `fields`, and pushes the id onto the list `list`.
async fn write_job_with_non_utf8_id(server: &RedisServer, list: &[u8], fields: &[&[u8]]) {
    let mut raw = raw_connection(server).await;
    let id: &[u8] = b"\xff\xfe";
    let key = [b"jobs:job:".as_slice(), id].concat();
    let mut command: Vec<&[u8]> = vec![b"HSET", &key, b"name", b"count", b"payload", b"{}"];
    command.extend_from_slice(fields);
    write_raw(&mut raw, &command).await;
    write_raw(&mut raw, &[b"LPUSH", list, id]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_redis_enqueue_stores_nothing() {
    let server = RedisServer::start_with_args(&["--maxmemory", "4mb", "--maxmemory-policy", "noeviction"]);
    let queue = connect(&server, RedisQueueOptions::default()).await;
    let filler = "x".repeat(100_000);
    let mut queued = 0;
    let error = loop {
        match queue.enqueue(NewJob::new("count", json!({ "fill": filler }))).await {
            Ok(_) => queued += 1,
            Err(error) => break error,
        }
        assert!(queued < 200, "a 4 MB Redis took {queued} jobs of 100 kB");
    };

    assert!(
        !error.may_have_been_stored(),
        "Redis refuses a write over maxmemory before it runs, yet the error says the job may be stored: {}",
        display_chain(&error)
    );
    let message = display_chain(&error);
    assert!(message.contains("was not stored because Redis is full"), "{message}");
    assert!(message.contains("maxmemory"), "{message}");
    assert_eq!(queue.stats().await.unwrap().ready, queued);

    let runs = Runs::default();
    let worker = start_worker(queue.clone(), counting_registry(&runs, Duration::ZERO), 8);
    let stats = wait_until_empty(&queue, Duration::from_secs(20)).await;
    worker.stop(Duration::from_secs(1)).await;
    assert_eq!(stats, QueueStats::default(), "the workers did not drain a full Redis");
    assert_eq!(runs.lock().unwrap().len() as u64, queued);
    queue
        .enqueue(NewJob::new("count", json!({})))
        .await
        .expect("enqueue once the queue is drained");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_key_of_another_type_does_not_strand_the_batch() {
    let server = RedisServer::start();
    let queue = connect(
        &server,
        RedisQueueOptions::default().visibility_timeout(Duration::from_secs(1)),
    )
    .await;
    let first = queue
        .enqueue(NewJob::new("count", json!({})).max_attempts(1))
        .await
        .unwrap();
    let second = queue.enqueue(NewJob::new("count", json!({}))).await.unwrap();
    let third = queue.enqueue(NewJob::new("count", json!({}))).await.unwrap();
    // Another program replaces the second job's hash with a set.
    let mut raw = raw_connection(&server).await;
    let key = format!("jobs:job:{}", second.id);
    write_raw(&mut raw, &[b"DEL", key.as_bytes()]).await;
    write_raw(&mut raw, &[b"SADD", key.as_bytes(), b"member"]).await;

    let runs = Runs::default();
    let worker = start_worker(queue.clone(), counting_registry(&runs, Duration::ZERO), 8);
    tokio::time::sleep(Duration::from_secs(3)).await;
    worker.stop(Duration::from_secs(1)).await;

    let runs = runs.lock().unwrap().clone();
    assert_eq!(runs.get(&first.id), Some(&vec![1]), "runs: {runs:?}");
    assert_eq!(runs.get(&third.id), Some(&vec![1]), "runs: {runs:?}");
    assert_eq!(runs.get(&second.id), None, "runs: {runs:?}");
    let stats = queue.stats().await.unwrap();
    assert_eq!(stats.processing, 0, "an id is stuck on the processing list");
    assert_eq!(stats, QueueStats::default(), "the id of the set was not dropped");
    let members: Vec<String> = redis::cmd("SMEMBERS").arg(&key).query_async(&mut raw).await.unwrap();
    assert_eq!(members, ["member"], "the set of another program was changed");
}

#[tokio::test]
async fn leased_job_key_of_another_type_is_dropped_at_expiry() {
    let server = RedisServer::start();
    let queue = connect(
        &server,
        RedisQueueOptions::default().visibility_timeout(Duration::from_millis(300)),
    )
    .await;
    let leased = queue.enqueue(NewJob::new("count", json!({}))).await.unwrap();
    let reserved = queue.reserve().await.unwrap().expect("the job is ready");
    assert_eq!(reserved.job.id, leased.id);
    let mut raw = raw_connection(&server).await;
    let key = format!("jobs:job:{}", leased.id);
    write_raw(&mut raw, &[b"DEL", key.as_bytes()]).await;
    write_raw(&mut raw, &[b"SADD", key.as_bytes(), b"member"]).await;
    let next = queue.enqueue(NewJob::new("count", json!({}))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;

    // The lease of the first job expired: reserving handles it, and must
    // neither fail nor queue the id again.
    let reserved = queue.reserve().await.expect("reserve after the lease expired");
    assert_eq!(reserved.map(|reserved| reserved.job.id), Some(next.id));
    let stats = queue.stats().await.unwrap();
    assert_eq!(stats.processing, 1, "{stats:?}");
    assert_eq!(stats.ready, 0, "{stats:?}");
    assert_eq!(stats.dead, 0, "{stats:?}");
    let members: Vec<String> = redis::cmd("SMEMBERS").arg(&key).query_async(&mut raw).await.unwrap();
    assert_eq!(members, ["member"], "the set of another program was changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_with_non_utf8_id_never_runs() {
    let server = RedisServer::start();
    let queue = connect(
        &server,
        RedisQueueOptions::default().visibility_timeout(Duration::from_secs(1)),
    )
    .await;
    write_job_with_non_utf8_id(&server, b"jobs:ready", &[b"attempts", b"0", b"max_attempts", b"3"]).await;

    let runs = Runs::default();
    let worker = start_worker(queue.clone(), counting_registry(&runs, Duration::ZERO), 1);
    tokio::time::sleep(Duration::from_secs(4)).await;
    worker.stop(Duration::from_secs(1)).await;

    // No worker could ack the job under its id, so the reserve script
    // dead-letters it instead of leasing it.
    let runs = runs.lock().unwrap().clone();
    let total: usize = runs.values().map(Vec::len).sum();
    assert_eq!(total, 0, "the job ran {total} times: {runs:?}");
    let stats = queue.stats().await.unwrap();
    assert_eq!(stats.dead, 1, "{stats:?}");
    assert_eq!(stats.processing, 0, "{stats:?}");
    let dead = queue
        .dead_job(r"\xff\xfe")
        .await
        .unwrap()
        .expect("listed under its escaped id");
    let error = dead.job.last_error.unwrap_or_default();
    assert!(error.contains(r"job id \xff\xfe is not valid UTF-8"), "{error}");
    assert_eq!(dead.job.attempts, 0, "the attempt was counted");
}

#[tokio::test]
async fn dead_job_with_non_utf8_id_is_listed() {
    let server = RedisServer::start();
    let queue = connect(&server, RedisQueueOptions::default()).await;
    write_job_with_non_utf8_id(&server, b"jobs:dlq", &[b"attempts", b"3", b"last_error", b"boom"]).await;

    assert_eq!(queue.stats().await.unwrap().dead, 1);
    let listed = queue.dead_jobs(0, 10).await.unwrap();
    assert_eq!(listed.len(), 1, "stats counts one dead job, dead_jobs lists {listed:?}");
    assert_eq!(listed[0].job.id, r"\xff\xfe");
    assert_eq!(listed[0].job.last_error.as_deref(), Some("boom"));

    let shown = queue
        .dead_job(r"\xff\xfe")
        .await
        .unwrap()
        .expect("read by its escaped id");
    assert_eq!(shown.job.id, r"\xff\xfe");
    assert!(
        queue.requeue_dead(r"\xff\xfe").await.unwrap(),
        "requeued by its escaped id"
    );
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.ready, stats.dead), (1, 0), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_blocking_its_thread_keeps_its_lease() {
    let server = RedisServer::start();
    let options = RedisQueueOptions::default().visibility_timeout(Duration::from_secs(1));
    let queue = connect(&server, options.clone()).await;
    let job = queue.enqueue(NewJob::new("count", json!({}))).await.unwrap();
    let runs = Runs::default();
    let blocking = Duration::from_secs(3);
    let workers = [
        start_worker(queue.clone(), counting_registry(&runs, blocking), 1),
        start_worker(connect(&server, options).await, counting_registry(&runs, blocking), 1),
    ];

    let stats = wait_until_empty(&queue, Duration::from_secs(10)).await;
    for worker in workers {
        worker.stop(Duration::from_secs(1)).await;
    }

    assert_eq!(stats, QueueStats::default());
    let runs = runs.lock().unwrap().clone();
    assert_eq!(runs.get(&job.id), Some(&vec![1]), "runs: {runs:?}");
}

/// Runs the `crash_worker` command line on `redis_url` with `stdin` as its
/// standard input.
fn cli(redis_url: &str, args: &[&str], stdin: &[u8]) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_worker"))
        .args(args)
        .env("JOBS_DRIVER", "redis")
        .env("REDIS_URL", redis_url)
        .env_remove("JOBS_REDIS_PREFIX")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run crash_worker");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn cli_negative_durations_named() {
    let server = RedisServer::start();
    let cases: [&[&str]; 3] = [
        &["enqueue", "record", "{}", "--delay", "-5s"],
        &["run", "--grace", "-1s"],
        &["run", "--poll-interval", "-250ms"],
    ];

    for args in cases {
        let output = cli(&server.url(), args, b"");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("is negative"), "{args:?}: {stderr}");
    }
    let queue = connect(&server, RedisQueueOptions::default()).await;
    assert_eq!(queue.stats().await.unwrap(), QueueStats::default());
}

#[tokio::test]
async fn cli_reads_large_payload_from_stdin() {
    let server = RedisServer::start();
    // Larger than the 128 KiB that Linux allows in one argument.
    let padding = "a".repeat(300_000);
    let payload = json!({ "file": "/dev/null", "sleep_ms": 0, "padding": padding }).to_string();

    let output = cli(&server.url(), &["enqueue", "record", "-"], payload.as_bytes());

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let queue = connect(&server, RedisQueueOptions::default()).await;
    let reserved = queue.reserve().await.unwrap().expect("the job is queued");
    assert_eq!(reserved.job.payload.as_str(), payload);
}

#[tokio::test]
async fn cli_rejects_empty_stdin_payload() {
    let server = RedisServer::start();

    let output = cli(&server.url(), &["enqueue", "record", "-"], b"  \n");

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("standard input is empty"), "{stderr}");
    let queue = connect(&server, RedisQueueOptions::default()).await;
    assert_eq!(queue.stats().await.unwrap(), QueueStats::default());
}

#[tokio::test]
async fn cli_names_non_finite_tokens() {
    let server = RedisServer::start();

    let output = cli(
        &server.url(),
        &["enqueue", "record", r#"{"file": "/dev/null", "sleep_ms": NaN}"#],
        b"",
    );

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("JSON has no NaN, Infinity or -Infinity"), "{stderr}");
    let queue = connect(&server, RedisQueueOptions::default()).await;
    assert_eq!(queue.stats().await.unwrap(), QueueStats::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_finishing_during_redis_pause_runs_once() {
    let mut server = RedisServer::start();
    let options = RedisQueueOptions::default()
        .visibility_timeout(Duration::from_secs(8))
        .response_timeout(Duration::from_secs(1));
    let producer = connect(&server, options.clone()).await;
    let requests = (0..20).map(|n| NewJob::new("sleep", json!({ "n": n }))).collect();
    producer.enqueue_many(requests).await.unwrap();
    let runs = Runs::default();
    let mut registry = Registry::new();
    let recorded = runs.clone();
    registry
        .register("sleep", JobOptions::DEFAULT, move |context| {
            recorded
                .lock()
                .unwrap()
                .entry(context.id().to_owned())
                .or_default()
                .push(context.attempt());
            tokio::time::sleep(Duration::from_secs(1))
        })
        .unwrap();
    let worker = start_worker(connect(&server, options).await, registry, 20);

    while runs.lock().unwrap().len() < 20 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The handlers finish while Redis is paused, for less than the lease.
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.pause();
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.resume();
    let stats = wait_until_empty(&producer, Duration::from_secs(20)).await;
    worker.stop(Duration::from_secs(1)).await;

    assert_eq!(stats, QueueStats::default());
    let runs = runs.lock().unwrap().clone();
    let repeated: Vec<_> = runs.iter().filter(|(_, attempts)| attempts.len() > 1).collect();
    assert!(repeated.is_empty(), "jobs that ran more than once: {repeated:?}");
}

#[tokio::test]
async fn enqueue_error_debug_is_short() {
    let queue = jobs::InMemoryJobQueue::new();
    let huge = "z".repeat(10_000_000);

    let error = queue
        .enqueue(NewJob::new("not a valid name", json!({ "huge": huge })))
        .await
        .unwrap_err();

    // `main` returning this error prints it with Debug.
    let debug = format!("{error:?}");
    assert!(
        debug.len() < 4096,
        "the Debug output of the error has {} bytes",
        debug.len()
    );
    assert!(debug.contains("bytes in all"), "{}", &debug[..200]);
}
