//! Workers: take jobs from a queue and run their handlers.
//!
//! While a handler runs, its lease is renewed every third of the lease
//! length. [`WorkerRunner`] renews it in a task of its own, so a handler that
//! blocks its thread (which it should not: blocking work belongs in
//! `tokio::task::spawn_blocking`) keeps its lease while another runtime
//! thread is free. On a current-thread runtime there is no other thread: a
//! handler that blocks it stops the renewal, and the job may run on another
//! worker once the lease expires. [`process_one`] renews the lease in the
//! caller's task, so there a blocking handler stops the renewal on any runtime.

pub mod event;
mod execute;
mod renew;
mod runner;
mod settle;
mod slot;

pub use event::{JobEvent, JobOutcome};
pub use runner::{StopReport, Worker, WorkerRunner};

use tokio_util::sync::CancellationToken;

use crate::error::QueueError;
use crate::queue::JobQueue;
use crate::registry::Registry;
use renew::Renewal;

/// Reserves one job, runs its handler and acks or fails it.
///
/// Returns `None` when no job was due, else what became of the job.
/// Only a failure to reserve is an error; a failed attempt is an outcome.
pub async fn process_one<Q: JobQueue + ?Sized>(queue: &Q, registry: &Registry) -> Result<Option<JobEvent>, QueueError> {
    let reserved_at = tokio::time::Instant::now();
    let Some(reserved) = queue.reserve().await? else {
        return Ok(None);
    };
    let never = CancellationToken::new();
    Ok(Some(
        execute::execute(
            queue,
            Renewal::Inline,
            registry,
            reserved,
            CancellationToken::new(),
            &never,
            &mut slot::Slot::direct(reserved_at),
        )
        .await,
    ))
}
