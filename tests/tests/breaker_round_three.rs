//! Faults sought in the worker's stop while Redis stalls, and in the Redis
//! queue's blocking wait on servers that refuse `CLIENT` and on a
//! current-thread runtime. Each test states what must hold.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jobs::queue::redis::{RedisJobQueue, RedisQueueOptions};
use jobs::{DynQueue, JobOptions, JobOutcome, JobQueue, NewJob, Registry, WorkerRunner};
use jobs_tests::RedisServer;
use serde_json::json;

async fn connect(server: &RedisServer, options: RedisQueueOptions) -> DynQueue {
    let queue = RedisJobQueue::connect(&server.url(), options)
        .await
        .expect("connect to the test Redis");
    Arc::new(queue)
}

/// Per job id: how many runs started, how many are running now, and the
/// largest number that ran at once.
#[derive(Default)]
struct RunCount {
    started: u32,
    running: u32,
    max_at_once: u32,
}

type Runs = Arc<Mutex<HashMap<String, RunCount>>>;
type Events = Arc<Mutex<HashMap<String, Vec<JobOutcome>>>>;

/// Leaves the run count of a job when the handler ends or is dropped.
struct Running(Runs, String);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(count) = self.0.lock().unwrap().get_mut(&self.1) {
            count.running -= 1;
        }
    }
}

fn counting_registry(runs: &Runs, work: Duration) -> Registry {
    let mut registry = Registry::new();
    let runs = runs.clone();
    registry
        .register("count", JobOptions::DEFAULT, move |context| {
            let id = context.id().to_owned();
            {
                let mut runs = runs.lock().unwrap();
                let count = runs.entry(id.clone()).or_default();
                count.started += 1;
                count.running += 1;
                count.max_at_once = count.max_at_once.max(count.running);
            }
            let guard = Running(runs.clone(), id);
            async move {
                tokio::time::sleep(work).await;
                drop(guard);
            }
        })
        .unwrap();
    registry
}

/// A small deterministic generator, so a failing run can be repeated.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

/// Workers start and stop again and again, with grace 0 or 50 ms, while
/// Redis is paused (SIGSTOP) for up to 800 ms at random moments, shorter
/// than the 4 s lease. No job may run twice at once, none may succeed twice,
/// none may be dead-lettered (each may fail 20 times, and every stop hands
/// its jobs back uncounted), and each stop returns within grace + 1 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_cycles_under_redis_pauses() {
    let server = Arc::new(Mutex::new(RedisServer::start()));
    let url_server = server.lock().unwrap().url();
    let options = RedisQueueOptions::default()
        .visibility_timeout(Duration::from_secs(4))
        .response_timeout(Duration::from_millis(1500));
    let queue: DynQueue = Arc::new(RedisJobQueue::connect(&url_server, options).await.unwrap());
    let jobs: Vec<NewJob> = (0..3000)
        .map(|n| NewJob::new("count", json!({ "n": n })).max_attempts(20))
        .collect();
    queue.enqueue_many(jobs).await.unwrap();

    let runs = Runs::default();
    let events = Events::default();
    let mut random = Lcg(7);
    let mut slow_stops = Vec::new();
    let mut leased_after_clean_stop = Vec::new();
    for round in 0..14 {
        let hook_events = events.clone();
        let worker = WorkerRunner::new(queue.clone(), counting_registry(&runs, Duration::from_millis(3)))
            .concurrency(6)
            .on_event(move |event| {
                hook_events
                    .lock()
                    .unwrap()
                    .entry(event.job_id.clone())
                    .or_default()
                    .push(event.outcome.clone());
            })
            .start();
        let pause_after = Duration::from_millis(random.below(200));
        let pause_for = Duration::from_millis(100 + random.below(700));
        let pauser = {
            let server = server.clone();
            std::thread::spawn(move || {
                std::thread::sleep(pause_after);
                server.lock().unwrap().pause();
                std::thread::sleep(pause_for);
                server.lock().unwrap().resume();
            })
        };
        tokio::time::sleep(Duration::from_millis(50 + random.below(200))).await;
        let grace = Duration::from_millis(if round % 2 == 0 { 0 } else { 50 });
        let began = Instant::now();
        let report = worker.stop(grace).await;
        let took = began.elapsed();
        if took > grace + Duration::from_millis(1300) {
            slow_stops.push((round, took));
        }
        let pause_over = pauser.join().is_ok();
        assert!(pause_over);
        if report.unsettled == 0 {
            let leased = queue.stats().await.unwrap().processing;
            if leased > 0 {
                leased_after_clean_stop.push((round, leased, report));
            }
        }
    }

    let drain = WorkerRunner::new(queue.clone(), counting_registry(&runs, Duration::ZERO))
        .concurrency(8)
        .poll_interval(Duration::from_millis(20))
        .start();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let stats = queue.stats().await.unwrap();
        if stats.ready + stats.delayed + stats.processing == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drain.stop(Duration::from_secs(1)).await;

    let stats = queue.stats().await.unwrap();
    let runs = runs.lock().unwrap();
    let overlapping: Vec<&String> = runs
        .iter()
        .filter(|(_, count)| count.max_at_once > 1)
        .map(|(id, _)| id)
        .collect();
    let events = events.lock().unwrap();
    let twice_succeeded: Vec<&String> = events
        .iter()
        .filter(|(_, outcomes)| outcomes.iter().filter(|o| **o == JobOutcome::Succeeded).count() > 1)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(stats.dead, 0, "no job may be dead-lettered: {stats:?}");
    assert_eq!(runs.len(), 3000, "every job ran");
    assert!(overlapping.is_empty(), "jobs that ran twice at once: {overlapping:?}");
    assert!(
        twice_succeeded.is_empty(),
        "jobs that succeeded twice: {twice_succeeded:?}"
    );
    assert!(slow_stops.is_empty(), "stops slower than grace + 1 s: {slow_stops:?}");
    assert!(
        leased_after_clean_stop.is_empty(),
        "jobs still leased right after a stop that reported every job settled: {leased_after_clean_stop:?}"
    );
}

