//! Faults found by attacking the worker's ack hand-off, its stop and the
//! Redis queue's blocking wait for jobs. Each test states what must hold.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jobs::queue::redis::{RedisJobQueue, RedisQueueOptions};
use jobs::{DynQueue, JobOptions, JobQueue, NewJob, Registry, WorkerRunner};
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

/// How many times each job id ran.
type Runs = Arc<Mutex<HashMap<String, u32>>>;

/// Builds a registry whose job `count` records each run, then sleeps for `work`.
fn counting_registry(runs: &Runs, work: Duration) -> Registry {
    let mut registry = Registry::new();
    let runs = runs.clone();
    registry
        .register("count", JobOptions::DEFAULT, move |context| {
            *runs.lock().unwrap().entry(context.id().to_owned()).or_default() += 1;
            tokio::time::sleep(work)
        })
        .unwrap();
    registry
}

/// Waits until no job is ready, delayed or leased, or `limit` passes.
async fn wait_until_settled(queue: &DynQueue, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let stats = queue.stats().await.unwrap();
        if stats.ready + stats.delayed + stats.processing == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A stop with a zero grace period often begins while the fetch loop's
/// `ack_and_reserve` call is in flight. Aborting the call would not undo the
/// reserve on the server, so the jobs it leased would have no worker until
/// their lease expired, which counts as an attempt: a job allowed one
/// attempt would be dead-lettered without ever running. A stop must hand
/// back every job it reserved, uncounted, or never reserve it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_grace_stop_strands_no_job() {
    let server = RedisServer::start();
    let options = RedisQueueOptions::default().visibility_timeout(Duration::from_secs(1));
    let queue = connect(&server, options).await;
    let jobs: Vec<NewJob> = (0..20_000)
        .map(|n| NewJob::new("count", json!({ "n": n })).max_attempts(1))
        .collect();
    for chunk in jobs.chunks(1000) {
        queue.enqueue_many(chunk.to_vec()).await.unwrap();
    }

    let runs = Runs::default();
    let mut stranded_after_stop = Vec::new();
    for round in 0..16 {
        let worker = WorkerRunner::new(queue.clone(), counting_registry(&runs, Duration::from_millis(2)))
            .concurrency(8)
            .start();
        tokio::time::sleep(Duration::from_millis(60 + round * 11)).await;
        let report = worker.stop(Duration::ZERO).await;
        assert_eq!(
            report.unsettled, 0,
            "Redis is healthy, so every settle completes: {report:?}"
        );
        stranded_after_stop.push(queue.stats().await.unwrap().processing);
    }

    let drain = WorkerRunner::new(queue.clone(), counting_registry(&runs, Duration::ZERO))
        .concurrency(8)
        .poll_interval(Duration::from_millis(20))
        .start();
    wait_until_settled(&queue, Duration::from_secs(60)).await;
    drain.stop(Duration::from_secs(1)).await;

    let dead = queue.dead_jobs(0, 100).await.unwrap();
    let runs = runs.lock().unwrap();
    let never_ran: Vec<&str> = dead
        .iter()
        .map(|dead| dead.job.id.as_str())
        .filter(|id| !runs.contains_key(*id))
        .collect();
    assert!(
        dead.is_empty(),
        "{} jobs dead-lettered, {} of them never ran (ids {:?}); jobs leased with no worker right after each stop: {:?}; first error: {:?}",
        dead.len(),
        never_ran.len(),
        &never_ran[..never_ran.len().min(10)],
        stranded_after_stop,
        dead.first().and_then(|dead| dead.job.last_error.clone()),
    );
    assert!(
        stranded_after_stop.iter().all(|&leased| leased == 0),
        "jobs still leased right after each stop, with no worker to settle them: {stranded_after_stop:?}"
    );
}

/// Gates that `hold` jobs wait on, by the number in their payload, and the
/// number of `late` jobs that ran.
#[derive(Clone, Default)]
struct Gates {
    open: Arc<[AtomicBool; 2]>,
    holding: Arc<AtomicUsize>,
    late_runs: Arc<AtomicUsize>,
}

