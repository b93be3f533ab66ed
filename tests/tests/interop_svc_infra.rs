//! Interoperability with the Python package svc-infra 1.22, run for real:
//! jobs that its `RedisJobQueue` enqueues run on our worker, and jobs we
//! enqueue run on its `reserve_next()`, `ack` and `fail`, on one Redis.
//!
//! The Python side is `tests/interop/svc_infra_peer.py`, run with the
//! interpreter that `JOBS_TEST_SVC_INFRA_PYTHON` names: the `bin/python` of a
//! virtualenv with `svc-infra==1.22.*` installed, which `scripts/test.sh`
//! creates. The tests fail when the variable is unset or svc_infra cannot be
//! imported, unless `JOBS_TEST_SKIP_INTEROP=1` skips them.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use jobs::queue::redis::{RedisJobQueue, RedisQueueOptions};
use jobs::{JobContext, JobOutcome, JobPayload, JobQueue, Registry, WorkerRunner, job, process_one};
use jobs_tests::RedisServer;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc;

const PYTHON_ENV: &str = "JOBS_TEST_SVC_INFRA_PYTHON";
const SKIP_ENV: &str = "JOBS_TEST_SKIP_INTEROP";
const PEER_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/interop/svc_infra_peer.py");

/// The key prefix svc-infra uses by default.
const PREFIX: &str = "jobs";

// Handlers for the jobs the Python side enqueues. Each records what it received.

/// What a handler for a job that svc-infra enqueued received.
#[derive(Debug, Clone, PartialEq)]
enum Received {
    Greet {
        name: String,
        visits: u32,
        attempt: u32,
        max_attempts: u32,
        backoff: Duration,
        at: DateTime<Utc>,
    },
    Note(String),
    Reading {
        sensor: String,
        value: Option<f64>,
        label: String,
    },
    Ledger {
        credit: u128,
        debt: i128,
    },
}

/// Each job id with what its handler received. Both tests share this
/// process and their servers both count ids from 1, so only the handlers of
/// `python_jobs_run_on_rust_worker` record here.
static RECEIVED: Mutex<Vec<(String, Received)>> = Mutex::new(Vec::new());

/// One run of `resize`, the one job of `rust_jobs_run_on_python_worker`
/// that our worker runs.
#[derive(Debug, PartialEq)]
struct ResizeRun {
    job_id: String,
    width: u32,
    attempt: u32,
    last_error: Option<String>,
}

static RESIZED: Mutex<Vec<ResizeRun>> = Mutex::new(Vec::new());

fn record(context: &JobContext, received: Received) {
    RECEIVED.lock().unwrap().push((context.id().to_owned(), received));
}

fn received(id: &str) -> Vec<Received> {
    let all = RECEIVED.lock().unwrap();
    all.iter()
        .filter(|(job_id, _)| job_id == id)
        .map(|(_, received)| received.clone())
        .collect()
}

#[derive(Serialize, Deserialize)]
struct Greet {
    name: String,
    visits: u32,
}

#[job(name = "interop.greet")]
async fn greet(greet: Greet, context: JobContext) {
    let received = Received::Greet {
        name: greet.name,
        visits: greet.visits,
        attempt: context.attempt(),
        max_attempts: context.max_attempts(),
        backoff: context.job().backoff.base(),
        at: Utc::now(),
    };
    record(&context, received);
}

#[derive(Serialize, Deserialize)]
struct Note {
    text: String,
}

#[job(name = "interop.note")]
async fn note(note: Note, context: JobContext) {
    record(&context, Received::Note(note.text));
}

#[derive(Serialize, Deserialize)]
struct Reading {
    sensor: String,
    value: Option<f64>,
    label: String,
}

#[job(name = "interop.reading")]
async fn reading(reading: Reading, context: JobContext) {
    let received = Received::Reading {
        sensor: reading.sensor,
        value: reading.value,
        label: reading.label,
    };
    record(&context, received);
}

/// A reading whose value must be a number, so NaN and infinities cannot decode.
#[derive(Serialize, Deserialize)]
struct StrictReading {
    value: f64,
}

#[job(name = "interop.strict_reading")]
async fn strict_reading(_reading: StrictReading) {
    panic!("a payload with Infinity in an f64 field must not decode");
}