/// An attempt measures its lease from when its task first runs, not from when
/// the reserve was sent. On a current-thread runtime a handler that blocks the
/// thread while the fetch loop's reserve is in flight delays the reply.
/// That delays the start of the jobs reserved, so a job can start after its
/// lease has already expired and another worker has taken it. The job runs
/// twice, and the worker's lease deadline lies later than the queue's, which
/// the ack's resend rule relies on never happening.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "on a current-thread runtime a handler that blocks the thread also holds back the lease renewal of the other jobs, which may then run on a second worker; the README documents this limit"]
async fn expired_lease_job_not_run_late() {
    let server = RedisServer::start();
    let options = RedisQueueOptions::default().visibility_timeout(Duration::from_secs(1));
    let producer = connect(&server, options.clone()).await;
    producer
        .enqueue(NewJob::new("step", json!({ "enqueue_and_block": true })))
        .await
        .unwrap();

    // (worker, job id, outcome) of every attempt, and the runs per job id.
    let events: Arc<Mutex<Vec<(u8, String, JobOutcome)>>> = Arc::default();
    let runs: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let blocking: Arc<Mutex<Option<Instant>>> = Arc::default();
    let registry = |worker: u8| {
        let (runs, producer, blocking) = (runs.clone(), producer.clone(), blocking.clone());
        let mut registry = Registry::new();
        registry
            .register("step", JobOptions::DEFAULT, move |context| {
                *runs.lock().unwrap().entry(context.id().to_owned()).or_default() += 1;
                let first = context.job().payload.as_str().contains("enqueue_and_block") && worker == 1;
                let (producer, blocking) = (producer.clone(), blocking.clone());
                async move {
                    if first {
                        producer.enqueue(NewJob::new("step", json!({}))).await.unwrap();
                        // Lets the fetch loop wake and send its reserve, and
                        // blocks as soon as the queue has leased the new job.
                        while producer.stats().await.unwrap().processing < 2 {
                            tokio::task::yield_now().await;
                        }
                        *blocking.lock().unwrap() = Some(Instant::now());
                        // Holds the runtime's only thread, as CPU-bound work does.
                        std::thread::sleep(Duration::from_millis(2500));
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
            .unwrap();
        registry
    };
    let hook = |worker: u8| {
        let events = events.clone();
        move |event: &jobs::JobEvent| {
            events
                .lock()
                .unwrap()
                .push((worker, event.job_id.clone(), event.outcome.clone()))
        }
    };

    let url = server.url();
    let first_registry = registry(1);
    let first_hook = hook(1);
    let first = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let queue: DynQueue = Arc::new(RedisJobQueue::connect(&url, options).await.unwrap());
            let worker = WorkerRunner::new(queue, first_registry)
                .concurrency(3)
                .poll_interval(Duration::from_millis(50))
                .on_event(first_hook)
                .start();
            tokio::time::sleep(Duration::from_secs(5)).await;
            worker.stop(Duration::from_secs(1)).await;
        });
    });

    // The second worker starts once the first one's leases have expired.
    while blocking.lock().unwrap().is_none() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let second = WorkerRunner::new(producer.clone(), registry(2))
        .concurrency(3)
        .poll_interval(Duration::from_millis(50))
        .on_event(hook(2))
        .start();
    first.join().unwrap();
    second.stop(Duration::from_secs(1)).await;

    let events = events.lock().unwrap();
    let runs = runs.lock().unwrap();
    let late_successes: Vec<&(u8, String, JobOutcome)> = events
        .iter()
        .filter(|(worker, id, outcome)| {
            *worker == 1
                && *outcome == JobOutcome::Succeeded
                && events.iter().any(|(other, other_id, other_outcome)| {
                    *other == 2 && other_id == id && *other_outcome == JobOutcome::Succeeded
                })
        })
        .collect();
    assert!(
        late_successes.is_empty(),
        "the first worker reported Succeeded for jobs the second worker also ran and acked; events {events:?}, runs {runs:?}"
    );
    assert_eq!(
        runs.get("2"),
        Some(&1),
        "job 2 was reserved by the first worker, whose lease expired before the job started there; it must run only on the second worker; events {events:?}"
    );
}

