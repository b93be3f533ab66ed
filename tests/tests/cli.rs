//! The command line of a worker binary: `jobs`, `enqueue`, `stats` and `dlq`,
//! run as a real process against a throwaway Redis.

use std::process::{Command, Output};
use std::time::Duration;

use jobs::{Failure, JobQueue, NewJob};
use jobs_tests::RedisServer;
use jobs_tests::backend::connect_redis;
use serde_json::json;

fn cli(redis_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crash_worker"))
        .args(args)
        .env("JOBS_DRIVER", "redis")
        .env("REDIS_URL", redis_url)
        .env_remove("JOBS_REDIS_PREFIX")
        .output()
        .expect("run crash_worker")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn jobs_lists_registered_jobs() {
    let output = cli("redis://127.0.0.1:1/0", &["jobs"]);

    assert!(output.status.success(), "{}", stderr(&output));
    let listing = stdout(&output);
    assert_eq!(listing.lines().count(), 1, "{listing}");
    assert!(
        listing.starts_with("record max_attempts=3 backoff=linear(1m) timeout=default"),
        "{listing}"
    );
    assert!(listing.contains("payload=Record"), "{listing}");
}

#[tokio::test]
async fn enqueue_checks_payload_then_queues() {
    let server = RedisServer::start();
    let queue = connect_redis(&server.url(), Duration::from_secs(30)).await;

    let output = cli(
        &server.url(),
        &[
            "enqueue",
            "record",
            r#"{"file": "/tmp/x", "sleep_ms": 5}"#,
            "--delay",
            "30s",
        ],
    );

    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with("enqueued job 1 (record)"),
        "{}",
        stdout(&output)
    );
    let stats = queue.stats().await.unwrap();
    assert_eq!(stats.delayed, 1);
    let job = queue.job("1").await.unwrap().unwrap();
    assert_eq!(job.max_attempts, 3, "the handler's declared options apply");
}

#[tokio::test]
async fn enqueue_rejects_bad_input_and_queues_nothing() {
    let server = RedisServer::start();
    let queue = connect_redis(&server.url(), Duration::from_secs(30)).await;
    let cases: &[(&[&str], &str)] = &[
        (&["enqueue", "record", "{not json"], "the payload is not valid JSON"),
        (
            &["enqueue", "nosuch", "{}"],
            "no job named `nosuch` is registered; registered jobs: record",
        ),
        (
            &["enqueue", "record", r#"{"file": 7}"#],
            "does not decode into `Record`",
        ),
        (
            &["enqueue", "record", r#"{"file": "/tmp/x"}"#],
            "missing field `sleep_ms`",
        ),
    ];

    for (args, expected) in cases {
        let output = cli(&server.url(), args);

        assert_eq!(output.status.code(), Some(1), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(expected), "{args:?}: {}", stderr(&output));
    }
    assert_eq!(
        queue.stats().await.unwrap(),
        jobs::QueueStats::default(),
        "nothing was queued"
    );
}

#[test]
fn bad_delay_is_a_usage_error() {
    let output = cli("redis://127.0.0.1:1/0", &["enqueue", "record", "{}", "--delay", "soon"]);

    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("\"soon\" is not a duration"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn unknown_driver_is_named() {
    let output = Command::new(env!("CARGO_BIN_EXE_crash_worker"))
        .args(["stats"])
        .env("JOBS_DRIVER", "kafka")
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("JOBS_DRIVER=\"kafka\" is not a known driver"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn unreachable_redis_masks_password() {
    let output = cli("redis://worker:hunter2@127.0.0.1:1/0", &["stats"]);

    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("cannot reach Redis at"), "{message}");
    assert!(message.contains("worker:***@127.0.0.1:1"), "{message}");
    assert!(!message.contains("hunter2"), "the password leaked: {message}");
}

#[tokio::test]
async fn dlq_commands_list_show_requeue_purge() {
    let server = RedisServer::start();
    let queue = connect_redis(&server.url(), Duration::from_secs(30)).await;
    for n in 0..2 {
        queue
            .enqueue(NewJob::new("record", json!({ "n": n })).max_attempts(1))
            .await
            .unwrap();
        let reserved = queue.reserve().await.unwrap().unwrap();
        let failure = Failure::Permanent {
            error: format!("broken {n}"),
        };
        queue.fail(&reserved.lease, failure).await.unwrap();
    }

    let list = cli(&server.url(), &["dlq", "list"]);
    let show = cli(&server.url(), &["dlq", "show", "1"]);
    let missing = cli(&server.url(), &["dlq", "show", "99"]);
    let requeue = cli(&server.url(), &["dlq", "requeue", "2"]);
    let stats = cli(&server.url(), &["stats"]);
    let purge = cli(&server.url(), &["dlq", "purge"]);

    let listing = stdout(&list);
    assert_eq!(listing.lines().count(), 2, "{listing}");
    assert!(
        listing.lines().next().unwrap().starts_with("2\trecord\tattempts=1/1"),
        "{listing}"
    );
    assert!(listing.contains("broken 1"), "{listing}");
    assert!(stdout(&show).contains("payload: {\"n\":0}"), "{}", stdout(&show));
    assert!(stdout(&show).contains("last_error: broken 0"), "{}", stdout(&show));
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("no dead job has id \"99\""),
        "{}",
        stderr(&missing)
    );
    assert!(requeue.status.success(), "{}", stderr(&requeue));
    assert_eq!(stdout(&stats).trim(), "ready=1 delayed=0 processing=0 dead=1");
    assert_eq!(stdout(&purge).trim(), "purged 1 jobs");
    assert_eq!(queue.stats().await.unwrap().dead, 0);
}

#[test]
fn one_shot_commands_reject_memory_driver() {
    for args in [
        &["enqueue", "record", r#"{"file": "/tmp/x", "sleep_ms": 1}"#][..],
        &["stats"],
        &["dlq", "list"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_crash_worker"))
            .args(args)
            .env_remove("JOBS_DRIVER")
            .output()
            .unwrap();

        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&output).contains("JOBS_DRIVER is `memory`"),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn zero_poll_interval_and_huge_delay_rejected() {
    let poll = cli("redis://127.0.0.1:1/0", &["run", "--poll-interval", "0s"]);
    let delay = cli("redis://127.0.0.1:1/0", &["enqueue", "record", "{}", "--delay", "500y"]);

    assert_eq!(poll.status.code(), Some(2));
    assert!(stderr(&poll).contains("\"0s\" is zero"), "{}", stderr(&poll));
    assert_eq!(delay.status.code(), Some(2));
    assert!(
        stderr(&delay).contains("longer than the longest delay"),
        "{}",
        stderr(&delay)
    );
}

#[test]
fn schedule_with_bad_payload_stops_startup() {
    let schedule = r#"[{"name": "tick", "interval_seconds": 1, "job_name": "record", "payload": {"nope": 1}}]"#;
    let output = Command::new(env!("CARGO_BIN_EXE_crash_worker"))
        .args(["run"])
        .env("JOBS_DRIVER", "memory")
        .env("JOBS_SCHEDULE_JSON", schedule)
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("JOBS_SCHEDULE_JSON entry \"tick\""), "{message}");
    assert!(message.contains("missing field `file`"), "{message}");
}

#[tokio::test]
async fn run_without_handlers_refuses_to_start() {
    let cli = jobs::cli::Cli::new().registry(jobs::Registry::new());

    let code = cli.run_from(["worker", "run"]).await;

    assert_eq!(
        code,
        std::process::ExitCode::FAILURE,
        "a worker with no handlers would fail every job"
    );
}