#[derive(Serialize, Deserialize)]
struct Ledger {
    credit: u128,
    debt: i128,
}

#[job(name = "interop.ledger")]
async fn ledger(ledger: Ledger, context: JobContext) {
    let received = Received::Ledger {
        credit: ledger.credit,
        debt: ledger.debt,
    };
    record(&context, received);
}

/// A count that must fit in 64 bits.
#[derive(Serialize, Deserialize)]
struct Counter {
    count: u64,
}

#[job(name = "interop.counter")]
async fn counter(_counter: Counter) {
    panic!("a payload with a 71-bit integer in a u64 field must not decode");
}

// Jobs we enqueue for the Python side.

#[derive(Debug, Serialize, Deserialize)]
struct SendEmail {
    to: String,
    subject: String,
}

#[job(name = "interop.send_email", max_attempts = 4, backoff_seconds = 7)]
async fn send_email(_email: SendEmail) {
    panic!("svc-infra acks these jobs, so our worker never sees them");
}

#[derive(Debug, Serialize, Deserialize)]
struct Resize {
    path: String,
    width: u32,
}

#[job(name = "interop.resize", max_attempts = 3, backoff_seconds = 0)]
async fn resize(resize: Resize, context: JobContext) {
    RESIZED.lock().unwrap().push(ResizeRun {
        job_id: context.id().to_owned(),
        width: resize.width,
        attempt: context.attempt(),
        last_error: context.last_error().map(str::to_owned),
    });
}

#[derive(Debug, Serialize, Deserialize)]
struct Archive {
    bucket: String,
}

#[job(name = "interop.archive", max_attempts = 1)]
async fn archive(_archive: Archive) {
    panic!("svc-infra dead-letters this job, so our worker never runs it");
}

#[derive(Debug, Serialize, Deserialize)]
struct Report {
    quarter: u8,
}

#[job(
    name = "interop.report",
    backoff = "exponential",
    backoff_seconds = 5,
    max_backoff = "10m"
)]
async fn report(_report: Report) {
    panic!("svc-infra acks these jobs, so our worker never sees them");
}

/// Returns the Python interpreter to run svc-infra with, or `None` when the
/// user opted out with `JOBS_TEST_SKIP_INTEROP=1`.
fn svc_infra_python() -> Option<PathBuf> {
    if std::env::var(SKIP_ENV).is_ok_and(|value| value == "1") {
        eprintln!("skipping the svc-infra interoperability test because {SKIP_ENV}=1");
        return None;
    }
    match std::env::var_os(PYTHON_ENV) {
        Some(python) if !python.is_empty() => Some(PathBuf::from(python)),
        _ => panic!(
            "{PYTHON_ENV} is not set, so the svc-infra interoperability test cannot run. Run scripts/test.sh, \
             which creates a virtualenv with svc-infra and sets it, or create one yourself with \
             `python3 -m venv target/svc-infra-venv && target/svc-infra-venv/bin/pip install 'svc-infra==1.22.*' \
             'typer<0.29'` and set {PYTHON_ENV} to the absolute path of target/svc-infra-venv/bin/python. Set \
             {SKIP_ENV}=1 to skip this test."
        ),
    }
}

/// Runs the Python peer with `args` and returns the JSON object it printed.
async fn run_peer(python: &Path, args: &[&str]) -> Value {
    let output = tokio::process::Command::new(python)
        .arg(PEER_SCRIPT)
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|error| panic!("failed to run {} from {PYTHON_ENV}: {error}", python.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => {}
        Some(3) => panic!(
            "{} from {PYTHON_ENV} cannot import svc_infra: {}. Recreate the virtualenv with \
             `pip install 'svc-infra==1.22.*' 'typer<0.29'`, or delete target/svc-infra-venv and rerun scripts/test.sh.",
            python.display(),
            stderr.trim()
        ),
        _ => panic!(
            "the svc-infra peer `{}` failed with {}:\nstdout: {stdout}\nstderr: {stderr}",
            args.join(" "),
            output.status
        ),
    }
    let report: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|error| panic!("the svc-infra peer printed invalid JSON ({error}): {stdout}"));
    let version = report["svc_infra_version"].as_str().unwrap_or_default();
    assert!(
        version.starts_with("1.22."),
        "the virtualenv has svc-infra {version}, and these tests pin the behaviour of 1.22"
    );
    report
}