/// Enqueues `count` jobs one at a time, each once the worker is idle again,
/// and waits until each ran. Returns how many ran.
async fn trickle(queue: &DynQueue, runs: &Runs, count: usize) -> usize {
    for n in 0..count {
        tokio::time::sleep(Duration::from_millis(30)).await;
        queue.enqueue(NewJob::new("count", json!({ "n": n }))).await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline && runs.lock().unwrap().len() < count {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    runs.lock().unwrap().len()
}

/// A server that refuses `CLIENT` (renamed away, or an ACL without it) still
/// runs every job, and an idle worker stops within grace + 1 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_without_client_command() {
    for setup in ["renamed", "acl"] {
        let server = match setup {
            "renamed" => RedisServer::start_with_args(&["--rename-command", "CLIENT", "\"\""]),
            _ => RedisServer::start(),
        };
        let url = if setup == "acl" {
            server_command(
                &server,
                &[
                    "ACL", "SETUSER", "worker", "on", ">secret", "~*", "&*", "+@all", "-client",
                ],
            );
            format!("redis://worker:secret@127.0.0.1:{}/0", server.port())
        } else {
            server.url()
        };
        let options = RedisQueueOptions::default().response_timeout(Duration::from_millis(600));
        let queue: DynQueue = Arc::new(RedisJobQueue::connect(&url, options).await.expect("connect"));
        let runs = Runs::default();
        let worker = WorkerRunner::new(queue.clone(), counting_registry(&runs, Duration::ZERO))
            .poll_interval(Duration::from_secs(30))
            .start();
        let ran = trickle(&queue, &runs, 20).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let began = Instant::now();
        let report = worker.stop(Duration::ZERO).await;
        let took = began.elapsed();
        assert_eq!(ran, 20, "{setup}: every job ran");
        assert_eq!(report.unsettled, 0, "{setup}: {report:?}");
        assert!(took < Duration::from_millis(1500), "{setup}: idle stop took {took:?}");
    }
}

fn server_command(server: &RedisServer, args: &[&str]) -> String {
    let output = std::process::Command::new("redis-cli")
        .arg("-p")
        .arg(server.port().to_string())
        .args(args)
        .output()
        .expect("run redis-cli");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A worker on a current-thread runtime, idle, then woken by enqueues, runs
/// every job, and its idle stop returns within grace + 1 s.
#[test]
fn current_thread_worker_wakes_and_stops() {
    let server = RedisServer::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let queue = connect(&server, RedisQueueOptions::default()).await;
        let runs = Runs::default();
        let worker = WorkerRunner::new(queue.clone(), counting_registry(&runs, Duration::from_millis(1)))
            .concurrency(4)
            .poll_interval(Duration::from_secs(30))
            .start();
        let ran = trickle(&queue, &runs, 30).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let began = Instant::now();
        let report = worker.stop(Duration::ZERO).await;
        let took = began.elapsed();
        assert_eq!(ran, 30);
        assert_eq!(report.unsettled, 0, "{report:?}");
        assert!(took < Duration::from_millis(1500), "idle stop took {took:?}");
    });
}

