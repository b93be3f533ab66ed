//! Workers on both backends: retries, dead-lettering, unknown jobs,
//! concurrency, lease renewal and graceful stop.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jobs::{
    Backoff, DynQueue, JobError, JobEvent, JobOptions, JobOutcome, JobQueue, JobResult, NewJob, Registry, WorkerRunner,
    process_one,
};
use jobs_tests::{Backend, TestQueue, backend_tests};
use serde_json::json;
use tokio::sync::mpsc;

const LONG_LEASE: Duration = Duration::from_secs(30);

backend_tests!(
    always_failing_job_runs_max_attempts_times,
    failing_twice_then_succeeding_is_acked,
    failed_job_result_is_retried,
    unknown_job_is_retried_then_dead_lettered,
    handler_timeout_is_a_failed_attempt,
    panicking_handler_is_a_failed_attempt,
    permanent_error_skips_retries,
    concurrency_limits_parallel_jobs,
    slow_handler_keeps_its_lease,
    graceful_stop_waits_for_running_job,
    graceful_stop_releases_unfinished_job,
    process_one_reports_empty_queue,
);

fn quick_retry(max_attempts: u32) -> JobOptions {
    JobOptions::DEFAULT
        .max_attempts(max_attempts)
        .backoff(Backoff::linear(Duration::from_millis(50)))
}

/// Starts a worker whose events go to the returned channel.
fn start(queue: DynQueue, registry: Registry, concurrency: usize) -> (jobs::Worker, mpsc::UnboundedReceiver<JobEvent>) {
    let (sender, events) = mpsc::unbounded_channel();
    let worker = WorkerRunner::new(queue, registry)
        .concurrency(concurrency)
        .poll_interval(Duration::from_millis(20))
        .on_event(move |event| {
            let _ = sender.send(event.clone());
        })
        .start();
    (worker, events)
}

/// Receives events until one settles the job for good (acked or dead), or panics after `limit`.
async fn until_settled(events: &mut mpsc::UnboundedReceiver<JobEvent>, limit: Duration) -> Vec<JobEvent> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("job not settled within {limit:?}; events so far: {seen:#?}"))
            .expect("worker dropped the event channel");
        let settled = matches!(event.outcome, JobOutcome::Succeeded | JobOutcome::DeadLettered { .. });
        seen.push(event);
        if settled {
            return seen;
        }
    }
}

async fn always_failing_job_runs_max_attempts_times(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let runs = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::new();
    let counter = runs.clone();
    registry
        .register("always_fails", quick_retry(3), move |context| {
            let run = counter.fetch_add(1, Ordering::SeqCst) + 1;
            async move { Err::<(), _>(format!("failure {run} on attempt {}", context.attempt())) }
        })
        .unwrap();
    let queued = test
        .queue
        .enqueue(NewJob::new("always_fails", json!({})).options(&quick_retry(3)))
        .await
        .unwrap();
    let (worker, mut events) = start(test.queue.clone(), registry, 1);

    let seen = until_settled(&mut events, Duration::from_secs(10)).await;
    worker.stop(Duration::from_secs(1)).await;

    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert_eq!(seen.len(), 3);
    assert!(matches!(seen[0].outcome, JobOutcome::Retrying { .. }));
    assert!(matches!(seen[1].outcome, JobOutcome::Retrying { .. }));
    assert!(matches!(seen[2].outcome, JobOutcome::DeadLettered { .. }));
    let dead = test.queue.dead_jobs(0, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].job.id, queued.id);
    assert_eq!(dead[0].job.attempts, 3);
    let error = dead[0].job.last_error.clone().unwrap();
    assert!(error.contains("failure 3 on attempt 3"), "{error}");
}