fn gated_registry(gates: &Gates) -> Registry {
    let mut registry = Registry::new();
    let hold = gates.clone();
    registry
        .register("hold", JobOptions::DEFAULT, move |context| {
            let gate: usize = serde_json::from_str::<serde_json::Value>(context.job().payload.as_str()).unwrap()["gate"]
                .as_u64()
                .unwrap() as usize;
            let hold = hold.clone();
            async move {
                hold.holding.fetch_add(1, Ordering::SeqCst);
                while !hold.open[gate].load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        })
        .unwrap();
    let late = gates.clone();
    registry
        .register("late", JobOptions::DEFAULT, move |_context| {
            late.late_runs.fetch_add(1, Ordering::SeqCst);
            async {}
        })
        .unwrap();
    registry
}

/// Once `Worker::stop` has begun, the fetch loop may finish the reserve it
/// has in flight, but must start no other, and must hand back the jobs that
/// reserve returns instead of running them. The loop waits for a free slot
/// in a `select!` on the shutdown and the slot. Unless the shutdown branch
/// comes first, a slot that frees up during the in-flight call lets the loop
/// reserve and start more jobs after the stop began.
///
/// Pausing Redis keeps the call in flight. At concurrency 2, job A finishes
/// while Redis is paused, so its ack goes out with a reserve of one job.
/// Then job B finishes and frees the second slot, the stop begins and Redis
/// resumes. No `late` job may run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_worker_reserves_no_new_jobs() {
    let mut server = RedisServer::start();
    let queue = connect(&server, RedisQueueOptions::default()).await;
    let mut late_per_round = Vec::new();
    for _ in 0..8 {
        let gates = Gates::default();
        let worker = WorkerRunner::new(queue.clone(), gated_registry(&gates))
            .concurrency(2)
            .poll_interval(Duration::from_millis(20))
            .start();
        for gate in 0..2 {
            queue
                .enqueue(NewJob::new("hold", json!({ "gate": gate })))
                .await
                .unwrap();
        }
        while gates.holding.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let late: Vec<NewJob> = (0..20).map(|n| NewJob::new("late", json!({ "n": n }))).collect();
        queue.enqueue_many(late).await.unwrap();

        server.pause();
        gates.open[0].store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(200)).await;
        gates.open[1].store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let stopping = tokio::spawn(worker.stop(Duration::from_secs(10)));
        tokio::time::sleep(Duration::from_millis(100)).await;
        server.resume();
        stopping.await.unwrap();

        late_per_round.push(gates.late_runs.load(Ordering::SeqCst));
        let _: () = redis::cmd("FLUSHALL")
            .query_async(&mut raw_connection(&server).await)
            .await
            .unwrap();
    }
    assert!(
        late_per_round.iter().all(|&late| late == 0),
        "late jobs run per round after the stop began (the reserve in flight must hand its job back): {late_per_round:?}"
    );
}

/// An idle worker waits with `BLPOP {p}:wake <seconds>`, the seconds being
/// the poll interval or the time until the next delayed job is due. But an
/// idle Redis ends a blocking command's timeout only on its next cron tick,
/// every 1000 / `hz` ms (100 ms at the default `hz 10`), unless another
/// command wakes it first. So on a quiet server a delayed job runs up to one
/// tick late, and a poll interval below the tick is stretched to the tick,
/// also for jobs that a producer queued without a wake token (svc-infra).
/// `WorkerRunner::poll_interval` promises that the poll interval bounds the
/// delay. This test uses `hz 1`, so the delay reaches a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_job_runs_within_poll_interval() {
    let server = RedisServer::start_with_args(&["--hz", "1"]);
    let queue = connect(&server, RedisQueueOptions::default()).await;
    let runs = Runs::default();
    let worker = WorkerRunner::new(queue.clone(), counting_registry(&runs, Duration::ZERO))
        .poll_interval(Duration::from_millis(20))
        .start();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let delay = Duration::from_millis(100);
    let mut late_by = Vec::new();
    for n in 0..4 {
        let enqueued = Instant::now();
        let job = queue
            .enqueue(NewJob::new("count", json!({ "n": n })).delay(delay))
            .await
            .unwrap();
        while !runs.lock().unwrap().contains_key(&job.id) && enqueued.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        late_by.push(enqueued.elapsed().saturating_sub(delay));
    }
    worker.stop(Duration::from_secs(1)).await;
    // The bound leaves 380 ms beyond the 20 ms poll interval for a slow,
    // shared machine.
    assert!(
        late_by.iter().all(|late| *late < Duration::from_millis(400)),
        "delayed jobs ran this late after their due time: {late_by:?}; the poll interval is 20 ms"
    );
}

