//! The `run`, `jobs`, `enqueue` and `stats` commands.

use std::io::Read;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::args::{EnqueueArgs, RunArgs};
use super::signal::{exit_on_second_signal, stop_signal};
use super::target::{masked_redis_url, memory_driver_source};
use crate::backoff::BackoffStrategy;
use crate::config::{Driver, JobsConfig, REDIS_URL_ENV};
use crate::error::display_chain;
use crate::job::{JobOptions, NewJob};
use crate::payload::Payload;
use crate::queue::DynQueue;
use crate::registry::Registry;
use crate::scheduler::{SCHEDULE_ENV, Scheduler, parse_schedule};
use crate::worker::WorkerRunner;

pub(super) async fn run(config: &JobsConfig, registry: Registry, args: RunArgs) -> Result<(), String> {
    if registry.handlers().is_empty() {
        return Err(format!(
            "{NO_HANDLERS}, so the worker would fail every job; {LINK_HANDLERS}"
        ));
    }
    if config.driver == Driver::Memory && std::env::var_os(REDIS_URL_ENV).is_some() {
        warn!(
            "REDIS_URL is set but {}: this worker runs an in-memory queue of its own",
            memory_driver_source()
        );
    }
    let queue = config.connect().await.map_err(|error| error.to_string())?;
    let scheduler = schedule_from_env(queue.clone(), &registry)?;
    let scheduled = scheduler.task_names().len();
    log_start(config, &registry, scheduled);

    let stop_scheduler = CancellationToken::new();
    let scheduler_task = (scheduled > 0).then(|| tokio::spawn(scheduler.run(stop_scheduler.clone())));
    let worker = WorkerRunner::new(queue, registry)
        .concurrency(usize::from(args.concurrency))
        .poll_interval(args.poll_interval)
        .start();

    let signal = stop_signal().await?;
    info!(signal, "stop requested");
    exit_on_second_signal();
    stop_scheduler.cancel();
    worker.stop(args.grace).await;
    if let Some(mut task) = scheduler_task {
        // An enqueue of the scheduler may wait for a slow Redis; the worker's
        // grace period is over, so it gets one more second.
        if tokio::time::timeout(Duration::from_secs(1), &mut task).await.is_err() {
            task.abort();
        }
    }
    Ok(())
}

/// Logs the start with the queue's driver, masked Redis URL and key prefix,
/// so a worker that reads a default because of a misspelled variable shows it.
fn log_start(config: &JobsConfig, registry: &Registry, scheduled: usize) {
    let names = registered_names(registry);
    match config.driver {
        Driver::Memory => info!(driver = ?config.driver, jobs = ?names, scheduled, "starting worker"),
        Driver::Redis => info!(
            driver = ?config.driver,
            redis_url = %masked_redis_url(config),
            redis_prefix = %config.redis_prefix,
            jobs = ?names,
            scheduled,
            "starting worker"
        ),
    }
}

fn registered_names(registry: &Registry) -> Vec<&str> {
    registry.handlers().iter().map(|handler| handler.name).collect()
}

/// The error of `run` and `jobs` in a binary without handlers.
const NO_HANDLERS: &str = "no job handlers are registered in this binary";

/// The advice for linking `#[job]` handlers from a library crate into the binary.
const LINK_HANDLERS: &str = "if the #[job] handlers live in a library crate, name something from it in the binary \
    (for example `use my_jobs as _;`), because the linker drops library code the binary never uses";

/// Builds the scheduler from `JOBS_SCHEDULE_JSON`. Entries for jobs this
/// binary handles take the handler's options and must have a payload that
/// decodes into its type; entries for other jobs are kept, with a warning.
fn schedule_from_env(queue: DynQueue, registry: &Registry) -> Result<Scheduler, String> {
    let mut scheduler = Scheduler::new(queue);
    let text = crate::config::env_var(SCHEDULE_ENV)
        .map_err(|error| error.to_string())?
        .unwrap_or_default();
    for entry in parse_schedule(&text).map_err(|error| error.to_string())? {
        let mut job = entry.new_job();
        match registry.options(&entry.job_name) {
            Some(options) => {
                registry
                    .check_payload(&entry.job_name, &job.payload)
                    .map_err(|error| format!("{SCHEDULE_ENV} entry {:?}: {error}", entry.name))?;
                job = job.options(options);
            }
            None => warn!(
                task = %entry.name,
                job.name = %entry.job_name,
                registered = ?registered_names(registry),
                "scheduled job has no handler in this binary; another worker must handle it, \
                 unless job.name is misspelled (compare it with the registered jobs)"
            ),
        }
        scheduler.add_job(&entry.name, entry.every(), job);
    }
    Ok(scheduler)
}

