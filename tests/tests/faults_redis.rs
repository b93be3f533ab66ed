//! A Redis server that dies, restarts or stops responding under running
//! workers and producers: every job still completes, enqueue fails in bounded
//! time, and a stopping worker does not wait for Redis.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jobs::queue::redis::{RedisJobQueue, RedisQueueOptions};
use jobs::{DynQueue, EnqueueError, JobOptions, JobQueue, NewJob, QueueStats, Registry, WorkerRunner};
use jobs_tests::RedisServer;
use jobs_tests::logs::captured_logs;
use serde_json::json;

async fn connect(server: &RedisServer, options: RedisQueueOptions) -> DynQueue {
    let queue = RedisJobQueue::connect(&server.url(), options)
        .await
        .expect("connect to the test Redis");
    Arc::new(queue)
}

/// Runs per job id, shared by the handlers of several workers.
type Runs = Arc<Mutex<HashMap<String, Vec<Instant>>>>;

/// A registry whose job `count` records each run and takes `sleep`.
fn counting_registry(runs: &Runs, sleep: Duration) -> Registry {
    let mut registry = Registry::new();
    let runs = runs.clone();
    registry
        .register("count", JobOptions::DEFAULT, move |context| {
            runs.lock()
                .unwrap()
                .entry(context.id().to_owned())
                .or_default()
                .push(Instant::now());
            tokio::time::sleep(sleep)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_survive_redis_restart_under_load() {
    let logs = captured_logs();
    let mut server = RedisServer::start_persistent();
    let options = RedisQueueOptions::default()
        .visibility_timeout(Duration::from_secs(2))
        .response_timeout(Duration::from_secs(1));
    let producer = connect(&server, options.clone()).await;
    let requests = (0..600).map(|n| NewJob::new("count", json!({ "n": n }))).collect();
    let queued = producer.enqueue_many(requests).await.unwrap();
    let runs = Runs::default();
    let workers = [
        start_worker(
            connect(&server, options.clone()).await,
            counting_registry(&runs, Duration::from_millis(5)),
            8,
        ),
        start_worker(
            connect(&server, options.clone()).await,
            counting_registry(&runs, Duration::from_millis(5)),
            8,
        ),
    ];

    let deadline = Instant::now() + Duration::from_secs(10);
    while runs.lock().unwrap().len() < 100 {
        assert!(Instant::now() < deadline, "the workers did not start");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let ran_while_down = runs.lock().unwrap().len();
    server.restart();

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let done = runs.lock().unwrap().len();
        let stats = producer.stats().await.ok();
        if done == queued.len() && stats == Some(QueueStats::default()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{done} of {} jobs ran within 30 s of the restart; stats {stats:?}",
            queued.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for worker in workers {
        worker.stop(Duration::from_secs(1)).await;
    }

    assert!(
        ran_while_down < queued.len(),
        "the restart happened after the work was done"
    );
    assert!(producer.dead_jobs(0, 10).await.unwrap().is_empty());
    for job in &queued {
        assert_eq!(
            producer.job(&job.id).await.unwrap(),
            None,
            "job {} is not acked",
            job.id
        );
    }
    let log = logs.text();
    assert!(log.contains("failed to reserve jobs"), "{log}");
    assert!(log.contains("reserving jobs works again"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_to_paused_redis_fails_in_time() {
    let mut server = RedisServer::start();
    let timeout = Duration::from_millis(500);
    let queue = connect(&server, RedisQueueOptions::default().response_timeout(timeout)).await;
    queue.enqueue(NewJob::new("count", json!({}))).await.unwrap();
    server.pause();

    let started = Instant::now();
    let single = queue.enqueue(NewJob::new("count", json!({"n": 1}))).await.map(drop);
    let single_took = started.elapsed();
    let started = Instant::now();
    let batch = queue
        .enqueue_many(vec![
            NewJob::new("count", json!({"n": 2})),
            NewJob::new("count", json!({"n": 3})),
        ])
        .await
        .map(drop);
    let batch_took = started.elapsed();
    let started = Instant::now();
    let unique = queue
        .enqueue_unique(NewJob::new("count", json!({"n": 4})).unique_key("k"))
        .await
        .map(drop);
    let unique_took = started.elapsed();
    server.resume();

    for (result, took) in [(single, single_took), (batch, batch_took), (unique, unique_took)] {
        let error = result.expect_err("an enqueue to a paused Redis fails");
        assert!(took < timeout + Duration::from_millis(300), "took {took:?}: {error}");
        assert!(!error.is_invalid(), "{error}");
        let EnqueueError::Queue { source, .. } = &error else {
            panic!("expected a queue error, got {error:?}");
        };
        assert!(source.is_transient(), "{source:?}");
        let job = error.into_job().expect("the job is handed back");
        assert_eq!(job.name, "count");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_to_stopped_redis_fails_in_time() {
    let mut server = RedisServer::start();
    let timeout = Duration::from_millis(500);
    let queue = connect(&server, RedisQueueOptions::default().response_timeout(timeout)).await;
    server.kill();

    let started = Instant::now();
    let error = queue.enqueue(NewJob::new("count", json!({"n": 1}))).await.unwrap_err();
    let took = started.elapsed();

    assert!(took < timeout + Duration::from_millis(300), "took {took:?}");
    let EnqueueError::Queue { source, .. } = &error else {
        panic!("expected a queue error, got {error:?}");
    };
    assert!(source.is_transient(), "{source:?}");
    assert_eq!(error.into_job().unwrap().payload.to_value().unwrap(), json!({"n": 1}));
}

/// Starts a worker with one long job running and one free slot, makes Redis
/// unresponsive with `break_redis`, waits until the fetch loop is blocked in a
/// reserve call, then stops the worker and returns how long the stop took.
async fn stop_with_redis_broken(break_redis: impl FnOnce(&mut RedisServer)) -> (Duration, Duration, jobs::StopReport) {
    let mut server = RedisServer::start();
    let response_timeout = Duration::from_secs(3);
    let queue = connect(&server, RedisQueueOptions::default().response_timeout(response_timeout)).await;
    let runs = Runs::default();
    queue.enqueue(NewJob::new("count", json!({}))).await.unwrap();
    let worker = start_worker(queue.clone(), counting_registry(&runs, Duration::from_secs(30)), 2);
    let deadline = Instant::now() + Duration::from_secs(5);
    while runs.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the job did not start");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    break_redis(&mut server);
    // Whatever call the fetch loop was in fails after the response timeout.
    // The loop then pauses for at most 100 ms before its next reserve call,
    // which again waits the full response timeout.
    tokio::time::sleep(response_timeout + Duration::from_millis(300)).await;

    let grace = Duration::from_millis(300);
    let started = Instant::now();
    let report = worker.stop(grace).await;
    (started.elapsed(), grace, report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_is_bounded_when_redis_paused() {
    let (took, grace, report) = stop_with_redis_broken(RedisServer::pause).await;

    assert!(took <= grace + Duration::from_millis(1100), "stop took {took:?}");
    assert_eq!(report.in_flight, 1);
    assert_eq!(
        report.unsettled, 1,
        "the release cannot reach a paused Redis: {report:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_is_bounded_when_redis_down() {
    let (took, grace, report) = stop_with_redis_broken(RedisServer::kill).await;

    assert!(took <= grace + Duration::from_millis(1100), "stop took {took:?}");
    assert_eq!(report.in_flight, 1);
    assert_eq!(
        report.released, 0,
        "nothing can be released to a stopped Redis: {report:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_jobs_run_when_due_after_outage() {
    let mut server = RedisServer::start_persistent();
    let options = RedisQueueOptions::default()
        .visibility_timeout(Duration::from_secs(2))
        .response_timeout(Duration::from_millis(500));
    let queue = connect(&server, options.clone()).await;
    let runs = Runs::default();
    let worker = start_worker(
        connect(&server, options).await,
        counting_registry(&runs, Duration::ZERO),
        2,
    );
    let enqueued_at = Instant::now();
    let during = queue
        .enqueue(NewJob::new("count", json!({"due": "during the outage"})).delay(Duration::from_secs(1)))
        .await
        .unwrap();
    let after = queue
        .enqueue(NewJob::new("count", json!({"due": "after the outage"})).delay(Duration::from_secs(4)))
        .await
        .unwrap();

    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill();
    tokio::time::sleep(Duration::from_millis(1700)).await;
    assert!(runs.lock().unwrap().is_empty(), "a job ran while Redis was down");
    server.restart();

    let deadline = Instant::now() + Duration::from_secs(15);
    while runs.lock().unwrap().len() < 2 || queue.stats().await.ok() != Some(QueueStats::default()) {
        assert!(Instant::now() < deadline, "runs {:?}", runs.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.stop(Duration::from_secs(1)).await;

    let runs = runs.lock().unwrap();
    assert_eq!(runs[&during.id].len(), 1, "{runs:?}");
    assert_eq!(runs[&after.id].len(), 1, "{runs:?}");
    let after_ran = runs[&after.id][0] - enqueued_at;
    assert!(
        after_ran >= Duration::from_millis(3900),
        "ran {after_ran:?} after enqueue, before it was due"
    );
}
