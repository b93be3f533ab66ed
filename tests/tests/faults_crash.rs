//! Worker processes killed with SIGKILL again and again while they run many
//! short jobs, and a job that crashes its worker on every attempt.
//!
//! The workers are `crash_worker` processes on a throwaway Redis, with a 1 s
//! visibility timeout so the jobs of a killed worker come back quickly. Each
//! run of a job appends `start <id> <attempt> <pid>` and `done <id> <attempt>
//! <pid>` to a record file, which the tests read back.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use jobs::{DynQueue, JobQueue, NewJob, QueueStats};
use jobs_tests::RedisServer;
use jobs_tests::backend::connect_redis;
use jobs_tests::process::WorkerProcess;
use serde_json::json;

const LEASE: Duration = Duration::from_secs(1);
const KILLS: usize = 24;
const CONCURRENCY: &str = "4";

fn spawn_worker(server: &RedisServer) -> WorkerProcess {
    let child = Command::new(env!("CARGO_BIN_EXE_crash_worker"))
        .args(["run", "--concurrency", CONCURRENCY, "--poll-interval", "20ms"])
        .env("JOBS_DRIVER", "redis")
        .env("REDIS_URL", server.url())
        .env("JOBS_VISIBILITY_TIMEOUT_SECONDS", LEASE.as_secs().to_string())
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start crash_worker");
    WorkerProcess(child)
}

fn record_file(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("jobs-faults-{}-{name}.log", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// One line of the record file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    done: bool,
    id: String,
    attempt: u32,
    pid: u32,
}

fn runs(path: &Path) -> Vec<Run> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            assert_eq!(fields.len(), 4, "malformed record line {line:?}");
            Run {
                done: fields[0] == "done",
                id: fields[1].to_owned(),
                attempt: fields[2].parse().expect("an attempt number"),
                pid: fields[3].parse().expect("a process id"),
            }
        })
        .collect()
}

/// A small deterministic sequence of pseudo-random numbers, so a failing run
/// can be repeated.
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

async fn enqueue_records(queue: &DynQueue, file: &Path, count: usize, random: &mut Lcg) -> Vec<String> {
    let requests = (0..count)
        .map(|_| {
            let payload = json!({
                "file": file.to_str().unwrap(),
                "sleep_ms": 5 + random.below(20),
                "with_pid": true,
            });
            // Many attempts, so a job caught by several kills is not dead-lettered.
            NewJob::new("record", payload).max_attempts(100)
        })
        .collect();
    let queued = queue.enqueue_many(requests).await.expect("enqueue the records");
    queued.into_iter().map(|job| job.id).collect()
}

