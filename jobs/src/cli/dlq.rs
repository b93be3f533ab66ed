//! The `dlq` commands: list, show, requeue and purge dead jobs. Notes such as
//! an empty dead-letter queue go to standard error, like the queue line that
//! every one-shot command prints first, so standard output carries only jobs
//! and counts.

use super::args::DlqCommand;
use crate::config::JobsConfig;
use crate::error::{QueueError, display_chain};
use crate::queue::{DeadJob, JobQueue};

pub(super) async fn execute(config: &JobsConfig, command: DlqCommand) -> Result<(), String> {
    let queue = config.connect().await.map_err(|error| error.to_string())?;
    let queue = queue.as_ref();
    match command {
        DlqCommand::List { limit, offset } => list(queue, offset, limit).await?,
        DlqCommand::Show { id } => show(queue, &id).await?,
        DlqCommand::Requeue { id: Some(id), .. } => {
            if !queue.requeue_dead(&id).await.map_err(failed)? {
                return Err(format!("no dead job has id {id:?}; list them with `dlq list`"));
            }
            println!("requeued job {id}");
        }
        DlqCommand::Requeue { id: None, .. } => {
            let count = queue.requeue_all_dead().await.map_err(failed)?;
            println!("requeued {}", jobs_count(count));
        }
        DlqCommand::Purge { yes } => purge(queue, yes).await?,
    }
    Ok(())
}

fn failed(error: QueueError) -> String {
    display_chain(&error)
}

async fn list(queue: &dyn JobQueue, offset: usize, limit: usize) -> Result<(), String> {
    let dead_jobs = queue.dead_jobs(offset, limit).await.map_err(failed)?;
    if dead_jobs.is_empty() {
        if offset == 0 {
            eprintln!("the dead-letter queue is empty");
        } else {
            let total = queue.stats().await.map_err(failed)?.dead;
            eprintln!("no dead jobs past offset {offset}; the dead-letter queue contains {total} jobs");
        }
    }
    for dead in dead_jobs {
        println!("{}", summary(&dead));
    }
    Ok(())
}

async fn show(queue: &dyn JobQueue, id: &str) -> Result<(), String> {
    let Some(dead) = queue.dead_job(id).await.map_err(failed)? else {
        return Err(format!("no dead job has id {id:?}; list them with `dlq list`"));
    };
    println!("id: {}", dead.job.id);
    println!("name: {}", dead.job.name);
    println!("attempts: {}/{}", dead.job.attempts, dead.job.max_attempts);
    if let Some(key) = &dead.job.unique_key {
        println!("unique_key: {key}");
    }
    println!("died_at: {}", died_at(&dead));
    println!("last_error: {}", dead.job.last_error.as_deref().unwrap_or(""));
    println!("payload: {}", dead.job.payload);
    Ok(())
}

/// Deletes every dead job when `yes` is set. Otherwise it counts them and
/// fails when there are any, so a script without `--yes` stops visibly.
async fn purge(queue: &dyn JobQueue, yes: bool) -> Result<(), String> {
    if !yes {
        let dead = queue.stats().await.map_err(failed)?.dead;
        if dead == 0 {
            eprintln!("the dead-letter queue is empty; nothing to purge");
            return Ok(());
        }
        return Err(format!(
            "`dlq purge` would delete {}, so it deleted nothing; run `dlq purge --yes` to delete them",
            dead_jobs_count(dead)
        ));
    }
    let count = queue.purge_dead().await.map_err(failed)?;
    println!("purged {}", jobs_count(count));
    Ok(())
}

fn died_at(dead: &DeadJob) -> String {
    dead.died_at
        .map(|at| at.to_rfc3339())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn summary(dead: &DeadJob) -> String {
    let error = dead.job.last_error.as_deref().unwrap_or("").replace('\n', " ");
    format!(
        "{}\t{}\tattempts={}/{}\tdied_at={}\t{}",
        dead.job.id,
        dead.job.name,
        dead.job.attempts,
        dead.job.max_attempts,
        died_at(dead),
        error
    )
}

/// Formats `count` jobs, such as "1 job" or "2 jobs".
fn jobs_count(count: impl Into<u64>) -> String {
    match count.into() {
        1 => "1 job".to_owned(),
        count => format!("{count} jobs"),
    }
}

/// Formats `count` dead jobs, such as "1 dead job" or "2 dead jobs".
fn dead_jobs_count(count: impl Into<u64>) -> String {
    match count.into() {
        1 => "1 dead job".to_owned(),
        count => format!("{count} dead jobs"),
    }
}
