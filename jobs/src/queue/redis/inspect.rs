//! Read-only operations: counts and one job.

use std::collections::HashMap;

use super::codec;
use super::{RedisJobQueue, redis_error};
use crate::error::QueueError;
use crate::job::Job;
use crate::queue::QueueStats;

impl RedisJobQueue {
    pub(super) async fn count_jobs(&self) -> Result<QueueStats, QueueError> {
        let (ready, delayed, processing, dead) = redis::pipe()
            .cmd("LLEN")
            .arg(&self.keys.ready)
            .cmd("ZCARD")
            .arg(&self.keys.delayed)
            .cmd("ZCARD")
            .arg(&self.keys.processing_vt)
            .cmd("LLEN")
            .arg(&self.keys.dlq)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(redis_error("stats"))?;
        Ok(QueueStats {
            ready,
            delayed,
            processing,
            dead,
        })
    }

    pub(super) async fn read_job(&self, id: &str) -> Result<Option<Job>, QueueError> {
        let hash: HashMap<Vec<u8>, Vec<u8>> = redis::cmd("HGETALL")
            .arg(self.keys.job(id))
            .query_async(&mut self.connection.clone())
            .await
            .map_err(redis_error("job"))?;
        if hash.is_empty() {
            return Ok(None);
        }
        Ok(Some(codec::decode(id, &codec::fields_from_pairs(hash))))
    }
}
