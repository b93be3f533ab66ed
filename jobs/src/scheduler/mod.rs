//! The interval scheduler: enqueues jobs, or runs tasks, every N seconds.
//!
//! # One enqueue per interval across processes
//!
//! Several processes may run a scheduler with the same jobs, for example
//! every `worker run` process with the same `JOBS_SCHEDULE_JSON`. Each job
//! is still enqueued once per interval in total, because the schedulers
//! sharing a queue count intervals alike and one of them claims each:
//!
//! - A task's intervals are *slots* on the system clock: slot `n` starts at
//!   `n × interval` after the Unix epoch. So a 300 s task runs at minutes 0,
//!   5, 10 and so on of every hour, and a 24 h task at midnight UTC.
//! - Before it enqueues a job for slot `n`, a scheduler claims the key
//!   `{task name}:{n}` with [`JobQueue::claim_once`](crate::JobQueue::claim_once).
//!   The first scheduler to claim it enqueues, and the others skip the slot.
//!   On Redis the claim is `SET {prefix}:schedule:{task name}:{n} 1 NX PX
//!   ttl`, so the schedulers share it when they share a prefix. An
//!   in-memory queue shares its claims only with the schedulers of its process.
//! - A claim lasts three intervals, and at least 60 s. Schedulers whose
//!   system clocks differ by more than that can each enqueue a slot.
//! - When a claim fails, for example because Redis is unreachable, the
//!   scheduler logs the error and skips the slot, because the claim may have
//!   been stored. So a failed claim never causes a second enqueue, but the
//!   slot may be missed.
//!
//! Closures added with [`Scheduler::add_task`] run in the process's memory,
//! so they are not claimed: each process calls them once per interval.
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use jobs::{NewJob, Scheduler};
//!
//! let (queue, mut scheduler) = jobs::easy_jobs().await?;
//! scheduler.add_job("nightly_report", Duration::from_secs(24 * 3600), NewJob::new("report", serde_json::json!({})));
//! scheduler.add_task("cache_sweep", Duration::from_secs(300), || async { Ok(()) });
//! let stop = tokio_util::sync::CancellationToken::new();
//! tokio::spawn(scheduler.run(stop.clone()));
//! # Ok(()) }
//! ```

mod env;
mod slot;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info};

pub use env::{SCHEDULE_ENV, ScheduleEntry, ScheduleError, parse_schedule};

use crate::error::display_chain;
use crate::job::NewJob;
use crate::queue::DynQueue;
use crate::registry::registration::BoxFuture;
use slot::{claim_slot, slot_at, until_slot};

type TaskFn = Arc<dyn Fn() -> BoxFuture<Result<(), String>> + Send + Sync>;

enum Action {
    Enqueue(NewJob),
    Call(TaskFn),
}

struct Task {
    name: String,
    every: Duration,
    /// The last slot this task was due in, or the slot in progress when it
    /// was added. The task is due when the system clock reaches a later slot.
    last_slot: u64,
    action: Action,
}

/// Runs tasks at fixed intervals.
///
/// A task runs at the start of each of its slots: the multiples of its
/// interval since the Unix epoch on the system clock. The first is the next
/// one after the task is added, at most one interval later. The schedule does
/// not drift with the time a task takes. When the scheduler falls behind by
/// several intervals, a task runs once and resumes at its next slot. A failing
/// task is logged and runs again at its next slot; it never stops the other tasks.
///
/// Jobs added with [`add_job`](Self::add_job) are enqueued once per slot
/// across all the schedulers that share a queue (see the
/// [module documentation](crate::scheduler)). Closures added with
/// [`add_task`](Self::add_task) run in every process that runs the scheduler.
///
/// Slots follow the system clock, so tokio's paused test clock does not
/// advance them.
pub struct Scheduler {
    queue: DynQueue,
    tasks: Vec<Task>,
    tick: Duration,
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.tasks.iter().map(|task| task.name.as_str()).collect();
        f.debug_struct("Scheduler")
            .field("tasks", &names)
            .field("tick", &self.tick)
            .finish()
    }
}

impl Scheduler {
    /// A scheduler with no tasks that enqueues into `queue`.
    pub fn new(queue: DynQueue) -> Self {
        Self {
            queue,
            tasks: Vec::new(),
            tick: Duration::from_secs(1),
        }
    }

