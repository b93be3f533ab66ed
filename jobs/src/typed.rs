//! Payload types bound to a job name: the compile-checked way to enqueue.

use std::future::Future;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::EnqueueError;
use crate::job::{Job, JobOptions, NewJob};
use crate::payload::Payload;
use crate::queue::{Enqueued, JobQueue};

/// A payload type bound to a job name and its options.
///
/// `#[job]` implements it for the payload type of the handler it annotates,
/// so only payloads that some handler accepts can be enqueued:
///
/// ```standalone_crate
/// use jobs::{InMemoryJobQueue, JobPayload, job};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Resize { width: u32 }
///
/// #[job(name = "resize", max_attempts = 3)]
/// async fn resize(image: Resize) {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let queue = InMemoryJobQueue::new();
/// let job = Resize { width: 640 }.enqueue(&queue).await?;
/// assert_eq!(job.name, "resize");
/// assert_eq!(job.max_attempts, 3);
/// # Ok(()) }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a job payload",
    label = "no job is declared with this payload type",
    note = "put `#[jobs::job]` on an async fn whose first parameter is `{Self}`, or declare the job on the type with `#[derive(jobs::JobPayload)]` and `#[job(name = \"...\")]`"
)]
pub trait JobPayload: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The job name, which selects the handler.
    const NAME: &'static str;

    /// The declared options: attempts, backoff, timeout, visibility timeout.
    const OPTIONS: JobOptions;

    /// Builds the enqueue request for this payload with the declared options.
    fn to_new_job(&self) -> Result<NewJob, EnqueueError> {
        let payload = Payload::from_serialize(self).map_err(|source| EnqueueError::Serialize {
            name: Self::NAME.to_owned(),
            source,
        })?;
        Ok(NewJob::new(Self::NAME, payload).options(&Self::OPTIONS))
    }

    /// Enqueues this payload as a job due at once.
    fn enqueue<'q, Q>(&self, queue: &'q Q) -> impl Future<Output = Result<Job, EnqueueError>> + Send + 'q
    where
        Q: JobQueue + ?Sized,
    {
        let request = self.to_new_job();
        async move { queue.enqueue(request?).await }
    }

    /// Enqueues this payload as a job due after `delay`.
    fn enqueue_in<'q, Q>(
        &self,
        queue: &'q Q,
        delay: Duration,
    ) -> impl Future<Output = Result<Job, EnqueueError>> + Send + 'q
    where
        Q: JobQueue + ?Sized,
    {
        let request = self.to_new_job().map(|job| job.delay(delay));
        async move { queue.enqueue(request?).await }
    }

    /// Enqueues this payload as a job due at once, unless a job with the
    /// same unique `key` is queued or running. See [`JobQueue::enqueue_unique`].
    fn enqueue_unique<'q, Q>(
        &self,
        queue: &'q Q,
        key: impl Into<String>,
    ) -> impl Future<Output = Result<Enqueued, EnqueueError>> + Send + 'q
    where
        Q: JobQueue + ?Sized,
    {
        let request = self.to_new_job().map(|job| job.unique_key(key));
        async move { queue.enqueue_unique(request?).await }
    }
}

/// Checks at compile time that a payload type can be serialized and decoded.
#[doc(hidden)]
pub const fn assert_payload<T: Serialize + DeserializeOwned + Send + Sync + 'static>() {}

/// Checks that a payload decodes into `T`; the registry's `check_payload` calls it.
#[doc(hidden)]
pub fn check_payload<T: DeserializeOwned>(payload: &Payload) -> Result<(), serde_json::Error> {
    payload.decode::<T>().map(drop)
}

#[doc(hidden)]
pub fn decode<T: DeserializeOwned>(payload: &Payload) -> Result<T, serde_json::Error> {
    payload.decode()
}
