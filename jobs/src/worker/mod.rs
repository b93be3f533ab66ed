//! Workers: take jobs from a queue and run their handlers.

pub mod event;
mod execute;
mod runner;
mod slot;

pub use event::{JobEvent, JobOutcome};
pub use runner::{StopReport, Worker, WorkerRunner};

use tokio_util::sync::CancellationToken;

use crate::error::QueueError;
use crate::queue::JobQueue;
use crate::registry::Registry;

/// Reserves one job, runs its handler and acks or fails it.
///
/// Returns `None` when no job was due, else what became of the job.
/// Only a failure to reserve is an error; a failed attempt is an outcome.
pub async fn process_one<Q: JobQueue + ?Sized>(queue: &Q, registry: &Registry) -> Result<Option<JobEvent>, QueueError> {
    let Some(reserved) = queue.reserve().await? else {
        return Ok(None);
    };
    let never = CancellationToken::new();
    Ok(Some(
        execute::execute(
            queue,
            registry,
            reserved,
            CancellationToken::new(),
            &never,
            &mut slot::Slot::direct(),
        )
        .await,
    ))
}
