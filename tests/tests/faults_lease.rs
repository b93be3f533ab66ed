//! Two worker processes share one Redis queue with a 2 s visibility timeout,
//! and a job runs for 5 s: lease renewal keeps the second worker from taking
//! the job while the first still runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jobs::{JobQueue, NewJob, QueueStats};
use jobs_tests::RedisServer;
use jobs_tests::backend::connect_redis;
use jobs_tests::process::WorkerProcess;
use jobs_tests::process::terminate;
use serde_json::json;

fn spawn_worker(server: &RedisServer) -> WorkerProcess {
    let child = Command::new(env!("CARGO_BIN_EXE_crash_worker"))
        .args(["run", "--concurrency", "2", "--poll-interval", "50ms"])
        .env("JOBS_DRIVER", "redis")
        .env("REDIS_URL", server.url())
        .env("JOBS_VISIBILITY_TIMEOUT_SECONDS", "2")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start crash_worker");
    WorkerProcess(child)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_longer_than_lease_runs_once() {
    let server = RedisServer::start();
    let queue = connect_redis(&server.url(), Duration::from_secs(2)).await;
    let file: PathBuf = std::env::temp_dir().join(format!("jobs-lease-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let mut workers = [spawn_worker(&server), spawn_worker(&server)];
    let payload = json!({"file": file.to_str().unwrap(), "sleep_ms": 5000, "with_pid": true});
    let queued = queue.enqueue(NewJob::new("record", payload)).await.unwrap();

    let deadline = Instant::now() + Duration::from_secs(20);
    while !lines(&file).iter().any(|line| line.starts_with("done")) {
        assert!(Instant::now() < deadline, "the job did not finish: {:?}", lines(&file));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Both workers poll every 50 ms, so a job the other worker had taken over
    // would show a second start by now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for worker in &mut workers {
        terminate(worker);
    }

    let runs = lines(&file);
    assert_eq!(runs.len(), 2, "one start and one done: {runs:?}");
    assert!(runs[0].starts_with(&format!("start {} 1 ", queued.id)), "{runs:?}");
    assert!(runs[1].starts_with(&format!("done {} 1 ", queued.id)), "{runs:?}");
    assert_eq!(queue.stats().await.unwrap(), QueueStats::default());
    assert_eq!(queue.job(&queued.id).await.unwrap(), None, "the job was acked");
    let _ = std::fs::remove_file(&file);
}
