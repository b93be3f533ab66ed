//! The Redis queue. (Being built.)

use crate::config::ConfigError;

/// Placeholder.
#[derive(Debug)]
pub struct RedisJobQueue;

/// Placeholder.
#[derive(Debug, Default)]
pub struct RedisQueueOptions;

impl RedisQueueOptions {
    /// Placeholder.
    pub fn prefix(self, _prefix: &str) -> Self {
        self
    }
}

impl RedisJobQueue {
    /// Placeholder.
    pub async fn connect(_url: &str, _options: RedisQueueOptions) -> Result<Self, ConfigError> {
        unimplemented!("the Redis queue is being built")
    }
}

#[async_trait::async_trait]
impl crate::queue::JobQueue for RedisJobQueue {
    async fn enqueue(&self, _: crate::NewJob) -> Result<crate::Job, crate::EnqueueError> {
        unimplemented!()
    }
    async fn reserve(&self) -> Result<Option<crate::Reserved>, crate::QueueError> {
        unimplemented!()
    }
    async fn ack(&self, _: &crate::Lease) -> Result<crate::LeaseOutcome, crate::QueueError> {
        unimplemented!()
    }
    async fn fail(
        &self,
        _: &crate::Lease,
        _: crate::Failure,
    ) -> Result<crate::FailOutcome, crate::QueueError> {
        unimplemented!()
    }
    async fn release(&self, _: &crate::Lease) -> Result<crate::LeaseOutcome, crate::QueueError> {
        unimplemented!()
    }
    async fn extend_lease(
        &self,
        _: &crate::Lease,
    ) -> Result<crate::LeaseOutcome, crate::QueueError> {
        unimplemented!()
    }
    async fn job(&self, _: &str) -> Result<Option<crate::Job>, crate::QueueError> {
        unimplemented!()
    }
    async fn stats(&self) -> Result<crate::QueueStats, crate::QueueError> {
        unimplemented!()
    }
    async fn dead_jobs(
        &self,
        _: usize,
        _: usize,
    ) -> Result<Vec<crate::DeadJob>, crate::QueueError> {
        unimplemented!()
    }
    async fn requeue_dead(&self, _: &str) -> Result<bool, crate::QueueError> {
        unimplemented!()
    }
    async fn requeue_all_dead(&self) -> Result<u64, crate::QueueError> {
        unimplemented!()
    }
    async fn purge_dead(&self) -> Result<u64, crate::QueueError> {
        unimplemented!()
    }
    fn visibility_timeout(&self) -> std::time::Duration {
        unimplemented!()
    }
}
