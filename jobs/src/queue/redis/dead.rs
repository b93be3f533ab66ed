//! The dead-letter queue: listing, reading one, requeueing and purging dead jobs.
//!
//! A dead id that is not valid UTF-8 (the reserve script dead-letters such
//! ids) is listed in an escaped form: printable ASCII as it is, a backslash
//! doubled and every other byte as `\xHH`. Reading and requeueing accept
//! that form.

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
        if ids.is_empty() {
            return Ok(Vec::new());
        }

        let mut pipeline = redis::pipe();
        for id in &ids {
            pipeline.cmd("HGETALL").arg(self.job_key(id));
        }
        let hashes: Vec<HashMap<Vec<u8>, Vec<u8>>> = pipeline
            .query_async(&mut connection)
            .await
            .map_err(redis_error("dead_jobs"))?;

        let dead = ids.iter().zip(hashes).filter(|(_, hash)| !hash.is_empty());
        Ok(dead
            .map(|(id, hash)| {
                let id = &displayed_id(id);
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
        let stored = stored_id(id);
        let (position, hash): (Option<u64>, HashMap<Vec<u8>, Vec<u8>>) = redis::pipe()
            .atomic()
            .cmd("LPOS")
            .arg(&self.keys.dlq)
            .arg(&stored)
            .cmd("HGETALL")
            .arg(self.job_key(&stored))
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
        let stored = stored_id(id);
        let requeued: u8 = REQUEUE_DEAD
            .key(&self.keys.dlq)
            .key(&self.keys.ready)
            .key(self.job_key(&stored))
            .key(&self.keys.unique_prefix)
            .key(&self.keys.wake)
            .arg(&stored)
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

    /// Builds the key of the job hash of `id`, which may be any bytes.
    fn job_key(&self, id: &[u8]) -> Vec<u8> {
        [self.keys.job_prefix.as_bytes(), id].concat()
    }
}

/// Returns `id` as it is when it is UTF-8, else in the escaped form.
fn displayed_id(id: &[u8]) -> String {
    if let Ok(id) = std::str::from_utf8(id) {
        return id.to_owned();
    }
    let mut escaped = String::with_capacity(id.len() * 2);
    for &byte in id {
        match byte {
            b'\\' => escaped.push_str("\\\\"),
            b' '..=b'~' => escaped.push(char::from(byte)),
            _ => escaped.push_str(&format!("\\x{byte:02x}")),
        }
    }
    escaped
}

/// Returns the stored bytes of `id`: the bytes that the escaped form names
/// when `id` is one and they are not UTF-8, else the id as it is.
///
/// NOTE: a UTF-8 id that reads as such an escape, such as the four
/// characters `\xff`, cannot be read or requeued by its id. Ids that this
/// crate and svc-infra write are decimal integers.
fn stored_id(id: &str) -> Vec<u8> {
    match unescape(id) {
        Some(bytes) if std::str::from_utf8(&bytes).is_err() => bytes,
        _ => id.as_bytes().to_vec(),
    }
}

/// Decodes `\\` and `\xHH` in `text`, or returns `None` when it has another
/// escape or none at all.
fn unescape(text: &str) -> Option<Vec<u8>> {
    if !text.contains('\\') {
        return None;
    }
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, after)) = rest.split_first() {
        rest = after;
        if byte != b'\\' {
            bytes.push(byte);
            continue;
        }
        match rest {
            [b'\\', after @ ..] => {
                bytes.push(b'\\');
                rest = after;
            }
            [b'x', high, low, after @ ..] => {
                let high = char::from(*high).to_digit(16)?;
                let low = char::from(*low).to_digit(16)?;
                bytes.push(u8::try_from(high * 16 + low).ok()?);
                rest = after;
            }
            _ => return None,
        }
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::{displayed_id, stored_id};

    #[test]
    fn non_utf8_id_round_trips() {
        let id = b"\xff\\x\x00 7";
        let shown = displayed_id(id);
        assert_eq!(shown, "\\xff\\\\x\\x00 7");
        assert_eq!(stored_id(&shown), id);
    }

    #[test]
    fn utf8_ids_stay_literal() {
        assert_eq!(displayed_id("42".as_bytes()), "42");
        assert_eq!(stored_id("42"), b"42");
        // This escape names valid UTF-8, so it is an id of its own.
        assert_eq!(stored_id("\\x41"), b"\\x41");
        assert_eq!(stored_id("a\\qb"), b"a\\qb");
    }
}
