//! The dead-letter queue: listing, reading one, requeueing and purging dead jobs.

use std::collections::HashMap;

use super::codec;
use super::scripts::{PURGE_DEAD, REQUEUE_ALL_DEAD, REQUEUE_DEAD};
use super::{BATCH_LIMIT, RedisJobQueue, redis_error};
use crate::error::QueueError;
use crate::queue::DeadJob;

impl RedisJobQueue {
    /// Reads the ids with LRANGE, then all their hashes in one pipeline. A job
    /// requeued or purged between the two steps is skipped.
    pub(super) async fn list_dead(&self, offset: usize, limit: usize) -> Result<Vec<DeadJob>, QueueError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let start = i64::try_from(offset).unwrap_or(i64::MAX);
        let stop = start.saturating_add(i64::try_from(limit).unwrap_or(i64::MAX) - 1);
        let mut connection = self.connection.clone();
        let ids: Vec<Vec<u8>> = redis::cmd("LRANGE")
            .arg(&self.keys.dlq)
            .arg(start)
            .arg(stop)
            .query_async(&mut connection)
            .await
            .map_err(redis_error("dead_jobs"))?;
        let ids: Vec<String> = ids.iter().map(|id| String::from_utf8_lossy(id).into_owned()).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }

        let mut pipeline = redis::pipe();
        for id in &ids {
            pipeline.cmd("HGETALL").arg(self.keys.job(id));
        }
        let hashes: Vec<HashMap<Vec<u8>, Vec<u8>>> = pipeline
            .query_async(&mut connection)
            .await
            .map_err(redis_error("dead_jobs"))?;

        let dead = ids.iter().zip(hashes).filter(|(_, hash)| !hash.is_empty());
        Ok(dead
            .map(|(id, hash)| {
                let fields = codec::fields_from_pairs(hash);
                DeadJob {
                    job: codec::decode(id, &fields),
                    died_at: codec::died_at(id, &fields),
                }
            })
            .collect())
    }

    /// Finds `id` in the dead-letter queue with `LPOS` and reads its hash, in
    /// one transaction, so a job requeued meanwhile is not reported as dead.
    pub(super) async fn read_dead(&self, id: &str) -> Result<Option<DeadJob>, QueueError> {
        let (position, hash): (Option<u64>, HashMap<Vec<u8>, Vec<u8>>) = redis::pipe()
            .atomic()
            .cmd("LPOS")
            .arg(&self.keys.dlq)
            .arg(id)
            .cmd("HGETALL")
            .arg(self.keys.job(id))
            .query_async(&mut self.connection.clone())
            .await
            .map_err(redis_error("dead_job"))?;
        if position.is_none() || hash.is_empty() {
            return Ok(None);
        }
        let fields = codec::fields_from_pairs(hash);
        Ok(Some(DeadJob {
            job: codec::decode(id, &fields),
            died_at: codec::died_at(id, &fields),
        }))
    }

    pub(super) async fn requeue_one_dead(&self, id: &str) -> Result<bool, QueueError> {
        let requeued: u8 = REQUEUE_DEAD
            .key(&self.keys.dlq)
            .key(&self.keys.ready)
            .key(self.keys.job(id))
            .key(&self.keys.unique_prefix)
            .key(&self.keys.wake)
            .arg(id)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(redis_error("requeue_dead"))?;
        Ok(requeued == 1)
    }

    /// Calls the requeue script until it removes fewer ids than its limit.
    pub(super) async fn requeue_dead_batches(&self) -> Result<u64, QueueError> {
        let mut total = 0;
        loop {
            let (removed, requeued): (usize, u64) = REQUEUE_ALL_DEAD
                .key(&self.keys.dlq)
                .key(&self.keys.ready)
                .key(&self.keys.job_prefix)
                .key(&self.keys.unique_prefix)
                .key(&self.keys.wake)
                .arg(BATCH_LIMIT)
                .invoke_async(&mut self.connection.clone())
                .await
                .map_err(redis_error("requeue_all_dead"))?;
            total += requeued;
            if removed < BATCH_LIMIT {
                return Ok(total);
            }
        }
    }

    /// Calls the purge script until it removes fewer ids than its limit.
    pub(super) async fn purge_dead_batches(&self) -> Result<u64, QueueError> {
        let mut total = 0;
        loop {
            let (removed, deleted): (usize, u64) = PURGE_DEAD
                .key(&self.keys.dlq)
                .key(&self.keys.job_prefix)
                .arg(BATCH_LIMIT)
                .invoke_async(&mut self.connection.clone())
                .await
                .map_err(redis_error("purge_dead"))?;
            total += deleted;
            if removed < BATCH_LIMIT {
                return Ok(total);
            }
        }
    }
}
