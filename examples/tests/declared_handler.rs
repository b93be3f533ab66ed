//! The worker side of `shared-payloads`: the `#[job(declared)]` handler in
//! `examples::handlers` is registered under the name its payload declares.

use jobs::{InMemoryJobQueue, JobOutcome, JobPayload, Registry, process_one};
use shared_payloads::GenerateReport;

#[tokio::test]
async fn declared_handler_runs_shared_payload() {
    examples::link_handlers();
    let registry = Registry::from_inventory().unwrap();
    let queue = InMemoryJobQueue::new();
    let report = GenerateReport {
        account_id: 101,
        month: "2026-11".to_owned(),
    };
    report.enqueue(&queue).await.unwrap();

    let event = process_one(&queue, &registry).await.unwrap().unwrap();

    assert_eq!(event.name, "report.generate");
    assert_eq!(event.outcome, JobOutcome::Succeeded);
    assert_eq!(registry.options(GenerateReport::NAME), Some(&GenerateReport::OPTIONS));
}

#[tokio::test]
async fn declared_handler_retries_invalid_month() {
    examples::link_handlers();
    let registry = Registry::from_inventory().unwrap();
    let queue = InMemoryJobQueue::new();
    let report = GenerateReport {
        account_id: 101,
        month: "November".to_owned(),
    };
    report.enqueue(&queue).await.unwrap();

    let event = process_one(&queue, &registry).await.unwrap().unwrap();

    let JobOutcome::Retrying { error, .. } = &event.outcome else {
        panic!("expected a retry, got {:?}", event.outcome);
    };
    assert!(error.contains("\"November\" is not in the form YYYY-MM"), "{error}");
}