async fn redis_connection(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn keys(connection: &mut redis::aio::MultiplexedConnection) -> BTreeSet<String> {
    connection.keys("*").await.unwrap()
}

async fn connect_queue(server: &RedisServer) -> Arc<RedisJobQueue> {
    let options = RedisQueueOptions::default().visibility_timeout(Duration::from_secs(30));
    Arc::new(RedisJobQueue::connect(&server.url(), options).await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_jobs_run_on_rust_worker() {
    let Some(python) = svc_infra_python() else {
        return;
    };
    let server = RedisServer::start();
    let mut direct = redis_connection(&server).await;

    let report = run_peer(&python, &["enqueue", &server.url(), PREFIX]).await;
    let ids: HashMap<String, String> = serde_json::from_value(report["ids"].clone()).unwrap();
    let id = |key: &str| ids[key].clone();

    // What svc-infra stored: Python's json.dumps text, and a whole-second
    // due time for the delayed job.
    let stored = |key: &str| format!("{PREFIX}:job:{}", id(key));
    let nan_payload: String = direct.hget(stored("nan"), "payload").await.unwrap();
    assert_eq!(nan_payload, r#"{"sensor": "t1", "value": NaN, "label": "NaN"}"#);
    let infinity_payload: String = direct.hget(stored("negative_infinity"), "payload").await.unwrap();
    assert!(infinity_payload.contains(": -Infinity,"), "{infinity_payload}");
    let note_payload: String = direct.hget(stored("note"), "payload").await.unwrap();
    assert_eq!(
        note_payload,
        r#"{"text": "caf\u00e9 \u20ac \ud83d\ude00 \u65e5\u672c"}"#
    );
    let ledger_payload: String = direct.hget(stored("ledger"), "payload").await.unwrap();
    assert_eq!(
        ledger_payload,
        r#"{"credit": 1267650600228229401496703205376, "debt": -1208925819614629174706176}"#
    );
    let due: f64 = direct.zscore(format!("{PREFIX}:delayed"), id("delayed")).await.unwrap();
    assert_eq!(due.fract(), 0.0, "svc-infra scores delayed jobs in whole seconds");

    let queue = connect_queue(&server).await;
    let (sender, mut events) = mpsc::unbounded_channel();
    let worker = WorkerRunner::new(queue.clone(), Registry::from_inventory().unwrap())
        .concurrency(2)
        .poll_interval(Duration::from_millis(50))
        .on_event(move |event| {
            let _ = sender.send(event.clone());
        })
        .start();
    let mut outcomes = HashMap::new();
    while outcomes.len() < ids.len() {
        let event = tokio::time::timeout(Duration::from_secs(15), events.recv())
            .await
            .unwrap_or_else(|_| panic!("jobs not settled within 15 s; settled so far: {outcomes:#?}"))
            .expect("the worker dropped the event channel");
        assert_eq!(event.attempt, 1, "no job should need a second attempt: {event:?}");
        outcomes.insert(event.job_id.clone(), event.outcome);
    }
    worker.stop(Duration::from_secs(5)).await;

    // Plain jobs: svc-infra's defaults of 5 attempts and 60 s backoff.
    assert_eq!(outcomes[&id("greet")], JobOutcome::Succeeded);
    match received(&id("greet")).as_slice() {
        [
            Received::Greet {
                name,
                visits,
                attempt,
                max_attempts,
                backoff,
                ..
            },
        ] => {
            assert_eq!(name, "Ada");
            assert_eq!(*visits, 3);
            assert_eq!(*attempt, 1);
            assert_eq!(*max_attempts, 5);
            assert_eq!(*backoff, Duration::from_secs(60));
        }
        other => panic!("greet received {other:?}"),
    }

    // The delayed job ran once its whole-second due time had passed.
    match received(&id("delayed")).as_slice() {
        [Received::Greet { name, at, .. }] => {
            assert_eq!(name, "Later");
            let ran_at = at.timestamp_micros() as f64 / 1e6;
            assert!(ran_at >= due, "ran at {ran_at}, before its due time {due}");
        }
        other => panic!("the delayed greet received {other:?}"),
    }

    // \u escapes, including a surrogate pair, decode to the original text.
    assert_eq!(received(&id("note")), [Received::Note("café € 😀 日本".to_owned())]);

    // NaN and -Infinity reach an Option<f64> as None, and strings are untouched.
    assert_eq!(
        received(&id("nan")),
        [Received::Reading {
            sensor: "t1".to_owned(),
            value: None,
            label: "NaN".to_owned(),
        }]
    );
    assert_eq!(
        received(&id("negative_infinity")),
        [Received::Reading {
            sensor: "t2".to_owned(),
            value: None,
            label: "-Infinity".to_owned(),
        }]
    );

    // Integers wider than 64 bits reach u128 and i128 fields intact.
    assert_eq!(
        received(&id("ledger")),
        [Received::Ledger {
            credit: 1 << 100,
            debt: -(1 << 80),
        }]
    );

    // Infinity in an f64 field and a 71-bit integer in a u64 field do not
    // decode, so those jobs are dead-lettered at once with the reason.
    let JobOutcome::DeadLettered { error: strict_error } = &outcomes[&id("strict")] else {
        panic!(
            "the strict reading was not dead-lettered: {:?}",
            outcomes[&id("strict")]
        );
    };
    assert!(
        strict_error.contains("does not decode into `StrictReading`"),
        "{strict_error}"
    );
    assert!(strict_error.contains("NaN, Infinity or -Infinity"), "{strict_error}");
    assert!(strict_error.contains("Option<f64>"), "{strict_error}");
    let JobOutcome::DeadLettered { error: counter_error } = &outcomes[&id("counter")] else {
        panic!("the counter was not dead-lettered: {:?}", outcomes[&id("counter")]);
    };
    assert!(counter_error.contains("expected u64"), "{counter_error}");

    let dead: BTreeSet<String> = queue
        .dead_jobs(0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|dead| dead.job.id)
        .collect();
    assert_eq!(dead, BTreeSet::from([id("strict"), id("counter")]));

    // Acked jobs leave nothing behind: only the id counter, the dead-letter
    // list and the two dead jobs' hashes remain.
    let expected: BTreeSet<String> = [
        format!("{PREFIX}:seq"),
        format!("{PREFIX}:dlq"),
        stored("strict"),
        stored("counter"),
    ]
    .into();
    assert_eq!(keys(&mut direct).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_jobs_run_on_python_worker() {
    let Some(python) = svc_infra_python() else {
        return;
    };
    let server = RedisServer::start();
    let mut direct = redis_connection(&server).await;
    let queue = connect_queue(&server).await;

    let email = SendEmail {
        to: "zoë@example.com".to_owned(),
        subject: "Grüße 😀".to_owned(),
    };
    let email_job = email.enqueue(queue.as_ref()).await.unwrap();
    let later_job = email
        .enqueue_in(queue.as_ref(), Duration::from_millis(1500))
        .await
        .unwrap();
    // Due after `later_job`, so svc-infra reserves it last. Its worker then
    // stops at once, before any further poll could promote the failed job.
    let resize_job = Resize {
        path: "a.png".to_owned(),
        width: 640,
    }
    .enqueue_in(queue.as_ref(), Duration::from_millis(1600))
    .await
    .unwrap();
    let archive_job = Archive {
        bucket: "cold".to_owned(),
    }
    .enqueue(queue.as_ref())
    .await
    .unwrap();
    let report_job = Report { quarter: 3 }.enqueue(queue.as_ref()).await.unwrap();
    let later_due: f64 = direct.zscore(format!("{PREFIX}:delayed"), &later_job.id).await.unwrap();

    let plan = json!({
        "expect": 5,
        "timeout": 10,
        "fail": {"interop.resize": "python says no", "interop.archive": "bucket is gone"},
    });
    let report = run_peer(&python, &["work", &server.url(), PREFIX, &plan.to_string()]).await;
    let seen: HashMap<String, Value> = report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| (job["id"].as_str().unwrap().to_owned(), job.clone()))
        .collect();
    assert_eq!(seen.len(), 5, "{report}");

    // svc-infra reads our job hash: name, payload, attempts and options.
    let email_seen = &seen[&email_job.id];
    assert_eq!(email_seen["name"], "interop.send_email");
    assert_eq!(
        email_seen["payload"],
        json!({"to": "zoë@example.com", "subject": "Grüße 😀"})
    );
    assert_eq!(email_seen["attempts"], 1);
    assert_eq!(email_seen["max_attempts"], 4);
    assert_eq!(email_seen["backoff_seconds"], 7);
    let resize_seen = &seen[&resize_job.id];
    assert_eq!(resize_seen["payload"], json!({"path": "a.png", "width": 640}));
    assert_eq!(resize_seen["max_attempts"], 3);
    assert_eq!(resize_seen["backoff_seconds"], 0);
    assert_eq!(seen[&archive_job.id]["max_attempts"], 1);
    // Exponential backoff is ours, and svc-infra reads only its base, in whole seconds.
    assert_eq!(seen[&report_job.id]["backoff_seconds"], 5);
    assert_eq!(seen[&report_job.id]["payload"], json!({"quarter": 3}));

    // svc-infra promotes our delayed job, whose due time has a fraction,
    // only once the whole second it compares against has passed it.
    let later_seen = &seen[&later_job.id];
    assert_eq!(later_seen["name"], "interop.send_email");
    let reserved_at = later_seen["reserved_at"].as_f64().unwrap();
    assert!(
        reserved_at >= later_due,
        "reserved at {reserved_at}, before its due time {later_due}"
    );

    // Acked jobs are gone. The failed job waits on the delayed set with
    // svc-infra's error, and the job that used its one attempt is dead.
    for acked in [&email_job, &later_job, &report_job] {
        let exists: bool = direct.exists(format!("{PREFIX}:job:{}", acked.id)).await.unwrap();
        assert!(!exists, "acked job {} left its hash", acked.id);
    }
    let ready: u64 = direct.llen(format!("{PREFIX}:ready")).await.unwrap();
    let processing: u64 = direct.llen(format!("{PREFIX}:processing")).await.unwrap();
    let leased: u64 = direct.zcard(format!("{PREFIX}:processing_vt")).await.unwrap();
    assert_eq!((ready, processing, leased), (0, 0, 0));
    let delayed: Vec<String> = direct.zrange(format!("{PREFIX}:delayed"), 0, -1).await.unwrap();
    assert_eq!(delayed, [resize_job.id.as_str()]);
    let resize_hash: HashMap<String, String> = direct.hgetall(format!("{PREFIX}:job:{}", resize_job.id)).await.unwrap();
    assert_eq!(resize_hash["attempts"], "1");
    assert_eq!(resize_hash["last_error"], "python says no");
    let dead_ids: Vec<String> = direct.lrange(format!("{PREFIX}:dlq"), 0, -1).await.unwrap();
    assert_eq!(dead_ids, [archive_job.id.as_str()]);

    // svc-infra dead-letters a job on its last attempt without writing
    // `last_error`, so the dead job carries no error and no death time.
    let dead = queue.dead_jobs(0, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].job.id, archive_job.id);
    assert_eq!(dead[0].job.attempts, 1);
    assert_eq!(dead[0].job.last_error, None);
    assert_eq!(dead[0].died_at, None);

    // Our worker picks up the job svc-infra failed: its backoff of 0 s made
    // it due at once, and the attempt count and error carry over.
    let registry = Registry::from_inventory().unwrap();
    let event = process_one(queue.as_ref(), &registry)
        .await
        .unwrap()
        .expect("the job svc-infra failed is due");
    assert_eq!(event.job_id, resize_job.id);
    assert_eq!(event.outcome, JobOutcome::Succeeded);
    let expected_run = ResizeRun {
        job_id: resize_job.id.clone(),
        width: 640,
        attempt: 2,
        last_error: Some("python says no".to_owned()),
    };
    assert_eq!(*RESIZED.lock().unwrap(), [expected_run]);

    let expected: BTreeSet<String> = [
        format!("{PREFIX}:seq"),
        format!("{PREFIX}:dlq"),
        format!("{PREFIX}:job:{}", archive_job.id),
    ]
    .into();
    assert_eq!(keys(&mut direct).await, expected);
}
