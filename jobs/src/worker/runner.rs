//! `WorkerRunner`: a pool of concurrent attempts fed by one fetch loop, with
//! graceful shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use super::event::{JobEvent, JobOutcome};
use super::execute::execute;
use super::renew::Renewal;
use super::slot::{self, AckRequest, Slot};
use crate::error::display_chain;
use crate::queue::{JobQueue, Lease, LeaseOutcome, Reserved};
use crate::registry::Registry;

/// How long a stopping worker waits for the releases of its unfinished jobs
/// once the grace period is over.
const RELEASE_WAIT: Duration = Duration::from_secs(1);

/// The first pause after a failed reserve; it doubles up to [`MAX_ERROR_BACKOFF`].
const MIN_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// The longest pause between reserve attempts while the queue keeps failing.
const MAX_ERROR_BACKOFF: Duration = Duration::from_secs(5);

/// The shortest poll interval. A shorter one, zero included, is raised to it,
/// so an idle worker never polls the queue without a pause.
const MIN_POLL_INTERVAL: Duration = Duration::from_millis(1);

type EventHook = Arc<dyn Fn(&JobEvent) + Send + Sync>;

/// Configures and starts a worker.
///
/// ```no_run
/// # async fn run(queue: jobs::DynQueue) -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use jobs::{Registry, WorkerRunner};
///
/// let worker = WorkerRunner::new(queue, Registry::from_inventory()?).concurrency(8).start();
/// // ... until the process is asked to stop:
/// let report = worker.stop(Duration::from_secs(30)).await;
/// println!("{} jobs handed back to the queue", report.released);
/// # Ok(()) }
/// ```
pub struct WorkerRunner<Q> {
    queue: Arc<Q>,
    registry: Arc<Registry>,
    concurrency: usize,
    poll_interval: Duration,
    on_event: Option<EventHook>,
}

impl<Q: JobQueue> WorkerRunner<Q> {
    /// A runner with concurrency 1 and a 250 ms poll interval.
    pub fn new(queue: Q, registry: Registry) -> Self {
        Self::from_shared(Arc::new(queue), Arc::new(registry))
    }

    /// A runner over a queue and registry shared with other code.
    pub fn from_shared(queue: Arc<Q>, registry: Arc<Registry>) -> Self {
        Self {
            queue,
            registry,
            concurrency: 1,
            poll_interval: Duration::from_millis(250),
            on_event: None,
        }
    }

    /// Sets how many jobs run at once (at least 1).
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Sets the longest wait between checks of an idle queue (at least 1 ms).
    /// Both queues wake an idle worker sooner when a job is enqueued; the poll
    /// interval bounds how late a worker sees jobs that a producer queued
    /// without a wake-up, such as svc-infra on Redis.
    pub fn poll_interval(mut self, poll_interval: Duration) -> Self {
        self.poll_interval = poll_interval.max(MIN_POLL_INTERVAL);
        self
    }

    /// Calls `hook` after every attempt with what became of the job.
    pub fn on_event(mut self, hook: impl Fn(&JobEvent) + Send + Sync + 'static) -> Self {
        self.on_event = Some(Arc::new(hook));
        self
    }

    /// Starts the fetch loop on the current tokio runtime.
    pub fn start(self) -> Worker {
        let shutdown = CancellationToken::new();
        let abort = CancellationToken::new();
        let tracker = TaskTracker::new();
        let released = Arc::new(AtomicUsize::new(0));
        let (ack_sender, acks) = mpsc::unbounded_channel();
        let fetch = FetchLoop {
            queue: self.queue,
            registry: self.registry,
            slots: Arc::new(Semaphore::new(self.concurrency)),
            concurrency: self.concurrency,
            poll_interval: self.poll_interval,
            on_event: self.on_event,
            shutdown: shutdown.clone(),
            abort: abort.clone(),
            tracker: tracker.clone(),
            released: released.clone(),
            ack_sender,
            acks,
        };
        info!(concurrency = self.concurrency, "worker started");
        Worker {
            // Tracked, so the tracker is not empty until the loop has ended
            // and spawned its last task.
            fetch: tracker.spawn(fetch.run()),
            shutdown,
            abort,
            tracker,
            released,
        }
    }
}

/// A running worker. Stop it with [`Worker::stop`]; dropping it leaves it running.
#[derive(Debug)]
pub struct Worker {
    fetch: JoinHandle<()>,
    shutdown: CancellationToken,
    abort: CancellationToken,
    tracker: TaskTracker,
    released: Arc<AtomicUsize>,
}

