//! Read-only operations: counts, one job, and waiting for the next due job.

use std::collections::HashMap;
use std::time::Duration;

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

    /// Reads, in one round trip, the server time, the ready count and the
    /// earliest due time and lease deadline, then sleeps until the earlier of
    /// those two or `max_wait`.
    pub(super) async fn wait_until_due(&self, max_wait: Duration) -> Result<(), QueueError> {
        type Earliest = Vec<(Vec<u8>, f64)>;
        let ((seconds, micros), ready, next_due, next_expiry): ((u64, u64), u64, Earliest, Earliest) = redis::pipe()
            .cmd("TIME")
            .cmd("LLEN")
            .arg(&self.keys.ready)
            .cmd("ZRANGE")
            .arg(&self.keys.delayed)
            .arg(0)
            .arg(0)
            .arg("WITHSCORES")
            .cmd("ZRANGE")
            .arg(&self.keys.processing_vt)
            .arg(0)
            .arg(0)
            .arg("WITHSCORES")
            .query_async(&mut self.connection.clone())
            .await
            .map_err(redis_error("wait_for_job"))?;
        if ready > 0 {
            return Ok(());
        }

        let now = seconds as f64 + micros as f64 / 1e6;
        let until = |earliest: &Earliest| {
            earliest
                .first()
                .map(|(_, at)| Duration::try_from_secs_f64(at - now).unwrap_or(Duration::ZERO))
        };
        let wait = [until(&next_due), until(&next_expiry)]
            .into_iter()
            .flatten()
            .fold(max_wait, Duration::min);
        tokio::time::sleep(wait).await;
        Ok(())
    }
}