async fn failing_twice_then_succeeding_is_acked(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let errors_seen = Arc::new(Mutex::new(Vec::new()));
    let mut registry = Registry::new();
    let seen_errors = errors_seen.clone();
    registry
        .register("flaky", quick_retry(5), move |context| {
            seen_errors
                .lock()
                .unwrap()
                .push(context.last_error().map(str::to_owned));
            let attempt = context.attempt();
            async move {
                if attempt < 3 {
                    Err(format!("attempt {attempt} failed"))
                } else {
                    Ok(())
                }
            }
        })
        .unwrap();
    let queued = test
        .queue
        .enqueue(NewJob::new("flaky", json!({})).options(&quick_retry(5)))
        .await
        .unwrap();
    let (worker, mut events) = start(test.queue.clone(), registry, 1);

    let seen = until_settled(&mut events, Duration::from_secs(10)).await;
    worker.stop(Duration::from_secs(1)).await;

    let attempts: Vec<u32> = seen.iter().map(|event| event.attempt).collect();
    assert_eq!(attempts, [1, 2, 3]);
    assert_eq!(seen[2].outcome, JobOutcome::Succeeded);
    let last_errors = errors_seen.lock().unwrap().clone();
    assert_eq!(
        last_errors,
        [
            None,
            Some("job `flaky` failed: attempt 1 failed".to_owned()),
            Some("job `flaky` failed: attempt 2 failed".to_owned())
        ]
    );
    assert_eq!(test.queue.job(&queued.id).await.unwrap(), None);
}

async fn failed_job_result_is_retried(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let mut registry = Registry::new();
    registry
        .register("soft_fail", quick_retry(2), |_| async {
            JobResult::failure("quota exceeded")
        })
        .unwrap();
    test.queue
        .enqueue(NewJob::new("soft_fail", json!({})).options(&quick_retry(2)))
        .await
        .unwrap();
    let (worker, mut events) = start(test.queue.clone(), registry, 1);

    let seen = until_settled(&mut events, Duration::from_secs(10)).await;
    worker.stop(Duration::from_secs(1)).await;

    assert_eq!(seen.len(), 2);
    let JobOutcome::DeadLettered { error } = &seen[1].outcome else {
        panic!("expected the DLQ, got {:?}", seen[1].outcome);
    };
    assert!(error.contains("quota exceeded"), "{error}");
}

async fn unknown_job_is_retried_then_dead_lettered(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let request = NewJob::new("nobody_handles_this", json!({})).options(&quick_retry(2));
    let queued = test.queue.enqueue(request).await.unwrap();
    let (worker, mut events) = start(test.queue.clone(), Registry::new(), 1);

    let seen = until_settled(&mut events, Duration::from_secs(10)).await;
    worker.stop(Duration::from_secs(1)).await;

    assert_eq!(seen.len(), 2, "an unknown job is retried with backoff: {seen:#?}");
    assert!(matches!(seen[0].outcome, JobOutcome::Retrying { .. }));
    let dead = test.queue.dead_jobs(0, 10).await.unwrap();
    assert_eq!(dead[0].job.id, queued.id);
    let error = dead[0].job.last_error.clone().unwrap();
    assert!(
        error.contains("no handler is registered for job `nobody_handles_this`"),
        "{error}"
    );
}

async fn handler_timeout_is_a_failed_attempt(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let finished = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::new();
    let after_deadline = finished.clone();
    let options = quick_retry(1).timeout(Duration::from_millis(100));
    registry
        .register("too_slow", options, move |_| {
            let after_deadline = after_deadline.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(400)).await;
                after_deadline.fetch_add(1, Ordering::SeqCst);
            }
        })
        .unwrap();
    test.queue
        .enqueue(NewJob::new("too_slow", json!({})).options(&options))
        .await
        .unwrap();
    let (worker, mut events) = start(test.queue.clone(), registry, 1);

    let seen = until_settled(&mut events, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    worker.stop(Duration::from_secs(1)).await;

    let JobOutcome::DeadLettered { error } = &seen[0].outcome else {
        panic!("expected the DLQ, got {:?}", seen[0].outcome);
    };
    assert!(error.contains("exceeded its timeout of 100ms"), "{error}");
    assert_eq!(
        finished.load(Ordering::SeqCst),
        0,
        "the handler ran on after its deadline"
    );
}

