//! Worker processes killed with SIGKILL or stopped with SIGTERM: no job is
//! lost, and none completes twice.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jobs::{JobQueue, NewJob};
use jobs_tests::RedisServer;
use jobs_tests::backend::connect_redis;
use serde_json::json;

const LEASE_SECONDS: &str = "1";

fn spawn_worker(server: &RedisServer, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_crash_worker"))
        .args(["run", "--concurrency", "2", "--poll-interval", "50ms"])
        .args(extra)
        .env("JOBS_DRIVER", "redis")
        .env("REDIS_URL", server.url())
        .env("JOBS_VISIBILITY_TIMEOUT_SECONDS", LEASE_SECONDS)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start crash_worker")
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn wait_for_lines(path: &Path, prefix: &str, count: usize, limit: Duration) -> Vec<String> {
    let deadline = Instant::now() + limit;
    loop {
        let found: Vec<String> = lines(path)
            .into_iter()
            .filter(|line| line.starts_with(prefix))
            .collect();
        if found.len() >= count {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "fewer than {count} `{prefix}` lines after {limit:?}: {:?}",
            lines(path)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM failed");
    child.wait().expect("wait for the worker")
}

fn record_file(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("jobs-crash-{}-{name}.log", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_worker_job_is_redelivered_once() {
    let server = RedisServer::start();
    let queue = connect_redis(&server.url(), Duration::from_secs(1)).await;
    let file = record_file("kill");
    let payload = json!({"file": file.to_str().unwrap(), "sleep_ms": 1500});
    let queued = queue.enqueue(NewJob::new("record", payload)).await.unwrap();

    let mut doomed = spawn_worker(&server, &[]);
    wait_for_lines(&file, "start", 1, Duration::from_secs(15));
    doomed.kill().expect("SIGKILL the worker");
    doomed.wait().unwrap();
    assert_eq!(
        queue.stats().await.unwrap().processing,
        1,
        "the killed worker's job is still leased"
    );

    let mut survivor = spawn_worker(&server, &[]);
    wait_for_lines(&file, "done", 1, Duration::from_secs(15));
    let status = terminate(&mut survivor);

    assert!(status.success(), "the worker exits 0 after SIGTERM: {status}");
    assert_eq!(
        lines(&file),
        [
            format!("start {} 1", queued.id),
            format!("start {} 2", queued.id),
            format!("done {} 2", queued.id)
        ]
    );
    assert_eq!(
        queue.stats().await.unwrap(),
        jobs::QueueStats::default(),
        "the job was acked"
    );
    let _ = std::fs::remove_file(&file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_short_grace_releases_job() {
    let server = RedisServer::start();
    let queue = connect_redis(&server.url(), Duration::from_secs(1)).await;
    let file = record_file("term");
    let payload = json!({"file": file.to_str().unwrap(), "sleep_ms": 2000});
    let queued = queue.enqueue(NewJob::new("record", payload)).await.unwrap();

    let mut stopped = spawn_worker(&server, &["--grace", "200ms"]);
    wait_for_lines(&file, "start", 1, Duration::from_secs(15));
    let started = Instant::now();
    let status = terminate(&mut stopped);
    let stop_took = started.elapsed();

    assert!(status.success(), "the worker exits 0 after SIGTERM: {status}");
    assert!(stop_took < Duration::from_millis(1500), "stop took {stop_took:?}");
    let waiting = queue.job(&queued.id).await.unwrap().expect("the released job is kept");
    assert_eq!(waiting.attempts, 0, "the interrupted attempt is not counted");
    assert_eq!(
        queue.stats().await.unwrap().ready,
        1,
        "the job is ready at once, not after its lease"
    );

    let mut next = spawn_worker(&server, &[]);
    wait_for_lines(&file, "done", 1, Duration::from_secs(15));
    terminate(&mut next);

    assert_eq!(
        lines(&file),
        [
            format!("start {} 1", queued.id),
            format!("start {} 1", queued.id),
            format!("done {} 1", queued.id)
        ]
    );
    assert_eq!(queue.stats().await.unwrap(), jobs::QueueStats::default());
    let _ = std::fs::remove_file(&file);
}
