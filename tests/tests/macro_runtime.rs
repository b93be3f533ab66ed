//! `#[job]` handlers run through `Registry::from_inventory` and `process_one`
//! on the in-memory queue: context values, retries, permanent errors, panics,
//! payloads that do not decode and the timeout from the attribute.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jobs::{
    InMemoryJobQueue, JobContext, JobError, JobOutcome, JobPayload, JobQueue, JobResult, NewJob, Payload, Registry,
    job, process_one,
};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct FlakyUpload {
    file: String,
}

/// The attempt number and previous error each run of `flaky_upload` saw.
static FLAKY_RUNS: Mutex<Vec<(u32, Option<String>)>> = Mutex::new(Vec::new());

#[job(name = "runtime.flaky_upload", max_attempts = 3, backoff_seconds = 0)]
async fn flaky_upload(upload: FlakyUpload, context: JobContext) -> Result<(), String> {
    FLAKY_RUNS
        .lock()
        .unwrap()
        .push((context.attempt(), context.last_error().map(str::to_owned)));
    if context.attempt() == 1 {
        return Err(format!("storage unavailable for {}", upload.file));
    }
    Ok(())
}

#[derive(Serialize, Deserialize)]
struct SendLetter {
    address: String,
}

#[job(name = "runtime.send_letter", max_attempts = 5)]
async fn send_letter(letter: SendLetter) -> Result<(), JobError> {
    Err(JobError::permanent(format!(
        "address {:?} does not exist",
        letter.address
    )))
}

#[derive(Serialize, Deserialize)]
struct Explode {
    reason: String,
}

#[job(name = "runtime.explode", max_attempts = 3)]
async fn explode(explode: Explode) {
    panic!("handler gave up: {}", explode.reason);
}

#[derive(Serialize, Deserialize)]
struct Invoice {
    id: u64,
}

#[job(name = "runtime.invoice")]
async fn invoice(_invoice: Invoice) {}

#[derive(Serialize, Deserialize)]
struct SlowExport {
    rows: u32,
}

/// Set by `slow_export` after its sleep, which its timeout never lets it reach.
static SLOW_EXPORT_FINISHED: AtomicBool = AtomicBool::new(false);

#[job(name = "runtime.slow_export", timeout = "100ms", max_attempts = 2)]
async fn slow_export(_export: SlowExport) {
    tokio::time::sleep(Duration::from_secs(1)).await;
    SLOW_EXPORT_FINISHED.store(true, Ordering::SeqCst);
}

#[derive(Serialize, Deserialize)]
struct Reconcile {
    accounts: u32,
}

#[job(name = "runtime.reconcile", max_attempts = 2)]
async fn reconcile(reconcile: Reconcile) -> JobResult {
    JobResult::failure(format!("{} accounts are out of balance", reconcile.accounts))
}

#[tokio::test]
async fn handlers_are_registered_with_attribute_options() {
    let registry = Registry::from_inventory().unwrap();

    let names: Vec<&str> = registry.handlers().iter().map(|info| info.name).collect();
    assert_eq!(
        names,
        [
            "runtime.explode",
            "runtime.flaky_upload",
            "runtime.invoice",
            "runtime.reconcile",
            "runtime.send_letter",
            "runtime.slow_export",
        ]
    );

    let upload = registry
        .handlers()
        .into_iter()
        .find(|info| info.name == "runtime.flaky_upload")
        .unwrap();
    assert_eq!(upload.payload_type, "FlakyUpload");
    assert_eq!(upload.origin.path, "macro_runtime::flaky_upload");
    assert!(
        upload.origin.file.ends_with("macro_runtime.rs"),
        "{}",
        upload.origin.file
    );
    assert_eq!(upload.options.max_attempts, 3);
    assert_eq!(
        registry.timeout_for("runtime.slow_export"),
        Some(Duration::from_millis(100))
    );
}

#[tokio::test]
async fn context_reports_attempt_and_last_error() {
    let queue = InMemoryJobQueue::new();
    let registry = Registry::from_inventory().unwrap();
    FlakyUpload {
        file: "report.pdf".into(),
    }
    .enqueue(&queue)
    .await
    .unwrap();

    let first = process_one(&queue, &registry).await.unwrap().unwrap();
    let second = process_one(&queue, &registry).await.unwrap().unwrap();

    assert!(
        matches!(first.outcome, JobOutcome::Retrying { .. }),
        "{:?}",
        first.outcome
    );
    assert_eq!(second.outcome, JobOutcome::Succeeded);
    let runs = FLAKY_RUNS.lock().unwrap().clone();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0], (1, None));
    assert_eq!(runs[1].0, 2);
    let last_error = runs[1].1.as_deref().unwrap();
    assert!(
        last_error.contains("storage unavailable for report.pdf"),
        "{last_error}"
    );
}