/// The account of what a stopping worker did with the jobs it was running.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StopReport {
    /// Jobs still running when the stop began.
    pub in_flight: usize,
    /// Jobs handed back to the queue without counting the attempt: those whose
    /// handlers did not finish within the grace period, and those that the
    /// reserve in flight when the stop began returned, which never ran.
    pub released: usize,
    /// Jobs whose release did not complete in time; they return to the queue
    /// when their lease expires.
    pub unsettled: usize,
}

impl Worker {
    /// Stops the worker: stops fetching, waits up to `grace` for running jobs,
    /// then drops the handlers still running and hands their jobs back to the
    /// queue, uncounted. Returns within `grace` plus one second, even when the
    /// queue does not respond.
    pub async fn stop(self, grace: Duration) -> StopReport {
        let grace_over = Instant::now() + grace;
        self.shutdown.cancel();
        self.tracker.close();
        let in_flight = self.in_flight();
        info!(in_flight, grace_ms = grace.as_millis() as u64, "worker stopping");

        let mut report = StopReport {
            in_flight,
            ..StopReport::default()
        };
        // Once the tracker is empty, the fetch loop's future has returned,
        // although its `JoinHandle` may not report it finished yet.
        let mut all_ended = tokio::time::timeout_at(grace_over, self.tracker.wait()).await.is_ok();
        if !all_ended {
            let unfinished = self.in_flight();
            warn!(unfinished, "grace period over; releasing unfinished jobs");
            self.abort.cancel();
            // A release waits for the queue at most this long; a job whose
            // release is still pending returns when its lease expires.
            all_ended = tokio::time::timeout_at(grace_over + RELEASE_WAIT, self.tracker.wait())
                .await
                .is_ok();
            if !all_ended {
                report.unsettled = self.in_flight();
            }
        }
        if !all_ended {
            stop_fetching(&self.fetch);
        }
        report.released = self.released.load(Ordering::Relaxed);
        info!(
            in_flight = report.in_flight,
            released = report.released,
            unsettled = report.unsettled,
            "worker stopped"
        );
        report
    }

    /// Whether a stop has begun.
    pub fn is_stopping(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    /// The number of jobs running now, or being handed back by a stop.
    pub fn in_flight(&self) -> usize {
        // The fetch loop is one of the tracked tasks until it ends.
        self.tracker
            .len()
            .saturating_sub(usize::from(!self.fetch.is_finished()))
    }
}

/// Aborts the fetch loop if it has not ended by the time the stop has waited
/// for the releases.
///
/// The loop notices the shutdown at once unless its `ack_and_reserve` call
/// waits for the queue: on Redis up to the response timeout (5 s by
/// default). The stop waits for that call as long as for the releases, and
/// the loop hands back every job it returns. Aborting the call later cannot
/// lose a job, but any job it reserved has no worker, so it returns to the
/// queue when its lease expires, with the attempt counted.
fn stop_fetching(fetch: &JoinHandle<()>) {
    if !fetch.is_finished() {
        warn!(
            "the queue did not reply to the fetch loop's call in time; aborted the call, so any job it reserved returns when its lease expires"
        );
        fetch.abort();
    }
}

struct FetchLoop<Q> {
    queue: Arc<Q>,
    registry: Arc<Registry>,
    slots: Arc<Semaphore>,
    concurrency: usize,
    poll_interval: Duration,
    on_event: Option<EventHook>,
    shutdown: CancellationToken,
    abort: CancellationToken,
    tracker: TaskTracker,
    released: Arc<AtomicUsize>,
    /// The channel through which finished jobs hand over their leases to be acked.
    ack_sender: mpsc::UnboundedSender<AckRequest>,
    acks: mpsc::UnboundedReceiver<AckRequest>,
}

impl<Q: JobQueue> FetchLoop<Q> {
    async fn run(mut self) {
        let mut error_backoff = MIN_ERROR_BACKOFF;
        let mut failures: u64 = 0;
        loop {
            let Some(permits) = self.free_slots().await else {
                return;
            };
            let (leases, replies) = self.finished_leases();
            // The call is not raced against shutdown: dropping it midway
            // could leave a job reserved until its lease expires. `Worker::stop`
            // aborts it only after its wait for the releases, and the jobs
            // whose acks it carried then ack on their own.
            let sent_at = tokio::time::Instant::now();
            let (acked, result) = self.queue.ack_and_reserve(&leases, permits.len()).await;
            slot::answer(replies, acked);
            if self.shutdown.is_cancelled() {
                // The stop began during the call: hand back what it reserved.
                self.release_all(result.unwrap_or_default());
                return;
            }
            if result.is_ok() && failures > 0 {
                info!(failures, "reserving jobs works again");
                failures = 0;
                error_backoff = MIN_ERROR_BACKOFF;
            }
            match result {
                Ok(reserved) if reserved.is_empty() => {
                    drop(permits);
                    let queue = self.queue.clone();
                    let poll_interval = self.poll_interval;
                    let Some(waited) = self.pause(async move { queue.wait_for_job(poll_interval).await }).await else {
                        return;
                    };
                    if waited.is_err() {
                        // A failed wait returns at once; pause so the loop
                        // does not poll the queue without a break.
                        if self.pause(tokio::time::sleep(self.poll_interval)).await.is_none() {
                            return;
                        }
                    }
                }
                Ok(reserved) => self.spawn_all(reserved, permits, sent_at),
                Err(error) => {
                    drop(permits);
                    failures += 1;
                    warn!(
                        error = %display_chain(&error),
                        failures,
                        retry_in_ms = error_backoff.as_millis() as u64,
                        "failed to reserve jobs"
                    );
                    if self.pause(tokio::time::sleep(error_backoff)).await.is_none() {
                        return;
                    }
                    error_backoff = (error_backoff * 2).min(MAX_ERROR_BACKOFF);
                }
            }
        }
    }