/// Two workers in one process share one queue object; both wait idle, then a
/// burst of jobs arrives. Every job runs exactly once and both stop cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_idle_workers_share_burst() {
    let server = RedisServer::start();
    let queue = connect(&server, RedisQueueOptions::default()).await;
    let runs = Runs::default();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            WorkerRunner::new(queue.clone(), counting_registry(&runs, Duration::from_millis(2)))
                .concurrency(4)
                .poll_interval(Duration::from_secs(30))
                .start()
        })
        .collect();

    for burst in 0..5 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let jobs: Vec<NewJob> = (0..200)
            .map(|n| NewJob::new("count", json!({ "burst": burst, "n": n })))
            .collect();
        queue.enqueue_many(jobs).await.unwrap();
    }

    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline && runs.lock().unwrap().len() < 1000 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for worker in workers {
        let report = worker.stop(Duration::from_millis(200)).await;
        assert_eq!(report.unsettled, 0, "{report:?}");
    }

    let processing = queue.stats().await.unwrap().processing;
    let runs = runs.lock().unwrap();
    let twice: Vec<&String> = runs.iter().filter(|(_, c)| c.started > 1).map(|(id, _)| id).collect();
    assert_eq!(runs.len(), 1000, "every job ran");
    assert!(twice.is_empty(), "jobs that ran twice: {twice:?}");
    assert_eq!(processing, 0);
}

/// A stop that begins while Redis is paused returns after grace + 1 s and
/// aborts the fetch loop's call, but the call's command already sits in the
/// socket: when Redis resumes, it reserves jobs for a worker that is gone.
/// Those jobs wait for their lease to expire and the attempt is counted, so a
/// job allowed one attempt is dead-lettered without ever running, and the
/// stop report's `unsettled` counts only the handlers, not these jobs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a reserve sent before a stop during a Redis pause executes after the stop aborted it, so its jobs sit leased with no worker and are dead-lettered without running"]
async fn stop_in_redis_pause_strands_nothing() {
    let mut server = RedisServer::start();
    let options = RedisQueueOptions::default().visibility_timeout(Duration::from_secs(4));
    let queue = connect(&server, options).await;
    let jobs: Vec<NewJob> = (0..200)
        .map(|n| NewJob::new("count", json!({ "n": n })).max_attempts(1))
        .collect();
    queue.enqueue_many(jobs).await.unwrap();
    let runs = Runs::default();
    let worker = WorkerRunner::new(queue.clone(), counting_registry(&runs, Duration::from_millis(20)))
        .concurrency(4)
        .start();
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.pause();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let report = worker.stop(Duration::ZERO).await;
    server.resume();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let leased_after_resume = queue.stats().await.unwrap().processing;

    let drain = WorkerRunner::new(queue.clone(), counting_registry(&runs, Duration::ZERO))
        .concurrency(8)
        .poll_interval(Duration::from_millis(20))
        .start();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let stats = queue.stats().await.unwrap();
        if stats.ready + stats.delayed + stats.processing == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drain.stop(Duration::from_secs(1)).await;
    let dead = queue.dead_jobs(0, 100).await.unwrap();
    let runs = runs.lock().unwrap();
    let never_ran: Vec<&str> = dead
        .iter()
        .map(|dead| dead.job.id.as_str())
        .filter(|id| !runs.contains_key(*id))
        .collect();
    assert!(
        never_ran.is_empty(),
        "stop report {report:?}; {leased_after_resume} jobs leased with no worker after Redis resumed; {} dead, {} never ran: {:?}; error {:?}",
        dead.len(),
        never_ran.len(),
        never_ran,
        dead.first().and_then(|dead| dead.job.last_error.clone()),
    );
}

/// A job that finishes while the fetch loop waits on an idle queue acks on
/// its own, because the loop declined the ack and never sent it. That single
/// send is still treated as a resend. So when it finds the lease taken by
/// another holder before the local deadline, the event reports `Succeeded` as
/// if an earlier send had taken effect, although the queue ignored the ack. Here
/// the lease token is replaced while the handler runs, as happens when the
/// lease passes to another worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declined_ack_reports_lost_lease() {
    let server = RedisServer::start();
    let queue = connect(&server, RedisQueueOptions::default()).await;
    let prefix = jobs::config::DEFAULT_REDIS_PREFIX;
    let job = queue.enqueue(NewJob::new("count", json!({}))).await.unwrap();
    let events: Arc<Mutex<Vec<JobOutcome>>> = Arc::default();
    let hook_events = events.clone();
    let runs = Runs::default();
    let worker = WorkerRunner::new(queue.clone(), counting_registry(&runs, Duration::from_millis(500)))
        .concurrency(2)
        .poll_interval(Duration::from_secs(30))
        .on_event(move |event| hook_events.lock().unwrap().push(event.outcome.clone()))
        .start();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let key = format!("{prefix}:job:{}", job.id);
    server_command(&server, &["HSET", &key, "lease", "token-of-another-worker"]);
    tokio::time::sleep(Duration::from_millis(600)).await;
    worker.stop(Duration::from_secs(1)).await;
    let events = events.lock().unwrap();
    assert_eq!(
        *events,
        vec![JobOutcome::LeaseLost],
        "the queue ignored the ack, since another holder has the lease"
    );
}