#[tokio::test]
async fn permanent_error_dead_letters_at_once() {
    let queue = InMemoryJobQueue::new();
    let registry = Registry::from_inventory().unwrap();
    SendLetter {
        address: "nowhere".into(),
    }
    .enqueue(&queue)
    .await
    .unwrap();

    let event = process_one(&queue, &registry).await.unwrap().unwrap();

    assert!(
        matches!(event.outcome, JobOutcome::DeadLettered { .. }),
        "{:?}",
        event.outcome
    );
    let dead = queue.dead_jobs(0, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].job.name, "runtime.send_letter");
    assert_eq!(dead[0].job.attempts, 1);
    let error = dead[0].job.last_error.as_deref().unwrap();
    assert!(error.contains("address \"nowhere\" does not exist"), "{error}");
}

#[tokio::test]
async fn panic_is_a_failed_attempt() {
    let queue = InMemoryJobQueue::new();
    let registry = Registry::from_inventory().unwrap();
    Explode {
        reason: "disk full".into(),
    }
    .enqueue(&queue)
    .await
    .unwrap();

    let event = process_one(&queue, &registry).await.unwrap().unwrap();

    let JobOutcome::Retrying { error, .. } = &event.outcome else {
        panic!("expected a retry after the panic, got {:?}", event.outcome);
    };
    assert!(error.contains("panicked"), "{error}");
    assert!(error.contains("handler gave up: disk full"), "{error}");
    assert!(queue.dead_jobs(0, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn undecodable_payload_dead_letters_with_decode_error() {
    let queue = InMemoryJobQueue::new();
    let registry = Registry::from_inventory().unwrap();
    let payload = Payload::from_json(r#"{"id": "not a number"}"#).unwrap();
    queue.enqueue(NewJob::new(Invoice::NAME, payload)).await.unwrap();

    let event = process_one(&queue, &registry).await.unwrap().unwrap();

    assert!(
        matches!(event.outcome, JobOutcome::DeadLettered { .. }),
        "{:?}",
        event.outcome
    );
    let dead = queue.dead_jobs(0, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    let error = dead[0].job.last_error.as_deref().unwrap();
    assert!(error.contains("does not decode into `Invoice`"), "{error}");
    assert!(error.contains("invalid type: string \"not a number\""), "{error}");
}

#[tokio::test(start_paused = true)]
async fn attribute_timeout_cancels_handler() {
    let queue = InMemoryJobQueue::new();
    let registry = Registry::from_inventory().unwrap();
    SlowExport { rows: 10 }.enqueue(&queue).await.unwrap();

    let event = process_one(&queue, &registry).await.unwrap().unwrap();
    // Long past the handler's own sleep: a handler still running would have finished.
    tokio::time::sleep(Duration::from_secs(5)).await;

    let JobOutcome::Retrying { error, .. } = &event.outcome else {
        panic!("expected a retry after the timeout, got {:?}", event.outcome);
    };
    assert!(error.contains("exceeded its timeout of 100ms"), "{error}");
    assert!(!SLOW_EXPORT_FINISHED.load(Ordering::SeqCst));
}

#[tokio::test]
async fn failed_job_result_is_retried() {
    let queue = InMemoryJobQueue::new();
    let registry = Registry::from_inventory().unwrap();
    Reconcile { accounts: 2 }.enqueue(&queue).await.unwrap();

    let event = process_one(&queue, &registry).await.unwrap().unwrap();

    let JobOutcome::Retrying { error, .. } = &event.outcome else {
        panic!("expected a retry after a failed JobResult, got {:?}", event.outcome);
    };
    assert!(error.contains("2 accounts are out of balance"), "{error}");
}

#[tokio::test]
async fn handler_is_callable_directly() {
    let result = send_letter(SendLetter { address: "here".into() }).await;

    let error = result.unwrap_err();
    assert!(error.is_permanent());
    assert_eq!(error.message(), "address \"here\" does not exist");
}