    /// The leases that finished jobs handed over, and their reply channels.
    fn finished_leases(&mut self) -> (Vec<Lease>, Vec<slot::AckReply>) {
        let mut leases = Vec::new();
        let mut replies = Vec::new();
        while let Ok(request) = self.acks.try_recv() {
            leases.push(request.lease);
            replies.push(request.outcome);
        }
        (leases, replies)
    }

    /// Waits for `wait` and returns its output, or `None` once shutdown
    /// begins. Jobs that finish meanwhile ack on their own, so their acks do
    /// not wait for the pause to end.
    async fn pause<T>(&mut self, wait: impl Future<Output = T>) -> Option<T> {
        tokio::pin!(wait);
        loop {
            tokio::select! {
                biased;
                () = self.shutdown.cancelled() => return None,
                output = &mut wait => return Some(output),
                Some(request) = self.acks.recv() => slot::decline([request.outcome]),
            }
        }
    }

    /// Waits for at least one free slot and takes every other free one, or
    /// returns `None` once shutdown begins.
    async fn free_slots(&self) -> Option<Vec<OwnedSemaphorePermit>> {
        let first = tokio::select! {
            biased;
            () = self.shutdown.cancelled() => return None,
            permit = self.slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let mut permits = vec![first];
        while permits.len() < self.concurrency {
            match self.slots.clone().try_acquire_owned() {
                Ok(permit) => permits.push(permit),
                Err(_) => break,
            }
        }
        Some(permits)
    }

    /// Hands each job back to the queue without counting the attempt, each
    /// in a tracked task, so the stop waits for the releases.
    fn release_all(&self, reserved: Vec<Reserved>) {
        for Reserved { job, lease } in reserved {
            let queue = self.queue.clone();
            let released = self.released.clone();
            self.tracker.spawn(async move {
                match queue.release(&lease).await {
                    Ok(LeaseOutcome::Done) => {
                        released.fetch_add(1, Ordering::Relaxed);
                        debug!(job.id = %job.id, "worker stopping; job reserved during the stop released without running");
                    }
                    Ok(LeaseOutcome::Lost) => {
                        warn!(job.id = %job.id, "worker stopping; the lease of a job reserved during the stop had already expired")
                    }
                    Err(error) => warn!(
                        job.id = %job.id,
                        error = %display_chain(&error),
                        "failed to release a job reserved during the stop; it returns to the queue when its lease expires"
                    ),
                }
            });
        }
    }

    fn spawn_all(
        &self,
        reserved: Vec<Reserved>,
        permits: Vec<OwnedSemaphorePermit>,
        reserved_at: tokio::time::Instant,
    ) {
        for (job, permit) in reserved.into_iter().zip(permits) {
            let queue = self.queue.clone();
            let registry = self.registry.clone();
            let shutdown = self.shutdown.clone();
            let abort = self.abort.clone();
            let on_event = self.on_event.clone();
            let released = self.released.clone();
            let mut slot = Slot::pooled(permit, self.ack_sender.clone(), reserved_at);
            debug!(job.id = %job.job.id, job.name = %job.job.name, "job reserved");
            self.tracker.spawn(async move {
                // Boxed, so the task spawned is small and spawning it copies
                // a few pointers rather than the whole attempt's state.
                let event = Box::pin(execute(
                    &*queue,
                    Renewal::Task(queue.clone()),
                    &registry,
                    job,
                    shutdown,
                    &abort,
                    &mut slot,
                ))
                .await;
                if event.outcome == JobOutcome::Released {
                    released.fetch_add(1, Ordering::Relaxed);
                }
                if let Some(hook) = on_event {
                    hook(&event);
                }
                drop(slot);
            });
        }
    }
}