async fn panicking_handler_is_a_failed_attempt(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let mut registry = Registry::new();
    registry
        .register("panics", quick_retry(1), |_| async {
            let items: Vec<u32> = Vec::new();
            let _ = items[3];
        })
        .unwrap();
    registry.register("fine", quick_retry(1), |_| async {}).unwrap();
    test.queue
        .enqueue(NewJob::new("panics", json!({})).options(&quick_retry(1)))
        .await
        .unwrap();
    let (worker, mut events) = start(test.queue.clone(), registry, 1);

    let first = until_settled(&mut events, Duration::from_secs(10)).await;
    test.queue.enqueue(NewJob::new("fine", json!({}))).await.unwrap();
    let second = until_settled(&mut events, Duration::from_secs(10)).await;
    worker.stop(Duration::from_secs(1)).await;

    let JobOutcome::DeadLettered { error } = &first[0].outcome else {
        panic!("expected the DLQ, got {:?}", first[0].outcome);
    };
    assert!(
        error.contains("panicked: index out of bounds: the len is 0 but the index is 3"),
        "{error}"
    );
    assert_eq!(second[0].outcome, JobOutcome::Succeeded, "the worker survives a panic");
}

async fn permanent_error_skips_retries(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let mut registry = Registry::new();
    registry
        .register("invalid_input", quick_retry(5), |_| async {
            Err::<(), _>(JobError::permanent("user 42 does not exist"))
        })
        .unwrap();
    test.queue
        .enqueue(NewJob::new("invalid_input", json!({})).options(&quick_retry(5)))
        .await
        .unwrap();
    let (worker, mut events) = start(test.queue.clone(), registry, 1);

    let seen = until_settled(&mut events, Duration::from_secs(10)).await;
    worker.stop(Duration::from_secs(1)).await;

    assert_eq!(seen.len(), 1);
    let dead = test.queue.dead_jobs(0, 10).await.unwrap();
    assert_eq!(dead[0].job.attempts, 1);
    assert!(
        dead[0]
            .job
            .last_error
            .as_deref()
            .unwrap()
            .contains("user 42 does not exist")
    );
}

async fn concurrency_limits_parallel_jobs(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::new();
    let (running_now, peak_seen) = (running.clone(), peak.clone());
    registry
        .register("parallel", JobOptions::DEFAULT, move |_| {
            let (running, peak) = (running_now.clone(), peak_seen.clone());
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(150)).await;
                running.fetch_sub(1, Ordering::SeqCst);
            }
        })
        .unwrap();
    for _ in 0..12 {
        test.queue.enqueue(NewJob::new("parallel", json!({}))).await.unwrap();
    }
    let (worker, mut events) = start(test.queue.clone(), registry, 4);

    for _ in 0..12 {
        until_settled(&mut events, Duration::from_secs(10)).await;
    }
    worker.stop(Duration::from_secs(1)).await;

    assert_eq!(peak.load(Ordering::SeqCst), 4, "peak parallel jobs");
    assert_eq!(test.queue.stats().await.unwrap(), jobs::QueueStats::default());
}

async fn slow_handler_keeps_its_lease(backend: Backend) {
    let test = TestQueue::open(backend, Duration::from_millis(600)).await;
    let second_worker_queue = test.reopen().await;
    let runs = Arc::new(AtomicUsize::new(0));
    let registry = || {
        let mut registry = Registry::new();
        let runs = runs.clone();
        registry
            .register("slow", JobOptions::DEFAULT, move |_| {
                runs.fetch_add(1, Ordering::SeqCst);
                async { tokio::time::sleep(Duration::from_millis(2000)).await }
            })
            .unwrap();
        registry
    };
    test.queue.enqueue(NewJob::new("slow", json!({}))).await.unwrap();
    let (first, mut events) = start(test.queue.clone(), registry(), 1);
    wait_until_processing(&test.queue).await;
    let (second, mut second_events) = start(second_worker_queue, registry(), 1);

    let seen = until_settled(&mut events, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    first.stop(Duration::from_secs(1)).await;
    second.stop(Duration::from_secs(1)).await;

    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].outcome, JobOutcome::Succeeded);
    assert!(seen[0].elapsed >= Duration::from_millis(2000));
    assert_eq!(runs.load(Ordering::SeqCst), 1, "a job longer than its lease ran twice");
    assert!(second_events.try_recv().is_err(), "the second worker ran the job too");
}