/// A job whose ack went out in the fetch loop's `ack_and_reserve` call, and
/// whose reply timed out, acks again on its own. When the first ack took
/// effect after all, a later send finds the lease gone. `JobOutcome::LeaseLost`
/// would then be wrong: it means that the lease expired and another worker
/// may have the job. But the lease (60 s) was still valid and the job was
/// acked, and the lease deadline that the worker keeps shows it, so the
/// worker must report `Succeeded`. The same holds when the job's own ack
/// gets its reply on the first send (a pause shorter than twice the
/// response timeout), where no warning of an expired lease may be logged.
///
/// At concurrency 2, job A finishes while Redis is paused, so its ack goes
/// out in the fetch loop's call and times out after the 300 ms response
/// timeout. A then acks on its own, and again after each timeout. Redis
/// resumes at 1.5 s and runs the fetch loop's ack first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handed_off_ack_reports_success() {
    let mut server = RedisServer::start();
    let options = RedisQueueOptions::default().response_timeout(Duration::from_millis(300));
    let queue = connect(&server, options).await;
    let gates = Gates::default();
    let outcomes: Arc<Mutex<Vec<(String, jobs::JobOutcome)>>> = Arc::default();
    let recorded = outcomes.clone();
    let worker = WorkerRunner::new(queue.clone(), gated_registry(&gates))
        .concurrency(2)
        .poll_interval(Duration::from_millis(20))
        .on_event(move |event| {
            recorded
                .lock()
                .unwrap()
                .push((event.job_id.clone(), event.outcome.clone()))
        })
        .start();
    // One job run to its ack first loads the ack script, so the ack sent
    // while Redis is paused runs on resume instead of failing with NOSCRIPT.
    queue.enqueue(NewJob::new("late", json!({}))).await.unwrap();
    while outcomes.lock().unwrap().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let first = queue.enqueue(NewJob::new("hold", json!({ "gate": 0 }))).await.unwrap();
    queue.enqueue(NewJob::new("hold", json!({ "gate": 1 }))).await.unwrap();
    while gates.holding.load(Ordering::SeqCst) < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    server.pause();
    gates.open[0].store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.resume();
    gates.open[1].store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(5);
    while outcomes.lock().unwrap().len() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    worker.stop(Duration::from_secs(1)).await;

    let stats = queue.stats().await.unwrap();
    assert_eq!(stats.processing + stats.ready, 0, "both jobs were acked: {stats:?}");
    let outcomes = outcomes.lock().unwrap();
    let first_outcome = outcomes
        .iter()
        .find(|(id, _)| *id == first.id)
        .map(|(_, outcome)| outcome);
    assert_eq!(
        first_outcome,
        Some(&jobs::JobOutcome::Succeeded),
        "job {} was acked within its lease; all outcomes: {outcomes:?}",
        first.id
    );
}

/// Reads an integer field of `INFO <section>`, such as `total_connections_received`.
async fn info_field(connection: &mut MultiplexedConnection, section: &str, name: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg(section).query_async(connection).await.unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in INFO {section}: {info}"))
}

/// Reads how many times the server ran BLPOP.
async fn blpop_calls(connection: &mut MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(connection)
        .await
        .unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("cmdstat_blpop:calls="))
        .and_then(|rest| rest.split(',').next()?.parse().ok())
        .unwrap_or(0)
}

/// An idle worker's wait ends on time even though the server would end its
/// BLPOP only on its next tick, and ending it early must not cost a new
/// connection per wait: the blocking connection stays usable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_waits_end_on_time_on_one_connection() {
    let server = RedisServer::start_with_args(&["--hz", "1"]);
    let queue = connect(&server, RedisQueueOptions::default()).await;
    let mut observer = raw_connection(&server).await;
    let runs = Runs::default();
    let worker = WorkerRunner::new(queue.clone(), counting_registry(&runs, Duration::ZERO))
        .poll_interval(Duration::from_millis(10))
        .start();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let connections_before = info_field(&mut observer, "stats", "total_connections_received").await;
    let waits_before = blpop_calls(&mut observer).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let connections = info_field(&mut observer, "stats", "total_connections_received").await - connections_before;
    let waits = blpop_calls(&mut observer).await - waits_before;
    worker.stop(Duration::from_secs(1)).await;

    // Waits that end on the server's tick (hz 1) allow about 2 in the
    // second. Waits that end on time allowed 80 on a shared 2-core machine.
    assert!(
        waits >= 10,
        "only {waits} waits of 10 ms ended in one second; the waits end on the server's tick"
    );
    assert!(
        connections <= 1,
        "an idle worker opened {connections} connections during {waits} waits; each wait must not open one"
    );
}
