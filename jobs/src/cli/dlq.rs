//! The `dlq` commands: list, show, requeue and purge dead jobs.

use super::args::DlqCommand;
use crate::config::JobsConfig;
use crate::error::display_chain;
use crate::queue::DeadJob;

pub(super) async fn execute(config: &JobsConfig, command: DlqCommand) -> Result<(), String> {
    let queue = config.connect().await.map_err(|error| error.to_string())?;
    let failed = |error: crate::error::QueueError| display_chain(&error);
    match command {
        DlqCommand::List { limit, offset } => {
            for dead in queue.dead_jobs(offset, limit).await.map_err(failed)? {
                println!("{}", summary(&dead));
            }
        }
        DlqCommand::Show { id } => {
            let Some(dead) = queue.dead_job(&id).await.map_err(failed)? else {
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
        }
        DlqCommand::Requeue { id: Some(id), .. } => {
            if !queue.requeue_dead(&id).await.map_err(failed)? {
                return Err(format!("no dead job has id {id:?}; list them with `dlq list`"));
            }
            println!("requeued job {id}");
        }
        DlqCommand::Requeue { id: None, .. } => {
            let count = queue.requeue_all_dead().await.map_err(failed)?;
            println!("requeued {count} jobs");
        }
        DlqCommand::Purge => {
            let count = queue.purge_dead().await.map_err(failed)?;
            println!("purged {count} jobs");
        }
    }
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