async fn graceful_stop_waits_for_running_job(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let starts = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::new();
    let counter = starts.clone();
    registry
        .register("short", JobOptions::DEFAULT, move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            async {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        })
        .unwrap();
    test.queue.enqueue(NewJob::new("short", json!({}))).await.unwrap();
    let (worker, mut events) = start(test.queue.clone(), registry, 1);
    wait_until_started(&starts).await;

    let report = worker.stop(Duration::from_secs(5)).await;

    assert_eq!(report.in_flight, 1);
    assert_eq!(report.released, 0);
    assert_eq!(events.recv().await.unwrap().outcome, JobOutcome::Succeeded);
    assert_eq!(test.queue.stats().await.unwrap(), jobs::QueueStats::default());
}

async fn graceful_stop_releases_unfinished_job(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let starts = Arc::new(AtomicUsize::new(0));
    let finishes = Arc::new(AtomicUsize::new(0));
    let registry = || {
        let mut registry = Registry::new();
        let (starts, finishes) = (starts.clone(), finishes.clone());
        registry
            .register("long", JobOptions::DEFAULT, move |_| {
                starts.fetch_add(1, Ordering::SeqCst);
                let finishes = finishes.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    finishes.fetch_add(1, Ordering::SeqCst);
                }
            })
            .unwrap();
        registry
    };
    let queued = test.queue.enqueue(NewJob::new("long", json!({}))).await.unwrap();
    let (worker, _events) = start(test.queue.clone(), registry(), 1);
    wait_until_started(&starts).await;

    let started = tokio::time::Instant::now();
    let report = worker.stop(Duration::from_millis(200)).await;
    let stop_took = started.elapsed();

    assert_eq!(report.released, 1);
    assert!(stop_took < Duration::from_millis(1200), "stop took {stop_took:?}");
    let waiting = test
        .queue
        .job(&queued.id)
        .await
        .unwrap()
        .expect("the released job is kept");
    assert_eq!(waiting.attempts, 0, "the interrupted attempt is not counted");
    assert_eq!(finishes.load(Ordering::SeqCst), 0);

    let (next_worker, mut events) = start(test.reopen().await, registry(), 1);
    let seen = until_settled(&mut events, Duration::from_secs(10)).await;
    next_worker.stop(Duration::from_secs(1)).await;

    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].attempt, 1);
    assert_eq!(seen[0].outcome, JobOutcome::Succeeded);
    assert_eq!(finishes.load(Ordering::SeqCst), 1, "the job finished once");
    assert_eq!(starts.load(Ordering::SeqCst), 2);
}

async fn process_one_reports_empty_queue(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let mut registry = Registry::new();
    registry.register("one", JobOptions::DEFAULT, |_| async {}).unwrap();

    assert!(process_one(&test.queue, &registry).await.unwrap().is_none());
    test.queue.enqueue(NewJob::new("one", json!({}))).await.unwrap();
    let event = process_one(&test.queue, &registry)
        .await
        .unwrap()
        .expect("one job was due");

    assert_eq!(event.outcome, JobOutcome::Succeeded);
    assert!(process_one(&test.queue, &registry).await.unwrap().is_none());
}

/// Waits until a handler has started. A job counted as processing may still
/// be on its way to the worker, which a stop beginning then hands back
/// without running it.
async fn wait_until_started(starts: &AtomicUsize) {
    for _ in 0..200 {
        if starts.load(Ordering::SeqCst) > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no handler started within 2 s");
}

async fn wait_until_processing(queue: &DynQueue) {
    for _ in 0..200 {
        if queue.stats().await.unwrap().processing > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no job started within 2 s");
}