async fn wait_until<F: Fn() -> bool>(condition: F, limit: Duration, what: &str) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn terminate(child: &mut Child) -> ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM failed");
    child.wait().expect("wait for the worker")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_sigkill_loses_no_job() {
    let started = Instant::now();
    let server = RedisServer::start();
    let queue = connect_redis(&server.url(), LEASE).await;
    let file = record_file("sigkill");
    let mut random = Lcg(0x5eed);
    let mut enqueued = enqueue_records(&queue, &file, 400, &mut random).await;

    // Kill a fresh worker at a random moment after it has started work, many
    // times, topping the queue up so every worker finds jobs.
    let mut killed = HashSet::new();
    for _ in 0..KILLS {
        if queue.stats().await.unwrap().ready < 100 {
            enqueued.extend(enqueue_records(&queue, &file, 200, &mut random).await);
        }
        let mut victim = spawn_worker(&server);
        let pid = victim.id();
        wait_until(
            || runs(&file).iter().any(|run| run.pid == pid),
            Duration::from_secs(10),
            "the worker starts a job",
        )
        .await;
        tokio::time::sleep(Duration::from_millis(random.below(120))).await;
        victim.kill().expect("SIGKILL the worker");
        victim.wait().expect("wait for the killed worker");
        killed.insert(pid);
    }

    // A surviving worker drains the queue, including the killed workers' jobs
    // once their leases expire.
    let mut survivor = spawn_worker(&server);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let completed: HashSet<String> = runs(&file)
            .into_iter()
            .filter(|run| run.done)
            .map(|run| run.id)
            .collect();
        let stats = queue.stats().await.unwrap();
        if stats == QueueStats::default() && enqueued.iter().all(|id| completed.contains(id)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the queue was not drained within 30 s: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = terminate(&mut survivor);
    assert!(status.success(), "the surviving worker exits 0 after SIGTERM: {status}");

    let runs = runs(&file);
    let mut completions: HashMap<&str, Vec<&Run>> = HashMap::new();
    for run in runs.iter().filter(|run| run.done) {
        completions.entry(run.id.as_str()).or_default().push(run);
    }
    for id in &enqueued {
        let done = completions.get(id.as_str()).map(Vec::as_slice).unwrap_or_default();
        assert!(!done.is_empty(), "job {id} was lost: it never completed");
        // A job completes again only when the worker that completed it was
        // killed before its ack, so the lease expired and the job re-ran.
        for earlier in &done[..done.len() - 1] {
            assert!(
                killed.contains(&earlier.pid),
                "job {id} completed twice, the first time by worker {} that was never killed: {done:?}",
                earlier.pid
            );
        }
        let attempts: BTreeMap<u32, usize> = done.iter().fold(BTreeMap::new(), |mut counts, run| {
            *counts.entry(run.attempt).or_default() += 1;
            counts
        });
        assert!(
            attempts.values().all(|&count| count == 1),
            "job {id} completed twice under one reservation: {done:?}"
        );
    }

    let finished: HashSet<(&str, u32)> = runs
        .iter()
        .filter(|run| run.done)
        .map(|run| (run.id.as_str(), run.attempt))
        .collect();
    let interrupted = runs
        .iter()
        .filter(|run| !run.done && killed.contains(&run.pid) && !finished.contains(&(run.id.as_str(), run.attempt)))
        .count();
    assert!(interrupted > 0, "no kill landed while a handler was running");
    let completed_twice = completions.values().filter(|done| done.len() > 1).count();
    assert!(
        completed_twice <= KILLS * 4,
        "{completed_twice} jobs completed twice, more than the {KILLS} kills of 4 slots can explain"
    );

    assert_eq!(queue.stats().await.unwrap(), QueueStats::default());
    assert!(
        queue.dead_jobs(0, 10).await.unwrap().is_empty(),
        "a job was dead-lettered"
    );
    for id in &enqueued {
        assert_eq!(queue.job(id).await.unwrap(), None, "job {id} was not acked");
    }
    eprintln!(
        "{} jobs, {KILLS} kills, {interrupted} attempts interrupted, {completed_twice} jobs completed twice, {:?}",
        enqueued.len(),
        started.elapsed()
    );
    let _ = std::fs::remove_file(&file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_aborting_its_worker_is_dead_lettered() {
    let server = RedisServer::start();
    let queue = connect_redis(&server.url(), LEASE).await;
    let file = record_file("abort");
    let payload = json!({"file": file.to_str().unwrap(), "sleep_ms": 0, "with_pid": true, "abort": true});
    let queued = queue
        .enqueue(NewJob::new("record", payload).max_attempts(2))
        .await
        .unwrap();

    // Each worker aborts on the job; a new one takes it once the lease
    // expires, until the lease of the last attempt expires and the next
    // reserve dead-letters it.
    let mut aborted = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while queue.stats().await.unwrap().dead == 0 {
        assert!(Instant::now() < deadline, "the job was not dead-lettered within 20 s");
        let mut worker = spawn_worker(&server);
        loop {
            if let Some(status) = worker.try_wait().expect("poll the worker") {
                assert_eq!(status.signal(), Some(6), "the worker died of SIGABRT: {status}");
                aborted += 1;
                break;
            }
            if queue.stats().await.unwrap().dead == 1 {
                terminate(&mut worker);
                break;
            }
            assert!(Instant::now() < deadline, "the job was not dead-lettered within 20 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    assert_eq!(aborted, 2, "one crashed worker per attempt");
    let starts: Vec<Run> = runs(&file);
    assert_eq!(starts.len(), 2, "{starts:?}");
    let dead = queue.dead_job(&queued.id).await.unwrap().expect("the job is dead");
    assert_eq!(dead.job.attempts, 2);
    let error = dead.job.last_error.as_deref().unwrap_or_default();
    assert!(error.contains("lease expired on attempt 2 of 2"), "{error}");
    assert!(dead.died_at.is_some());
    assert_eq!(dead.job.payload.to_value().unwrap()["abort"], json!(true));
    assert_eq!(queue.stats().await.unwrap().processing, 0);
    let _ = std::fs::remove_file(&file);
}