pub(super) fn list_jobs(registry: &Registry) -> Result<(), String> {
    if registry.handlers().is_empty() {
        return Err(format!("{NO_HANDLERS}; {LINK_HANDLERS}"));
    }
    for handler in registry.handlers() {
        println!(
            "{} {} payload={}",
            handler.name,
            describe(handler.options),
            handler.payload_type
        );
    }
    Ok(())
}

/// Formats options as `key=value` pairs.
fn describe(options: &JobOptions) -> String {
    let duration = |value: Option<Duration>| match value {
        Some(value) => humantime::format_duration(value).to_string(),
        None => "default".to_owned(),
    };
    let base = humantime::format_duration(options.backoff.base());
    let backoff = match options.backoff.strategy() {
        BackoffStrategy::Linear => format!("linear({base})"),
        BackoffStrategy::Exponential { max_delay, jitter } => {
            let max = humantime::format_duration(max_delay);
            format!("exponential({base}, max {max}{})", if jitter { ", jitter" } else { "" })
        }
    };
    format!(
        "max_attempts={} backoff={backoff} timeout={} visibility_timeout={}",
        options.max_attempts,
        duration(options.timeout),
        duration(options.visibility_timeout),
    )
}

pub(super) async fn enqueue(config: &JobsConfig, registry: &Registry, args: EnqueueArgs) -> Result<(), String> {
    let Some(options) = registry.options(&args.name) else {
        let known = registered_names(registry);
        return Err(format!(
            "no job named `{}` is registered; registered jobs: {}",
            args.name,
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        ));
    };
    let payload = parse_payload(read_payload(args.payload)?)?;
    registry
        .check_payload(&args.name, &payload)
        .map_err(|error| error.to_string())?;

    let mut request = NewJob::new(&args.name, payload).options(options);
    if let Some(delay) = args.delay {
        request = request.delay(delay);
    }
    let queue = config.connect().await.map_err(|error| error.to_string())?;
    let job = queue.enqueue(request).await.map_err(|error| display_chain(&error))?;
    println!(
        "enqueued job {} ({}) available at {}",
        job.id,
        job.name,
        job.available_at.to_rfc3339()
    );
    Ok(())
}

/// Reads the payload from standard input when the argument is `-`, and otherwise returns the argument.
fn read_payload(argument: String) -> Result<String, String> {
    if argument != "-" {
        return Ok(argument);
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|error| format!("failed to read the payload from standard input: {error}"))?;
    if text.trim().is_empty() {
        return Err("standard input is empty; pipe the payload's JSON into `enqueue NAME -`".to_owned());
    }
    Ok(text)
}

/// Checks that `text` is one JSON value. Text that is JSON except for `NaN`,
/// `Infinity` or `-Infinity` gets an error that names those tokens.
fn parse_payload(text: String) -> Result<Payload, String> {
    Payload::from_json(text.as_str()).map_err(|error| {
        if Payload::from_stored(text.as_str()).to_value().is_ok() {
            return format!(
                "the payload is not valid JSON: {error}, because JSON has no NaN, Infinity or -Infinity; \
                 write null or a finite number instead"
            );
        }
        format!("the payload is not valid JSON: {error}; pass one JSON value such as '{{\"id\": 1}}'")
    })
}

pub(super) async fn stats(config: &JobsConfig) -> Result<(), String> {
    let queue = config.connect().await.map_err(|error| error.to_string())?;
    let stats = queue.stats().await.map_err(|error| display_chain(&error))?;
    println!(
        "ready={} delayed={} processing={} dead={}",
        stats.ready, stats.delayed, stats.processing, stats.dead
    );
    Ok(())
}
