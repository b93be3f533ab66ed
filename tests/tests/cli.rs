//! The command line of a worker binary: `jobs`, `enqueue`, `stats` and `dlq`,
//! run as a real process against a throwaway Redis.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
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

/// Starts `crash_worker run` with `envs` added, reads its log until the
/// "starting worker" line or the end of standard error, kills it, and returns
/// the log read so far.
fn run_until_started(envs: &[(&str, &str)]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_worker"))
        .args(["run"])
        .env_remove("REDIS_URL")
        .env_remove("JOBS_REDIS_PREFIX")
        .env_remove("JOBS_SCHEDULE_JSON")
        .envs(envs.iter().copied())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start crash_worker run");
    let mut log = String::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.expect("read the worker's log");
        log.push_str(&line);
        log.push('\n');
        if line.contains("starting worker") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    log
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
    assert_eq!(
        message.lines().next(),
        Some("using the Redis queue at \"redis://worker:***@127.0.0.1:1/0\" with key prefix \"jobs\""),
        "{message}"
    );
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
    let unconfirmed_purge = cli(&server.url(), &["dlq", "purge"]);
    let dead_after_unconfirmed = queue.stats().await.unwrap().dead;
    let purge = cli(&server.url(), &["dlq", "purge", "--yes"]);

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
    assert_eq!(
        unconfirmed_purge.status.code(),
        Some(1),
        "{}",
        stderr(&unconfirmed_purge)
    );
    assert!(
        stderr(&unconfirmed_purge).contains("would delete 1 dead job, so it deleted nothing"),
        "{}",
        stderr(&unconfirmed_purge)
    );
    assert!(
        stderr(&unconfirmed_purge).contains("`dlq purge --yes`"),
        "{}",
        stderr(&unconfirmed_purge)
    );
    assert_eq!(dead_after_unconfirmed, 1, "purge without --yes deleted jobs");
    assert!(purge.status.success(), "{}", stderr(&purge));
    assert_eq!(stdout(&purge).trim(), "purged 1 job");
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
            stderr(&output).contains("JOBS_DRIVER is unset and defaults to `memory`"),
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

#[tokio::test]
async fn jobs_without_handlers_fails() {
    let cli = jobs::cli::Cli::new().registry(jobs::Registry::new());

    let code = cli.run_from(["worker", "jobs"]).await;

    assert_eq!(
        code,
        std::process::ExitCode::FAILURE,
        "an empty listing would hide that no handlers are linked"
    );
}

#[test]
fn run_logs_queue_url_and_prefix() {
    let server = RedisServer::start();

    let log = run_until_started(&[
        ("JOBS_DRIVER", "redis"),
        ("REDIS_URL", &server.url()),
        ("JOBS_REDIS_PREFIX", "myapp"),
    ]);

    let start = log
        .lines()
        .find(|line| line.contains("starting worker"))
        .unwrap_or_else(|| panic!("no start line in the log:\n{log}"));
    assert!(start.contains("driver=Redis"), "{start}");
    assert!(start.contains(&format!("redis_url={}", server.url())), "{start}");
    assert!(start.contains("redis_prefix=myapp"), "{start}");
}

#[test]
fn one_shot_commands_name_queue_first() {
    let server = RedisServer::start();
    let expected = format!("using the Redis queue at \"{}\" with key prefix \"jobs\"", server.url());

    for args in [&["stats"][..], &["dlq", "list"]] {
        let output = cli(&server.url(), args);

        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        assert_eq!(
            stderr(&output).lines().next(),
            Some(expected.as_str()),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    let stats = cli(&server.url(), &["stats"]);
    assert_eq!(
        stdout(&stats),
        "ready=0 delayed=0 processing=0 dead=0\n",
        "standard output carries only the counts"
    );
}

#[test]
fn empty_dlq_list_says_so() {
    let server = RedisServer::start();

    let output = cli(&server.url(), &["dlq", "list"]);

    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "", "the note goes to standard error");
    assert!(
        stderr(&output).contains("the dead-letter queue is empty"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn empty_dlq_purge_without_yes_succeeds() {
    let server = RedisServer::start();

    let output = cli(&server.url(), &["dlq", "purge"]);

    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("nothing to purge"), "{}", stderr(&output));
}

#[test]
fn requeue_needs_id_or_all() {
    let help = cli("redis://127.0.0.1:1/0", &["dlq", "requeue", "--help"]);
    let both = cli("redis://127.0.0.1:1/0", &["dlq", "requeue", "7", "--all"]);
    let neither = cli("redis://127.0.0.1:1/0", &["dlq", "requeue"]);

    assert!(help.status.success(), "{}", stderr(&help));
    assert!(stdout(&help).contains("requeue <ID|--all>"), "{}", stdout(&help));
    assert_eq!(both.status.code(), Some(2));
    assert!(
        stderr(&both).contains("cannot be used with '--all'"),
        "{}",
        stderr(&both)
    );
    assert_eq!(neither.status.code(), Some(2));
    assert!(stderr(&neither).contains("<ID|--all>"), "{}", stderr(&neither));
}

#[test]
fn explicit_memory_driver_not_called_default() {
    let output = Command::new(env!("CARGO_BIN_EXE_crash_worker"))
        .args(["stats"])
        .env("JOBS_DRIVER", "memory")
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("JOBS_DRIVER is `memory`, so"), "{message}");
    assert!(!message.contains("default"), "{message}");
}

#[test]
fn unhandled_schedule_names_registered_jobs() {
    let schedule = r#"[{"name": "tick", "interval_seconds": 60, "job_name": "recrod", "payload": {}}]"#;

    let log = run_until_started(&[("JOBS_DRIVER", "memory"), ("JOBS_SCHEDULE_JSON", schedule)]);

    let warning = log
        .lines()
        .find(|line| line.contains("scheduled job has no handler"))
        .unwrap_or_else(|| panic!("no warning in the log:\n{log}"));
    assert!(warning.contains("job.name=recrod"), "{warning}");
    assert!(warning.contains(r#"registered=["record"]"#), "{warning}");
}

#[test]
fn missing_database_named() {
    let server = RedisServer::start();
    let url = format!("redis://127.0.0.1:{}/99", server.port());

    let output = cli(&url, &["stats"]);

    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("rejected database 99"), "{message}");
    assert!(message.contains("`databases` setting"), "{message}");
    assert!(!message.contains("cannot reach Redis"), "{message}");
}
