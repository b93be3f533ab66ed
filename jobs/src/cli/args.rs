//! The command line, as clap parses it.

use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand};

/// Runs and feeds the background-job workers of this program.
///
/// The queue comes from the environment: JOBS_DRIVER (`memory` or `redis`),
/// REDIS_URL and JOBS_REDIS_PREFIX. `run` logs the driver, Redis URL and key
/// prefix at start. `enqueue`, `stats` and `dlq` print the queue they use as
/// the first line of standard error, where notes such as an empty
/// dead-letter queue also go, so standard output carries only results.
#[derive(Debug, Parser)]
pub(crate) struct CommandLine {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Runs a worker until SIGINT or SIGTERM, then stops gracefully.
    Run(RunArgs),
    /// Lists the registered jobs with their options, one per line.
    Jobs,
    /// Checks a JSON payload against the job's payload type and enqueues it.
    Enqueue(EnqueueArgs),
    /// Counts the jobs that are ready, delayed, processing and dead.
    Stats,
    /// Inspects and repairs the dead-letter queue.
    #[command(subcommand)]
    Dlq(DlqCommand),
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// How many jobs run at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) concurrency: u16,
    /// The longest wait between checks of an idle queue, such as `250ms`.
    #[arg(long, default_value = "250ms", value_parser = parse_positive_duration, allow_hyphen_values = true)]
    pub(crate) poll_interval: Duration,
    /// How long running jobs may take to finish after a stop signal, such as
    /// `30s`; jobs still running then are handed back to the queue.
    #[arg(long, default_value = "30s", value_parser = parse_duration, allow_hyphen_values = true)]
    pub(crate) grace: Duration,
}

#[derive(Debug, Args)]
pub(crate) struct EnqueueArgs {
    /// The job name, as `jobs` lists it.
    pub(crate) name: String,
    /// The payload as JSON, such as '{"to": "ada@example.com"}', or `-` to
    /// read it from standard input, which takes payloads larger than the
    /// 128 KiB that Linux allows in one argument.
    pub(crate) payload: String,
    /// Delays the first attempt, such as `30s` or `1h 30m`.
    #[arg(long, value_parser = parse_delay, allow_hyphen_values = true)]
    pub(crate) delay: Option<Duration>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DlqCommand {
    /// Lists dead jobs, newest first: id, name, attempts, when, last error.
    List {
        /// The most jobs to list.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// How many of the newest jobs to skip.
        #[arg(long, default_value_t = 0)]
        offset: usize,
    },
    /// Shows one dead job with its payload.
    Show {
        /// The job id.
        id: String,
    },
    /// Moves dead jobs back to the queue with their attempts reset: one by
    /// its id, or all of them with `--all`.
    #[command(group(ArgGroup::new("target").required(true).args(["id", "all"])))]
    Requeue {
        /// The job id, as `dlq list` shows it.
        #[arg(value_name = "ID")]
        id: Option<String>,
        /// Requeues every dead job instead of one.
        #[arg(long)]
        all: bool,
    },
    /// Deletes every dead job. Without `--yes` it only prints how many it
    /// would delete, and exits with status 1 when there are any.
    Purge {
        /// Deletes the dead jobs; without this flag the command only counts them.
        #[arg(long)]
        yes: bool,
    },
}

/// Parses a human duration such as `500ms`, `30s` or `1h 30m`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    if text.trim_start().starts_with('-') {
        return Err(format!(
            "{text:?} is negative; give a duration of zero or more, written like `500ms`, `30s` or `1h 30m`"
        ));
    }
    humantime::parse_duration(text)
        .map_err(|error| format!("{text:?} is not a duration ({error}); write it like `500ms`, `30s` or `1h 30m`"))
}

/// Parses a duration that must not be zero, such as a poll interval.
pub(crate) fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err(format!("{text:?} is zero; give a positive duration such as `250ms`"));
    }
    Ok(duration)
}

/// Parses a delay, which may not exceed the longest delay the queues schedule.
pub(crate) fn parse_delay(text: &str) -> Result<Duration, String> {
    let delay = parse_duration(text)?;
    if delay > crate::MAX_DELAY {
        return Err(format!(
            "{text:?} is longer than the longest delay the queues schedule ({}); give a shorter delay",
            humantime::format_duration(crate::MAX_DELAY)
        ));
    }
    Ok(delay)
}
