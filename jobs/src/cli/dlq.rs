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
            // The dead-letter queue is searched in pages, so a large one is never read whole.
            let dead = find_dead(&*queue, &id).await?;
            println!("id: {}", dead.job.id);
            println!("name: {}", dead.job.name);
            println!("attempts: {}/{}", dead.job.attempts, dead.job.max_attempts);
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

async fn find_dead(queue: &dyn crate::queue::JobQueue, id: &str) -> Result<DeadJob, String> {
    const PAGE: usize = 500;
    let mut offset = 0;
    loop {
        let page = queue
            .dead_jobs(offset, PAGE)
            .await
            .map_err(|error| display_chain(&error))?;
        if let Some(dead) = page.iter().find(|dead| dead.job.id == id) {
            return Ok(dead.clone());
        }
        if page.len() < PAGE {
            return Err(format!("no dead job has id {id:?}; list them with `dlq list`"));
        }
        offset += PAGE;
    }
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
