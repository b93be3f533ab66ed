//! A producer service: enqueues typed `GenerateReport` jobs using only the
//! `shared-payloads` crate, so none of the worker's handlers are linked in.
//!
//! ```text
//! JOBS_DRIVER=redis REDIS_URL=redis://127.0.0.1:6379/0 cargo run -p examples --bin producer
//! JOBS_DRIVER=redis REDIS_URL=redis://127.0.0.1:6379/0 cargo run -p examples --bin worker -- run
//! ```
//!
//! It refuses the default in-memory driver: jobs queued in memory would be
//! gone when this process exits.

use std::error::Error;

use jobs::{Driver, JobPayload, JobsConfig};
use shared_payloads::GenerateReport;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let config = JobsConfig::from_env()?;
    if config.driver == Driver::Memory {
        return Err(
            "JOBS_DRIVER is `memory` (the default), so the jobs would be gone when this process exits; \
                    set JOBS_DRIVER=redis and REDIS_URL to hand them to a worker"
                .into(),
        );
    }
    let queue = config.connect().await?;

    for account_id in [101, 102, 103] {
        let report = GenerateReport {
            account_id,
            month: "2026-11".to_owned(),
        };
        let job = report.enqueue(&*queue).await?;
        println!("enqueued {} job {} for account {account_id}", job.name, job.id);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use jobs::{InMemoryJobQueue, JobPayload, JobQueue, Registry};
    use shared_payloads::GenerateReport;

    #[test]
    fn producer_links_no_handler() {
        let registry = Registry::from_inventory().unwrap();

        assert!(!registry.has_handler(GenerateReport::NAME));
        assert!(registry.handlers().is_empty(), "{:?}", registry.handlers());
    }

    #[tokio::test]
    async fn enqueue_uses_declared_options() {
        let queue = InMemoryJobQueue::new();
        let report = GenerateReport {
            account_id: 7,
            month: "2026-11".to_owned(),
        };

        let job = report.enqueue(&queue).await.unwrap();

        assert_eq!(job.name, "report.generate");
        assert_eq!(job.max_attempts, 4);
        assert_eq!(job.backoff, GenerateReport::OPTIONS.backoff);
        assert_eq!(queue.stats().await.unwrap().ready, 1);
    }
}
