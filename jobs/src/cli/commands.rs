//! The `run`, `jobs`, `enqueue` and `stats` commands.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::info;

use super::args::{EnqueueArgs, RunArgs};
use crate::backoff::BackoffStrategy;
use crate::config::JobsConfig;
use crate::error::display_chain;
use crate::job::{JobOptions, NewJob};
use crate::payload::Payload;
use crate::registry::Registry;
use crate::scheduler::Scheduler;
use crate::worker::WorkerRunner;

pub(super) async fn run(config: &JobsConfig, registry: Registry, args: RunArgs) -> Result<(), String> {
    let queue = config.connect().await.map_err(|error| error.to_string())?;
    let mut scheduler = Scheduler::new(queue.clone());
    let scheduled = scheduler.add_from_env().map_err(|error| error.to_string())?;
    let names: Vec<&str> = registry.handlers().iter().map(|handler| handler.name).collect();
    info!(driver = ?config.driver, jobs = ?names, scheduled, "starting worker");

    let stop_scheduler = CancellationToken::new();
    let scheduler_task = (scheduled > 0).then(|| tokio::spawn(scheduler.run(stop_scheduler.clone())));
    let worker = WorkerRunner::new(queue, registry)
        .concurrency(usize::from(args.concurrency))
        .poll_interval(args.poll_interval)
        .start();

    let signal = stop_signal().await?;
    info!(signal, "stop requested");
    stop_scheduler.cancel();
    worker.stop(args.grace).await;
    if let Some(task) = scheduler_task {
        let _ = task.await;
    }
    Ok(())
}

/// Waits for SIGINT or SIGTERM and returns its name.
async fn stop_signal() -> Result<&'static str, String> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate =
            signal(SignalKind::terminate()).map_err(|error| format!("failed to listen for SIGTERM: {error}"))?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.map(|()| "SIGINT").map_err(|error| format!("failed to listen for SIGINT: {error}")),
            _ = terminate.recv() => Ok("SIGTERM"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .map(|()| "ctrl-c")
            .map_err(|error| format!("failed to listen for ctrl-c: {error}"))
    }
}

pub(super) fn list_jobs(registry: &Registry) {
    for handler in registry.handlers() {
        println!(
            "{} {} payload={}",
            handler.name,
            describe(handler.options),
            handler.payload_type
        );
    }
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
        let known: Vec<&str> = registry.handlers().iter().map(|handler| handler.name).collect();
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
    let payload = Payload::from_json(args.payload.as_str()).map_err(|error| {
        format!("the payload is not valid JSON: {error}; pass one JSON value such as '{{\"id\": 1}}'")
    })?;
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

pub(super) async fn stats(config: &JobsConfig) -> Result<(), String> {
    let queue = config.connect().await.map_err(|error| error.to_string())?;
    let stats = queue.stats().await.map_err(|error| display_chain(&error))?;
    println!(
        "ready={} delayed={} processing={} dead={}",
        stats.ready, stats.delayed, stats.processing, stats.dead
    );
    Ok(())
}
