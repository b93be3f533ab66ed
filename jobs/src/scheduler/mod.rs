//! The interval scheduler: enqueues jobs, or runs tasks, every N seconds.
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

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info};

pub use env::{SCHEDULE_ENV, ScheduleEntry, ScheduleError, parse_schedule};

use crate::error::display_chain;
use crate::job::NewJob;
use crate::queue::DynQueue;
use crate::registry::registration::BoxFuture;

type TaskFn = Arc<dyn Fn() -> BoxFuture<Result<(), String>> + Send + Sync>;

enum Action {
    Enqueue(NewJob),
    Call(TaskFn),
}

struct Task {
    name: String,
    every: Duration,
    next_run: Instant,
    action: Action,
}

/// Runs tasks at fixed intervals.
///
/// Each task first runs one interval after it is added, then every interval
/// after its previous due time, so the schedule does not drift with the time a
/// task takes. When the scheduler falls behind by several intervals, a task
/// runs once and resumes at its next future due time. A failing task is logged
/// and runs again at its next due time; it never stops the other tasks.
///
/// Every process that runs a scheduler runs its tasks: run it in one process,
/// or make the scheduled jobs idempotent.
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

    /// Enqueues a copy of `job` every `every`. A task with the same name is replaced.
    pub fn add_job(&mut self, name: &str, every: Duration, job: NewJob) -> &mut Self {
        self.add(name, every, Action::Enqueue(job))
    }

    /// Calls `task` every `every`. A task with the same name is replaced.
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
            next_run: Instant::now() + every,
            action,
        });
        self
    }

    /// Runs every due task once and returns how many ran.
    pub async fn run_due(&mut self) -> usize {
        let now = Instant::now();
        let mut ran = 0;
        for task in &mut self.tasks {
            if task.next_run > now {
                continue;
            }
            run_task(&self.queue, task).await;
            ran += 1;
            while task.next_run <= now {
                task.next_run += task.every;
            }
        }
        ran
    }

    /// Runs due tasks until `stop` is cancelled.
    pub async fn run(mut self, stop: CancellationToken) {
        info!(tasks = ?self.task_names(), "scheduler started");
        loop {
            self.run_due().await;
            let next = self.tasks.iter().map(|task| task.next_run).min();
            let wake = next.map_or(Instant::now() + self.tick, |due| due.min(Instant::now() + self.tick));
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep_until(wake) => {}
            }
        }
        info!("scheduler stopped");
    }
}

async fn run_task(queue: &DynQueue, task: &Task) {
    match &task.action {
        Action::Enqueue(job) => match queue.enqueue(job.clone()).await {
            Ok(queued) => debug!(task = %task.name, job.id = %queued.id, "scheduled job enqueued"),
            Err(failure) => {
                error!(task = %task.name, error = %display_chain(&failure), "failed to enqueue scheduled job")
            }
        },
        Action::Call(call) => match call().await {
            Ok(()) => debug!(task = %task.name, "scheduled task ran"),
            Err(failure) => error!(task = %task.name, error = %failure, "scheduled task failed"),
        },
    }
}
