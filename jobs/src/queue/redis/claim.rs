//! [`JobQueue::claim_once`](crate::JobQueue::claim_once) on Redis: one
//! `SET {p}:schedule:{key} 1 NX PX ttl`.

use std::time::Duration;

use super::{RedisJobQueue, redis_error};
use crate::error::QueueError;

/// The maximum claim ttl in milliseconds, about 285,000 years. Redis rejects
/// an expiry that overflows its 64-bit millisecond clock, so longer ttls are shortened to it.
const MAX_CLAIM_MS: u64 = 1 << 53;

impl RedisJobQueue {
    /// Builds the key of claim `key`. It starts with the prefix, so on Redis
    /// Cluster it hashes to the slot of the prefix's hash tag like the other keys.
    pub(super) fn claim_key(&self, key: &str) -> String {
        format!("{}:schedule:{key}", self.keys.prefix())
    }

    pub(super) async fn claim_key_once(&self, key: &str, ttl: Duration) -> Result<bool, QueueError> {
        let ttl_ms = u64::try_from(ttl.as_millis())
            .unwrap_or(u64::MAX)
            .clamp(1, MAX_CLAIM_MS);
        let reply: Option<String> = redis::cmd("SET")
            .arg(self.claim_key(key))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(redis_error("claim_once"))?;
        Ok(reply.is_some())
    }
}