    /// Sets the longest time a due task waits to start (default 1 s).
    pub fn tick(mut self, tick: Duration) -> Self {
        self.tick = tick.max(Duration::from_millis(1));
        self
    }

    /// Enqueues a copy of `job` every `every`, once per slot across the
    /// schedulers that share the queue. A task with the same name is replaced.
    pub fn add_job(&mut self, name: &str, every: Duration, job: NewJob) -> &mut Self {
        self.add(name, every, Action::Enqueue(job))
    }

    /// Calls `task` every `every` in this process. Every other process that
    /// adds it calls it too. A task with the same name is replaced.
    pub fn add_task<F, Fut>(&mut self, name: &str, every: Duration, task: F) -> &mut Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let call: TaskFn = Arc::new(move || Box::pin(task()));
        self.add(name, every, Action::Call(call))
    }

    /// Adds the job entries of `JOBS_SCHEDULE_JSON`; returns how many.
    pub fn add_from_env(&mut self) -> Result<usize, ScheduleError> {
        let Some(text) =
            crate::config::env_var(SCHEDULE_ENV).map_err(|error| ScheduleError::Invalid { reason: error.reason() })?
        else {
            return Ok(0);
        };
        let entries = parse_schedule(&text)?;
        let count = entries.len();
        for entry in entries {
            let job = entry.new_job();
            self.add_job(&entry.name, entry.every(), job);
        }
        Ok(count)
    }

    /// The names of the scheduled tasks, in the order they were added.
    pub fn task_names(&self) -> Vec<&str> {
        self.tasks.iter().map(|task| task.name.as_str()).collect()
    }

    fn add(&mut self, name: &str, every: Duration, action: Action) -> &mut Self {
        let every = every.max(Duration::from_millis(1));
        self.tasks.retain(|task| task.name != name);
        self.tasks.push(Task {
            name: name.to_owned(),
            every,
            last_slot: slot_at(SystemTime::now(), every),
            action,
        });
        self
    }

    /// Returns the time until the next task's next slot starts, or
    /// `Duration::MAX` without tasks.
    fn until_next_slot(&self) -> Duration {
        let now = SystemTime::now();
        let waits = self.tasks.iter().map(|task| {
            let next = task.last_slot.saturating_add(1);
            until_slot(next, task.every, now)
        });
        waits.min().unwrap_or(Duration::MAX)
    }

    /// Runs every due task once. Returns how many it enqueued or called,
    /// failures included, but not the jobs it skipped because another
    /// scheduler claimed the slot or the claim failed.
    pub async fn run_due(&mut self) -> usize {
        let now = SystemTime::now();
        let mut ran = 0;
        for task in &mut self.tasks {
            let slot = slot_at(now, task.every);
            if slot <= task.last_slot {
                continue;
            }
            task.last_slot = slot;
            if run_task(&self.queue, task, slot).await {
                ran += 1;
            }
        }
        ran
    }

    /// Runs due tasks until `stop` is cancelled.
    pub async fn run(mut self, stop: CancellationToken) {
        info!(tasks = ?self.task_names(), "scheduler started");
        loop {
            self.run_due().await;
            let wait = self.until_next_slot().min(self.tick);
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
        info!("scheduler stopped");
    }
}

/// Runs `task` for `slot`. Returns `false` when it enqueued nothing because
/// another scheduler claimed the slot or the claim failed.
async fn run_task(queue: &DynQueue, task: &Task, slot: u64) -> bool {
    match &task.action {
        Action::Enqueue(job) => {
            if !claim_slot(queue, &task.name, slot, task.every).await {
                return false;
            }
            match queue.enqueue(job.clone()).await {
                Ok(queued) => debug!(task = %task.name, slot, job.id = %queued.id, "scheduled job enqueued"),
                Err(failure) => {
                    error!(task = %task.name, slot, error = %display_chain(&failure), "failed to enqueue scheduled job")
                }
            }
        }
        Action::Call(call) => match call().await {
            Ok(()) => debug!(task = %task.name, "scheduled task ran"),
            Err(failure) => error!(task = %task.name, error = %failure, "scheduled task failed"),
        },
    }
    true
}
