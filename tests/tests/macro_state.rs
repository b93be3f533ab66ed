//! Shared state for `#[job]` handlers: `Data<T>` extractors get what was given
//! to `Registry::builder`, and missing state fails the registry build.

use std::sync::{Arc, Mutex};

use jobs::{Data, InMemoryJobQueue, JobContext, JobOutcome, JobPayload, Registry, RegistryError, job, process_one};
use serde::{Deserialize, Serialize};

/// Stands in for a database pool: the ids it has stored.
#[derive(Default)]
struct Database {
    rows: Mutex<Vec<u64>>,
}

/// A second state type, so tests can give one type and leave out the other.
#[derive(Default)]
struct AuditLog {
    entries: Mutex<Vec<String>>,
}

#[derive(Serialize, Deserialize)]
struct StoreRow {
    id: u64,
}

#[job(name = "state.store_row")]
async fn store_row(row: StoreRow, database: Data<Database>, context: JobContext) {
    assert_eq!(context.attempt(), 1);
    database.rows.lock().unwrap().push(row.id);
}

#[derive(Serialize, Deserialize)]
struct Audit {
    entry: String,
}

#[job(name = "state.audit")]
async fn audit(audit: Audit, log: Data<AuditLog>) {
    log.entries.lock().unwrap().push(audit.entry);
}

#[tokio::test]
async fn data_extractor_gets_registered_state() {
    let database = Arc::new(Database::default());
    let log = Arc::new(AuditLog::default());
    let registry = Registry::builder()
        .shared_state(Arc::clone(&database))
        .shared_state(Arc::clone(&log))
        .from_inventory()
        .unwrap();
    let queue = InMemoryJobQueue::new();
    StoreRow { id: 42 }.enqueue(&queue).await.unwrap();
    Audit {
        entry: "row 42 stored".into(),
    }
    .enqueue(&queue)
    .await
    .unwrap();

    let first = process_one(&queue, &registry).await.unwrap().unwrap();
    let second = process_one(&queue, &registry).await.unwrap().unwrap();

    assert_eq!(first.outcome, JobOutcome::Succeeded);
    assert_eq!(second.outcome, JobOutcome::Succeeded);
    assert_eq!(*database.rows.lock().unwrap(), [42]);
    assert_eq!(*log.entries.lock().unwrap(), ["row 42 stored"]);
}

#[test]
fn missing_state_fails_registry_build() {
    let error = Registry::from_inventory().unwrap_err();

    // Handlers are checked in name order, so `state.audit` is reported first.
    let RegistryError::MissingState {
        name,
        handler,
        type_name,
    } = &error
    else {
        panic!("expected MissingState, got {error:?}");
    };
    assert_eq!(name, "state.audit");
    assert!(handler.contains("macro_state::audit"), "{handler}");
    assert!(handler.contains("macro_state.rs"), "{handler}");
    assert_eq!(*type_name, "macro_state::AuditLog");
    let message = error.to_string();
    assert!(message.contains("`macro_state::AuditLog`"), "{message}");
    assert!(message.contains("Registry::builder().state(value)"), "{message}");
    assert!(
        message.contains("jobs::cli::Cli::new().registry(registry)"),
        "{message}"
    );
}

#[test]
fn missing_state_names_the_handler_that_needs_it() {
    let error = Registry::builder()
        .state(AuditLog::default())
        .from_inventory()
        .unwrap_err();

    let RegistryError::MissingState { name, type_name, .. } = &error else {
        panic!("expected MissingState, got {error:?}");
    };
    assert_eq!(name, "state.store_row");
    assert_eq!(*type_name, "macro_state::Database");
}

#[test]
fn duplicate_state_type_fails_registry_build() {
    let error = Registry::builder()
        .state(Database::default())
        .state(AuditLog::default())
        .state(Database::default())
        .from_inventory()
        .unwrap_err();

    assert_eq!(
        error,
        RegistryError::DuplicateState {
            type_name: "macro_state::Database"
        }
    );
}

#[test]
fn payload_names_come_from_the_attribute() {
    assert_eq!(StoreRow::NAME, "state.store_row");
    assert_eq!(Audit::NAME, "state.audit");
}
