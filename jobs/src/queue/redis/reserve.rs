//! Reserving: promotion, lease expiry and popping, all in the reserve script.

use std::time::Duration;

use chrono::Utc;
use tracing::warn;

use super::codec::{self, millis};
use super::scripts::RESERVE;
use super::{BATCH_LIMIT, RedisJobQueue, redis_error};
use crate::error::{QueueError, display_chain};
use crate::queue::{Lease, Reserved, log_dropped_dead};

/// One job as the reserve script returns it: id, lease token, lease length in
/// milliseconds and the hash as a flat field/value array, in which a later
/// copy of a field replaces an earlier one. Byte strings, so a
/// hash with invalid UTF-8 still decodes (lossily) instead of failing a
/// reservation that already happened.
type ReservedEntry = (Vec<u8>, Vec<u8>, u64, Vec<Vec<u8>>);

impl RedisJobQueue {
    /// Reserves up to `max` jobs, at most [`BATCH_LIMIT`] per script call.
    ///
    /// The script is called again while jobs may remain: after a full batch,
    /// and after a call that stopped at its limit of skipped entries. So the
    /// result is empty only when no job is ready. An error after some jobs are
    /// reserved is logged and those jobs are returned, because dropping them
    /// would leave them leased until their leases expire.
    pub(super) async fn reserve_up_to(&self, max: usize) -> Result<Vec<Reserved>, QueueError> {
        let mut reserved = Vec::new();
        while reserved.len() < max {
            let batch = (max - reserved.len()).min(BATCH_LIMIT);
            let (more, entries) = match self.call_reserve(batch).await {
                Ok(reply) => reply,
                Err(error) if reserved.is_empty() => return Err(error),
                Err(error) => {
                    warn!(
                        reserved = reserved.len(),
                        error = %display_chain(&error),
                        "failed to reserve more jobs; returning those already reserved"
                    );
                    break;
                }
            };
            let full = entries.len() == batch;
            reserved.extend(entries.into_iter().map(|entry| self.reserved(entry)));
            if !full && !more {
                break;
            }
        }
        Ok(reserved)
    }

    async fn call_reserve(&self, max: usize) -> Result<(bool, Vec<ReservedEntry>), QueueError> {
        // A random prefix per call makes every token unique: one call never
        // reserves the same id twice.
        let token_prefix = format!("{:016x}:", rand::random::<u64>());
        let died_at = codec::format_time(Utc::now());
        let (more, entries, dropped, wrong_types): (u8, Vec<ReservedEntry>, u64, Vec<Vec<u8>>) = RESERVE
            .key(&self.keys.ready)
            .key(&self.keys.processing)
            .key(&self.keys.processing_vt)
            .key(&self.keys.delayed)
            .key(&self.keys.dlq)
            .key(&self.keys.job_prefix)
            .key(&self.keys.unique_prefix)
            .key(&self.keys.wake)
            .arg(max)
            .arg(millis(self.visibility_timeout))
            .arg(token_prefix)
            .arg(BATCH_LIMIT)
            .arg(died_at)
            .arg(self.dead_letter_limit)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(redis_error("reserve"))?;
        log_dropped_dead(dropped, self.dead_letter_limit);
        for message in wrong_types {
            warn!("{}", String::from_utf8_lossy(&message));
        }
        Ok((more == 1, entries))
    }

    fn reserved(&self, (id, token, timeout_ms, fields): ReservedEntry) -> Reserved {
        let id = String::from_utf8_lossy(&id).into_owned();
        let token = String::from_utf8_lossy(&token).into_owned();
        let job = codec::decode(&id, &codec::fields_from_flat(fields));
        let lease = Lease::new(id, token, Duration::from_millis(timeout_ms));
        Reserved::new(job, lease)
    }
}
